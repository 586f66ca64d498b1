"""Topology: foreign keys discovered from the values, table roles and join paths.

Candidates are pruned before any value is read. A referenced side is a key: a column whose
values are unique and non-null (a few repeats tolerated, see `key_duplicate_tolerance`). A
referencing side is any column of a compatible type (integers, text/UUID) whose distinct count
and range can fit inside the key. Each pair gets an upper bound on its score from the names
(`dataraum_context.naming`) and from how unlikely an inclusion would be by chance (dense
integer keys such as 1..N contain any small integer column, so their inclusion proves nothing);
pairs that cannot reach `min_relationship_confidence` are never measured. For the rest, DuckDB
measures the inclusion of the referencing column's distinct values in the key over the typed
Parquet files, exactly up to `inclusion_exact_up_to` distinct values and on a hash sample of
`inclusion_sample_values` values above (with its 95% error bound). The score combines inclusion,
names and value evidence; the best key wins for each referencing column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
import duckdb
import pyarrow as pa

from dataraum_context import settings
from dataraum_context.joins import star_paths, table_roles
from dataraum_context.models import (
    ColumnStatistics,
    Relationship,
    StagingResult,
    StatisticsResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.naming import NONE, ColumnName, NameEvidence, column_name, column_prefix, name_evidence
from dataraum_context.sql import connect, quote_ident, quote_literal
from dataraum_context.step import step
from dataraum_context.workspace import Workspace

_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
            "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
_SAMPLE_BUCKETS = 1_000_000  # hash sampling keeps values whose hash % this falls under a threshold
_SURE = 4.0  # decimal orders of magnitude of chance at which value evidence counts as certain
_REPEATS_FROM_ROWS = 20  # below this many rows a key column must be strictly unique


@step(scope="source", phase="enrichment", criticality="optional")
def topology_enrichment(
    statistics_profiling: StatisticsResult,
    type_resolution: TypeResolutionResult,
    workspace: str,
    staging: StagingResult | None = None,
    min_relationship_confidence: float = settings.MIN_RELATIONSHIP_CONFIDENCE,
    min_inclusion: float = settings.MIN_INCLUSION,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
    inclusion_exact_up_to: int = settings.INCLUSION_EXACT_UP_TO,
    inclusion_sample_values: int = settings.INCLUSION_SAMPLE_VALUES,
) -> TopologyResult:
    """Foreign keys found in the values (plus those the sources declare), each with its
    evidence; table roles; join paths from the fact tables."""
    declared = staging.declared_relationships if staging else ()
    columns = _columns(statistics_profiling, type_resolution, key_duplicate_tolerance)
    keys = [c for c in columns if c.key]
    own = _own_keys(columns)
    taken = {(r.from_table, c) for r in declared for c in r.from_columns}
    refs = [c for c in columns if (c.table, c.column) not in taken]
    pairs, compatible = _candidate_pairs(refs, keys, own, min_inclusion, min_relationship_confidence)
    con = connect()
    try:
        measured = _measure(con, Workspace(workspace), type_resolution, pairs,
                            inclusion_exact_up_to, inclusion_sample_values)
        found = _resolve([p for p in measured
                          if p.inclusion >= min_inclusion and p.score >= min_relationship_confidence
                          and p.key_repeats <= _allowed_repeats(p.key.non_null, key_duplicate_tolerance)])
        _describe_orphans_and_repeats(con, found)
    finally:
        con.close()
    relationships = tuple(declared) + tuple(p.relationship() for p in found)
    table_columns = {name: tuple(t.columns) for name, t in type_resolution.tables.items()}
    keys_by_table = {t: cols for t, cols in own.items()}
    for r in declared:  # a declared key wins over a guessed one
        keys_by_table.setdefault(r.to_table, r.to_columns)
    roles = table_roles(relationships, table_columns, keys_by_table)
    return TopologyResult(
        relationships=relationships,
        tables=roles,
        join_paths=star_paths(relationships, roles),
        pairs_compatible=compatible,
        pairs_measured=len(pairs),
        key_duplicate_policy=(
            f"a referenced column may repeat up to {key_duplicate_tolerance:.0%} of its values "
            f"(from {_REPEATS_FROM_ROWS} rows up; smaller tables need strictly unique keys); the repeats are "
            "counted on the relationship (referenced_duplicates) because a join on them multiplies rows"),
    )


# --- columns and keys ----------------------------------------------------------------------


@dataclass(eq=False)
class _Col:
    id: int
    table: str
    column: str
    position: int
    family: str  # "int" | "text"
    stats: ColumnStatistics
    name: ColumnName
    key: bool  # unique (within tolerance) and non-null: can be referenced

    @property
    def non_null(self) -> int:
        return self.stats.count - self.stats.null_count

    @property
    def distinct(self) -> int:
        return self.stats.distinct_count

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"

    @property
    def density(self) -> float:
        """The chance that an arbitrary value of the referencing column's kind is a key value:
        the share of the integer range the key fills, and for text a modest constant (short
        codes collide more easily than long identifiers); UUIDs never collide."""
        s = self.stats
        if self.family == "int":
            if s.min is None or s.max is None:
                return 1.0
            return min(1.0, self.distinct / (float(s.max) - float(s.min) + 1))
        if s.data_type.upper() == "UUID":
            return 1e-9
        return 0.5 if (s.max_length or 0) <= 3 else 0.2


def _family(data_type: str) -> str | None:
    t = data_type.upper()
    if t in _INTEGER or (t.startswith("DECIMAL") and t.replace(" ", "").endswith(",0)")):
        return "int"
    if t in ("VARCHAR", "UUID"):
        return "text"
    return None


def _allowed_repeats(non_null: int, tolerance: float) -> int:
    return 0 if non_null < _REPEATS_FROM_ROWS else max(1, int(tolerance * non_null))


def _columns(stats: StatisticsResult, types: TypeResolutionResult, tolerance: float) -> list[_Col]:
    out: list[_Col] = []
    for table_name, table in stats.tables.items():
        if table_name not in types.tables:
            continue
        prefix = column_prefix(list(table.columns))
        for position, (col_name, s) in enumerate(table.columns.items()):
            family = _family(s.data_type)
            non_null = s.count - s.null_count
            if family is None or non_null == 0:
                continue
            repeats = non_null - s.distinct_count
            # an approximate distinct count is checked exactly when the key's values are read
            slack = int(0.05 * non_null) if s.distinct_approximate else 0
            key = (non_null >= 2 and s.distinct_count >= 2
                   and s.null_count <= _allowed_repeats(s.count, tolerance)
                   and repeats <= _allowed_repeats(non_null, tolerance) + slack)
            out.append(_Col(len(out), table_name, col_name, position, family, s,
                            column_name(table_name, col_name, prefix), key))
    return out


def _own_keys(columns: list[_Col]) -> dict[str, tuple[str, ...]]:
    """Each table's own key: a key column named for its table (`id`, `customer_id` in
    customers), else its first column when that is a key with a key-like name."""
    own: dict[str, tuple[str, ...]] = {}
    for c in sorted(columns, key=lambda c: (c.table, not c.name.names_own_table, c.position)):
        if c.table in own or not c.key:
            continue
        if c.name.names_own_table or (c.position == 0 and c.name.key_suffix):
            own[c.table] = (c.column,)
    return own


# --- candidate pairs -----------------------------------------------------------------------


def _noisy_or(*evidence: float) -> float:
    return 1 - math.prod(1 - e for e in evidence)


def _value_evidence(density: float, values: float, inclusion: float) -> float:
    """How unlikely it is that `values` distinct values, each a key value with probability
    `density`, show this inclusion by chance (Chernoff bound), scaled so that odds of
    1 : 10**_SURE count as certain."""
    if values < 3 or inclusion <= density:  # two values prove nothing (0/1, yes/no)
        return 0.0
    i, p = min(inclusion, 1.0), max(density, 1e-300)
    kl = i * math.log(i / p) + ((1 - i) * math.log((1 - i) / (1 - p)) if i < 1 else 0.0)
    return min(1.0, values * kl / math.log(10) / _SURE)


@dataclass(eq=False)
class _Pair:
    ref: _Col
    key: _Col
    names: NameEvidence
    key_is_own: bool
    # measured
    inclusion: float = 0.0
    inclusion_error: float = 0.0
    included: float = 0.0  # distinct referencing values found (estimated when sampled)
    ref_distinct: int = 0  # exact distinct referencing values
    key_distinct: int = 0  # exact distinct key values
    orphan_values: float = 0.0
    orphan_rows: float = 0.0
    sampled_values: int = 0
    orphan_examples: tuple[str, ...] = ()
    duplicate_examples: tuple[str, ...] = ()

    @property
    def value_evidence(self) -> float:
        return _value_evidence(self.key.density, self.ref_distinct, self.inclusion)

    @property
    def score(self) -> float:
        return self.inclusion * _noisy_or(self.names.score, self.value_evidence)

    @property
    def coverage(self) -> float:
        return min(1.0, self.included / self.key_distinct) if self.key_distinct else 0.0

    @property
    def key_repeats(self) -> int:
        return max(0, self.key.non_null - self.key_distinct)

    def rank(self) -> tuple:
        return (round(self.score, 3), self.names.score, self.key_is_own, self.coverage,
                -self.key_distinct, self.key.table, self.key.column)

    def relationship(self) -> Relationship:
        one_to_one = self.ref_distinct == self.ref.non_null and not self.ref.stats.distinct_approximate
        return Relationship(
            from_table=self.ref.table, from_columns=(self.ref.column,),
            to_table=self.key.table, to_columns=(self.key.column,),
            source="discovered",
            cardinality="one_to_one" if one_to_one else "many_to_one",
            confidence=round(self.score, 4),
            evidence=tuple(self._evidence()),
            inclusion=round(self.inclusion, 6),
            inclusion_error=round(self.inclusion_error, 6),
            coverage=round(self.coverage, 6),
            null_ratio=self.ref.stats.null_ratio,
            orphan_values=round(self.orphan_values),
            orphan_rows=round(self.orphan_rows),
            orphan_examples=self.orphan_examples,
            referenced_duplicates=self.key_repeats,
        )

    def _evidence(self) -> list[str]:
        key = self.key.label
        out = [self.names.reason] if self.names.score else []
        if self.inclusion_error:
            out.append(f"{self.inclusion:.1%} ± {self.inclusion_error:.1%} (95%) of {self.ref.label}'s "
                       f"distinct values are in {key} (hash sample of {self.sampled_values:,} of "
                       f"{self.ref_distinct:,} values)")
        else:
            out.append(f"{round(self.included):,} of {self.ref_distinct:,} distinct values "
                       f"({self.inclusion:.1%}) are in {key}")
        v = self.value_evidence
        if v >= 0.5:
            out.append(f"values unlikely to fall inside {key} by chance (key fills "
                       f"{self.key.density:.1%} of its value space)")
        elif self.key.family == "int" and self.key.density > 0.5:
            out.append(f"{key} is dense ({self.key.stats.min}..{self.key.stats.max}): "
                       "inclusion alone proves little, the name decides")
        if self.orphan_values >= 0.5:
            examples = f" (e.g. {', '.join(self.orphan_examples)})" if self.orphan_examples else ""
            out.append(f"{round(self.orphan_values):,} orphan value(s){examples} in "
                       f"{round(self.orphan_rows):,} row(s) of {self.ref.table}")
        out.append(f"references {self.coverage:.0%} of {key}'s values")
        if self.key_repeats:
            examples = f" (e.g. {', '.join(self.duplicate_examples)})" if self.duplicate_examples else ""
            out.append(f"{key} repeats {self.key_repeats:,} value(s){examples}: treated as the key, "
                       "but a join on it duplicates those rows")
        return out


def _fits(ref: _Col, key: _Col, min_inclusion: float) -> bool:
    """Whether enough of `ref`'s distinct values can lie inside `key` (sound: never drops a
    pair that could reach `min_inclusion`)."""
    need = min_inclusion * ref.distinct * (0.9 if ref.stats.distinct_approximate else 1.0)
    room = key.distinct * (1.1 if key.stats.distinct_approximate else 1.0)
    lo_r, hi_r, lo_k, hi_k = ref.stats.min, ref.stats.max, key.stats.min, key.stats.max
    if None not in (lo_r, hi_r, lo_k, hi_k):
        if ref.family == "int":
            overlap = min(float(hi_r), float(hi_k)) - max(float(lo_r), float(lo_k)) + 1
            room = min(room, max(0.0, overlap))
        elif hi_r < lo_k or hi_k < lo_r:
            return False
    return room >= need


def _candidate_pairs(refs: list[_Col], keys: list[_Col], own: dict[str, tuple[str, ...]],
                     min_inclusion: float, min_confidence: float) -> tuple[list[_Pair], int]:
    """The pairs worth measuring: type-compatible, able to fit, and able to reach
    `min_confidence` if every value were found."""
    pairs: list[_Pair] = []
    compatible = 0
    for key in keys:
        key_is_own = own.get(key.table) == (key.column,)
        for ref in refs:
            if ref.family != key.family or ref is key:
                continue
            compatible += 1
            if not _fits(ref, key, min_inclusion):
                continue
            best_values = _value_evidence(key.density, ref.distinct, 1.0)
            names = name_evidence(ref.name, key.name, key_is_own)
            if own.get(ref.table) == (ref.column,) and names.score < 1:
                names = NONE  # a table's own key references another only under the same name
            if _noisy_or(names.score, best_values) < min_confidence:
                continue
            pairs.append(_Pair(ref, key, names, key_is_own))
    return pairs, compatible


# --- measuring inclusion in DuckDB ---------------------------------------------------------


def _cast(col: _Col) -> str:
    x = quote_ident(col.column)
    return f"TRY_CAST({x} AS HUGEINT)" if col.family == "int" else f"CAST({x} AS VARCHAR)"


def _by_table(cols: Iterable[_Col]) -> dict[str, list[_Col]]:
    out: dict[str, list[_Col]] = {}
    for c in cols:
        out.setdefault(c.table, []).append(c)
    return out


def _measure(con: duckdb.DuckDBPyConnection, ws: Workspace, types: TypeResolutionResult,
             pairs: list[_Pair], exact_up_to: int, sample_values: int) -> list[_Pair]:
    """Inclusion, coverage and orphans of every pair, in three statements per value family:
    the keys' distinct values, the referencing columns' distinct values (hash-sampled above
    `exact_up_to`) with their row counts, and one join over the pairs."""
    if not pairs:
        return []
    for name, table in types.tables.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident('t_' + name)} AS SELECT * FROM "
                    f"read_parquet({quote_literal(str(ws.path(table.path)))})")
    for family, vtype in (("int", "HUGEINT"), ("text", "VARCHAR")):
        fam = [p for p in pairs if p.key.family == family]
        con.execute(f"CREATE OR REPLACE TEMP TABLE kv_{family} (k INTEGER, v {vtype})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE fv_{family} (c INTEGER, v {vtype}, n BIGINT)")
        if not fam:
            continue
        for table, cols in _by_table({p.key.id: p.key for p in fam}.values()).items():
            ids = ", ".join(str(c.id) for c in cols)
            values = ", ".join(_cast(c) for c in cols)
            con.execute(f"INSERT INTO kv_{family} SELECT DISTINCT k, v FROM (SELECT UNNEST([{ids}]) AS k, "
                        f"UNNEST([{values}]) AS v FROM {quote_ident('t_' + table)}) WHERE v IS NOT NULL")
        for table, cols in _by_table({p.ref.id: p.ref for p in fam}.values()).items():
            ids = ", ".join(str(c.id) for c in cols)
            values = ", ".join(_cast(c) for c in cols)
            limits = ", ".join(str(_sample_limit(c, exact_up_to, sample_values)) for c in cols)
            con.execute(f"INSERT INTO fv_{family} SELECT c, v, count(*) FROM (SELECT UNNEST([{ids}]) AS c, "
                        f"UNNEST([{values}]) AS v, UNNEST([{limits}]) AS lim FROM {quote_ident('t_' + table)}) "
                        f"WHERE v IS NOT NULL AND hash(v) % {_SAMPLE_BUCKETS} < lim GROUP BY c, v")
    by_id = {c.id: c for p in pairs for c in (p.ref, p.key)}
    exact_distinct: dict[int, int] = {}
    for family in ("int", "text"):
        exact_distinct |= dict(con.execute(f"SELECT k, count(*) FROM kv_{family} GROUP BY k").fetchall())
        exact_distinct |= dict(con.execute(f"SELECT c, count(*) FROM fv_{family} GROUP BY c").fetchall())
    index = {(p.ref.id, p.key.id): p for p in pairs}
    for family in ("int", "text"):
        fam = [p for p in pairs if p.key.family == family]
        if not fam:
            continue
        con.register("_pairs", pa.table({"c": [p.ref.id for p in fam], "k": [p.key.id for p in fam]}))
        rows = con.execute(
            f"SELECT p.c, p.k, count(*), count(kv.v), sum(f.n) FILTER (WHERE kv.v IS NULL) "
            f"FROM _pairs p JOIN fv_{family} f ON f.c = p.c "
            f"LEFT JOIN kv_{family} kv ON kv.k = p.k AND kv.v = f.v GROUP BY p.c, p.k").fetchall()
        con.unregister("_pairs")
        for c, k, seen, hit, orphan_rows in rows:
            p = index[(c, k)]
            _fill(p, by_id[c], seen, hit, orphan_rows or 0, exact_distinct.get(k, 0), exact_up_to)
    return [p for p in pairs if p.ref_distinct]


def _sample_limit(col: _Col, exact_up_to: int, sample_values: int) -> int:
    if col.distinct <= exact_up_to:
        return _SAMPLE_BUCKETS
    return max(1, math.ceil(_SAMPLE_BUCKETS * sample_values / col.distinct))


def _fill(p: _Pair, ref: _Col, seen: int, hit: int, orphan_rows: int, key_distinct: int,
          exact_up_to: int) -> None:
    p.key_distinct = key_distinct
    p.inclusion = hit / seen
    sampled = ref.distinct > exact_up_to
    if sampled:  # Hoeffding: the share of a uniform sample is within this of the truth, 95%
        p.ref_distinct = ref.distinct
        p.inclusion_error = math.sqrt(math.log(2 / 0.05) / (2 * seen))
        p.sampled_values = seen
        p.included = p.inclusion * ref.distinct
        p.orphan_values = ref.distinct - p.included
        p.orphan_rows = orphan_rows * ref.distinct / seen
    else:
        p.ref_distinct = seen
        p.included = hit
        p.orphan_values = seen - hit
        p.orphan_rows = orphan_rows


# --- choosing ------------------------------------------------------------------------------


def _resolve(accepted: list[_Pair]) -> list[_Pair]:
    """One parent per referencing column (the best-ranked key); of two unique columns that
    each contain the other, only the direction towards the table's own key is kept."""
    best: dict[int, _Pair] = {}
    for p in accepted:
        if p.ref.id not in best or p.rank() > best[p.ref.id].rank():
            best[p.ref.id] = p
    chosen = list(best.values())
    by_columns = {(p.ref.id, p.key.id): p for p in chosen}
    out = []
    for p in chosen:
        back = by_columns.get((p.key.id, p.ref.id))
        if back is not None and (back.key_is_own, back.rank()) > (p.key_is_own, p.rank()):
            continue
        out.append(p)
    return sorted(out, key=lambda p: (p.ref.table, p.ref.position))


def _describe_orphans_and_repeats(con: duckdb.DuckDBPyConnection, found: list[_Pair]) -> None:
    """A few orphan values and repeated key values, for the evidence."""
    for family in ("int", "text"):
        fam = [p for p in found if p.key.family == family and p.orphan_values >= 0.5]
        if fam:
            con.register("_pairs", pa.table({"c": [p.ref.id for p in fam], "k": [p.key.id for p in fam]}))
            rows = con.execute(
                f"SELECT p.c, p.k, CAST(f.v AS VARCHAR) FROM _pairs p JOIN fv_{family} f ON f.c = p.c "
                f"ANTI JOIN kv_{family} kv ON kv.k = p.k AND kv.v = f.v "
                f"QUALIFY row_number() OVER (PARTITION BY p.c, p.k ORDER BY f.n DESC, f.v) <= 3 "
                f"ORDER BY p.c, p.k, f.n DESC, f.v").fetchall()
            con.unregister("_pairs")
            examples: dict[tuple[int, int], list[str]] = {}
            for c, k, v in rows:
                examples.setdefault((c, k), []).append(v)
            for p in fam:
                p.orphan_examples = tuple(examples.get((p.ref.id, p.key.id), ()))
    repeated = {p.key.id: p.key for p in found if p.key_repeats}
    for key in repeated.values():
        x = quote_ident(key.column)
        values = [str(v) for (v,) in con.execute(
            f"SELECT {x} FROM {quote_ident('t_' + key.table)} WHERE {x} IS NOT NULL GROUP BY {x} "
            f"HAVING count(*) > 1 ORDER BY count(*) DESC, {x} LIMIT 3").fetchall()]
        for p in found:
            if p.key is key:
                p.duplicate_examples = tuple(values)
