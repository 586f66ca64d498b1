"""The generic checks, which need no ontology: duplicated keys, null ratios, orphaned
references, outliers beyond the IQR fences, cast failures and rejected rows (quarantine),
null tokens written in the source, and the gaps of each table's primary time column.

Duplicates and orphans are also what the ontology's `unique` and `referential_integrity`
rules compile to (`duplicate_rows`, `orphan_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from dataraum_context import inference
from dataraum_context.joins import columns_label
from dataraum_context.models import (
    ColumnStatistics,
    Frozen,
    StagingResult,
    TemporalProfile,
    TemporalResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.quality.checks import Check
from dataraum_context.quality.tables import Tables
from dataraum_context.sql import Sql, batched, bound, concat, is_number, quote_ident, session
from dataraum_context.workspace import Workspace

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400, "week": 604_800}
_UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def generic_checks(tables: Tables, topology: TopologyResult | None, temporal: TemporalResult | None,
                   null_ratio_threshold: float, iqr_multiplier: float) -> list[Check]:
    checks: list[Check] = []
    relationships = topology.relationships if topology else ()
    related = {(r.from_table, c) for r in relationships for c in r.from_columns} | \
              {(r.to_table, c) for r in relationships for c in r.to_columns}
    for table, resolved in tables.tables.items():
        stats = tables.stats.tables.get(table)
        for key, why in tables.keys[table].items():
            checks.append(duplicate_rows(Check(
                check="duplicate_key", rule_type="duplicate_key", table=table, columns=key, severity="error",
                description=f"{', '.join(key)} should identify a row of {table}", evidence=(why,)), tables, key))
        for column, rc in resolved.columns.items():
            s = stats.columns.get(column) if stats else None
            if s is not None and s.null_count:
                checks.append(Check(
                    check="null_ratio", rule_type="null_ratio", table=table, columns=(column,), severity="info",
                    threshold=1 - null_ratio_threshold, predicate=Sql(text=f"{quote_ident(column)} IS NULL"),
                    description=f"at most {null_ratio_threshold:.0%} of the rows may be null"))
            fences = _fences(table, column, s, tables, related, iqr_multiplier)
            if fences is not None:
                lo, hi, note = fences
                x = f"CAST({quote_ident(column)} AS DOUBLE)"
                checks.append(Check(
                    check="outlier", rule_type="outlier", table=table, columns=(column,), severity="info",
                    predicate=concat(f"({x} < ", bound(lo, "DOUBLE"), f" OR {x} > ", bound(hi, "DOUBLE"), ")"),
                    description=f"values beyond the IQR fences {lo:.6g} .. {hi:.6g}", evidence=(note,)))
            if rc.cast_failures and resolved.quarantine_path:
                checks.append(Check(
                    check="cast_failure", rule_type="cast_failure", table=table, columns=(column,),
                    severity="warning", table_rows=False, total=resolved.row_count,
                    query=concat(f"SELECT * FROM {quote_ident('quarantine_' + table)} WHERE \"column\" = ",
                                 bound(column, "VARCHAR")),
                    description=f"values that are not {rc.data_type}: kept in quarantine, null in the table"))
        if resolved.rejected_rows and resolved.quarantine_path:
            checks.append(Check(
                check="rejected_rows", rule_type="rejected_rows", table=table, severity="error", table_rows=False,
                total=resolved.source_rows,
                query=Sql(text=f"SELECT * FROM {quote_ident('quarantine_' + table)} WHERE \"column\" IS NULL"),
                description="malformed source rows, kept in quarantine and missing from the table"))
    for r in relationships:
        if r.from_table in tables.tables and r.to_table in tables.tables:
            checks.append(orphan_rows(Check(
                check="orphaned_reference", rule_type="orphaned_reference", table=r.from_table,
                columns=r.from_columns, severity="error" if r.source == "declared" else "warning",
                description=f"values missing from {columns_label(r.to_table, r.to_columns)} ({r.source} relationship)"),
                tables, r.to_table, r.to_columns,
                known=r.orphan_rows))
    for table, timed in (temporal.tables.items() if temporal else ()):
        profile = timed.columns.get(timed.primary_column) if timed.primary_column else None
        period = _period(profile.period or "") if profile is not None else None
        if table in tables.tables and profile is not None and period and profile.expected_periods:
            checks.append(_gaps(table, profile, period))
    return checks


def duplicate_rows(check: Check, tables: Tables, columns: tuple[str, ...]) -> Check:
    """Rows whose key (all columns non-null) occurs more than once; none, without a query,
    when the key is one column whose distinct values statistics counted exactly as many as
    its values."""
    cols = [quote_ident(c) for c in columns]
    update: dict[str, Any] = {"total": tables.tables[check.table].row_count, "query": Sql(text=(
        f"SELECT * FROM {quote_ident(check.table)} WHERE {' AND '.join(f'{c} IS NOT NULL' for c in cols)} "
        f"QUALIFY count(*) OVER (PARTITION BY {', '.join(cols)}) > 1"))}
    if len(columns) == 1 and _counted_unique(tables, check.table, columns[0]):
        update |= {"known_failing": 0,
                   "evidence": (*check.evidence, "no value repeats: statistics_profiling counted its distinct "
                                                 "values exactly, as many as its values")}
    return check.model_copy(update=update)


def _counted_unique(tables: Tables, table: str, column: str) -> bool:
    t = tables.stats.tables.get(table)
    s = t.columns.get(column) if t else None
    return s is not None and not s.distinct_approximate and s.distinct_count == s.count - s.null_count


def orphan_rows(check: Check, tables: Tables, to_table: str, to_columns: Sequence[str],
                known: int | None = None) -> Check:
    """Rows whose (non-null) reference in the check's columns is missing from the referenced
    columns; `known`: the count an earlier step made exactly."""
    table, columns = check.table, check.columns
    on = []
    for c, k in zip(columns, to_columns, strict=True):
        same = tables.dtype(table, c) == tables.dtype(to_table, k)
        f, r = f"f.{quote_ident(c)}", f"r.{quote_ident(k)}"
        on.append(f"{f} = {r}" if same else f"CAST({f} AS VARCHAR) = CAST({r} AS VARCHAR)")
    present = " AND ".join(f"f.{quote_ident(c)} IS NOT NULL" for c in columns)
    evidence = check.evidence + (("orphan rows counted by topology_enrichment (exact)",) if known is not None else ())
    return check.model_copy(update={
        "known_failing": known, "total": tables.tables[table].row_count, "evidence": evidence,
        "reads": (to_table,), "query": Sql(text=(
            f"SELECT f.* FROM {quote_ident(table)} AS f ANTI JOIN {quote_ident(to_table)} AS r "
            f"ON {' AND '.join(on)} WHERE {present}"))})


def _fences(table: str, column: str, s: ColumnStatistics | None, tables: Tables, related: set[tuple[str, str]],
            multiplier: float) -> tuple[float, float, str] | None:
    """IQR fences for a numeric measure of `column_roles` that no key or relationship found
    later claims."""
    if s is None or not is_number(tables.dtype(table, column)) or not s.quantiles:
        return None
    if column not in tables.roles.tables[table].measures:
        return None
    if (table, column) in related or any(column in k for k in tables.keys[table]):
        return None
    q1, q3 = s.quantiles.get("p25"), s.quantiles.get("p75")
    if q1 is None or q3 is None or q3 <= q1:
        return None
    iqr = q3 - q1
    note = (f"fences Q1 - {multiplier:g}·IQR .. Q3 + {multiplier:g}·IQR from the "
            f"{'approximate ' if s.quantiles_approximate else ''}quartiles {q1:.6g}, {q3:.6g}")
    return q1 - multiplier * iqr, q3 + multiplier * iqr, note


def _period(name: str) -> tuple[str, float] | None:
    """temporal_enrichment's period name as ("s", seconds) or ("m", months)."""
    count, _, unit = name.rpartition(" ")
    n = float(count) if count else 1.0
    unit = unit[:-1] if count and unit.endswith("s") else unit
    if unit in _UNIT_MONTHS:
        return "m", n * _UNIT_MONTHS[unit]
    if unit in _UNIT_SECONDS:
        return "s", n * _UNIT_SECONDS[unit]
    return None


def _gaps(table: str, p: TemporalProfile, period: tuple[str, float]) -> Check:
    """The periods without a value between the primary time column's first and last value,
    counted as temporal_enrichment counts them (buckets of its period from the minimum)."""
    kind, size = period
    col = quote_ident(p.column)
    lo = bound(p.min, "TIMESTAMP")
    if kind == "m":
        bucket = concat("floor(((year(v) * 12 + month(v)) - (year(", lo, ") * 12 + month(", lo, "))) / ",
                        bound(size, "DOUBLE"), ")")
        start = concat("date_trunc('month', ", lo, ") + to_months(CAST(bucket * ", bound(size, "DOUBLE"),
                       " AS INTEGER))")
    else:
        bucket = concat("floor((epoch(v) - epoch(", lo, ")) / ", bound(size, "DOUBLE"), ")")
        start = concat(lo, " + to_microseconds(CAST(bucket * ", bound(size * 1e6, "DOUBLE"), " AS BIGINT))")
    query = concat(f"WITH v AS (SELECT DISTINCT CAST({col} AS TIMESTAMP) AS v FROM {quote_ident(table)} "
                   f"WHERE {col} IS NOT NULL), b AS (SELECT DISTINCT ", bucket, " AS bucket FROM v), "
                   "e AS (SELECT range AS bucket FROM range(0, CAST((SELECT max(bucket) FROM b) AS BIGINT) + 1)) "
                   "SELECT ", start, " AS missing_period_start FROM e ANTI JOIN b USING (bucket)")
    how = f"every {p.cadence}" if p.regular else f"irregular: counted in periods of {p.period}"
    found = f"{p.gap_count} gap(s), the largest {p.largest_gap_periods} period(s) (temporal_enrichment)"
    return Check(check="temporal_gap", rule_type="temporal_gap", table=table, columns=(p.column,),
                 severity="warning" if p.regular else "info", unit="periods", table_rows=False,
                 query=query, total=p.expected_periods,
                 description=f"periods of {p.period} without a value between {p.min} and {p.max} ({how})",
                 evidence=(found,))


# --- null tokens ---------------------------------------------------------------------------


class StagedNullTokens(Frozen):
    """table -> text column -> the null tokens written in it in the staged source (`N/A`,
    `-`), which type resolution read as null. Only columns holding any are listed."""

    tables: dict[str, dict[str, tuple[str, ...]]]


def find_null_tokens(ws: Workspace, staging: StagingResult | None, types: TypeResolutionResult,
                       null_tokens: Sequence[str]) -> StagedNullTokens:
    """The null tokens written in the text columns that type resolution typed (not those a
    typed source kept) and left with a NULL: one aggregate over each staged table (a batch of
    its columns)."""
    tokens = [t for t in inference.as_tokens(null_tokens) if t]
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    if not tokens or staging is None:
        return StagedNullTokens(tables={})
    with session() as con:
        for table, resolved in types.tables.items():
            staged = staging.tables.get(table)
            no_nulls = _without_nulls(con, ws, resolved.path)
            columns = [c.name for c in staged.columns if c.data_type == "VARCHAR" and c.name in resolved.columns
                       and resolved.columns[c.name].resolved_by != "source" and c.name not in no_nulls
                       ] if staged else []
            if staged is None or not columns:
                continue
            written: dict[str, tuple[str, ...]] = {}
            for batch in batched(columns):  # a wide table a batch of columns per aggregate
                row = con.execute(
                    "SELECT " + ", ".join(_tokens_written(c, tokens) for c in batch)
                    + f" FROM {ws.staged_rows(staged)}", [tokens]).fetchone()
                assert row is not None  # an aggregate returns one row
                written |= {column: tuple(sorted({tokens[i] for i, bit in enumerate(bits) if bit == "1"}))
                            for column, bits in zip(batch, row, strict=True) if bits}
            if written:
                found[table] = written
    return StagedNullTokens(tables=found)


def _without_nulls(con: duckdb.DuckDBPyConnection, ws: Workspace, typed: str) -> set[str]:
    """The typed table's columns without a NULL, from its Parquet statistics: type resolution
    reads a null token as NULL, so none of them holds one (a column without statistics may)."""
    return {name for name, nulls in con.execute(
        "SELECT path_in_schema, bool_or(stats_null_count IS DISTINCT FROM 0) FROM parquet_metadata(?) GROUP BY ALL",
        [str(ws.path(typed))]).fetchall() if not nulls}


def _tokens_written(column: str, tokens: list[str]) -> str:
    """Which of the tokens (`$1`) a column holds, as a bit per token (its position in the list),
    trimming only a value that can be one (`inference.null_token_sql`). Not `list(DISTINCT ...)
    FILTER (...)`: DuckDB 2.0 plans that as a grouping of every distinct value of each column,
    tokens or not, which held 5 MiB a column however few its values and grew with them (10
    columns of 4,000,000 distinct texts: 2.2 GiB, 13 s; this: 250 MiB, 2 s)."""
    value = quote_ident(column)
    return (f"bitstring_agg(CASE WHEN {inference.null_token_sql(value, tokens)} "
            f"THEN list_position($1, trim({value})) END, 1, {len(tokens)})")


def null_token_checks(found: StagedNullTokens, tables: Tables, ws: Workspace) -> list[Check]:
    """One check per column holding null tokens, looking for the tokens found there."""
    checks = []
    for table, columns in found.tables.items():
        staged = tables.staging.tables.get(table) if tables.staging else None
        if staged is None or table not in tables.tables:
            continue
        checks += [Check(check="null_tokens", rule_type="null_tokens", table=table, columns=(column,),
                         severity="info", relation=ws.staged_rows(staged, row_numbers=True),
                         predicate=concat("list_contains(", bound(list(written), "VARCHAR[]"),
                                          f", trim({quote_ident(column)}))"),
                         description=f"missing values written as {', '.join(repr(t) for t in written)} in the "
                                     "source, read as null")
                   for column, written in columns.items()]
    return checks

