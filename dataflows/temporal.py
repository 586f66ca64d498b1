"""Temporal: how time runs through every date and timestamp column.

Per column, from DuckDB over the typed Parquet: the range; the granularity (the finest unit
the values are recorded at: a DATE, or timestamps all at midnight, is `day`; timestamps whose
seconds are all zero are `minute`; dates all on the 1st are `month`); the cadence (the median
spacing of consecutive distinct values, regular when nearly every spacing equals it);
completeness and gaps counted in periods of that cadence (for an irregular series, in the
smallest calendar unit at least as long as the median spacing); freshness against a reference
date. Along each table's primary time column, every measure summed per period gives a trend
direction and weekday / month-of-year seasonality hints.

The reference date is `reference_date` when given; otherwise the latest value of the tables'
primary time columns, so that a rerun on the same data gives the same result (today's date
would not). The result says which (`reference_source`).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from dataraum_context import settings
from dataraum_context.errors import ConfigError
from dataraum_context.models import (
    ColumnStatistics,
    MeasureTrend,
    SeasonalityHint,
    StatisticsResult,
    TableTemporal,
    TemporalProfile,
    TemporalResult,
    TypeResolutionResult,
)
from dataraum_context.naming import column_name
from dataraum_context.sql import connect, quote_ident, quote_literal
from dataraum_context.step import step
from dataraum_context.workspace import Workspace

_TEMPORAL = ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE")
_NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                     "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")
_DAY = 86_400
# fixed-length units, in seconds, finest first
_UNITS = [("second", 1), ("minute", 60), ("hour", 3_600), ("day", _DAY), ("week", 7 * _DAY)]
# calendar units, in months
_CALENDAR = [("month", 1), ("quarter", 3), ("year", 12)]
_TIME_WORDS = ("date", "time", "created", "timestamp", "day", "at", "when", "period", "ts")
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_VIEW = "_timed"


@step(scope="column", phase="enrichment", criticality="optional")
def temporal_enrichment(
    statistics_profiling: StatisticsResult,
    type_resolution: TypeResolutionResult,
    workspace: str,
    reference_date: str | None = None,
    regular_share: float = settings.REGULAR_SHARE,
    trend_min_r2: float = settings.TREND_MIN_R2,
    seasonality_min_strength: float = settings.SEASONALITY_MIN_STRENGTH,
) -> TemporalResult:
    """Granularity, cadence, completeness, gaps and freshness of every date/timestamp column;
    trends and seasonality of the measures along each table's primary time column."""
    reference = _parse_reference(reference_date)
    ws = Workspace(workspace)
    con = connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        tables: dict[str, TableTemporal] = {}
        for name, stats in statistics_profiling.tables.items():
            if name not in type_resolution.tables:
                continue
            timed = {c: s for c, s in stats.columns.items()
                     if s.data_type.upper() in _TEMPORAL and s.count > s.null_count}
            if not timed:
                tables[name] = TableTemporal(name=name)
                continue
            con.execute(f"CREATE OR REPLACE TEMP VIEW {_VIEW} AS SELECT * FROM "
                        f"read_parquet({quote_literal(str(ws.path(type_resolution.tables[name].path)))})")
            primary = _primary(timed)
            profiles = {c: _profile(con, c, s, regular_share) for c, s in timed.items()}
            measures = _measures(name, stats.columns)
            profiles[primary] = profiles[primary].model_copy(update={
                "primary": True,
                "trends": _trends(con, primary, profiles[primary], measures, trend_min_r2,
                                  seasonality_min_strength)})
            ordered = {primary: profiles[primary]} | {c: p for c, p in profiles.items() if c != primary}
            tables[name] = TableTemporal(name=name, primary_column=primary, columns=ordered)
    finally:
        con.close()
    source = "config"
    if reference is None:
        source = "data"
        latest = [t.columns[t.primary_column].max for t in tables.values() if t.primary_column]
        reference = max(latest, key=_as_datetime) if latest else None
    return TemporalResult(reference_date=reference, reference_source=source, tables={
        name: t.model_copy(update={"columns": {c: _with_freshness(p, reference)
                                               for c, p in t.columns.items()}})
        for name, t in tables.items()})


def _parse_reference(text: str | date | None) -> date | datetime | None:
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"reference_date: {text!r} is not an ISO date or timestamp "
                          "(e.g. 2024-06-30 or 2024-06-30T12:00:00)") from None


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else \
            value.astimezone(tz=None).replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)


def _with_freshness(p: TemporalProfile, reference: date | datetime | None) -> TemporalProfile:
    if reference is None or p.max is None:
        return p
    lag = (_as_datetime(reference) - _as_datetime(p.max)) / timedelta(days=1)
    return p.model_copy(update={"reference_date": reference, "freshness_days": lag})


def _primary(timed: dict[str, ColumnStatistics]) -> str:
    """The column most rows have a value in; a time-like name, then more distinct values,
    break ties."""
    def rank(item: tuple[str, ColumnStatistics]) -> tuple:
        name, s = item
        words = set(column_name("", name, None).core) | {name.lower()}
        return (s.count - s.null_count, any(w in words for w in _TIME_WORDS), s.distinct_count)
    return max(timed.items(), key=rank)[0]


def _measures(table: str, columns: dict[str, ColumnStatistics]) -> list[str]:
    """Numeric columns that are quantities, not identifiers or flags."""
    out = []
    for name, s in columns.items():
        non_null = s.count - s.null_count
        if not s.data_type.upper().startswith(_NUMERIC_PREFIXES) or non_null == 0:
            continue
        is_int = not s.data_type.upper().startswith(("FLOAT", "DOUBLE", "DECIMAL"))
        if s.distinct_count <= 2 or column_name(table, name, None).key_suffix:
            continue
        if is_int and s.distinct_count == non_null:  # a unique integer: an identifier
            continue
        out.append(name)
    return out


# --- one column ----------------------------------------------------------------------------


def _ts(column: str) -> str:
    return f"CAST({quote_ident(column)} AS TIMESTAMP)"


def _granularity(con: duckdb.DuckDBPyConnection, column: str, data_type: str) -> str:
    x = _ts(column)
    if data_type.upper() == "DATE":
        finer: tuple = (0, 0, 0, 0, 0)
        day, month = con.execute(
            f"SELECT count(*) FILTER (WHERE day({x}) != 1), count(*) FILTER (WHERE month({x}) != 1) "
            f"FROM {_VIEW} WHERE {x} IS NOT NULL").fetchone()
    else:
        *finer, day, month = con.execute(
            f"SELECT count(*) FILTER (WHERE epoch_us({x}) % 1000 != 0), "
            f"count(*) FILTER (WHERE epoch_us({x}) % 1000000 != 0), "
            f"count(*) FILTER (WHERE second({x}) != 0), count(*) FILTER (WHERE minute({x}) != 0), "
            f"count(*) FILTER (WHERE hour({x}) != 0), count(*) FILTER (WHERE day({x}) != 1), "
            f"count(*) FILTER (WHERE month({x}) != 1) FROM {_VIEW} WHERE {x} IS NOT NULL").fetchone()
    for unit, n in zip(("microsecond", "millisecond", "second", "minute", "hour", "day", "month"),
                       (*finer, day, month)):
        if n:
            return unit
    return "year"


def _spacings(con: duckdb.DuckDBPyConnection, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and calendar months between consecutive distinct values."""
    x = _ts(column)
    rows = con.execute(
        f"SELECT epoch(v) - epoch(lag(v) OVER (ORDER BY v)), "
        f"(year(v) * 12 + month(v)) - (year(lag(v) OVER (ORDER BY v)) * 12 + month(lag(v) OVER (ORDER BY v))) "
        f"FROM (SELECT DISTINCT {x} AS v FROM {_VIEW} WHERE {x} IS NOT NULL) QUALIFY lag(v) OVER (ORDER BY v) IS NOT NULL"
    ).fetchall()
    if not rows:
        return np.array([]), np.array([])
    seconds, months = zip(*rows)
    return np.asarray(seconds, dtype=float), np.asarray(months, dtype=float)


def _fixed_name(seconds: float) -> str:
    for unit, length in reversed(_UNITS):
        if seconds >= length and seconds % length == 0:
            k = int(seconds // length)
            return unit if k == 1 else f"{k} {unit}s"
    return f"{seconds:g} seconds"


def _cadence(granularity: str, seconds: np.ndarray, months: np.ndarray,
             regular_share: float) -> tuple[str, float, bool, tuple[str, float]]:
    """Named cadence, its median length in seconds, whether it is regular, and the period
    (`("s", seconds)` fixed or `("m", months)` calendar) completeness is counted in."""
    median = float(np.median(seconds))
    by_month = granularity in ("month", "year") or (
        27 * _DAY <= median <= 366 * _DAY and np.median(months) >= 1)
    if by_month:
        k = float(np.median(months))
        share = float(np.mean(months == k))
        name = next((u for u, m in _CALENDAR if m == k), f"{k:g} months")
        if share >= regular_share:
            return name, median, True, ("m", k)
    else:
        share = float(np.mean(seconds == median))
        if share >= regular_share:
            return _fixed_name(median), median, True, ("s", median)
    # irregular: count in the smallest calendar unit at least as long as the median spacing
    for unit, length in _UNITS:
        if length >= median:
            return "irregular", median, False, ("s", float(length))
    months_needed = median / (30.44 * _DAY)
    for unit, m in _CALENDAR:
        if m >= months_needed:
            return "irregular", median, False, ("m", float(m))
    return "irregular", median, False, ("m", 12.0 * math.ceil(months_needed / 12))


def _period_name(period: tuple[str, float]) -> str:
    kind, size = period
    if kind == "m":
        return next((u for u, m in _CALENDAR if m == size), f"{size:g} months")
    return _fixed_name(size)


def _periods(con: duckdb.DuckDBPyConnection, column: str, lo: Any,
             period: tuple[str, float]) -> tuple[int, int, int, int, Any]:
    """Expected and observed periods, the number of gaps, the largest, and the value before it."""
    x = _ts(column)
    kind, size = period
    if kind == "m":
        bucket = f"floor(((year(v) * 12 + month(v)) - (year(?::TIMESTAMP) * 12 + month(?::TIMESTAMP))) / {size})"
        params = [lo, lo]
    else:
        bucket = f"floor((epoch(v) - epoch(?::TIMESTAMP)) / {size})"
        params = [lo]
    row = con.execute(
        f"WITH b AS (SELECT {bucket} AS bucket, max(v) AS last FROM "
        f"(SELECT DISTINCT {x} AS v FROM {_VIEW} WHERE {x} IS NOT NULL) GROUP BY bucket), "
        f"g AS (SELECT bucket - lag(bucket) OVER (ORDER BY bucket) - 1 AS missing, "
        f"lag(last) OVER (ORDER BY bucket) AS after FROM b) "
        f"SELECT (SELECT count(*) FROM b), (SELECT max(bucket) FROM b) + 1, "
        f"count(*) FILTER (WHERE missing > 0), coalesce(max(missing), 0), arg_max(after, missing) FROM g",
        params).fetchone()
    observed, expected, gaps, largest, after = row
    return int(expected or 0), int(observed), int(gaps), int(largest), after if largest else None


def _profile(con: duckdb.DuckDBPyConnection, column: str, s: ColumnStatistics,
             regular_share: float) -> TemporalProfile:
    granularity = _granularity(con, column, s.data_type)
    base = dict(column=column, data_type=s.data_type, min=s.min, max=s.max,
                span_days=s.date_range_days, distinct_values=s.distinct_count, granularity=granularity)
    seconds, months = _spacings(con, column)
    if len(seconds) == 0:  # a single distinct value
        return TemporalProfile(**base, expected_periods=1, observed_periods=1, completeness=1.0)
    cadence, median, regular, period = _cadence(granularity, seconds, months, regular_share)
    expected, observed, gaps, largest, after = _periods(con, column, s.min, period)
    if isinstance(after, datetime) and s.data_type.upper() == "DATE":
        after = after.date()
    return TemporalProfile(
        **base, cadence=cadence, cadence_seconds=median, regular=regular, period=_period_name(period),
        expected_periods=expected, observed_periods=observed,
        completeness=observed / expected if expected else None,
        gap_count=gaps, largest_gap_periods=largest, largest_gap_after=after)


# --- trends and seasonality ----------------------------------------------------------------


_TREND_UNITS = [("hour", 3_600), ("day", _DAY), ("week", 7 * _DAY), ("month", 30.44 * _DAY),
                ("quarter", 91.3 * _DAY), ("year", 365.25 * _DAY)]
_ORDER = ["microsecond", "millisecond", "second", "minute", "hour", "day", "month", "year"]


def _trend_unit(profile: TemporalProfile, max_points: int = 200) -> str | None:
    """The finest unit, no finer than the data, that gives at most `max_points` periods."""
    span = (profile.span_days or 0) * _DAY
    for unit, length in _TREND_UNITS:
        finer_than_data = _ORDER.index(profile.granularity or "year") > _ORDER.index(
            {"week": "day", "quarter": "month"}.get(unit, unit))
        if not finer_than_data and span / length <= max_points:
            return unit
    return None


def _series(con: duckdb.DuckDBPyConnection, column: str, unit: str,
            measures: list[str]) -> tuple[list[Any], np.ndarray]:
    """Per period from the first to the last: row count and the sum of each measure (zero in
    periods without rows)."""
    x = _ts(column)
    sums = "".join(f", sum(CAST({quote_ident(m)} AS DOUBLE))" for m in measures)
    rows = con.execute(
        f"WITH s AS (SELECT date_trunc('{unit}', {x}) AS p, count(*) AS n{sums} FROM {_VIEW} "
        f"WHERE {x} IS NOT NULL GROUP BY p), "
        f"r AS (SELECT unnest(generate_series(min(p), max(p), INTERVAL 1 {unit})) AS p FROM s) "
        f"SELECT * FROM r LEFT JOIN s USING (p) ORDER BY p").fetchall()
    periods = [r[0] for r in rows]
    values = np.array([[v if v is not None else 0.0 for v in r[1:]] for r in rows], dtype=float)
    return periods, values


def _linear(y: np.ndarray) -> np.ndarray:
    t = np.arange(len(y), dtype=float)
    slope, intercept = np.polyfit(t, y, 1)
    return slope * t + intercept


def _without_cycle(y: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """The series with each cycle position's mean deviation removed (a weekday effect must not
    hide a trend)."""
    if groups is None:
        return y
    out = y.astype(float).copy()
    for g in np.unique(groups):
        out[groups == g] -= y[groups == g].mean() - y.mean()
    return out


def _direction(y: np.ndarray, min_r2: float) -> tuple[str, float | None, float | None]:
    n = len(y)
    if n < 3 or not np.isfinite(y).all() or np.ptp(y) == 0:
        return "flat", 0.0, None
    fitted = _linear(y)
    slope = (fitted[-1] - fitted[0]) / (n - 1)
    r2 = 1 - float(np.sum((y - fitted) ** 2)) / float(np.sum((y - y.mean()) ** 2))
    level = float(np.mean(np.abs(y)))
    change = float(slope * (n - 1) / level) if level else None
    if change is not None and r2 >= min_r2 and abs(change) >= 0.1:
        return ("increasing" if change > 0 else "decreasing"), change, r2
    return "flat", change, r2


def _seasonality(cycle: str, labels: list[str], groups: np.ndarray, y: np.ndarray,
                 min_strength: float) -> SeasonalityHint | None:
    """Share of the detrended series' variance explained by the cycle's means (eta squared)."""
    if len(y) < 3:
        return None
    y = y - _linear(y)
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return None
    present = np.unique(groups)
    means = {g: float(y[groups == g].mean()) for g in present}
    between = sum(float(np.sum(groups == g)) * (means[g] - y.mean()) ** 2 for g in present)
    strength = between / total
    if strength < min_strength:
        return None
    return SeasonalityHint(cycle=cycle, strength=round(strength, 4),
                           peak=labels[max(means, key=means.get)], trough=labels[min(means, key=means.get)])


def _trends(con: duckdb.DuckDBPyConnection, column: str, profile: TemporalProfile, measures: list[str],
            min_r2: float, min_strength: float) -> tuple[MeasureTrend, ...]:
    unit = _trend_unit(profile)
    if unit is None:
        return ()
    periods, values = _series(con, column, unit, measures)
    if len(periods) > 8:  # the first and last periods are usually partial
        periods, values = periods[1:-1], values[1:-1]
    if len(periods) < 6:
        return ()
    daily = None
    if _ORDER.index(profile.granularity or "year") <= _ORDER.index("day") and (profile.span_days or 0) >= 28:
        daily = _series(con, column, "day", measures)
    monthly = None
    if (profile.span_days or 0) >= 730:
        monthly = _series(con, column, "month", measures)
    cycle = None  # the trend is fitted with the calendar cycle of its period removed
    if unit == "day":
        cycle = np.array([p.weekday() for p in periods])
    elif unit == "month" and len(periods) >= 24:
        cycle = np.array([p.month for p in periods])
    out = []
    for i, measure in enumerate(["rows", *measures]):
        direction, change, r2 = _direction(_without_cycle(values[:, i], cycle), min_r2)
        hints = []
        if daily is not None:
            days, dv = daily
            hint = _seasonality("weekday", _WEEKDAYS, np.array([d.weekday() for d in days]), dv[:, i], min_strength)
            hints += [hint] if hint else []
        if monthly is not None:
            months, mv = monthly
            hint = _seasonality("month", _MONTHS, np.array([m.month - 1 for m in months]), mv[:, i],
                                max(min_strength, 0.5))
            hints += [hint] if hint else []
        out.append(MeasureTrend(measure=measure, period=unit, points=len(periods), direction=direction,
                                relative_change=None if change is None else round(change, 4),
                                r2=None if r2 is None else round(r2, 4), seasonality=tuple(hints)))
    return tuple(out)
