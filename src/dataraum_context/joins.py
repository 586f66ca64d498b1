"""The join graph: table roles from the relationships, and join paths with their SQL.

Relationships are edges from the referencing table to the referenced one (many-to-one or
one-to-one). Roles come from the degrees: a table nothing points at that points at others is a
fact (a bridge when it holds little besides those references); a table others point at is a
dimension. A join path is the shortest chain of relationships between two tables, walked in
either direction; its SQL is a FROM ... JOIN ... ON clause an agent can paste.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from dataraum_context.models import JoinPath, JoinStep, Relationship, TableRole
from dataraum_context.sql import quote_ident


def columns_label(table: str, columns: Sequence[str]) -> str:
    """`orders.customer_id`; a composite key in parentheses: `order_lines.(order_id, line_no)`."""
    return f"{table}.{columns[0]}" if len(columns) == 1 else f"{table}.({', '.join(columns)})"


def table_roles(relationships: Sequence[Relationship], columns: Mapping[str, Sequence[str]],
                keys: Mapping[str, tuple[str, ...]]) -> dict[str, TableRole]:
    """Each table's role and degrees; `columns` lists every table's columns, `keys` their own
    keys. Self-references do not count toward the degrees."""
    inbound = dict.fromkeys(columns, 0)
    outbound = dict.fromkeys(columns, 0)
    referencing: dict[str, set[str]] = {name: set() for name in columns}
    for r in relationships:
        referencing.setdefault(r.from_table, set()).update(r.from_columns)
        if r.from_table == r.to_table:
            continue
        outbound[r.from_table] = outbound.get(r.from_table, 0) + 1
        inbound[r.to_table] = inbound.get(r.to_table, 0) + 1
    roles = {}
    for name, cols in columns.items():
        n_in, n_out = inbound.get(name, 0), outbound.get(name, 0)
        own = set(keys.get(name, ())) | referencing.get(name, set())
        if n_in == 0 and n_out == 0:
            role = "isolated"
        elif n_in == 0 and n_out >= 2 and len([c for c in cols if c not in own]) <= 1:
            role = "bridge"
        elif (n_in == 0 and n_out >= 1) or (n_out >= 2 and n_out > n_in):
            role = "fact"
        else:
            role = "dimension"
        roles[name] = TableRole(name=name, role=role, in_degree=n_in, out_degree=n_out,
                                key_columns=keys.get(name, ()))
    return roles


def _edges(relationships: Iterable[Relationship], forward_only: bool = False
           ) -> dict[str, list[JoinStep]]:
    """Adjacency: every relationship as a step from the referencing side, and (unless
    `forward_only`) back from the referenced side."""
    adjacency: dict[str, list[JoinStep]] = {}
    for r in relationships:
        if r.from_table == r.to_table:
            continue
        adjacency.setdefault(r.from_table, []).append(JoinStep(
            left_table=r.from_table, left_columns=r.from_columns, right_table=r.to_table,
            right_columns=r.to_columns, cardinality=r.cardinality or "many_to_one"))
        if not forward_only:
            back = "one_to_one" if r.cardinality == "one_to_one" else "one_to_many"
            adjacency.setdefault(r.to_table, []).append(JoinStep(
                left_table=r.to_table, left_columns=r.to_columns, right_table=r.from_table,
                right_columns=r.from_columns, cardinality=back))
    for steps in adjacency.values():  # forward (many-to-one) steps first: preferred on ties
        steps.sort(key=lambda s: (s.cardinality == "one_to_many", s.right_table, s.left_columns))
    return adjacency


def _paths_from(start: str, adjacency: dict[str, list[JoinStep]]) -> dict[str, tuple[JoinStep, ...]]:
    """Breadth-first: the shortest step sequence from `start` to every table it reaches."""
    paths: dict[str, tuple[JoinStep, ...]] = {start: ()}
    queue = deque([start])
    while queue:
        table = queue.popleft()
        for step in adjacency.get(table, ()):
            if step.right_table not in paths:
                paths[step.right_table] = paths[table] + (step,)
                queue.append(step.right_table)
    return paths


def join_sql(start: str, steps: Sequence[JoinStep]) -> str:
    """`FROM a JOIN b ON a.x = b.y ...` for a path starting at `start`."""
    parts = [f"FROM {quote_ident(start)}"]
    for s in steps:
        on = " AND ".join(f"{quote_ident(s.left_table)}.{quote_ident(lc)} = "
                          f"{quote_ident(s.right_table)}.{quote_ident(rc)}"
                          for lc, rc in zip(s.left_columns, s.right_columns, strict=True))
        parts.append(f"JOIN {quote_ident(s.right_table)} ON {on}")
    return " ".join(parts)


def join_path(relationships: Sequence[Relationship], from_table: str, to_table: str) -> JoinPath | None:
    """The shortest join path between two tables, or None when they are not connected."""
    steps = _paths_from(from_table, _edges(relationships)).get(to_table)
    if steps is None or from_table == to_table:
        return None
    return JoinPath(from_table=from_table, to_table=to_table, steps=steps,
                    sql=join_sql(from_table, steps))


def star_paths(relationships: Sequence[Relationship], roles: Mapping[str, TableRole]) -> tuple[JoinPath, ...]:
    """From every fact and bridge table, the many-to-one path to each table it reaches: the
    joins that never multiply the fact's rows."""
    adjacency = _edges(relationships, forward_only=True)
    out = []
    for name in sorted(roles):
        if roles[name].role not in ("fact", "bridge"):
            continue
        for target, steps in sorted(_paths_from(name, adjacency).items()):
            if steps:
                out.append(JoinPath(from_table=name, to_table=target, steps=steps,
                                    sql=join_sql(name, steps)))
    return tuple(out)
