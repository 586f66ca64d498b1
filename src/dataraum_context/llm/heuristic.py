"""The `heuristic` provider: offline and deterministic, from structure first, then names.

A column's role comes from, in this order: the table's measured key (unique and never null) ->
key, except a column of a composite key whose values sit inside another table's key, which is a
foreign_key (and a key member); values measured inside another table's key -> foreign_key; for
times, flags and intervals their role in `column_roles` (dates of birth are timestamps too); for
numbers and text the ontology concept the matcher ranks first (from 0.6: `quantity` is a
measure, `calendar_period` a dimension, `sequence_number` an attribute); a column `column_roles`
calls an identifier (`*_id`, `*_no`, `*_code`) is a reference by name when nothing was measured,
else a code; and last its role in `column_roles` (numbers -> measure unless a position, a code
or a flag; text with few distinct values -> dimension, else attribute).
Business terms are ontology concepts whose role agrees; a table is a fact, event, bridge,
dimension or reference table by its keys, references, measures and times.
"""

from __future__ import annotations

from dataraum_context.inference import type_family
from dataraum_context.llm.cache import ResponseCache
from dataraum_context.llm.protocol import (
    Batch,
    BatchAnswer,
    ColumnAnswer,
    ColumnFacts,
    ConceptCandidate,
    Enrichment,
    TableAnswer,
    TableFacts,
)
from dataraum_context.models import Frozen
from dataraum_context.roles import referencing_key_member
from dataraum_context.roles.kinds import DIMENSION_MAX_DISTINCT

_MIN_SCORE = 0.6  # a concept counts from this matcher score on
_REFERENCE_MAX_ROWS = 500
_REFERENCE_MAX_COLUMNS = 4
_KEYISH = ("key", "foreign_key")


class HeuristicProvider(Frozen):
    """Roles, terms and table types from the facts alone; no network, same answer every time."""

    name: str = "heuristic"
    model: str | None = None
    max_concurrency: int = 1
    batch_columns: int | None = None

    def enrich(self, batch: Batch, cache: ResponseCache) -> Enrichment:
        return Enrichment(answer=BatchAnswer(tables=[_table(t, batch.measured) for t in batch.tables]))


def _table(table: TableFacts, measured: bool) -> TableAnswer:
    columns = [_column(table, c, measured) for c in table.columns]
    roles = {c.name: c.semantic_role for c in columns}
    facts = {c.name: c for c in table.columns}
    fks = [n for n, r in roles.items() if r == "foreign_key"]
    measures = [n for n, r in roles.items() if r == "measure"]
    times = sorted((n for n, r in roles.items() if r == "timestamp"),
                   key=lambda n: (round(facts[n].null_ratio, 1), list(roles).index(n)))
    others = [n for n, r in roles.items() if r not in _KEYISH]
    targets = {(facts[n].references or n).split(".")[0] for n in fks} - {table.name}
    if table.topology_role == "bridge" or (len(targets) >= 2 and len(others) <= 1 and not measures
                                           and not table.referenced_by):
        entity = "bridge"
    elif measures and (fks or times) and (not table.referenced_by or times):
        entity = "fact"
    elif times and fks and not table.referenced_by:
        entity = "event"
    elif (not (fks or measures or times) and table.row_count <= _REFERENCE_MAX_ROWS
          and len(table.columns) <= _REFERENCE_MAX_COLUMNS):
        entity = "reference"
    elif times and not table.key_columns and not table.referenced_by:
        entity = "event"
    else:
        entity = "dimension"
    return TableAnswer(
        name=table.name, entity_type=entity, is_fact_table=entity in ("fact", "event"),
        grain=list(table.key_columns), primary_time_column=times[0] if times else None,
        description=_table_description(table, entity, fks, measures, times, facts),
        columns=columns,
    )


def _table_description(table: TableFacts, entity: str, fks: list[str], measures: list[str],
                       times: list[str], facts: dict[str, ColumnFacts]) -> str:
    grain = f"one row per {', '.join(table.key_columns)}" if table.key_columns else "no single-column key"
    parts = [f"{entity.capitalize()} table {table.name}: {table.row_count:,} rows, {grain}"]
    targets = sorted({facts[n].references.split(".")[0] for n in fks if facts[n].references})
    if targets:
        parts.append(f"references {', '.join(targets)}")
    named = [n for n in fks if not facts[n].references]
    if named:
        parts.append(f"named like references: {', '.join(named)}")
    if measures:
        parts.append(f"measures {', '.join(measures)}")
    if times:
        parts.append(f"timed by {times[0]}")
    return "; ".join(parts) + "."


def _column(table: TableFacts, col: ColumnFacts, measured: bool) -> ColumnAnswer:
    role, evidence = _role(table, col, measured)
    term = next((c for c in col.candidates if c.score >= _MIN_SCORE and _agrees(c, role)), None)
    if term is not None:
        evidence.append(f"concept {term.concept} ({term.score:.2f})")
    if col.pii:
        evidence.append(f"personal data: {col.pii}")
    return ColumnAnswer(
        name=col.name, semantic_role=role,
        business_term=term.concept if term else None,
        term_confidence=round(term.score, 4) if term else None,
        description=term.description if term and term.description else _describe(table, col, role),
        unit=term.unit if term and role in ("measure", "attribute") else None,
        pii=col.pii is not None, evidence=evidence,
    )


def _agrees(concept: ConceptCandidate, role: str) -> bool:
    """A concept fits a column when its typical role is the column's (keys and references both
    being identifiers), or it has none."""
    if concept.role is None or concept.role == role:
        return True
    return concept.role in _KEYISH and role in _KEYISH


def _role(table: TableFacts, col: ColumnFacts, measured: bool) -> tuple[str, list[str]]:
    if col.name in table.key_columns:
        if referencing_key_member(col.name, table.key_columns, col.references):
            return "foreign_key", [f"values sit inside {col.references}; a column of the table's key "
                                   f"({', '.join(table.key_columns)})"]
        return "key", ["the table's key: unique and never null"]
    if col.references:
        return "foreign_key", [f"values sit inside {col.references} (measured)"]
    kind, why = col.kind or "attribute", list(col.kind_evidence)
    family = type_family(col.data_type)
    if family not in ("number", "text", "uuid"):
        return kind, why  # times, flags and intervals are what their type says
    if family != "number" and col.pii:
        return "attribute", []  # the reason is added with the personal data flag
    concept = _concept(col)
    if concept is not None and concept.role is not None and (family == "number" or concept.role != "measure"):
        return concept.role, [f"concept {concept.concept}: {concept.role}"]
    if kind in ("identifier", "key", "foreign_key"):
        role, why = _named_reference(col, measured)
        if family != "number" and role == "dimension" and col.distinct_count > DIMENSION_MAX_DISTINCT:
            return "attribute", [f"text with {col.distinct_count:,} distinct values"]
        return role, why
    return kind, why


def _concept(col: ColumnFacts) -> ConceptCandidate | None:
    """The best concept from the matcher, unless it is an identifier: whether a column is a key
    or a reference is measured, not read from its name."""
    best = col.candidates[0] if col.candidates else None
    if best is None or best.score < _MIN_SCORE or best.role in _KEYISH:
        return None
    return best


def _named_reference(col: ColumnFacts, measured: bool) -> tuple[str, list[str]]:
    """A name ending in a key word (`_id`, `Key`, `_no`, `_code`) that is not the table's key:
    a reference by name when nothing was measured; a code when the values point nowhere."""
    if col.uniqueness >= 0.999 and col.null_ratio == 0:
        return "attribute", ["an identifier besides the key (unique)"]
    if not measured:
        return "foreign_key", ["named like a reference (foreign keys were not measured)"]
    return "dimension", ["named like an identifier, but its values are in no table's key: a code"]


def _describe(table: TableFacts, col: ColumnFacts, role: str) -> str:
    return {
        "key": f"Identifies a row of {table.name}.",
        "foreign_key": f"References {col.references}." if col.references else "Refers to a row of another table.",
        "measure": "A quantity to sum or average.",
        "dimension": f"A category to group {table.name} by ({col.distinct_count:,} values).",
        "timestamp": "When something happened to the row.",
        "attribute": f"Describes a row of {table.name}.",
    }[role]
