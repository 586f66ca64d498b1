"""What the steps before quality found about the tables: their types and statistics, the
column sets that should identify a row, and the staged sources and semantic annotations when
those steps ran."""

from __future__ import annotations

from dataraum_context.models import (
    ColumnRolesResult,
    ResolvedTable,
    SemanticEnrichmentResult,
    StagingResult,
    StatisticsResult,
    TopologyResult,
    TypeResolutionResult,
)

_NUMBER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
_TEMPORAL = ("DATE", "TIMESTAMP")


class Tables:
    """The typed tables with their statistics and keys."""

    def __init__(self, types: TypeResolutionResult, stats: StatisticsResult, roles: ColumnRolesResult,
                 topology: TopologyResult | None, semantic: SemanticEnrichmentResult | None,
                 staging: StagingResult | None):
        self.types = types
        self.tables: dict[str, ResolvedTable] = dict(types.tables)
        self.stats = stats
        self.roles = roles
        self.staging = staging
        self.semantic = semantic
        self.keys = {name: _keys(name, t, roles, topology, semantic) for name, t in self.tables.items()}

    def columns(self, table: str) -> list[str]:
        return list(self.tables[table].columns)

    def dtype(self, table: str, column: str) -> str:
        return self.tables[table].columns[column].data_type.upper()

    def family(self, table: str, column: str) -> str:
        return family(self.dtype(table, column))

    def key(self, table: str) -> tuple[str, ...]:
        """The columns that identify a row in examples."""
        return next(iter(self.keys.get(table) or {}), ())


def family(dtype: str) -> str:
    """number | temporal | text | other, for an upper-case DuckDB type."""
    if dtype.startswith(_NUMBER):
        return "number"
    if dtype.startswith(_TEMPORAL):
        return "temporal"
    if dtype == "VARCHAR":
        return "text"
    return "other"


def _keys(table: str, resolved: ResolvedTable, roles: ColumnRolesResult, topology: TopologyResult | None,
          semantic: SemanticEnrichmentResult | None) -> dict[tuple[str, ...], str]:
    """Column sets that should identify a row, with why: the own key and the columns named as
    the table's id (`column_roles`), the key topology found, the grain and keys of
    semantic_enrichment; each once, the first reason kept."""
    found: list[tuple[tuple[str, ...], str]] = []
    own = roles.tables.get(table)
    if own and own.own_key:
        found.append((own.own_key, own.own_key_evidence or "the table's own key"))
    role = topology.tables.get(table) if topology else None
    if role and role.key_columns:
        found.append((tuple(role.key_columns), "topology_enrichment found it to be the table's key"))
    entity = semantic.tables.get(table) if semantic else None
    if entity:
        if entity.grain:
            found.append((tuple(entity.grain), f"semantic_enrichment gives it as the grain ({entity.source})"))
        found += [((c,), f"semantic_enrichment calls it a key ({a.source})")
                  for c, a in entity.columns.items() if a.semantic_role == "key"]
    found += [((c,), "named as the table's id") for c in (own.named_keys if own else ())]
    keys: dict[tuple[str, ...], str] = {}
    for key, why in found:
        if key and all(c in resolved.columns for c in key):
            keys.setdefault(key, why)
    return keys
