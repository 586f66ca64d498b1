"""DuckDB database files, attached read-only: one table per table of a schema (`main` unless
the `schema` option says otherwise), typed at the source, with declared primary and foreign keys."""

from __future__ import annotations

import os
from functools import cached_property

import duckdb

from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import LoaderBase, _first_line, table_loaders
from dataraum_context.loaders.sources import SourceSpec, is_uri
from dataraum_context.loaders.sqlite import database_path, has_magic
from dataraum_context.models import Relationship, TypeSystemStrength
from dataraum_context.sql import connect, quote_ident, quote_literal

_MAGIC = b"DUCK"  # at byte 8 of a DuckDB file
_ALIAS = "dataraum_db"


class DuckDBLoader(LoaderBase):
    name = "duckdb"
    type_system = TypeSystemStrength.STRONG
    extensions = (".duckdb", ".ddb", ".db")
    schemes = ("duckdb",)
    option_names = ("tables", "schema")

    @classmethod
    def handles(cls, source: str) -> bool:
        if not super().handles(source):
            return False
        return is_uri(source) or not source.lower().endswith(".db") or has_magic(source, _MAGIC, 8)

    @classmethod
    def expand(cls, spec: SourceSpec, source: str) -> list[LoaderBase]:
        probe = cls(source, options=spec.options)
        with connect() as con:
            probe._attach(con)
            found = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                "AND NOT internal ORDER BY table_name", [_ALIAS, probe._schema_name]).fetchall()]
        return table_loaders(cls, spec, source, found)

    @property
    def _schema_name(self) -> str:
        return str(self.options.get("schema", "main"))

    def _files(self) -> list[str]:
        path = database_path(self.source)
        return [path] + [p for p in (f"{path}.wal",) if os.path.exists(p)]

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        path = database_path(self.source)
        try:
            con.execute(f"ATTACH {quote_literal(path)} AS {_ALIAS} (READ_ONLY)")
        except duckdb.Error as exc:
            raise SourceError(f"{self.source}: cannot be opened as a DuckDB database: {_first_line(exc)}") from None

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        if _ALIAS not in {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}:
            self._attach(con)
        return f"{_ALIAS}.{quote_ident(self._schema_name)}.{quote_ident(self.table)}"

    @cached_property
    def _constraints(self) -> list[tuple[str, list[str], str | None, list[str]]]:
        """(PRIMARY KEY | FOREIGN KEY, columns, referenced table, referenced columns) of the table."""
        with connect() as con:
            self._attach(con)
            return con.execute(
                "SELECT constraint_type, constraint_column_names, referenced_table, referenced_column_names "
                "FROM duckdb_constraints() WHERE database_name = ? AND schema_name = ? AND table_name = ? "
                "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY constraint_index",
                [_ALIAS, self._schema_name, self.table]).fetchall()

    def primary_key(self) -> tuple[str, ...]:
        return next((tuple(cols) for kind, cols, _t, _r in self._constraints if kind == "PRIMARY KEY"), ())

    def relationships(self) -> list[Relationship]:
        return [Relationship(from_table=self.table, from_columns=tuple(cols), to_table=target,
                             to_columns=tuple(refs), source="declared",
                             evidence=(f"FOREIGN KEY declared in {self.source}",))
                for kind, cols, target, refs in self._constraints
                if kind == "FOREIGN KEY" and target is not None]  # a foreign key names its table
