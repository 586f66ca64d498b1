"""The table under analysis: the columns it reads of its typed Parquet, on a connection of its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from dataraum_context.sql import connect, create_parquet_relation, quote_ident

VIEW = "_timed"


def open_table(path: str | Path, columns: Sequence[str], rows: int, file_columns: int) -> duckdb.DuckDBPyConnection:
    """A connection (`sql.connect`: in UTC) with `columns` of the Parquet file at `path` (of
    `file_columns` in all) as `VIEW` (read once into memory when the file is wide and they are
    few cells: each query would bind all of its columns)."""
    con = connect()
    try:
        create_parquet_relation(con, VIEW, path, columns, rows, file_columns)
    except BaseException:
        con.close()
        raise
    return con


def as_timestamp(column: str) -> str:
    """SQL reading `column` (a DATE or any TIMESTAMP) as a TIMESTAMP."""
    return f"CAST({quote_ident(column)} AS TIMESTAMP)"
