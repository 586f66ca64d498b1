"""Freshness: how long before a reference date each time column's latest value lies.

The reference is one for all tables: `reference_date` when given; otherwise the latest value
of the tables' primary time columns, so that a rerun on the same data gives the same result
(today's date would not).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from dataraum_context.errors import ConfigError
from dataraum_context.models import TableTemporal, TemporalProfile


def parse_reference(text: str | date | None) -> date | datetime | None:
    """`reference_date` as given in a config: an ISO date or timestamp (or already one)."""
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"reference_date: {text!r} is not an ISO date or timestamp "
                          "(e.g. 2024-06-30 or 2024-06-30T12:00:00)") from None


def latest_primary_value(tables: Iterable[TableTemporal]) -> date | datetime | None:
    """The latest value of the tables' primary time columns; None when no table has one."""
    latest = [t.columns[t.primary_column].max for t in tables if t.primary_column]
    return max(latest, key=_as_datetime) if latest else None


def with_freshness(table: TableTemporal, reference: date | datetime | None) -> TableTemporal:
    """The table's time profiles with their lag behind `reference`, in days."""
    return table.model_copy(update={"columns": {c: _profile_with_freshness(p, reference)
                                                for c, p in table.columns.items()}})


def _profile_with_freshness(p: TemporalProfile, reference: date | datetime | None) -> TemporalProfile:
    if reference is None or p.max is None:
        return p
    lag = (_as_datetime(reference) - _as_datetime(p.max)) / timedelta(days=1)
    return p.model_copy(update={"reference_date": reference, "freshness_days": lag})


def _as_datetime(value: date | datetime) -> datetime:
    """Dates as midnight, aware timestamps as naive UTC (as `sql.connect` reads them): comparable
    with each other."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else \
            value.astimezone(UTC).replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)
