"""Statistics: an exact profile of every column of the typed tables, computed by DuckDB in three
queries per batch of columns.

The first query computes the batch's scalar statistics in one aggregate (and the row count,
minima and maxima in one of their own, which DuckDB reads from the Parquet file's statistics;
above `exact_up_to_rows` only for the numeric columns, the others' counts and lengths coming
from their groupings). The second groups the columns that repeat a value by value, for their
exact top-k values, and the third needs the first's results (min/max, mean) for histograms and
the central moments behind skewness and kurtosis. Up to `exact_up_to_rows` rows (and
`EXACT_UP_TO_BYTES` of values) the first query also counts distinct values and computes
quantiles (`count(DISTINCT)`, `quantile_cont`: holding every value of the batch). Above, every
column is grouped by value once (`_group_counts`): the grouping the top values need anyway
counts its distinct values, counts its values by histogram bin, and gives the quantiles from the
cumulative counts of its sorted values, sorting only the values of the few buckets of the
column's range that hold a quantile's rank (`_BUCKETS`); the third query is then left with the
moments. Such a table is profiled on a connection of its own whose memory is bounded
(`MEMORY_PER_THREAD`): its groupings and sorts spill into `<workspace>/tmp/` beyond it, so that
the memory taken does not grow with the rows (quantile_cont could not spill). Nothing is
estimated: an estimate of uniqueness cannot decide keys, and DuckDB's estimates
(approx_quantile's t-digest) changed from run to run with its threads.

A wide table of up to `LONG_UP_TO_ROWS` rows (a narrow one of up to `LONG_NARROW_UP_TO_ROWS`) is
profiled in long format (`_long`): the columns of one type as (column, value) rows, each query
one GROUP BY over all of them, so that a wide table costs a few queries per type rather than a
few expressions per column. A larger wide table is profiled a batch of columns at a time
(`sql.batched`: DuckDB plans a query in time growing faster than its expressions), and a batch
of a wide table is read from the Parquet file once when it is small (`sql.parquet_relation`);
nothing is materialized in Python.

`column_roles` then reads the collected statistics once to decide what each column is (own and
candidate keys, measures, dimensions, timestamps; `dataraum_context.roles`), for every later step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
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
    WIDE_COLUMNS,
    Family,
    Sql,
    batched,
    bound,
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
# Rows up to which a wide table (WIDE_COLUMNS or more) is profiled in long format: the columns of
# one type as (column, value) rows, each query one GROUP BY over all of them. DuckDB's cost per
# expression (1-4 ms for one count(DISTINCT), even over 5 rows) then no longer grows with the
# columns; above, and for narrow tables, one wide aggregate reads each value once (long format
# took 1.5x its time at 1,000,000 rows, and 1.7x for 13 columns at 20,000-100,000 rows).
LONG_UP_TO_ROWS = 100_000
# ... and rows up to which a narrow one is too: of 8 columns, 1,000 rows took 31 ms a table
# against 40 (a folder of small files), 10,000 rows about as long, 30,000 rows 15% longer.
LONG_NARROW_UP_TO_ROWS = 5_000
# Columns per long query: the lists of their values stay short, and the values its exact distinct
# counts and quantiles hold in memory at most _LONG_CELLS (a wide batch of ~10 columns holds as many).
_LONG_COLUMNS = 1_000
_LONG_CELLS = 1 << 20
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
    column of one table, all exact. Above `exact_up_to_rows` rows, or `EXACT_UP_TO_BYTES` of
    values (texts of kilobytes), they are computed column by column from a grouping of its
    values, in bounded memory (spilling into the workspace), instead of one aggregate over a
    batch of columns."""
    ws = Workspace(workspace)
    path = ws.path(table_to_describe.path)
    large = table_to_describe.row_count > exact_up_to_rows or _value_bytes(path) > EXACT_UP_TO_BYTES
    try:
        with ws.spilling("statistics", MEMORY_PER_THREAD) if large else session() as con:
            return _table_statistics(con, path, table_to_describe, not large, top_k, histogram_bins)
    except duckdb.OutOfMemoryException:
        if not large:
            raise
    with session() as con:  # values too long for the bound (texts of kilobytes): once more without it
        return _table_statistics(con, path, table_to_describe, not large, top_k, histogram_bins)


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


# The values (as DuckDB holds them: the Parquet file's uncompressed size) up to which a table is
# profiled by aggregates that hold all of them (`count(DISTINCT)`, `quantile_cont`): 200,000 rows
# with a text of a kilobyte took 877 MiB that way, 404 from groupings in bounded memory.
EXACT_UP_TO_BYTES = 64 << 20


def _value_bytes(path: Path) -> int:
    """The size of a Parquet file's values, uncompressed, from its footer."""
    with session() as con:
        [(size,)] = con.execute("SELECT coalesce(sum(total_uncompressed_size), 0) FROM parquet_metadata(?)",
                                [str(path)]).fetchall()
    return int(size)


# The memory per thread the queries of a table above `exact_up_to_rows` may hold before DuckDB
# spills their groupings and sorts to disk (`sql.spilling`, unless DATARAUM_DUCKDB_MEMORY_LIMIT
# sets the limit). Statistics of 20,000,000 rows x 13 columns on 2 threads took as long with
# 128 MiB a thread as with 512 (20.5-21.8 s under load), and a peak RSS of 448 MiB against 924;
# with 64 MiB a thread their peak was 316 MiB, but spilling more took 20% longer (15.2 s, 12.6).
MEMORY_PER_THREAD = 128 << 20


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


def _table_statistics(con: duckdb.DuckDBPyConnection, path: Path, table: ResolvedTable,
                      exact: bool, top_k: int, histogram_bins: int) -> TableStatistics:
    rel = con.sql(f"FROM read_parquet({quote_literal(str(path))})")
    types = dict(zip(rel.columns, rel.types, strict=True))
    columns = [_Column(i, name, str(types[name])) for i, name in enumerate(table.columns)]
    long = 0 < table.row_count <= (LONG_UP_TO_ROWS if len(columns) >= WIDE_COLUMNS else LONG_NARROW_UP_TO_ROWS)

    row_count, statistics = table.row_count, dict[str, ColumnStatistics]()
    for batch in _opened_batches(con, path, columns, table.row_count, exact, long):
        if long:
            row_count, scalars = _long_scalars(con, batch, exact)
        else:
            row_count, scalars = _scalars(con, batch, exact)
        bins = {c.index: _bins(scalars[c.index], histogram_bins) for c in batch if c.numeric}
        if not (exact or long):
            _group_counts(con, batch, scalars, bins, top_k)
        second = (_long_second_pass(con, batch, scalars, bins, top_k) if long
                  else _second_pass(con, batch, scalars, bins, top_k, exact))
        statistics |= {c.name: _column_statistics(c, row_count, scalars[c.index], second.get(c.index, {}),
                                                  bins.get(c.index))
                       for c in batch}
    return TableStatistics(name=table.name, row_count=row_count,
                           columns={c.name: statistics[c.name] for c in columns})


def _opened_batches(con: duckdb.DuckDBPyConnection, path: Path, columns: list[_Column], rows: int,
                    exact: bool, long: bool) -> Iterator[list[_Column]]:
    """The columns in batches of bounded SQL (in long format: of one type), each batch readable
    as _VIEW while it is profiled. A table of at most CELLS_IN_MEMORY cells is opened once for
    all its batches (a wide one is copied into memory once, not once per batch: 1,200 columns of
    5 rows took 120 copies)."""
    if long:
        types = dict.fromkeys(c.data_type for c in columns)
        limit = max(1, min(_LONG_COLUMNS, _LONG_CELLS // rows))
        batches: Iterable[list[_Column]] = (
            batch for t in types for batch in batched([c for c in columns if c.data_type == t], limit=limit))
    else:
        batches = batched(columns, size=lambda c: len(_aggregates(c, exact, long)))
    if rows * len(columns) <= CELLS_IN_MEMORY:
        with parquet_relation(con, _VIEW, path, [c.name for c in columns], rows, len(columns)):
            yield from batches
        return
    for batch in batches:
        with parquet_relation(con, _VIEW, path, [c.name for c in batch], rows, len(columns)):
            yield batch


# --- first query: scalar statistics of every column ----------------------------------------


def _aggregates(c: _Column, exact: bool, long: bool) -> dict[str, str]:
    """The first query's aggregates for one column, by statistic."""
    x = c.sql
    grouped = not (exact or long)  # distinct values and quantiles from the grouping (_group_counts)
    aggs = {"min": f"min({x})", "max": f"max({x})"} if c.family in _ORDERED else {}
    if grouped and not c.numeric:  # all it needs besides comes from its grouping
        return aggs
    aggs["non_null"] = f"count({x})"
    if not grouped:
        aggs["distinct"] = f"count(DISTINCT {x})"
    if c.numeric:
        aggs |= {"mean": f"avg({x})", "std": f"stddev_samp({x})",
                 "zeros": f"coalesce(count_if({x} = 0), 0)",  # count(*) FILTER: 4x the cost
                 "negatives": f"coalesce(count_if({x} < 0), 0)"}  # (count_if of no rows: NULL)
        if not grouped:
            aggs["quantiles"] = _quantiles(c)
    if c.family is Family.FLOAT:  # histograms span the finite values: NaN and inf have no bin
        aggs |= {"finite_min": f"min({x}) FILTER (WHERE isfinite({x}))",
                 "finite_max": f"max({x}) FILTER (WHERE isfinite({x}))"}
    if c.family is Family.TEXT:
        aggs |= {"min_length": f"min(length({x}))", "max_length": f"max(length({x}))",
                 "mean_length": f"avg(length({x}))"}
    return aggs


def _quantiles(c: _Column) -> str:
    """The exact quantiles of a numeric column (DECIMAL ones as DOUBLE: they would be rounded to
    the column's scale)."""
    x = f"CAST({c.sql} AS DOUBLE)" if c.family is Family.DECIMAL else c.sql
    return f"quantile_cont({x}, {list(QUANTILES.values())})"


def _scalars(con: duckdb.DuckDBPyConnection, columns: list[_Column],
             exact: bool) -> tuple[int, dict[int, dict[str, Any]]]:
    """Row count and the columns' scalar statistics, from two aggregates over the batch: the row
    count, minima and maxima alone, which DuckDB reads from the Parquet file's statistics (3 ms
    at 1,000,000 rows, against a fifth of the time of the aggregate they were part of), and the
    rest."""
    aggregates = [(c.index, key, expr) for c in columns for key, expr in _aggregates(c, exact, long=False).items()]
    ranges = [a for a in aggregates if a[1] in ("min", "max")]
    rest = [a for a in aggregates if a[1] not in ("min", "max")]
    rows, *values = _aggregate(con, ["count(*)", *(expr for _, _, expr in ranges)])
    values += _aggregate(con, [expr for _, _, expr in rest]) if rest else []
    scalars: dict[int, dict[str, Any]] = {c.index: {} for c in columns}
    for (index, key, _), value in zip([*ranges, *rest], values, strict=True):
        scalars[index][key] = value
    return rows, scalars


def _aggregate(con: duckdb.DuckDBPyConnection, expressions: list[str]) -> list[Any]:
    """The values of aggregate `expressions` over the batch."""
    row = con.execute(f"SELECT {', '.join(expressions)} FROM {_VIEW}").fetchone()
    assert row is not None  # an aggregate returns one row
    return list(row)


def _group_counts(con: duckdb.DuckDBPyConnection, columns: list[_Column], scalars: dict[int, dict[str, Any]],
                  bins: dict[int, _Bins | None], top_k: int) -> None:
    """Above `exact_up_to_rows`: group every column by value once, for its distinct count, its
    top values (when it repeats one), its quantiles and histogram (numeric columns; counting the
    grouping's values by bin costs a fraction of counting the rows'), into `scalars`. Exact
    top values need the whole grouping anyway, and uniqueness is a decision (keys, foreign keys,
    roles) that an estimate, off by a few per cent, cannot make. One column at a time: together
    their hash tables were held at once (20,000,000 rows: a peak of 2.4 GiB against 2.0 one by
    one)."""
    for c in columns:
        s = scalars[c.index]
        query = _grouped_query(c, top_k, s.get("non_null", 0), _bins(s, _BUCKETS), bins.get(c.index))
        grouped = _union(con, [query]).get(c.index, {})
        s.setdefault("non_null", grouped.get("non_null", 0))  # counted by the first query when numeric
        s |= grouped.get("lengths", {})
        s["distinct"] = grouped.get("distinct_count", 0)
        if s["distinct"] < s["non_null"]:  # a value repeats: the frequent ones
            s |= {k: v for k, v in grouped.items() if k in ("top_values", "top_counts")}
        if "bin_counts" in grouped:
            s["bin_counts"] = grouped["bin_counts"]
        if "ranked" in grouped:
            s["quantiles"] = _interpolated(grouped["ranked"], s["non_null"])


# A text column's lengths, from its grouping (v, n): as avg(length(x)) gives them, from whole sums
_LENGTHS = {"min_length": "min(length(v))", "max_length": "max(length(v))",
            "mean_length": "sum(length(v) * n) / sum(n)"}


# Equal-width buckets over a column's range (its finite values; -inf below, NaN and inf above) in
# which `_grouped_query` finds the values at its quantiles' ranks: it counts the grouping by
# bucket and sorts only the values of the buckets that hold a wanted rank. quantile_cont holds
# every value of the column and cannot spill (out of memory under a limit at 20,000,000 rows);
# sorting every distinct value took 2-4x its time, the buckets 0.3-1.1x (1,000,000-5,000,000 rows).
_BUCKETS = 4096


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
        values.append(lo if lo_rank == hi_rank else _between(lo, hi, d))
    return values


def _between(lo: float, hi: float, d: float) -> float:
    """lo * (1 - d) + hi * d as quantile_cont computes it, to the last digit: hi * d rounded, then
    lo * (1 - d) added to it and rounded once (a fused multiply-add; math.fma from Python 3.13).
    lo + (hi - lo) * d differed in the last digit for 7% of the quantiles of large values."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo * (1 - d) + hi * d
    return float(Fraction(lo) * Fraction(1 - d) + Fraction(hi * d))  # Fraction to float rounds once


def _bucket(x: str, buckets: _Bins | None) -> Sql:
    """The bucket of the value `x` (a DOUBLE) among `buckets`, in the order of the values."""
    if buckets is None:  # no finite value: one bucket
        return Sql(text="0")
    lower, upper, width, last = _bin_params(buckets)
    return Sql(text=f"CASE WHEN {x} < ? THEN -1 WHEN {x} <= ? THEN least(floor(({x} - ?) / ?), {last})::INTEGER "
                    f"ELSE {last + 1} END", params=(lower, upper, lower, width))


def _grouped_query(c: _Column, k: int, non_null: int, buckets: _Bins | None, bins: _Bins | None) -> Sql:
    """From one grouping of the column: the distinct values counted, the k most frequent (most
    frequent first, ties by value) and, for a numeric column, its values counted by histogram
    bin and the values at the ranks its quantiles lie between (`_ranks`), found by the
    cumulative counts of the sorted values in the buckets that hold those ranks (`_BUCKETS`)."""
    x = c.sql
    parts: list[str | Sql] = [
        f"WITH g AS (SELECT {x} AS v, count(*) AS n FROM {_VIEW} WHERE {x} IS NOT NULL GROUP BY {x})"]
    selected: list[str | Sql] = [f"SELECT {c.index} AS col, (SELECT count(*) FROM g) AS distinct_count"]
    if not c.numeric:  # what the first query leaves to the grouping
        selected.append(", (SELECT sum(n) FROM g) AS non_null")
    if c.family is Family.TEXT:
        selected.append(", (SELECT {" + ", ".join(f"{k}: {e}" for k, e in _LENGTHS.items()) + "} FROM g) AS lengths")
    if c.numeric and non_null:
        ranks = [r for lo, hi, _ in _ranks(non_null) for r in (lo, hi)]
        value = "CAST(v AS DOUBLE)" if c.family is Family.DECIMAL else "v"  # as quantile_cont reads DECIMALs
        parts += [", gb AS (SELECT v, n, ", _bucket("CAST(v AS DOUBLE)", buckets), " AS b FROM g), "
                  "wanted AS (SELECT b, before FROM (SELECT b, sum(sum(n)) OVER (ORDER BY b) - sum(n) AS before, "
                  "sum(n) AS c FROM gb GROUP BY b) WHERE len(list_filter(", bound(ranks, "BIGINT[]"),
                  ", lambda r: r >= before AND r < before + c)) > 0), "
                  f"ranked AS (SELECT {value} AS v, before + sum(n) OVER (PARTITION BY b ORDER BY v "
                  "ROWS UNBOUNDED PRECEDING) AS upto FROM gb JOIN wanted USING (b))"]
        at_ranks = Sql(text=", ".join("min(v) FILTER (WHERE upto > ?)" for _ in ranks), params=tuple(ranks))
        selected += [", (SELECT [", at_ranks, "] FROM ranked) AS ranked"]
    if c.numeric and bins:
        lower, upper, width, last = _bin_params(bins)
        bin_of = Sql(text=_bin_of("CAST(v AS DOUBLE)", "?", "?", "?", str(last)), params=(lower, upper, lower, width))
        selected += [", (SELECT map(list(b ORDER BY b), list(n ORDER BY b)) FROM (SELECT b, sum(n) AS n FROM "
                     "(SELECT ", bin_of, " AS b, n FROM g) WHERE b IS NOT NULL GROUP BY b)) AS bin_counts"]
    if k > 0:
        selected.append(f", {_TOP_LISTS} FROM (SELECT v, n FROM g ORDER BY n DESC, v LIMIT {int(k)})")
    return concat(*parts, " ", *selected)


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


_POWERS = ("m2", "m3", "m4")


def _bin_params(bins: _Bins | None) -> tuple[float | None, float | None, float | None, int]:
    """lower, upper, width and last bin of a column's histogram (no bin when it has none)."""
    return (bins.lower, bins.upper, bins.width or 1.0, bins.count - 1) if bins else (None, None, None, 0)


def _bin_of(x: str, lower: str, upper: str, width: str, last: str) -> str:
    """A value's histogram bin (none when outside the bins: NaN, infinities), as SQL."""
    return (f"CASE WHEN {x} BETWEEN {lower} AND {upper} THEN least(floor(({x} - {lower}) / {width}), {last})"
            "::INTEGER END")


def _histogram(b: str, bins: int) -> str:
    """The counts of bins 0 to `bins` - 1, as an aggregate. The histogram is given its bins:
    DuckDB 2.0 turns a histogram() of no bins into a grouping per column fed by a common table
    expression, which beside other aggregates held every row of the query's input (+810 MiB at
    20,000,000 rows x 7 numeric columns)."""
    return f"histogram({b}, {list(range(max(bins, 1)))})"


def _power_sums(d: str) -> list[str]:
    """The aggregates of _POWERS over deviations from the mean."""
    return [f"sum({d} * {d})", f"sum({d} * {d} * {d})", f"sum({d} * {d} * {d} * {d})"]


def _moments_query(numeric: list[tuple[_Column, _Bins | None, float | None]], histograms: bool) -> Sql:
    """Per numeric column (with its bins and mean): bin counts (when `histograms`), and the sums
    of the 2nd to 4th powers of the deviations from the mean, all in one aggregate over the batch
    (one scan).

    Centred on the first query's mean because DuckDB's skewness() and kurtosis() work from raw
    power sums: they lose all precision for large values with a small spread, and raise on
    overflow."""
    rows, sums, params = [], [], []
    for c, bins, mean in numeric:
        x, b, d = f"CAST({c.sql} AS DOUBLE)", f"b{c.index}", f"d{c.index}"
        if histograms:
            lower, upper, width, last = _bin_params(bins)
            rows.append(f"{_bin_of(x, '?', '?', '?', str(last))} AS {b}")
            params += [lower, upper, lower, width]
            sums.append(_histogram(b, bins.count if bins else 1))
        rows.append(f"{x} - ? AS {d}")
        params.append(mean)
        sums += _power_sums(d)
    return Sql(text=f"SELECT {', '.join(sums)} FROM (SELECT {', '.join(rows)} FROM {_VIEW})", params=tuple(params))


def _second_pass(con: duckdb.DuckDBPyConnection, columns: list[_Column],
                 scalars: dict[int, dict[str, Any]], bins: dict[int, _Bins | None],
                 top_k: int, exact: bool) -> dict[int, dict[str, Any]]:
    """Up to `exact_up_to_rows`, the top-k values of the columns that repeat a value, as one
    UNION of per-column groupings, and histograms (above, `_group_counts` has them); central
    moments of the numeric ones, as one aggregate."""
    found = _union(con, [_top_k_query(c, top_k) for c in columns
                         if exact and top_k > 0 and scalars[c.index]["distinct"] < scalars[c.index]["non_null"]])
    numeric = [(c, bins[c.index], _number(scalars[c.index]["mean"])) for c in columns
               if c.numeric and scalars[c.index]["non_null"]]
    if numeric:
        keys = ("bin_counts", *_POWERS) if exact else _POWERS
        row = _moments_query(numeric, histograms=exact).run(con).fetchone()
        assert row is not None  # an aggregate returns one row
        for i, (c, _, _) in enumerate(numeric):
            values = dict(zip(keys, row[len(keys) * i: len(keys) * (i + 1)], strict=True))
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


# --- long format: the columns of one type as (column, value) rows --------------------------


def _long(columns: list[_Column]) -> str:
    """The columns' values (all of one type) as rows of their index `col` and value `v`."""
    return (f"(SELECT unnest([{', '.join(str(c.index) for c in columns)}]) AS col, "
            f"unnest([{', '.join(c.sql for c in columns)}]) AS v FROM {_VIEW})")


def _long_scalars(con: duckdb.DuckDBPyConnection, columns: list[_Column],
                  exact: bool) -> tuple[int, dict[int, dict[str, Any]]]:
    """Row count and the columns' scalar statistics (distinct counts and quantiles included), from
    one aggregate grouped by column."""
    aggs = _aggregates(replace(columns[0], name="v"), exact, long=True)
    result = con.execute(f"SELECT col, count(*), {', '.join(aggs.values())} FROM {_long(columns)} GROUP BY col")
    found = result.fetchall()
    return found[0][1], {col: dict(zip(aggs, values, strict=True)) for col, _, *values in found}


def _long_second_pass(con: duckdb.DuckDBPyConnection, columns: list[_Column],
                      scalars: dict[int, dict[str, Any]], bins: dict[int, _Bins | None],
                      top_k: int) -> dict[int, dict[str, Any]]:
    """_second_pass in long format: top-k values of the columns that repeat a value from one
    grouping by column and value, histograms and central moments of the numeric ones from one
    aggregate grouped by column."""
    found: dict[int, dict[str, Any]] = {}
    repeating = [c for c in columns if scalars[c.index]["distinct"] < scalars[c.index]["non_null"]]
    if top_k > 0 and repeating:
        order = "{'n': -n, 'v': v}"  # most frequent first, ties by value
        result = con.execute(
            f"SELECT col, min_by(CAST(v AS VARCHAR), {order}, {int(top_k)}), min_by(n, {order}, {int(top_k)}) "
            f"FROM (SELECT col, v, count(*) AS n FROM {_long(repeating)} WHERE v IS NOT NULL GROUP BY col, v) "
            f"GROUP BY col")
        found |= {col: {"top_values": values, "top_counts": counts} for col, values, counts in result.fetchall()}
    numeric = [c for c in columns if c.numeric and scalars[c.index]["non_null"]]
    if numeric:
        per_column = [(c.index, *_bin_params(bins[c.index]), _number(scalars[c.index]["mean"])) for c in numeric]
        bin_of = _bin_of("CAST(v AS DOUBLE)", "lower", "upper", "width", "last")
        params = ", ".join(["(?, ?::DOUBLE, ?::DOUBLE, ?::DOUBLE, ?, ?::DOUBLE)"] * len(numeric))
        most = max((b.count for b in bins.values() if b), default=1)
        result = con.execute(
            f"SELECT col, {', '.join([_histogram('b', most), *_power_sums('d')])} FROM (SELECT col, {bin_of} AS b, "
            f"CAST(v AS DOUBLE) - mean AS d FROM {_long(numeric)} JOIN (VALUES {params}) "
            f"AS p(col, lower, upper, width, last, mean) USING (col)) GROUP BY col",
            [value for row in per_column for value in row])
        keys = ("bin_counts", *_POWERS)
        for col, *values in result.fetchall():
            found.setdefault(col, {}).update({k: v for k, v in zip(keys, values, strict=True) if v is not None})
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
    quantiles = [_number(q) for q in s.get("quantiles") or ()]
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
        quantiles_approximate=False,
        skewness=skewness,
        kurtosis=kurtosis,
        zero_count=s.get("zeros"),
        negative_count=s.get("negatives"),
        top_values=tuple(ValueFrequency(value=v, count=n) for v, n in
                         zip(s.get("top_values") or second.get("top_values", ()),
                             s.get("top_counts") or second.get("top_counts", ()), strict=True)),
        histogram=bins.histogram(s.get("bin_counts") or second.get("bin_counts") or {}) if bins else (),
        min_length=s.get("min_length"),
        max_length=s.get("max_length"),
        mean_length=s.get("mean_length"),
        date_range_days=(hi - lo) / timedelta(days=1)
        if is_point_in_time(c.data_type) and lo is not None else None,
    )
