"""temporal_enrichment: granularity per unit, cadence, completeness and gaps, freshness, trends
and seasonality, on typed Parquet written by the tests."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from support.steps import statistics_profiling
from dataraum_context.dataflows.temporal import temporal_enrichment
from dataraum_context.errors import ConfigError
from dataraum_context.models import TemporalProfile, TemporalResult
from dataraum_context.sample import schemas


def temporal(root: Path, frame: pl.DataFrame, **kwargs) -> TemporalResult:
    types = schemas.Schema(seed=0, style="test", tables={"t": frame}).workspace(root)
    return temporal_enrichment(statistics_profiling(types, str(root)), types, str(root), **kwargs)


def profile(root: Path, values: list, dtype: pl.DataType = pl.Datetime("us"), **kwargs) -> TemporalProfile:
    return temporal(root, pl.DataFrame({"v": pl.Series(values, dtype=dtype)}), **kwargs).tables["t"].columns["v"]


START = datetime(2024, 3, 4, 0, 0, 0)  # a Monday


@pytest.mark.parametrize("unit, step", [
    ("microsecond", timedelta(seconds=1, microseconds=7)),
    ("millisecond", timedelta(seconds=1, milliseconds=250)),
    ("second", timedelta(seconds=13)),
    ("minute", timedelta(minutes=7)),
    ("hour", timedelta(hours=5)),
    ("day", timedelta(days=3)),  # timestamps that all fall on midnight
])
def test_granularity_of_timestamps(tmp_path, unit, step):
    values = [START + step * i for i in range(1, 40)]
    assert profile(tmp_path, values).granularity == unit


def test_granularity_of_dates_months_and_years(tmp_path):
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(30)]
    assert profile(tmp_path / "d", days, pl.Date).granularity == "day"
    months = [date(2020 + i // 12, i % 12 + 1, 1) for i in range(30)]
    assert profile(tmp_path / "m", months, pl.Date).granularity == "month"
    years = [date(1990 + i, 1, 1) for i in range(30)]
    assert profile(tmp_path / "y", years, pl.Date).granularity == "year"


def test_regular_daily_series_with_gaps(tmp_path):
    missing = {10, 50, 51}  # one gap of one day, one of two
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(100) if i not in missing]
    p = profile(tmp_path, days + days[:5], pl.Date)  # repeated values do not matter
    assert (p.cadence, p.regular, p.period) == ("day", True, "day")
    assert (p.expected_periods, p.observed_periods) == (100, 97)
    assert p.completeness == pytest.approx(0.97)
    assert (p.gap_count, p.largest_gap_periods) == (2, 2)
    assert p.largest_gap_after == date(2024, 2, 19)  # day 49
    assert p.span_days == 99


@pytest.mark.parametrize("step, cadence, period", [
    (timedelta(minutes=15), "15 minutes", "15 minutes"),
    (timedelta(hours=1), "hour", "hour"),
    (timedelta(days=7), "week", "week"),
])
def test_regular_fixed_cadences(tmp_path, step, cadence, period):
    p = profile(tmp_path, [START + step * i for i in range(60)])
    assert (p.cadence, p.regular, p.period, p.completeness, p.gap_count) == (cadence, True, period, 1.0, 0)


def test_monthly_and_quarterly_series_count_calendar_periods(tmp_path):
    months = [date(2020 + i // 12, i % 12 + 1, 15) for i in range(36) if i != 20]  # 15th of each month
    p = profile(tmp_path / "m", months, pl.Date)
    assert (p.granularity, p.cadence, p.regular) == ("day", "month", True)
    assert (p.expected_periods, p.observed_periods, p.gap_count) == (36, 35, 1)
    quarters = [date(2015 + i // 4, 3 * (i % 4) + 1, 1) for i in range(24)]
    q = profile(tmp_path / "q", quarters, pl.Date)
    assert (q.granularity, q.cadence, q.regular, q.completeness) == ("month", "quarter", True, 1.0)


def test_irregular_series(tmp_path):
    rng = random.Random(1)
    values = sorted(START + timedelta(seconds=rng.randrange(30 * 86400)) for _ in range(500))
    p = profile(tmp_path, values)
    assert p.granularity == "second"
    assert p.cadence == "irregular" and not p.regular
    assert p.period == "hour"  # the smallest unit at least as long as the median spacing (~1.4 h)
    assert 0.3 < p.completeness < 0.8 and p.gap_count > 0


def test_freshness_against_the_data_or_a_given_reference(tmp_path):
    frame = pl.DataFrame({"created": [date(2024, 1, 1) + timedelta(days=i) for i in range(30)],
                          "closed": [date(2024, 1, 1) + timedelta(days=i) for i in range(20)] + [None] * 10})
    data = temporal(tmp_path / "a", frame)
    assert (data.reference_source, data.reference_date) == ("data", date(2024, 1, 30))
    t = data.tables["t"]
    assert t.primary_column == "created"  # the column most rows have a value in
    assert t.columns["created"].freshness_days == 0 and t.columns["closed"].freshness_days == 10
    given = temporal(tmp_path / "b", frame, reference_date="2024-03-01")
    assert given.reference_source == "config"
    assert given.tables["t"].columns["created"].freshness_days == 31
    with pytest.raises(ConfigError, match="reference_date"):
        temporal(tmp_path / "c", frame, reference_date="yesterday")


def test_trend_and_weekday_seasonality_of_measures(tmp_path):
    rng = random.Random(2)
    rows = []
    for day in range(120):
        d = date(2024, 1, 1) + timedelta(days=day)  # a Monday
        for _ in range(20 if d.weekday() == 0 else 5):  # Mondays are busy
            rows.append((d, 100 + 3 * day + rng.random(), rng.random()))
    frame = pl.DataFrame(rows, schema=["day", "revenue", "noise"], orient="row")
    t = temporal(tmp_path, frame).tables["t"].columns["day"]
    trends = {m.measure: m for m in t.trends}
    assert trends["rows"].direction == "flat"
    assert trends["rows"].seasonality[0].cycle == "weekday" and trends["rows"].seasonality[0].peak == "Mon"
    weekly_revenue = trends["revenue"]
    assert weekly_revenue.period == "day" and weekly_revenue.direction == "increasing"
    assert weekly_revenue.relative_change > 0.5
    assert trends["noise"].direction == "flat"


def test_decreasing_monthly_trend_and_month_seasonality(tmp_path):
    rows = []
    for m in range(48):
        d = date(2019 + m // 12, m % 12 + 1, 1)
        rows += [(d, 1000 - 15 * m + (400 if d.month == 12 else 0))] * 3
    frame = pl.DataFrame(rows, schema=["month", "sales"], orient="row")
    t = temporal(tmp_path, frame).tables["t"].columns["month"]
    sales = next(m for m in t.trends if m.measure == "sales")
    assert sales.period == "month" and sales.direction == "decreasing"
    assert any(h.cycle == "month" and h.peak == "Dec" for h in sales.seasonality)
