"""The on-disk workspace: Parquet per table, quarantine, Hamilton's cache.

    <root>/staged/<table>.parquet        rows as read from the source (VARCHAR for untyped sources);
                                         a CSV is read in place instead (`Workspace.staged_rows`)
    <root>/staged/<table>.sample.parquet the sample of a table read in place, for schema profiling
    <root>/staged/<table>.rejects.parquet malformed source rows (line number, raw line, reason)
    <root>/tables/<table>.parquet        typed rows
    <root>/quarantine/<table>.parquet    values that failed their cast, and rejected rows
    <root>/frames/<name>.parquet         in-memory frames handed to `driver()`/`run()`, as sources
    <root>/cache/                        Hamilton's cache
    <root>/runs/<run id>.json            one record per run: steps, status, timings, tables computed
    <root>/context.json                  the context document of the last run that made one
    <root>/.lock                         the write lock; it holds who holds it

Files are written under a temporary name and renamed, so a crash never leaves half a table.
No connection is held open: readers and steps open their own short-lived DuckDB connections.
A run holds the write lock (`Workspace.lock()`); readers never take it.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from datetime import datetime
from pathlib import Path

import duckdb
from pydantic import ValidationError

from dataraum_context.errors import ConfigError, SourceError, WorkspaceBusy, disk_full, first_line
from dataraum_context.models import ContextDocument, InPlace, PipelineRun, StagedTable
from dataraum_context.sql import (
    connect,
    copy_within_memory,
    open_tables,
    quote_literal,
    row_group_bytes,
    row_group_rows,
    spilling,
)

STAGED = "staged"
TABLES = "tables"
QUARANTINE = "quarantine"
FRAMES = "frames"
CACHE = "cache"
RUNS = "runs"
CONTEXT = "context.json"
LOCK = ".lock"
CACHE_DATABASE = "metadata_store.db"  # Hamilton's SQLite metadata store in cache/
STALE_TEMP_S = 300  # a temporary file untouched this long belongs to a write that died

log = logging.getLogger(__name__)


def file_version(path: str | os.PathLike[str]) -> str:
    """What changes when a file's content does: its size and modification time."""
    st = os.stat(path)
    return f"{st.st_size}-{st.st_mtime_ns}"


class Workspace:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def path(self, relative: str) -> Path:
        return self.root / relative

    def relative(self, kind: str, table: str, suffix: str = ".parquet") -> str:
        return f"{kind}/{table}{suffix}"

    def staged_rows(self, table: StagedTable, row_numbers: bool = False) -> str:
        """A staged table's rows as DuckDB reads them (`FROM <this>`), in their staged order, with
        their 0-based `file_row_number` when asked: the staged Parquet, or the source read in
        place, which must still be the version staged (a SourceError names it otherwise)."""
        if table.path is not None:
            numbered = ", file_row_number = true" if row_numbers else ""
            return f"read_parquet({quote_literal(str(self.path(table.path)))}{numbered})"
        assert table.in_place is not None  # a staged table is one or the other
        _check_staged_version(table, table.in_place)
        if row_numbers:  # DuckDB numbers the rows in a stream, in order, without holding them
            return f"(SELECT row_number() OVER () - 1 AS file_row_number, * FROM {table.in_place.read})"
        return table.in_place.read

    def copy_in_place(self, table: StagedTable, relative: str) -> Path:
        """Copy the Parquet file of a table read in place to `relative` byte for byte (atomically:
        temporary name, then rename), checked to be the version staged before and after."""
        assert table.in_place is not None and table.in_place.parquet
        target = self.path(relative)
        tmp = temp_path(target)
        try:
            with _writing(target):
                _check_staged_version(table, table.in_place)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(table.in_place.file, tmp)
                _check_staged_version(table, table.in_place)  # and unchanged while it was copied
                os.replace(tmp, target)
        finally:
            _discard(tmp)
        return target

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE

    def create(self) -> Path:
        """The workspace directory, created when missing; a ConfigError when it is not a directory."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"workspace {self.root}: not a directory")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"workspace {self.root}: cannot be created: {exc.strerror}") from None
        return self.root

    def checked_cache_dir(self) -> Path:
        """The cache directory. A corrupt cache database (a crash, a copy cut short) is moved
        aside with a timestamp and a new one started, with a warning: the cache only saves time,
        and losing it must not stop a run."""
        self.create()
        database = self.cache_dir / CACHE_DATABASE
        with _writing(database):
            self.cache_dir.mkdir(exist_ok=True)
        if database.exists() and not database.is_file():
            raise ConfigError(f"cannot write {database}: not a file")
        if database.is_file() and _corrupt(database):
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            for suffix in ("", "-journal", "-wal", "-shm"):  # a journal would be replayed into the new one
                part = database.with_name(database.name + suffix)
                if part.exists():
                    os.replace(part, database.with_name(f"{database.name}.corrupt-{stamp}{suffix}"))
            log.warning(f"the cache database {database} is corrupt: moved aside as "
                        f"{database.name}.corrupt-{stamp}; this run starts a new cache")
        return self.cache_dir

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the write lock while the block runs: one run at a time writes a workspace. A
        second one fails at once with a WorkspaceBusy naming the holder. The OS releases the lock
        when the process ends, however it ends; readers (`sql`, `connect`) never take it."""
        import fcntl  # POSIX only; imported here so that reading a workspace works everywhere

        self.create()
        with _writing(self.root / LOCK):
            # unbuffered: a failed write (a full disk) must not be tried again when the file closes
            held = open(self.root / LOCK, "a+b", buffering=0)  # noqa: SIM115 (closed by the with below)
        with held as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().decode(errors="replace").strip() or "another process"
                raise WorkspaceBusy(f"workspace {self.root} is being written by {holder}; wait for it "
                                    "to finish or use another workspace") from None
            with _writing(f.name):
                f.truncate(0)
                f.write(_this_process().encode())
            try:
                self.remove_stale_temp_files()
                yield
            finally:
                f.truncate(0)

    def remove_stale_temp_files(self) -> list[Path]:
        """Remove the temporary files of writes that never finished (a process killed while
        writing): those of a process no longer running on this host, or untouched for
        STALE_TEMP_S; and the spill directories of queries (`sql.spilling`) whose process is no
        longer running. Safe under the lock: no other run writes, and a writer outside one (a
        notebook's driver) keeps touching its file. Returns the files removed."""
        removed = []
        for path in list(self.root.rglob(".*.tmp")):  # listed first: a directory may go
            match = _TEMP_NAME.fullmatch(path.name)
            if match is None:
                continue
            try:
                dead = _dead_owner(match["host"], match["pid"])
                if path.is_dir():  # a query's spill directory (`sql.spilling`): its files change, not it
                    if dead:
                        shutil.rmtree(path)
                        removed.append(path)
                elif dead or time.time() - path.stat().st_mtime > STALE_TEMP_S:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:  # its writer finished meanwhile
                continue
        return removed

    @contextmanager
    def spilling(self, name: str, memory_per_thread: int) -> Iterator[duckdb.DuckDBPyConnection]:
        """`sql.spilling` into `<root>/tmp/`, in a directory named as a temporary file (the next
        run removes one a killed process left), `tmp/` itself removed after when empty."""
        tmp = self.path("tmp")
        try:
            with spilling(temp_path(tmp / name), memory_per_thread) as con:
                yield con
        finally:
            with suppress(OSError):  # another table's connection may still use it
                tmp.rmdir()

    def write_parquet(self, con: duckdb.DuckDBPyConnection, query: str, relative: str,
                      params: list | None = None, metadata: dict[str, str] | None = None,
                      columns: int | None = None) -> Path:
        """COPY a query's result to `relative` atomically (temporary name, then rename), with
        `metadata` as the file's key-value metadata; with the memory of a query of `columns`
        columns bounded (`sql.copy_within_memory`; `con` then a connection of its own), and its
        row groups as long as that many columns allow (`sql.row_group_rows`), and never longer
        in memory than `sql.row_group_bytes` (values of kilobytes).
        Snappy without dictionary pages: a fifth faster to write than DuckDB's default, and the
        files are scanned whole by the next step, where dictionaries buy nothing."""
        target = self.path(relative)
        tmp = temp_path(target)
        options = ("FORMAT parquet, COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1, "
                   f"ROW_GROUP_SIZE_BYTES {row_group_bytes(columns or 1)}")
        if metadata:
            pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in metadata.items())
            options += f", KV_METADATA {{{pairs}}}"
        if columns is not None:
            options += f", ROW_GROUP_SIZE {row_group_rows(columns)}"
        try:
            with _writing(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                statement = f"COPY ({query}) TO {quote_literal(str(tmp))} ({options})"
                if columns is None:
                    con.execute(statement, params or [])
                else:
                    copy_within_memory(con, statement, params or [], columns)
                os.replace(tmp, target)
        finally:
            _discard(tmp)
        return target

    def versions(self, relatives: list[str | None]) -> dict[str, str]:
        """The version (size and modification time) of each file: what a step's result records
        of the files it wrote, so a cached result can be checked against the workspace."""
        out = {}
        for relative in relatives:
            if relative is not None:
                out[relative] = file_version(self.path(relative))
        return out

    def changed(self, versions: dict[str, str]) -> list[str]:
        """The files that are gone or no longer the version a result recorded."""
        changed = []
        for relative, version in versions.items():
            try:
                current = self.versions([relative])[relative]
            except FileNotFoundError:
                current = None
            if current != version:
                changed.append(relative)
        return changed

    def write_run(self, run: PipelineRun) -> Path:
        """Record a run as `runs/<run id>.json` (written whole or not at all)."""
        target = self.root / RUNS / f"{run.run_id}.json"
        with _writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomically(target, run.model_dump_json(indent=2))

    def runs(self, limit: int | None = None) -> list[PipelineRun]:
        """The recorded runs, newest first (run ids start with their UTC start time); a record
        that cannot be read is left out with a warning."""
        records = []
        for path in sorted((self.root / RUNS).glob("*.json"), reverse=True)[:limit]:
            try:
                records.append(PipelineRun.model_validate_json(path.read_bytes()))
            except (OSError, ValidationError) as exc:
                log.warning(f"{path}: not a run record, left out ({first_line(exc)})")
        return records

    def write_context(self, doc: ContextDocument) -> Path:
        """Keep the context of a run as `context.json` (written whole or not at all), for
        readers: `dataraum context`, `dc.context`, the MCP server."""
        return write_atomically(self.root / CONTEXT, doc.model_dump_json())

    def context(self) -> ContextDocument:
        """The context of the last run that made one; a ConfigError when there is none."""
        path = self.root / CONTEXT
        try:
            return ContextDocument.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise ConfigError(f"workspace {self.root}: no context yet; run a pipeline on it first "
                              f"(dataraum run SOURCES --workspace {self.root})") from None
        except (OSError, ValidationError) as exc:
            raise ConfigError(f"{path}: not a context document ({first_line(exc)}); run a pipeline "
                              "again to write it") from None

    def remove(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)

    def table_names(self) -> list[str]:
        return sorted(p.stem for p in (self.root / TABLES).glob("*.parquet"))

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new connection with every typed table as a view, and `quarantine_<table>` views
        (`sql.open_tables`). A file that is not Parquet (put there by hand, cut short outside
        our atomic writes) is left out with a warning: it must not hide the other tables."""
        con = connect()
        tables = {name: self.path(self.relative(TABLES, name)) for name in self.table_names()}
        quarantines = {q.stem: q for q in sorted((self.root / QUARANTINE).glob("*.parquet"))}
        for name, path in tables.items():
            _open(con, path, {name: path}, {})
        for name, path in quarantines.items():
            _open(con, path, {}, {name: path})
        return con

    def sql(self, query: str, params: list | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the workspace's typed tables: `ws.sql("SELECT * FROM orders").pl()`."""
        con = self.connect()
        if params:
            return con.sql(query, params=params)
        return con.sql(query)


def _open(con: duckdb.DuckDBPyConnection, path: Path, table: dict[str, Path], quarantine: dict[str, Path]) -> None:
    """`sql.open_tables` for one file, left out with a warning when it cannot be read."""
    try:
        open_tables(con, table, quarantine)
    except duckdb.Error as exc:
        log.warning(f"{path}: cannot be read, left out ({first_line(exc)})")


def write_atomically(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to a temporary file beside `path`, then rename it over
    `path`: a reader, a crash or a full disk never sees half a file. A full disk raises
    DiskFull naming `path`."""
    target = Path(path)
    tmp = temp_path(target)
    try:
        with _writing(target):
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
            os.replace(tmp, target)
    finally:
        _discard(tmp)
    return target


def _check_staged_version(table: StagedTable, in_place: InPlace) -> None:
    """A SourceError naming the source of a table read in place when its file is no longer the
    version staged (changed or gone)."""
    try:
        current = file_version(in_place.file)
    except OSError as exc:
        raise SourceError(f"{table.source}: cannot be read since it was staged: {exc.strerror}") from None
    if current != in_place.version:
        raise SourceError(f"{table.source}: changed since it was staged (table {table.name}); run again "
                          "to stage the new version")


def _discard(path: Path) -> None:
    """Remove `path` when it is there (its directory may not even be a directory)."""
    with suppress(FileNotFoundError, NotADirectoryError):
        path.unlink()


@contextmanager
def _writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Errors while writing `path` that the user must fix, raised naming it: a full disk as
    DiskFull, and a path that cannot be written (no permission, a read-only disk, a file where
    a directory must be or the reverse) as ConfigError. The OS, DuckDB and SQLite say each in
    their way, and not always with the file."""
    try:
        yield
    except (duckdb.Error, OSError) as exc:
        full = disk_full(exc, path)
        if full is not None:
            raise full from exc
        reason = _unwritable(exc)
        if reason is None:
            raise
        raise ConfigError(f"cannot write {path}: {reason}") from None


_UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR)
_UNWRITABLE_TEXT = re.compile("|".join(os.strerror(e) for e in _UNWRITABLE))


def _unwritable(exc: BaseException) -> str | None:
    """Why a path cannot be written, when that is what `exc` says."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # creating a directory where a file is
            return f"{exc.filename} is not a directory"
        return exc.strerror if exc.errno in _UNWRITABLE else None
    found = _UNWRITABLE_TEXT.search(str(exc))
    return found[0] if found else None


def temp_path(target: Path) -> Path:
    """A temporary name beside `target`, naming the writing process (host and pid) so that
    what a killed writer leaves behind can be recognised and removed."""
    return target.with_name(f".{target.name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex}.tmp")


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())
# ours: .<name>.<host>-<pid>-<hex>.tmp; before owners were named: .<name>.<hex>.tmp
_TEMP_NAME = re.compile(r"\..+\.(?:(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)-)?[0-9a-f]{32}\.tmp")


def _dead_owner(host: str | None, pid: str | None) -> bool:
    """Whether the process that wrote a temporary file is known to have ended (only a process
    on this host can be checked)."""
    if host != _HOST or pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # running, as another user
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """Whether a process has ended and waits to be reaped: a worker of a killed run until its
    new parent (in a container, maybe an init that reaps late) collects it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or it ended just now
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"  # the state follows the command in parentheses


def _corrupt(database: Path) -> bool:
    """Whether SQLite finds the file damaged; a database another process has locked is not."""
    try:
        with closing(sqlite3.connect(database)) as con:
            return con.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    except sqlite3.OperationalError:
        return False
    except sqlite3.DatabaseError:
        return True


def _this_process() -> str:
    """Who holds the lock: pid, host, since when, and the command, each URI in it without
    credentials or query (where passwords and tokens travel)."""
    from dataraum_context.loaders.sources import without_credentials  # the loaders import this module

    command = " ".join(without_credentials(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "?"
    since = datetime.now().astimezone().isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()} since {since} ({command})"
