"""JSON files: an array of objects or newline-delimited objects, staged VARCHAR-first.

Scalars are staged as their text; nested objects and arrays as JSON text.
"""

from __future__ import annotations

import duckdb

from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import LoaderBase, _first_line
from dataraum_context.models import TypeSystemStrength
from dataraum_context.sql import quote_ident, quote_literal

_NESTED = ("STRUCT", "MAP", "UNION", "JSON")


class JSONLoader(LoaderBase):
    name = "json"
    type_system = TypeSystemStrength.UNTYPED
    extensions = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        raw = f"read_json({quote_literal(self.source)}, format='auto')"
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()
        except duckdb.Error as exc:
            raise SourceError(f"{self.source}: not valid JSON: {_first_line(exc)}") from None
        if [d[0] for d in described] == ["json"] and described[0][1] == "JSON":
            raise SourceError(f"{self.source}: expected an array of objects or one object per line")
        select = ", ".join(_as_text(name, dtype) for name, dtype, *_ in described)
        return f"(SELECT {select} FROM {raw})"


def _as_text(name: str, dtype: str) -> str:
    col = quote_ident(name)
    nested = dtype.endswith("]") or dtype.startswith(_NESTED)
    expr = f"to_json({col})::VARCHAR" if nested else f"{col}::VARCHAR"
    return f"{expr} AS {col}"
