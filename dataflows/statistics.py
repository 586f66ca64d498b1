"""Statistics: a profile of every column of the typed tables, computed by DuckDB in three queries
per batch of columns.

The first query computes the batch's scalar statistics in one aggregate. The second groups each
column by value for its top-k values (exact, so a whole grouping per column), and the third needs
the first's results (min/max, mean) for histograms and the central moments behind skewness and
kurtosis. Up to `exact_up_to_rows` rows, distinct counts and quantiles come from the first query,
exact. Above, the grouping every column gets anyway gives the exact distinct count, and the exact
quantiles of a column with few distinct values (from its values' cumulative counts); only the
quantiles of a column of many distinct values are estimated (`approx_quantile`, in the third
query). A wide table is
profiled a batch of columns at a time (`sql.batched`: DuckDB plans a query in time growing faster
than its expressions), and a batch of a wide table is read from the Parquet file once when it is small
(`sql.parquet_relation`); nothing is materialized in Python.

`column_roles` then reads the collected statistics once to decide what each column is (own and
candidate keys, measures, dimensions, timestamps; `dataraum_context.roles`), for every later step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
    column of one table, all exact up to `exact_up_to_rows` rows. Above, the quantiles of a
    column with more than one distinct value in `_FEW_DISTINCT` values are estimated (and
    labelled so); distinct counts stay exact."""
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
        if not exact:
            _group_counts(con, batch, scalars, top_k)
        bins = {c.index: _bins(scalars[c.index], histogram_bins) for c in batch if c.numeric}
        second = _second_pass(con, batch, scalars, bins, top_k, exact)
        statistics |= {c.name: _column_statistics(c, row_count, scalars[c.index], second.get(c.index, {}),
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
    aggs = {"non_null": f"count({x})"}
    if exact:  # above, the grouping of every column counts them (_group_counts)
        aggs["distinct"] = f"count(DISTINCT {x})"
    if c.family in _ORDERED:
        aggs |= {"min": f"min({x})", "max": f"max({x})"}
    if c.numeric:
        aggs |= {"mean": f"avg({x})", "std": f"stddev_samp({x})",
                 "zeros": f"coalesce(count_if({x} = 0), 0)",  # count(*) FILTER: 4x the cost
                 "negatives": f"coalesce(count_if({x} < 0), 0)"}  # (count_if of no rows: NULL)
        if exact:
            aggs["quantiles"] = _quantiles("quantile_cont", c)
    if c.family is Family.FLOAT:  # histograms span the finite values: NaN and inf have no bin
        aggs |= {"finite_min": f"min({x}) FILTER (WHERE isfinite({x}))",
                 "finite_max": f"max({x}) FILTER (WHERE isfinite({x}))"}
    if c.family is Family.TEXT:
        aggs |= {"min_length": f"min(length({x}))", "max_length": f"max(length({x}))",
                 "mean_length": f"avg(length({x}))"}
    return aggs


def _quantiles(function: str, c: _Column) -> str:
    """The quantiles of a numeric column (DECIMAL ones as DOUBLE: they would be rounded to the
    column's scale)."""
    x = f"CAST({c.sql} AS DOUBLE)" if c.family is Family.DECIMAL else c.sql
    return f"{function}({x}, {list(QUANTILES.values())})"


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


def _group_counts(con: duckdb.DuckDBPyConnection, columns: list[_Column], scalars: dict[int, dict[str, Any]],
                  top_k: int) -> None:
    """Above `exact_up_to_rows`: group every column by value once, for its exact distinct count,
    its top values (when it repeats one) and, for a numeric column of few distinct values, its
    exact quantiles; into `scalars`. Exact top values need the whole grouping anyway, and
    uniqueness is a decision (keys, foreign keys, roles) that an estimate, off by a few per
    cent, cannot make."""
    found = _union(con, [_grouped_query(c, top_k, scalars[c.index]["non_null"]) for c in columns])
    for c in columns:
        s, grouped = scalars[c.index], found.get(c.index, {})
        s["distinct"] = grouped.pop("distinct_count", 0)
        if s["distinct"] < s["non_null"]:  # a value repeats: the frequent ones
            s |= {k: v for k, v in grouped.items() if k in ("top_values", "top_counts")}
        if any(q is not None for q in grouped.get("ranked", ())):
            s["quantiles"] = _interpolated(grouped["ranked"], s["non_null"])


# A column with at most one distinct value in this many non-null ones has its exact quantiles read
# from its grouping (a sort of its distinct values); above, estimating them costs less.
_FEW_DISTINCT = 10


def _ranks(non_null: int) -> list[tuple[int, int, float]]:
    """Per quantile, the 0-based ranks of the two values it lies between and the fraction of the
    way from the first to the second, as DuckDB's quantile_cont places them."""
    ranks = []
    for q in QUANTILES.values():
        h = (non_null - 1) * q
        ranks.append((math.floor(h), math.ceil(h), h - math.floor(h)))
    return ranks


def _interpolated(ranked: list[Any], non_null: int) -> list[float]:
    """quantile_cont's values from the values at the ranks of `_ranks` (pairs, in order)."""
    values = []
    for i, (lo_rank, hi_rank, d) in enumerate(_ranks(non_null)):
        lo, hi = float(ranked[2 * i]), float(ranked[2 * i + 1])
        values.append(lo if lo_rank == hi_rank else lo + (hi - lo) * d)
    return values


def _grouped_query(c: _Column, k: int, non_null: int) -> Sql:
    """From one grouping of the column: the distinct values counted, the k most frequent (most
    frequent first, ties by value) and, when a numeric column has few distinct values, the values
    at the ranks its quantiles lie between (found by the cumulative counts of the sorted values)."""
    x = c.sql
    ranked, params = "", []
    if c.numeric and non_null:
        v = "CAST(v AS DOUBLE)" if c.family is Family.DECIMAL else "v"
        ranks = [r for lo, hi, _ in _ranks(non_null) for r in (lo, hi)]
        ranked = (f", (SELECT [{', '.join('min(v) FILTER (WHERE upto > ?)' for _ in ranks)}] FROM "
                  f"(SELECT {v} AS v, sum(n) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS upto FROM g "
                  f"WHERE (SELECT count(*) FROM g) * ? <= ?)) AS ranked")
        params = [*ranks, _FEW_DISTINCT, non_null]
    top = f"{_TOP_LISTS} FROM (SELECT v, n FROM g ORDER BY n DESC, v LIMIT {int(k)})" if k > 0 else ""
    return Sql(text=f"WITH g AS (SELECT {x} AS v, count(*) AS n FROM {_VIEW} WHERE {x} IS NOT NULL GROUP BY {x}) "
                    f"SELECT {c.index} AS col, (SELECT count(*) FROM g) AS distinct_count{ranked}"
                    + (f", {top}" if top else ""), params=tuple(params))


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


def _moments_query(numeric: list[tuple[_Column, _Bins | None, float | None, bool]]) -> tuple[Sql, list[list[str]]]:
    """Per numeric column (with its bins, its mean and whether its quantiles are to be estimated):
    bin counts, the sums of the 2nd to 4th powers of the deviations from the mean, and the
    estimated quantiles, all in one aggregate over the batch (one scan); with the keys of each
    column's values in the result row, in order.

    Centred on the first query's mean because DuckDB's skewness() and kurtosis() work from raw
    power sums: they lose all precision for large values with a small spread, and raise on
    overflow."""
    rows, sums, params, keys = [], [], [], []
    for c, bins, mean, estimated in numeric:
        x, b, d = f"CAST({c.sql} AS DOUBLE)", f"b{c.index}", f"d{c.index}"
        lower, upper, width = (bins.lower, bins.upper, bins.width or 1.0) if bins else (None,) * 3
        last = bins.count - 1 if bins else 0
        rows += [f"CASE WHEN {x} BETWEEN ? AND ? THEN least(floor(({x} - ?) / ?), {last})::INTEGER END AS {b}",
                 f"{x} - ? AS {d}"]
        params += [lower, upper, lower, width, mean]
        sums += [f"histogram({b})", f"sum({d} * {d})", f"sum({d} * {d} * {d})", f"sum({d} * {d} * {d} * {d})"]
        keys.append(["bin_counts", "m2", "m3", "m4"])
        if estimated:
            rows.append(f"{c.sql} AS q{c.index}")
            sums.append(_quantiles("approx_quantile", replace(c, name=f"q{c.index}")))
            keys[-1].append("quantiles")
    return Sql(text=f"SELECT {', '.join(sums)} FROM (SELECT {', '.join(rows)} FROM {_VIEW})",
               params=tuple(params)), keys


def _second_pass(con: duckdb.DuckDBPyConnection, columns: list[_Column],
                 scalars: dict[int, dict[str, Any]], bins: dict[int, _Bins | None],
                 top_k: int, exact: bool) -> dict[int, dict[str, Any]]:
    """Up to `exact_up_to_rows`, the top-k values of the columns that repeat a value, as one
    UNION of per-column groupings (above, `_group_counts` has them); histograms, central moments
    and the estimated quantiles of the numeric ones, as one aggregate."""
    found = _union(con, [_top_k_query(c, top_k) for c in columns
                         if exact and top_k > 0 and scalars[c.index]["distinct"] < scalars[c.index]["non_null"]])
    numeric = [(c, bins[c.index], _number(scalars[c.index]["mean"]), "quantiles" not in scalars[c.index])
               for c in columns if c.numeric and scalars[c.index]["non_null"]]
    if numeric:
        query, keys = _moments_query(numeric)
        row = query.run(con).fetchone()
        assert row is not None  # an aggregate returns one row
        values = iter(row)
        for (c, *_), names in zip(numeric, keys, strict=True):
            found.setdefault(c.index, {}).update(
                {k: v for k, v in zip(names, values, strict=False) if v is not None})
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


def _column_statistics(c: _Column, row_count: int, s: dict[str, Any], second: dict[str, Any],
                       bins: _Bins | None) -> ColumnStatistics:
    non_null, distinct = s["non_null"], s["distinct"]
    lo, hi = _number(s.get("min")), _number(s.get("max"))
    skewness, kurtosis = _shape(non_null, second.get("m2"), second.get("m3"), second.get("m4"))
    quantiles = [_number(q) for q in s.get("quantiles") or second.get("quantiles") or ()]
    return ColumnStatistics(
        name=c.name,
        data_type=c.data_type,
        count=row_count,
        null_count=row_count - non_null,
        null_ratio=(row_count - non_null) / row_count if row_count else 0.0,
        distinct_count=distinct,
        distinct_approximate=False,
        uniqueness=distinct / non_null if non_null else 0.0,
        min=lo,
        max=hi,
        mean=_number(s.get("mean")),
        std=_number(s.get("std")),
        quantiles=dict(zip(QUANTILES, quantiles, strict=True)) if quantiles and None not in quantiles else None,
        quantiles_approximate="quantiles" in second,
        skewness=skewness,
        kurtosis=kurtosis,
        zero_count=s.get("zeros"),
        negative_count=s.get("negatives"),
        top_values=tuple(ValueFrequency(value=v, count=n) for v, n in
                         zip(s.get("top_values") or second.get("top_values", ()),
                             s.get("top_counts") or second.get("top_counts", ()), strict=True)),
        histogram=bins.histogram(second.get("bin_counts") or {}) if bins else (),
        min_length=s.get("min_length"),
        max_length=s.get("max_length"),
        mean_length=s.get("mean_length"),
        date_range_days=(hi - lo) / timedelta(days=1)
        if is_point_in_time(c.data_type) and lo is not None else None,
    )
