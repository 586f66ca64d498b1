"""Running one table's checks: exact counts, the first failing rows as examples, the SQL.

The row checks are counted in one aggregate pass per relation (a wide table's in passes of a
batch of checks); a second pass over only the rows that fail some check finds the row numbers
of each failed check's first failing rows (`min(row number, k) FILTER (WHERE ...)`), which
are then read by their numbers. When a pass fails, each predicate runs alone, so a rule whose
SQL DuckDB rejects is reported with its error and every other check still counts. A query
check is counted in one query and its first rows read in another (none when nothing fails);
one whose failing rows an earlier step counted exactly as none runs no query.
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
from dataraum_context.sql import Sql, batched, concat, open_tables, quote_ident, session
from dataraum_context.workspace import Workspace

# A table of this many rows or more has its checks run on a connection of its own whose memory is
# bounded (MEMORY_PER_THREAD a thread, unless DATARAUM_DUCKDB_MEMORY_LIMIT sets the limit), as
# statistics does: the groupings of query checks (a repeated key, a grouped rule, the periods of a
# time column) grow with the distinct values and spill into `<workspace>/tmp/` beyond it. Counting
# the repeats of a key of 5,000,000 distinct values took 310 MiB more without a bound, 170 with 256
# MiB on 2 threads, in no more time. Below, a connection of its own would cost more than it saves.
BOUNDED_FROM_ROWS = 2_000_000
MEMORY_PER_THREAD = 128 << 20


def run_checks(table: TableChecks, workspace: str, example_rows: int) -> list[QualityResult]:
    """The results of one table's checks, in the order of the checks: the row checks, then
    the query checks. Reads only the files `table` names. A large table's run once more without
    the bound when DuckDB ran out of memory under it (values of kilobytes)."""
    ws = Workspace(workspace)
    large = table.rows >= BOUNDED_FROM_ROWS
    with ws.spilling("quality", MEMORY_PER_THREAD) if large else session() as con:
        results = _run(con, ws, table, example_rows)
    if large and any((r.error or "").startswith(duckdb.OutOfMemoryException.__name__) for r in results):
        with session() as con:
            results = _run(con, ws, table, example_rows)
    return results


def _run(con: duckdb.DuckDBPyConnection, ws: Workspace, table: TableChecks, k: int) -> list[QualityResult]:
    # as `Workspace.sql` shows them, so that the reproducing SQL runs here as it runs there
    open_tables(con, {name: ws.path(path) for name, path in table.reads.items()},
                {table.table: ws.path(table.quarantine)} if table.quarantine else None, row_numbers=True)
    by_relation: dict[str | None, list[Check]] = {}
    for c in table.checks:
        if c.predicate is not None:
            by_relation.setdefault(c.relation, []).append(c)
    results = [r for relation, group in by_relation.items() for r in _count_rows(con, relation, group, k, table.key)]
    return results + [_run_query(con, c, k, table.key) for c in table.checks if c.predicate is None]


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
    """The checks' failing rows counted in one pass; then the first `k` of each check that
    failed, found in a second pass over only the rows failing some check and read by their
    numbers (an example built for every failing row cost six times the counting; the numbers
    kept in the counting pass itself, three times)."""
    source = relation or quote_ident(checks[0].table)
    counted = _predicates(checks, source, "SELECT count(*)" + "".join(
        f", count(*) FILTER (WHERE p{i})" for i in range(len(checks)))).run(con).fetchone()
    assert counted is not None  # an aggregate returns one row
    total, failing = counted[0], counted[1:]
    failed = [i for i, n in enumerate(failing) if n and k > 0]
    examples = dict(zip(failed, _first_failing(con, source, [checks[i] for i in failed], k, key), strict=True))
    return [_result(c, n, total, examples.get(i, ())) for i, (c, n) in enumerate(zip(checks, failing, strict=True))]


def _predicates(checks: list[Check], source: str, select: str, where: str = "") -> Sql:
    """`select` over the rows of `source` with their row number and each check's predicate as
    a column `p<i>`: a row's predicates evaluated once, however often the aggregates read them
    (inside the aggregates' filters the counting took twice the time)."""
    parts: list[str | Sql] = [f"{select} FROM (SELECT {ROW_NUMBER}"]
    for i, c in enumerate(checks):
        assert c.predicate is not None
        parts += [", (", c.predicate, f") AS p{i}"]
    return concat(*parts, f" FROM {source}){where}")


def _first_failing(con: duckdb.DuckDBPyConnection, source: str, checks: list[Check], k: int,
                   key: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    """The first `k` failing rows of each check, in row order: their row number (1-based), the
    key and the checked columns."""
    if not checks:
        return []
    row = _predicates(checks, source, "SELECT " + ", ".join(
        f"min({ROW_NUMBER}, {k}) FILTER (WHERE p{i})" for i in range(len(checks))),
        " WHERE " + " OR ".join(f"p{i}" for i in range(len(checks)))).run(con).fetchone()
    assert row is not None  # an aggregate returns one row
    numbers: list[list[int]] = [sorted(ns or ()) for ns in row]
    wanted = sorted({n for ns in numbers for n in ns})
    columns = list(dict.fromkeys([*key, *(x for c in checks for x in c.columns)]))
    # the LIMIT ends the scan once they are read: the first rows of a CSV read in place come early
    rows = {r[0]: dict(zip(columns, r[1:], strict=True)) for r in con.execute(
        f"SELECT {', '.join([ROW_NUMBER, *map(quote_ident, columns)])} FROM {source} "
        f"WHERE {ROW_NUMBER} IN (SELECT unnest(?::BIGINT[])) LIMIT {len(wanted)}", [wanted]).fetchall()}
    return [[_json_safe({"_row": n + 1, **{x: rows[n][x] for x in dict.fromkeys([*key, *c.columns])}}) for n in ns]
            for c, ns in zip(checks, numbers, strict=True)]


def _run_query(con: duckdb.DuckDBPyConnection, c: Check, k: int, key: tuple[str, ...]) -> QualityResult:
    if c.known_failing == 0 and not isinstance(c.total, Sql):  # nothing fails, nothing to show
        return _result(c, 0, c.total, ())
    try:
        if c.known_failing is None and c.table_rows and not c.extra:
            failing, examples = _failing_table_rows(con, c, k)
        else:
            failing, examples = _failing(con, c, k)
        total = c.total
        if isinstance(total, Sql):
            counted = total.run(con).fetchone()
            total = counted[0] if counted else None
    except duckdb.Error as exc:
        return _result(c, None, None, (), error=_error(exc))
    return _result(c, failing, total, [_example(c, e, key) for e in examples[:k]])


# A query check's failing rows are counted apart from its first rows: `count(*) OVER ()` beside
# them held every failing row whole (a key repeated in every row of 150 columns x 800,000: 1,470
# MiB, 3.2 s); counted apart, DuckDB reads the key alone and fetches the rest of the first rows.

def _failing_table_rows(con: duckdb.DuckDBPyConnection, c: Check, k: int) -> tuple[int, list[dict[str, Any]]]:
    """Rows of the table that a check returns as they are (a repeated key, an orphan): counted
    in one pass with the row numbers of the first `k`, which are then read from the table (a
    second pass of the check's query would group the key again)."""
    firsts = f", min(f.{ROW_NUMBER}, {k})" if k > 0 else ""
    counted = concat(f"SELECT count(*){firsts} FROM (", c.sql, ") AS f").run(con).fetchone()
    assert counted is not None  # an aggregate returns one row
    if not counted[0] or k <= 0:
        return counted[0], []
    return counted[0], [r[0] for r in con.execute(
        f"SELECT f FROM {quote_ident(c.table)} AS f WHERE f.{ROW_NUMBER} IN (SELECT unnest(?::BIGINT[])) "
        f"ORDER BY f.{ROW_NUMBER}", [counted[1]]).fetchall()]


def _failing(con: duckdb.DuckDBPyConnection, c: Check, k: int) -> tuple[int, list[dict[str, Any]]]:
    """What a check's query returns counted (unless an earlier step counted it), and its first
    `k` rows, groups or periods."""
    failing = c.known_failing
    if failing is None:
        counted = concat("SELECT count(*) FROM (", c.sql, ")").run(con).fetchone()
        failing = counted[0] if counted else 0
    if not failing or k <= 0:
        return failing, []
    order = f"f.{ROW_NUMBER}" if c.table_rows else "f"
    return failing, [r[0] for r in concat("SELECT f FROM (", c.sql, f") AS f ORDER BY {order} LIMIT {k}")
                     .run(con).fetchall()]


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
