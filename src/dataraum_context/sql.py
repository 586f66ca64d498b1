"""The one DuckDB layer: the family of a DuckDB type, connections, the typed tables as views,
SQL with its bound values, quoting, and the shape of per-column SQL over wide tables."""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from dataraum_context.errors import ConfigError, first_line
from dataraum_context.models import Frozen

T = TypeVar("T")

# Expressions per query for SQL written per column (benchmarks/wide_tables.py measures it). DuckDB
# 2.0 plans a query in time growing faster than its expressions (1,000 count(DISTINCT) take
# 200 s, 250 take 3 s) and segfaults on one SELECT of 40,000 aggregates; around a hundred per
# query the cost per expression is lowest, and the queries of a 10,000-column table stay few.
EXPRESSIONS_PER_QUERY = 100
# Cells (rows x columns) copied into memory to be queried column by column: binding a query to a
# wide table's Parquet costs time in proportion to all its columns (30 ms at 5,000), every time.
CELLS_IN_MEMORY = 1 << 24
# Columns from which a Parquet file is wide enough for that copy to pay: below, binding costs a few
# ms a query and the copy only memory (50-60 MiB more for statistics of 1,000,000 rows x 13 columns).
WIDE_COLUMNS = 100
# The text a sample of a table's rows may hold: drawing 20,000 rows of 10 KB (200 MiB of text)
# took 1.5 GiB at staging. Rows of up to 800 bytes keep the whole sample; fewer rows than
# _SAMPLE_FLOOR are not a sample.
SAMPLE_BYTES = 16 << 20
_SAMPLE_FLOOR = 100


def sample_size(rows: int, row_bytes: float | None) -> int:
    """The rows of a sample that wants `rows`, of rows of about `row_bytes` bytes (None: not known),
    within SAMPLE_BYTES."""
    if not row_bytes:
        return rows
    return min(rows, max(_SAMPLE_FLOOR, int(SAMPLE_BYTES // row_bytes)))


# --- the family of a DuckDB type ----------------------------------------------------------


class Family(StrEnum):
    """What the values of a DuckDB type are, as every step reads them."""

    INTEGER = "integer"  # TINYINT ... UHUGEINT, BIGNUM
    DECIMAL = "decimal"  # DECIMAL(p,s), NUMERIC
    FLOAT = "float"  # FLOAT (REAL), DOUBLE
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"  # with or without a time zone, in any unit
    TIME = "time"  # a time of day, with or without a time zone
    INTERVAL = "interval"
    TEXT = "text"  # VARCHAR and its aliases
    ENUM = "enum"
    UUID = "uuid"
    BINARY = "binary"  # BLOB, BIT
    NESTED = "nested"  # lists, arrays, structs, maps, unions, variants, JSON documents
    GEOMETRY = "geometry"
    OTHER = "other"  # a type this version does not know


_FAMILIES = {
    **dict.fromkeys(("TINYINT", "INT1", "SMALLINT", "INT2", "INT16", "SHORT", "INTEGER", "INT", "INT4", "INT32",
                     "SIGNED", "INTEGRAL", "BIGINT", "INT8", "INT64", "LONG", "OID", "HUGEINT", "INT128",
                     "UTINYINT", "UINT8", "USMALLINT", "UINT16", "UINTEGER", "UINT32", "UBIGINT", "UINT64",
                     "UHUGEINT", "UINT128", "BIGNUM", "VARINT"), Family.INTEGER),
    **dict.fromkeys(("DECIMAL", "DEC", "NUMERIC"), Family.DECIMAL),
    **dict.fromkeys(("FLOAT", "FLOAT4", "REAL", "DOUBLE", "FLOAT8"), Family.FLOAT),
    **dict.fromkeys(("BOOLEAN", "BOOL", "LOGICAL"), Family.BOOLEAN),
    "DATE": Family.DATE,
    **dict.fromkeys(("TIMESTAMP", "DATETIME", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_US", "TIMESTAMP_NS",
                     "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS"), Family.TIMESTAMP),
    **dict.fromkeys(("TIME", "TIME_NS", "TIMETZ", "TIME WITH TIME ZONE"), Family.TIME),
    "INTERVAL": Family.INTERVAL,
    **dict.fromkeys(("VARCHAR", "CHAR", "BPCHAR", "TEXT", "STRING", "NVARCHAR"), Family.TEXT),
    "ENUM": Family.ENUM,
    **dict.fromkeys(("UUID", "GUID"), Family.UUID),
    **dict.fromkeys(("BLOB", "BYTEA", "BINARY", "VARBINARY", "BIT", "BITSTRING"), Family.BINARY),
    **dict.fromkeys(("LIST", "ARRAY", "STRUCT", "ROW", "MAP", "UNION", "VARIANT", "PARQUET_VARIANT", "JSON"),
                    Family.NESTED),
    "GEOMETRY": Family.GEOMETRY,
}
_NUMBERS = (Family.INTEGER, Family.DECIMAL, Family.FLOAT)


def family(data_type: str) -> Family:
    """The family of a DuckDB type as DuckDB spells it (`DESCRIBE`, `typeof`) or as a user
    writes it (any alias and case): `DECIMAL(12,2)` decimal, `TIMESTAMPTZ_NS` timestamp,
    `INTEGER[]` and `STRUCT(a INTEGER)` nested."""
    t = " ".join(data_type.upper().split())
    if t.endswith("]"):  # INTEGER[], VARCHAR[3]: a list or an array
        return Family.NESTED
    return _FAMILIES.get(t.split("(", 1)[0].strip(), Family.OTHER)


def is_number(data_type: str) -> bool:
    return family(data_type) in _NUMBERS


def is_whole_number(data_type: str) -> bool:
    """An integer type, or a DECIMAL of scale 0: values without a fraction."""
    fam = family(data_type)
    return fam is Family.INTEGER or (fam is Family.DECIMAL and _decimal_scale(data_type) == 0)


def is_point_in_time(data_type: str) -> bool:
    """A DATE or a TIMESTAMP of any unit or zone: values that place a row on a time line (a
    time of day does not)."""
    return family(data_type) in (Family.DATE, Family.TIMESTAMP)


def _decimal_scale(data_type: str) -> int | None:
    """The scale of `DECIMAL(p,s)` (`NUMERIC(p)`: 0), None when not written."""
    inside = data_type.partition("(")[2].rstrip(") ")
    if not inside:
        return None
    parts = inside.split(",")
    return int(parts[1]) if len(parts) > 1 else 0


# --- connections, views over the typed tables, SQL with its values ------------------------

# Limits every connection takes from the environment (a shared machine, several steps at once):
# DuckDB's own syntax, e.g. DATARAUM_DUCKDB_MEMORY_LIMIT=2GB, DATARAUM_DUCKDB_THREADS=2.
_LIMITS = {"DATARAUM_DUCKDB_MEMORY_LIMIT": "memory_limit", "DATARAUM_DUCKDB_THREADS": "threads"}


def connect() -> duckdb.DuckDBPyConnection:
    """A short-lived in-memory connection: steps open one, use it and close it.

    Its time zone is UTC, so that a TIMESTAMP WITH TIME ZONE reads as the same instant and the
    same calendar day in every step whatever the machine's zone (and a zone-less value read as
    one is UTC); its memory and thread limits come from `DATARAUM_DUCKDB_MEMORY_LIMIT` and
    `DATARAUM_DUCKDB_THREADS` when set. DuckDB's text progress bar is off: it draws on stdout
    (after 2 s), where the CLI writes the context."""
    con = duckdb.connect(":memory:")
    try:
        _configure(con)
    except BaseException:
        con.close()
        raise
    return con


def _configure(con: duckdb.DuckDBPyConnection, limits: bool = True) -> None:
    """`connect`'s settings: UTC and no progress bar on the connection; the limits (settings of
    the whole database) from the environment when `limits`."""
    con.execute("SET TimeZone = 'UTC'")
    if limits:
        for variable, setting in _LIMITS.items():
            value = os.environ.get(variable)
            if value:
                _set_limit(con, variable, setting, value)
    # inside Jupyter DuckDB draws no text bar, and refuses the setting without ipywidgets
    with suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar_print = false")


def _set_limit(con: duckdb.DuckDBPyConnection, variable: str, setting: str, value: str | None) -> None:
    """A limit set from `variable`'s value, or back to DuckDB's default when it has none."""
    if value is None:
        con.execute(f"RESET GLOBAL {setting}")
        return
    try:
        con.execute(f"SET GLOBAL {setting} = {quote_literal(value)}")
    except duckdb.Error as exc:
        raise ConfigError(f"{variable}={value!r}: not a DuckDB {setting} ({first_line(exc)})") from None


# The memory a COPY to Parquet may take, per thread. DuckDB's writer keeps the rows' order and holds
# the row groups that finish out of turn as long as its memory limit (80% of RAM) allows, the more
# the longer the file: typing 5,000,000 rows x 13 columns took 355 MiB without a limit and 270 with
# 256 MiB on 2 threads, as fast. With less (192 MiB) the threads wait for each other: one core's
# speed. A wide table needs 8 MiB a column: staging 150 columns x 1,000,000 rows took 12.3 s with
# 4 (a peak of 523-588 MiB), 7.4-8.0 s with 8 (714-834 MiB), as without a bound (680-764 MiB).
COPY_MEMORY_PER_THREAD = 128 << 20
COPY_MEMORY_PER_COLUMN = 8 << 20
# A Parquet row group holds DuckDB's 122,880 rows up to 16 columns and fewer beyond, about as many
# values, in whole vectors of rows (as DuckDB rounds them): a writer holds a few row groups per
# thread, which in full rows took 950 MiB to stage 150 columns x 200,000 rows (in 13,333-row
# groups: 400 MiB).
ROW_GROUP_ROWS = 122_880  # DuckDB's: its Parquet scans run in parallel by row group
# ... and at most this many bytes as held in memory, however long its values: DuckDB's writer
# holds a few row groups a thread, its readers a row group's column a thread. Texts of a
# kilobyte made 120 MiB row groups: typing 200,000 such rows ran out of 256 MiB, then took 752
# MiB without the bound (in 32 MiB groups: 263 MiB, no second attempt).
ROW_GROUP_BYTES = 32 << 20
_ROW_GROUP_VALUES = ROW_GROUP_ROWS * 16
_VECTOR_ROWS = 2_048


def row_group_rows(columns: int) -> int:
    """The rows of a Parquet row group of `columns` columns."""
    vectors = _ROW_GROUP_VALUES // max(columns, 1) // _VECTOR_ROWS
    return _VECTOR_ROWS * max(1, min(ROW_GROUP_ROWS // _VECTOR_ROWS, vectors))


def row_group_bytes(columns: int) -> int:
    """The most bytes a row group of `columns` columns holds in memory: ROW_GROUP_BYTES, or a
    vector of rows of values of 16 bytes when that is more (thousands of columns: rows split
    below a vector make more row groups, each with its metadata of every column)."""
    return max(ROW_GROUP_BYTES, columns * _VECTOR_ROWS * 16)


def copy_within_memory(con: duckdb.DuckDBPyConnection, statement: str, params: list, columns: int) -> None:
    """Run a COPY of `columns` columns on a connection of its own (`connect`) with its memory
    bounded by their number, unless DATARAUM_DUCKDB_MEMORY_LIMIT sets the limit; once more
    without the bound when values are too long for it (texts of kilobytes)."""
    if os.environ.get("DATARAUM_DUCKDB_MEMORY_LIMIT"):
        con.execute(statement, params)
        return
    [(threads,)] = con.execute("SELECT current_setting('threads')").fetchall()
    bound = threads * max(COPY_MEMORY_PER_THREAD, columns * COPY_MEMORY_PER_COLUMN) >> 20
    con.execute(f"SET memory_limit = '{bound}MiB'")
    try:
        con.execute(statement, params)
    except duckdb.OutOfMemoryException:
        con.execute("RESET memory_limit")
        con.execute(statement, params)
    finally:
        con.execute("RESET memory_limit")


@contextmanager
def spilling(directory: Path, memory_per_thread: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection of its own (`connect`) whose memory is bounded to `memory_per_thread` bytes
    per thread, unless DATARAUM_DUCKDB_MEMORY_LIMIT sets the limit, and whose groupings and sorts
    spill to `directory` beyond it (created for the block, removed with its contents after)."""
    directory.mkdir(parents=True)
    try:
        with connect() as con:
            if not os.environ.get("DATARAUM_DUCKDB_MEMORY_LIMIT"):
                [(threads,)] = con.execute("SELECT current_setting('threads')").fetchall()
                con.execute(f"SET memory_limit = '{threads * memory_per_thread >> 20}MiB'")
            con.execute(f"SET temp_directory = {quote_literal(str(directory))}")
            yield con
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# One DuckDB instance per process for `session` (opened again in a forked child, whose copy of
# the parent's threads is dead), with the limits it was last given.
_instance: tuple[int, duckdb.DuckDBPyConnection] | None = None
_instance_limits: dict[str, str | None] = dict.fromkeys(_LIMITS)
_instance_lock = threading.Lock()
_sessions = itertools.count()


def _cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to this process's DuckDB instance, its limits as the environment says."""
    global _instance
    with _instance_lock:
        if _instance is None or _instance[0] != os.getpid():
            _instance = (os.getpid(), duckdb.connect(":memory:"))
            _instance_limits.update(dict.fromkeys(_LIMITS))  # DuckDB's defaults
        con = _instance[1].cursor()
        try:
            for variable, setting in _LIMITS.items():
                value = os.environ.get(variable) or None
                if _instance_limits[variable] != value:
                    _set_limit(con, variable, setting, value)
                    _instance_limits[variable] = value
        except BaseException:
            con.close()
            raise
        return con


@contextmanager
def session() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection as `connect` makes one (UTC, no progress bar, the limits of the
    environment, an in-memory database of its own for views and tables), for the length of the
    block, at a fraction of the cost: opening a DuckDB database costs 10-20 ms of CPU (its
    catalog of functions, its threads), which steps that open one per table paid about a
    hundred times on a 24-table run. A session is a cursor of the process's one DuckDB
    instance whose default database is a new in-memory one, detached with everything in it at
    the end; temporary objects are the cursor's own. The instance's threads and memory limit
    are shared by every session, so sessions in parallel threads stay within one limit. What
    DuckDB keeps per instance is shared too: a database ATTACHed under a fixed name, a setting
    of GLOBAL scope (`disabled_optimizers`); code that needs those opens `connect`."""
    con = _cursor()
    name = f"session_{next(_sessions)}"
    try:
        con.execute(f"ATTACH ':memory:' AS {name}")
        try:
            con.execute(f"USE {name}")
            _configure(con, limits=False)
            yield con
        finally:
            with suppress(duckdb.Error):  # the database goes even when the block broke the cursor
                con.execute("USE memory")
                con.execute(f"DETACH {name}")
    finally:
        con.close()


def quarantine_view(table: str) -> str:
    """The name a table's quarantine goes by."""
    return f"quarantine_{table}"


def open_tables(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str | Path],
                quarantines: Mapping[str, str | Path] | None = None, row_numbers: bool = False) -> None:
    """The typed tables (name -> Parquet path) as views under their own names, and their
    quarantines as `quarantine_<table>`: the one way tables are named in SQL, in every step
    as in `Workspace.sql`, so SQL a step shows runs as written there. The views live in the
    connection's database, not among its temporary objects, so `typed_table` still finds a
    table that shares its name with a step's temporary one. `row_numbers` adds each row's
    0-based position in its file (`file_row_number`)."""
    option = ", file_row_number = true" if row_numbers else ""
    for name, path in tables.items():
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT * FROM "
                    f"read_parquet({quote_literal(str(path))}{option})")
    for name, path in (quarantines or {}).items():
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(quarantine_view(name))} AS SELECT * FROM "
                    f"read_parquet({quote_literal(str(path))})")


def typed_table(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The typed table `name` opened by `open_tables` on `con`, qualified with the connection's
    database (`memory` for `connect`, its own for a `session`): what a step that also creates
    temporary tables of its own writes, since those would hide a table of the same name."""
    row = con.execute("SELECT current_database()").fetchone()
    assert row is not None
    return f"{quote_ident(row[0])}.main.{quote_ident(name)}"


class Sql(Frozen):
    """SQL text with `?` placeholders and their values, in order: the one convention for
    values in SQL. Where DuckDB takes no parameter (COPY, CREATE VIEW), `quote_literal`."""

    text: str
    params: tuple[Any, ...] = ()

    def run(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        return con.execute(self.text, list(self.params))


def concat(*parts: str | Sql) -> Sql:
    """Text and SQL fragments joined, the values in the order of their `?`."""
    text: list[str] = []
    params: list[Any] = []
    for part in parts:
        if isinstance(part, Sql):
            text.append(part.text)
            params.extend(part.params)
        else:
            text.append(part)
    return Sql(text="".join(text), params=tuple(params))


def bound(value: Any, cast: str) -> Sql:
    """A value as a parameter, cast so DuckDB knows its type where the context does not say."""
    return Sql(text=f"?::{cast}", params=(value,))


# --- quoting and the shape of per-column SQL -------------------------------------------------


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal; used only where DuckDB does not accept a bound parameter
    (table functions inside COPY, CREATE VIEW)."""
    return "'" + value.replace("'", "''") + "'"


def batched(items: Iterable[T], size: Callable[[T], int] = lambda _: 1,
            limit: int = EXPRESSIONS_PER_QUERY) -> Iterator[list[T]]:
    """`items` in consecutive runs whose sizes add up to at most `limit` (an item larger than
    the limit runs alone): the per-column SQL of a wide table as queries of bounded size."""
    batch: list[T] = []
    total = 0
    for item in items:
        n = size(item)
        if batch and total + n > limit:
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += n
    if batch:
        yield batch


def create_parquet_relation(con: duckdb.DuckDBPyConnection, name: str, path: str | Path,
                            columns: Sequence[str], rows: int, file_columns: int) -> str:
    """`columns` of the Parquet file at `path` (of `file_columns` in all) as the temporary
    relation `name`: a table read once when the file is wide and they hold at most
    CELLS_IN_MEMORY cells (many queries then bind it cheaply), else a view that reads the file
    in each query. Returns TABLE or VIEW."""
    copied = file_columns >= WIDE_COLUMNS and rows * len(columns) <= CELLS_IN_MEMORY
    kind = "TABLE" if copied else "VIEW"
    con.execute(f"CREATE TEMP {kind} {quote_ident(name)} AS SELECT {', '.join(map(quote_ident, columns))} "
                f"FROM read_parquet({quote_literal(str(path))})")
    return kind


@contextmanager
def parquet_relation(con: duckdb.DuckDBPyConnection, name: str, path: str | Path, columns: Sequence[str],
                     rows: int, file_columns: int) -> Iterator[None]:
    """`create_parquet_relation` while the block runs."""
    kind = create_parquet_relation(con, name, path, columns, rows, file_columns)
    try:
        yield
    finally:
        con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")
