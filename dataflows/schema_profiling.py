"""Schema profiling: what each staged text column's values look like and which types they read as.

One sampled read per table into polars; the per-column work runs on distinct values with
vectorised string operations (dataraum_context.inference), never a Python loop over rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from hamilton.htypes import Collect, Parallelizable

from dataraum_context import inference, settings
from dataraum_context.errors import ConfigError
from dataraum_context.models import (
    ColumnSchema,
    SchemaProfilingResult,
    StagedTable,
    StagingResult,
    TableSchema,
)
from dataraum_context.sql import batched, quote_ident, quote_literal, sample_size, session
from dataraum_context.step import part_of_step, step
from dataraum_context.workspace import Workspace


@part_of_step("schema_profiling")
def table_to_profile(staging: StagingResult) -> Parallelizable[StagedTable]:
    """Each staged table (with the version of its files: a restaged table is profiled again)."""
    yield from staging.tables.values()


@part_of_step("schema_profiling")
def table_schema(
    table_to_profile: StagedTable,
    workspace: str,
    null_tokens: Sequence[str] = settings.NULL_TOKENS,
    profile_sample_rows: int = settings.PROFILE_SAMPLE_ROWS,
) -> TableSchema:
    """Per text column of one staged table: value patterns, null tokens seen, and ranked type
    candidates with evidence. Tables above `profile_sample_rows` rows are sampled."""
    if profile_sample_rows < 1:
        raise ConfigError(f"profile_sample_rows must be at least 1, got {profile_sample_rows}")
    return _profile_table(Workspace(workspace), table_to_profile, inference.as_tokens(null_tokens),
                          profile_sample_rows)


@step(scope="column", phase="profiling", criticality="required")
def schema_profiling(table_schema: Collect[TableSchema]) -> SchemaProfilingResult:
    """The profile of every staged table's columns."""
    return SchemaProfilingResult(tables={t.name: t for t in table_schema})


# Sampled values profiled at once: a few columns of a long sample or many of a short one (150
# columns of 20,000 values at once took 450 MiB in polars; one column at a time, 1,200 columns of
# 5 rows took 10 s instead of 1.3).
_VALUES_AT_ONCE = 1_000_000


def _profile_table(ws: Workspace, table: StagedTable, null_tokens: tuple[str, ...],
                   sample_rows: int) -> TableSchema:
    text = [c.name for c in table.columns if inference.infers(table.type_system, c.data_type)]
    sample_rows = sample_size(sample_rows, table.row_bytes)  # fewer rows of long texts
    sampled = table.row_count > sample_rows
    rows = min(table.row_count, sample_rows)
    profiles: dict[str, ColumnSchema] = {}
    if text:
        with session() as con:
            for batch in batched(text, limit=max(1, _VALUES_AT_ONCE // max(rows, 1))):
                frame = con.sql(_sample_sql(ws, table, batch, sample_rows if sampled else None)).pl()
                profiles |= inference.profile_columns(frame, null_tokens)
    columns = {
        c.name: profiles.get(c.name) or inference.source_column(c.name, c.data_type, table.loader)
        for c in table.columns
    }
    return TableSchema(name=table.name, sampled=sampled, profiled_rows=rows, columns=columns)


def _sample_sql(ws: Workspace, table: StagedTable, columns: list[str], rows: int | None) -> str:
    """The columns, or a sample of `rows` of them: the first rows of the sample drawn at staging
    when it holds enough (a uniform sample, any first n of it too), else a reservoir sample drawn
    over DuckDB's row numbers alone and then read, the same sample at a third of the cost of
    sampling whole rows (unless a real column hides the row number)."""
    select = f"SELECT {', '.join(map(quote_ident, columns))} FROM"
    if table.sample_path and table.sample_rows >= min(rows or table.row_count, table.row_count):
        limit = f" LIMIT {int(rows)}" if rows is not None else ""
        return f"{select} read_parquet({quote_literal(str(ws.path(table.sample_path)))}){limit}"
    staged = ws.staged_rows(table)
    if rows is None:
        return f"{select} {staged}"
    sample = f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE (42)"
    if table.path is None or any(c.name == "file_row_number" for c in table.columns):
        return f"{select} {staged} {sample}"
    numbered = ws.staged_rows(table, row_numbers=True)
    return f"{select} {numbered} SEMI JOIN (SELECT file_row_number FROM {numbered} {sample}) USING (file_row_number)"
