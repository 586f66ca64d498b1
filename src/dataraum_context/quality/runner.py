"""Running one table's checks: exact counts, the first failing rows as examples, the SQL.

The row checks are counted in one aggregate pass per relation (a wide table's in passes of a
batch of checks), which also keeps each check's first failing rows (`arg_min(..., row number,
k) FILTER (WHERE ...)`); when that pass fails, each predicate runs alone, so a rule whose SQL
DuckDB rejects is reported with its error and every other check still counts. The query checks
run one query each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb

from dataraum_context.models import QualityResult
from dataraum_context.quality.checks import ROW_NUMBER, Check, TableChecks
from dataraum_context.sql import Sql, batched, concat, connect, open_tables, quote_ident
from dataraum_context.workspace import Workspace


def run_checks(table: TableChecks, workspace: str, example_rows: int) -> list[QualityResult]:
    """The results of one table's checks, in the order of the checks: the row checks, then
    the query checks. Reads only the files `table` names."""
    con = connect()
    try:
        ws = Workspace(workspace)
        # as `Workspace.sql` shows them, so that the reproducing SQL runs here as it runs there
        open_tables(con, {name: ws.path(path) for name, path in table.reads.items()},
                    {table.table: ws.path(table.quarantine)} if table.quarantine else None, row_numbers=True)
        by_relation: dict[str | None, list[Check]] = {}
        for c in table.checks:
            if c.predicate is not None:
                by_relation.setdefault(c.relation, []).append(c)
        results = [r for relation, group in by_relation.items()
                   for r in _count_rows(con, relation, group, example_rows, table.key)]
        return results + [_run_query(con, c, example_rows, table.key) for c in table.checks if c.predicate is None]
    finally:
        con.close()


def _count_rows(con: duckdb.DuckDBPyConnection, relation: str | None, checks: list[Check], k: int,
                key: tuple[str, ...]) -> list[QualityResult]:
    """Row checks over one relation: a batch in one pass (two aggregates a check), or each
    alone when the pass fails."""
    out = []
    for batch in batched(checks, size=lambda _: 2):
        try:
            out += _aggregate(con, relation, batch, k, key)
        except duckdb.Error:
            for c in batch:
                try:
                    out += _aggregate(con, relation, [c], k, key)
                except duckdb.Error as exc:
                    out.append(_result(c, None, None, (), error=_error(exc)))
    return out


def _aggregate(con: duckdb.DuckDBPyConnection, relation: str | None, checks: list[Check], k: int,
               key: tuple[str, ...]) -> list[QualityResult]:
    parts: list[str | Sql] = ["SELECT count(*)"]
    for c in checks:
        assert c.predicate is not None
        first = f"arg_min({_example_struct(c, key)}, {ROW_NUMBER}, {max(k, 1)})"
        parts += [", count(*) FILTER (WHERE ", c.predicate, f"), {first} FILTER (WHERE ", c.predicate, ")"]
    parts.append(f" FROM {relation or quote_ident(checks[0].table)}")
    row = concat(*parts).run(con).fetchone()
    assert row is not None  # an aggregate returns one row
    total = row[0]
    out = []
    for i, c in enumerate(checks):
        failing, examples = row[1 + 2 * i], row[2 + 2 * i] or []
        out.append(_result(c, failing, total, [_json_safe(e) for e in examples[:k]]))
    return out


def _example_struct(c: Check, key: tuple[str, ...]) -> str:
    columns = dict.fromkeys([*key, *c.columns])
    fields = [f"{quote_ident('_row')} := {ROW_NUMBER} + 1", *(f"{quote_ident(x)} := {quote_ident(x)}" for x in columns)]
    return f"struct_pack({', '.join(fields)})"


def _run_query(con: duckdb.DuckDBPyConnection, c: Check, k: int, key: tuple[str, ...]) -> QualityResult:
    sql = c.sql
    order = f"f.{ROW_NUMBER}" if c.table_rows else "f"
    try:
        if c.known_failing is not None:
            rows = concat("SELECT f FROM (", sql, f") AS f ORDER BY {order} LIMIT {max(k, 1)}").run(con).fetchall()
            failing = c.known_failing
            examples = [r[0] for r in rows]
        else:
            rows = concat("SELECT count(*) OVER (), f FROM (", sql,
                          f") AS f ORDER BY {order} LIMIT {max(k, 1)}").run(con).fetchall()
            failing = rows[0][0] if rows else 0
            examples = [r[1] for r in rows]
        total = c.total
        if isinstance(total, Sql):
            counted = total.run(con).fetchone()
            total = counted[0] if counted else None
    except duckdb.Error as exc:
        return _result(c, None, None, (), error=_error(exc))
    return _result(c, failing, total, [_example(c, e, key) for e in examples[:k]])


def _example(c: Check, row: dict[str, Any], key: tuple[str, ...]) -> dict[str, Any]:
    """A failing row as JSON-safe values: for rows of the table, its row number, key and the
    checked columns."""
    if not c.table_rows:
        return _json_safe(row)
    keep = [*key, *c.columns, *c.extra]
    out: dict[str, Any] = {"_row": row[ROW_NUMBER] + 1} if row.get(ROW_NUMBER) is not None else {}
    out |= {name: row[name] for name in dict.fromkeys(keep) if name in row}
    return _json_safe(out)


def _error(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[:1]
    return f"{type(exc).__name__}: {first[0] if first else ''}"


def _result(c: Check, failing: int | None, total: int | None, examples: Sequence[dict[str, Any]],
            error: str | None = None) -> QualityResult:
    sql = c.sql
    passed = error is None and failing is not None and (
        not total or 1 - failing / total >= c.threshold - 1e-12)
    return QualityResult(
        check=c.check, rule_type=c.rule_type, table=c.table, columns=c.columns, severity=c.severity,
        source=c.source, ontology_file=c.ontology_file, description=c.description, passed=passed,
        failing_rows=failing, total_rows=total, unit=c.unit, threshold=c.threshold,
        examples=tuple(examples), sql=sql.text, parameters=tuple(_json_safe(p) for p in sql.params),
        evidence=c.evidence, error=error)


def _json_safe(value: Any) -> Any:
    """Values as JSON has them: dates and times in ISO form, decimals as numbers."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return str(value)
