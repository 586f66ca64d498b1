"""Which columns carry an ontology concept, for the quality rules that name it.

A concept is bound to the columns whose `business_term` it is (semantic_enrichment); without
semantic_enrichment, to the columns for which the ontology's concept matcher ranks it first
with a score of at least 0.6. An `applies_to` entry with `*` is a name pattern instead, and
binds the columns whose names it matches, word by word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dataraum_context.ontology import Ontology, match_concepts, tokenize
from dataraum_context.ontology.tokens import parse_pattern, stems
from dataraum_context.quality.tables import Tables

MIN_TERM_SCORE = 0.6  # a concept the matcher ranks first binds its column from this score


@dataclass(frozen=True)
class Bound:
    """A column a concept (or a name pattern) is bound to, how strongly and why."""

    table: str
    column: str
    score: float
    how: str


class Bindings:
    """Concept -> the columns it is bound to, best first."""

    def __init__(self, ontology: Ontology, tables: Tables):
        self.tables = tables
        self.by_concept = _concept_bindings(ontology, tables)

    def targets(self, entry: str) -> list[Bound]:
        """The columns an `applies_to` entry (a concept, or a name pattern with `*`) stands for."""
        if "*" not in entry:
            return self.by_concept.get(entry, [])
        pattern = parse_pattern(entry)
        return [Bound(t, c, 1.0, f"{t}.{c} matches the name pattern {entry!r}")
                for t in self.tables.tables for c in self.tables.columns(t) if pattern.match(stems(tokenize(c)))]

    def best_in(self, table: str, entry: str) -> Bound | None:
        return next((b for b in self.targets(entry) if b.table == table), None)

    def unbound(self, entries: Sequence[str]) -> str:
        """Why nothing is bound to these entries."""
        concepts = [e for e in entries if "*" not in e]
        patterns = [e for e in entries if "*" in e]
        parts = []
        if concepts:
            parts.append(f"no column is bound to {' or '.join(concepts)}")
        if patterns:
            parts.append(f"no column name matches {' or '.join(repr(p) for p in patterns)}")
        return "; ".join(parts)

    def not_together(self, concepts: list[str]) -> str:
        """Why no table has a column for each of these concepts."""
        missing = [c for c in concepts if not self.targets(c)]
        if missing:
            return self.unbound(missing)
        where = "; ".join(f"{c}: {', '.join(f'{b.table}.{b.column}' for b in self.targets(c))}"
                          for c in concepts)
        return f"{', '.join(concepts)} are not bound in one table ({where})"


def binding_source(tables: Tables) -> str:
    """How concepts find their columns: semantic_enrichment, or the concept matcher without it."""
    return "semantic_enrichment" if tables.semantic is not None else "concept_matcher"


def _concept_bindings(ontology: Ontology, tables: Tables) -> dict[str, list[Bound]]:
    bound: dict[str, list[Bound]] = {}
    if tables.semantic is not None:
        for table, entity in tables.semantic.tables.items():
            for column, a in entity.columns.items():
                if a.business_term and table in tables.tables and column in tables.tables[table].columns:
                    bound.setdefault(a.business_term, []).append(Bound(
                        table, column, a.term_confidence if a.term_confidence is not None else 1.0,
                        f"{table}.{column} has the business term {a.business_term} ({a.source})"))
    else:
        for table in tables.tables:
            stats = tables.stats.tables.get(table)
            for column in tables.columns(table):
                s = stats.columns.get(column) if stats else None
                matches = match_concepts(column, table, tables.dtype(table, column), s, None, ontology)
                if matches and matches[0].score >= MIN_TERM_SCORE:
                    m = matches[0]
                    bound.setdefault(m.concept, []).append(Bound(
                        table, column, m.score, f"{table}.{column} matches concept {m.concept} (score {m.score:.2f})"))
    for columns in bound.values():
        columns.sort(key=lambda b: -b.score)
    return bound
