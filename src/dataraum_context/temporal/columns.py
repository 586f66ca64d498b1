"""Which columns the analysis reads: a table's time columns and the primary one among them
(its measures are `column_roles`')."""

from __future__ import annotations

from dataraum_context.models import ColumnStatistics, TableStatistics
from dataraum_context.naming import column_name

TIME_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE")
_TIME_WORDS = ("date", "time", "created", "timestamp", "day", "at", "when", "period", "ts")


def time_columns(table: TableStatistics) -> dict[str, ColumnStatistics]:
    """The date and timestamp columns that hold at least one value."""
    return {c: s for c, s in table.columns.items()
            if s.data_type.upper() in TIME_TYPES and s.count > s.null_count}


def primary_time_column(timed: dict[str, ColumnStatistics]) -> str:
    """The column most rows have a value in; a time-like name, then more distinct values,
    break ties."""
    def rank(item: tuple[str, ColumnStatistics]) -> tuple[int, bool, int]:
        name, s = item
        words = set(column_name("", name, None).core) | {name.lower()}
        return (s.count - s.null_count, any(w in words for w in _TIME_WORDS), s.distinct_count)
    return max(timed.items(), key=rank)[0]

