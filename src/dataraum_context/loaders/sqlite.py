"""SQLite databases through the standard library's `sqlite3`: one table per table, with the
primary and foreign keys the schema declares.

SQLite's types are WEAK: a column's declared type only gives it an affinity, and any value of
any storage class can sit in any column. A column is staged with a type only when its values
agree with its declaration: integers only -> BIGINT (BOOLEAN when declared so and all 0/1),
numbers only -> DOUBLE, blobs only -> BLOB. A column with text in it (TEXT affinity, dates
stored as text, or a numeric column with a stray 'n/a') is staged as VARCHAR, which is what
makes schema profiling and type resolution infer its type from the values and quarantine what
does not fit (`inference.infers`: only VARCHAR columns of non-STRONG sources are inferred).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from dataraum_context.errors import SourceError
from dataraum_context.loaders.arrow import ArrowLoader
from dataraum_context.loaders.base import LoaderBase, table_loaders
from dataraum_context.loaders.sources import SourceSpec, is_uri
from dataraum_context.models import Relationship, TypeSystemStrength
from dataraum_context.sql import quote_ident

BATCH_ROWS = 50_000
_MAGIC = b"SQLite format 3\x00"
_STORAGE = ("integer", "real", "text", "blob")


def database_path(source: str) -> str:
    """The file of `sqlite:///relative.db`, `sqlite:////absolute.db` (SQLAlchemy's convention)
    or of a plain path."""
    if not is_uri(source):
        return source
    path = unquote(urlsplit(source).path)
    return path[1:] if path.startswith("/") else path


def has_magic(path: str, magic: bytes, offset: int = 0) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(len(magic)) == magic
    except OSError:
        return False


class SQLiteLoader(ArrowLoader):
    name = "sqlite"
    type_system = TypeSystemStrength.WEAK
    extensions = (".sqlite", ".sqlite3", ".db3", ".db")
    schemes = ("sqlite",)
    option_names = ("tables",)

    @classmethod
    def handles(cls, source: str) -> bool:
        if not super().handles(source):
            return False
        # `.db` is also DuckDB's: look at the file
        return is_uri(source) or not source.lower().endswith(".db") or has_magic(source, _MAGIC)

    @classmethod
    def expand(cls, spec: SourceSpec, source: str) -> list[LoaderBase]:
        """One loader per table in the database (or per table in the `tables` option)."""
        with closing(_connect(source)) as con:
            found = [r[0] for r in _run(source, con, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        return table_loaders(cls, spec, source, found)

    def _files(self) -> list[str]:
        path = database_path(self.source)
        return [path] + [p for p in (f"{path}-wal",) if os.path.exists(p)]

    @cached_property
    def _catalog(self) -> tuple[list[tuple[str, str, int]], list[tuple]]:
        """(name, declared type, primary-key position) per column, and the foreign keys."""
        with closing(_connect(self.source)) as con:
            columns = [(r[1], r[2] or "", r[5]) for r in
                       _run(self.source, con, f"PRAGMA table_info({quote_ident(self.table)})")]
            keys = _run(self.source, con, f"PRAGMA foreign_key_list({quote_ident(self.table)})")
        if not columns:
            raise SourceError(f"{self.source}: no table {self.table!r}")
        return columns, keys

    @cached_property
    def _storage(self) -> dict[str, set[str]]:
        """The storage classes each column holds (one scan: SQLite does not enforce types)."""
        columns = [c[0] for c in self._catalog[0]]
        counts = ", ".join(f"sum(typeof({quote_ident(c)}) = '{kind}')" for c in columns for kind in _STORAGE)
        bools = ", ".join(f"sum({quote_ident(c)} NOT IN (0, 1))" for c in columns)
        with closing(_connect(self.source)) as con:
            row = _run(self.source, con, f"SELECT {counts}, {bools} FROM {quote_ident(self.table)}")[0]
        out = {}
        for i, c in enumerate(columns):
            out[c] = {kind for j, kind in enumerate(_STORAGE) if row[i * len(_STORAGE) + j]}
            if row[len(columns) * len(_STORAGE) + i]:
                out[c].add("not 0/1")
        return out

    def _arrow_schema(self) -> pa.Schema:
        return pa.schema([(name, _staged_type(declared, self._storage[name]))
                          for name, declared, _pk in self._catalog[0]])

    def primary_key(self) -> tuple[str, ...]:
        keyed = sorted((pk, name) for name, _declared, pk in self._catalog[0] if pk)
        return tuple(name for _pk, name in keyed)

    def relationships(self) -> list[Relationship]:
        by_id: dict[int, list[tuple]] = {}
        for key in self._catalog[1]:
            by_id.setdefault(key[0], []).append(key)
        out = []
        for parts in by_id.values():
            parts.sort(key=lambda k: k[1])
            target = parts[0][2]
            to_columns = tuple(p[4] for p in parts)
            if any(c is None for c in to_columns):  # REFERENCES t without columns: t's primary key
                to_columns = SQLiteLoader(self.source, table=target).primary_key()
            out.append(Relationship(from_table=self.table, from_columns=tuple(p[3] for p in parts),
                                    to_table=target, to_columns=to_columns, source="declared",
                                    evidence=(f"FOREIGN KEY declared in {self.source}",)))
        return out

    def _batches(self) -> Iterator[pa.RecordBatch]:
        schema = self._schema
        select = ", ".join(f"CAST({quote_ident(f.name)} AS TEXT)" if pa.types.is_string(f.type)
                           else quote_ident(f.name) for f in schema)
        with closing(_connect(self.source)) as con:
            cursor = _run(self.source, con, f"SELECT {select} FROM {quote_ident(self.table)}", fetch=False)
            while rows := _fetch(self.source, cursor):
                columns = list(zip(*rows, strict=True))
                yield pa.record_batch([_array(values, f.type) for values, f in zip(columns, schema, strict=True)],
                                      schema=schema)


def _staged_type(declared: str, storage: set[str]) -> pa.DataType:
    affinity = _affinity(declared)
    kinds = storage - {"not 0/1"}
    if not kinds:  # no values: the declaration is all there is
        return {"INTEGER": pa.int64(), "REAL": pa.float64()}.get(affinity, pa.string())
    if kinds == {"integer"}:
        boolean = "BOOL" in declared.upper() and "not 0/1" not in storage
        return pa.bool_() if boolean else pa.int64()
    if kinds <= {"integer", "real"}:
        return pa.float64()
    if kinds == {"blob"}:
        return pa.binary()
    return pa.string()


def _affinity(declared: str) -> str:
    """SQLite's rules (section 3.1 of its datatype documentation), in their order."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(s in t for s in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(s in t for s in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _array(values: tuple, dtype: pa.DataType) -> pa.Array:
    if pa.types.is_boolean(dtype):
        return pa.array([None if v is None else bool(v) for v in values], type=dtype)
    if pa.types.is_floating(dtype):
        return pa.array([None if v is None else float(v) for v in values], type=dtype)
    return pa.array(values, type=dtype)


def _fetch(source: str, cursor: sqlite3.Cursor) -> list[tuple]:
    try:
        return cursor.fetchmany(BATCH_ROWS)
    except sqlite3.Error as exc:
        raise SourceError(f"{source}: cannot be read as SQLite: {exc}") from None


def _connect(source: str) -> sqlite3.Connection:
    path = database_path(source)
    if not os.path.isfile(path):
        raise SourceError(f"{source}: no such file")
    try:
        # DuckDB pulls the batches from its own threads, one after another
        return sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise SourceError(f"{source}: cannot be opened as SQLite: {exc}") from None


def _run(source: str, con: sqlite3.Connection, sql: str, fetch: bool = True):
    try:
        cursor = con.execute(sql)
        return cursor.fetchall() if fetch else cursor
    except sqlite3.Error as exc:
        raise SourceError(f"{source}: cannot be read as SQLite: {exc}") from None
