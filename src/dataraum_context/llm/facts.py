"""What a semantic provider learns about each table: `TableFacts`, built from the steps'
results, with the ontology's concept candidates and redacted sample values.

Everything that needs the raw values (concept matching, recognising personal data) happens
here, on this machine; the facts that leave it carry only redacted samples.
"""

from __future__ import annotations

from typing import cast

from dataraum_context.llm.protocol import ColumnFacts, ConceptCandidate, SemanticRole, TableFacts
from dataraum_context.llm.redaction import personal_kind, redact
from dataraum_context.models import (
    ColumnRolesResult,
    ColumnStatistics,
    StatisticsResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.ontology import ConceptMatch, Ontology, match_concepts
from dataraum_context.sql import Family, family, is_number, open_tables, quote_ident, session
from dataraum_context.workspace import Workspace

_SAMPLE_FROM_ROWS = 10_000  # distinct samples are drawn from the first rows of a table
_CANDIDATES = 3
_PERSON_NAME = "person_name"
_MIN_CANDIDATE_SCORE = 0.4
_TIME = (Family.DATE, Family.TIMESTAMP, Family.TIME)


def table_facts(statistics: StatisticsResult, types: TypeResolutionResult, workspace: str, ontology: Ontology,
                roles: ColumnRolesResult, topology: TopologyResult | None, samples: int) -> list[TableFacts]:
    """Facts for every profiled table, in the statistics' order: each column's role from
    `column_roles`; the table's key measured by topology, else its own key in `column_roles`."""
    values = _sample_values(Workspace(workspace), types, samples)
    references: dict[tuple[str, str], str] = {}
    referenced_by: dict[str, set[str]] = {}
    if topology is not None:
        # each column of a composite reference sits inside its counterpart; a single-column one wins
        for r in sorted(topology.relationships, key=lambda r: len(r.from_columns)):
            for f, t in zip(r.from_columns, r.to_columns, strict=True):
                references.setdefault((r.from_table, f), f"{r.to_table}.{t}")
            if r.from_table != r.to_table:
                referenced_by.setdefault(r.to_table, set()).add(r.from_table)
    out = []
    for name, table in statistics.tables.items():
        columns = []
        table_roles = roles.tables[name]
        for col, stats in table.columns.items():
            raw = values.get(name, {}).get(col, [])
            matches = match_concepts(col, name, stats.data_type, stats, raw or None, ontology)
            personal = personal_kind(name, col, matches, raw, ontology)
            if personal and personal[0] == "name" and _PERSON_NAME in {c.name for c in ontology.concepts}:
                # a person's name read from the shape of the values in a table of people
                matches = [ConceptMatch(concept=_PERSON_NAME, score=0.9, evidence=(personal[1],)),
                           *(m for m in matches if m.concept != _PERSON_NAME)]
            columns.append(ColumnFacts(
                name=col, data_type=stats.data_type, null_ratio=round(stats.null_ratio, 4),
                distinct_count=stats.distinct_count, uniqueness=round(stats.uniqueness, 4),
                min=_extreme(stats, stats.min), max=_extreme(stats, stats.max),
                mean=round(stats.mean, 4) if stats.mean is not None and stats.mean == stats.mean else None,
                mean_length=round(stats.mean_length, 1) if stats.mean_length is not None else None,
                samples=tuple(redact(v, personal[0] if personal else None) for v in raw),
                candidates=tuple(_candidate(m.concept, m.score, ontology)
                                 for m in matches[:_CANDIDATES] if m.score >= _MIN_CANDIDATE_SCORE),
                references=references.get((name, col)) or table_roles.columns[col].references,
                pii=personal[1] if personal else None,
                kind=table_roles.columns[col].role,
                kind_evidence=table_roles.columns[col].evidence,
            ))
        role = topology.tables.get(name) if topology is not None else None
        out.append(TableFacts(
            name=name, row_count=table.row_count, columns=tuple(columns),
            key_columns=role.key_columns if role is not None else table_roles.own_key,
            topology_role=role.role if role is not None else None,
            referenced_by=tuple(sorted(referenced_by.get(name, ()))),
        ))
    return out


def _candidate(concept: str, score: float, ontology: Ontology) -> ConceptCandidate:
    c = ontology.concept(concept)
    role = cast("SemanticRole", c.typical_role.value) if c.typical_role else None  # the same six words
    return ConceptCandidate(concept=concept, score=score, role=role, unit=c.unit, description=c.description)


def _extreme(stats: ColumnStatistics, value: object) -> str | None:
    """Extremes of numbers and dates only: text extremes are values, perhaps personal ones."""
    if value is None or not (is_number(stats.data_type) or family(stats.data_type) in _TIME):
        return None
    return str(value)


def _sample_values(ws: Workspace, types: TypeResolutionResult, n: int) -> dict[str, dict[str, list[str]]]:
    """Up to `n` distinct values per column, spread over their sorted order (smallest, ...,
    largest), from the first rows of each typed table: one DuckDB query per table."""
    if n <= 0:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    with session() as con:
        open_tables(con, {name: ws.path(table.path) for name, table in types.tables.items()})
        for name, table in types.tables.items():
            cols = list(table.columns)
            if not cols:
                continue
            lists = ", ".join(f"list_sort(list_distinct(list({quote_ident(c)}))) AS v{i}" for i, c in enumerate(cols))
            picks = ", ".join(_pick(f"v{i}", n) for i in range(len(cols)))
            row = con.execute(f"SELECT {picks} FROM (SELECT {lists} FROM (SELECT * FROM {quote_ident(name)} "
                              f"LIMIT {_SAMPLE_FROM_ROWS}))").fetchone()
            out[name] = {c: [v for v in (picked or []) if v is not None and v.strip()]
                         for c, picked in zip(cols, row or (), strict=False)}
    return out


def _pick(column: str, n: int) -> str:
    """SQL: `n` values evenly spaced over a sorted list, as text."""
    k = f"least({n}, len({column}))"
    return (f"list_transform(range({k}), lambda i: CAST({column}[1 + (i * (len({column}) - 1)) "
            f"// greatest({k} - 1, 1)] AS VARCHAR))")
