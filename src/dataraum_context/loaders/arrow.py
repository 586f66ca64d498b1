"""Loaders whose rows come from a Python driver (Excel, SQLite, PostgreSQL) as Arrow record
batches. DuckDB's extensions for those formats download at run time, so the drivers read the
source and DuckDB streams their batches into the staged Parquet: a table never sits whole in
memory unless the format itself forces it (a workbook sheet).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from functools import cached_property

import duckdb
import pyarrow as pa

from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import LoaderBase, _first_line
from dataraum_context.models import StagedColumn

_SOURCE_VIEW = "dataraum_source"
_SCHEMA_VIEW = "dataraum_schema"


class ArrowLoader(LoaderBase):
    """A table read as Arrow: its schema from the source's catalog (no rows read), its rows as
    record batches. Subclasses raise `SourceError` naming the source for anything they cannot read."""

    _error: SourceError | None = None

    @abstractmethod
    def _arrow_schema(self) -> pa.Schema:
        """The staged columns, from the catalog."""

    @abstractmethod
    def _batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, batch by batch, matching `_arrow_schema`."""

    @cached_property
    def _schema(self) -> pa.Schema:
        return self._arrow_schema()

    def _columns(self, con: duckdb.DuckDBPyConnection) -> list[StagedColumn]:
        con.register(_SCHEMA_VIEW, self._schema.empty_table())
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {_SCHEMA_VIEW}").fetchall()
        finally:
            con.unregister(_SCHEMA_VIEW)
        written = self._source_names(con)
        return [StagedColumn(name=name, data_type=dtype,
                             source_name=written[i] if written and written[i] != name else None)
                for i, (name, dtype, *_rest) in enumerate(described)]

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        self._error = None
        con.register(_SOURCE_VIEW, pa.RecordBatchReader.from_batches(self._schema, self._guarded()))
        return _SOURCE_VIEW

    def _guarded(self) -> Iterator[pa.RecordBatch]:
        """The batches; an error is kept, since DuckDB reports it only as a failed stream."""
        try:
            for batch in self._batches():
                yield batch.cast(self._schema) if batch.schema != self._schema else batch
        except SourceError as exc:
            self._error = exc
            raise
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            self._error = SourceError(f"{self.source}: table {self.table}: a value does not fit "
                                      f"its column's type: {_first_line(exc)}")
            raise

    def _read_error(self, exc: duckdb.Error) -> SourceError:
        return self._error or super()._read_error(exc)


def unique_names(names: list[str | None]) -> list[str]:
    """Column names as DuckDB would make them: an empty name becomes `column<i>`, a repeated
    one gets `_1`, `_2`, ..."""
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        base = (name or "").strip() or f"column{i}"
        candidate, n = base, 0
        while candidate.lower() in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out
