"""`LoaderBase` and the resolution of user-given sources (files, globs, directories) to loaders."""

from __future__ import annotations

import glob
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import duckdb

from dataraum_context import plugins
from dataraum_context.errors import SourceError
from dataraum_context.models import StagedColumn, StagedTable, TypeSystemStrength
from dataraum_context.sql import connect, quote_ident
from dataraum_context.workspace import STAGED, Workspace


class LoaderBase(ABC):
    """Stages one source (one table) into the workspace.

    Subclasses set `name`, `type_system` and `extensions`, and say how DuckDB reads the source
    (`_relation_sql`). `get_schema()` reads only what is needed to list the columns;
    `load()` streams the rows into `staged/<table>.parquet`.
    """

    name: ClassVar[str]
    type_system: ClassVar[TypeSystemStrength]
    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, source: str, table: str | None = None, options: dict | None = None):
        self.source = source
        self.table = table or table_name(source)
        self.options = dict(options or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"

    @classmethod
    def handles(cls, path: str) -> bool:
        return path.lower().endswith(cls.extensions)

    @abstractmethod
    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        """A SELECT over the source, one row per source row, columns as staged."""

    def _detected_options(self) -> dict[str, str]:
        return {}

    def _warnings(self, columns: list[StagedColumn]) -> list[str]:
        return [
            f"{self.source}: column {c.source_name!r} renamed to {c.name!r}"
            for c in columns
            if c.source_name is not None
        ]

    def _source_names(self, con: duckdb.DuckDBPyConnection) -> list[str] | None:
        """The column names as written in the source, when they can differ from DuckDB's."""
        return None

    def _rejects(self, con: duckdb.DuckDBPyConnection, workspace: Workspace) -> tuple[int, str | None]:
        """Write malformed source rows to the workspace; return (count, relative path)."""
        return 0, None

    def get_schema(self) -> list[StagedColumn]:
        with connect() as con:
            return self._columns(con)

    def _columns(self, con: duckdb.DuckDBPyConnection) -> list[StagedColumn]:
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {self._relation_sql(con)}").fetchall()
        except duckdb.Error as exc:
            raise SourceError(f"{self.source}: cannot be read as {self.name}: {_first_line(exc)}") from None
        written = self._source_names(con)
        columns = []
        for i, (name, dtype, *_rest) in enumerate(described):
            original = written[i] if written and i < len(written) else name
            columns.append(StagedColumn(name=name, data_type=dtype,
                                        source_name=None if original == name else original))
        return columns

    def load(self, workspace: Workspace) -> StagedTable:
        relative = workspace.relative(STAGED, self.table)
        with connect() as con:
            columns = self._columns(con)
            select = ", ".join(quote_ident(c.name) for c in columns)
            try:
                workspace.write_parquet(con, f"SELECT {select} FROM {self._relation_sql(con)}", relative)
                rows = con.execute(
                    "SELECT count(*) FROM read_parquet(?)", [str(workspace.path(relative))]
                ).fetchone()[0]
                rejected, rejects_path = self._rejects(con, workspace)
            except duckdb.Error as exc:
                raise SourceError(f"{self.source}: cannot be read as {self.name}: {_first_line(exc)}") from exc
        return StagedTable(
            name=self.table,
            source=self.source,
            loader=self.name,
            type_system=self.type_system,
            path=relative,
            row_count=rows,
            rejected_rows=rejected,
            rejects_path=rejects_path,
            columns=tuple(columns),
            options=self._detected_options(),
            warnings=tuple(self._warnings(columns)),
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_DATA_SUFFIXES = (".gz", ".zst", ".csv", ".tsv", ".tab", ".txt", ".json", ".ndjson", ".jsonl",
                  ".parquet", ".pq")


def table_name(source: str) -> str:
    """The file name without its data extensions: `orders.csv.gz` -> `orders`."""
    name = Path(source).name
    while True:
        lower = name.lower()
        suffix = next((s for s in _DATA_SUFFIXES if lower.endswith(s) and len(name) > len(s)), None)
        if suffix is None:
            return name
        name = name[: -len(suffix)]


def resolve_sources(sources: list[str] | tuple[str, ...] | str) -> list[LoaderBase]:
    """Expand files, globs and directories into one loader per table.

    Errors name the source: a missing path, a directory without data files, a file no loader
    reads, two files that would make the same table.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        raise SourceError("no sources given")
    registry = plugins.loaders()
    chosen: list[LoaderBase] = []
    for source in sources:
        source = os.fspath(source)
        for path in _expand(source, registry):
            loader_cls = next((cls for cls in registry.values() if cls.handles(path)), None)
            if loader_cls is None:
                known = sorted({e for cls in registry.values() for e in cls.extensions})
                raise SourceError(f"{path}: no loader for this kind of file (known: {', '.join(known)})")
            chosen.append(loader_cls(path))
    seen: dict[str, str] = {}
    for loader in chosen:
        if loader.table in seen:
            raise SourceError(
                f"{loader.source} and {seen[loader.table]} would both become table {loader.table!r}"
            )
        seen[loader.table] = loader.source
    return chosen


def _expand(source: str, registry: dict[str, type[LoaderBase]]) -> list[str]:
    def readable(path: str) -> bool:
        return any(cls.handles(path) for cls in registry.values())

    if glob.has_magic(source):
        matches = sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
        if not matches:
            raise SourceError(f"{source}: no files match this pattern")
        return [os.path.abspath(p) for p in matches]
    if os.path.isdir(source):
        files = sorted(
            os.path.join(source, f) for f in os.listdir(source)
            if os.path.isfile(os.path.join(source, f)) and not f.startswith(".") and readable(f)
        )
        if not files:
            raise SourceError(f"{source}: directory has no data files")
        return [os.path.abspath(p) for p in files]
    if os.path.isfile(source):
        return [os.path.abspath(source)]
    raise SourceError(f"{source}: no such file or directory")
