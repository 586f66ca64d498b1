"""Temporal: how time runs through every date and timestamp column.

A per-table block: `table_to_time` yields each typed table with its statistics, and
`table_temporal` profiles one (`temporal.profile_table`, from DuckDB over its typed Parquet):
each time column's range, granularity, cadence, completeness and gaps; along the table's
primary time column, every measure summed per period gives a trend direction and weekday /
month-of-year seasonality hints. Freshness is measured across tables, after collecting: against
`reference_date` when given, otherwise against the latest value of the tables' primary time
columns, so that a rerun on the same data gives the same result. The result says which
(`reference_source`).
"""

from __future__ import annotations

from datetime import date, datetime

from hamilton.htypes import Collect, Parallelizable

from dataraum_context import settings
from dataraum_context.models import (
    ColumnRolesResult,
    StatisticsResult,
    TableTemporal,
    TableToTime,
    TemporalResult,
    TypeResolutionResult,
)
from dataraum_context.roles import given_or_decided
from dataraum_context.step import part_of_step, step
from dataraum_context.temporal import (
    latest_primary_value,
    parse_reference,
    profile_table,
    with_freshness,
)
from dataraum_context.workspace import Workspace

_STEP = "temporal_enrichment"


@part_of_step(_STEP)
def configured_reference_date(reference_date: str | None = None) -> date | datetime | None:
    """`reference_date` of the config as a date or timestamp; None when not given."""
    return parse_reference(reference_date)


@part_of_step(_STEP)
def table_to_time(statistics_profiling: StatisticsResult, type_resolution: TypeResolutionResult,
                  column_roles: ColumnRolesResult | None = None) -> Parallelizable[TableToTime]:
    """Each typed table with its statistics and the measures of `column_roles` (and its file's
    version: a retyped table is analysed again)."""
    roles = given_or_decided(column_roles, statistics_profiling, None, settings.KEY_DUPLICATE_TOLERANCE)
    for name, statistics in statistics_profiling.tables.items():
        if name in type_resolution.tables:
            yield TableToTime(table=type_resolution.tables[name], statistics=statistics,
                              measures=roles.tables[name].measures)


@part_of_step(_STEP)
def table_temporal(
    table_to_time: TableToTime,
    workspace: str,
    regular_share: float = settings.REGULAR_SHARE,
    trend_min_r2: float = settings.TREND_MIN_R2,
    seasonality_min_strength: float = settings.SEASONALITY_MIN_STRENGTH,
) -> TableTemporal:
    """One table's time columns profiled, the primary one first with the trends of the table's
    measures along it; no freshness yet."""
    return profile_table(Workspace(workspace).path(table_to_time.table.path), table_to_time.statistics,
                         table_to_time.measures, regular_share, trend_min_r2, seasonality_min_strength)


@part_of_step(_STEP)
def temporal_tables(table_temporal: Collect[TableTemporal]) -> dict[str, TableTemporal]:
    """Every table's time profiles, by table."""
    return {t.name: t for t in table_temporal}


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
