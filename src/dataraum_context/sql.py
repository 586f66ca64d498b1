"""The one DuckDB layer: connections, quoting, and the shape of per-column SQL over wide tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
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
    # inside Jupyter DuckDB draws no text bar, and refuses the setting without ipywidgets
    with suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar_print = false")
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
                            columns: Sequence[str], rows: int) -> str:
    """`columns` of the Parquet file at `path` as the temporary relation `name`: a table read
    once when it holds at most CELLS_IN_MEMORY cells (many queries over a wide table then bind
    it cheaply), else a view that reads the file in each query. Returns TABLE or VIEW."""
    kind = "TABLE" if rows * len(columns) <= CELLS_IN_MEMORY else "VIEW"
    con.execute(f"CREATE TEMP {kind} {quote_ident(name)} AS SELECT {', '.join(map(quote_ident, columns))} "
                f"FROM read_parquet({quote_literal(str(path))})")
    return kind


@contextmanager
def parquet_relation(con: duckdb.DuckDBPyConnection, name: str, path: str | Path, columns: Sequence[str],
                     rows: int) -> Iterator[None]:
    """`create_parquet_relation` while the block runs."""
    kind = create_parquet_relation(con, name, path, columns, rows)
    try:
        yield
    finally:
        con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")
