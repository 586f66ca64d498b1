"""Candidate pairs, from the statistics and the names alone (no value is read here).

Single columns: a referenced side is a key column; a referencing side any column of the same
type family whose distinct count and range can fit inside the key; free text is neither (see
`topology.columns`). Each pair gets an upper bound on its score from its names and from how
unlikely a full inclusion would be by chance; pairs that cannot reach the minimum confidence are
dropped, and so are pairs the names deny: a column that names its own table (`c_customer_id` in
customer) identifies its rows and references no other table's key, and within a table only a
role name (`parent_id`, `manager_id`) makes a reference.

Composite keys of two columns: the referenced side is a column pair of one table, each column
named like a key (`order_id`, `line_no`, `country_code`), never null and not unique alone; the
referencing side a pair of another table's columns with the same names (after stripping table
prefixes), each of the key column's family and with values that can overlap it. Names are
matched through a lookup, so the work grows with the columns that share a name, not with the
pairs of columns.

Declared keys get the pair that measures them: discovery's own candidate when it has one (so
the two verdicts compare), else one made for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, NamedTuple

from dataraum_context.models import Relationship
from dataraum_context.naming import NONE, NameEvidence, name_evidence, names_own_table_first
from dataraum_context.topology.columns import Tuples
from dataraum_context.topology.evidence import (
    density,
    key_evidence,
    noisy_or,
    upper_bound,
    value_evidence,
)
from dataraum_context.topology.models import Candidate, Column, Side


def single_column_pairs(cols: Sequence[Column], own: dict[str, tuple[str, ...]], min_inclusion: float,
                        min_confidence: float) -> tuple[list[Candidate], int]:
    """The pairs worth measuring: type-compatible, able to fit, and able to reach
    `min_confidence` if every value were found; and how many pairs were type-compatible."""
    spans = {c.id: _Span.of(c, min_inclusion) for c in cols}
    by_family: dict[str, list[Column]] = {}
    for c in cols:
        by_family.setdefault(c.family, []).append(c)
    pairs: list[Candidate] = []
    compatible = 0
    for key in (c for c in cols if c.key):
        key_is_own = own.get(key.table) == (key.column,)
        key_span = spans[key.id]
        for ref in by_family[key.family]:
            if ref is key:
                continue
            compatible += 1
            if _room(spans[ref.id], key_span) < spans[ref.id].need:
                continue
            names = _names(ref, key, own)
            if names is None or (ref.table == key.table and not names.score):
                continue  # the names deny it; within a table only a role name makes a reference
            bound = noisy_or(names.score, value_evidence(density(key, ref), ref.distinct, 1.0))
            if bound < min_confidence:
                continue
            pairs.append(Candidate(ref=ref.id, key=key.id, names=names, key_is_own=key_is_own, upper_bound=bound))
    return pairs, compatible


def composite_pairs(cols: Sequence[Column], tuples: Tuples, min_inclusion: float,
                    min_confidence: float) -> list[Candidate]:
    """Referencing pair x key pair candidates (see the module's docstring). A key pair whose
    uniqueness chance could explain, or that cannot hold enough of the referencing pairs, is
    dropped."""
    parts: dict[tuple[str, tuple[str, ...]], list[Column]] = {}
    for c in cols:
        if not c.key and c.name.key_suffix and c.name.core and c.stats.null_count == 0 and c.distinct >= 2:
            parts.setdefault((c.family, c.name.core), []).append(c)
    spans = {c.id: _Span.of(c, min_inclusion) for c in cols}
    links: dict[tuple[str, str], list[tuple[Column, Column]]] = {}
    for ref in cols:
        for key in parts.get((ref.family, ref.name.core), ()):
            if key.table != ref.table and _room(spans[ref.id], spans[key.id]) >= 1:
                links.setdefault((ref.table, key.table), []).append((ref, key))
    out = []
    for found in links.values():
        for (r1, k1), (r2, k2) in combinations(found, 2):
            if r1 is r2 or k1 is k2:
                continue
            if k2.position < k1.position:
                (r1, k1), (r2, k2) = (r2, k2), (r1, k1)
            key_pair = tuples.get(k1.table, (k1.column, k2.column))
            assert key_pair is not None  # its columns have statistics
            approximate = r1.distinct_approximate or r2.distinct_approximate
            if (min_inclusion * max(r1.distinct, r2.distinct) * (0.9 if approximate else 1.0) > key_pair.rows
                    or key_evidence(key_pair) < min_confidence):  # the same names: the score is at most this
                continue
            ref_pair = tuples.get(r1.table, (r1.column, r2.column))
            assert ref_pair is not None
            names = NameEvidence(1.0, f"{ref_pair.label} and {key_pair.label} have the same names")
            out.append(Candidate(ref=ref_pair.id, key=key_pair.id, names=names, key_is_own=False,
                                 upper_bound=upper_bound(ref_pair, key_pair, names.score)))
    return out


def declared_pairs(declared: Sequence[Relationship], cols: Sequence[Column], own: dict[str, tuple[str, ...]],
                   candidates: Sequence[Candidate], tuples: Tuples) -> list[Candidate | None]:
    """The pair that measures each declared relationship: discovery's own candidate when it has
    one, else one made for it; None when a column was not profiled."""
    by_name = {(c.table, c.column): c for c in cols}
    known = {(p.ref, p.key): p for p in candidates}
    out: list[Candidate | None] = []
    for r in declared:
        ref: Side | None = by_name.get((r.from_table, r.from_columns[0])) if len(r.from_columns) == 1 else None
        key: Side | None = by_name.get((r.to_table, r.to_columns[0])) if len(r.to_columns) == 1 else None
        if isinstance(ref, Column) and isinstance(key, Column) and ref.family == key.family:
            names = _names(ref, key, own) or NONE
        else:
            order = tuples.column_order(r.to_table)
            if len(r.from_columns) != len(r.to_columns) or not set(r.to_columns) <= set(order):
                out.append(None)
                continue
            # columns in the key's order, as discovery takes them
            zipped = sorted(zip(r.from_columns, r.to_columns, strict=True), key=lambda fk: order.index(fk[1]))
            ref, key = tuples.get(r.from_table, [f for f, _ in zipped]), tuples.get(r.to_table, [k for _, k in zipped])
            names = NONE
        if ref is None or key is None:
            out.append(None)
            continue
        out.append(known.get((ref.id, key.id))
                   or Candidate(ref=ref.id, key=key.id, names=names, key_is_own=own.get(key.table) == key.columns,
                                upper_bound=upper_bound(ref, key, names.score), discovered=False))
    return out


class _Span(NamedTuple):
    """What pruning reads of a column, computed once per column."""

    family: str
    capacity: float  # distinct values it can hold as a key (an approximate count at its highest)
    need: float  # of its distinct values, those that must lie in a key it references (counted at its lowest)
    lo: Any  # its range: numbers for integers
    hi: Any

    @staticmethod
    def of(c: Column, min_inclusion: float) -> _Span:
        s = c.stats
        lo, hi = s.min, s.max
        if c.family == "int" and lo is not None and hi is not None:
            lo, hi = float(lo), float(hi)
        return _Span(c.family, c.distinct * (1.1 if s.distinct_approximate else 1.0),
                     min_inclusion * c.distinct * (0.9 if s.distinct_approximate else 1.0), lo, hi)


def _room(ref: _Span, key: _Span) -> float:
    """How many of the referencing column's distinct values can lie inside the key: the key's
    distinct count, for integers at most the overlap of the two ranges; none when text ranges
    do not meet. (Sound: a pair that could reach the minimum inclusion always has the room.)"""
    if ref.lo is None or ref.hi is None or key.lo is None or key.hi is None:
        return key.capacity
    if ref.family == "int":
        return min(key.capacity, max(0.0, min(ref.hi, key.hi) - max(ref.lo, key.lo) + 1))
    return 0.0 if ref.hi < key.lo or key.hi < ref.lo else key.capacity


def _names(ref: Column, key: Column, own: dict[str, tuple[str, ...]]) -> NameEvidence | None:
    """What the names say of the pair; None when they say the referencing column identifies the
    rows of its own table (`c_customer_id` in customer): then no inclusion of its values in
    another table's key, however complete, makes it a reference."""
    if ref.table != key.table and names_own_table_first(ref.name, key.name, ref.key):
        return None
    names = name_evidence(ref.name, key.name, own.get(key.table) == (key.column,))
    if own.get(ref.table) == (ref.column,) and names.score < 1:
        return NONE  # a table's own key references another only under the same name
    return names
