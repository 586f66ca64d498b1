"""Trends: each measure (and the row count) along a table's primary time column, with its
direction and its weekday / month-of-year seasonality."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from dataraum_context.models import MeasureTrend, SeasonalityHint, TemporalProfile
from dataraum_context.temporal.detrending import without_cycle
from dataraum_context.temporal.direction import direction
from dataraum_context.temporal.granularity import GRANULARITIES
from dataraum_context.temporal.seasonality import MONTHS, WEEKDAYS, seasonality
from dataraum_context.temporal.series import series, trend_unit

_MONTH_MIN_STRENGTH = 0.5  # month-of-year hints need more: a few years give few points per month


def measure_trends(con: duckdb.DuckDBPyConnection, column: str, profile: TemporalProfile,
                   measures: list[str], min_r2: float, min_strength: float) -> tuple[MeasureTrend, ...]:
    """One trend per measure, `rows` first; none when the column spans too few periods."""
    unit = trend_unit(profile)
    if unit is None:
        return ()
    periods, values = series(con, column, unit, measures)
    if len(periods) > 8:  # the first and last periods are usually partial
        periods, values = periods[1:-1], values[1:-1]
    if len(periods) < 6:
        return ()
    span = profile.span_days or 0
    daily = None
    if GRANULARITIES.index(profile.granularity or "year") <= GRANULARITIES.index("day") and span >= 28:
        daily = series(con, column, "day", measures)
    monthly = series(con, column, "month", measures) if span >= 730 else None
    cycle = _cycle(unit, periods)
    out = []
    for i, measure in enumerate(["rows", *measures]):
        trend, change, r2 = direction(without_cycle(values[:, i], cycle), min_r2)
        hints = [h for h in (_weekdays(daily, i, min_strength), _months(monthly, i, min_strength)) if h]
        out.append(MeasureTrend(measure=measure, period=unit, points=len(periods), direction=trend,
                                relative_change=None if change is None else round(change, 4),
                                r2=None if r2 is None else round(r2, 4), seasonality=tuple(hints)))
    return tuple(out)


def _cycle(unit: str, periods: list[Any]) -> np.ndarray | None:
    """The calendar cycle of the trend's period, removed before the trend is fitted."""
    if unit == "day":
        return np.array([p.weekday() for p in periods])
    if unit == "month" and len(periods) >= 24:
        return np.array([p.month for p in periods])
    return None


def _weekdays(daily: tuple[list[Any], np.ndarray] | None, i: int, min_strength: float) -> SeasonalityHint | None:
    if daily is None:
        return None
    days, values = daily
    return seasonality("weekday", WEEKDAYS, np.array([d.weekday() for d in days]), values[:, i], min_strength)


def _months(monthly: tuple[list[Any], np.ndarray] | None, i: int, min_strength: float) -> SeasonalityHint | None:
    if monthly is None:
        return None
    months, values = monthly
    return seasonality("month", MONTHS, np.array([m.month - 1 for m in months]), values[:, i],
                       max(min_strength, _MONTH_MIN_STRENGTH))
