"""The columns that can take part in a relationship, what their statistics say, and each
table's key for its role."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dataraum_context import sql
from dataraum_context.models import (
    ColumnRolesResult,
    ColumnStatistics,
    Relationship,
    StatisticsResult,
    TypeResolutionResult,
)
from dataraum_context.naming import column_name, column_prefix
from dataraum_context.topology.models import (
    Column,
    ColumnTuple,
    Family,
    MeasuredPair,
    Side,
)

_REPEATS_FROM_ROWS = 20  # below this many rows a key column must be strictly unique


def family(data_type: str) -> Family | None:
    """How values of a DuckDB type are compared: `int` (whole numbers), `text` (text and
    UUIDs), or not at all."""
    if sql.is_whole_number(data_type):
        return "int"
    if sql.family(data_type) in (sql.Family.TEXT, sql.Family.UUID):
        return "text"
    return None


def allowed_repeats(non_null: int, tolerance: float) -> int:
    """The repeated values a key of `non_null` values may hold."""
    return 0 if non_null < _REPEATS_FROM_ROWS else max(1, int(tolerance * non_null))


def duplicate_policy(tolerance: float) -> str:
    """How repeated values on the referenced side are treated, in words."""
    return (f"a referenced column may repeat up to {tolerance:.0%} of its values (from {_REPEATS_FROM_ROWS} rows "
            "up; smaller tables need strictly unique keys); the repeats are counted on the relationship "
            "(referenced_duplicates) because a join on them multiplies rows")


def joinable_columns(stats: StatisticsResult, types: TypeResolutionResult, roles: ColumnRolesResult) -> list[Column]:
    """The integer and text columns with values of the typed tables, numbered from 0; a key is
    a candidate key of `column_roles` (unique up to a few repeats, and non-null)."""
    out: list[Column] = []
    for table_name, table in stats.tables.items():
        if table_name not in types.tables:
            continue
        prefix = column_prefix(list(table.columns))
        for position, (col_name, s) in enumerate(table.columns.items()):
            kind = family(s.data_type)
            if kind is None or s.count == s.null_count or (kind == "text" and _free_text(s)):
                continue
            out.append(Column(id=len(out), table=table_name, column=col_name, position=position, family=kind,
                              stats=s, name=column_name(table_name, col_name, prefix),
                              key=roles.tables[table_name].columns[col_name].candidate_key))
    return out


def _free_text(s: ColumnStatistics) -> bool:
    """Whether a text column holds free text (names, descriptions, comments): most of the values
    its statistics show (its least and greatest, its most frequent) are words separated by
    spaces. Such a column is no key and references none, whatever its values share."""
    shown = [str(v) for v in (s.min, s.max) if v is not None] + [t.value for t in s.top_values]
    return bool(shown) and 2 * sum(any(ch.isspace() for ch in v.strip()) for v in shown) > len(shown)


def may_be_unique(key: Side, tolerance: float) -> bool:
    """Whether a side (a column tuple, profiled exactly) repeats few enough values to be a key."""
    return key.non_null >= 2 and key.non_null - key.distinct <= allowed_repeats(key.non_null, tolerance)


def table_keys(own: dict[str, tuple[str, ...]], declared: Sequence[Relationship], found: Iterable[MeasuredPair],
               sides: Sequence[Side]) -> dict[str, tuple[str, ...]]:
    """Each table's key for its role: its own key, else a key a source declares, else a
    composite key found in the values."""
    keys = dict(own)
    for r in declared:
        keys.setdefault(r.to_table, r.to_columns)
    for p in found:
        key = sides[p.key]
        if isinstance(key, ColumnTuple):
            keys.setdefault(key.table, key.columns)
    return keys


class Tuples:
    """One `ColumnTuple` per table and columns, numbered after the columns as they are asked for."""

    def __init__(self, stats: StatisticsResult, first_id: int):
        self.stats = stats
        self.first_id = first_id
        self._made: dict[tuple[str, tuple[str, ...]], ColumnTuple] = {}

    def get(self, table: str, cols: Sequence[str]) -> ColumnTuple | None:
        """The tuple of these columns; None when the table or a column has no statistics."""
        key = (table, tuple(cols))
        t = self.stats.tables.get(table)
        if key not in self._made and t is not None and all(c in t.columns for c in cols):
            names = list(t.columns)
            self._made[key] = ColumnTuple(id=self.first_id + len(self._made), table=table, columns=key[1],
                                         parts=tuple(t.columns[c] for c in cols),
                                         position=min(names.index(c) for c in cols), rows=t.row_count)
        return self._made.get(key)

    def sides(self) -> tuple[ColumnTuple, ...]:
        """The tuples made, in the order of their ids."""
        return tuple(self._made.values())

    def column_order(self, table: str) -> list[str]:
        """The table's columns in order (none when it has no statistics)."""
        t = self.stats.tables.get(table)
        return list(t.columns) if t is not None else []
