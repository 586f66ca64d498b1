"""Parquet files, and directories of parts (`events.parquet/part-0.parquet`, Hive partitions
`year=2024/...`): typed at the source, staged with their types."""

from __future__ import annotations

import os

import duckdb

from dataraum_context.loaders.base import LoaderBase, parquet_in_place
from dataraum_context.models import InPlace, TypeSystemStrength
from dataraum_context.sql import quote_literal

_EXTENSIONS = (".parquet", ".pq")
_DATASET_MARKERS = ("_SUCCESS", "_metadata", "_common_metadata")


class ParquetLoader(LoaderBase):
    name = "parquet"
    type_system = TypeSystemStrength.STRONG
    extensions = _EXTENSIONS

    @classmethod
    def handles(cls, source: str) -> bool:
        return super().handles(source) or (os.path.isdir(source) and _is_dataset(source))

    def _files(self) -> list[str]:
        if not os.path.isdir(self.source):
            return [self.source]
        return sorted(os.path.join(d, f) for d, _dirs, files in os.walk(self.source)
                      for f in files if f.lower().endswith(_EXTENSIONS))

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        if os.path.isdir(self.source):
            parts = ", ".join(quote_literal(p) for p in self._files())
            return f"read_parquet([{parts}], hive_partitioning=true, union_by_name=true)"
        return f"read_parquet({quote_literal(self.source)})"

    def _read_in_place(self) -> InPlace | None:
        # one file is read where it is (staging then reads its counts, not a copy of every value);
        # a dataset of parts is copied: its parts can come and go between the steps
        return None if os.path.isdir(self.source) else parquet_in_place(self.source)


def _is_dataset(path: str) -> bool:
    """A directory that is one table in parts: named `*.parquet`, or holding nothing but Parquet
    parts beside writer markers (Spark's `_SUCCESS`) and partitions (`key=value/`), with a
    marker, a partition, or parts named `part-*`."""
    if path.rstrip(os.sep).lower().endswith(_EXTENSIONS):
        return True
    entries = [e for e in os.listdir(path) if not e.startswith(".")]
    files = [e for e in entries if os.path.isfile(os.path.join(path, e)) and e not in _DATASET_MARKERS]
    if any(not e.lower().endswith(_EXTENSIONS) for e in files):
        return False  # other files beside: a folder of tables, one per file
    partitioned = any("=" in e and os.path.isdir(os.path.join(path, e)) for e in entries)
    marked = any(e in _DATASET_MARKERS for e in entries)
    parts = bool(files) and all(e.lower().startswith(("part-", "part_")) for e in files)
    return partitioned or marked or parts
