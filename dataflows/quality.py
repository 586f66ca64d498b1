"""Quality: the ontology's quality rules and the generic checks, as DuckDB SQL over the typed
tables (docs/QUALITY.md; the logic is in `dataraum_context.quality`). Each check counts its
failing rows exactly, keeps a few as examples and carries the SQL that returns them.

    quality_reference_time  what freshness rules are measured against
    staged_null_tokens      the null tokens written in the staged text columns
    quality_checks          every check with its SQL and values, before anything runs
    table_checks            one table's checks (a Parallelizable item per table)
    table_quality           that table's checks run and scored
    quality_by_table        every table's quality, collected
    quality_assessment      the step: every table's quality and the overall score

A notebook can look at the checks, and run only some of them:

    checks = dr.execute(["quality_checks"])["quality_checks"]
    kept = checks.select(lambda c: c.check != "outlier")
    dr.execute(["quality_assessment"], overrides={"quality_checks": kept})
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hamilton.function_modifiers import cache
from hamilton.htypes import Collect, Parallelizable

from dataraum_context import settings
from dataraum_context.models import (
    ColumnRolesResult,
    QualityAssessmentResult,
    SemanticEnrichmentResult,
    StagingResult,
    StatisticsResult,
    TableQuality,
    TemporalResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.ontology import Ontology
from dataraum_context.quality import (
    QualityChecks,
    StagedNullTokens,
    TableChecks,
    Tables,
    find_null_tokens,
    plan_checks,
    reference_time,
    run_checks,
    score,
)
from dataraum_context.roles import given_or_decided
from dataraum_context.step import part_of_step, step
from dataraum_context.workspace import Workspace


@cache(behavior="recompute")  # without a configured reference_date it reads the clock
@part_of_step("quality_assessment")
def quality_reference_time(temporal_enrichment: TemporalResult | None = None) -> datetime:
    """What freshness rules are measured against: `reference_date` when one is configured
    (read through temporal_enrichment), otherwise the time of the run (UTC)."""
    return reference_time(temporal_enrichment)


@part_of_step("quality_assessment")
def staged_null_tokens(
    type_resolution: TypeResolutionResult,
    workspace: str,
    staging: StagingResult | None = None,
    null_tokens: Sequence[str] = settings.NULL_TOKENS,
) -> StagedNullTokens:
    """The null tokens (`N/A`, `-`) written in the text columns of the staged sources, which
    type resolution read as null: what the `null_tokens` checks look for."""
    return find_null_tokens(Workspace(workspace), staging, type_resolution, null_tokens)


@part_of_step("quality_assessment")
def quality_checks(
    type_resolution: TypeResolutionResult,
    statistics_profiling: StatisticsResult,
    workspace: str,
    ontology: Ontology,
    quality_reference_time: datetime,
    staged_null_tokens: StagedNullTokens,
    column_roles: ColumnRolesResult | None = None,
    semantic_enrichment: SemanticEnrichmentResult | None = None,
    topology_enrichment: TopologyResult | None = None,
    temporal_enrichment: TemporalResult | None = None,
    staging: StagingResult | None = None,
    null_ratio_threshold: float = settings.NULL_RATIO_THRESHOLD,
    iqr_fence_multiplier: float = settings.IQR_FENCE_MULTIPLIER,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
) -> QualityChecks:
    """Every check of every table with its SQL and bound values, before anything runs: the
    ontology's rules bound to columns (the rules with nothing to check, with the reason) and
    the generic checks (repeats in the keys of `column_roles` and of later steps, fences on
    its measures)."""
    roles = given_or_decided(column_roles, statistics_profiling, staging, key_duplicate_tolerance)
    tables = Tables(type_resolution, statistics_profiling, roles, topology_enrichment, semantic_enrichment, staging)
    return plan_checks(tables, ontology, quality_reference_time, staged_null_tokens, Workspace(workspace),
                       topology_enrichment, temporal_enrichment, null_ratio_threshold, iqr_fence_multiplier)


@part_of_step("quality_assessment")
def table_checks(quality_checks: QualityChecks) -> Parallelizable[TableChecks]:
    """Each table's checks, with the versions of the files they read: a table whose files or
    checks changed is checked again, the others are served from the cache."""
    yield from quality_checks.tables.values()


@part_of_step("quality_assessment")
def table_quality(
    table_checks: TableChecks,
    workspace: str,
    quality_example_rows: int = settings.QUALITY_EXAMPLE_ROWS,
) -> TableQuality:
    """One table's checks run on its own files: failing rows counted exactly, examples, the
    reproducing SQL, the table's score."""
    return score.table_quality(table_checks.table, run_checks(table_checks, workspace, quality_example_rows))


@part_of_step("quality_assessment")
def quality_by_table(table_quality: Collect[TableQuality]) -> dict[str, TableQuality]:
    """Every table's quality, collected. (The collecting node takes nothing else: in Hamilton
    1.90 a `Collect` node with a second input hangs when another block runs before it.)"""
    return {t.name: t for t in table_quality}


@step(scope="table", phase="quality", criticality="optional")
def quality_assessment(quality_checks: QualityChecks,
                       quality_by_table: dict[str, TableQuality]) -> QualityAssessmentResult:
    """The ontology's quality rules bound to columns and the generic checks, per table: failing
    rows counted exactly, examples, the reproducing SQL; a score per table (the product, over
    the checks that did not pass, of 1 - severity weight x failing share) and overall (the
    tables' scores weighted by their rows)."""
    tables = {name: quality_by_table[name] for name in quality_checks.tables}
    return QualityAssessmentResult(
        tables=tables,
        score=score.overall_score((quality_checks.tables[name].rows, t.score) for name, t in tables.items()),
        binding=quality_checks.binding, ontology=quality_checks.ontology,
        reference_time=quality_checks.reference_time, not_applicable=quality_checks.not_applicable,
        settings={**quality_checks.settings, "severity_weights": score.SEVERITY_WEIGHTS})
