"""What the steps before quality found about the tables: their types and statistics, the
column sets that should identify a row, and the staged sources and semantic annotations when
those steps ran."""

from __future__ import annotations

from dataraum_context.models import (
    ResolvedTable,
    SemanticEnrichmentResult,
    StagingResult,
    StatisticsResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.naming import column_name, column_prefix, tokens

_ID_WORDS = frozenset({"id", "key", "pk", "uuid", "guid"})  # `code` or `number` alone need not be unique


class Tables:
    """The typed tables with their statistics and keys."""

    def __init__(self, types: TypeResolutionResult, stats: StatisticsResult, topology: TopologyResult | None,
                 semantic: SemanticEnrichmentResult | None, staging: StagingResult | None):
        self.types = types
        self.tables: dict[str, ResolvedTable] = dict(types.tables)
        self.stats = stats
        self.staging = staging
        self.semantic = semantic
        self.keys = {name: _keys(name, t, topology, semantic, staging) for name, t in self.tables.items()}

    def columns(self, table: str) -> list[str]:
        return list(self.tables[table].columns)

    def dtype(self, table: str, column: str) -> str:
        return self.tables[table].columns[column].data_type.upper()

    def key(self, table: str) -> tuple[str, ...]:
        """The columns that identify a row in examples."""
        return next(iter(self.keys.get(table) or {}), ())


def _keys(table: str, resolved: ResolvedTable, topology: TopologyResult | None,
          semantic: SemanticEnrichmentResult | None, staging: StagingResult | None) -> dict[tuple[str, ...], str]:
    """Column sets that should identify a row, with why: declared, found by topology, called
    keys by semantic_enrichment, or named as the table's own id (`id`, `customer_id` in
    customers, `c_custkey` in customer); each once, the first reason kept."""
    found: list[tuple[tuple[str, ...], str]] = []
    staged = staging.tables.get(table) if staging else None
    if staged and staged.primary_key:
        found.append((tuple(staged.primary_key), "the source declares it the primary key"))
    role = topology.tables.get(table) if topology else None
    if role and role.key_columns:
        found.append((tuple(role.key_columns), "topology_enrichment found it to be the table's key"))
    entity = semantic.tables.get(table) if semantic else None
    if entity:
        if entity.grain:
            found.append((tuple(entity.grain), f"semantic_enrichment gives it as the grain ({entity.source})"))
        found += [((c,), f"semantic_enrichment calls it a key ({a.source})")
                  for c, a in entity.columns.items() if a.semantic_role == "key"]
    names = list(resolved.columns)
    prefix = column_prefix(names)
    found += [((c,), "named as the table's id") for c in names
              if column_name(table, c, prefix).names_own_table and tokens(c)[-1] in _ID_WORDS]
    keys: dict[tuple[str, ...], str] = {}
    for key, why in found:
        if key and all(c in resolved.columns for c in key):
            keys.setdefault(key, why)
    return keys
