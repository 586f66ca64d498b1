"""Temporal analysis: how time runs through a table's date and timestamp columns.

Per table (`profile.profile_table`, a function of one typed Parquet file and its statistics):
each time column's granularity (`granularity`), cadence (`cadence`), completeness and gaps
(`gaps`); along the table's primary time column (`columns`), every measure summed per period
(`series`) gives a trend direction (`detrending`, `direction`) and weekday / month-of-year
seasonality hints (`seasonality`), put together in `trends`. Across tables: freshness against
one reference date (`freshness`).
"""

from __future__ import annotations

from dataraum_context.temporal.freshness import (
    latest_primary_value,
    parse_reference,
    with_freshness,
)
from dataraum_context.temporal.profile import profile_table

__all__ = ["latest_primary_value", "parse_reference", "profile_table", "with_freshness"]
