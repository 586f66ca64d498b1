"""Type resolution: one type per column, the typed table, and the quarantine of what did not cast.

Casting runs in DuckDB: one COPY writes `tables/<table>.parquet`; one pass over the staged rows
beside the typed ones (a POSITIONAL JOIN) writes `quarantine/<table>.parquet` with the values
that failed and the malformed source rows from staging. Nothing is lost (DESIGN §5): every
non-null value that is not a null token casts to its column's type or is in quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import duckdb
from hamilton.htypes import Collect, Parallelizable

from dataraum_context import inference, settings
from dataraum_context.errors import ConfigError
from dataraum_context.models import (
    ColumnSchema,
    ResolvedColumn,
    ResolvedTable,
    SchemaProfilingResult,
    StagedColumn,
    StagedTable,
    StagingResult,
    TableSchema,
    TableToType,
    TypeCandidate,
    TypeResolutionResult,
)
from dataraum_context.sql import (
    ROW_GROUP_ROWS,
    Family,
    connect,
    family,
    is_number,
    is_whole_number,
    quote_ident,
    quote_literal,
    row_group_bytes,
)
from dataraum_context.step import part_of_step, step
from dataraum_context.workspace import QUARANTINE, TABLES, Workspace

_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_ ]*(\(\s*[0-9]+\s*(,\s*[0-9]+\s*)?\))?")
_EXAMPLES = 5


@part_of_step("type_resolution")
def table_to_type(staging: StagingResult, schema_profiling: SchemaProfilingResult,
                  type_overrides: dict[str, str] | None = None) -> Parallelizable[TableToType]:
    """Each staged table with its profile and its own `type_overrides` ({"table.column":
    "DUCKDB TYPE"}, checked against the staged tables first), so an override recomputes only
    its table."""
    overrides: dict[str, dict[str, str]] = {}
    if type_overrides:  # a connection only to check them: opening one costs tens of ms
        with connect() as con:
            overrides = _overrides(con, type_overrides, staging)
    for name, table in staging.tables.items():
        yield TableToType(staged=table, profile=schema_profiling.tables.get(name),
                          overrides=overrides.get(name, {}))


@part_of_step("type_resolution")
def resolved_table(
    table_to_type: TableToType,
    workspace: str,
    min_type_confidence: float = settings.MIN_TYPE_CONFIDENCE,
    null_tokens: Sequence[str] = settings.NULL_TOKENS,
) -> ResolvedTable:
    """One table typed: the best candidate when it is confident enough, else VARCHAR; overrides
    win. Failed values go to quarantine."""
    ws = Workspace(workspace)
    with connect() as con:
        # DuckDB rewrites an IN list (and list_contains over constants) into a join, after which
        # COPY no longer keeps the staged row order that row numbers and the quarantine rely on;
        # common-subexpression elimination takes time quadratic in the columns to plan
        # (a 5,000-column COPY: 100 s), and would trim every value, not only those that need it
        con.execute("SET disabled_optimizers = 'in_clause,common_subexpressions'")
        job = table_to_type
        table = _resolve_table(con, ws, job.staged, job.profile, job.overrides, min_type_confidence,
                               list(inference.as_tokens(null_tokens)))
    return table.model_copy(update={"workspace_files": ws.versions([table.path, table.quarantine_path])})


@step(scope="table", phase="profiling", criticality="required")
def type_resolution(resolved_table: Collect[ResolvedTable]) -> TypeResolutionResult:
    """Every staged table typed, with the quarantine of the values that did not cast."""
    return TypeResolutionResult(tables={t.name: t for t in resolved_table})


@dataclass(frozen=True)
class _Plan:
    """How one column is typed, and how a value that failed is recognised."""

    name: str
    resolved_by: str
    candidate: TypeCandidate | None
    typed: str  # SQL of the typed value, over the staged column
    raw: str | None = None  # SQL of the staged value as VARCHAR, when a value can fail its cast
    tokens: bool = False  # whether a staged value that did not cast may be a null token
    reason: str = ""


def _resolve_table(con: duckdb.DuckDBPyConnection, ws: Workspace, table: StagedTable,
                   schema: TableSchema | None, overrides: dict[str, str], min_confidence: float,
                   null_tokens: list[str]) -> ResolvedTable:
    # on this connection (one of its own took tens of ms), once per cast: a wide table's columns
    # share a handful of casts
    casts_a_token = cache(partial(_casts_a_token, con, null_tokens))
    is_token = partial(inference.null_token_sql, null_tokens=null_tokens)
    plans = [_plan(c, table, schema.columns.get(c.name) if schema else None,
                   overrides.get(c.name), min_confidence, casts_a_token, is_token) for c in table.columns]
    typed_path = ws.relative(TABLES, table.name)
    if all(p.resolved_by == "source" for p in plans) and _copyable(con, table):
        ws.copy_in_place(table, typed_path)  # typed at the source, and kept as it is: the file is the table
    else:
        _write(con, ws, f"SELECT {', '.join(f'{p.typed} AS {quote_ident(p.name)}' for p in plans)} "
                        f"FROM {ws.staged_rows(table)}", typed_path, null_tokens, columns=len(plans))
    typed = _scan(ws, typed_path)
    types = {name: dtype for name, dtype, *_ in con.execute(f"DESCRIBE SELECT * FROM {typed}").fetchall()}
    counted = con.execute(f"SELECT count(*) FROM {typed}").fetchone()
    assert counted is not None  # an aggregate returns one row
    rows = counted[0]

    staged_nulls = _staged_null_counts(con, ws, table)
    unchanged = {name for name, n in _null_counts(con, ws.path(typed_path)).items()
                 if staged_nulls.get(name) == n}
    failures, quarantine_path = _quarantine(
        con, ws, table, [p for p in plans if p.raw and p.name not in unchanged], null_tokens)
    columns = {}
    for p, c in zip(plans, table.columns, strict=True):
        failed, examples = failures.get(p.name, (0, ()))
        columns[p.name] = ResolvedColumn(
            name=p.name, data_type=types[p.name], source_type=c.data_type, resolved_by=p.resolved_by,
            candidate=p.candidate, cast_failures=failed, failure_examples=examples)
    return ResolvedTable(
        name=table.name, path=typed_path, quarantine_path=quarantine_path, row_count=rows,
        source_rows=rows + table.rejected_rows,
        quarantined_values=sum(n for n, _ in failures.values()),
        rejected_rows=table.rejected_rows, columns=columns,
    )


def _plan(column: StagedColumn, table: StagedTable,
          schema: ColumnSchema | None, override: str | None, min_confidence: float,
          casts_a_token: Callable[[str], bool], is_token: Callable[[str], str]) -> _Plan:
    ident = quote_ident(column.name)
    candidates = schema.candidates if schema else ()
    if override:
        by, target = "override", override
        candidate = next((c for c in candidates if inference.reads_alike(c.data_type, target)),
                         None) or inference.default_candidate(target)
    elif inference.infers(table.type_system, column.data_type):
        by = "inference"
        text = candidates[-1] if candidates else inference.default_candidate("VARCHAR")
        candidate = candidates[0] if candidates and candidates[0].confidence >= min_confidence else text
        target = candidate.data_type
    else:
        return _Plan(column.name, "source", candidates[0] if candidates else None, ident)

    reason = inference.failure_reason(candidate, target)
    if column.data_type != "VARCHAR":  # an override of a typed column: DuckDB's cast, no rounding
        typed = f"TRY_CAST({ident} AS {target})"
        if is_number(column.data_type) and is_whole_number(target):
            typed = f"CASE WHEN {ident} = trunc({ident}) THEN {typed} END"
        return _Plan(column.name, by, candidate, typed,
                     raw=f"s.{ident}::VARCHAR", reason=f"{reason} (cast from {column.data_type})")
    if family(target) is Family.TEXT:
        return _Plan(column.name, by, candidate,
                     f"CASE WHEN {is_token(ident)} THEN NULL ELSE {ident} END")
    # read as written first; trim only what did not read (trimming every value costs half the
    # step, and most values have no padding)
    typed = (f"COALESCE({inference.cast_sql(ident, candidate, target)}, "
             f"{inference.cast_sql(f'trim({ident})', candidate, target)})")
    if casts_a_token(inference.cast_sql("trim(token)", candidate, target)):
        typed = f"CASE WHEN {is_token(ident)} THEN NULL ELSE {typed} END"
    return _Plan(column.name, by, candidate, typed, raw=f"s.{ident}", tokens=True, reason=reason)


def _copyable(con: duckdb.DuckDBPyConnection, table: StagedTable) -> bool:
    """Whether a table is read in place from a Parquet file that scans as our own would: row
    groups of at most twice DuckDB's rows, the unit its scans run in parallel by (pyarrow writes
    a million rows in one, which every later step would then read on one thread), and twice
    our bytes (a reader holds a row group's column: texts of kilobytes make them hundreds of MiB)."""
    if table.in_place is None or not table.in_place.parquet:
        return False
    [(rows, size)] = con.execute(
        "SELECT max(rows), max(size) FROM (SELECT any_value(row_group_num_rows) AS rows, "
        "sum(total_uncompressed_size) AS size FROM parquet_metadata(?) GROUP BY row_group_id)",
        [table.in_place.file]).fetchall()
    return (rows or 0) <= 2 * ROW_GROUP_ROWS and (size or 0) <= 2 * row_group_bytes(len(table.columns))


def _staged_null_counts(con: duckdb.DuckDBPyConnection, ws: Workspace, table: StagedTable) -> dict[str, int]:
    """NULLs per staged column: counted at staging for a table read in place, else from the
    staged Parquet's statistics."""
    if table.path is None:
        return {c.name: table.row_count - c.values for c in table.columns if c.values is not None}
    return _null_counts(con, ws.path(table.path))


def _null_counts(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """NULLs per column from the Parquet statistics: a column with no more NULLs typed than
    staged has no value that failed (nor a null token), so the quarantine pass can skip it."""
    return {name: n for name, n in con.execute(
        "SELECT path_in_schema, sum(stats_null_count) FROM parquet_metadata(?) GROUP BY ALL", [str(path)]
    ).fetchall() if n is not None}


def _casts_a_token(con: duckdb.DuckDBPyConnection, null_tokens: list[str], cast: str) -> bool:
    """Whether a null token would cast (`cast` of `token`): only then must the typed value test
    for tokens (any other token fails its cast and so is NULL already)."""
    [(count,)] = con.execute(f"SELECT count(*) FROM unnest($1::VARCHAR[]) AS u(token) WHERE ({cast}) IS NOT NULL",
                             [null_tokens]).fetchall()
    return count > 0


def _quarantine(con: duckdb.DuckDBPyConnection, ws: Workspace, table: StagedTable, plans: list[_Plan],
                null_tokens: list[str]) -> tuple[dict[str, tuple[int, tuple[str, ...]]], str | None]:
    """Write the values that failed their cast (a staged value whose typed value is NULL, and not
    a null token) and the rejected source rows; return per column (failures, examples) and the
    quarantine path, None (and no stale file) when nothing failed."""
    relative = ws.relative(QUARANTINE, table.name)
    parts = []
    if plans:
        def failed(p: _Plan) -> str:
            ident = quote_ident(p.name)
            return f"s.{ident} IS NOT NULL AND t.{ident} IS NULL"

        entries = ", ".join(
            f"CASE WHEN {failed(p)}"
            + (f" AND NOT {inference.null_token_sql(f's.{quote_ident(p.name)}', null_tokens)}" if p.tokens else "")
            + f" THEN {{'column': {quote_literal(p.name)}, 'raw_value': {p.raw}, "
              f"'reason': {quote_literal(p.reason)}}} END" for p in plans)
        parts.append(
            "SELECT row_number, f['column'] AS \"column\", f['raw_value'] AS raw_value, "
            "f['reason'] AS reason FROM (SELECT r.row_number, "
            f"unnest(list_filter([{entries}], lambda e: e IS NOT NULL)) AS f "
            f"FROM {ws.staged_rows(table)} AS s "
            f"POSITIONAL JOIN {_scan(ws, ws.relative(TABLES, table.name))} AS t "
            f"POSITIONAL JOIN range(1, {table.row_count + 1}) AS r(row_number) "
            f"WHERE {' OR '.join(f'({failed(p)})' for p in plans)})")
    if table.rejects_path:
        parts.append(
            "SELECT line::BIGINT AS row_number, NULL::VARCHAR AS \"column\", raw_line::VARCHAR AS raw_value, "
            f"reason::VARCHAR AS reason FROM {_scan(ws, table.rejects_path)}")
    if parts:
        _write(con, ws, " UNION ALL ".join(parts), relative, null_tokens)
        failures = _failures(con, _scan(ws, relative))
        if failures or table.rejected_rows:
            return failures, relative
    ws.remove(relative)
    return {}, None


def _failures(con: duckdb.DuckDBPyConnection, quarantine: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Per column: the values that failed, and the first few distinct ones as examples."""
    rows = con.execute(
        f'SELECT "column", sum(n)::BIGINT, list_slice(list(raw_value ORDER BY first), 1, {_EXAMPLES}) '
        f'FROM (SELECT "column", raw_value, count(*) AS n, min(row_number) AS first FROM {quarantine} '
        'WHERE "column" IS NOT NULL GROUP BY ALL) GROUP BY "column"').fetchall()
    return {name: (n, tuple(examples)) for name, n, examples in rows}


def _scan(ws: Workspace, relative: str) -> str:
    return f"read_parquet({quote_literal(str(ws.path(relative)))})"


def _write(con: duckdb.DuckDBPyConnection, ws: Workspace, query: str, relative: str,
           null_tokens: list[str], columns: int | None = None) -> None:
    """Write a query's rows (of `columns` columns: memory bounded by them); the null tokens are
    its parameter $1 when it has one."""
    ws.write_parquet(con, query, relative, [null_tokens] if "$1" in query else None, columns=columns)


def _overrides(con: duckdb.DuckDBPyConnection, overrides: Mapping[str, str],
               staging: StagingResult) -> dict[str, dict[str, str]]:
    """{"table.column": type} checked against the staged tables, as {table: {column: type}}."""
    out: dict[str, dict[str, str]] = {}
    for key, type_name in overrides.items():
        table = max((t for t in staging.tables if key.startswith(t + ".")), key=len, default=None)
        if table is None:
            raise ConfigError(f"type_overrides: {key!r} names no staged table (expected "
                              f"'table.column'; tables: {', '.join(sorted(staging.tables)) or 'none'})")
        column = key[len(table) + 1:]
        names = [c.name for c in staging.tables[table].columns]
        if column not in names:
            raise ConfigError(f"type_overrides: {key!r}: table {table!r} has no column {column!r} "
                              f"(columns: {', '.join(names)})")
        out.setdefault(table, {})[column] = _duckdb_type(con, key, type_name)
    return out


def _duckdb_type(con: duckdb.DuckDBPyConnection, key: str, name: object) -> str:
    """DuckDB's spelling of a type name (int -> INTEGER); a ConfigError for anything else."""
    if isinstance(name, str) and _TYPE_NAME.fullmatch(name.strip()):
        try:
            row = con.execute(f"SELECT typeof(CAST(NULL AS {name}))").fetchone()
            assert row is not None  # a SELECT without FROM returns one row
            return row[0]
        except duckdb.Error:
            pass
    raise ConfigError(f"type_overrides: {key!r}: {name!r} is not a DuckDB type "
                      "(e.g. BIGINT, DOUBLE, DECIMAL(18,2), DATE, TIMESTAMP, TIMESTAMPTZ, BOOLEAN, VARCHAR)")
