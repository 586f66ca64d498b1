"""The context document: what every step found, in one document for agents and analysts."""

from __future__ import annotations

from datetime import UTC, datetime

from hamilton.function_modifiers import cache

from dataraum_context import settings
from dataraum_context.joins import columns_label
from dataraum_context.models import (
    ColumnContext,
    ColumnRolesResult,
    ColumnSchema,
    ColumnStatistics,
    ContextDocument,
    ContextSection,
    MulticollinearityReport,
    QualityAssessmentResult,
    Relationship,
    SchemaProfilingResult,
    SemanticEnrichmentResult,
    StagingResult,
    StatisticsResult,
    TableColumnRoles,
    TableContext,
    TemporalResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.ontology import Ontology
from dataraum_context.roles import given_or_decided
from dataraum_context.step import step


@cache(behavior="recompute")  # cheap, and `generated_at` must be the time of this run
@step(scope="source", phase="delivery", criticality="critical")
def context_document(
    staging: StagingResult,
    pipeline_name: str = "custom",
    schema_profiling: SchemaProfilingResult | None = None,
    type_resolution: TypeResolutionResult | None = None,
    statistics_profiling: StatisticsResult | None = None,
    topology_enrichment: TopologyResult | None = None,
    temporal_enrichment: TemporalResult | None = None,
    cross_table_multicollinearity: MulticollinearityReport | None = None,
    ontology: Ontology | None = None,
    quality_assessment: QualityAssessmentResult | None = None,
    semantic_enrichment: SemanticEnrichmentResult | None = None,
    column_roles: ColumnRolesResult | None = None,
    step_sections: tuple[ContextSection, ...] = (),
    skip_warnings: list[str] | None = None,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
) -> ContextDocument:
    """Tables with their typed columns and statistics, the sections of step packages' steps
    (`step_sections`), plus every warning the steps raised and the steps left out because a
    step they need was skipped (`skip_warnings`)."""
    tables = []
    # an incomplete run says so first: the context covers only the sources that were staged
    warnings: list[str] = [f"incomplete: source {f.source} was not staged: {f.reason}"
                           for f in staging.failures]
    warnings += skip_warnings or []
    if statistics_profiling is not None:
        column_roles = given_or_decided(column_roles, statistics_profiling, staging, key_duplicate_tolerance)
    for name, staged in staging.tables.items():
        warnings.extend(staged.warnings)
        resolved = type_resolution.tables.get(name) if type_resolution else None
        stats = statistics_profiling.tables.get(name) if statistics_profiling else None
        schema = schema_profiling.tables.get(name) if schema_profiling else None
        entity = semantic_enrichment.tables.get(name) if semantic_enrichment else None
        roles = column_roles.tables.get(name) if column_roles else None
        columns = []
        for col in staged.columns:
            rc = resolved.columns.get(col.name) if resolved else None
            cs = stats.columns.get(col.name) if stats else None
            candidate = rc.candidate if rc else (schema.columns[col.name].best if schema else None)
            if candidate is not None and candidate.ambiguous:
                warnings.append(f"{name}.{col.name}: {candidate.format} is ambiguous "
                                f"({'; '.join(candidate.evidence)})")
            if schema is not None:
                warnings.extend(_null_token_warnings(name, schema.columns[col.name]))
            if cs is not None and roles is not None and _duplicated_key(roles, col.name, cs):
                warnings.append(f"{name}.{col.name}: looks like the table's key but {cs.distinct_count:,} "
                                f"distinct values in {cs.count - cs.null_count:,} rows")
            if rc is not None and rc.cast_failures:
                examples = ", ".join(repr(v) for v in rc.failure_examples[:3])
                warnings.append(f"{name}.{col.name}: {rc.cast_failures} value(s) not {rc.data_type} "
                                f"(e.g. {examples}) moved to quarantine")
            meaning = entity.columns.get(col.name) if entity else None
            columns.append(ColumnContext(
                name=col.name,
                data_type=rc.data_type if rc else col.data_type,
                null_ratio=cs.null_ratio if cs else None,
                distinct_count=cs.distinct_count if cs else None,
                semantic_role=meaning.semantic_role if meaning else None,
                key_member=meaning.key_member if meaning else False,
                business_term=meaning.business_term if meaning else None,
                description=meaning.description if meaning else None,
                pii=meaning.pii if meaning else False,
                resolved_by=rc.resolved_by if rc else None,
                type_format=candidate.format if candidate else None,
                unit=(candidate.unit if candidate else None) or (meaning.unit if meaning else None),
                cast_failures=rc.cast_failures if rc else 0,
                statistics=_without_values(cs) if cs and meaning and meaning.pii else cs,
            ))
        if staged.rejected_rows:
            warnings.append(f"{name}: {staged.rejected_rows} malformed source row(s) moved to quarantine")
        role = topology_enrichment.tables.get(name) if topology_enrichment else None
        timed = temporal_enrichment.tables.get(name) if temporal_enrichment else None
        tables.append(TableContext(
            name=name,
            source=staged.source,
            row_count=resolved.row_count if resolved else staged.row_count,
            quarantined_values=resolved.quarantined_values if resolved else 0,
            rejected_rows=staged.rejected_rows,
            columns=tuple(columns),
            role=role.role if role else None,
            key_columns=role.key_columns if role else (),
            temporal=tuple(timed.columns.values()) if timed else (),
            entity_type=entity.entity_type if entity else None,
            description=entity.description if entity else None,
            grain=entity.grain if entity else (),
            quality=quality_assessment.tables.get(name) if quality_assessment else None,
        ))
    relationships = (topology_enrichment.relationships if topology_enrichment
                     else staging.declared_relationships)
    warnings += [w for r in relationships for w in _relationship_warnings(r)]
    if semantic_enrichment is not None:
        warnings += semantic_enrichment.warnings
    return ContextDocument(
        pipeline=pipeline_name,
        generated_at=datetime.now(UTC),
        ontology=ontology.label if ontology else None,
        tables=tuple(tables),
        relationships=relationships,
        proposed_relationships=semantic_enrichment.proposed_relationships if semantic_enrichment else (),
        semantic_provider=_provider(semantic_enrichment),
        llm_usage=semantic_enrichment.usage if semantic_enrichment else {},
        join_paths=topology_enrichment.join_paths if topology_enrichment else (),
        key_agreement=topology_enrichment.key_agreement if topology_enrichment else None,
        dependency_groups=(cross_table_multicollinearity.dependency_groups
                           if cross_table_multicollinearity else ()),
        quality=quality_assessment.summary() if quality_assessment else None,
        sections=step_sections,
        warnings=tuple(warnings),
    )


def _provider(semantic: SemanticEnrichmentResult | None) -> str | None:
    if semantic is None:
        return None
    return f"{semantic.provider} ({semantic.model})" if semantic.model else semantic.provider


def _relationship_warnings(r: Relationship) -> list[str]:
    """Orphaned references: rows whose key is missing from the table they point at (a source
    that declares the key does not enforce it)."""
    if not r.orphan_values:
        return []
    examples = f" (e.g. {', '.join(r.orphan_examples)})" if r.orphan_examples else ""
    declared = " although the source declares the foreign key" if r.source == "declared" else ""
    return [f"{columns_label(r.from_table, r.from_columns)}: {r.orphan_values:,} value(s){examples} in "
            f"{r.orphan_rows:,} row(s) not found in {columns_label(r.to_table, r.to_columns)}{declared}"]


def _null_token_warnings(table: str, column: ColumnSchema) -> list[str]:
    """Missing values written as text ('N/A', '-') beside empty ones: a sign of mixed sources."""
    written = {token: n for token, n in column.null_tokens.items() if token}
    if not written:
        return []
    listed = ", ".join(f"{token!r} ({n:,})" for token, n in written.items())
    return [f"{table}.{column.name}: missing values written as {listed}; read as null"]


def _duplicated_key(roles: TableColumnRoles, column: str, stats: ColumnStatistics) -> bool:
    """A column of the table's own key, or named as its id (`column_roles`: `id`, `category_id`
    in categories), that repeats: what quality's duplicate_key check counts."""
    if roles.own_key != (column,) and column not in roles.named_keys:
        return False
    non_null = stats.count - stats.null_count
    return not stats.distinct_approximate and 0 < stats.distinct_count < non_null


def _without_values(stats: ColumnStatistics) -> ColumnStatistics:
    """Statistics of a personal-data column without its values (min, max, top values): the
    context is meant to be handed to agents and pasted into prompts."""
    return stats.model_copy(update={"min": None, "max": None, "top_values": ()})
