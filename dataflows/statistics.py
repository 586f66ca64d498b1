"""Statistics: a profile of every column of the typed tables, computed by DuckDB in two queries
per batch of columns.

The first query computes the batch's scalar statistics in one aggregate. The second needs the
first's results (distinct counts, min/max, mean) and computes top-k values, histograms and the
central moments behind skewness and kurtosis. Above `exact_up_to_rows` rows, distinct counts and
quantiles are estimated, but the columns the estimate says may be unique are counted exactly in
between (`_counted_exactly`, with their top values from the same grouping): uniqueness is a
decision, not a description. A wide table is
profiled a batch of columns at a time (`sql.batched`: DuckDB plans a query in time growing faster
than its expressions), and a batch of a wide table is read from the Parquet file once when it is small
(`sql.parquet_relation`); nothing is materialized in Python.

`column_roles` then reads the collected statistics once to decide what each column is (own and
candidate keys, measures, dimensions, timestamps; `dataraum_context.roles`), for every later step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from hamilton.htypes import Collect, Parallelizable

from dataraum_context import settings
from dataraum_context.models import (
    ColumnRolesResult,
    ColumnStatistics,
    HistogramBin,
    ResolvedTable,
    StagingResult,
    StatisticsResult,
    TableStatistics,
    TypeResolutionResult,
    ValueFrequency,
)
from dataraum_context.roles import roles_of
from dataraum_context.sql import (
    CELLS_IN_MEMORY,
    Family,
    Sql,
    batched,
    concat,
    family,
    is_number,
    is_point_in_time,
    parquet_relation,
    quote_ident,
    quote_literal,
    session,
)
from dataraum_context.step import part_of_step, step
from dataraum_context.workspace import Workspace

QUANTILES = {"p01": 0.01, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p99": 0.99}

# the families whose min and max are reported
_ORDERED = {Family.INTEGER, Family.DECIMAL, Family.FLOAT, Family.DATE, Family.TIMESTAMP, Family.TEXT}

_VIEW = "_profiled"  # the batch of columns being profiled (sql.parquet_relation)
# a column's top values and their counts, most frequent first, ties by value, from (v, n) rows
_TOP_LISTS = "list(CAST(v AS VARCHAR) ORDER BY n DESC, v) AS top_values, list(n ORDER BY n DESC, v) AS top_counts"


@part_of_step("statistics_profiling")
def table_to_describe(type_resolution: TypeResolutionResult) -> Parallelizable[ResolvedTable]:
    """Each typed table (with the version of its file: a retyped table is described again)."""
    yield from type_resolution.tables.values()


@part_of_step("statistics_profiling")
def table_statistics(table_to_describe: ResolvedTable, workspace: str,
                     exact_up_to_rows: int = settings.EXACT_UP_TO_ROWS,
                     top_k: int = settings.TOP_K,
                     histogram_bins: int = settings.HISTOGRAM_BINS) -> TableStatistics:
    """Counts, distinct values, ranges, moments, quantiles, top-k values and histograms per
    column of one table; exact up to `exact_up_to_rows` rows. Above, quantiles and the distinct
    counts of columns that repeat most of their values are estimated (and labelled so; an
    estimate never exceeds the non-null values); a column whose values are at least half
    distinct, which may be a key, has its distinct values counted exactly."""
    with session() as con:
        return _table_statistics(con, Workspace(workspace), table_to_describe, exact_up_to_rows,
                                 top_k, histogram_bins)


@step(scope="column", phase="profiling", criticality="required")
def statistics_profiling(table_statistics: Collect[TableStatistics]) -> StatisticsResult:
    """The statistics of every typed table's columns."""
    return StatisticsResult(tables={t.name: t for t in table_statistics})


@part_of_step("statistics_profiling")
def column_roles(statistics_profiling: StatisticsResult | None = None, staging: StagingResult | None = None,
                 key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE) -> ColumnRolesResult:
    """What each column is in its table, with why: the own key (declared, or named for the
    table and unique up to `key_duplicate_tolerance`), the columns named as its id, the
    candidate keys, measures, dimensions, timestamps, identifiers and attributes. Every later
    step reads keys and measures from here (`dataraum_context.roles`). No tables when the
    statistics did not succeed (the context of a failed run still renders)."""
    if statistics_profiling is None:
        return ColumnRolesResult(tables={}, key_duplicate_tolerance=key_duplicate_tolerance)
    return roles_of(statistics_profiling, staging, key_duplicate_tolerance)


@dataclass(frozen=True)
class _Column:
    index: int  # position in the queries' output, which stays free of user-given names
    name: str
    data_type: str  # DuckDB type as read from the Parquet, e.g. DECIMAL(12,2)

    @property
    def sql(self) -> str:
        return quote_ident(self.name)

    @property
    def family(self) -> Family:
        return family(self.data_type)

    @property
    def numeric(self) -> bool:
        return is_number(self.data_type)


def _table_statistics(con: duckdb.DuckDBPyConnection, ws: Workspace, table: ResolvedTable,
                      exact_up_to_rows: int, top_k: int, histogram_bins: int) -> TableStatistics:
    path = ws.path(table.path)
    rel = con.sql(f"FROM read_parquet({quote_literal(str(path))})")
    types = dict(zip(rel.columns, rel.types, strict=True))
    columns = [_Column(i, name, str(types[name])) for i, name in enumerate(table.columns)]
    exact = table.row_count <= exact_up_to_rows

    row_count, statistics = table.row_count, dict[str, ColumnStatistics]()
    for batch in _opened_batches(con, path, columns, table.row_count, exact):
        row_count, scalars = _scalars(con, batch, exact)
        counted = {} if exact else _counted_exactly(con, batch, scalars, top_k)
        bins = {c.index: _bins(scalars[c.index], histogram_bins) for c in batch if c.numeric}
        second = _second_pass(con, batch, scalars, bins, top_k, counted)
        statistics |= {c.name: _column_statistics(c, row_count, exact, c.index in counted, scalars[c.index],
                                                  counted.get(c.index, {}) | second.get(c.index, {}),
                                                  bins.get(c.index))
                       for c in batch}
    return TableStatistics(name=table.name, row_count=row_count, columns=statistics)


def _opened_batches(con: duckdb.DuckDBPyConnection, path: Path, columns: list[_Column], rows: int,
                    exact: bool) -> Iterator[list[_Column]]:
    """The columns in batches of bounded SQL, each batch readable as _VIEW while it is profiled.
    A table of at most CELLS_IN_MEMORY cells is opened once for all its batches (a wide one is
    copied into memory once, not once per batch: 1,200 columns of 5 rows took 120 copies)."""
    batches = batched(columns, size=lambda c: len(_aggregates(c, exact)))
    if rows * len(columns) <= CELLS_IN_MEMORY:
        with parquet_relation(con, _VIEW, path, [c.name for c in columns], rows, len(columns)):
            yield from batches
        return
    for batch in batches:
        with parquet_relation(con, _VIEW, path, [c.name for c in batch], rows, len(columns)):
            yield batch


# --- first query: scalar statistics of every column ----------------------------------------


def _aggregates(c: _Column, exact: bool) -> dict[str, str]:
    """The first query's aggregates for one column, by statistic."""
    x = c.sql
    aggs = {
        "non_null": f"count({x})",
        "distinct": f"count(DISTINCT {x})" if exact else f"approx_count_distinct({x})",
    }
    if c.family in _ORDERED:
        aggs |= {"min": f"min({x})", "max": f"max({x})"}
    if c.numeric:
        # DECIMAL quantiles would be rounded to the column's scale
        v = f"CAST({x} AS DOUBLE)" if c.family is Family.DECIMAL else x
        quantile = "quantile_cont" if exact else "approx_quantile"
        aggs |= {
            "mean": f"avg({x})",
            "std": f"stddev_samp({x})",
            "quantiles": f"{quantile}({v}, {list(QUANTILES.values())})",
            "zeros": f"count(*) FILTER (WHERE {x} = 0)",
            "negatives": f"count(*) FILTER (WHERE {x} < 0)",
        }
    if c.family is Family.FLOAT:  # histograms span the finite values: NaN and inf have no bin
        aggs |= {"finite_min": f"min({x}) FILTER (WHERE isfinite({x}))",
                 "finite_max": f"max({x}) FILTER (WHERE isfinite({x}))"}
    if c.family is Family.TEXT:
        aggs |= {"min_length": f"min(length({x}))", "max_length": f"max(length({x}))",
                 "mean_length": f"avg(length({x}))"}
    return aggs


def _scalars(con: duckdb.DuckDBPyConnection, columns: list[_Column],
             exact: bool) -> tuple[int, dict[int, dict[str, Any]]]:
    """Row count and the columns' scalar statistics, from one aggregate over the batch."""
    keys: list[tuple[int, str]] = []
    exprs = ["count(*)"]
    for c in columns:
        for key, expr in _aggregates(c, exact).items():
            keys.append((c.index, key))
            exprs.append(expr)
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {_VIEW}").fetchone()
    assert row is not None  # an aggregate returns one row
    scalars: dict[int, dict[str, Any]] = {c.index: {} for c in columns}
    for (index, key), value in zip(keys, row[1:], strict=True):
        scalars[index][key] = value
    return row[0], scalars


def _counted_exactly(con: duckdb.DuckDBPyConnection, columns: list[_Column],
                     scalars: dict[int, dict[str, Any]], top_k: int) -> dict[int, dict[str, Any]]:
    """Count exactly the distinct values of the columns whose estimate says at least 40% of their
    values are distinct; return their top values (when they repeat one) by index, counted in the
    same grouping. Whether a column is unique is a decision (keys, foreign keys, roles), and
    DuckDB's HyperLogLog estimate is off by up to a few per cent (about 6% seen at 10k values):
    every column with at least half its values distinct is counted, and no column left
    estimated can be within the tolerance of a key."""
    near = [c for c in columns if scalars[c.index]["distinct"] * 5 >= scalars[c.index]["non_null"] * 2 > 0]
    found = _union(con, [_grouped_query(c, top_k) for c in near])
    for c in near:
        s, counted = scalars[c.index], found.setdefault(c.index, {})
        s["distinct"] = counted.pop("distinct_count")
        if s["distinct"] >= s["non_null"]:  # no value repeats: none is frequent
            counted.clear()
    return found


def _grouped_query(c: _Column, k: int) -> Sql:
    """The distinct values counted, and the k most frequent (most frequent first, ties by value),
    from one grouping of the column."""
    x = c.sql
    return Sql(text=f"WITH g AS (SELECT {x} AS v, count(*) AS n FROM {_VIEW} WHERE {x} IS NOT NULL GROUP BY {x}) "
                    f"SELECT {c.index} AS col, (SELECT count(*) FROM g) AS distinct_count, {_TOP_LISTS} "
                    f"FROM (SELECT v, n FROM g ORDER BY n DESC, v LIMIT {int(k)})")


# --- second query: top-k values, histograms and central moments ----------------------------


@dataclass(frozen=True)
class _Bins:
    """Equal-width histogram bins between the lowest and highest finite value."""

    lower: float
    upper: float
    count: int

    @property
    def width(self) -> float:
        return self.upper / self.count - self.lower / self.count  # no overflow near ±1e308

    def histogram(self, counts: dict[int, int]) -> tuple[HistogramBin, ...]:
        shares = [i / self.count for i in range(self.count + 1)]  # interpolated: no overflow
        edges = [self.lower * (1 - f) + self.upper * f for f in shares]
        return tuple(HistogramBin(lower=edges[i], upper=edges[i + 1], count=counts.get(i, 0))
                     for i in range(self.count))


def _bins(s: dict[str, Any], count: int) -> _Bins | None:
    """A column's bins, from its first-query statistics; one bin when all values are equal."""
    lower = _number(s.get("finite_min", s.get("min")))
    upper = _number(s.get("finite_max", s.get("max")))
    if lower is None or upper is None or count < 1:
        return None
    return _Bins(lower, upper, 1 if lower == upper else count)


def _top_k_query(c: _Column, k: int) -> Sql:
    """The k most frequent values, most frequent first, ties by value."""
    x = c.sql
    return Sql(text=f"SELECT {c.index} AS col, {_TOP_LISTS} FROM ("
                    f"SELECT {x} AS v, count(*) AS n FROM {_VIEW} WHERE {x} IS NOT NULL "
                    f"GROUP BY {x} ORDER BY n DESC, {x} LIMIT {int(k)})")


def _moments_query(numeric: list[tuple[_Column, _Bins | None, float | None]]) -> Sql:
    """Per numeric column (with its bins and mean): bin counts, and the sums of the 2nd to 4th
    powers of the deviations from the mean, all in one aggregate over the batch (one scan).

    Centred on the first query's mean because DuckDB's skewness() and kurtosis() work from raw
    power sums: they lose all precision for large values with a small spread, and raise on
    overflow."""
    rows, sums, params = [], [], []
    for c, bins, mean in numeric:
        x, b, d = f"CAST({c.sql} AS DOUBLE)", f"b{c.index}", f"d{c.index}"
        lower, upper, width = (bins.lower, bins.upper, bins.width or 1.0) if bins else (None,) * 3
        last = bins.count - 1 if bins else 0
        rows += [f"CASE WHEN {x} BETWEEN ? AND ? THEN least(floor(({x} - ?) / ?), {last})::INTEGER END AS {b}",
                 f"{x} - ? AS {d}"]
        params += [lower, upper, lower, width, mean]
        sums += [f"histogram({b})", f"sum({d} * {d})", f"sum({d} * {d} * {d})", f"sum({d} * {d} * {d} * {d})"]
    return Sql(text=f"SELECT {', '.join(sums)} FROM (SELECT {', '.join(rows)} FROM {_VIEW})", params=tuple(params))


def _second_pass(con: duckdb.DuckDBPyConnection, columns: list[_Column],
                 scalars: dict[int, dict[str, Any]], bins: dict[int, _Bins | None],
                 top_k: int, counted: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Top-k values of the columns that repeat a value (unless `counted` has them already), as
    one UNION of per-column groupings; histograms and central moments of the numeric ones, as
    one aggregate."""
    found = _union(con, [_top_k_query(c, top_k) for c in columns
                         if top_k > 0 and scalars[c.index]["distinct"] < scalars[c.index]["non_null"]
                         and c.index not in counted])
    numeric = [(c, bins[c.index], _number(scalars[c.index]["mean"])) for c in columns
               if c.numeric and scalars[c.index]["non_null"]]
    if numeric:
        row = _moments_query(numeric).run(con).fetchone()
        assert row is not None  # an aggregate returns one row
        for i, (c, _, _) in enumerate(numeric):
            values = dict(zip(("bin_counts", "m2", "m3", "m4"), row[4 * i: 4 * i + 4], strict=True))
            found.setdefault(c.index, {}).update({k: v for k, v in values.items() if v is not None})
    return found


def _union(con: duckdb.DuckDBPyConnection, parts: list[Sql]) -> dict[int, dict[str, Any]]:
    """Per-column queries run as one UNION; their non-NULL values by the column's index."""
    if not parts:
        return {}
    union: list[str | Sql] = []
    for i, part in enumerate(parts):
        union += [" UNION ALL BY NAME (" if i else "(", part, ")"]
    result = concat(*union).run(con)
    names = [d[0] for d in result.description]
    found: dict[int, dict[str, Any]] = {}
    for row in result.fetchall():
        values = dict(zip(names, row, strict=True))
        found.setdefault(values.pop("col"), {}).update(
            {k: v for k, v in values.items() if v is not None})
    return found


# --- assembling the result -----------------------------------------------------------------


def _number(value: Any) -> Any:
    """A DuckDB value as plain JSON-friendly Python: Decimal as float, NaN as None."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _shape(n: int, m2: float | None, m3: float | None,
           m4: float | None) -> tuple[float | None, float | None]:
    """Sample skewness and excess kurtosis, bias-corrected as DuckDB's skewness()/kurtosis()
    and polars' skew(bias=False)/kurtosis(bias=False) are."""
    if m2 is None or m3 is None or m4 is None or n < 3:
        return None, None
    m2, m3, m4 = m2 / n, m3 / n, m4 / n
    if not m2 * m2 > 0:  # no spread (or one too small to divide by)
        return None, None
    skewness = m3 / (m2 * math.sqrt(m2)) * math.sqrt(n * (n - 1)) / (n - 2)
    kurtosis = None if n < 4 else \
        (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * (m4 / (m2 * m2) - 3) + 6)
    return _number(skewness), _number(kurtosis)


def _column_statistics(c: _Column, row_count: int, exact: bool, distinct_exact: bool, s: dict[str, Any],
                       second: dict[str, Any], bins: _Bins | None) -> ColumnStatistics:
    non_null = s["non_null"]
    distinct = min(s["distinct"], non_null)  # an estimate can overshoot
    lo, hi = _number(s.get("min")), _number(s.get("max"))
    skewness, kurtosis = _shape(non_null, second.get("m2"), second.get("m3"), second.get("m4"))
    quantiles = [_number(q) for q in s.get("quantiles") or ()]
    return ColumnStatistics(
        name=c.name,
        data_type=c.data_type,
        count=row_count,
        null_count=row_count - non_null,
        null_ratio=(row_count - non_null) / row_count if row_count else 0.0,
        distinct_count=distinct,
        distinct_approximate=not (exact or distinct_exact),
        uniqueness=distinct / non_null if non_null else 0.0,
        min=lo,
        max=hi,
        mean=_number(s.get("mean")),
        std=_number(s.get("std")),
        quantiles=dict(zip(QUANTILES, quantiles, strict=True)) if quantiles and None not in quantiles else None,
        quantiles_approximate=c.numeric and not exact,
        skewness=skewness,
        kurtosis=kurtosis,
        zero_count=s.get("zeros"),
        negative_count=s.get("negatives"),
        top_values=tuple(ValueFrequency(value=v, count=n) for v, n in
                         zip(second.get("top_values", ()), second.get("top_counts", ()), strict=True)),
        histogram=bins.histogram(second.get("bin_counts") or {}) if bins else (),
        min_length=s.get("min_length"),
        max_length=s.get("max_length"),
        mean_length=s.get("mean_length"),
        date_range_days=(hi - lo) / timedelta(days=1)
        if is_point_in_time(c.data_type) and lo is not None else None,
    )
