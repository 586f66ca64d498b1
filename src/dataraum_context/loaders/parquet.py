"""Parquet files: typed at the source, staged with their types."""

from __future__ import annotations

import duckdb

from dataraum_context.loaders.base import LoaderBase
from dataraum_context.models import TypeSystemStrength
from dataraum_context.sql import quote_literal


class ParquetLoader(LoaderBase):
    name = "parquet"
    type_system = TypeSystemStrength.STRONG
    extensions = (".parquet", ".pq")

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        return f"read_parquet({quote_literal(self.source)})"
