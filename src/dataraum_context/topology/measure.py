"""Inclusion measured in DuckDB over the typed Parquet files, with orphans and repeated keys.

Each value family (integers, text, column tuples as lists of their values' text) is measured in
three statements: the keys' distinct values, the referencing sides' distinct values with their
row counts, and one join over all pairs. Every count is exact at any size, because the
decisions rest on them: whether a key is unique, whether a column's values lie in a key, and
whether a reference is one-to-one. DuckDB's hash aggregates and joins count the distinct values
of a 10M-row table in seconds; no estimate (sample, sketch) could promise that a value missing
from it is not an orphan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import duckdb
import pyarrow as pa

from dataraum_context import sql
from dataraum_context.models import TypeResolutionResult
from dataraum_context.sql import quote_ident
from dataraum_context.topology.columns import family, may_be_unique
from dataraum_context.topology.evidence import (
    density,
    key_repeats,
    score,
    value_evidence,
)
from dataraum_context.topology.models import (
    Candidate,
    ColumnTuple,
    MeasuredPair,
    RelationshipCandidates,
    Side,
)
from dataraum_context.workspace import Workspace

_VALUE_TYPES = {"int": "HUGEINT", "text": "VARCHAR", "tuple": "VARCHAR[]"}  # how each family is compared


def open_tables(con: duckdb.DuckDBPyConnection, ws: Workspace, types: TypeResolutionResult) -> None:
    """The typed tables as views (`sql.open_tables`)."""
    sql.open_tables(con, {name: ws.path(table.path) for name, table in types.tables.items()})


def profiled_sides(con: duckdb.DuckDBPyConnection, c: RelationshipCandidates, tolerance: float,
                   min_inclusion: float) -> tuple[tuple[Side, ...], list[Candidate]]:
    """The candidates' sides with the column tuples to be measured profiled, and the composite
    candidates whose key pair may be unique (a few repeats tolerated) and can hold
    `min_inclusion` of the referencing pairs' distinct combinations. The composite keys are
    profiled first; then the referencing pairs of the unique ones and the declared tuples."""
    sides = list(c.sides)
    keys = _tuple_ids(sides, (p.key for p in c.composites))
    _profile_tuples(con, sides, keys)
    unique = [p for p in c.composites if may_be_unique(sides[p.key], tolerance)]
    declared = [p for p in c.declared if p is not None]
    rest = _tuple_ids(sides, (i for p in unique + declared for i in (p.ref, p.key) if i not in keys))
    _profile_tuples(con, sides, rest)
    # a fact's (date, item) of 157,120 combinations cannot lie in another fact's 39,823
    fits = [p for p in unique if min_inclusion * sides[p.ref].distinct <= sides[p.key].distinct]
    return tuple(sides), fits


def _profile_tuples(con: duckdb.DuckDBPyConnection, sides: list[Side], ids: Iterable[int]) -> None:
    """Count the rows with every column set and the distinct combinations of these tuples
    (exactly: a key tuple's uniqueness is a decision), one query per table."""
    for table, group in _by_table(sides[i] for i in ids).items():
        values = ", ".join(f"{_combination(t)} AS v{i}" for i, t in enumerate(group))
        counts = ", ".join(f"count(v{i}), count(DISTINCT v{i})" for i in range(len(group)))
        row = con.execute(f"SELECT {counts} FROM (SELECT {values} FROM {_view(con, table)})").fetchone()
        assert row is not None  # an aggregate returns one row
        for i, t in enumerate(group):
            sides[t.id] = t.model_copy(update={"non_null": row[2 * i], "distinct": row[2 * i + 1]})


def _tuple_ids(sides: Sequence[Side], ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(i for i in ids if isinstance(sides[i], ColumnTuple)))


def measure(con: duckdb.DuckDBPyConnection, pairs: Sequence[Candidate], sides: Sequence[Side], min_inclusion: float,
            keep: Collection[tuple[int, int]]) -> list[MeasuredPair]:
    """The pairs measured: inclusion, coverage, orphans and score. Kept are those whose
    referencing side holds values and that reach `min_inclusion` or are in `keep` (by ref and
    key): no other can become a relationship, and a wide schema has tens of thousands."""
    pairs = list({(p.ref, p.key): p for p in pairs}.values())
    key_distinct = _read_values(con, pairs, sides)
    index = {(p.ref, p.key): p for p in pairs}
    out = []
    for kind in _VALUE_TYPES:
        fam = [p for p in pairs if sides[p.key].family == kind]
        if not fam:
            continue
        con.register("_pairs", pa.table({"c": [p.ref for p in fam], "k": [p.key for p in fam]}))
        rows = con.execute(
            f"SELECT p.c, p.k, count(*), count(kv.v), sum(f.n) FILTER (WHERE kv.v IS NULL) "
            f"FROM _pairs p JOIN fv_{kind} f ON f.c = p.c "
            f"LEFT JOIN kv_{kind} kv ON kv.k = p.k AND kv.v = f.v GROUP BY p.c, p.k").fetchall()
        con.unregister("_pairs")
        for c, k, seen, hit, orphan_rows in rows:
            if hit / seen >= min_inclusion or (c, k) in keep:
                out.append(_measured(index[(c, k)], sides, seen, hit, orphan_rows or 0, key_distinct.get(k, 0)))
    return out


def _read_values(con: duckdb.DuckDBPyConnection, pairs: Sequence[Candidate], sides: Sequence[Side]) -> dict[int, int]:
    """Per value family, the keys' distinct values (`kv_<family>`) and the referencing sides'
    distinct values with their row counts (`fv_<family>`); the keys' distinct counts by id."""
    for kind, vtype in _VALUE_TYPES.items():
        fam = [p for p in pairs if sides[p.key].family == kind]
        con.execute(f"CREATE OR REPLACE TEMP TABLE kv_{kind} (k INTEGER, v {vtype})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE fv_{kind} (c INTEGER, v {vtype}, n BIGINT)")
        for table, group in _by_table(sides[i] for i in dict.fromkeys(p.key for p in fam)).items():
            ids = ", ".join(str(s.id) for s in group)
            values = ", ".join(_expr(s) for s in group)
            con.execute(f"INSERT INTO kv_{kind} SELECT DISTINCT k, v FROM (SELECT UNNEST([{ids}]) AS k, "
                        f"UNNEST([{values}]) AS v FROM {_view(con, table)}) WHERE v IS NOT NULL")
        for table, group in _by_table(sides[i] for i in dict.fromkeys(p.ref for p in fam)).items():
            ids = ", ".join(str(s.id) for s in group)
            values = ", ".join(_expr(s) for s in group)
            con.execute(f"INSERT INTO fv_{kind} SELECT c, v, count(*) FROM (SELECT UNNEST([{ids}]) AS c, "
                        f"UNNEST([{values}]) AS v FROM {_view(con, table)}) WHERE v IS NOT NULL GROUP BY c, v")
    key_distinct: dict[int, int] = {}
    for kind in _VALUE_TYPES:
        key_distinct |= dict(con.execute(f"SELECT k, count(*) FROM kv_{kind} GROUP BY k").fetchall())
    return key_distinct


def with_examples(con: duckdb.DuckDBPyConnection, pairs: Sequence[MeasuredPair],
                  sides: Sequence[Side]) -> list[MeasuredPair]:
    """The pairs with a few of their orphan values and of their key's repeated values (read
    from the tables `measure` left)."""
    orphans: dict[tuple[int, int], list[str]] = {}
    for kind in _VALUE_TYPES:
        fam = [p for p in pairs if sides[p.key].family == kind and p.orphan_values]
        if fam:
            con.register("_pairs", pa.table({"c": [p.ref for p in fam], "k": [p.key for p in fam]}))
            rows = con.execute(
                f"SELECT p.c, p.k, {_shown(kind, 'f.v')} FROM _pairs p JOIN fv_{kind} f ON f.c = p.c "
                f"ANTI JOIN kv_{kind} kv ON kv.k = p.k AND kv.v = f.v "
                f"QUALIFY row_number() OVER (PARTITION BY p.c, p.k ORDER BY f.n DESC, f.v) <= 3 "
                f"ORDER BY p.c, p.k, f.n DESC, f.v").fetchall()
            con.unregister("_pairs")
            for c, k, v in rows:
                orphans.setdefault((c, k), []).append(v)
    repeating = dict.fromkeys(p.key for p in pairs if key_repeats(p, sides[p.key]))
    repeated = {key: _repeated_values(con, sides[key]) for key in repeating}
    return [p.model_copy(update={"orphan_examples": tuple(orphans.get((p.ref, p.key), ())),
                                 "duplicate_examples": repeated.get(p.key, ())}) for p in pairs]


def _repeated_values(con: duckdb.DuckDBPyConnection, key: Side) -> tuple[str, ...]:
    """The three most repeated values of a key."""
    cols = ", ".join(quote_ident(c) for c in key.columns)
    present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in key.columns)
    rows = con.execute(f"SELECT {cols} FROM {_view(con, key.table)} WHERE {present} GROUP BY {cols} "
                       f"HAVING count(*) > 1 ORDER BY count(*) DESC, {cols} LIMIT 3").fetchall()
    return tuple(str(v[0]) if len(v) == 1 else f"({', '.join(map(str, v))})" for v in rows)


def _measured(p: Candidate, sides: Sequence[Side], seen: int, hit: int, orphan_rows: int,
              key_distinct: int) -> MeasuredPair:
    """The pair with its measurements: `seen` distinct referencing values, `hit` of them in the
    key, `orphan_rows` rows holding the others."""
    ref, key = sides[p.ref], sides[p.key]
    inclusion = hit / seen
    values = value_evidence(density(key, ref, (seen, key_distinct)), seen, inclusion)
    return MeasuredPair(
        **vars(p), inclusion=inclusion, included=hit, ref_distinct=seen, key_distinct=key_distinct,
        orphan_values=seen - hit, orphan_rows=orphan_rows, value_evidence=values,
        score=score(p.names.score, values, inclusion, key))


def _by_table(sides: Iterable[Side]) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in sides:
        out.setdefault(s.table, []).append(s)
    return out


def _view(con: duckdb.DuckDBPyConnection, table: str) -> str:
    return sql.typed_table(con, table)  # qualified: the temporary kv_/fv_ tables must not hide a table


def _value(column: str, kind: str | None) -> str:
    x = quote_ident(column)
    return f"TRY_CAST({x} AS HUGEINT)" if kind == "int" else f"CAST({x} AS VARCHAR)"


def _expr(side: Side) -> str:
    """SQL for a side's values: a tuple's is the list of its columns' text, NULL when one is null."""
    if not isinstance(side, ColumnTuple):
        return _value(side.column, side.family)
    values = ", ".join(f"CAST({_value(c, family(s.data_type))} AS VARCHAR)"
                       for c, s in zip(side.columns, side.parts, strict=True))
    return f"CASE WHEN {_any_null(side)} THEN NULL ELSE [{values}] END"


def _combination(t: ColumnTuple) -> str:
    """SQL for a tuple's values as they are stored, NULL when one is null: they count the same
    combinations as `_expr`'s text, in less than half the time."""
    return f"CASE WHEN {_any_null(t)} THEN NULL ELSE row({', '.join(quote_ident(c) for c in t.columns)}) END"


def _any_null(t: ColumnTuple) -> str:
    return " OR ".join(f"{quote_ident(c)} IS NULL" for c in t.columns)


def _shown(kind: str, value: str) -> str:
    """SQL that writes a value of the family as text: `(4711, 2)` for a tuple."""
    return f"'(' || array_to_string({value}, ', ') || ')'" if kind == "tuple" else f"CAST({value} AS VARCHAR)"
