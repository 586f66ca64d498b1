"""Topology: foreign keys discovered from the values, how they agree with the keys the sources
declare, table roles and join paths.

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

Composite keys of two columns. The referenced side is a column pair of one table, each column
named like a key (`order_id`, `line_no`, `country_code`), never null and not unique alone; the
referencing side a pair of another table's columns with the same names (after stripping table
prefixes), each of the key column's family and with values that can overlap it. Names are
matched through a lookup, so the work grows with the columns that share a name, not with the
pairs of columns. Uniqueness of a pair counts only as far as chance cannot explain it: n rows
drawn at random from d1 x d2 combinations are all distinct with the birthday probability (two
small unrelated columns of a small table often are), and the score is scaled by how unlikely
that is. Candidate key pairs are profiled in one aggregate query per table; the referencing
pairs are measured like single columns (as lists of their values' text), exact or sampled by
the same rule, and a referencing pair with a null in it references nothing.

Declared keys (database catalogs, JSON nesting) are measured as well, whether or not discovery
would have looked at them, and `key_agreement` says how they agree with discovery: declared
keys it confirmed, declared keys it did not find (with the reason: the values violate them, a
key that is not unique, names and values that do not single them out, ...), and keys it found
between the tables of a declaring source that the source does not declare. A declared key stays
in `relationships` with `source: "declared"` and its measurements; a discovered key from the
same referencing columns to another table appears in `key_agreement` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import duckdb
import pyarrow as pa

from dataraum_context import settings
from dataraum_context.joins import columns_label, star_paths, table_roles
from dataraum_context.models import (
    ColumnStatistics,
    KeyAgreement,
    Relationship,
    RelationshipRef,
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
_VALUE_TYPES = {"int": "HUGEINT", "text": "VARCHAR", "tuple": "VARCHAR[]"}  # how each family is compared


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
    """Foreign keys of one or two columns found in the values, each with its evidence; the keys
    the sources declare, measured and compared with them; table roles; join paths from the
    fact tables."""
    declared = staging.declared_relationships if staging else ()
    columns = _columns(statistics_profiling, type_resolution, key_duplicate_tolerance)
    keys = [c for c in columns if c.key]
    own = _own_keys(columns)
    pairs, compatible = _candidate_pairs(columns, keys, own, min_inclusion, min_relationship_confidence)
    tuples = _Tuples(statistics_profiling, first_id=len(columns))
    composites = _composite_pairs(columns, tuples, min_inclusion, min_relationship_confidence)
    checks = _declared_pairs(declared, columns, own, pairs + composites, tuples)
    con = connect()
    try:
        _views(con, Workspace(workspace), type_resolution)
        composite_keys = {p.key.id: p.key for p in composites}
        _profile_tuples(con, composite_keys.values(), inclusion_exact_up_to)
        unique = [p for p in composites if _may_be_unique(p.key, key_duplicate_tolerance)]
        declared_pairs = [p for p in checks if p is not None]
        _profile_tuples(con, {s.id: s for p in unique + declared_pairs for s in (p.ref, p.key)
                              if isinstance(s, _Tuple) and s.id not in composite_keys}.values(),
                        inclusion_exact_up_to)
        measured = _measure(con, _distinct_pairs(pairs + unique + declared_pairs),
                            inclusion_exact_up_to, inclusion_sample_values)
        found = _resolve([p for p in measured if p.candidate and p.inclusion >= min_inclusion
                          and p.score >= min_relationship_confidence
                          and p.key_repeats <= _allowed_repeats(p.key.non_null, key_duplicate_tolerance)])
        _describe_orphans_and_repeats(con, _distinct_pairs(found + [p for p in declared_pairs if p.ref_distinct]))
    finally:
        con.close()
    relationships, agreement = _against_declared(
        declared, checks, found, staging, min_inclusion, min_relationship_confidence, key_duplicate_tolerance)
    table_columns = {name: tuple(t.columns) for name, t in type_resolution.tables.items()}
    keys_by_table = dict(own)
    for r in declared:  # a declared key wins over a guessed one
        keys_by_table.setdefault(r.to_table, r.to_columns)
    for p in found:  # a table whose key has two columns
        if isinstance(p.key, _Tuple):
            keys_by_table.setdefault(p.key.table, p.key.columns)
    roles = table_roles(relationships, table_columns, keys_by_table)
    return TopologyResult(
        relationships=tuple(relationships),
        tables=roles,
        join_paths=star_paths(relationships, roles),
        pairs_compatible=compatible,
        pairs_measured=len(pairs),
        composite_keys_checked=len(composite_keys),
        composite_pairs_measured=len(unique),
        key_duplicate_policy=(
            f"a referenced column may repeat up to {key_duplicate_tolerance:.0%} of its values "
            f"(from {_REPEATS_FROM_ROWS} rows up; smaller tables need strictly unique keys); the repeats are "
            "counted on the relationship (referenced_duplicates) because a join on them multiplies rows"),
        key_agreement=agreement,
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

    key_evidence: ClassVar[float] = 1.0  # a unique column is a key whatever its size

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def non_null(self) -> int:
        return self.stats.count - self.stats.null_count

    @property
    def distinct(self) -> int:
        return self.stats.distinct_count

    @property
    def distinct_approximate(self) -> bool:
        return self.stats.distinct_approximate

    @property
    def null_ratio(self) -> float:
        return self.stats.null_ratio

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"

    @property
    def expr(self) -> str:
        return _value(self.column, self.family)

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


@dataclass(eq=False)
class _Tuple:
    """Columns of one table taken together: a composite key, a pair that references one, or a
    declared key that single columns cannot measure (other types, more columns). Its values are
    lists of the columns' text, NULL when any column is null."""

    id: int
    table: str
    columns: tuple[str, ...]
    parts: tuple[ColumnStatistics, ...]
    position: int  # of its leftmost column in the table
    rows: int
    # profiled (`_profile_tuples`)
    non_null: int = 0  # rows with every column set
    distinct: int = 0
    distinct_approximate: bool = False

    family: ClassVar[str] = "tuple"

    @property
    def label(self) -> str:
        return columns_label(self.table, self.columns)

    @property
    def null_ratio(self) -> float:
        return 1 - self.non_null / self.rows if self.rows else 0.0

    @property
    def cells(self) -> float:
        """The combinations of the columns' distinct values."""
        return math.prod(max(1.0, p.distinct_count * (1.1 if p.distinct_approximate else 1.0)) for p in self.parts)

    @property
    def density(self) -> float:
        """The share of the combinations of its columns' values that the tuple holds: the chance
        that such a combination is a key value (other values are rarer still, so this errs
        towards chance)."""
        return min(1.0, (self.distinct or self.rows) / self.cells)

    @property
    def chance_orders(self) -> float:
        """Decimal orders of magnitude against its distinct combinations (before profiling: its
        rows, at least as many) being all distinct by chance."""
        return _birthday_orders(self.distinct or self.rows, self.cells)

    @property
    def key_evidence(self) -> float:
        return min(1.0, self.chance_orders / _SURE)

    @property
    def expr(self) -> str:
        nulls = " OR ".join(f"{quote_ident(c)} IS NULL" for c in self.columns)
        values = ", ".join(f"CAST({_value(c, _family(s.data_type))} AS VARCHAR)"
                           for c, s in zip(self.columns, self.parts))
        return f"CASE WHEN {nulls} THEN NULL ELSE [{values}] END"

    def uniqueness(self) -> str:
        orders = self.chance_orders
        odds = f"odds of 1 in 10^{orders:.0f}" if orders >= 1 else f"{10 ** -orders:.0%} likely"
        return (f"{self.label} is unique over {self.non_null:,} rows of {self.cells:,.0f} possible "
                f"combinations (by chance: {odds})")


class _Tuples:
    """One `_Tuple` per table and columns, numbered after the columns."""

    def __init__(self, stats: StatisticsResult, first_id: int):
        self.stats = stats
        self.next_id = first_id
        self.made: dict[tuple[str, tuple[str, ...]], _Tuple] = {}

    def get(self, table: str, columns: Sequence[str]) -> _Tuple | None:
        key = (table, tuple(columns))
        t = self.stats.tables.get(table)
        if key not in self.made and t is not None and all(c in t.columns for c in columns):
            names = list(t.columns)
            self.made[key] = _Tuple(self.next_id, table, key[1], tuple(t.columns[c] for c in columns),
                                    min(names.index(c) for c in columns), t.row_count)
            self.next_id += 1
        return self.made.get(key)


def _family(data_type: str) -> str | None:
    t = data_type.upper()
    if t in _INTEGER or (t.startswith("DECIMAL") and t.replace(" ", "").endswith(",0)")):
        return "int"
    if t in ("VARCHAR", "UUID"):
        return "text"
    return None


def _value(column: str, family: str | None) -> str:
    x = quote_ident(column)
    return f"TRY_CAST({x} AS HUGEINT)" if family == "int" else f"CAST({x} AS VARCHAR)"


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


def _birthday_orders(rows: int, cells: float) -> float:
    """Decimal orders of magnitude against `rows` draws from `cells` equally likely
    combinations all being distinct (equal chances are the most favourable to that)."""
    if rows > cells:
        return 0.0  # cannot be unique at all
    if rows / cells < 1e-3:  # log P = sum log(1 - i/cells): its first term, the rest under 0.1% of it
        log_p = -rows * (rows - 1) / (2 * cells)
    else:
        log_p = math.lgamma(cells + 1) - math.lgamma(cells - rows + 1) - rows * math.log(cells)
    return max(0.0, -log_p / math.log(10))


@dataclass(eq=False)
class _Pair:
    ref: _Col | _Tuple
    key: _Col | _Tuple
    names: NameEvidence
    key_is_own: bool
    candidate: bool = True  # False: measured only because a source declares it
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
        return self.inclusion * _noisy_or(self.names.score, self.value_evidence) * self.key.key_evidence

    @property
    def coverage(self) -> float:
        return min(1.0, self.included / self.key_distinct) if self.key_distinct else 0.0

    @property
    def key_repeats(self) -> int:
        return max(0, self.key.non_null - self.key_distinct)

    def rank(self) -> tuple:
        return (round(self.score, 3), self.names.score, self.key_is_own, self.coverage,
                -self.key_distinct, self.key.table, self.key.columns)

    def relationship(self) -> Relationship:
        one_to_one = self.ref_distinct == self.ref.non_null and not self.ref.distinct_approximate
        return Relationship(
            from_table=self.ref.table, from_columns=self.ref.columns,
            to_table=self.key.table, to_columns=self.key.columns,
            source="discovered",
            cardinality="one_to_one" if one_to_one else "many_to_one",
            confidence=round(self.score, 4),
            evidence=tuple(self._evidence()),
            inclusion=round(self.inclusion, 6),
            inclusion_error=round(self.inclusion_error, 6),
            coverage=round(self.coverage, 6),
            null_ratio=self.ref.null_ratio,
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
        if isinstance(self.key, _Tuple) and len(self.key.columns) > 1:
            out.append(self.key.uniqueness())
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


def _room(ref: _Col, key: _Col) -> float:
    """How many of `ref`'s distinct values can lie inside `key`: the key's distinct count,
    for integers at most the overlap of the two ranges; none when text ranges do not meet."""
    room = key.distinct * (1.1 if key.stats.distinct_approximate else 1.0)
    lo_r, hi_r, lo_k, hi_k = ref.stats.min, ref.stats.max, key.stats.min, key.stats.max
    if None not in (lo_r, hi_r, lo_k, hi_k):
        if ref.family == "int":
            overlap = min(float(hi_r), float(hi_k)) - max(float(lo_r), float(lo_k)) + 1
            room = min(room, max(0.0, overlap))
        elif hi_r < lo_k or hi_k < lo_r:
            return 0.0
    return room


def _fits(ref: _Col, key: _Col, min_inclusion: float) -> bool:
    """Whether enough of `ref`'s distinct values can lie inside `key` (sound: never drops a
    pair that could reach `min_inclusion`)."""
    need = min_inclusion * ref.distinct * (0.9 if ref.stats.distinct_approximate else 1.0)
    return _room(ref, key) >= need


def _names(ref: _Col, key: _Col, own: dict[str, tuple[str, ...]]) -> NameEvidence:
    names = name_evidence(ref.name, key.name, own.get(key.table) == (key.column,))
    if own.get(ref.table) == (ref.column,) and names.score < 1:
        return NONE  # a table's own key references another only under the same name
    return names


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
            names = _names(ref, key, own)
            if _noisy_or(names.score, best_values) < min_confidence:
                continue
            pairs.append(_Pair(ref, key, names, key_is_own))
    return pairs, compatible


def _composite_pairs(columns: list[_Col], tuples: _Tuples, min_inclusion: float,
                     min_confidence: float) -> list[_Pair]:
    """Referencing pair x key pair candidates (see the module's docstring). The referencing
    columns are found by name through a lookup; a key pair whose uniqueness chance could
    explain, or that cannot hold enough of the referencing pairs, is never profiled."""
    parts: dict[tuple[str, tuple[str, ...]], list[_Col]] = {}
    for c in columns:
        if not c.key and c.name.key_suffix and c.name.core and c.stats.null_count == 0 and c.distinct >= 2:
            parts.setdefault((c.family, c.name.core), []).append(c)
    links: dict[tuple[str, str], list[tuple[_Col, _Col]]] = {}
    for ref in columns:
        for key in parts.get((ref.family, ref.name.core), ()):
            if key.table != ref.table and _room(ref, key) >= 1:
                links.setdefault((ref.table, key.table), []).append((ref, key))
    out = []
    for found in links.values():
        for (r1, k1), (r2, k2) in combinations(found, 2):
            if r1 is r2 or k1 is k2:
                continue
            if k2.position < k1.position:
                (r1, k1), (r2, k2) = (r2, k2), (r1, k1)
            key = tuples.get(k1.table, (k1.column, k2.column))
            approximate = r1.distinct_approximate or r2.distinct_approximate
            if (min_inclusion * max(r1.distinct, r2.distinct) * (0.9 if approximate else 1.0) > key.rows
                    or key.key_evidence < min_confidence):  # the same names: the score is at most this
                continue
            ref = tuples.get(r1.table, (r1.column, r2.column))
            out.append(_Pair(ref, key, NameEvidence(1.0, f"{ref.label} and {key.label} have the same names"),
                             key_is_own=False))
    return out


def _may_be_unique(key: _Tuple, tolerance: float) -> bool:
    """Whether a profiled key pair repeats few enough combinations (an approximate distinct
    count is checked exactly when the key's values are read)."""
    slack = int(0.05 * key.non_null) if key.distinct_approximate else 0
    return key.non_null >= 2 and key.non_null - key.distinct <= _allowed_repeats(key.non_null, tolerance) + slack


def _declared_pairs(declared: Sequence[Relationship], columns: list[_Col], own: dict[str, tuple[str, ...]],
                    candidates: list[_Pair], tuples: _Tuples) -> list[_Pair | None]:
    """The pair that measures each declared relationship: discovery's own candidate when it has
    one (so that the two verdicts compare), else one made for it; None when a column was not
    profiled."""
    by_name = {(c.table, c.column): c for c in columns}
    known = {(p.ref.id, p.key.id): p for p in candidates}
    out: list[_Pair | None] = []
    for r in declared:
        ref = by_name.get((r.from_table, r.from_columns[0])) if len(r.from_columns) == 1 else None
        key = by_name.get((r.to_table, r.to_columns[0])) if len(r.to_columns) == 1 else None
        if ref is not None and key is not None and ref.family == key.family:
            names = _names(ref, key, own)
        else:
            order = list(tuples.stats.tables[r.to_table].columns) if r.to_table in tuples.stats.tables else []
            if len(r.from_columns) != len(r.to_columns) or not set(r.to_columns) <= set(order):
                out.append(None)
                continue
            # columns in the key's order, as discovery takes them
            zipped = sorted(zip(r.from_columns, r.to_columns), key=lambda fk: order.index(fk[1]))
            ref, key = tuples.get(r.from_table, [f for f, _ in zipped]), tuples.get(r.to_table, [k for _, k in zipped])
            names = NONE
        if ref is None or key is None:
            out.append(None)
            continue
        out.append(known.get((ref.id, key.id))
                   or _Pair(ref, key, names, own.get(key.table) == key.columns, candidate=False))
    return out


def _distinct_pairs(pairs: Iterable[_Pair]) -> list[_Pair]:
    return list({id(p): p for p in pairs}.values())


# --- measuring inclusion in DuckDB ---------------------------------------------------------


def _by_table(sides: Iterable[_Col | _Tuple]) -> dict[str, list]:
    out: dict[str, list] = {}
    for c in sides:
        out.setdefault(c.table, []).append(c)
    return out


def _views(con: duckdb.DuckDBPyConnection, ws: Workspace, types: TypeResolutionResult) -> None:
    for name, table in types.tables.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident('t_' + name)} AS SELECT * FROM "
                    f"read_parquet({quote_literal(str(ws.path(table.path)))})")


def _profile_tuples(con: duckdb.DuckDBPyConnection, tuples: Iterable[_Tuple], exact_up_to: int) -> None:
    """Rows with every column set and distinct combinations of each tuple, one query per
    table; the distinct count is approximate above `exact_up_to` rows (where it only sets the
    sample rate; a key's is counted exactly when its values are read)."""
    for table, group in _by_table(tuples).items():
        approximate = group[0].rows > exact_up_to
        distinct = "approx_count_distinct(v{0})" if approximate else "count(DISTINCT v{0})"
        values = ", ".join(f"{t.expr} AS v{i}" for i, t in enumerate(group))
        counts = ", ".join(f"count(v{i}), " + distinct.format(i) for i in range(len(group)))
        row = con.execute(f"SELECT {counts} FROM (SELECT {values} FROM {quote_ident('t_' + table)})").fetchone()
        for i, t in enumerate(group):
            t.non_null, t.distinct, t.distinct_approximate = row[2 * i], row[2 * i + 1], approximate


def _measure(con: duckdb.DuckDBPyConnection, pairs: list[_Pair], exact_up_to: int,
             sample_values: int) -> list[_Pair]:
    """Inclusion, coverage and orphans of every pair, in three statements per value family:
    the keys' distinct values, the referencing sides' distinct values (hash-sampled above
    `exact_up_to`) with their row counts, and one join over the pairs."""
    if not pairs:
        return []
    for family, vtype in _VALUE_TYPES.items():
        fam = [p for p in pairs if p.key.family == family]
        con.execute(f"CREATE OR REPLACE TEMP TABLE kv_{family} (k INTEGER, v {vtype})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE fv_{family} (c INTEGER, v {vtype}, n BIGINT)")
        if not fam:
            continue
        for table, cols in _by_table({p.key.id: p.key for p in fam}.values()).items():
            ids = ", ".join(str(c.id) for c in cols)
            values = ", ".join(c.expr for c in cols)
            con.execute(f"INSERT INTO kv_{family} SELECT DISTINCT k, v FROM (SELECT UNNEST([{ids}]) AS k, "
                        f"UNNEST([{values}]) AS v FROM {quote_ident('t_' + table)}) WHERE v IS NOT NULL")
        for table, cols in _by_table({p.ref.id: p.ref for p in fam}.values()).items():
            ids = ", ".join(str(c.id) for c in cols)
            values = ", ".join(c.expr for c in cols)
            limits = ", ".join(str(_sample_limit(c, exact_up_to, sample_values)) for c in cols)
            con.execute(f"INSERT INTO fv_{family} SELECT c, v, count(*) FROM (SELECT UNNEST([{ids}]) AS c, "
                        f"UNNEST([{values}]) AS v, UNNEST([{limits}]) AS lim FROM {quote_ident('t_' + table)}) "
                        f"WHERE v IS NOT NULL AND hash(v) % {_SAMPLE_BUCKETS} < lim GROUP BY c, v")
    by_id = {c.id: c for p in pairs for c in (p.ref, p.key)}
    exact_distinct: dict[int, int] = {}
    for family in _VALUE_TYPES:
        exact_distinct |= dict(con.execute(f"SELECT k, count(*) FROM kv_{family} GROUP BY k").fetchall())
        exact_distinct |= dict(con.execute(f"SELECT c, count(*) FROM fv_{family} GROUP BY c").fetchall())
    index = {(p.ref.id, p.key.id): p for p in pairs}
    for family in _VALUE_TYPES:
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


def _sample_limit(side: _Col | _Tuple, exact_up_to: int, sample_values: int) -> int:
    if side.distinct <= exact_up_to:
        return _SAMPLE_BUCKETS
    return max(1, math.ceil(_SAMPLE_BUCKETS * sample_values / side.distinct))


def _fill(p: _Pair, ref: _Col | _Tuple, seen: int, hit: int, orphan_rows: int, key_distinct: int,
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
    """One parent per referencing column or column pair (the best-ranked key); of two unique
    sides that each contain the other, only the direction towards the table's own key is kept."""
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
    return sorted(out, key=lambda p: (p.ref.table, p.ref.position, len(p.ref.columns)))


def _shown(family: str, value: str) -> str:
    """SQL that writes a value of the family as text: `(4711, 2)` for a tuple."""
    return f"'(' || array_to_string({value}, ', ') || ')'" if family == "tuple" else f"CAST({value} AS VARCHAR)"


def _describe_orphans_and_repeats(con: duckdb.DuckDBPyConnection, pairs: list[_Pair]) -> None:
    """A few orphan values and repeated key values, for the evidence."""
    for family in _VALUE_TYPES:
        fam = [p for p in pairs if p.key.family == family and p.orphan_values >= 0.5]
        if fam:
            con.register("_pairs", pa.table({"c": [p.ref.id for p in fam], "k": [p.key.id for p in fam]}))
            rows = con.execute(
                f"SELECT p.c, p.k, {_shown(family, 'f.v')} FROM _pairs p JOIN fv_{family} f ON f.c = p.c "
                f"ANTI JOIN kv_{family} kv ON kv.k = p.k AND kv.v = f.v "
                f"QUALIFY row_number() OVER (PARTITION BY p.c, p.k ORDER BY f.n DESC, f.v) <= 3 "
                f"ORDER BY p.c, p.k, f.n DESC, f.v").fetchall()
            con.unregister("_pairs")
            examples: dict[tuple[int, int], list[str]] = {}
            for c, k, v in rows:
                examples.setdefault((c, k), []).append(v)
            for p in fam:
                p.orphan_examples = tuple(examples.get((p.ref.id, p.key.id), ()))
    repeated = {p.key.id: p.key for p in pairs if p.key_repeats}
    for key in repeated.values():
        cols = ", ".join(quote_ident(c) for c in key.columns)
        present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in key.columns)
        values = [str(v[0]) if len(v) == 1 else f"({', '.join(map(str, v))})" for v in con.execute(
            f"SELECT {cols} FROM {quote_ident('t_' + key.table)} WHERE {present} GROUP BY {cols} "
            f"HAVING count(*) > 1 ORDER BY count(*) DESC, {cols} LIMIT 3").fetchall()]
        for p in pairs:
            if p.key is key:
                p.duplicate_examples = tuple(values)


# --- agreement with the declared keys ------------------------------------------------------


def _against_declared(declared: Sequence[Relationship], checks: list[_Pair | None], found: list[_Pair],
                      staging: StagingResult | None, min_inclusion: float, min_confidence: float,
                      tolerance: float) -> tuple[list[Relationship], KeyAgreement | None]:
    """The declared relationships with what the values say about them, then the discovered
    ones (less those that repeat a declared one or give its columns another target); and how
    the two agree, when a source declares keys."""
    chosen = {(p.ref.id, p.key.id) for p in found}
    by_ref = {p.ref.id: p for p in found}
    out: list[Relationship] = []
    confirmed: list[RelationshipRef] = []
    not_found: list[RelationshipRef] = []
    for r, p in zip(declared, checks):
        measured = p.relationship() if p is not None and p.ref_distinct else None
        if p is not None and (p.ref.id, p.key.id) in chosen:
            confirmed.append(_ref(r, _orphans(measured)))
            out.append(_declared(r, measured, "confirmed by the values", confirmed=True))
        else:
            why = _why_not_found(p, by_ref, min_inclusion, min_confidence, tolerance)
            not_found.append(_ref(r, why))
            out.append(_declared(r, measured, f"not found in the values: {why}", confirmed=False))
    same = {_signature(r) for r in declared}
    taken = {(r.from_table, frozenset(r.from_columns)) for r in declared}
    declaring = _declaring_sources(staging)
    undeclared: list[RelationshipRef] = []
    for p in found:
        rel = p.relationship()
        if _signature(rel) in same:
            continue
        clash = (rel.from_table, frozenset(rel.from_columns)) in taken
        if _within_one_source(rel, staging, declaring):
            undeclared.append(_ref(rel, "the source declares another target for these columns" if clash else ""))
        if not clash:
            out.append(rel)
    if not declaring:
        return out, None
    return out, KeyAgreement(confirmed=tuple(confirmed), not_found=tuple(not_found),
                             undeclared=tuple(undeclared),
                             summary=_summary(len(declared), confirmed, not_found, undeclared))


def _signature(r: Relationship) -> tuple[str, str, frozenset[tuple[str, str]]]:
    return r.from_table, r.to_table, frozenset(zip(r.from_columns, r.to_columns))


def _ref(r: Relationship, note: str = "") -> RelationshipRef:
    return RelationshipRef(from_table=r.from_table, from_columns=r.from_columns, to_table=r.to_table,
                           to_columns=r.to_columns, note=note)


def _orphans(measured: Relationship | None) -> str:
    if measured is None or not measured.orphan_values:
        return ""
    examples = f" (e.g. {', '.join(measured.orphan_examples)})" if measured.orphan_examples else ""
    return f"{measured.orphan_values:,} orphan value(s){examples} in {measured.orphan_rows:,} row(s)"


def _declared(r: Relationship, measured: Relationship | None, verdict: str, confirmed: bool) -> Relationship:
    """A declared relationship with its measurements; the score only when discovery agrees."""
    if measured is None:
        return r.model_copy(update={"evidence": r.evidence + (verdict,)})
    skip = {"from_table", "from_columns", "to_table", "to_columns", "source", "evidence"}
    update = {name: getattr(measured, name) for name in type(measured).model_fields if name not in skip}
    if not confirmed:
        update["confidence"] = None
    return r.model_copy(update=update | {"evidence": r.evidence + (verdict,) + measured.evidence})


def _why_not_found(p: _Pair | None, by_ref: dict[int, _Pair], min_inclusion: float, min_confidence: float,
                   tolerance: float) -> str:
    if p is None:
        return "its columns were not profiled"
    if not p.ref_distinct:
        return f"{p.ref.label} holds no values"
    if p.inclusion < min_inclusion:
        return (f"the values violate it: {round(p.orphan_values):,} of {p.ref_distinct:,} distinct values "
                f"({1 - p.inclusion:.1%}) are missing from {p.key.label}")
    if p.key_repeats > _allowed_repeats(p.key.non_null, tolerance):
        return f"{p.key.label} is not unique ({p.key_repeats:,} repeated values)"
    if isinstance(p.key, _Tuple) and not p.candidate:
        if len(p.key.columns) > 2:
            return "discovery searches keys of one or two columns"
        if len(p.key.columns) == 1:
            types = ", ".join(dict.fromkeys(s.data_type for s in p.ref.parts + p.key.parts))
            return f"discovery compares integer or text columns of one kind ({types})"
        return ("composite keys are searched between key-like columns of the same names, never null "
                "and not unique alone")
    if isinstance(p.key, _Col) and not p.key.key:
        return f"{p.key.label} is not a key (nulls or repeats)"
    if p.score < min_confidence:
        return f"names and values do not single it out (score {p.score:.2f} < {min_confidence:g})"
    other = by_ref.get(p.ref.id)
    if other is not None:
        return f"discovery prefers {other.key.label}"
    return f"discovery takes it the other way round ({p.key.label} references {p.ref.label})"


def _declaring_sources(staging: StagingResult | None) -> set[str]:
    """The sources that declare keys: a primary key or a foreign key of one of their tables."""
    if staging is None:
        return set()
    out = {t.source for t in staging.tables.values() if t.primary_key}
    return out | {staging.tables[r.from_table].source for r in staging.declared_relationships
                  if r.from_table in staging.tables}


def _within_one_source(r: Relationship, staging: StagingResult | None, declaring: set[str]) -> bool:
    """Whether both tables come from one source that declares keys (only there can a missing
    declaration be told)."""
    if staging is None or r.from_table not in staging.tables or r.to_table not in staging.tables:
        return False
    source = staging.tables[r.from_table].source
    return source in declaring and staging.tables[r.to_table].source == source


def _summary(declared: int, confirmed: list[RelationshipRef], not_found: list[RelationshipRef],
             undeclared: list[RelationshipRef]) -> str:
    found = f"{len(undeclared)} found in the values but not declared"
    if not declared:
        return f"no foreign keys declared; {found}"
    with_orphans = sum(1 for c in confirmed if c.note)
    orphans = f" ({with_orphans} with orphans)" if with_orphans else ""
    return (f"{declared} declared foreign key{'s' if declared != 1 else ''}: {len(confirmed)} confirmed by "
            f"the values{orphans}, {len(not_found)} not found; {found}")
