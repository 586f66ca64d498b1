"""The `heuristic` provider: offline and deterministic, from structure first, then names.

A column's role comes from, in this order: the table's measured key (unique and never null) ->
key; values measured inside another table's key -> foreign_key; the resolved type (dates and
times -> timestamp, booleans and 0/1 -> dimension); the ontology concept the matcher ranks first
(from 0.6: `quantity` is a measure, `calendar_period` a dimension, `sequence_number` an
attribute); what the name says (`*_id`, `*_no`, `*_code` that reference nothing are codes, not
measures; `priority`, `rank`, `level`, `size`, `line` are codes or positions); and last the
statistics (numbers -> measure; text with few distinct values -> dimension, else attribute).
Business terms are ontology concepts whose role agrees; a table is a fact, event, bridge,
dimension or reference table by its keys, references, measures and times.
"""

from __future__ import annotations

from dataraum_context.llm.cache import ResponseCache
from dataraum_context.llm.protocol import (
    Batch,
    BatchAnswer,
    ColumnAnswer,
    ColumnFacts,
    ConceptCandidate,
    Enrichment,
    EntityType,
    SemanticRole,
    TableAnswer,
    TableFacts,
)
from dataraum_context.models import Frozen
from dataraum_context.naming import column_name, column_prefix, tokens
from dataraum_context.sql import Family, family, is_number, is_whole_number

_MIN_SCORE = 0.6  # a concept counts from this matcher score on
_DIMENSION_MAX_DISTINCT = 50
_DIMENSION_MAX_UNIQUENESS = 0.5
_FREE_TEXT_LENGTH = 50
_REFERENCE_MAX_ROWS = 500
_REFERENCE_MAX_COLUMNS = 4
#: words that make a number a code to group by (sizes, priorities, levels, calendar parts)
_CODE_WORDS = frozenset({
    "priority", "prio", "rank", "ranking", "level", "lvl", "tier", "grade", "class", "size", "floor",
    "type", "kind", "category", "group", "grp", "zone", "status", "stage", "state", "version", "rev",
    "bucket", "band", "decile", "quartile", "quintile", "segment", "year", "quarter", "month", "week",
    "weekday", "day", "hour", "dow", "gender", "sex", "region", "area", "district", "channel",
    "severity", "urgency", "rating_code", "mode",
})
#: words that make a number a position within its parent (line 3 of an order)
_POSITION_WORDS = frozenset({"line", "seq", "sequence", "position", "pos", "ordinal", "idx", "index",
                             "sort", "row", "rownum", "step"})
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
    prefix = column_prefix([c.name for c in table.columns])
    columns = [_column(table, c, measured, prefix) for c in table.columns]
    roles = {c.name: c.semantic_role for c in columns}
    facts = {c.name: c for c in table.columns}
    fks = [n for n, r in roles.items() if r == "foreign_key"]
    measures = [n for n, r in roles.items() if r == "measure"]
    times = sorted((n for n, r in roles.items() if r == "timestamp"),
                   key=lambda n: (round(facts[n].null_ratio, 1), list(roles).index(n)))
    others = [n for n, r in roles.items() if r not in _KEYISH]
    targets = {(facts[n].references or n).split(".")[0] for n in fks} - {table.name}
    entity: EntityType
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
    targets = sorted({ref.split(".")[0] for n in fks if (ref := facts[n].references)})
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


def _column(table: TableFacts, col: ColumnFacts, measured: bool, prefix: str | None) -> ColumnAnswer:
    role, evidence = _role(table, col, measured, prefix)
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


def _role(table: TableFacts, col: ColumnFacts, measured: bool, prefix: str | None) -> tuple[SemanticRole, list[str]]:
    if col.name in table.key_columns:
        return "key", ["the table's key: unique and never null"]
    if col.references:
        return "foreign_key", [f"values sit inside {col.references} (measured)"]
    kind = family(col.data_type)
    if kind in (Family.DATE, Family.TIMESTAMP, Family.TIME):
        concept = _concept(col)
        if concept is not None and concept.role == "attribute":
            return "attribute", [f"a {col.data_type} describing its row ({concept.concept})"]
        return "timestamp", [f"type {col.data_type}"]
    if kind is Family.BOOLEAN:
        return "dimension", ["a yes/no flag"]
    if kind is Family.INTERVAL:
        return "measure", ["an interval"]
    if is_number(col.data_type):
        return _number_role(table, col, measured, prefix)
    if kind in (Family.TEXT, Family.UUID):
        return _text_role(table, col, measured, prefix)
    return "attribute", [f"type {col.data_type}"]


def _concept(col: ColumnFacts) -> ConceptCandidate | None:
    """The best concept from the matcher, unless it is an identifier: whether a column is a key
    or a reference is measured, not read from its name."""
    best = col.candidates[0] if col.candidates else None
    if best is None or best.score < _MIN_SCORE or best.role in _KEYISH:
        return None
    return best


def _named_reference(table: TableFacts, col: ColumnFacts, measured: bool, prefix: str | None
                     ) -> tuple[SemanticRole, list[str]] | None:
    """A name ending in a key word (`_id`, `Key`, `_no`, `_code`) that is not the table's key:
    a reference by name when nothing was measured; a code when the values point nowhere."""
    name = column_name(table.name, col.name, prefix)
    if not name.key_suffix:
        return None
    if col.uniqueness >= 0.999 and col.null_ratio == 0:
        return "attribute", ["an identifier besides the key (unique)"]
    if not measured:
        return "foreign_key", ["named like a reference (foreign keys were not measured)"]
    return "dimension", ["named like an identifier, but its values are in no table's key: a code"]


def _number_role(table: TableFacts, col: ColumnFacts, measured: bool, prefix: str | None
                 ) -> tuple[SemanticRole, list[str]]:
    concept = _concept(col)
    if concept is not None and concept.role is not None:
        return concept.role, [f"concept {concept.concept}: {concept.role}"]
    words = set(tokens(col.name[len(prefix):] if prefix and col.name.lower().startswith(prefix) else col.name))
    if words & _POSITION_WORDS:
        return "attribute", [f"a position ({', '.join(sorted(words & _POSITION_WORDS))}), not a quantity"]
    named = _named_reference(table, col, measured, prefix)
    if named is not None:
        return named
    if words & _CODE_WORDS:
        return "dimension", [f"a code ({', '.join(sorted(words & _CODE_WORDS))}), not a quantity"]
    if col.distinct_count <= 2 and {col.min, col.max} <= {"0", "1"}:
        return "dimension", ["a 0/1 flag"]
    kind = "an integer" if is_whole_number(col.data_type) else "a number"
    return "measure", [f"{kind} that is no key, reference or code"]


def _text_role(table: TableFacts, col: ColumnFacts, measured: bool, prefix: str | None
               ) -> tuple[SemanticRole, list[str]]:
    if col.pii:
        return "attribute", []  # the reason is added with the personal data flag
    concept = _concept(col)
    if concept is not None and concept.role not in (None, "measure"):
        return concept.role, [f"concept {concept.concept}: {concept.role}"]
    named = _named_reference(table, col, measured, prefix)
    if named is not None and not (named[0] == "dimension" and col.distinct_count > _DIMENSION_MAX_DISTINCT):
        return named
    if (col.mean_length or 0) > _FREE_TEXT_LENGTH:
        return "attribute", ["free text"]
    if col.distinct_count <= _DIMENSION_MAX_DISTINCT and col.uniqueness <= _DIMENSION_MAX_UNIQUENESS:
        return "dimension", [f"text with {col.distinct_count} distinct values"]
    return "attribute", [f"text with {col.distinct_count:,} distinct values"]


def _describe(table: TableFacts, col: ColumnFacts, role: str) -> str:
    return {
        "key": f"Identifies a row of {table.name}.",
        "foreign_key": f"References {col.references}." if col.references else "Refers to a row of another table.",
        "measure": "A quantity to sum or average.",
        "dimension": f"A category to group {table.name} by ({col.distinct_count:,} values).",
        "timestamp": "When something happened to the row.",
        "attribute": f"Describes a row of {table.name}.",
    }[role]
