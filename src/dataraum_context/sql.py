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
    """A short-lived in-memory connection: steps open one, use it and close it. DuckDB's text
    progress bar is off: it draws on stdout (after 2 s), where the CLI writes the context."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar_print = false")
    except duckdb.InvalidInputException:
        pass  # inside Jupyter DuckDB draws no text bar, and refuses the setting without ipywidgets
    return con
