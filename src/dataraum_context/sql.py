"""The one place identifiers and paths are quoted for DuckDB SQL."""

from __future__ import annotations

import duckdb


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal; used only where DuckDB does not accept a bound parameter
    (table functions inside COPY, CREATE VIEW)."""
    return "'" + value.replace("'", "''") + "'"


def connect() -> duckdb.DuckDBPyConnection:
    """A short-lived in-memory connection: steps open one, use it and close it."""
    return duckdb.connect(":memory:")
