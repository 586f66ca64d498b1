"""Completeness and gaps: a column's distinct values bucketed into periods of its cadence,
counted from the first value (bucket 0) to the last."""

from __future__ import annotations

from typing import Any, NamedTuple

import duckdb

from dataraum_context.temporal.cadence import Period
from dataraum_context.temporal.view import VIEW, as_timestamp


class Periods(NamedTuple):
    expected: int  # periods from the first value's to the last value's
    observed: int  # of those, periods holding a value
    gap_count: int  # runs of periods without a value
    largest_gap: int  # periods in the longest run
    largest_gap_after: Any  # the last value before it; None without gaps

    @property
    def completeness(self) -> float | None:
        return self.observed / self.expected if self.expected else None


def periods(con: duckdb.DuckDBPyConnection, column: str, first: Any, period: Period) -> Periods:
    """The periods of `column` starting at its first value `first`, and the gaps between them."""
    x = as_timestamp(column)
    kind, size = period
    if kind == "m":
        bucket = f"floor(((year(v) * 12 + month(v)) - (year(?::TIMESTAMP) * 12 + month(?::TIMESTAMP))) / {size})"
        params = [first, first]
    else:
        bucket = f"floor((epoch(v) - epoch(?::TIMESTAMP)) / {size})"
        params = [first]
    row = con.execute(
        f"WITH b AS (SELECT {bucket} AS bucket, max(v) AS last FROM "
        f"(SELECT DISTINCT {x} AS v FROM {VIEW} WHERE {x} IS NOT NULL) GROUP BY bucket), "
        f"g AS (SELECT bucket - lag(bucket) OVER (ORDER BY bucket) - 1 AS missing, "
        f"lag(last) OVER (ORDER BY bucket) AS after FROM b) "
        f"SELECT (SELECT count(*) FROM b), (SELECT max(bucket) FROM b) + 1, "
        f"count(*) FILTER (WHERE missing > 0), coalesce(max(missing), 0), arg_max(after, missing) FROM g",
        params).fetchone()
    assert row is not None  # an aggregate returns one row
    observed, expected, gaps, largest, after = row
    return Periods(int(expected or 0), int(observed), int(gaps), int(largest), after if largest else None)
