"""Agreement of the keys found in the values with the keys the sources declare.

Declared keys (database catalogs, JSON nesting) are measured whether or not discovery would
have looked at them. Each stays in the relationships with `source: "declared"` and its
measurements; `KeyAgreement` lists the declared keys discovery confirmed, those it did not find
(with the reason: the values violate them, a key that is not unique, names and values that do
not single them out, ...), and the keys it found between the tables of a declaring source that
the source does not declare. A discovered key from the same referencing columns to another
table appears in the agreement only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dataraum_context.models import (
    KeyAgreement,
    Relationship,
    RelationshipRef,
    StagingResult,
)
from dataraum_context.topology.columns import allowed_repeats
from dataraum_context.topology.evidence import key_repeats, relationship
from dataraum_context.topology.models import (
    Candidate,
    Column,
    ColumnTuple,
    MeasuredPair,
    MeasuredRelationships,
    Side,
)


def against_declared(staging: StagingResult | None, checks: Sequence[Candidate | None],
                     measurements: MeasuredRelationships, found: Sequence[MeasuredPair], min_inclusion: float,
                     min_confidence: float, tolerance: float) -> tuple[list[Relationship], KeyAgreement | None]:
    """The declared relationships with what the values say about them, then the discovered
    ones (less those that repeat a declared one or give its columns another target); and how
    the two agree, when a source declares keys. `checks` holds the candidate pair that measures
    each declared relationship, `measurements` what was measured."""
    declared = staging.declared_relationships if staging else ()
    sides, measured = measurements.sides, {(p.ref, p.key): p for p in measurements.pairs}
    chosen = {(p.ref, p.key) for p in found}
    by_ref = {p.ref: p for p in found}
    out: list[Relationship] = []
    confirmed: list[RelationshipRef] = []
    not_found: list[RelationshipRef] = []
    for r, check in zip(declared, checks, strict=True):
        m = measured.get((check.ref, check.key)) if check is not None else None
        values = relationship(m, sides) if m is not None else None
        if m is not None and (m.ref, m.key) in chosen:
            confirmed.append(_ref(r, _orphans(values)))
            out.append(_declared(r, values, "confirmed by the values", confirmed=True))
        else:
            why = _why_not_found(check, m, by_ref, sides, min_inclusion, min_confidence, tolerance)
            not_found.append(_ref(r, why))
            out.append(_declared(r, values, f"not found in the values: {why}", confirmed=False))
    same = {_signature(r) for r in declared}
    taken = {(r.from_table, frozenset(r.from_columns)) for r in declared}
    declaring = _declaring_sources(staging)
    undeclared: list[RelationshipRef] = []
    for p in found:
        rel = relationship(p, sides)
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
    return r.from_table, r.to_table, frozenset(zip(r.from_columns, r.to_columns, strict=False))


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
        return r.model_copy(update={"evidence": (*r.evidence, verdict)})
    skip = {"from_table", "from_columns", "to_table", "to_columns", "source", "evidence"}
    update = {name: getattr(measured, name) for name in type(measured).model_fields if name not in skip}
    if not confirmed:
        update["confidence"] = None
    return r.model_copy(update=update | {"evidence": (*r.evidence, verdict, *measured.evidence)})


def _why_not_found(check: Candidate | None, m: MeasuredPair | None, by_ref: Mapping[int, MeasuredPair],
                   sides: Sequence[Side], min_inclusion: float, min_confidence: float, tolerance: float) -> str:
    if check is None:
        return "its columns were not profiled"
    ref, key = sides[check.ref], sides[check.key]
    if m is None:
        return f"{ref.label} holds no values"
    if m.inclusion < min_inclusion:
        return (f"the values violate it: {round(m.orphan_values):,} of {m.ref_distinct:,} distinct values "
                f"({1 - m.inclusion:.1%}) are missing from {key.label}")
    repeats = key_repeats(m, key)
    if repeats > allowed_repeats(key.non_null, tolerance):
        return f"{key.label} is not unique ({repeats:,} repeated values)"
    if isinstance(key, ColumnTuple) and not m.discovered:
        if len(key.columns) > 2:
            return "discovery searches keys of one or two columns"
        if len(key.columns) == 1:
            parts = (ref.parts if isinstance(ref, ColumnTuple) else ()) + key.parts
            types = ", ".join(dict.fromkeys(s.data_type for s in parts))
            return f"discovery compares integer or text columns of one kind ({types})"
        return ("composite keys are searched between key-like columns of the same names, never null "
                "and not unique alone")
    if isinstance(key, Column) and not key.key:
        return f"{key.label} is not a key (nulls or repeats)"
    if m.score < min_confidence:
        return f"names and values do not single it out (score {m.score:.2f} < {min_confidence:g})"
    other = by_ref.get(m.ref)
    if other is not None:
        return f"discovery prefers {sides[other.key].label}"
    return f"discovery takes it the other way round ({key.label} references {ref.label})"


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
