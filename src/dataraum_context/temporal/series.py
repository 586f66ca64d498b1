"""Series: a table's rows and measures per period of its primary time column."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from dataraum_context.models import TemporalProfile
from dataraum_context.sql import batched, quote_ident
from dataraum_context.temporal.cadence import DAY
from dataraum_context.temporal.granularity import GRANULARITIES
from dataraum_context.temporal.view import VIEW, as_timestamp

_TREND_UNITS = (("hour", 3_600), ("day", DAY), ("week", 7 * DAY), ("month", 30.44 * DAY),
                ("quarter", 91.3 * DAY), ("year", 365.25 * DAY))


def trend_unit(profile: TemporalProfile, max_points: int = 200) -> str | None:
    """The finest unit, no finer than the data, that gives at most `max_points` periods."""
    span = (profile.span_days or 0) * DAY
    data = GRANULARITIES.index(profile.granularity or "year")
    for unit, length in _TREND_UNITS:
        finer_than_data = data > GRANULARITIES.index({"week": "day", "quarter": "month"}.get(unit, unit))
        if not finer_than_data and span / length <= max_points:
            return unit
    return None


def series(con: duckdb.DuckDBPyConnection, column: str, unit: str,
           measures: list[str]) -> tuple[list[Any], np.ndarray]:
    """Per period from the first to the last: the period's start, then the row count and the
    sum of each measure (zero in periods without rows); the measures of a wide table a batch
    per query."""
    x = as_timestamp(column)
    periods: list[Any] = []
    blocks = []
    for i, batch in enumerate(list(batched(measures)) or [[]]):
        sums = "".join(f", sum(CAST({quote_ident(m)} AS DOUBLE))" for m in batch)
        rows = con.execute(
            f"WITH s AS (SELECT date_trunc('{unit}', {x}) AS p, count(*) AS n{sums} FROM {VIEW} "
            f"WHERE {x} IS NOT NULL GROUP BY p), "
            f"r AS (SELECT unnest(generate_series(min(p), max(p), INTERVAL 1 {unit})) AS p FROM s) "
            f"SELECT * FROM r LEFT JOIN s USING (p) ORDER BY p").fetchall()
        periods = [r[0] for r in rows]
        skip = 1 if i == 0 else 2  # the row count once
        blocks.append(np.array([[v if v is not None else 0.0 for v in r[skip:]] for r in rows], dtype=float))
    return periods, np.hstack(blocks)
