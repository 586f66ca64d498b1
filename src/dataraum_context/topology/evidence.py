"""How the evidence combines: what names, values and uniqueness say about a pair, its score,
the best key per referencing side, and the relationship it makes with its evidence in words.

The score of a pair is inclusion x (names or values) x key evidence. Names come from
`dataraum_context.naming`. Values count by how unlikely the inclusion would be by chance (a
Chernoff bound), judged where the referencing values lie: a key that fills its value space
densely (1..N) contains any small integer column, and so does a sparse key that starts at 1
(order keys 1..8, 33..40, ... hold the line numbers 1..7), so there the inclusion proves
nothing and the names decide. Words from a shared vocabulary collide across tables; UUIDs never
do. A single unique column is a key whatever its size; a column tuple only as far as chance
cannot explain its uniqueness (the birthday problem).

Calibration (benchmarks/relationships.py, generated stars, trap schemas and classic schemas):
a relationship at confidence 0.9 or more has been right in every case measured; 1.0 means the
names agree (`ss_item_sk` ~ `i_item_sk`) or the values could not lie in the key by chance, and
the inclusion is complete.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from dataraum_context import sql
from dataraum_context.models import Relationship
from dataraum_context.topology.columns import allowed_repeats
from dataraum_context.topology.models import (
    Column,
    ColumnTuple,
    MeasuredPair,
    MeasuredRelationships,
    Side,
)

SURE = 4.0  # decimal orders of magnitude of chance at which value evidence counts as certain


def noisy_or(a: float, b: float) -> float:
    """Two pieces of evidence combined: the chance that not both are wrong."""
    return 1 - (1 - a) * (1 - b)


def value_evidence(density: float, values: float, inclusion: float) -> float:
    """How unlikely it is that `values` distinct values, each a key value with probability
    `density`, show this inclusion by chance (Chernoff bound), scaled so that odds of
    1 : 10**SURE count as certain."""
    if values < 3 or inclusion <= density:  # two values prove nothing (0/1, yes/no)
        return 0.0
    i, p = min(inclusion, 1.0), max(density, 1e-300)
    kl = i * math.log(i / p) + ((1 - i) * math.log((1 - i) / (1 - p)) if i < 1 else 0.0)
    return min(1.0, values * kl / math.log(10) / SURE)


def birthday_orders(rows: int, cells: float) -> float:
    """Decimal orders of magnitude against `rows` draws from `cells` equally likely
    combinations all being distinct (equal chances are the most favourable to that)."""
    if rows > cells:
        return 0.0  # cannot be unique at all
    if rows / cells < 1e-3:  # log P = sum log(1 - i/cells): its first term, the rest under 0.1% of it
        log_p = -rows * (rows - 1) / (2 * cells)
    else:
        log_p = math.lgamma(cells + 1) - math.lgamma(cells - rows + 1) - rows * math.log(cells)
    return max(0.0, -log_p / math.log(10))


def density(key: Side, ref: Side | None = None, counted: tuple[int, int] | None = None) -> float:
    """The chance that an arbitrary value of the referencing side's kind is a value of this
    key. Integers: the share of its range the key fills, and at least the share of the
    referencing side's own range that side fills (whatever a key's overall density, the small
    integers 1..7 of a line number lie inside a key that starts at 1, as densely as they occur);
    with the distinct values of both sides as `counted` when they were measured, else from the
    statistics, an approximate count taken at its lowest. Text: a modest constant for codes
    (short codes collide more easily than long identifiers), a high one for words, which a
    shared vocabulary (cities, colours) repeats across tables; UUIDs never collide. A column
    tuple: the share of its columns' combinations it holds (other values are rarer still, so
    this errs towards chance)."""
    if isinstance(key, ColumnTuple):
        return min(1.0, (key.distinct or key.rows) / key.cells)
    s = key.stats
    if key.family == "int":
        ref_distinct, key_distinct = counted or (None, None)
        return max(_fill(key, key_distinct), _fill(ref, ref_distinct) if isinstance(ref, Column) else 0.0)
    if sql.family(s.data_type) is sql.Family.UUID:
        return 1e-9
    words = not any(ch.isdigit() for v in (s.min, s.max) for ch in str(v))
    return 0.5 if words or (s.max_length or 0) <= 3 else 0.2


def _fill(c: Column, distinct: int | None = None) -> float:
    """The share of an integer column's range that its distinct values fill."""
    s = c.stats
    if c.family != "int" or s.min is None or s.max is None:
        return 1.0 if c.family == "int" else 0.0
    n = distinct if distinct is not None else c.distinct * (0.9 if c.distinct_approximate else 1.0)
    return min(1.0, n / (float(s.max) - float(s.min) + 1))


def chance_orders(t: ColumnTuple) -> float:
    """Decimal orders of magnitude against a tuple's distinct combinations (before profiling:
    its rows, at least as many) being all distinct by chance."""
    return birthday_orders(t.distinct or t.rows, t.cells)


def key_evidence(key: Side) -> float:
    """How far uniqueness makes a key: a unique column always, a column tuple as far as chance
    cannot explain it."""
    return 1.0 if isinstance(key, Column) else min(1.0, chance_orders(key) / SURE)


def score(names: float, values: float, inclusion: float, key: Side) -> float:
    return inclusion * noisy_or(names, values) * key_evidence(key)


def upper_bound(ref: Side, key: Side, names: float) -> float:
    """The score a pair reaches if every referencing value is found in the key."""
    return score(names, value_evidence(density(key, ref), ref.distinct, 1.0), 1.0, key)


def key_repeats(p: MeasuredPair, key: Side) -> int:
    return max(0, key.non_null - p.key_distinct)


def coverage(p: MeasuredPair) -> float:
    """The share of the key's values that are referenced."""
    return min(1.0, p.included / p.key_distinct) if p.key_distinct else 0.0


def accepted(pairs: Iterable[MeasuredPair], sides: Sequence[Side], min_inclusion: float, min_confidence: float,
             tolerance: float) -> list[MeasuredPair]:
    """The discovered pairs that pass: enough inclusion, enough score, a key with few enough repeats."""
    return [p for p in pairs if p.discovered and p.inclusion >= min_inclusion and p.score >= min_confidence
            and key_repeats(p, sides[p.key]) <= allowed_repeats(sides[p.key].non_null, tolerance)]


def discovered(m: MeasuredRelationships, min_inclusion: float, min_confidence: float,
               tolerance: float) -> list[MeasuredPair]:
    """The relationships found in the values: of the pairs that pass, the best key per
    referencing side."""
    return resolve(accepted(m.pairs, m.sides, min_inclusion, min_confidence, tolerance), m.sides)


def _rank(p: MeasuredPair, key: Side) -> tuple:
    return (round(p.score, 3), p.names.score, p.key_is_own, coverage(p), -p.key_distinct, key.table, key.columns)


def resolve(pairs: Iterable[MeasuredPair], sides: Sequence[Side]) -> list[MeasuredPair]:
    """One parent per referencing side (the best-ranked key); of two unique sides that each
    contain the other, only the direction towards the table's own key is kept."""
    best: dict[int, MeasuredPair] = {}
    for p in pairs:
        if p.ref not in best or _rank(p, sides[p.key]) > _rank(best[p.ref], sides[best[p.ref].key]):
            best[p.ref] = p
    chosen = list(best.values())
    by_sides = {(p.ref, p.key): p for p in chosen}
    out = []
    for p in chosen:
        back = by_sides.get((p.key, p.ref))
        if back is not None and ((back.key_is_own, _rank(back, sides[back.key]))
                                 > (p.key_is_own, _rank(p, sides[p.key]))):
            continue
        out.append(p)
    return sorted(out, key=lambda p: (sides[p.ref].table, sides[p.ref].position, len(sides[p.ref].columns)))


def relationship(p: MeasuredPair, sides: Sequence[Side]) -> Relationship:
    """The discovered relationship a measured pair makes, with its evidence."""
    ref, key = sides[p.ref], sides[p.key]
    one_to_one = p.ref_distinct == ref.non_null  # both counted exactly
    return Relationship(
        from_table=ref.table, from_columns=ref.columns,
        to_table=key.table, to_columns=key.columns,
        source="discovered",
        cardinality="one_to_one" if one_to_one else "many_to_one",
        confidence=round(p.score, 4),
        evidence=tuple(_evidence(p, ref, key)),
        inclusion=round(p.inclusion, 6),
        coverage=round(coverage(p), 6),
        null_ratio=ref.null_ratio,
        orphan_values=p.orphan_values,
        orphan_rows=p.orphan_rows,
        orphan_examples=p.orphan_examples,
        referenced_duplicates=key_repeats(p, key),
    )


def _evidence(p: MeasuredPair, ref: Side, key: Side) -> list[str]:
    out = [p.names.reason] if p.names.score else []
    out.append(f"{p.included:,} of {p.ref_distinct:,} distinct values ({p.inclusion:.1%}) are in {key.label}")
    if isinstance(key, ColumnTuple) and len(key.columns) > 1:
        out.append(_uniqueness(key))
    chance = density(key, ref, (p.ref_distinct, p.key_distinct))
    if p.value_evidence >= 0.5:
        out.append(f"values unlikely to fall inside {key.label} by chance (a value of their kind lands "
                   f"in it with chance {chance:.1%})")
    elif isinstance(key, Column) and key.family == "int" and chance > 0.5:
        where = (f"{key.label} holds most integers of {ref.label}'s range ({ref.stats.min}..{ref.stats.max})"
                 if isinstance(ref, Column) and _fill(ref, p.ref_distinct) > _fill(key, p.key_distinct)
                 else f"{key.label} is dense ({key.stats.min}..{key.stats.max})")
        out.append(f"{where}: inclusion alone proves little, the name decides")
    if p.orphan_values:
        examples = f" (e.g. {', '.join(p.orphan_examples)})" if p.orphan_examples else ""
        out.append(f"{p.orphan_values:,} orphan value(s){examples} in {p.orphan_rows:,} row(s) of {ref.table}")
    out.append(f"references {coverage(p):.0%} of {key.label}'s values")
    repeats = key_repeats(p, key)
    if repeats:
        examples = f" (e.g. {', '.join(p.duplicate_examples)})" if p.duplicate_examples else ""
        out.append(f"{key.label} repeats {repeats:,} value(s){examples}: treated as the key, "
                   "but a join on it duplicates those rows")
    return out


def _uniqueness(t: ColumnTuple) -> str:
    orders = chance_orders(t)
    odds = f"odds of 1 in 10^{orders:.0f}" if orders >= 1 else f"{10 ** -orders:.0%} likely"
    return (f"{t.label} is unique over {t.non_null:,} rows of {t.cells:,.0f} possible "
            f"combinations (by chance: {odds})")
