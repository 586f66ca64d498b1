"""temporal_enrichment: granularity per unit, cadence, completeness and gaps, freshness, trends
and seasonality, on typed Parquet written by the tests."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from hamilton import driver
from hamilton.node import NodeType

from dataraum_context.dataflows import temporal as temporal_flow
from dataraum_context.errors import ConfigError
from dataraum_context.models import TableTemporal, TemporalProfile, TemporalResult
from dataraum_context.sample import schemas
from dataraum_context.temporal import latest_primary_value, with_freshness
from dataraum_context.temporal.cadence import DAY, Cadence, cadence, period_name
from dataraum_context.temporal.detrending import without_cycle
from dataraum_context.temporal.direction import direction
from dataraum_context.temporal.gaps import Periods, periods
from dataraum_context.temporal.granularity import finest
from dataraum_context.temporal.seasonality import WEEKDAYS, seasonality
from dataraum_context.temporal.view import VIEW

from support.steps import statistics_profiling, temporal_enrichment

MICROSECONDS = pl.Datetime("us")


def temporal(root: Path, frame: pl.DataFrame, **kwargs) -> TemporalResult:
    types = schemas.Schema(seed=0, style="test", tables={"t": frame}).workspace(root)
    return temporal_enrichment(statistics_profiling(types, str(root)), types, str(root), **kwargs)


def profile(root: Path, values: list, dtype: pl.DataType = MICROSECONDS, **kwargs) -> TemporalProfile:
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


def test_runs_as_a_per_table_hamilton_block_with_freshness_across_tables(tmp_path):
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    frames = {"early": pl.DataFrame({"day": days[:30]}), "late": pl.DataFrame({"day": days}),
              "timeless": pl.DataFrame({"n": [1, 2, 3]})}
    types = schemas.Schema(seed=0, style="test", tables=frames).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    dr = driver.Builder().enable_dynamic_execution(allow_experimental_mode=True).with_modules(temporal_flow).build()
    roles = {name: node.node_role for name, node in dr.graph.nodes.items()}
    assert (roles["table_to_time"], roles["table_temporal"], roles["temporal_tables"]) == (
        NodeType.EXPAND, NodeType.STANDARD, NodeType.COLLECT)
    result = dr.execute(["temporal_enrichment"], inputs={
        "statistics_profiling": stats, "type_resolution": types, "workspace": str(tmp_path)})["temporal_enrichment"]
    assert result == temporal_enrichment(stats, types, str(tmp_path))
    assert list(result.tables) == ["early", "late", "timeless"] and not result.tables["timeless"].columns
    assert result.reference_date == days[-1]  # the latest primary time value of any table
    assert result.tables["early"].columns["day"].freshness_days == 30


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


# --- the pieces of dataraum_context.temporal, on hand-built series ---------------------------


def spacings_of(values: list) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and calendar months between consecutive values, as `cadence.spacings` reads them."""
    seconds = [(b - a).total_seconds() for a, b in itertools.pairwise(values)]
    months = [(b.year * 12 + b.month) - (a.year * 12 + a.month) for a, b in itertools.pairwise(values)]
    return np.array(seconds, dtype=float), np.array(months, dtype=float)


def test_cadence_of_hand_built_spacings():
    days = [START + timedelta(days=i) for i in range(30) if i != 12]  # one day missing
    assert cadence("day", *spacings_of(days), 0.9) == Cadence("day", DAY, True, ("s", DAY))
    quarter_hours = [START + timedelta(minutes=15 * i) for i in range(100)]
    assert cadence("minute", *spacings_of(quarter_hours), 0.9) == Cadence("15 minutes", 900, True, ("s", 900))
    mid_months = [date(2020 + i // 12, i % 12 + 1, 15) for i in range(24)]  # 28 to 31 days apart
    c = cadence("day", *spacings_of(mid_months), 0.9)
    assert (c.name, c.regular, c.period) == ("month", True, ("m", 1.0))
    # irregular: counted in the smallest unit at least as long as the median spacing
    uneven = [START + timedelta(days=d) for d in itertools.accumulate([0, 20, 61, 33, 47, 40, 52, 38, 44])]
    c = cadence("day", *spacings_of(uneven), 0.9)
    assert (c.name, c.regular, c.median_seconds) == ("irregular", False, 42 * DAY)
    assert c.period == ("m", 3.0)  # 42 days: more than a month, so a quarter
    assert [period_name(p) for p in [("s", 3600.0), ("s", 2 * 7 * DAY), ("m", 3.0), ("m", 24.0)]] == [
        "hour", "2 weeks", "quarter", "24 months"]


def view_of(values: list) -> duckdb.DuckDBPyConnection:
    """A connection with `values` as column `v` of the analysed table's view."""
    con = duckdb.connect()
    con.execute("CREATE TABLE hand_built (v TIMESTAMP)")
    con.executemany("INSERT INTO hand_built VALUES (?)", [[v] for v in values])
    con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM hand_built")
    return con


def test_periods_and_gaps_of_a_hand_built_series():
    missing = {5, 6, 20}  # a gap of two hours after hour 4, one of one hour after hour 19
    hours = [START + timedelta(hours=i, minutes=i % 7) for i in range(30) if i not in missing]
    p = periods(view_of(hours + hours[:3]), "v", hours[0], ("s", 3600.0))
    assert p == Periods(expected=30, observed=27, gap_count=2, largest_gap=2,
                        largest_gap_after=START + timedelta(hours=4, minutes=4))
    assert p.completeness == pytest.approx(0.9)
    # calendar months from the first value's month: the 20th of January to the 3rd of June
    months = [datetime(2024, 1, 20), datetime(2024, 2, 3), datetime(2024, 2, 28), datetime(2024, 5, 9),
              datetime(2024, 6, 3)]
    assert periods(view_of(months), "v", months[0], ("m", 1.0)) == Periods(6, 4, 1, 2, datetime(2024, 2, 28))
    complete = periods(view_of(hours[:5]), "v", hours[0], ("s", 3600.0))
    assert (complete.gap_count, complete.largest_gap_after, complete.completeness) == (0, None, 1.0)


def test_granularity_is_the_first_unit_with_values_off_the_next():
    assert finest((0, 0, 0, 4, 9, 9, 9)) == "minute"
    assert finest((0, 0, 0, 0, 0, 0, 0)) == "year"


def test_direction_is_fitted_without_the_weekly_cycle():
    weekday = np.arange(84) % 7
    busy_mondays = np.where(weekday == 0, 300.0, 10.0)
    rising = busy_mondays + np.arange(84) * 0.5
    assert direction(rising, 0.3)[0] == "flat"  # the Mondays hide the trend ...
    assert direction(without_cycle(rising, weekday), 0.3)[0] == "increasing"  # ... until removed
    assert direction(-np.arange(20.0) - 100, 0.3)[0] == "decreasing"
    hint = seasonality("weekday", WEEKDAYS, weekday, rising, 0.2)
    assert hint is not None and (hint.peak, hint.strength > 0.9) == ("Mon", True)
    assert seasonality("weekday", WEEKDAYS, weekday, np.arange(84.0), 0.2) is None  # a line has no cycle


def test_freshness_reference_is_the_latest_primary_value_across_tables():
    def table(name: str, latest: date | datetime) -> TableTemporal:
        return TableTemporal(name=name, primary_column="t", columns={
            "t": TemporalProfile(column="t", data_type="DATE", max=latest, primary=True)})
    tables = [table("a", date(2024, 5, 1)), table("b", datetime(2024, 5, 1, 6)), TableTemporal(name="c")]
    assert latest_primary_value(tables) == datetime(2024, 5, 1, 6)
    assert latest_primary_value([TableTemporal(name="c")]) is None
    fresh = with_freshness(tables[0], datetime(2024, 5, 3, 12))
    assert fresh.columns["t"].freshness_days == 2.5 and fresh.columns["t"].reference_date == datetime(2024, 5, 3, 12)
