"""PostgreSQL through psycopg: the tables of one schema, typed at the source (STRONG), with the
primary and foreign keys of the catalog, streamed through a server-side cursor in batches so a
large table never sits whole in memory.

    postgresql://user@host:5432/db?schema=public&tables=orders,customers

The password comes from the environment: libpq's own `PGPASSWORD` / `.pgpass`, or a
sources.yaml's `credentials` (`password: ${ENV_VAR}`); a password in the URI is refused. Error
messages are scrubbed of it. Types without an exact Arrow counterpart (uuid, json, intervals,
arrays, enums, ...) are staged as their text; NUMERIC without a declared precision as DOUBLE,
with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa

from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.arrow import ArrowLoader
from dataraum_context.loaders.base import LoaderBase, _first_line, table_loaders
from dataraum_context.loaders.sources import Secrets, SourceSpec
from dataraum_context.models import Relationship, StagedColumn, TypeSystemStrength

BATCH_ROWS = 50_000
_OWN_PARAMS = ("schema", "tables")  # read here, not by libpq
_NATIVE = {
    "int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64(), "oid": pa.int64(),
    "float4": pa.float32(), "float8": pa.float64(), "bool": pa.bool_(),
    "date": pa.date32(), "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"),
    "text": pa.string(), "varchar": pa.string(), "bpchar": pa.string(), "name": pa.string(),
    "bytea": pa.binary(),
}
_COLUMNS = """
SELECT a.attname, t.typname, a.atttypmod, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
_KEYS = """
SELECT c.contype, target.relname,
  ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
  ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint c JOIN pg_class src ON src.oid = c.conrelid
JOIN pg_namespace n ON n.oid = src.relnamespace
LEFT JOIN pg_class target ON target.oid = c.confrelid
LEFT JOIN pg_namespace tn ON tn.oid = target.relnamespace
WHERE n.nspname = %s AND src.relname = %s AND c.contype IN ('p', 'f')
  AND (c.contype = 'p' OR tn.nspname = n.nspname)
ORDER BY c.contype DESC, c.conname
"""


class PostgresLoader(ArrowLoader):
    name = "postgres"
    type_system = TypeSystemStrength.STRONG
    driver = "psycopg"
    extra = "postgres"
    schemes = ("postgresql", "postgres")
    option_names = ("schema", "tables", "batch_rows", "connect_timeout")
    always_restaged = True  # the catalog's statistics lag behind writes: no reliable sign of change

    def __init__(self, source: str, table: str | None = None, options: dict | None = None,
                 credentials: dict | None = None):
        parts = urlsplit(source)
        query = dict(parse_qsl(parts.query))
        own: dict[str, object] = {k: v for k, v in query.items() if k in _OWN_PARAMS}
        if "tables" in own:
            own["tables"] = [t for t in query["tables"].split(",") if t]
        super().__init__(source, table=table, options={**own, **(options or {})},
                         credentials=credentials)
        self.table = table or ""  # empty while listing the tables
        unknown = sorted(set(self.credentials) - {"password", "user"})
        if unknown:
            raise ConfigError(f"{source}: unknown credential {unknown[0]!r} (valid: password, user)")

    @classmethod
    def expand(cls, spec: SourceSpec, source: str) -> list[LoaderBase]:
        probe = cls(source, options=spec.options, credentials=spec.credentials)
        found = [r[0] for r in probe._query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
            [probe._schema_name])]
        spec = spec.model_copy(update={"options": probe.options})
        return table_loaders(cls, spec, source, found)

    @property
    def _schema_name(self) -> str:
        return str(self.options.get("schema", "public"))

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            import psycopg
        except ImportError:
            raise SourceError(f"{self.source}: reading PostgreSQL needs psycopg: "
                              "pip install 'dataraum-context[postgres]'") from None
        secrets = Secrets(self.credentials, self.source)
        parts = urlsplit(self.source)
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in _OWN_PARAMS])
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))
        try:
            con = psycopg.connect(conninfo, connect_timeout=int(self.options.get("connect_timeout", 10)),
                                  application_name="dataraum", **secrets.resolved)
        except psycopg.Error as exc:
            raise SourceError(secrets.scrub(f"{self.source}: cannot connect: {_message(exc)}")) from None
        try:
            con.read_only = True
            yield con
        except psycopg.Error as exc:
            where = f"table {self.table}: " if self.table else ""
            raise SourceError(secrets.scrub(f"{self.source}: {where}{_message(exc)}")) from None
        finally:
            con.close()

    def _query(self, sql: str, params: list) -> list[tuple]:
        with self._connection() as con:
            return con.execute(sql, params).fetchall()

    @cached_property
    def _catalog(self) -> tuple[list[tuple], list[tuple]]:
        """The table's columns (name, type, typmod, declared type) and keys."""
        with self._connection() as con:
            columns = con.execute(_COLUMNS, [self._schema_name, self.table]).fetchall()
            keys = con.execute(_KEYS, [self._schema_name, self.table]).fetchall()
        if not columns:
            raise SourceError(f"{self.source}: no table {self._schema_name}.{self.table}")
        return columns, keys

    @cached_property
    def _typed(self) -> list[tuple[str, pa.DataType, bool, str | None]]:
        """(column, Arrow type, read as text, note) per column."""
        out: list[tuple[str, pa.DataType, bool, str | None]] = []
        for name, typname, typmod, declared in self._catalog[0]:
            if typname == "numeric":
                precision, scale = (typmod - 4) >> 16 & 0xFFFF, (typmod - 4) & 0xFFFF
                if typmod >= 0 and 0 < precision <= 38 and scale <= precision:
                    out.append((name, pa.decimal128(precision, scale), False, None))
                else:
                    out.append((name, pa.float64(), False,
                                f"{declared} without a precision up to 38 staged as DOUBLE (about 15 digits)"))
            elif typname in _NATIVE:
                out.append((name, _NATIVE[typname], False, None))
            else:
                out.append((name, pa.string(), True, f"{declared} staged as its text"))
        return out

    def _arrow_schema(self) -> pa.Schema:
        return pa.schema([(name, dtype) for name, dtype, _text, _note in self._typed])

    def _warnings(self, columns: list[StagedColumn]) -> list[str]:
        return super()._warnings(columns) + [f"{self.table}.{name}: {note}"
                                             for name, _t, _text, note in self._typed if note]

    def _batches(self) -> Iterator[pa.RecordBatch]:
        from psycopg import sql

        schema = self._schema
        columns = [sql.SQL("{}::text").format(sql.Identifier(name)) if text else
                   sql.SQL("{}::float8").format(sql.Identifier(name)) if dtype == pa.float64() else
                   sql.Identifier(name) for name, dtype, text, _note in self._typed]
        query = sql.SQL("SELECT {} FROM {}.{}").format(
            sql.SQL(", ").join(columns), sql.Identifier(self._schema_name), sql.Identifier(self.table))
        rows_per_batch = int(self.options.get("batch_rows", BATCH_ROWS))
        with self._connection() as con, con.cursor(name="dataraum_stage") as cursor:
            cursor.itersize = rows_per_batch
            cursor.execute(query)
            while rows := cursor.fetchmany(rows_per_batch):
                yield pa.record_batch([pa.array(values, type=f.type)
                                       for values, f in zip(zip(*rows, strict=True), schema, strict=True)],
                                      schema=schema)

    def primary_key(self) -> tuple[str, ...]:
        return next((tuple(cols) for kind, _t, cols, _r in self._catalog[1] if kind == "p"), ())

    def relationships(self) -> list[Relationship]:
        return [Relationship(from_table=self.table, from_columns=tuple(cols), to_table=target,
                             to_columns=tuple(refs), source="declared",
                             evidence=(f"FOREIGN KEY declared in {self._schema_name} of {self.source}",))
                for kind, target, cols, refs in self._catalog[1] if kind == "f"]


def _message(exc: BaseException) -> str:
    """psycopg's message without its `connection failed:` prefix and libpq's double spaces."""
    return " ".join(_first_line(exc).removeprefix("connection failed: ").split())
