"""The step results as a notebook shows them: one line for `repr()`, a compact Markdown table
for Jupyter (`_repr_markdown_`), and rows for polars or pandas (`to_polars`, `to_pandas`).

The models only delegate here (`models.Displayed`, `models.Tabular`): they are data, this is
how they read. Each result has one view: the figures of its line and the rows of its table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from dataraum_context.delivery.markdown import text as inline_text
from dataraum_context.joins import columns_label
from dataraum_context.models import (
    ColumnRolesResult,
    ContextDocument,
    MulticollinearityReport,
    PipelineRun,
    QualityAssessmentResult,
    SchemaProfilingResult,
    SemanticEnrichmentResult,
    StagingResult,
    StatisticsResult,
    TemporalResult,
    TopologyResult,
    TypeResolutionResult,
)

if TYPE_CHECKING:
    import polars as pl

MAX_ROWS = 50  # rows of a Markdown table; to_polars() has them all
MAX_NOTES = 10  # lines under it


@dataclass
class View:
    figures: list[str]  # the repr's line: `StatisticsResult(4 tables, 21 columns)`
    header: tuple[str, ...]  # the Markdown table
    rows: list[tuple[Any, ...]]
    notes: list[str] = field(default_factory=list)  # lines under the table


def summary(result: Any) -> str:
    return f"{type(result).__name__}({', '.join(view(result).figures)})"


def markdown(result: Any) -> str:
    shown = view(result)
    lines = [f"**{type(result).__name__}** ({_cell(', '.join(shown.figures))})", ""]
    if shown.rows:
        lines += ["| " + " | ".join(shown.header) + " |", "|" + "---|" * len(shown.header)]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.rows[:MAX_ROWS]]
        lines += ["", *_more(len(shown.rows), MAX_ROWS, "rows")]
    lines += [f"- {_cell(note)}" for note in shown.notes[:MAX_NOTES]] + _more(len(shown.notes), MAX_NOTES, "notes")
    return "\n".join(lines).rstrip() + "\n"


def _more(count: int, shown: int, what: str) -> list[str]:
    return [f"... and {count - shown:,} more {what}", ""] if count > shown else []


def to_polars(result: Any) -> pl.DataFrame:
    """One row per column (statistics), relationship (topology) or check (quality)."""
    import polars as pl  # here, not above: showing a result in a notebook needs no polars

    schema, rows = _rows(result)
    return pl.DataFrame(rows, schema=schema, orient="row")


def to_pandas(result: Any) -> Any:
    try:
        import pandas  # noqa: F401  (only to say what is missing before polars does)
    except ImportError:
        raise ImportError(f"{type(result).__name__}.to_pandas() needs pandas (pip install pandas); "
                          "to_polars() does not") from None
    return to_polars(result).to_pandas()


# --- the views -----------------------------------------------------------------------------


@singledispatch
def view(result: Any) -> View:
    raise TypeError(f"no notebook view of {type(result).__name__}")


@view.register
def _(result: StagingResult) -> View:
    tables = result.tables.values()
    rejected = sum(t.rejected_rows for t in tables)
    return View(
        [_n(len(tables), "table"), _n(sum(t.row_count for t in tables), "row"),
         *([_n(rejected, "rejected row")] if rejected else []),
         *([_n(len(result.failures), "source") + " not read"] if result.failures else [])],
        ("table", "loader", "types", "rows", "rejected rows", "columns", "source"),
        [(t.name, t.loader, t.type_system.value, t.row_count, t.rejected_rows, len(t.columns), _tail(t.source))
         for t in tables],
        [f"not read: {f.source}: {f.reason}" for f in result.failures])


@view.register
def _(result: SchemaProfilingResult) -> View:
    tables = result.tables.values()
    inferred = {t.name: sum(c.best is not None and c.best.format != "source" for c in t.columns.values())
                for t in tables}
    return View(
        [_n(len(tables), "table"), _n(sum(len(t.columns) for t in tables), "column"),
         f"{sum(inferred.values()):,} inferred from text"],
        ("column", "best type", "format", "confidence", "null tokens", "values profiled"),
        [(f"{t.name}.{c.name}", c.best.data_type if c.best else None, c.best.format if c.best else None,
          c.best.confidence if c.best else None, ", ".join(c.null_tokens), c.profiled_values)
         for t in tables for c in t.columns.values()])


@view.register
def _(result: TypeResolutionResult) -> View:
    tables = result.tables.values()
    quarantined = sum(t.quarantined_values for t in tables)
    return View(
        [_n(len(tables), "table"), _n(sum(len(t.columns) for t in tables), "column"),
         _n(sum(t.row_count for t in tables), "row"), _n(quarantined, "value") + " quarantined"],
        ("table", "rows", "columns", "inferred", "overridden", "quarantined values", "rejected rows"),
        [(t.name, t.row_count, len(t.columns), _count(t.columns.values(), lambda c: c.resolved_by == "inference"),
          _count(t.columns.values(), lambda c: c.resolved_by == "override"), t.quarantined_values, t.rejected_rows)
         for t in tables])


@view.register
def _(result: StatisticsResult) -> View:
    tables = result.tables.values()
    return View(
        [_n(len(tables), "table"), _n(sum(len(t.columns) for t in tables), "column")],
        ("column", "type", "nulls", "distinct", "min", "max", "mean"),
        [(f"{t.name}.{c.name}", c.data_type, c.null_count, c.distinct_count, _short(c.min), _short(c.max), c.mean)
         for t in tables for c in t.columns.values()])


@view.register
def _(result: ColumnRolesResult) -> View:
    tables = result.tables.values()
    return View(
        [_n(len(tables), "table"), _n(sum(bool(t.own_key) for t in tables), "own key"),
         _n(sum(len(t.measures) for t in tables), "measure")],
        ("column", "role", "key member", "candidate key", "named as key", "why"),
        [(f"{t.name}.{c.name}", c.role, c.key_member, c.candidate_key, c.named_as_key, "; ".join(c.evidence))
         for t in tables for c in t.columns.values()])


@view.register
def _(result: TopologyResult) -> View:
    return View(
        [_n(len(result.tables), "table"), _n(len(result.relationships), "relationship"),
         _n(len(result.join_paths), "join path")],
        ("from", "to", "cardinality", "confidence", "inclusion", "orphan rows", "source"),
        [(columns_label(r.from_table, r.from_columns), columns_label(r.to_table, r.to_columns), r.cardinality,
          r.confidence, r.inclusion, r.orphan_rows, r.source) for r in result.relationships],
        ["roles: " + ", ".join(f"{t.name} {t.role}" for t in result.tables.values())] if result.tables else [])


@view.register
def _(result: TemporalResult) -> View:
    profiles = [(t.name, p) for t in result.tables.values() for p in t.columns.values()]
    reference = [f"reference {result.reference_date}"] if result.reference_date is not None else []
    return View(
        [_n(len(result.tables), "table"), _n(len(profiles), "time column"), *reference],
        ("column", "range", "granularity", "cadence", "completeness", "freshness (days)"),
        [(f"{table}.{p.column}" + (" (primary)" if p.primary else ""),
          f"{p.min} .. {p.max}" if p.min is not None else None, p.granularity,
          p.cadence, p.completeness, p.freshness_days) for table, p in profiles])


@view.register
def _(result: MulticollinearityReport) -> View:
    groups = result.dependency_groups
    return View(
        [_n(len(result.analyses), "joined analysis", "joined analyses"), _n(len(groups), "dependency group")],
        ("dependency", "R²", "condition index", "tables"),
        [(g.equation, g.r2, "inf" if g.condition_index is None else g.condition_index, ", ".join(g.tables))
         for g in groups],
        [] if groups else ["no near-linear dependencies between columns"])


@view.register
def _(result: SemanticEnrichmentResult) -> View:
    tables = result.tables.values()
    model = f" ({result.model})" if result.model else ""
    return View(
        [_n(len(tables), "table"), _n(sum(len(t.columns) for t in tables), "column"),
         _n(sum(c.business_term is not None for t in tables for c in t.columns.values()), "business term"),
         f"by {result.provider}{model}"],
        ("table", "entity", "grain", "time column", "columns", "business terms"),
        [(t.name, t.entity_type, ", ".join(t.grain), t.primary_time_column, len(t.columns),
          ", ".join(sorted({c.business_term for c in t.columns.values() if c.business_term})))
         for t in tables],
        list(result.warnings))


@view.register
def _(result: QualityAssessmentResult) -> View:
    tables = result.tables.values()
    score = [f"score {result.score:.2f}"] if result.score is not None else []
    return View(
        [_n(len(tables), "table"), _n(sum(t.checks for t in tables), "check"),
         f"{sum(t.failed for t in tables):,} not passed", *score],
        ("table", "score", "checks", "not passed", "could not run"),
        [(t.name, t.score, t.checks, t.failed, t.errors) for t in tables],
        [f"{r.severity} {columns_label(r.table, r.columns) if r.columns else r.table}: {r.check}, "
         f"{_cell(r.failing_rows)} of {_cell(r.total_rows)} {r.unit}" for r in result.issues()[:3]])


@view.register
def _(result: ContextDocument) -> View:
    return View(
        [result.pipeline, _n(len(result.tables), "table"), _n(len(result.relationships), "relationship"),
         _n(len(result.warnings), "warning")],
        ("table", "rows", "columns", "role", "entity", "quality", "quarantined values"),
        [(t.name, t.row_count, len(t.columns), t.role, t.entity_type,
          t.quality.score if t.quality else None, t.quarantined_values) for t in result.tables],
        list(result.warnings))


@view.register
def _(result: PipelineRun) -> View:
    return View(
        [result.pipeline, result.status, _n(len(result.steps), "step"), f"{result.duration_s:.1f} s"],
        ("step", "status", "seconds", "tables computed", "tables cached", "error"),
        [(s.name, s.status, round(s.duration_s, 2), s.tables_computed, s.tables_cached, s.error)
         for s in result.steps],
        [*([result.error] if result.error else []), *result.warnings])


# --- rows for polars -----------------------------------------------------------------------
# (column types as Python types, which polars maps to String, Int64, Float64, Boolean)

_STATISTICS = {
    "table": str, "column": str, "data_type": str, "count": int, "null_count": int,
    "null_ratio": float, "distinct_count": int, "distinct_approximate": bool,
    "uniqueness": float, "min": str, "max": str, "mean": float, "std": float,
    "p01": float, "p25": float, "p50": float, "p75": float, "p99": float,
    "skewness": float, "kurtosis": float, "zero_count": int, "negative_count": int,
    "min_length": int, "max_length": int, "mean_length": float, "date_range_days": float,
}
_RELATIONSHIPS = {
    "from_table": str, "from_columns": str, "to_table": str, "to_columns": str,
    "source": str, "cardinality": str, "confidence": float, "inclusion": float,
    "coverage": float, "null_ratio": float, "orphan_values": int,
    "orphan_rows": int, "referenced_duplicates": int,
}
_CHECKS = {
    "table": str, "check": str, "rule_type": str, "columns": str, "severity": str,
    "source": str, "passed": bool, "failing_rows": int, "total_rows": int,
    "failing_share": float, "unit": str, "threshold": float, "description": str,
    "error": str, "sql": str,
}


@singledispatch
def _rows(result: Any) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    raise TypeError(f"{type(result).__name__} has no rows for polars")


@_rows.register
def _(result: StatisticsResult) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    quantiles = ("p01", "p25", "p50", "p75", "p99")
    return _STATISTICS, [
        (t.name, c.name, c.data_type, c.count, c.null_count, c.null_ratio, c.distinct_count,
         c.distinct_approximate, c.uniqueness, _text(c.min), _text(c.max), c.mean, c.std,
         *((c.quantiles or {}).get(q) for q in quantiles), c.skewness, c.kurtosis, c.zero_count,
         c.negative_count, c.min_length, c.max_length, c.mean_length, c.date_range_days)
        for t in result.tables.values() for c in t.columns.values()]


@_rows.register
def _(result: TopologyResult) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    return _RELATIONSHIPS, [
        (r.from_table, ", ".join(r.from_columns), r.to_table, ", ".join(r.to_columns), r.source,
         r.cardinality, r.confidence, r.inclusion, r.coverage, r.null_ratio,
         r.orphan_values, r.orphan_rows, r.referenced_duplicates) for r in result.relationships]


@_rows.register
def _(result: QualityAssessmentResult) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    return _CHECKS, [
        (r.table, r.check, r.rule_type, ", ".join(r.columns), r.severity, r.source, r.passed, r.failing_rows,
         r.total_rows, r.failing_share, r.unit, r.threshold, r.description, r.error, r.sql)
        for t in result.tables.values() for r in t.results]


# --- formatting ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A value as a Markdown table cell: numbers compact, text escaped and on one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.6g}"
    return inline_text(value)


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def _count(items: Iterable[Any], predicate: Callable[[Any], bool]) -> int:
    return sum(1 for item in items if predicate(item))


def _tail(text: str, width: int = 40) -> str:
    """The end of a long path, which names the file."""
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _short(value: Any, width: int = 24) -> Any:
    """Numbers as they are, anything else as text cut to `width`."""
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
