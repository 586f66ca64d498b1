"""JSON files: an array of objects, one object, or newline-delimited objects (NDJSON), staged
VARCHAR-first; an array of other values (numbers, strings, arrays) is a table of one `value`
column. Any other document (a lone number or string, an empty array, objects without fields,
objects mixed with other values) is an error that says which it is.

Nested objects are flattened to dotted column names (`geo.city`); scalars are staged as their
text. Arrays are kept as lists (their JSON text), or, for the fields named in the `explode`
option, moved to a child table `<table>_<field>` with one row per element and a key back to the
parent: the parent's `key` column (default `id`), declared as a relationship.
"""

from __future__ import annotations

import gzip
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, cast

import duckdb

from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.base import LoaderBase, _first_line
from dataraum_context.loaders.sources import SourceSpec
from dataraum_context.models import Relationship, StagedColumn, TypeSystemStrength
from dataraum_context.sql import quote_ident, quote_literal

if TYPE_CHECKING:
    from duckdb.sqltypes import DuckDBPyType

_ELEMENT = "value"  # the column of an array of scalars (a document's, or an exploded field's)
_SCALARS = {'"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}


class JSONLoader(LoaderBase):
    name = "json"
    type_system = TypeSystemStrength.UNTYPED
    # annotated as the base class does, so that the API loader can list others
    extensions: ClassVar[tuple[str, ...]] = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")
    option_names: ClassVar[tuple[str, ...]] = ("explode", "key", "element")

    @classmethod
    def expand(cls, spec: SourceSpec, source: str) -> list[LoaderBase]:
        """The document's table, and one child table per exploded array."""
        parent = cast("JSONLoader", super().expand(spec, source)[0])
        children = [cls(source, table=f"{parent.table}_{field.replace('.', '_')}",
                        options={**spec.options, "element": field}, credentials=spec.credentials)
                    for field in parent._exploded if "element" not in spec.options]
        return [parent, *children]

    @cached_property
    def _exploded(self) -> list[str]:
        fields = self.options.get("explode") or []
        return [fields] if isinstance(fields, str) else list(fields)

    @property
    def _key(self) -> str:
        return str(self.options.get("key", "id"))

    def _read(self, columns: str = "") -> str:
        records = "false" if self._values else "true"
        return f"read_json({quote_literal(self._readable)}, format={self._format}, records={records}{columns})"

    @cached_property
    def _format(self) -> str:
        """'array' for a document that opens with `[`: DuckDB tells the format by the first byte,
        and read an array after a byte order mark as one value."""
        return "'array'" if self._first_character() == "[" else "'auto'"

    def _raw(self) -> str:
        """The records with every value read as its text. Left to itself DuckDB reads numbers as
        BIGINT or DOUBLE and prints them again: an integer too large for BIGINT lost its
        digits, and `5` became `5.0`. Objects stay structs (flattened later), arrays are read as
        their JSON, or as lists of text when exploded."""
        columns = ", ".join(f"{quote_literal(name)}: {quote_literal(_text_type(dtype, name, self._exploded))}"
                            for name, dtype in zip(*self._detected, strict=True))
        return self._read(f", columns={{{columns}}}")

    _detected: tuple[list[str], list[DuckDBPyType]]  # the columns and types DuckDB finds

    @property
    def _readable(self) -> str:
        """The JSON file DuckDB reads."""
        return self.source

    def _fields(self, con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, DuckDBPyType]]:
        """(dotted name, SQL, type) of every leaf of the records: nested objects flattened."""
        try:
            rel = con.sql(f"SELECT * FROM {self._read()}")
            names, types = rel.columns, rel.types
        except duckdb.BinderException as exc:
            if "expected records" not in str(exc) or self._values:
                raise SourceError(f"{self.source}: not valid JSON: {_first_line(exc)}") from None
            self._values = self._kind_of_values(con)
            return self._fields(con)
        except duckdb.Error as exc:
            raise SourceError(f"{self.source}: not valid JSON: {_first_line(exc)}") from None
        self._detected = (names, types)
        if self._values:
            return [(_ELEMENT, quote_ident(names[0]), types[0])]
        return [leaf for name, dtype in zip(names, types, strict=True)
                for leaf in _leaves(name, quote_ident(name), dtype)]

    _values: str | None = None  # what the `value` column holds when the document is not records

    def _kind_of_values(self, con: duckdb.DuckDBPyConnection) -> str:
        """What a document that DuckDB does not read as records holds, when it is a table of
        one `value` column: "values" (an array of numbers, strings, arrays) or "objects" (with
        so many different keys that DuckDB takes them for maps). Any other document raises:
        a lone value, an empty array, objects without fields, objects mixed with other values."""
        expected = "a JSON source is an array of objects, an object, or one object per line (NDJSON)"
        first = self._first_character()
        if first not in "[{":
            found = _SCALARS.get(first.lower(), "a number" if first in "-0123456789" else "no JSON value")
            raise SourceError(f"{self.source}: {expected}; found {found}")
        [(values, objects, empty)] = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE json_type(json) = 'OBJECT'), "
            "count(*) FILTER (WHERE json_type(json) = 'OBJECT' AND len(json_keys(json)) = 0) "
            f"FROM read_json_objects({quote_literal(self._readable)}, format='auto')").fetchall()
        if not values:
            raise SourceError(f"{self.source}: the array is empty: no records, so no columns")
        if empty == values:
            raise SourceError(f"{self.source}: the objects have no fields, so no columns")
        if objects not in (0, values):
            raise SourceError(f"{self.source}: {expected}; this one mixes objects with other values")
        return "objects" if objects else "values"

    def _warnings(self, columns: list[StagedColumn]) -> list[str]:
        warnings = super()._warnings(columns)
        if self._values == "objects":
            warnings.append(f"{self.source}: the objects have too many different keys to be columns: "
                            f"each is kept whole, as JSON, in column {_ELEMENT!r}")
        return warnings

    def _first_character(self) -> str:
        """The document's first character after white space (and a byte order mark)."""
        opener = gzip.open if self._readable.lower().endswith(".gz") else open
        with opener(self._readable, "rb") as f:
            while chunk := f.read(4096):
                chunk = chunk.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
                if chunk:
                    return chunk[:1].decode("latin-1")
        return ""

    def _relation_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        fields = self._fields(con)
        element = self.options.get("element")
        if element is None:
            kept = [f for f in fields if f[0] not in self._exploded]
            missing = sorted(set(self._exploded) - {f[0] for f in fields})
            if missing:
                raise SourceError(f"{self.source}: explode: no array field {missing[0]!r} "
                                  f"(fields: {', '.join(f[0] for f in fields)})")
            select = ", ".join(f"{_as_text(sql, dtype)} AS {quote_ident(name)}" for name, sql, dtype in kept)
            return f"(SELECT {select} FROM {self._raw()})"
        return self._child_sql(fields, str(element))

    def _child_sql(self, fields: list[tuple[str, str, DuckDBPyType]], element: str) -> str:
        by_name = {name: (sql, dtype) for name, sql, dtype in fields}
        if element not in by_name or by_name[element][1].id != "list":
            raise SourceError(f"{self.source}: explode: {element!r} is not an array field")
        if self._key not in by_name:
            raise ConfigError(f"{self.source}: explode needs a key column in each record: "
                              f"no field {self._key!r} (set the `key` option)")
        sql, dtype = by_name[element]
        [(_, item)] = _children(dtype)
        leaves = ([leaf for field, child in _children(item)
                   for leaf in _leaves(field, f"struct_extract(item, {quote_literal(field)})", child)]
                  if item.id == "struct" else [(_ELEMENT, "item", item)])
        key_sql, key_type = by_name[self._key]
        key = quote_ident(self._parent_key)
        select = ", ".join([key, *(f"{_as_text(s, t)} AS {quote_ident(n)}" for n, s, t in leaves)])
        return (f"(SELECT {select} FROM (SELECT {_as_text(key_sql, key_type)} AS {key}, "
                f"unnest({sql}) AS item FROM {self._raw()}))")

    @property
    def _parent_key(self) -> str:
        return f"parent_{self._key.replace('.', '_')}"

    @property
    def _parent_table(self) -> str:
        element = str(self.options["element"]).replace(".", "_")
        return self.table[: -len(element) - 1]

    def relationships(self) -> list[Relationship]:
        if "element" not in self.options:
            return []
        return [Relationship(from_table=self.table, from_columns=(self._parent_key,),
                             to_table=self._parent_table, to_columns=(self._key,), source="declared",
                             cardinality="many_to_one",
                             evidence=(f"array {self.options['element']!r} nested in the records of "
                                       f"{self.source}",))]


def _children(dtype: DuckDBPyType) -> list[tuple[str, DuckDBPyType]]:
    """The fields of a struct, or the element of a list (a DECIMAL's or ENUM's children are
    its width and its values, not types)."""
    return [(name, child) for name, child in dtype.children if not isinstance(child, int | list)]


def _leaves(name: str, sql: str, dtype: DuckDBPyType) -> list[tuple[str, str, DuckDBPyType]]:
    if dtype.id != "struct" or not _children(dtype):
        return [(name, sql, dtype)]
    return [leaf for field, child in _children(dtype)
            for leaf in _leaves(f"{name}.{field}", f"struct_extract({sql}, {quote_literal(field)})", child)]


def _text_type(dtype: DuckDBPyType, path: str, exploded: list[str]) -> str:
    """The type that reads a value of `dtype` (at dotted `path`) as text: objects as structs of
    text, an exploded array as a list of text, any other array (or map) as its JSON."""
    if dtype.id == "struct" and _children(dtype):
        fields = ", ".join(f"{quote_ident(field)} {_text_type(child, f'{path}.{field}', exploded)}"
                           for field, child in _children(dtype))
        return f"STRUCT({fields})"
    if dtype.id == "list" and path in exploded:
        return f"{_text_type(_children(dtype)[0][1], '', [])}[]"
    return "JSON" if dtype.id in ("list", "array", "map", "union", "json", "struct") else "VARCHAR"


def _as_text(sql: str, dtype: DuckDBPyType) -> str:
    """A value as staged: its text, and for an array (or a map) its JSON."""
    if dtype.id in ("list", "array", "map", "struct", "union", "json"):
        return f"to_json({sql})::VARCHAR"
    return f"{sql}::VARCHAR"

