"""Column roles: the one place that decides what each column is in its table, from its
statistics, name and type and the user's `key_duplicate_tolerance`.

    keys    the table's own key (declared, or named for the table and unique), the columns named
            as its id, the candidate keys other tables may reference
    kinds   measure, dimension, timestamp, identifier or attribute, each with its reason

Semantic enrichment starts from these roles (and may overrule a measure or a dimension with an
ontology concept); topology takes the own and candidate keys; quality checks the named and own
keys for repeats and puts fences on the measures; temporal follows the measures' trends; the
context warns about a named key that repeats. Topology adds the composite keys it measures in
the values (`TableRole.key_columns`); semantic enrichment marks their members `key_member`.
"""

from __future__ import annotations

from collections.abc import Sequence

from dataraum_context.models import (
    ColumnRole,
    ColumnRolesResult,
    StagingResult,
    StatisticsResult,
    TableColumnRoles,
    TableStatistics,
)
from dataraum_context.naming import column_name, column_prefix
from dataraum_context.roles.keys import candidate_key, named_as_key, own_key
from dataraum_context.roles.kinds import column_kind

__all__ = ["given_or_decided", "referencing_key_member", "roles_of", "table_roles"]


def roles_of(statistics: StatisticsResult, staging: StagingResult | None, tolerance: float) -> ColumnRolesResult:
    """Every profiled table's column roles."""
    declared = staging.declared_relationships if staging else ()
    references = {(r.from_table, f): f"{r.to_table}.{t}" for r in declared
                  for f, t in zip(r.from_columns, r.to_columns, strict=True)}
    tables = {}
    for name, table in statistics.tables.items():
        staged = staging.tables.get(name) if staging else None
        primary_key = tuple(staged.primary_key) if staged else ()
        tables[name] = table_roles(table, primary_key, references, tolerance)
    return ColumnRolesResult(tables=tables, key_duplicate_tolerance=tolerance)


def given_or_decided(roles: ColumnRolesResult | None, statistics: StatisticsResult, staging: StagingResult | None,
                     tolerance: float) -> ColumnRolesResult:
    """The `column_roles` node's result; decided here the same way when a step's module runs
    without the statistics module (a Hamilton user composing modules, a test calling a node)."""
    return roles if roles is not None else roles_of(statistics, staging, tolerance)


def table_roles(table: TableStatistics, primary_key: tuple[str, ...], references: dict[tuple[str, str], str],
                tolerance: float) -> TableColumnRoles:
    """One table's column roles; `primary_key`: the key its source declares, `references`:
    the columns sources declare as references, by (table, column)."""
    prefix = column_prefix(list(table.columns))
    names = {c: column_name(table.name, c, prefix) for c in table.columns}
    candidates = {c for c, s in table.columns.items() if candidate_key(s, tolerance)}
    key, key_evidence = own_key(table, names, candidates, primary_key)
    columns = {}
    for col, s in table.columns.items():
        referenced = references.get((table.name, col))
        role, evidence = column_kind(s, names[col], prefix)
        if col in key:
            role, evidence = _key_role(key, col, referenced, key_evidence)
        columns[col] = ColumnRole(name=col, role=role, evidence=tuple(evidence), key_member=col in key,
                                  candidate_key=col in candidates, named_as_key=named_as_key(names[col]),
                                  references=referenced)
    return TableColumnRoles(name=table.name, own_key=key, own_key_evidence=key_evidence, columns=columns)


def referencing_key_member(column: str, key: Sequence[str], references: str | None) -> bool:
    """A column of a composite key whose values reference another table: its role is
    `foreign_key`, with `key_member: true` (`ps_partkey` in partsupp). A single-column key that
    references another table (a one-to-one extension) stays `key`."""
    return bool(references) and len(key) > 1 and column in key


def _key_role(key: tuple[str, ...], column: str, referenced: str | None, why: str | None) -> tuple[str, list[str]]:
    """A column of the own key is `key`, unless it is a referencing member of a composite key."""
    if referencing_key_member(column, key, referenced):
        return "foreign_key", [f"references {referenced} (declared), a column of the key ({', '.join(key)})"]
    return "key", [why or "the table's key"]
