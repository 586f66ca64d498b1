"""The computations behind the steps: DuckDB reads a bounded, seeded sample (or a per-period
aggregate) of a typed table; scipy, scikit-learn and statsmodels work on those arrays. They are
imported here, when a step runs, not when the pipeline's modules are imported."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dataraum_context.sql import connect, quote_ident
from dataraum_steps_statistics_advanced.models import (
    Decomposition,
    DistributionFit,
    NotApplicable,
    OutlierRow,
    TableOutliers,
)

MIN_VALUES = 30  # fewer values than this say nothing about a distribution
MIN_DISTINCT = 5  # a column with fewer distinct values is categorical in all but type
TOP_OUTLIERS = 10
NEIGHBOURS = 20
# the period the temporal step counts a time column in -> (DuckDB date_trunc unit, step, cycle length)
SEASONS = {"hour": ("hour", "1 hour", 24), "day": ("day", "1 day", 7), "week": ("week", "7 days", 52),
           "month": ("month", "1 month", 12), "quarter": ("quarter", "3 months", 4)}
MAX_PERIODS = 10_000  # the most recent periods decomposed


def sample(path: Path, columns: list[str], rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `rows` rows (their row numbers, and their values as a rows x columns array) in
    which every column holds a finite number; the same rows for the same seed on every run,
    whatever the number of DuckDB threads (ordered by a hash of the row number)."""
    values = ", ".join(f"{quote_ident(c)}::DOUBLE AS c{i}" for i, c in enumerate(columns))
    complete = " AND ".join(f"isfinite({quote_ident(c)}::DOUBLE)" for c in columns)
    con = connect()
    try:
        got = con.execute(
            f"SELECT file_row_number AS r, {values} FROM read_parquet(?, file_row_number = true) "
            f"WHERE {complete} ORDER BY hash(file_row_number + ?), file_row_number LIMIT ?",
            [str(path), seed, rows]).fetchnumpy()
    finally:
        con.close()
    matrix = np.column_stack([np.asarray(got[f"c{i}"], dtype=float) for i in range(len(columns))]) \
        if len(got["r"]) else np.empty((0, len(columns)))
    return np.asarray(got["r"]), matrix


def fit_distribution(table: str, column: str, values: np.ndarray) -> DistributionFit | NotApplicable:
    """The candidate distributions fitted by maximum likelihood; the best has the smallest
    Kolmogorov-Smirnov statistic. Candidates that need positive values are tried only on them."""
    from scipy import stats

    if len(values) < MIN_VALUES:
        return NotApplicable(table=table, column=column, reason=f"{len(values)} values (fewer than {MIN_VALUES})")
    if len(np.unique(values)) < MIN_DISTINCT:
        return NotApplicable(table=table, column=column,
                             reason=f"fewer than {MIN_DISTINCT} distinct values: categorical, not continuous")
    candidates: dict[str, tuple[Any, dict[str, float]]] = {
        "normal": (stats.norm, {}), "uniform": (stats.uniform, {})}
    if values.min() >= 0:
        candidates["exponential"] = (stats.expon, {})
    if values.min() > 0:
        candidates |= {"lognormal": (stats.lognorm, {"floc": 0}), "gamma": (stats.gamma, {"floc": 0})}
    results: dict[str, tuple[float, float, dict[str, float]]] = {}
    for name, (dist, fixed) in candidates.items():
        params = dist.fit(values, **fixed)
        test = stats.kstest(values, dist.cdf, args=params)
        names = [*(dist.shapes.split(", ") if dist.shapes else []), "loc", "scale"]
        results[name] = (float(test.statistic), float(test.pvalue), dict(zip(names, map(float, params), strict=True)))
    best = min(results, key=lambda n: results[n][0])
    ks, p, parameters = results[best]
    return DistributionFit(table=table, column=column, sampled=len(values), best=best, ks_statistic=ks,
                           p_value=p, parameters=parameters, candidates={n: r[0] for n, r in results.items()})


def local_outliers(table: str, path: Path, columns: list[str], key: tuple[str, ...], rows: int, seed: int,
                   min_factor: float) -> TableOutliers | NotApplicable:
    """Rows unusual in the combination of `columns`: the local outlier factor (scikit-learn's
    LocalOutlierFactor, 20 neighbours) on the sample, scaled robustly (median and interquartile
    range, so that the outliers do not set the scale); a row is flagged from `min_factor`."""
    from sklearn.neighbors import LocalOutlierFactor

    row_numbers, x = sample(path, columns, rows, seed)
    if len(x) < MIN_VALUES:
        return NotApplicable(table=table, reason=f"{len(x)} rows with every measure present "
                                                 f"(fewer than {MIN_VALUES})")
    spread = np.subtract(*np.percentile(x, [75, 25], axis=0))
    scaled = (x - np.median(x, axis=0)) / np.where(spread > 0, spread, 1.0)
    # on the distinct points: repeated rows (prices from a list, small counts) would make their
    # own neighbourhoods infinitely dense and every other row look sparse beside them
    points, which = np.unique(scaled, axis=0, return_inverse=True)
    if len(points) <= NEIGHBOURS:
        return NotApplicable(table=table, reason=f"{len(points)} distinct combinations of its measures "
                                                 f"(the outlier factor compares {NEIGHBOURS} neighbours)")
    factors = -LocalOutlierFactor(n_neighbors=NEIGHBOURS).fit(points).negative_outlier_factor_[which.ravel()]
    flagged = np.flatnonzero(factors >= min_factor)
    top = flagged[np.argsort(-factors[flagged], kind="stable")][:TOP_OUTLIERS]
    labels = _row_labels(path, key, row_numbers[top])
    return TableOutliers(
        table=table, columns=tuple(columns), sampled=len(x), flagged=len(flagged), min_factor=min_factor,
        top=tuple(OutlierRow(row=label, score=round(float(factors[i]), 3),
                             values=dict(zip(columns, map(float, x[i]), strict=True)))
                  for label, i in zip(labels, top, strict=True)))


def _row_labels(path: Path, key: tuple[str, ...], row_numbers: np.ndarray) -> list[str]:
    """How a reader finds each row again: its key (`order_id=17`), or its row number."""
    numbers = [int(n) for n in row_numbers]
    if not key:
        return [f"row {n}" for n in numbers]
    columns = ", ".join(f"{quote_ident(k)}::VARCHAR" for k in key)
    con = connect()
    try:
        found = con.execute(f"SELECT file_row_number, {columns} FROM read_parquet(?, file_row_number = true) "
                            f"WHERE list_contains(?, file_row_number)", [str(path), numbers]).fetchall()
    finally:
        con.close()
    by_row = {r[0]: ", ".join(f"{k}={v}" for k, v in zip(key, r[1:], strict=True)) for r in found}
    return [by_row.get(n, f"row {n}") for n in numbers]


def decompose(table: str, path: Path, time_column: str, period: str | None,
              measures: list[str]) -> list[Decomposition | NotApplicable]:
    """Each measure summed per period along `time_column` (a period without rows is 0) and
    decomposed by STL; the strengths as Wang, Smith and Hyndman define them."""
    from statsmodels.tsa.seasonal import STL

    if period not in SEASONS:
        return [NotApplicable(table=table, column=time_column,
                              reason=f"its values come per {period or 'irregular interval'}, which has no "
                                     f"seasonal cycle to decompose (one of: {', '.join(SEASONS)})")]
    unit, step, cycle = SEASONS[period]
    starts, series = _per_period(path, time_column, unit, step, measures)
    if len(series) < 2 * cycle + 1:
        return [NotApplicable(table=table, column=time_column,
                              reason=f"{len(series)} {period}s: STL needs two full cycles ({2 * cycle + 1})")]
    out: list[Decomposition | NotApplicable] = []
    for i, measure in enumerate(measures):
        fit = STL(series[:, i], period=cycle, robust=True).fit()
        out.append(Decomposition(
            table=table, time_column=time_column, measure=measure, period=period, season_length=cycle,
            periods=len(series), trend_strength=_strength(fit.trend, fit.resid),
            seasonal_strength=_strength(fit.seasonal, fit.resid),
            trend_change=float(fit.trend[-1] - fit.trend[0]),
            seasonal_peak=_peak(starts[-cycle:][np.argmax(fit.seasonal[-cycle:])], period)))
    return out


def _per_period(path: Path, time_column: str, unit: str, step: str,
                measures: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The measures summed per period, every period from the first to the last (at most the
    latest MAX_PERIODS): the periods' starts, and a periods x measures array."""
    t = f"date_trunc('{unit}', {quote_ident(time_column)}::TIMESTAMP)"
    sums = ", ".join(f"sum({quote_ident(m)})::DOUBLE AS m{i}" for i, m in enumerate(measures))
    filled = ", ".join(f"coalesce(s.m{i}, 0) AS m{i}" for i in range(len(measures)))
    con = connect()
    try:
        got = con.execute(
            f"WITH s AS (SELECT {t} AS p, {sums} FROM read_parquet(?) WHERE {quote_ident(time_column)} IS NOT NULL "
            f"GROUP BY 1), r AS (SELECT unnest(generate_series(min(p), max(p), INTERVAL '{step}')) AS p FROM s) "
            f"SELECT * FROM (SELECT r.p, {filled} FROM r LEFT JOIN s USING (p) ORDER BY r.p DESC LIMIT ?) "
            f"ORDER BY p", [str(path), MAX_PERIODS]).fetchnumpy()
    finally:
        con.close()
    if not len(got["p"]):
        return np.asarray(got["p"]), np.empty((0, len(measures)))
    return np.asarray(got["p"]), np.column_stack([np.asarray(got[f"m{i}"], dtype=float) for i in range(len(measures))])


def _peak(start: np.datetime64, period: str) -> str:
    """Where in its cycle a period falls, as a reader names it: Sunday, March, 14:00, week 23, Q3."""
    at = datetime.fromisoformat(str(np.datetime_as_string(start, unit="s")))
    names = {"day": f"{at:%A}", "month": f"{at:%B}", "hour": f"{at:%H}:00",
             "week": f"week {at.isocalendar().week}", "quarter": f"Q{(at.month - 1) // 3 + 1}"}
    return names[period]


def _strength(component: np.ndarray, remainder: np.ndarray) -> float:
    total = float(np.var(component + remainder))
    return round(max(0.0, 1 - float(np.var(remainder)) / total), 4) if total > 0 else 0.0
