"""Read-only SQL over a workspace, for agents: one SELECT, no file or network access, bounded
in rows and time.

Each query gets a fresh in-memory DuckDB connection. The workspace's typed tables (and their
quarantines) are opened as views first; then the connection may read exactly those Parquet files
and the staged ones (`allowed_paths`), external access is switched off and the configuration locked, so no statement
can read another file (`read_csv('/etc/passwd')`, a path with `..`), write one (`COPY ... TO`),
attach a database or load an extension, or switch any of that back on. Before it runs, the text
must be exactly one statement of type SELECT (`WITH ...`, `FROM t`, `VALUES`, `DESCRIBE` and
`SUMMARIZE` are SELECTs to DuckDB): anything else is refused without being executed.

The pipeline writes each table to a temporary file and renames it into place, and the views
are made per query, so a query running while a pipeline writes reads whole tables: each file as
it was when the query opened it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from dataraum_context.errors import ConfigError, DataraumError, first_line
from dataraum_context.sql import connect, open_tables, quote_literal
from dataraum_context.workspace import QUARANTINE, STAGED, TABLES, Workspace

MAX_ROWS = 100  # rows returned when the caller does not say
MAX_ROWS_CAP = 1000  # and at most, whatever it says: an answer goes into a prompt
TIMEOUT_S = 30.0  # a query still running then is interrupted


class QueryRefused(DataraumError):
    """A query the sandbox does not run (not one SELECT, not allowed, too slow) or that failed."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool  # more rows than returned

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "types": self.types, "rows": self.rows, "row_count": len(self.rows),
                "truncated": self.truncated}


def single_select(sql: str) -> str:
    """The text of the one SELECT statement in `sql`; a QueryRefused naming what it is instead."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(first_line(exc)) from None
    if len(statements) != 1:
        raise QueryRefused(f"one statement at a time, not {len(statements)}")
    statement = statements[0]
    text = statement.query.strip().rstrip(";")
    if statement.type != duckdb.StatementType.SELECT:
        word = text.split(None, 1)[0].upper() if text[:1].isalpha() else statement.type.name  # INSTALL is a LOAD
        raise QueryRefused(f"read-only: only SELECT (or WITH ... SELECT) is allowed, not {word}")
    return text


def read_only_connection(ws: Workspace) -> duckdb.DuckDBPyConnection:
    """A fresh connection that sees the workspace's tables and nothing else."""
    tables = {name: ws.path(ws.relative(TABLES, name)) for name in ws.table_names()}
    quarantines = {path.stem: path for path in sorted((ws.root / QUARANTINE).glob("*.parquet"))}
    views: list[tuple[dict[str, Path], dict[str, Path]]] = [({name: path}, {}) for name, path in tables.items()]
    views += [({}, {name: path}) for name, path in quarantines.items()]
    con = connect()
    try:
        files: list[Path] = []
        for table, quarantine in views:
            try:
                open_tables(con, table, quarantine)
            except duckdb.Error:  # removed or cut short meanwhile: left out, as `Workspace.connect` does
                continue
            files += [*table.values(), *quarantine.values()]
        # the views read their files when a query runs: those files, and the staged rows (that
        # the SQL of some quality checks reads: a CSV's are read in place), and no others
        files += sorted((ws.root / STAGED).glob("*.parquet")) + _source_files(ws)
        con.execute(f"SET allowed_paths = [{', '.join(quote_literal(str(p)) for p in files)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _source_files(ws: Workspace) -> list[Path]:
    """The files the context's tables came from: the staged rows of a CSV are the file itself."""
    try:
        tables = ws.context().tables
    except ConfigError:  # no context yet: no quality check to read them either
        return []
    return sorted({Path(t.source).resolve() for t in tables if t.source and Path(t.source).is_file()})


def run_query(ws: Workspace, sql: str, max_rows: int | None = None, timeout_s: float = TIMEOUT_S) -> QueryResult:
    """Run one SELECT over the workspace's tables, read-only: at most `max_rows` rows (default
    MAX_ROWS, at most MAX_ROWS_CAP), interrupted after `timeout_s` seconds."""
    text = single_select(sql)
    limit = MAX_ROWS if max_rows is None else min(max_rows, MAX_ROWS_CAP)
    if limit < 1:
        raise QueryRefused(f"max_rows must be at least 1, not {max_rows}")
    con = read_only_connection(ws)
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        with suppress(duckdb.Error):  # the query ended meanwhile
            con.interrupt()

    timer = threading.Timer(timeout_s, stop)
    timer.start()
    try:
        result = con.execute(text)
        rows = result.fetchmany(limit + 1)
        columns = [d[0] for d in result.description or ()]
        types = [str(d[1]) for d in result.description or ()]
    except duckdb.Error as exc:
        if stopped.is_set():
            raise QueryRefused(f"stopped after the time limit of {timeout_s:g} s") from None
        raise QueryRefused(first_line(exc)) from None
    finally:
        timer.cancel()
        con.close()
    return QueryResult(columns=columns, types=types, rows=[[_json(v) for v in row] for row in rows[:limit]],
                       truncated=len(rows) > limit)


def _json(value: Any) -> Any:
    """A value as JSON can carry it: numbers and text as they are, the rest as text (dates in
    ISO form)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal):  # a number where a float holds it exactly, else its digits
        return float(value) if decimal.Decimal(repr(float(value))) == value else str(value)
    if isinstance(value, dt.date | dt.time | dt.timedelta | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return str(value)
