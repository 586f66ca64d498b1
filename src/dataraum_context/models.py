"""The frozen results that flow between steps.

Every step returns one of the `*Result` models below, keyed by table name (and column name).
They pickle, serialize to JSON and have a stable fingerprint for Hamilton's cache
(`register_fingerprint`, called on import of the package).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TypeSystemStrength(str, Enum):
    """How much a source's own types can be trusted."""

    UNTYPED = "untyped"  # everything is text (CSV, JSON strings): staged VARCHAR-first
    WEAK = "weak"  # declared but not enforced (SQLite)
    STRONG = "strong"  # enforced types (Parquet, PostgreSQL): kept as they are


# --- staging -------------------------------------------------------------------------------


class StagedColumn(Frozen):
    name: str
    data_type: str  # DuckDB type as staged: VARCHAR for untyped sources
    source_name: str | None = None  # the header as written, when it had to be renamed


class StagedTable(Frozen):
    name: str
    source: str  # the file (or URI) the table came from
    loader: str  # loader name, e.g. "csv"
    type_system: TypeSystemStrength
    path: str  # workspace-relative Parquet file of the staged rows
    row_count: int  # staged rows
    rejected_rows: int = 0  # malformed source rows (in `rejects_path`, later in quarantine)
    rejects_path: str | None = None
    columns: tuple[StagedColumn, ...]
    options: dict[str, str] = {}  # what the loader detected: delimiter, encoding, ...
    warnings: tuple[str, ...] = ()

    @property
    def source_rows(self) -> int:
        return self.row_count + self.rejected_rows


class StagingResult(Frozen):
    tables: dict[str, StagedTable]
    files: dict[str, str] = {}  # workspace files written, with their versions (Workspace.versions)


# --- schema profiling ----------------------------------------------------------------------


class ValuePattern(Frozen):
    """A shape of the values (digits -> 9, letters -> a/A) with how often it occurs."""

    pattern: str
    count: int
    example: str


class TypeCandidate(Frozen):
    data_type: str  # DuckDB type name: BIGINT, DOUBLE, DATE, TIMESTAMP, BOOLEAN, UUID, VARCHAR, ...
    format: str  # how the text is written: integer, decimal_comma, date_eu, currency, email, ...
    confidence: float  # 0..1
    match_ratio: float  # share of the profiled distinct values that parse this way
    parse_format: str | None = None  # strptime format for dates and times
    decimal_mark: str | None = None
    thousands_separator: str | None = None
    unit: str | None = None  # currency code or symbol, "%"
    ambiguous: bool = False  # e.g. day-first vs month-first not settled by the values
    evidence: tuple[str, ...] = ()


class ColumnSchema(Frozen):
    name: str
    source_type: str
    profiled_values: int  # non-null values looked at (a sample above `profile_sample_rows`)
    distinct_values: int  # distinct among them
    null_tokens: dict[str, int] = {}  # null tokens seen, with counts
    patterns: tuple[ValuePattern, ...] = ()
    candidates: tuple[TypeCandidate, ...] = ()  # best first

    @property
    def best(self) -> TypeCandidate | None:
        return self.candidates[0] if self.candidates else None


class TableSchema(Frozen):
    name: str
    sampled: bool  # True when the profile looked at a sample of the rows
    profiled_rows: int
    columns: dict[str, ColumnSchema]


class SchemaProfilingResult(Frozen):
    tables: dict[str, TableSchema]


# --- type resolution -----------------------------------------------------------------------


class ResolvedColumn(Frozen):
    name: str
    data_type: str  # DuckDB type of the typed column
    source_type: str
    resolved_by: str  # "inference" | "override" | "source"
    candidate: TypeCandidate | None = None
    cast_failures: int = 0
    failure_examples: tuple[str, ...] = ()


class ResolvedTable(Frozen):
    name: str
    path: str  # workspace-relative Parquet of the typed rows
    quarantine_path: str | None  # workspace-relative Parquet of what failed, None when nothing did
    row_count: int  # typed rows == staged rows
    source_rows: int  # typed rows + rejected source rows
    quarantined_values: int  # cast failures
    rejected_rows: int  # malformed source rows
    columns: dict[str, ResolvedColumn]


class TypeResolutionResult(Frozen):
    tables: dict[str, ResolvedTable]
    files: dict[str, str] = {}  # workspace files written, with their versions (Workspace.versions)


# --- statistics ----------------------------------------------------------------------------


class ValueFrequency(Frozen):
    value: str
    count: int


class HistogramBin(Frozen):
    lower: float
    upper: float
    count: int


class ColumnStatistics(Frozen):
    name: str
    data_type: str
    count: int  # rows
    null_count: int
    null_ratio: float
    distinct_count: int
    distinct_approximate: bool
    uniqueness: float  # distinct / non-null
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = None  # p01 p25 p50 p75 p99
    quantiles_approximate: bool = False
    skewness: float | None = None
    kurtosis: float | None = None
    zero_count: int | None = None
    negative_count: int | None = None
    top_values: tuple[ValueFrequency, ...] = ()
    histogram: tuple[HistogramBin, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    mean_length: float | None = None
    date_range_days: float | None = None


class TableStatistics(Frozen):
    name: str
    row_count: int
    columns: dict[str, ColumnStatistics]


class StatisticsResult(Frozen):
    tables: dict[str, TableStatistics]


# --- the context ---------------------------------------------------------------------------


class ColumnContext(Frozen):
    name: str
    data_type: str
    null_ratio: float | None = None
    distinct_count: int | None = None
    semantic_role: str | None = None
    resolved_by: str | None = None
    type_format: str | None = None
    unit: str | None = None
    cast_failures: int = 0
    statistics: ColumnStatistics | None = None


class TableContext(Frozen):
    name: str
    source: str | None = None
    row_count: int
    quarantined_values: int = 0
    rejected_rows: int = 0
    columns: tuple[ColumnContext, ...]


class ContextDocument(Frozen):
    pipeline: str
    generated_at: datetime
    tables: tuple[TableContext, ...]
    relationships: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()

    def table(self, name: str) -> TableContext:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_json(self, indent: int | None = 2) -> str:
        from dataraum_context.delivery import render

        return render.to_json(self, indent=indent)

    def to_markdown(self) -> str:
        from dataraum_context.delivery import render

        return render.to_markdown(self)

    def to_yaml(self) -> str:
        from dataraum_context.delivery import render

        return render.to_yaml(self)


# --- Hamilton cache fingerprint ------------------------------------------------------------


def register_fingerprint() -> None:
    """Fingerprint pydantic models by their full JSON: Hamilton's default walks `__dict__`
    only a few levels deep and can serve stale results for deep models."""
    from hamilton.caching.fingerprinting import hash_value

    @hash_value.register(BaseModel)
    def _hash_model(obj: BaseModel, *args: Any, **kwargs: Any) -> str:
        payload = type(obj).__qualname__.encode() + obj.model_dump_json().encode()
        return hashlib.sha256(payload).hexdigest()


# --- runs ----------------------------------------------------------------------------------


class StepRun(Frozen):
    name: str
    criticality: str
    status: str  # succeeded | cached | failed | skipped
    duration_s: float = 0.0
    error: str | None = None  # "<ExceptionType>: message" when failed; the reason when skipped


class PipelineRun(Frozen):
    """What an engine reports: per-step outcome and timing, warnings, and the step results."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    pipeline: str
    status: str  # succeeded | failed
    steps: tuple[StepRun, ...]
    warnings: tuple[str, ...] = ()
    duration_s: float = 0.0
    results: dict[str, Any] = {}

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed_steps(self) -> tuple[StepRun, ...]:
        return tuple(s for s in self.steps if s.status == "failed")

    @property
    def context(self) -> ContextDocument | None:
        return self.results.get("context_document")
