"""The frozen results that flow between steps.

Every step returns one of the `*Result` models below, keyed by table name (and column name).
They pickle, serialize to JSON and have a stable fingerprint for Hamilton's cache
(`register_fingerprint`, called by `pipeline.builder`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import polars as pl


# What results do beyond holding data (show themselves in a notebook, render the context, find
# a join path) lives in delivery/ and joins.py; `delivery.register` puts it here by name when
# the package is imported. Models are data: they import neither.
DELEGATES: dict[str, Callable[..., Any]] = {}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Displayed(Frozen):
    """A step's result as a notebook shows it: one line, or a compact Markdown table
    (`delivery.notebook`)."""

    def __repr__(self) -> str:
        return DELEGATES["summary"](self)

    def __str__(self) -> str:
        return repr(self)

    def _repr_markdown_(self) -> str:
        return DELEGATES["markdown"](self)


class Tabular(Displayed):
    """A result with one row per column, relationship or check, as a data frame."""

    def to_polars(self) -> pl.DataFrame:
        return DELEGATES["to_polars"](self)

    def to_pandas(self) -> Any:
        """The rows of `to_polars()` as a pandas DataFrame (pandas must be installed)."""
        return DELEGATES["to_pandas"](self)


class TypeSystemStrength(StrEnum):
    """How much a source's own types can be trusted."""

    UNTYPED = "untyped"  # everything is text (CSV, JSON strings): staged VARCHAR-first
    WEAK = "weak"  # declared but not enforced (SQLite)
    STRONG = "strong"  # enforced types (Parquet, PostgreSQL): kept as they are


# --- staging -------------------------------------------------------------------------------


class StagedColumn(Frozen):
    name: str
    data_type: str  # DuckDB type as staged: VARCHAR for untyped sources
    source_name: str | None = None  # the header as written, when it had to be renamed
    values: int | None = None  # non-null values, when counted at staging (a text source read in place)


class InPlace(Frozen):
    """A source whose rows the steps read where they are, instead of a staged copy."""

    read: str  # DuckDB's read of it giving exactly the staged rows (a CSV's dialect, malformed rows skipped)
    file: str  # its absolute path,
    version: str  # and the version staged (`workspace.file_version`)
    parquet: bool = False  # the file is Parquet holding exactly the staged rows: a copy of it copies them


class StagedTable(Frozen):
    name: str
    source: str  # the file (or URI) the table came from
    loader: str  # loader name, e.g. "csv"
    type_system: TypeSystemStrength
    # where the staged rows are: a workspace-relative Parquet file, or the source read in place
    # (then `sample_path` holds a sample of them drawn at staging, uniform and reproducible)
    path: str | None = None
    in_place: InPlace | None = None
    sample_path: str | None = None
    sample_rows: int = 0
    row_count: int  # staged rows
    row_bytes: float | None = None  # about the bytes of a staged row, as text (samples: sql.sample_size)
    rejected_rows: int = 0  # malformed source rows (in `rejects_path`, later in quarantine)
    rejects_path: str | None = None
    columns: tuple[StagedColumn, ...]
    options: dict[str, str] = {}  # what the loader detected: delimiter, encoding, ...
    warnings: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()  # declared by the source's catalog (databases)
    workspace_files: dict[str, str] = {}  # the workspace files written, with their versions (Workspace.versions)

    @property
    def source_rows(self) -> int:
        return self.row_count + self.rejected_rows


class Relationship(Frozen):
    """A join path between two tables: declared by a source (a database's foreign key, a JSON
    document's nesting) or discovered from the values."""

    from_table: str
    from_columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]
    source: str  # "declared" | "discovered"
    cardinality: str | None = None
    confidence: float | None = None
    evidence: tuple[str, ...] = ()
    # measured on the values by topology_enrichment; None when not measured
    inclusion: float | None = None  # share of the referencing distinct values found in the key (exact)
    coverage: float | None = None  # share of the key's values that are referenced
    null_ratio: float | None = None  # share of referencing rows that are null
    orphan_values: int | None = None  # distinct referencing values missing from the key
    orphan_rows: int | None = None  # referencing rows holding them
    orphan_examples: tuple[str, ...] = ()
    referenced_duplicates: int | None = None  # key values that repeat: a join multiplies those rows


class SourceFailure(Frozen):
    """A source that could not be staged, by the name the user gave it, with the reason."""

    source: str
    reason: str
    transient: bool = False  # it may pass (a server unreachable, an HTTP 429 or 5xx): worth a retry


class TableStaging(Frozen):
    """What staging one table gave: the table and the keys its source declares, or why the
    source could not be read."""

    table: StagedTable | None = None
    declared_relationships: tuple[Relationship, ...] = ()
    failure: SourceFailure | None = None


class StagingResult(Displayed):
    tables: dict[str, StagedTable]
    declared_relationships: tuple[Relationship, ...] = ()  # foreign keys the sources declare
    failures: tuple[SourceFailure, ...] = ()  # sources that could not be staged: the run is incomplete

    @property
    def workspace_files(self) -> dict[str, str]:
        return _workspace_files(self.tables.values())


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


class SchemaProfilingResult(Displayed):
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
    workspace_files: dict[str, str] = {}  # the workspace files written, with their versions (Workspace.versions)


class TableToType(Frozen):
    """One staged table with what decides its types: its profile and the user's overrides."""

    staged: StagedTable
    profile: TableSchema | None = None
    overrides: dict[str, str] = {}  # column -> DuckDB type


class TypeResolutionResult(Displayed):
    tables: dict[str, ResolvedTable]

    @property
    def workspace_files(self) -> dict[str, str]:
        return _workspace_files(self.tables.values())


def _workspace_files(tables: Iterable[StagedTable | ResolvedTable]) -> dict[str, str]:
    """The workspace files the tables' steps wrote, with their versions."""
    return {path: version for table in tables for path, version in table.workspace_files.items()}


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


class StatisticsResult(Tabular):
    tables: dict[str, TableStatistics]


# --- column roles --------------------------------------------------------------------------


class ColumnRole(Frozen):
    """What a column is in its table, read from its statistics, name and type (the
    `column_roles` node: the one place that decides keys, measures, dimensions and times).

    `role` is one of key | foreign_key | identifier | measure | dimension | timestamp |
    attribute. A column of a composite own key that a source declares to reference another
    table keeps both roles: `role` is `foreign_key` and `key_member` is true (`ps_partkey` in
    partsupp). `identifier` is a column named like a key or a reference that is not its table's
    key: its values (topology) tell whether it references a table or is a code."""

    name: str
    role: str
    evidence: tuple[str, ...] = ()  # why
    key_member: bool = False  # a column of the table's own key (alone or with others)
    candidate_key: bool = False  # unique (up to key_duplicate_tolerance) and never null: may be referenced
    named_as_key: bool = False  # named as the table's id: `id`, `category_id` in categories
    references: str | None = None  # "table.column" a source declares it references


class TableColumnRoles(Frozen):
    name: str
    own_key: tuple[str, ...] = ()  # the columns that identify a row
    own_key_evidence: str | None = None  # why those
    columns: dict[str, ColumnRole]

    def with_role(self, role: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns.values() if c.role == role)

    @property
    def candidate_keys(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns.values() if c.candidate_key)

    @property
    def named_keys(self) -> tuple[str, ...]:
        """The columns named as the table's id, unique or not: a repeat in one is a finding."""
        return tuple(c.name for c in self.columns.values() if c.named_as_key)

    @property
    def measures(self) -> tuple[str, ...]:
        return self.with_role("measure")

    @property
    def dimensions(self) -> tuple[str, ...]:
        return self.with_role("dimension")

    @property
    def timestamps(self) -> tuple[str, ...]:
        return self.with_role("timestamp")


class ColumnRolesResult(Displayed):
    tables: dict[str, TableColumnRoles]
    key_duplicate_tolerance: float  # the share of repeats (and nulls) a key may hold

    def own_keys(self) -> dict[str, tuple[str, ...]]:
        """Each table's own key, for the tables that have one."""
        return {name: t.own_key for name, t in self.tables.items() if t.own_key}


# --- topology ------------------------------------------------------------------------------


class TableRole(Frozen):
    name: str
    role: str  # fact | dimension | bridge | isolated, from the relationships' in- and out-degree
    in_degree: int  # relationships pointing at this table (self-references not counted)
    out_degree: int  # relationships from this table to others
    key_columns: tuple[str, ...] = ()  # the table's own key, when one was found


class JoinStep(Frozen):
    """One join of a path: `left_table.left_columns = right_table.right_columns`."""

    left_table: str
    left_columns: tuple[str, ...]
    right_table: str
    right_columns: tuple[str, ...]
    cardinality: str | None = None  # seen from the left: many_to_one, one_to_many, one_to_one


class JoinPath(Frozen):
    from_table: str
    to_table: str
    steps: tuple[JoinStep, ...]
    sql: str  # FROM ... JOIN ... ON ..., ready to paste


class RelationshipRef(Frozen):
    """Names one relationship of `relationships`, with a note on how it fared."""

    from_table: str
    from_columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]
    note: str = ""  # why a declared key was not found, the orphans of a confirmed one, ...


class KeyAgreement(Frozen):
    """How the foreign keys the sources declare agree with the ones found in the values."""

    confirmed: tuple[RelationshipRef, ...] = ()  # declared, and found by discovery
    not_found: tuple[RelationshipRef, ...] = ()  # declared, not found by discovery (the note says why)
    undeclared: tuple[RelationshipRef, ...] = ()  # found between tables of a declaring source, not declared
    summary: str = ""


class TopologyResult(Tabular):
    relationships: tuple[Relationship, ...]
    tables: dict[str, TableRole]
    join_paths: tuple[JoinPath, ...] = ()  # from each fact and bridge table to what it reaches
    pairs_compatible: int = 0  # referencing column x key pairs of compatible types
    pairs_measured: int = 0  # of those, the pairs whose inclusion DuckDB measured
    composite_keys_checked: int = 0  # column pairs whose uniqueness was measured as composite keys
    composite_pairs_measured: int = 0  # referencing pair x key pair candidates whose inclusion was measured
    key_duplicate_policy: str = ""  # how repeated values on the referenced side were treated
    key_agreement: KeyAgreement | None = None  # None when no source declares keys


# --- temporal ------------------------------------------------------------------------------


class SeasonalityHint(Frozen):
    cycle: str  # weekday | month
    strength: float  # share of the series' variance explained by the cycle (0..1)
    peak: str  # e.g. "Mon", "Dec"
    trough: str


class MeasureTrend(Frozen):
    """A measure summed per period along the table's primary time column."""

    measure: str  # a column, or "rows" (the row count)
    period: str  # day | week | month | ...: the aggregation unit
    points: int  # periods in the series
    direction: str  # increasing | decreasing | flat
    relative_change: float | None = None  # fitted change over the span, relative to the mean
    r2: float | None = None  # fit of the linear trend
    seasonality: tuple[SeasonalityHint, ...] = ()


class TemporalProfile(Frozen):
    column: str
    data_type: str
    min: Any = None
    max: Any = None
    span_days: float | None = None
    distinct_values: int = 0
    granularity: str | None = None  # finest unit recorded: microsecond .. second, minute, hour, day, month, year
    cadence: str | None = None  # typical spacing of consecutive distinct values: "day", "7 days", "month", ...
    cadence_seconds: float | None = None  # its median length
    regular: bool = False  # most consecutive values are one cadence apart
    period: str | None = None  # the unit completeness and gaps are counted in
    expected_periods: int = 0  # periods between min and max
    observed_periods: int = 0  # of those, periods holding a value
    completeness: float | None = None  # observed / expected
    gap_count: int = 0  # runs of missing periods
    largest_gap_periods: int = 0
    largest_gap_after: Any = None  # the last value before the largest gap
    reference_date: Any = None
    freshness_days: float | None = None  # reference_date - max
    primary: bool = False  # the table's primary time column
    trends: tuple[MeasureTrend, ...] = ()  # measures along the primary time column


class TableToTime(Frozen):
    """One typed table with its statistics: what its temporal analysis reads."""

    table: ResolvedTable  # its file, with the file's version: a retyped table is analysed again
    statistics: TableStatistics
    measures: tuple[str, ...] = ()  # the columns column_roles calls measures: their trends are followed


class TableTemporal(Frozen):
    name: str
    primary_column: str | None = None
    columns: dict[str, TemporalProfile] = {}


class TemporalResult(Displayed):
    reference_date: Any = None  # what freshness is measured against
    reference_source: str = "data"  # "config" (reference_date given) | "data" (latest primary time value)
    tables: dict[str, TableTemporal]


# --- cross-table multicollinearity ---------------------------------------------------------


class ColumnVIF(Frozen):
    column: str  # table.column
    vif: float | None  # None: an exact linear function of the other columns (infinite)


class DependencyGroup(Frozen):
    """Columns tied by a near-linear dependency (one small singular value of the data)."""

    columns: tuple[str, ...]  # table.column
    tables: tuple[str, ...]
    condition_index: float | None  # None: exact dependency (infinite)
    variance_proportions: dict[str, float]  # each column's share of variance in that dimension
    equation: str  # the dependency fitted by least squares, e.g. "t.total = 1·t.subtotal + 1·u.tax"
    r2: float
    evidence: tuple[str, ...] = ()  # the rows it was fitted on: how many, and the sample when sampled


class JoinedAnalysis(Frozen):
    base_table: str
    tables: tuple[str, ...]
    join_sql: str
    rows: int  # complete rows analysed
    sampled: bool
    base_rows: int = 0  # rows in the base table
    sample_rows: int | None = None  # the reservoir sample of base rows when sampled (seeded: the same rows every run)
    left_out: tuple[str, ...] = ()  # joined columns null in more than half the rows, not analysed
    columns: tuple[ColumnVIF, ...] = ()
    condition_indices: tuple[float | None, ...] = ()  # one per dimension, ascending
    variance_proportions: tuple[tuple[float, ...], ...] = ()  # [dimension][column]
    dependency_groups: tuple[DependencyGroup, ...] = ()
    note: str | None = None  # why nothing was computed


class MulticollinearityReport(Displayed):
    analyses: tuple[JoinedAnalysis, ...]

    @property
    def dependency_groups(self) -> tuple[DependencyGroup, ...]:
        """Every group once (the same columns can be found from several base tables)."""
        seen: dict[tuple[str, ...], DependencyGroup] = {}
        for analysis in self.analyses:
            for group in analysis.dependency_groups:
                seen.setdefault(tuple(sorted(group.columns)), group)
        return tuple(seen.values())


# --- semantics -----------------------------------------------------------------------------


class SemanticAnnotation(Frozen):
    """What one column means: filled by the `semantic_enrichment` step (a provider, or a human
    annotation, which wins)."""

    name: str
    semantic_role: str  # key | foreign_key | measure | dimension | timestamp | attribute
    business_term: str | None = None  # an ontology concept name when one fits
    term_confidence: float | None = None  # 0..1, for business_term
    evidence: tuple[str, ...] = ()  # why: indicators, value patterns, statistics, the provider's reason
    description: str | None = None
    unit: str | None = None  # currency code, "%", "kg", ...
    pii: bool = False
    source: str  # the provider that said it (heuristic, anthropic, ...) or "annotation"
    key_member: bool = False  # a column of its table's key, whatever its role (a foreign key in a composite key)


class TableEntity(Frozen):
    """What one table is."""

    name: str
    entity_type: str  # fact | dimension | event | bridge | reference
    is_fact_table: bool
    grain: tuple[str, ...] = ()  # the key columns
    primary_time_column: str | None = None
    description: str | None = None
    columns: dict[str, SemanticAnnotation]
    source: str


class SemanticEnrichmentResult(Displayed):
    tables: dict[str, TableEntity]
    # relationships a provider proposed, kept apart from the measured ones (source = provider name)
    proposed_relationships: tuple[Relationship, ...] = ()
    provider: str
    model: str | None = None
    usage: dict[str, int] = {}  # token counts: input_tokens, output_tokens, cache hits, requests
    warnings: tuple[str, ...] = ()  # e.g. an annotation naming a column the data does not have


# --- quality -------------------------------------------------------------------------------


class QualityResult(Frozen):
    """One check on one table: an ontology quality rule bound to columns, or a generic check.
    `sql` with `parameters` returns exactly the failing rows (groups, periods: see `unit`):
    `Workspace(ws).sql(result.sql, list(result.parameters))`."""

    check: str  # the ontology rule's name, or the generic check (duplicate_key, null_ratio, ...)
    rule_type: str  # the ontology's rule_type, or the generic check's name
    table: str
    columns: tuple[str, ...] = ()
    severity: str  # info | warning | error
    source: str  # "ontology" | "generic"
    ontology_file: str | None = None  # the file that defined the rule
    description: str = ""
    passed: bool  # at least `threshold` of the rows (groups, periods) pass, and the check ran
    failing_rows: int | None = None  # None when the check could not run
    total_rows: int | None = None  # rows (groups, periods) checked
    unit: str = "rows"  # rows | groups | periods | columns: what the counts and the SQL's rows are
    threshold: float = 1.0  # the share that must pass
    examples: tuple[dict[str, Any], ...] = ()  # the first failing rows (`_row`: 1-based row number)
    sql: str
    parameters: tuple[Any, ...] = ()
    evidence: tuple[str, ...] = ()  # how the columns were bound, where a count came from
    error: str | None = None  # why the check could not run (the SQL failed)

    @property
    def failing_share(self) -> float | None:
        if self.failing_rows is None or not self.total_rows:
            return None
        return self.failing_rows / self.total_rows


class TableQuality(Frozen):
    name: str
    score: float | None  # product over failed checks of (1 - severity weight x failing share); docs/QUALITY.md
    checks: int
    failed: int  # checks that did not pass
    errors: int = 0  # checks that could not run
    results: tuple[QualityResult, ...] = ()  # failures first, most severe first


class InapplicableRule(Frozen):
    """An ontology rule that found nothing to check: no column carries its concept, its
    concepts are not in one table, or a bound column has the wrong type for it."""

    rule: str
    rule_type: str
    ontology_file: str | None = None
    table: str | None = None
    reason: str


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class QualityAssessmentResult(Tabular):
    tables: dict[str, TableQuality]
    score: float | None  # the tables' scores weighted by their rows
    binding: str  # how rules found their columns: semantic_enrichment | concept_matcher
    ontology: str | None = None  # "name version"
    reference_time: Any = None  # what freshness rules were measured against
    not_applicable: tuple[InapplicableRule, ...] = ()
    settings: dict[str, Any] = {}  # the thresholds and weights the checks used

    def issues(self) -> list[QualityResult]:
        """The checks that did not pass, most severe and widest first."""
        failed = [r for t in self.tables.values() for r in t.results if not r.passed and r.error is None]
        return sorted(failed, key=lambda r: (_SEVERITY_ORDER.get(r.severity, 3), -(r.failing_share or 0),
                                             r.table, r.check, r.columns))

    def summary(self, top: int = 10) -> QualitySummary:
        results = [r for t in self.tables.values() for r in t.results]
        issues = self.issues()
        failed: dict[str, int] = {}
        for r in issues:
            failed[r.severity] = failed.get(r.severity, 0) + 1
        return QualitySummary(
            score=self.score, table_scores={name: t.score for name, t in self.tables.items()},
            checks=len(results), failed=failed, binding=self.binding, ontology=self.ontology,
            top_issues=tuple(issues[:top]), could_not_run=tuple(r for r in results if r.error is not None),
            not_applicable=self.not_applicable)


class QualitySummary(Frozen):
    """The context's top-level view of quality: scores, counts, the worst issues."""

    score: float | None
    table_scores: dict[str, float | None] = {}
    checks: int = 0
    failed: dict[str, int] = {}  # checks that did not pass, by severity
    binding: str = ""
    ontology: str | None = None
    top_issues: tuple[QualityResult, ...] = ()
    could_not_run: tuple[QualityResult, ...] = ()  # checks whose SQL failed, with the error
    not_applicable: tuple[InapplicableRule, ...] = ()


# --- the context ---------------------------------------------------------------------------


class ColumnContext(Frozen):
    name: str
    data_type: str
    null_ratio: float | None = None
    distinct_count: int | None = None
    semantic_role: str | None = None  # key | foreign_key | measure | dimension | timestamp | attribute
    key_member: bool = False  # a column of the table's key, whatever its role (a foreign key in a composite key)
    business_term: str | None = None  # the ontology concept it stands for (semantic_enrichment)
    description: str | None = None
    pii: bool = False  # personal data
    resolved_by: str | None = None
    type_format: str | None = None
    unit: str | None = None  # from the values' format (currency code, %), else from semantic_enrichment
    cast_failures: int = 0
    statistics: ColumnStatistics | None = None


class TableContext(Frozen):
    name: str
    source: str | None = None
    row_count: int
    quarantined_values: int = 0
    rejected_rows: int = 0
    columns: tuple[ColumnContext, ...]
    role: str | None = None  # fact | dimension | bridge | isolated (topology_enrichment)
    key_columns: tuple[str, ...] = ()
    temporal: tuple[TemporalProfile, ...] = ()  # one per date/timestamp column, primary first
    entity_type: str | None = None  # fact | dimension | event | bridge | reference (semantic_enrichment)
    description: str | None = None
    grain: tuple[str, ...] = ()  # the columns that identify a row
    quality: TableQuality | None = None  # the checks on this table and its score (quality_assessment)


class ContextBudget(Frozen):
    """How a context was cut to a token budget (`delivery.budget`): whole tables left out, the
    least relevant first, and tables shown without their per-column detail."""

    max_tokens: int
    counter: str  # how tokens were counted: a tokenizer's name, or the documented estimate
    tables_left_out: tuple[str, ...] = ()
    tables_without_statistics: tuple[str, ...] = ()  # columns with type and role only
class ContextSection(Frozen):
    """A step's own part of the context document, for steps the core does not know (a step
    package's): a step whose result has a `context_section()` method returning one joins the
    context (`dataraum_context.sections`, docs/EXTENDING.md). The renderers escape every text
    in it; `data` is what JSON and YAML carry for machines."""

    title: str
    step: str = ""  # the step that wrote it (set by the core)
    summary: str = ""  # a paragraph
    facts: tuple[str, ...] = ()  # one line each: findings, and why something was not applicable
    table: tuple[tuple[str, ...], ...] = ()  # rows of text, the first the header
    data: dict[str, Any] = {}


class ContextDocument(Displayed):
    pipeline: str
    generated_at: datetime
    ontology: str | None = None  # the domain ontology the semantic steps used: "name version"
    budget: ContextBudget | None = None  # set when the context was cut to a token budget
    tables: tuple[TableContext, ...]
    relationships: tuple[Relationship, ...] = ()
    # joins a semantic provider proposed, not measured (source: the provider's name)
    proposed_relationships: tuple[Relationship, ...] = ()
    semantic_provider: str | None = None  # "heuristic", "anthropic (claude-sonnet-5-5)"
    llm_usage: dict[str, int] = {}  # requests, input_tokens, output_tokens, cache_hits
    join_paths: tuple[JoinPath, ...] = ()  # from each fact and bridge table to what it reaches
    key_agreement: KeyAgreement | None = None  # declared foreign keys against discovered ones (topology)
    dependency_groups: tuple[DependencyGroup, ...] = ()  # near-linear dependencies across joins
    quality: QualitySummary | None = None  # scores, counts and the top issues (quality_assessment)
    sections: tuple[ContextSection, ...] = ()  # from steps of step packages, in step order
    warnings: tuple[str, ...] = ()

    def table(self, name: str) -> TableContext:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def join_path(self, from_table: str, to_table: str) -> JoinPath | None:
        """The shortest join path between any two tables along the relationships (`joins`)."""
        return DELEGATES["join_path"](self.relationships, from_table, to_table)

    def to_json(self, indent: int | None = 2) -> str:
        return DELEGATES["to_json"](self, indent=indent)

    def to_markdown(self) -> str:
        return DELEGATES["to_markdown"](self)

    def to_yaml(self) -> str:
        return DELEGATES["to_yaml"](self)


# --- Hamilton cache fingerprint ------------------------------------------------------------


@functools.cache
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
    tables_computed: int = 0  # per-table steps: tables computed in this run
    tables_cached: int = 0  # ... and served from the cache
    attempts: int = 1  # runs of the step: more than one after transient failures (`retries:`)
    error: str | None = None  # "<ExceptionType>: message" when failed; the reason when skipped
    user_error: bool = False  # failed on the user's input (a DataraumError), not on a defect


class PipelineRun(Displayed):
    """What an engine reports: per-step outcome and timing, warnings, and the step results.
    Without `results`, it is the run record in `<workspace>/runs/<run_id>.json`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    run_id: str = ""
    pipeline: str
    engine: str = "local"
    status: str  # succeeded | incomplete (some sources could not be staged) | failed
    started_at: datetime | None = None
    ended_at: datetime | None = None
    steps: tuple[StepRun, ...]
    warnings: tuple[str, ...] = ()
    error: str | None = None  # what stopped the run, when something did
    duration_s: float = 0.0
    results: dict[str, Any] = Field(default={}, exclude=True)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed_steps(self) -> tuple[StepRun, ...]:
        return tuple(s for s in self.steps if s.status == "failed")

    @property
    def context(self) -> ContextDocument | None:
        return self.results.get("context_document")
