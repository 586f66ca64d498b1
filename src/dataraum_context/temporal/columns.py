"""Which columns the analysis reads: a table's time columns, the primary one among them, and
its measures."""

from __future__ import annotations

from dataraum_context.models import ColumnStatistics, TableStatistics
from dataraum_context.naming import column_name
from dataraum_context.sql import is_number, is_point_in_time, is_whole_number

_TIME_WORDS = ("date", "time", "created", "timestamp", "day", "at", "when", "period", "ts")


def time_columns(table: TableStatistics) -> dict[str, ColumnStatistics]:
    """The date and timestamp columns that hold at least one value."""
    return {c: s for c, s in table.columns.items()
            if is_point_in_time(s.data_type) and s.count > s.null_count}


def primary_time_column(timed: dict[str, ColumnStatistics]) -> str:
    """The column most rows have a value in; a time-like name, then more distinct values,
    break ties."""
    def rank(item: tuple[str, ColumnStatistics]) -> tuple[int, bool, int]:
        name, s = item
        words = set(column_name("", name, None).core) | {name.lower()}
        return (s.count - s.null_count, any(w in words for w in _TIME_WORDS), s.distinct_count)
    return max(timed.items(), key=rank)[0]


def measures(table: str, columns: dict[str, ColumnStatistics]) -> list[str]:
    """Numeric columns that are quantities, not identifiers or flags."""
    out = []
    for name, s in columns.items():
        non_null = s.count - s.null_count
        if not is_number(s.data_type) or non_null == 0:
            continue
        is_int = is_whole_number(s.data_type)
        if s.distinct_count <= 2 or column_name(table, name, None).key_suffix:
            continue
        if is_int and s.distinct_count == non_null:  # a unique integer: an identifier
            continue
        out.append(name)
    return out
