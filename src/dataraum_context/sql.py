"""The one DuckDB layer: connections, quoting, and the shape of per-column SQL over wide tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

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


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal; used only where DuckDB does not accept a bound parameter
    (table functions inside COPY, CREATE VIEW)."""
    return "'" + value.replace("'", "''") + "'"


def connect() -> duckdb.DuckDBPyConnection:
    """A short-lived in-memory connection: steps open one, use it and close it. DuckDB's text
    progress bar is off: it draws on stdout (after 2 s), where the CLI writes the context."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar_print = false")
    except duckdb.InvalidInputException:
        pass  # inside Jupyter DuckDB draws no text bar, and refuses the setting without ipywidgets
    return con


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
