"""statistics_profiling against a polars reference, on typed Parquet written by the tests."""

from __future__ import annotations

import json
import math
import random
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from unittest.mock import patch

import duckdb
import polars as pl
import pytest
from hamilton import driver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataraum_context import sql, workspace
from dataraum_context.dataflows import statistics
from dataraum_context.dataflows.statistics import QUANTILES, _group_counts
from dataraum_context.models import (
    ColumnStatistics,
    ResolvedColumn,
    ResolvedTable,
    TypeResolutionResult,
)
from dataraum_context.sql import quote_literal

from support.steps import statistics_profiling


def typed_tables(root: Path, **frames: pl.DataFrame) -> TypeResolutionResult:
    """Each frame as `tables/<name>.parquet`, resolved with the types DuckDB reads back."""
    tables = {}
    for name, frame in frames.items():
        path = root / "tables" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path)
        tables[name] = resolved(root, name, frame.height)
    return TypeResolutionResult(tables=tables)


def resolved(root: Path, name: str, rows: int) -> ResolvedTable:
    rel = duckdb.connect().sql(
        f"FROM read_parquet({quote_literal(str(root / 'tables' / f'{name}.parquet'))})")
    return ResolvedTable(
        name=name, path=f"tables/{name}.parquet", quarantine_path=None, row_count=rows,
        source_rows=rows, quarantined_values=0, rejected_rows=0,
        columns={c: ResolvedColumn(name=c, data_type=str(t), source_type=str(t),
                                   resolved_by="source")
                 for c, t in zip(rel.columns, rel.types, strict=True)})


def profile(frame: pl.DataFrame, long: bool | None = None, **kwargs) -> dict[str, ColumnStatistics]:
    """The statistics of `frame`; in long format (True), wide (False) or as its size says (None)."""
    shape = {True: {"LONG_UP_TO_ROWS": 10**9, "WIDE_COLUMNS": 1},
             False: {"LONG_UP_TO_ROWS": 0, "LONG_NARROW_UP_TO_ROWS": 0},
             None: {"LONG_UP_TO_ROWS": statistics.LONG_UP_TO_ROWS}}[long]
    with tempfile.TemporaryDirectory() as root, patch.multiple(statistics, **shape):
        result = statistics_profiling(typed_tables(Path(root), t=frame), root, **kwargs)
    json.loads(result.model_dump_json())  # serialisable, whatever the data
    return result.tables["t"].columns


def close(actual: float | None, expected: float | None, rel: float = 1e-9) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None
    return actual is not None and math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-9)


def same(a: dict[str, ColumnStatistics], b: dict[str, ColumnStatistics]) -> bool:
    """The same statistics, floats to 1e-12 (DuckDB's parallel sums vary in their last digits)."""
    def alike(x, y) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300) or (math.isnan(x) and math.isnan(y))
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(alike(x[k], y[k]) for k in x)
        if isinstance(x, list | tuple) and isinstance(y, list | tuple):
            return len(x) == len(y) and all(alike(u, v) for u, v in zip(x, y, strict=True))
        return x == y
    return alike({n: c.model_dump() for n, c in a.items()}, {n: c.model_dump() for n, c in b.items()})


# --- property: equal to polars -------------------------------------------------------------


def column(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), values, values)  # nulls among the values


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 40))
    ints = st.one_of(st.integers(-3, 3), st.integers(-10**12, 10**12))
    floats = st.one_of(st.sampled_from([0.0, 1.5, -2.25]),
                       st.floats(-1e6, 1e6, allow_nan=False))
    texts = st.text(alphabet="ab é日", max_size=4)
    dates = st.dates(date(1970, 1, 1), date(2100, 12, 31))
    cols = {"i": (ints, pl.Int64), "f": (floats, pl.Float64), "s": (texts, pl.String),
            "b": (st.booleans(), pl.Boolean), "d": (dates, pl.Date)}
    return pl.DataFrame({name: pl.Series(name, draw(st.lists(column(v), min_size=n, max_size=n)),
                                         dtype=dtype)
                         for name, (v, dtype) in cols.items()})


def as_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value.isoformat() if isinstance(value, date) else str(value)


def reference_top_k(s: pl.Series, k: int) -> list[tuple[object, int]]:
    counts = s.drop_nulls().value_counts(name="n").sort(["n", s.name], descending=[True, False])
    return list(counts.head(k).iter_rows())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_statistics_equal_a_polars_reference(frame: pl.DataFrame):
    stats = profile(frame, top_k=3, long=False)  # in wide format (a small table's own is long)
    long = profile(frame, top_k=3, long=True)
    assert same(long, stats)
    # above `exact_up_to_rows`: the same, from a grouping per column
    grouped = profile(frame, top_k=3, exact_up_to_rows=0, long=False)
    assert same(grouped, stats)
    for name, s in frame.to_dict().items():
        c = stats[name]
        values = s.drop_nulls()
        assert (c.count, c.null_count) == (frame.height, s.null_count())
        assert c.distinct_count == values.n_unique() and not c.distinct_approximate
        assert c.uniqueness == (values.n_unique() / len(values) if len(values) else 0.0)

        if s.dtype != pl.Boolean:
            assert (c.min, c.max) == (values.min(), values.max())
        if s.dtype.is_numeric():
            assert close(c.mean, s.mean()) and close(c.std, s.std(), rel=1e-6)
            reference = {key: s.quantile(q, interpolation="linear") for key, q in QUANTILES.items()}
            assert c.quantiles == (pytest.approx(reference, rel=1e-9) if len(values) else None)
            assert (c.zero_count, c.negative_count) == ((s == 0).sum(), (s < 0).sum())
            if values.std() and values.std() > 1e-6 * max(1.0, abs(values.mean())):
                assert close(c.skewness, s.skew(bias=False), rel=1e-6)
                assert close(c.kurtosis, s.kurtosis(bias=False), rel=1e-6)
            assert sum(b.count for b in c.histogram) == len(values)
        if s.dtype == pl.String:
            lengths = values.str.len_chars()
            assert (c.min_length, c.max_length) == (lengths.min(), lengths.max())
            assert close(c.mean_length, lengths.mean())
        if s.dtype == pl.Date and len(values):
            assert c.date_range_days == (values.max() - values.min()).days

        expected = reference_top_k(s, 3) if values.n_unique() < len(values) else []
        assert [t.count for t in c.top_values] == [n for _, n in expected]
        if s.dtype == pl.Float64:
            assert [float(t.value) for t in c.top_values] == [v for v, _ in expected]
        else:
            assert [t.value for t in c.top_values] == [as_text(v) for v, _ in expected]


# --- examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("long", [False, True])
def test_above_the_threshold_the_statistics_stay_exact(long: bool):
    """Above `exact_up_to_rows` each column is grouped by value (the exact top values need it):
    that grouping counts the distinct values and, for one distinct value in ten or fewer, gives
    the quantiles; the quantiles of a column of many distinct values are computed alone."""
    frame = pl.DataFrame({"x": [i % 500 for i in range(5000)], "s": [str(i) for i in range(5000)],
                          "u": [i * 0.5 for i in range(5000)]})
    above = profile(frame, exact_up_to_rows=4999, long=long)
    exact = profile(frame, exact_up_to_rows=5000, long=long)
    assert same(above, exact)
    assert [(exact[c].distinct_count, exact[c].distinct_approximate) for c in "xsu"] == \
        [(500, False), (5000, False), (5000, False)]
    assert exact["u"].quantiles == {"p01": 24.995, "p25": 624.875, "p50": 1249.75, "p75": 1874.625, "p99": 2474.505}
    assert not (above["x"].quantiles_approximate or above["u"].quantiles_approximate)


def test_quantiles_from_the_grouping_equal_duckdbs_quantile_cont():
    """Ties, negative values, DECIMALs and row counts whose ranks fall between two values."""
    for n in (50, 51, 53, 100, 101, 997, 1000):  # five distinct values at most: one in ten
        frame = pl.DataFrame({"i": [(k * 7919) % 5 - 2 for k in range(n)],
                              "f": [((k * 31) % 4) * 0.1 for k in range(n)],
                              "d": pl.Series([((k * 13) % 3) / 4 for k in range(n)], dtype=pl.Decimal(10, 2))})
        grouped, reference = profile(frame, exact_up_to_rows=0, long=False), profile(frame)
        for name in frame.columns:
            assert not grouped[name].quantiles_approximate, (n, name)
            assert grouped[name].quantiles == reference[name].quantiles, (n, name)


def test_quantiles_from_the_grouping_equal_quantile_cont_to_the_last_digit():
    """Above `exact_up_to_rows` the quantiles come from the grouping, through the buckets that hold
    their ranks: equal to quantile_cont's digit for digit, with large values, ties, NULLs,
    DECIMALs, infinities and values crowded into a few buckets by an outlier."""
    rng = random.Random(7)
    def some(n: int, value: Callable[[], object]) -> list:
        return [None if rng.random() < 0.1 else value() for _ in range(n)]

    for n in (7, 100, 1001, 5000):
        frame = pl.DataFrame({
            "big": some(n, lambda: rng.randint(-10**12, 10**12)),
            "ties": some(n, lambda: rng.choice([rng.uniform(-1e6, 1e6), 2.5, -0.125])),
            "price": pl.Series(some(n, lambda: Decimal(rng.randint(-10**8, 10**8)) / 100), dtype=pl.Decimal(12, 2)),
            "edges": some(n, lambda: rng.choice([rng.uniform(0, 1), math.inf, -math.inf])),
            "crowded": some(n, lambda: rng.choice([rng.uniform(0, 1), 1e15])),
        })
        grouped, reference = profile(frame, exact_up_to_rows=0, long=False), profile(frame)
        for name in frame.columns:
            assert grouped[name].quantiles == reference[name].quantiles, (n, name)
            assert reference[name].quantiles or name == "edges", (n, name)
    # few distinct values (read from the grouping before the buckets too), p01 between two of them
    ties = pl.DataFrame({"t": [-975_796_218_188] + [-970_012_209_157] * 49 + [-970_012_208_157] * 50})
    assert profile(ties, exact_up_to_rows=0, long=False)["t"].quantiles == profile(ties)["t"].quantiles


def test_above_the_threshold_a_table_without_numbers_takes_all_from_its_groupings():
    """The first query only counts what the groupings cannot give exactly (numbers' means and
    spreads): a table of texts, dates and booleans has its non-null counts and text lengths
    from the groupings, as the exact path has them."""
    frame = pl.DataFrame({"s": [None if i % 7 == 0 else "é" * (i % 5) for i in range(300)],
                          "d": [None if i % 3 == 0 else date(2024, 1, 1 + i % 28) for i in range(300)],
                          "b": [None if i % 4 == 0 else i % 2 == 0 for i in range(300)]})
    above, exact = profile(frame, exact_up_to_rows=0, long=False), profile(frame)
    assert same(above, exact)
    assert (above["s"].null_count, above["s"].min_length, above["s"].max_length) == (43, 0, 4)
    assert (above["d"].null_count, above["b"].null_count) == (100, 75)


def test_a_table_of_long_texts_is_profiled_from_groupings_as_a_long_table_is(monkeypatch):
    """Values of more than EXACT_UP_TO_BYTES (texts of kilobytes: 200,000 rows of 1 KB took 877 MiB
    in one aggregate holding them all) are profiled from the groupings, in bounded memory, to the
    same statistics."""
    frame = pl.DataFrame({"text": [f"{'t' * 500}{i % 280}" for i in range(300)], "n": list(range(300)),
                          "x": [i % 7 * 1.5 for i in range(300)]})
    exact = profile(frame, long=False)
    grouped = []
    monkeypatch.setattr(statistics, "_group_counts", lambda *a: grouped.append(1) or _group_counts(*a))
    monkeypatch.setattr(statistics, "EXACT_UP_TO_BYTES", 100_000)  # the texts alone take 150 KB
    assert not grouped and same(profile(frame, long=False), exact) and grouped
    assert exact["text"].distinct_count == 280


def test_above_the_threshold_a_column_that_may_be_unique_is_counted_exactly():
    """Uniqueness decides keys: every column's distinct values are counted exactly (its grouping
    for the top values counts them), so a key with a few repeats is told from a unique one."""
    frame = pl.DataFrame({"x": [i % 500 for i in range(5000)], "id": [*range(4998), 0, 1],
                          "most": [i % 3000 for i in range(5000)]})
    approx = profile(frame, exact_up_to_rows=100)
    assert (approx["x"].distinct_count, approx["x"].distinct_approximate) == (500, False)
    assert (approx["id"].distinct_count, approx["id"].distinct_approximate) == (4998, False)
    assert (approx["most"].distinct_count, approx["most"].distinct_approximate) == (3000, False)


def test_an_empty_table_has_counts_and_nothing_else():
    frame = pl.DataFrame(schema={"i": pl.Int64, "f": pl.Float64, "s": pl.String,
                                 "b": pl.Boolean, "d": pl.Date})
    for c in profile(frame).values():
        assert (c.count, c.null_count, c.null_ratio, c.distinct_count, c.uniqueness) == \
            (0, 0, 0.0, 0, 0.0)
        assert c.min is c.max is c.mean is c.std is c.quantiles is c.skewness is None
        assert c.top_values == () and c.histogram == () and c.date_range_days is None


def test_an_all_null_column_is_all_null():
    frame = pl.DataFrame({"id": [1, 2, 3], "x": pl.Series([None] * 3, dtype=pl.Float64),
                          "s": pl.Series([None] * 3, dtype=pl.String)})
    stats = profile(frame)
    for c in (stats["x"], stats["s"]):
        assert (c.count, c.null_count, c.null_ratio, c.distinct_count) == (3, 3, 1.0, 0)
        assert c.min is c.max is c.mean is c.quantiles is c.min_length is None
        assert c.top_values == () and c.histogram == ()
    assert stats["x"].zero_count == 0 and stats["id"].top_values == ()  # all unique: no top-k


def test_histogram_bins_span_min_to_max_and_count_every_value():
    frame = pl.DataFrame({"x": [0.5, 1, 1, 2, 3.5, 7, 9.25, 10, None],
                          "k": [4] * 9})
    stats = profile(frame, histogram_bins=4)
    bins = stats["x"].histogram
    assert len(bins) == 4 and (bins[0].lower, bins[-1].upper) == (0.5, 10.0)
    assert all(a.upper == b.lower for a, b in pairwise(bins))
    assert [b.count for b in bins] == [4, 1, 1, 2]
    assert [(b.lower, b.upper, b.count) for b in stats["k"].histogram] == [(4.0, 4.0, 9)]


def test_top_values_are_exact_most_frequent_first_ties_by_value():
    frame = pl.DataFrame({"s": ["c", "a", "b", "a", "c", "a", "d", "b", None, None, None]})
    top = profile(frame, top_k=3)["s"].top_values
    assert [(t.value, t.count) for t in top] == [("a", 3), ("b", 2), ("c", 2)]


def test_nan_and_infinity_do_not_break_the_profile():
    nan, inf = float("nan"), float("inf")
    frame = pl.DataFrame({"x": [1.0, 2.0, nan, inf, -inf, None],
                          "y": [nan, inf, nan, nan, 1e308, -1e308]})
    stats = profile(frame)
    c = stats["x"]
    assert (c.count, c.null_count, c.min, c.negative_count) == (6, 1, -inf, 1)
    assert c.mean is c.quantiles is c.skewness is c.kurtosis is None  # undefined with NaN
    assert sum(b.count for b in c.histogram) == 2  # only the finite values have a bin
    assert (c.histogram[0].lower, c.histogram[-1].upper) == (1.0, 2.0)
    y = stats["y"]
    assert y.null_count == 0 and sum(b.count for b in y.histogram) == 2
    assert all(math.isfinite(b.lower) and math.isfinite(b.upper) for b in y.histogram)


def test_shape_stays_precise_for_large_values_with_a_small_spread():
    """DuckDB's own skewness() loses every digit here (it works from raw power sums)."""
    s = pl.Series("t", [1_700_000_000_000 + v for v in (0, 1, 1, 2, 3, 5, 8, 13, 21, 34)])
    c = profile(s.to_frame())["t"]
    assert close(c.skewness, s.skew(bias=False), rel=1e-6)
    assert close(c.kurtosis, s.kurtosis(bias=False), rel=1e-6)


def test_other_duckdb_types_profile_to_plain_values():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tables").mkdir()
        duckdb.connect().execute(f"""COPY (SELECT
            (i % 3)::DECIMAL(10, 2) + 0.25 AS price, TIMESTAMP '2024-01-01' + to_hours(i) AS ts,
            TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_days(i) AS tz,
            ('00000000-0000-0000-0000-00000000000' || (i % 2))::UUID AS id,
            TIME '08:00' + to_minutes(i) AS clock, [i, i] AS pair, 'x'::BLOB AS raw,
            i::HUGEINT AS big
            FROM range(4) t(i)) TO {quote_literal(str(root / 'tables' / 'o.parquet'))}
            (FORMAT parquet)""")
        result = statistics_profiling(TypeResolutionResult(tables={"o": resolved(root, "o", 4)}),
                                      tmp)
    json.loads(result.model_dump_json())
    stats = result.tables["o"].columns
    assert (stats["price"].min, stats["price"].max, stats["price"].mean) == (0.25, 2.25, 1.0)
    assert stats["price"].quantiles["p50"] == 0.75
    assert stats["ts"].date_range_days == 0.125 and stats["tz"].date_range_days == 3.0
    assert stats["id"].distinct_count == 2 and stats["id"].top_values[0].count == 2
    assert stats["raw"].top_values[0].value == "x" and stats["pair"].distinct_count == 4
    assert stats["clock"].min is None and stats["big"].max == 3


def test_runs_as_a_hamilton_node_with_its_defaults():
    frame = pl.DataFrame({"x": [1, 2, 2]})
    with tempfile.TemporaryDirectory() as root:
        dr = driver.Builder().enable_dynamic_execution(allow_experimental_mode=True).with_modules(statistics).build()
        out = dr.execute(["statistics_profiling"], inputs={
            "type_resolution": typed_tables(Path(root), t=frame), "workspace": root})
    assert out["statistics_profiling"].tables["t"].columns["x"].top_values[0].value == "2"


@pytest.mark.parametrize("bins", [1, 3])
def test_histogram_bin_count_follows_the_setting(bins: int):
    assert len(profile(pl.DataFrame({"x": range(10)}), histogram_bins=bins)["x"].histogram) == bins


def test_above_exact_rows_a_mostly_distinct_column_has_its_exact_count_and_top_values():
    # 2,000 distinct of 3,000 values (first 1,000 twice, 7 three times): above `exact_up_to_rows`
    # it is counted exactly, and its top values come from that same count
    values = [*range(2000), *range(1000), *range(7)]
    columns = profile(pl.DataFrame({"code": values, "unique": range(len(values))}), exact_up_to_rows=100)
    code, unique = columns["code"], columns["unique"]
    assert (code.distinct_count, code.distinct_approximate) == (2000, False)
    assert [(v.value, v.count) for v in code.top_values] == [(str(i), 3) for i in range(7)] + \
        [(str(i), 2) for i in (7, 8, 9)]
    assert (unique.distinct_count, unique.distinct_approximate, unique.top_values) == (3007, False, ())


def test_a_large_table_spills_into_the_workspace_and_stays_exact(tmp_path, monkeypatch):
    """Above `exact_up_to_rows` a table's statistics run on a connection of their own whose memory
    is bounded (`statistics.MEMORY_PER_THREAD`): under a bound far below what their groupings hold they
    spill into `<workspace>/tmp/` and give what an unbounded run gives; the directory goes after."""
    n = 1_000_000
    frame = pl.DataFrame({"id": range(n), "x": [i * 0.37 for i in range(n)], "s": [f"v{i * 7 % n}" for i in range(n)]})
    types = typed_tables(tmp_path, t=frame)
    monkeypatch.setenv("DATARAUM_DUCKDB_THREADS", "1")  # a bound that holds one thread's buffers
    spilled = []

    @contextmanager
    def watched(directory: Path, memory_per_thread: int):
        with sql.spilling(directory, memory_per_thread) as con:
            yield con
            spilled.append(any(directory.iterdir()))

    with patch.object(workspace, "spilling", watched):  # as the workspace opens it
        with patch.object(statistics, "MEMORY_PER_THREAD", 24 << 20):
            bounded = statistics_profiling(types, str(tmp_path), exact_up_to_rows=0).tables["t"].columns
        assert spilled == [True] and not (tmp_path / "tmp").exists()
        with patch.object(statistics, "MEMORY_PER_THREAD", 4 << 30):
            unbounded = statistics_profiling(types, str(tmp_path), exact_up_to_rows=0).tables["t"].columns
        assert spilled == [True, False]
    assert same(bounded, unbounded)
    assert bounded["id"].distinct_count == n and bounded["s"].distinct_count == n
    assert bounded["x"].quantiles == {"p01": 3699.9963, "p25": 92499.9075, "p50": 184999.815,
                                      "p75": 277499.72250000003, "p99": 366299.6337}


def test_the_users_memory_limit_wins(tmp_path, monkeypatch):
    """DATARAUM_DUCKDB_MEMORY_LIMIT bounds the statistics of a large table too."""
    types = typed_tables(tmp_path, t=pl.DataFrame({"x": [1, 2, 2, 3]}))
    settings_seen = []
    profiled = statistics._table_statistics

    def spy(con, *args):
        settings_seen.append(con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone())
        return profiled(con, *args)

    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "300MiB")
    with patch.object(statistics, "_table_statistics", spy):
        statistics_profiling(types, str(tmp_path), exact_up_to_rows=0)
    [(memory, directory)] = settings_seen
    assert memory == "300.0 MiB" and Path(directory).parent == tmp_path / "tmp"


def test_values_too_long_for_the_bound_are_profiled_without_it(tmp_path):
    """A bound the scans of a table's values cannot keep (texts of kilobytes) makes DuckDB run out
    of memory: the statistics are computed once more without it."""
    frame = pl.DataFrame({"note": [f"{i % 7}" * 4000 for i in range(300)], "n": range(300)})
    types = typed_tables(tmp_path, t=frame)
    with patch.object(statistics, "MEMORY_PER_THREAD", 1 << 20):
        bounded = statistics_profiling(types, str(tmp_path), exact_up_to_rows=0).tables["t"].columns
    assert same(bounded, statistics_profiling(types, str(tmp_path), exact_up_to_rows=0).tables["t"].columns)
    assert bounded["note"].distinct_count == 7 and not (tmp_path / "tmp").exists()
