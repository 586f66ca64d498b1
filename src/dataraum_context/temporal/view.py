"""The table under analysis: the columns it reads of its typed Parquet, on a connection of its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from dataraum_context.sql import create_parquet_relation, quote_ident, session

VIEW = "_timed"


@contextmanager
def open_table(path: str | Path, columns: Sequence[str], rows: int,
               file_columns: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection (`sql.session`: in UTC) with `columns` of the Parquet file at `path` (of
    `file_columns` in all) as `VIEW` (read once into memory when the file is wide and they are
    few cells: each query would bind all of its columns), while the block runs."""
    with session() as con:
        create_parquet_relation(con, VIEW, path, columns, rows, file_columns)
        yield con


def as_timestamp(column: str) -> str:
    """SQL reading `column` (a DATE or any TIMESTAMP) as a TIMESTAMP."""
    return f"CAST({quote_ident(column)} AS TIMESTAMP)"
