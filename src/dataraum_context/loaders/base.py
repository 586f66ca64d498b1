"""`LoaderBase` and the resolution of user-given sources (files, globs, directories, URIs,
`sources.yaml`) to one loader per table."""

from __future__ import annotations

import glob
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, ClassVar

import duckdb

from dataraum_context import plugins, settings
from dataraum_context.errors import ConfigError, SourceError, disk_full
from dataraum_context.errors import first_line as _first_line  # the loaders' name for it
from dataraum_context.loaders.sources import SourceSpec, is_uri, source_specs, uri_scheme
from dataraum_context.models import (
    InPlace,
    Relationship,
    SourceFailure,
    StagedColumn,
    StagedTable,
    TypeSystemStrength,
)
from dataraum_context.sql import CELLS_IN_MEMORY, connect, quote_ident, quote_literal, sample_size, session
from dataraum_context.workspace import STAGED, Workspace, file_version


class LoaderBase(ABC):
    """Stages one table of a source into the workspace.

    Subclasses set `name`, `type_system` and the `extensions` or URI `schemes` they read, and
    say how DuckDB reads the table (`_relation_sql`). A source that holds several tables (a
    database, a workbook) lists them in `expand`, from its catalog, without reading rows.
    `get_schema()` reads only what is needed to list the columns; `load()` streams the rows into
    `staged/<table>.parquet`.
    """

    name: ClassVar[str]
    type_system: ClassVar[TypeSystemStrength]
    extensions: ClassVar[tuple[str, ...]] = ()
    schemes: ClassVar[tuple[str, ...]] = ()
    option_names: ClassVar[tuple[str, ...]] = ()  # the options a sources.yaml may set
    always_restaged: ClassVar[bool] = False  # no cheap, reliable sign of change (a server, an API)
    driver: ClassVar[str | None] = None  # the module a loader needs beyond the core install,
    extra: ClassVar[str | None] = None  # and the extra of this package that installs it
    listed_as: ClassVar[str | None] = None  # what `dataraum loaders` says it reads, when not files or URIs

    def __init__(self, source: str, table: str | None = None, options: dict | None = None,
                 credentials: dict | None = None):
        self.source = source
        self.table = table or table_name(source, self.extensions)
        self.options = dict(options or {})
        self.credentials = dict(credentials or {})  # ${ENV_VAR} references, read when connecting
        self.source_name = source  # the source as the user named it (set by resolution)
        unknown = sorted(set(self.options) - set(self.option_names))
        if unknown:
            valid = ", ".join(self.option_names) or "none"
            raise ConfigError(f"{source}: unknown {self.name} option {unknown[0]!r} (valid: {valid})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, table={self.table!r})"

    @classmethod
    def handles(cls, source: str) -> bool:
        if is_uri(source):
            return uri_scheme(source) in cls.schemes
        return source.lower().endswith(cls.extensions)

    @classmethod
    def expand(cls, spec: SourceSpec, source: str) -> list[LoaderBase]:
        """The loaders of a source's tables, found without reading rows. One table by default,
        named by the spec when it comes from a sources.yaml."""
        table = spec.name if spec.source == source and spec.name != source else None
        return [cls(source, table=table, options=spec.options, credentials=spec.credentials)]

    @property
    def version(self) -> str:
        """What changes when the source's rows do: Hamilton's cache restages the table then."""
        return "/".join(file_version(path) for path in self._files())

    def _files(self) -> list[str]:
        """The files behind the table: their sizes and times are its version."""
        return [self.source]

    def relationships(self) -> list[Relationship]:
        """The foreign keys the source declares from this table to others."""
        return []

    def primary_key(self) -> tuple[str, ...]:
        return ()

    @abstractmethod
    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        """A SELECT-able expression over the table, one row per source row, columns as staged."""

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

    def _read_in_place(self) -> InPlace | None:
        """How to read the source's rows where they are, when it is a file DuckDB reads as it is:
        staging then reads it once for its counts and a sample, and the next steps read it in
        place of a copy. None to stage a copy."""
        return None

    def load(self, workspace: Workspace) -> StagedTable:
        in_place = self._read_in_place()
        # a copy bounds its COPY's memory, a setting of a database of its own (`copy_within_memory`);
        # a source read in place is read on a session (opening a database took 13 ms a table)
        with session() if in_place else connect() as con:
            columns = self._columns(con)
            try:
                if in_place is None:
                    where: dict = {"path": self._copy(con, workspace, columns)}
                    [(rows, size)] = con.execute(
                        "SELECT count(*), (SELECT sum(total_uncompressed_size) FROM parquet_metadata($1)) "
                        "FROM read_parquet($1)", [str(workspace.path(where["path"]))]).fetchall()
                    where["row_bytes"] = size / rows if rows else None
                else:
                    rows, columns, where = self._scan(con, workspace, columns)
                    where |= {"in_place": in_place, "row_bytes": self._row_bytes()}
                rejected, rejects_path = self._rejects(con, workspace)
            except duckdb.Error as exc:
                raise self._read_error(exc) from None
        return StagedTable(
            name=self.table,
            source=self.source,
            loader=self.name,
            type_system=self._type_system(),
            **where,
            row_count=rows,
            rejected_rows=rejected,
            rejects_path=rejects_path,
            columns=tuple(columns),
            options=self._detected_options(),
            warnings=tuple(self._warnings(columns)),
            primary_key=self.primary_key(),
        )

    def _copy(self, con: duckdb.DuckDBPyConnection, workspace: Workspace, columns: list[StagedColumn]) -> str:
        """Stream the rows into `staged/<table>.parquet`; its workspace-relative path."""
        relative = workspace.relative(STAGED, self.table)
        select = ", ".join(quote_ident(c.name) for c in columns)
        workspace.write_parquet(con, f"SELECT {select} FROM {self._relation_sql(con)}", relative,
                                columns=len(columns))
        return relative

    def _scan(self, con: duckdb.DuckDBPyConnection, workspace: Workspace, columns: list[StagedColumn],
              ) -> tuple[int, list[StagedColumn], dict]:
        """A source read in place: its rows and, unless it is typed at the source (nothing to infer,
        nothing that fails a cast but an override), the non-null values of each column and a
        sample, in one pass (`_sampled_scan`)."""
        if self._type_system() is TypeSystemStrength.STRONG:
            [(rows,)] = con.execute(f"SELECT count(*) FROM {self._relation_sql(con)}").fetchall()
            return rows, columns, {}
        counts = "[" + ", ".join(f"count({quote_ident(c.name)})" for c in columns) + "]"
        rows, counts_, sampled = self._sampled_scan(con, workspace, columns, counts)
        counted = [c.model_copy(update={"values": n}) for c, n in zip(columns, counts_, strict=True)]
        return rows, counted, sampled

    def _sampled_scan(self, con: duckdb.DuckDBPyConnection, workspace: Workspace, columns: list[StagedColumn],
                      counts: str) -> tuple[int, list[int], dict]:
        """The rows, the `counts` and `staged/<table>.sample.parquet`, the rows of the smallest
        hashes of their values (uniform, the same every run, and any first n of it a sample of n;
        at most CELLS_IN_MEMORY cells), in one pass."""
        relative = workspace.relative(STAGED, self.table, ".sample.parquet")
        idents = ", ".join(quote_ident(c.name) for c in columns)
        size = max(1, min(sample_size(settings.PROFILE_SAMPLE_ROWS, self._row_bytes()),
                          CELLS_IN_MEMORY // max(len(columns), 1)))
        bound = _hash_bound(size, self._expected_rows())
        for below in ([bound, None] if bound else [None]):
            # only the rows hashed below the bound are packed for the sample (packing every row cost
            # a third of the pass); the smallest `size` hashes are among them when `size` passed,
            # else the sample is drawn again from every row
            where = f" FILTER (WHERE hash({idents}) < {below}::UBIGINT)" if below else ""
            con.execute(f"CREATE OR REPLACE TEMP TABLE staged_scan AS SELECT count(*) AS n, {counts} AS counts, "
                        f"min_by(struct_pack({idents}), hash({idents}), {size}){where} AS sample, "
                        f"count(*){where} AS passed FROM {self._relation_sql(con)}")
            [(rows, passed)] = con.execute("SELECT n, passed FROM staged_scan").fetchall()
            if passed >= min(size, rows):
                break
        workspace.write_parquet(con, "SELECT unnest(sample, recursive := true) FROM staged_scan", relative)
        [(rows, counts_, drawn)] = con.execute("SELECT n, counts, len(sample) FROM staged_scan").fetchall()
        return rows, counts_, {"sample_path": relative, "sample_rows": drawn or 0}

    def _type_system(self) -> TypeSystemStrength:
        """How strongly this table is typed at its source: the loader's `type_system`, unless the
        source says more."""
        return self.type_system

    def _expected_rows(self) -> int | None:
        """About how many rows a source read in place holds, when its size tells before reading
        it (None: not known)."""
        return None

    def _row_bytes(self) -> float | None:
        """About how many bytes a row of a source read in place takes, as text, when its first
        rows tell (None: not known)."""
        return None

    def _read_error(self, exc: duckdb.Error) -> SourceError:
        return SourceError(f"{self.source}: cannot be read as {self.name}: {_first_line(exc)}")


# The sample's rows are drawn from about this many times as many rows, those hashed lowest: the
# rows of a file longer than its first ones promise may be fewer (then it is drawn again).
_OVERDRAW = 4


def _hash_bound(size: int, expected: int | None) -> int | None:
    """The hash below which about _OVERDRAW x `size` of `expected` rows lie (hash() is uniform
    over 64 bits); None when that is most of them."""
    if not expected or expected <= 2 * _OVERDRAW * size:
        return None
    return (_OVERDRAW * size << 64) // expected


def parquet_in_place(path: str) -> InPlace:
    """A Parquet file read where it is, by its absolute path (the next steps may run elsewhere: a
    worker, the MCP server): a copy of it copies the staged rows."""
    path = os.path.abspath(path)
    return InPlace(read=f"read_parquet({quote_literal(path)})", file=path, version=file_version(path), parquet=True)


def write_temporary(suffix: str, fill: Callable[[IO[bytes]], object]) -> str:
    """The path of a new temporary file (in TMPDIR) that `fill` writes. Whatever stops the
    writing, the partial file is removed; a full disk is reported as such, by name."""
    fd, path = tempfile.mkstemp(prefix="dataraum-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
    except BaseException as exc:
        os.unlink(path)
        full = disk_full(exc, f"{path} (in TMPDIR)") if isinstance(exc, Exception) else None
        if full is not None:
            raise full from exc
        raise
    return path


_DATA_SUFFIXES = (".gz", ".zst", ".csv", ".tsv", ".tab", ".txt", ".json", ".ndjson", ".jsonl",
                  ".parquet", ".pq", ".xlsx", ".xls", ".xlsm")


def table_name(source: str, extensions: Sequence[str] = ()) -> str:
    """The file name without its data extensions, and those of its loader (a plugin's
    `.psv`): `orders.csv.gz` -> `orders`."""
    name = Path(source).name
    suffixes = (*extensions, *_DATA_SUFFIXES)
    while True:
        lower = name.lower()
        suffix = next((s for s in suffixes if lower.endswith(s) and len(name) > len(s)), None)
        if suffix is None:
            return name
        name = name[: -len(suffix)]


def resolve_sources(sources: list[str] | tuple[str, ...] | str) -> list[LoaderBase]:
    """Expand sources into one loader per table; the first source that cannot be read raises.

    Errors name the source: a missing path, a directory without data files, a file no loader
    reads, two sources that would make the same table.
    """
    return staged_loaders(sources, tolerate=False)[0]


def staged_loaders(sources: Sequence[str | SourceSpec] | str,
                   tolerate: bool = True) -> tuple[list[LoaderBase], list[SourceFailure]]:
    """One loader per table of the sources, and the sources that could not be read (by name,
    with the reason) when `tolerate`: one unreachable database must not sink the others.
    Mistakes in the sources' configuration (an unknown option or kind) always raise."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        raise SourceError("no sources given")
    registry = plugins.loaders()
    chosen: list[LoaderBase] = []
    failures: list[SourceFailure] = []
    for spec in source_specs([s if isinstance(s, SourceSpec) else os.fspath(s) for s in sources]):
        try:
            chosen.extend(_loaders_of(spec, registry))
        except SourceError as exc:
            if not tolerate:
                raise
            failures.append(SourceFailure(source=spec.name, reason=str(exc)))
    seen: dict[str, str] = {}
    for loader in chosen:
        if not _storable(loader.table):
            raise ConfigError(f"{loader.source}: table name {loader.table!r} cannot be a file name in the "
                              "workspace: it holds '/', '\\' or NUL")
        if loader.table in seen:
            raise SourceError(
                f"{loader.source} and {seen[loader.table]} would both become table {loader.table!r}"
            )
        seen[loader.table] = loader.source
    return chosen, failures


def _storable(table: str) -> bool:
    """Whether a table name can be the name of its files (`staged/<table>.parquet`): a name
    with a path separator would put them elsewhere, outside the workspace even."""
    return bool(table) and not any(c in table for c in "/\\\0")


def _loaders_of(spec: SourceSpec, registry: dict[str, type[LoaderBase]]) -> list[LoaderBase]:
    loaders = []
    for source in _expand(spec.source, registry):
        loader_cls = (registry[spec.kind] if spec.kind is not None
                      else next((cls for cls in registry.values() if cls.handles(source)), None))
        if loader_cls is None:
            if is_uri(source):
                schemes = sorted({f"{s}://" for cls in registry.values() for s in cls.schemes})
                raise SourceError(f"{source}: no loader for this kind of URI (known: {', '.join(schemes)})")
            known = sorted({e for cls in registry.values() for e in cls.extensions})
            raise SourceError(f"{source}: no loader for this kind of file (known: {', '.join(known)})")
        loaders.extend(loader_cls.expand(spec, source))
    for loader in loaders:
        loader.source_name = spec.name
    return loaders


def selected(wanted: str | list[str] | None, found: list[str], source: str, what: str) -> list[str]:
    """The names an option asks for (one or a list), each checked against those found; all
    found when the option is not set."""
    if wanted is None:
        return found
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise SourceError(f"{source}: no {what} {missing[0]!r} ({what}s: {', '.join(found) or 'none'})")
    return wanted


def table_loaders(cls: type[LoaderBase], spec: SourceSpec, source: str, found: list[str]) -> list[LoaderBase]:
    """Loaders for the tables a database holds, or for those its `tables` option names."""
    found = selected(spec.options.get("tables"), found, source, "table")
    if not found:
        raise SourceError(f"{source}: the database has no tables")
    return [cls(source, table=t, options=spec.options, credentials=spec.credentials) for t in found]


def _expand(source: str, registry: dict[str, type[LoaderBase]]) -> list[str]:
    """A path, glob or directory as the files it names; a URI as itself."""
    if is_uri(source):
        return [source]

    def readable(path: str) -> bool:
        return any(cls.handles(path) for cls in registry.values())

    if glob.has_magic(source):
        matches = sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
        if not matches:
            raise SourceError(f"{source}: no files match this pattern")
        return [os.path.abspath(p) for p in matches]
    if os.path.isdir(source):
        if any(cls.handles(source) for cls in registry.values()):  # a directory of Parquet parts
            return [os.path.abspath(source)]
        files = sorted(
            path for f in os.listdir(source) if not f.startswith(".")
            and os.path.isfile(path := os.path.join(source, f)) and readable(path)
        )
        if not files:
            raise SourceError(f"{source}: directory has no data files")
        return [os.path.abspath(p) for p in files]
    if os.path.isfile(source):
        return [os.path.abspath(source)]
    raise SourceError(f"{source}: no such file or directory")

