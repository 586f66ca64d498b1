"""Temporal: how time runs through every date and timestamp column.

Per table (`temporal.table_temporal`), from DuckDB over the typed Parquet: each time column's
range, granularity, cadence, completeness and gaps; along the table's primary time column,
every measure summed per period gives a trend direction and weekday / month-of-year
seasonality hints. Across tables, `temporal_enrichment` adds freshness against one reference
date: `reference_date` when given, otherwise the latest value of the tables' primary time
columns, so that a rerun on the same data gives the same result. The result says which
(`reference_source`).
"""

from __future__ import annotations

from datetime import date, datetime

from dataraum_context import settings
from dataraum_context.models import (
    StatisticsResult,
    TableTemporal,
    TemporalResult,
    TypeResolutionResult,
)
from dataraum_context.step import part_of_step, step
from dataraum_context.temporal import (
    latest_primary_value,
    parse_reference,
    table_temporal,
    with_freshness,
)
from dataraum_context.workspace import Workspace

_STEP = "temporal_enrichment"


@part_of_step(_STEP)
def configured_reference_date(reference_date: str | None = None) -> date | datetime | None:
    """`reference_date` of the config as a date or timestamp; None when not given."""
    return parse_reference(reference_date)


@part_of_step(_STEP)
def temporal_tables(
    statistics_profiling: StatisticsResult,
    type_resolution: TypeResolutionResult,
    workspace: str,
    regular_share: float = settings.REGULAR_SHARE,
    trend_min_r2: float = settings.TREND_MIN_R2,
    seasonality_min_strength: float = settings.SEASONALITY_MIN_STRENGTH,
) -> dict[str, TableTemporal]:
    """Each typed table's time columns profiled, with its measures' trends along the primary
    one; no freshness yet."""
    ws = Workspace(workspace)
    return {name: table_temporal(ws.path(type_resolution.tables[name].path), stats, regular_share,
                                 trend_min_r2, seasonality_min_strength)
            for name, stats in statistics_profiling.tables.items() if name in type_resolution.tables}


@step(scope="column", phase="enrichment", criticality="optional")
def temporal_enrichment(temporal_tables: dict[str, TableTemporal],
                        configured_reference_date: date | datetime | None) -> TemporalResult:
    """Granularity, cadence, completeness, gaps and freshness of every date/timestamp column;
    trends and seasonality of the measures along each table's primary time column."""
    reference, source = configured_reference_date, "config"
    if reference is None:
        reference, source = latest_primary_value(temporal_tables.values()), "data"
    return TemporalResult(reference_date=reference, reference_source=source,
                          tables={name: with_freshness(t, reference) for name, t in temporal_tables.items()})
