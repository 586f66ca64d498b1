"""Cadence: the typical spacing of a column's consecutive distinct values.

The cadence is the median spacing, regular when nearly every spacing equals it; it is counted
in calendar months for monthly and longer series (months differ in length). Its period is
what completeness and gaps are counted in: the cadence itself when regular, otherwise the
smallest unit at least as long as the median spacing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import duckdb
import numpy as np

from dataraum_context.temporal.view import VIEW, as_timestamp

DAY = 86_400
FIXED_UNITS = (("second", 1), ("minute", 60), ("hour", 3_600), ("day", DAY), ("week", 7 * DAY))  # in seconds
CALENDAR_UNITS = (("month", 1), ("quarter", 3), ("year", 12))  # in months

Period = tuple[str, float]  # ("s", seconds) of fixed length, or ("m", months) of the calendar


class Cadence(NamedTuple):
    name: str  # "day", "15 minutes", "month", ... or "irregular"
    median_seconds: float
    regular: bool
    period: Period


def spacings(con: duckdb.DuckDBPyConnection, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and calendar months between consecutive distinct values."""
    x = as_timestamp(column)
    rows = con.execute(
        f"SELECT epoch(v) - epoch(lag(v) OVER (ORDER BY v)), "
        f"(year(v) * 12 + month(v)) - (year(lag(v) OVER (ORDER BY v)) * 12 + month(lag(v) OVER (ORDER BY v))) "
        f"FROM (SELECT DISTINCT {x} AS v FROM {VIEW} WHERE {x} IS NOT NULL) "
        f"QUALIFY lag(v) OVER (ORDER BY v) IS NOT NULL"
    ).fetchall()
    if not rows:
        return np.array([]), np.array([])
    seconds, months = zip(*rows, strict=True)
    return np.asarray(seconds, dtype=float), np.asarray(months, dtype=float)


def cadence(granularity: str, seconds: np.ndarray, months: np.ndarray, regular_share: float) -> Cadence:
    """The cadence of a series from its spacings (at least one), regular when at least
    `regular_share` of them equal the median."""
    median = float(np.median(seconds))
    by_month = granularity in ("month", "year") or (
        27 * DAY <= median <= 366 * DAY and np.median(months) >= 1)
    if by_month:
        k = float(np.median(months))
        if float(np.mean(months == k)) >= regular_share:
            return Cadence(period_name(("m", k)), median, True, ("m", k))
    elif float(np.mean(seconds == median)) >= regular_share:
        return Cadence(fixed_name(median), median, True, ("s", median))
    return Cadence("irregular", median, False, _irregular_period(median))


def _irregular_period(median: float) -> Period:
    """The smallest fixed or calendar unit at least as long as `median` seconds."""
    for _unit, length in FIXED_UNITS:
        if length >= median:
            return "s", float(length)
    months_needed = median / (30.44 * DAY)
    for _unit, m in CALENDAR_UNITS:
        if m >= months_needed:
            return "m", float(m)
    return "m", 12.0 * math.ceil(months_needed / 12)


def fixed_name(seconds: float) -> str:
    """`day`, `15 minutes`, `2 weeks`: the largest unit the length is a whole number of."""
    for unit, length in reversed(FIXED_UNITS):
        if seconds >= length and seconds % length == 0:
            k = int(seconds // length)
            return unit if k == 1 else f"{k} {unit}s"
    return f"{seconds:g} seconds"


def period_name(period: Period) -> str:
    kind, size = period
    if kind == "m":
        return next((u for u, m in CALENDAR_UNITS if m == size), f"{size:g} months")
    return fixed_name(size)
