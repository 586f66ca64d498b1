"""Errors a user can cause. The CLI prints them in one line and exits 2."""

from __future__ import annotations

import errno
import re


class DataraumError(Exception):
    """A problem with the user's input: a file, a config, an option. Says what and where."""


class SourceError(DataraumError):
    """A data source that cannot be read (missing, empty, binary, malformed). `transient`: the
    failure may pass (a server unreachable, an HTTP 429 or 5xx), so the engine may try again."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ConfigError(DataraumError):
    """A pipeline config, option or key that is not valid."""


class DiskFull(DataraumError):
    """A write that found no space left; the user frees space and runs again."""


class WorkspaceBusy(DataraumError):
    """Another process holds the workspace's write lock."""


class StepFailed(Exception):
    """A pipeline step raised; carries the step name so the run can report it."""

    def __init__(self, step: str, error: BaseException):
        self.step = step
        self.error = error
        super().__init__(f"step {step!r} failed: {error}")


def first_line(exc: BaseException) -> str:
    """An error's message in one line (DuckDB's run over several), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# how the OS (strerror), DuckDB and SQLite say it; DuckDB and SQLite raise their own errors
_NO_SPACE = re.compile(r"No space left on device|database or disk is full")
_FILE_IN_MESSAGE = re.compile(r'file "([^"]+)"')


def disk_full(exc: BaseException, path: object = None) -> DiskFull | None:
    """A `DiskFull` naming the file (`path`, else the one the error names) when `exc`, or an
    error it was raised from, is a full disk; else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DiskFull):
            return seen
        if (seen.errno == errno.ENOSPC if isinstance(seen, OSError) else _NO_SPACE.search(str(seen))):
            named = getattr(seen, "filename", None) or _FILE_IN_MESSAGE.search(str(seen))
            where = path or (named[1] if isinstance(named, re.Match) else named)
            return DiskFull(f"disk full: {where}" if where else "disk full: no space left on device")
        seen = seen.__cause__ or seen.__context__
    return None
