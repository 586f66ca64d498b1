"""Keys: which columns identify a row of their table, and which could be referenced.

A candidate key is a column of a comparable type (integers, text, UUIDs) with at least two
values (or the one value of a one-row table) that repeats, and is null in, no more than
`key_duplicate_tolerance` of its rows (none below 20 rows; see
`topology.columns.allowed_repeats`). Statistics count a column exactly whenever it may be
unique, so this is decided on exact counts at any size.

The own key is the key the source declares (a database's primary key, composite or not), else
the candidate key named for its table (`id`, `customer_id` in customers, `c_custkey` in
customer), else the first column when it is a candidate key with a key-like name.

A column is named as the table's id when its name says so and ends in an id word (`id`, `key`,
`pk`, `uuid`, `guid`; a `code` or a `number` alone need not be unique): whether or not it is
unique, a repeat in it is a finding (quality checks it, the context warns).
"""

from __future__ import annotations

from collections.abc import Collection

from dataraum_context.models import ColumnStatistics, TableStatistics
from dataraum_context.naming import ColumnName, tokens
from dataraum_context.topology.columns import allowed_repeats, family

_ID_WORDS = frozenset({"id", "key", "pk", "uuid", "guid"})


def candidate_key(s: ColumnStatistics, tolerance: float) -> bool:
    """Unique and never null, up to the tolerance, and of a type keys are compared in."""
    if family(s.data_type) is None:
        return False
    non_null = s.count - s.null_count
    # a table of one row (a single warehouse) is keyed by its one value
    return (((non_null >= 2 and s.distinct_count >= 2) or s.count == non_null == 1)
            and s.null_count <= allowed_repeats(s.count, tolerance)
            and non_null - s.distinct_count <= allowed_repeats(non_null, tolerance))


def named_as_key(name: ColumnName) -> bool:
    """`id`, `category_id` in categories, `person_id` in people, `c_custkey` in customer."""
    words = tokens(name.column)
    return name.names_own_table and bool(words) and words[-1] in _ID_WORDS


def own_key(table: TableStatistics, names: dict[str, ColumnName], candidates: Collection[str],
            primary_key: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """The table's own key and why; () when it has none."""
    if primary_key and all(c in table.columns for c in primary_key):
        return primary_key, "the source declares it the primary key"
    order = list(table.columns)
    for col in sorted(candidates, key=lambda c: (not names[c].names_own_table, order.index(c))):
        if names[col].names_own_table:
            return (col,), "named for its table, unique and never null"
        if order.index(col) == 0 and names[col].key_suffix:
            return (col,), "its first column, named like a key, unique and never null"
    return (), None
