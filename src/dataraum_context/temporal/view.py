"""The table under analysis: a view over its typed Parquet on a connection of its own."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dataraum_context.sql import connect, quote_ident, quote_literal

VIEW = "_timed"


def open_table(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A connection (in UTC, so that timestamps read the same everywhere) with the Parquet
    file at `path` as the view `VIEW`."""
    con = connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TEMP VIEW {VIEW} AS SELECT * FROM read_parquet({quote_literal(str(path))})")
    except BaseException:
        con.close()
        raise
    return con


def as_timestamp(column: str) -> str:
    """SQL reading `column` (a DATE or any TIMESTAMP) as a TIMESTAMP."""
    return f"CAST({quote_ident(column)} AS TIMESTAMP)"
