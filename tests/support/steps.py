"""The per-table steps as plain functions over all tables, with the signatures of their inputs.

In the DAG each of these steps is a per-table block (a `Parallelizable` item, per-table nodes,
and the step collecting them); the tests that exercise one step on hand-made inputs call the
same node functions here, table by table, and collect like Hamilton does. Topology, a chain of
nodes, is called node by node.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dataraum_context.dataflows import schema_profiling as _profiling
from dataraum_context.dataflows import staging as _staging
from dataraum_context.dataflows import statistics as _statistics
from dataraum_context.dataflows import temporal as _temporal
from dataraum_context.dataflows import topology as _topology
from dataraum_context.dataflows import type_resolution as _typing
from dataraum_context.dataflows.staging import SourceManifest
from dataraum_context.models import (
    SchemaProfilingResult,
    StagingResult,
    StatisticsResult,
    TemporalResult,
    TopologyResult,
    TypeResolutionResult,
)


def staging(source_manifest: SourceManifest, workspace: str) -> StagingResult:
    items = _staging.table_to_stage(source_manifest)
    return _staging.staging([_staging.table_staging(t, workspace) for t in items], source_manifest)


def schema_profiling(staging: StagingResult, workspace: str, **options: Any) -> SchemaProfilingResult:
    items = _profiling.table_to_profile(staging)
    return _profiling.schema_profiling([_profiling.table_schema(t, workspace, **options) for t in items])


def type_resolution(schema_profiling: SchemaProfilingResult, staging: StagingResult, workspace: str,
                    type_overrides: dict[str, str] | None = None, **options: Any) -> TypeResolutionResult:
    items = _typing.table_to_type(staging, schema_profiling, type_overrides)
    return _typing.type_resolution([_typing.resolved_table(t, workspace, **options) for t in items])


def statistics_profiling(type_resolution: TypeResolutionResult, workspace: str, **options: Any) -> StatisticsResult:
    items = _statistics.table_to_describe(type_resolution)
    return _statistics.statistics_profiling([_statistics.table_statistics(t, workspace, **options) for t in items])


def temporal_enrichment(statistics_profiling: StatisticsResult, type_resolution: TypeResolutionResult,
                        workspace: str, reference_date: str | None = None, **options: Any) -> TemporalResult:
    reference = _temporal.configured_reference_date(reference_date)
    items = _temporal.table_to_time(statistics_profiling, type_resolution)
    tables = _temporal.temporal_tables([_temporal.table_temporal(t, workspace, **options) for t in items])
    return _temporal.temporal_enrichment(tables, reference)


def topology_enrichment(statistics_profiling: StatisticsResult, type_resolution: TypeResolutionResult,
                        workspace: str, staging: StagingResult | None = None, **options: Any) -> TopologyResult:
    """The topology step through its intermediate nodes; `options` (`min_inclusion=...`)
    go to the nodes that read them."""
    candidates = _topology.relationship_candidates(statistics_profiling, type_resolution, staging,
                                                   **_read_by(_topology.relationship_candidates, options))
    measured = _topology.measured_relationships(candidates, type_resolution, workspace,
                                                **_read_by(_topology.measured_relationships, options))
    return _topology.topology_enrichment(candidates, measured, type_resolution, staging,
                                         **_read_by(_topology.topology_enrichment, options))


def _read_by(node: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The options that are parameters of the node."""
    return {k: v for k, v in options.items() if k in inspect.signature(node).parameters}
