"""One table's temporal analysis: a pure function of its typed Parquet file and statistics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from dataraum_context.models import (
    ColumnStatistics,
    TableStatistics,
    TableTemporal,
    TemporalProfile,
)
from dataraum_context.sql import Family, family, is_number
from dataraum_context.temporal.cadence import cadence, period_name, spacings
from dataraum_context.temporal.columns import primary_time_column, time_columns
from dataraum_context.temporal.gaps import periods
from dataraum_context.temporal.granularity import granularity
from dataraum_context.temporal.trends import measure_trends
from dataraum_context.temporal.view import open_table


def profile_table(path: str | Path, statistics: TableStatistics, measures: Sequence[str], regular_share: float,
                  trend_min_r2: float, seasonality_min_strength: float) -> TableTemporal:
    """Every time column of the table at `path` profiled, the primary one first and with the
    trends of the table's numeric `measures` along it (freshness is added across tables, later)."""
    timed = time_columns(statistics)
    if not timed:
        return TableTemporal(name=statistics.name)
    primary = primary_time_column(timed)
    measured = [c for c in measures if is_number(statistics.columns[c].data_type)]
    with open_table(path, [*timed, *measured], statistics.row_count, len(statistics.columns)) as con:
        profiles = {c: column_profile(con, c, s, regular_share) for c, s in timed.items()}
        trends = measure_trends(con, primary, profiles[primary], measured, trend_min_r2, seasonality_min_strength)
    ordered = {primary: profiles[primary].model_copy(update={"primary": True, "trends": trends})}
    ordered |= {c: p for c, p in profiles.items() if c != primary}
    return TableTemporal(name=statistics.name, primary_column=primary, columns=ordered)


def column_profile(con: duckdb.DuckDBPyConnection, column: str, s: ColumnStatistics,
                   regular_share: float) -> TemporalProfile:
    """Range, granularity, cadence, completeness and gaps of one time column."""
    unit = granularity(con, column, s.data_type)
    base = {"column": column, "data_type": s.data_type, "min": s.min, "max": s.max,
            "span_days": s.date_range_days, "distinct_values": s.distinct_count, "granularity": unit}
    seconds, months = spacings(con, column)
    if len(seconds) == 0:  # a single distinct value
        return TemporalProfile(**base, expected_periods=1, observed_periods=1, completeness=1.0)
    c = cadence(unit, seconds, months, regular_share)
    p = periods(con, column, s.min, c.period)
    after = p.largest_gap_after
    if isinstance(after, datetime) and family(s.data_type) is Family.DATE:
        after = after.date()
    return TemporalProfile(
        **base, cadence=c.name, cadence_seconds=c.median_seconds, regular=c.regular, period=period_name(c.period),
        expected_periods=p.expected, observed_periods=p.observed, completeness=p.completeness,
        gap_count=p.gap_count, largest_gap_periods=p.largest_gap, largest_gap_after=after)
