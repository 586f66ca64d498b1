"""A listing kept between runs: `dataraum steps` builds a pipeline's driver (every step module,
and with them Hamilton and pandas: a second) for what a stored copy prints in a hundredth of a
second more than the CLI takes to start.

An entry is named by what shapes the listing besides files: the command's settings, the
`DATARAUM_*` and `HAMILTON_*` environment variables, the working directory, the import path and
the interpreter. It holds the listing and the size, modification time and inode of each file it
was built from: every module imported by then (the step modules, what they import, Hamilton,
this package) and the directory of each (a file added beside a module can shadow it), each
directory of the import path (installing or removing a distribution changes the steps and where
they come from), the working directory (where your own modules are found) and the pipeline's
YAML files. An entry is used only while every one of them is as recorded; anything else builds
the listing again and stores it anew. Errors are never stored: they are raised by the build.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CACHE_ENV = "DATARAUM_CACHE_DIR"  # where entries go; else $XDG_CACHE_HOME/dataraum-context, ~/.cache/...
_FORMAT = 1  # of an entry; part of its name
# A file changed this shortly before a build may change again unseen within its timestamp's
# granularity (2 s on FAT, 1 s on ext3 and HFS+), or have changed while the build read it: such
# a listing is not stored.
_SETTLING_NS = 2_000_000_000


def cached(command: str, key: dict[str, Any], build: Callable[[], tuple[str, Iterable[Path]]]) -> str:
    """The text `build` returns (with the data files it read besides code), from the cache when
    an entry for `key` (the settings) is there and nothing it was built from has changed."""
    entry = _entry(command, key)
    stored = _read(entry) if entry is not None else None
    if stored is not None:
        return stored
    # a process that imported Hamilton before may hold step modules older than their files now
    fresh = "hamilton" not in sys.modules
    started = time.time_ns()
    with warnings.catch_warnings(record=True) as caught:  # a broken plugin: said on every run, never stored
        text, files = build()
    for warning in caught:
        warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    if entry is not None and fresh and not caught:
        _store(entry, text, files, started)
    return text


def _cache_dir() -> Path | None:
    """`DATARAUM_CACHE_DIR`, else the user's cache directory (XDG); None when there is none."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME", "")
    base = base if os.path.isabs(base) else os.path.expanduser(os.path.join("~", ".cache"))
    return Path(base, "dataraum-context") if os.path.isabs(base) else None  # no home: no cache


def _entry(command: str, key: dict[str, Any]) -> Path | None:
    directory = _cache_dir()
    if directory is None:
        return None
    environ = {k: v for k, v in os.environ.items() if k.startswith(("DATARAUM_", "HAMILTON_"))}
    identity = {"format": _FORMAT, "python": sys.version, "executable": sys.executable, "cwd": os.getcwd(),
                "path": sys.path, "environ": environ, "key": key}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return directory / f"{command}-{digest}.json"


def _read(entry: Path) -> str | None:
    """The stored text when every file is as recorded; None when not, or when the entry is
    missing, unreadable or not one of ours (it is built and written again)."""
    try:
        stored = json.loads(entry.read_text("utf-8"))
        text, files = stored["text"], stored["files"]
        if isinstance(text, str) and isinstance(files, dict) and files \
                and all(_signature(path) == signature for path, signature in files.items()):
            return text
    except (OSError, ValueError, TypeError, KeyError):
        pass
    return None


def _store(entry: Path, text: str, files: Iterable[Path], started: int) -> None:
    """Write the entry, atomically, unless a file it was built from changed since shortly before
    the build `started`; when it cannot be written (a read-only or full disk), the listing is
    simply not kept."""
    from dataraum_context.errors import DiskFull
    from dataraum_context.workspace import write_atomically

    modules = {os.path.abspath(f) for m in list(sys.modules.values())
               if isinstance(f := getattr(m, "__file__", None), str)}
    paths = modules | {os.path.dirname(f) for f in modules} | {os.path.abspath(p) for p in sys.path} \
        | {os.getcwd()} | {os.path.abspath(f) for f in files}
    signatures = {path: _signature(path) for path in sorted(paths)}
    if any(s is not None and s[1] > started - _SETTLING_NS for s in signatures.values()):
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(entry, json.dumps({"text": text, "files": signatures}))
    except (OSError, DiskFull):
        pass


def _signature(path: str) -> list[int] | None:
    """What tells a file (or directory) changed: size, modification time, inode; None when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]
