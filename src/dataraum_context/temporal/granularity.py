"""Granularity: the finest unit a column's values are recorded at.

A DATE, or timestamps all at midnight, is `day`; timestamps whose seconds are all zero are
`minute`; dates all on the 1st are `month`, all on the 1st of January `year`.
"""

from __future__ import annotations

import duckdb

from dataraum_context.sql import Family, family
from dataraum_context.temporal.view import VIEW, as_timestamp

GRANULARITIES = ("microsecond", "millisecond", "second", "minute", "hour", "day", "month", "year")  # finest first


def granularity(con: duckdb.DuckDBPyConnection, column: str, data_type: str) -> str:
    """The finest unit in which some value of `column` is not a whole number of the next."""
    x = as_timestamp(column)
    counts: tuple[int, ...]
    if family(data_type) is Family.DATE:
        counts = (0, 0, 0, 0, 0, *_fetch(con, (f"day({x}) != 1", f"month({x}) != 1"), x))
    else:
        counts = _fetch(con, (f"epoch_us({x}) % 1000 != 0", f"epoch_us({x}) % 1000000 != 0",
                              f"second({x}) != 0", f"minute({x}) != 0", f"hour({x}) != 0",
                              f"day({x}) != 1", f"month({x}) != 1"), x)
    return finest(counts)


def finest(counts: tuple[int, ...]) -> str:
    """The first unit of `GRANULARITIES` with values not a whole number of the next unit
    (`counts`, one per unit but the last); `year` when there is none."""
    return next((unit for unit, n in zip(GRANULARITIES, counts, strict=False) if n), GRANULARITIES[-1])


def _fetch(con: duckdb.DuckDBPyConnection, conditions: tuple[str, ...], x: str) -> tuple[int, ...]:
    filters = ", ".join(f"count(*) FILTER (WHERE {c})" for c in conditions)
    row = con.execute(f"SELECT {filters} FROM {VIEW} WHERE {x} IS NOT NULL").fetchone()
    assert row is not None  # an aggregate returns one row
    return tuple(row)
