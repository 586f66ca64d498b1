"""Quality: the ontology's quality rules and generic checks, compiled to DuckDB SQL over the
typed tables; each check counts its failing rows exactly, keeps a few of them as examples and
carries the SQL that returns them (`Workspace(ws).sql(result.sql, list(result.parameters))`).

Binding. A rule's `applies_to` names concepts, or name patterns (with `*`) that bind the columns
whose names they match. A concept is bound to the columns whose `business_term` it is
(semantic_enrichment); without semantic_enrichment, to the columns for which the ontology's
concept matcher (`match_concepts`) ranks it first with a score of at least 0.6. The result says
which binding was used. not_null, range, allowed/disallowed_values, regex, freshness,
temporal_completeness, monotonic and referential_integrity are checked on every bound column;
the other concepts a rule names (`order_by`, `group_by`, `references`, the columns of `unique`
and the placeholders of `cross_column`) take the best-bound column, in the same table except
for `references`. A rule with nothing to check is reported as not applicable, with the reason.

Generic checks: duplicate keys (a declared key, the topology's key of a table, the columns
semantic_enrichment calls keys, columns named as their table's id), null ratios above
`null_ratio_threshold`, orphaned foreign-key values (the topology's relationships; its exact
orphan counts are reused), values beyond the IQR fences of the statistics' quartiles
(`iqr_fence_multiplier`), values that failed their cast and malformed source rows
(quarantine), missing values written as null tokens in the source (`N/A`, `-`), and the gaps
of each table's primary time column (temporal_enrichment's periods).

Counting. The row-level checks of a table (predicates) are counted in one aggregate pass that
also keeps the first failing rows; checks over groups, windows and joins run one query each.
When the combined pass fails, each predicate runs alone, so a rule whose SQL DuckDB rejects is
reported with its error and every other check still counts.

Score (docs/QUALITY.md). A check that did not pass costs its failing share f = failing / total,
weighted by its severity w (error 1, warning 0.5, info 0.1): a table scores the product of
(1 - w·f) over those checks; 1 when every check passed, whatever the number of checks, lower
the more rows fail and the worse the severity. The overall score is the row-weighted mean of
the tables' scores.

Freshness rules are measured against `reference_date` when one is configured (read through
temporal_enrichment), otherwise against the clock; the step is therefore recomputed on every
run rather than served from the cache.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb
from hamilton.function_modifiers import cache

from dataraum_context import inference, settings
from dataraum_context.joins import columns_label
from dataraum_context.models import (
    InapplicableRule,
    QualityAssessmentResult,
    QualityResult,
    ResolvedTable,
    SemanticEnrichmentResult,
    StagingResult,
    StatisticsResult,
    TableQuality,
    TemporalProfile,
    TemporalResult,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.naming import column_name, column_prefix, tokens
from dataraum_context.ontology import Ontology, QualityRule, match_concepts, tokenize
from dataraum_context.ontology.models import RULE_PARAMETERS, RuleParameters, RuleType
from dataraum_context.ontology.tokens import parse_pattern, stems
from dataraum_context.sql import connect, quote_ident, quote_literal
from dataraum_context.step import step
from dataraum_context.workspace import Workspace

SEVERITY_WEIGHTS = {"error": 1.0, "warning": 0.5, "info": 0.1}
_MIN_TERM_SCORE = 0.6  # a concept the matcher ranks first binds its column from this score
_ID_WORDS = frozenset({"id", "key", "pk", "uuid", "guid"})  # `code` or `number` alone need not be unique
_ROW = "file_row_number"  # the typed tables are read with their row numbers (0-based)
_NUMBER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
_TEMPORAL = ("DATE", "TIMESTAMP")
_SINGLE_COLUMN = {RuleType.NOT_NULL, RuleType.RANGE, RuleType.ALLOWED_VALUES, RuleType.DISALLOWED_VALUES,
                  RuleType.REGEX, RuleType.FRESHNESS, RuleType.TEMPORAL_COMPLETENESS, RuleType.MONOTONIC,
                  RuleType.REFERENTIAL_INTEGRITY}
_AGGREGATES = frozenset({
    "sum", "avg", "mean", "min", "max", "count", "median", "mode", "stddev", "stddev_pop",
    "stddev_samp", "variance", "var_pop", "var_samp", "any_value", "first", "last", "arg_min",
    "arg_max", "min_by", "max_by", "bool_and", "bool_or", "string_agg", "list", "product",
    "quantile", "quantile_cont", "quantile_disc", "approx_count_distinct", "fsum", "kahan_sum"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400, "week": 604_800}
_UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_GRAIN_STEPS = {"minute": "1 minute", "hour": "1 hour", "day": "1 day", "week": "7 days",
                "month": "1 month", "quarter": "3 months", "year": "1 year"}


@cache(behavior="recompute")  # freshness is measured against the clock
@step(scope="table", phase="quality", criticality="optional")
def quality_assessment(
    type_resolution: TypeResolutionResult,
    statistics_profiling: StatisticsResult,
    workspace: str,
    ontology: Ontology,
    semantic_enrichment: SemanticEnrichmentResult | None = None,
    topology_enrichment: TopologyResult | None = None,
    temporal_enrichment: TemporalResult | None = None,
    staging: StagingResult | None = None,
    null_tokens: Sequence[str] = settings.NULL_TOKENS,
    null_ratio_threshold: float = settings.NULL_RATIO_THRESHOLD,
    iqr_fence_multiplier: float = settings.IQR_FENCE_MULTIPLIER,
    quality_example_rows: int = settings.QUALITY_EXAMPLE_ROWS,
) -> QualityAssessmentResult:
    """The ontology's quality rules bound to columns and the generic checks, per table: failing
    rows counted exactly, examples, the reproducing SQL; a score per table (the product, over
    the checks that did not pass, of 1 - severity weight x failing share) and overall (the
    tables' scores weighted by their rows)."""
    ws = Workspace(workspace)
    data = _Data(type_resolution, statistics_profiling, topology_enrichment, semantic_enrichment, staging)
    reference = _reference(temporal_enrichment)
    binding = "semantic_enrichment" if semantic_enrichment is not None else "concept_matcher"
    checks, skipped = _rule_checks(ontology, data, reference)
    checks += _generic_checks(data, topology_enrichment, temporal_enrichment, null_ratio_threshold,
                              iqr_fence_multiplier)
    results: dict[str, list[QualityResult]] = {name: [] for name in data.tables}
    con = connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        _views(con, ws, type_resolution)
        checks += _null_token_checks(con, data, ws, null_tokens)
        for table in data.tables:
            mine = [c for c in checks if c.table == table]
            results[table] = _run(con, [c for c in mine if c.predicate is not None], quality_example_rows, data)
            results[table] += [_run_query(con, c, quality_example_rows, data) for c in mine if c.query is not None]
    finally:
        con.close()
    tables = {name: _table_quality(name, rs) for name, rs in results.items()}
    scored = [(data.tables[n].row_count, t.score) for n, t in tables.items() if t.score is not None]
    rows = sum(n for n, _ in scored)
    overall = round(sum(n * s for n, s in scored) / rows, 4) if rows else None
    return QualityAssessmentResult(
        tables=tables, score=overall, binding=binding, ontology=ontology.label,
        reference_time=reference, not_applicable=tuple(skipped),
        settings={"null_ratio_threshold": null_ratio_threshold, "iqr_fence_multiplier": iqr_fence_multiplier,
                  "severity_weights": SEVERITY_WEIGHTS})


# --- SQL with bound values -----------------------------------------------------------------


@dataclass(frozen=True)
class _Sql:
    """SQL text with `?` placeholders and their values, in order."""

    text: str
    params: tuple[Any, ...] = ()


def _q(*parts: str | _Sql) -> _Sql:
    """Concatenate text and SQL fragments, keeping the values in the order of their `?`."""
    text: list[str] = []
    params: list[Any] = []
    for part in parts:
        if isinstance(part, _Sql):
            text.append(part.text)
            params.extend(part.params)
        else:
            text.append(part)
    return _Sql("".join(text), tuple(params))


def _v(value: Any, cast: str) -> _Sql:
    return _Sql(f"?::{cast}", (value,))


@dataclass(frozen=True)
class _Check:
    """A compiled check: either a predicate over the table's rows (counted with the table's
    other predicates in one pass) or a query returning the failing rows, groups or periods."""

    check: str
    rule_type: str
    table: str
    severity: str
    columns: tuple[str, ...] = ()
    source: str = "generic"
    ontology_file: str | None = None
    description: str = ""
    threshold: float = 1.0
    unit: str = "rows"
    evidence: tuple[str, ...] = ()
    predicate: _Sql | None = None  # a row fails where this is true
    relation: str | None = None  # what the predicate is evaluated over; default: the typed table
    query: _Sql | None = None  # returns the failing rows / groups / periods
    total: int | _Sql | None = None  # rows, groups or periods checked: a number, or a query for it
    failing: int | None = None  # already counted exactly by an earlier step
    table_rows: bool = True  # the query returns rows of the table (examples in row order)
    extra: tuple[str, ...] = ()  # computed columns of the query worth showing in examples

    def sql(self) -> _Sql:
        if self.query is not None:
            return self.query
        return _q(f"SELECT * FROM {self.relation or quote_ident(self.table)} WHERE ", self.predicate)


# --- what the steps before found -----------------------------------------------------------


class _Data:
    """The tables with their types, statistics, keys and the concepts bound to their columns."""

    def __init__(self, types: TypeResolutionResult, stats: StatisticsResult, topology: TopologyResult | None,
                 semantic: SemanticEnrichmentResult | None, staging: StagingResult | None):
        self.tables: dict[str, ResolvedTable] = dict(types.tables)
        self.stats = stats
        self.staging = staging
        self.semantic = semantic
        self.keys = {name: _keys(name, t, topology, semantic, staging) for name, t in self.tables.items()}

    def columns(self, table: str) -> list[str]:
        return list(self.tables[table].columns)

    def dtype(self, table: str, column: str) -> str:
        return self.tables[table].columns[column].data_type.upper()

    def key(self, table: str) -> tuple[str, ...]:
        """The columns that identify a row in examples."""
        return next(iter(self.keys.get(table) or {}), ())


def _keys(table: str, resolved: ResolvedTable, topology: TopologyResult | None,
          semantic: SemanticEnrichmentResult | None, staging: StagingResult | None) -> dict[tuple[str, ...], str]:
    """Column sets that should identify a row, with why: declared, found by topology, called
    keys by semantic_enrichment, or named as the table's own id (`id`, `customer_id` in
    customers, `c_custkey` in customer); each once, the first reason kept."""
    found: list[tuple[tuple[str, ...], str]] = []
    staged = staging.tables.get(table) if staging else None
    if staged and staged.primary_key:
        found.append((tuple(staged.primary_key), "the source declares it the primary key"))
    role = topology.tables.get(table) if topology else None
    if role and role.key_columns:
        found.append((tuple(role.key_columns), "topology_enrichment found it to be the table's key"))
    entity = semantic.tables.get(table) if semantic else None
    if entity:
        if entity.grain:
            found.append((tuple(entity.grain), f"semantic_enrichment gives it as the grain ({entity.source})"))
        found += [((c,), f"semantic_enrichment calls it a key ({a.source})")
                  for c, a in entity.columns.items() if a.semantic_role == "key"]
    names = list(resolved.columns)
    prefix = column_prefix(names)
    found += [((c,), "named as the table's id") for c in names
              if column_name(table, c, prefix).names_own_table and tokens(c)[-1] in _ID_WORDS]
    keys: dict[tuple[str, ...], str] = {}
    for key, why in found:
        if key and all(c in resolved.columns for c in key):
            keys.setdefault(key, why)
    return keys


def _reference(temporal: TemporalResult | None) -> datetime:
    """What freshness is measured against: the configured `reference_date`, else now (UTC)."""
    if temporal is not None and temporal.reference_source == "config" and temporal.reference_date is not None:
        ref = temporal.reference_date
        if isinstance(ref, datetime):
            return ref.astimezone(timezone.utc).replace(tzinfo=None) if ref.tzinfo else ref
        return datetime.combine(ref, time())
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


# --- binding the ontology's rules ----------------------------------------------------------


@dataclass(frozen=True)
class _Bound:
    table: str
    column: str
    score: float
    how: str


def _concept_bindings(ontology: Ontology, data: _Data) -> dict[str, list[_Bound]]:
    """Concept -> the columns it is bound to, best first."""
    bound: dict[str, list[_Bound]] = {}
    if data.semantic is not None:
        for table, entity in data.semantic.tables.items():
            for column, a in entity.columns.items():
                if a.business_term and table in data.tables and column in data.tables[table].columns:
                    bound.setdefault(a.business_term, []).append(_Bound(
                        table, column, a.term_confidence if a.term_confidence is not None else 1.0,
                        f"{table}.{column} has the business term {a.business_term} ({a.source})"))
    else:
        for table in data.tables:
            stats = data.stats.tables.get(table)
            for column in data.columns(table):
                s = stats.columns.get(column) if stats else None
                matches = match_concepts(column, table, data.dtype(table, column), s, None, ontology)
                if matches and matches[0].score >= _MIN_TERM_SCORE:
                    m = matches[0]
                    bound.setdefault(m.concept, []).append(_Bound(
                        table, column, m.score,
                        f"{table}.{column} matches concept {m.concept} (score {m.score:.2f})"))
    for columns in bound.values():
        columns.sort(key=lambda b: -b.score)
    return bound


def _targets(entry: str, bindings: dict[str, list[_Bound]], data: _Data) -> list[_Bound]:
    """The columns an `applies_to` entry (a concept, or a name pattern with `*`) stands for."""
    if "*" not in entry:
        return bindings.get(entry, [])
    pattern = parse_pattern(entry)
    return [_Bound(t, c, 1.0, f"{t}.{c} matches the name pattern {entry!r}")
            for t in data.tables for c in data.columns(t) if pattern.match(stems(tokenize(c)))]


def _best_in(table: str, entry: str, bindings: dict[str, list[_Bound]], data: _Data) -> _Bound | None:
    return next((b for b in _targets(entry, bindings, data) if b.table == table), None)


def _family(dtype: str) -> str:
    if dtype.startswith(_NUMBER):
        return "number"
    if dtype.startswith(_TEMPORAL):
        return "temporal"
    if dtype == "VARCHAR":
        return "text"
    return "other"


def _rule_checks(ontology: Ontology, data: _Data, reference: datetime) -> tuple[list[_Check], list[InapplicableRule]]:
    if not ontology.quality_rules:
        return [], []
    bindings = _concept_bindings(ontology, data)
    checks: list[_Check] = []
    skipped: list[InapplicableRule] = []
    for rule in ontology.quality_rules:
        params = RULE_PARAMETERS[rule.rule_type].model_validate(rule.parameters)
        origin = ontology.origins.get("quality_rules", {}).get(rule.name)
        base = _Check(check=rule.name, rule_type=rule.rule_type.value, table="", severity=rule.severity.value,
                      source="ontology", ontology_file=origin, description=rule.description,
                      threshold=params.threshold)
        compiled, reasons = _compile_rule(rule, params, base, bindings, data, reference)
        checks += compiled
        skipped += [InapplicableRule(rule=rule.name, rule_type=rule.rule_type.value, ontology_file=origin,
                                     table=table, reason=reason) for table, reason in reasons]
    return checks, skipped


def _compile_rule(rule: QualityRule, params: RuleParameters, base: _Check, bindings: dict[str, list[_Bound]],
                  data: _Data, reference: datetime) -> tuple[list[_Check], list[tuple[str | None, str]]]:
    """The checks of one rule, and (table, reason) for what could not be checked."""
    reasons: list[tuple[str | None, str]] = []
    checks: list[_Check] = []
    if rule.rule_type in _SINGLE_COLUMN:
        targets = list({(b.table, b.column): b for e in rule.applies_to for b in _targets(e, bindings, data)}.values())
        if not targets:
            return [], [(None, _unbound(rule.applies_to))]
        for b in targets:
            check, reason = _single_column(rule, params, replace(base, table=b.table, columns=(b.column,),
                                                               evidence=(b.how,)), b, bindings, data, reference)
            if check is not None:
                checks.append(check)
            else:
                reasons.append((b.table, reason))
        return checks, reasons
    concepts = _placeholder_concepts(rule.expression) + list(getattr(params, "group_by", ())) \
        if rule.rule_type == RuleType.CROSS_COLUMN else list(rule.applies_to)
    concepts = list(dict.fromkeys(concepts))
    tables = [t for t in data.tables if all(_best_in(t, c, bindings, data) for c in concepts)]
    if not tables:
        return [], [(None, _not_together(concepts, bindings, data))]
    for table in tables:
        bound = {c: _best_in(table, c, bindings, data) for c in concepts}
        columns = tuple(dict.fromkeys(b.column for b in bound.values()))
        check = replace(base, table=table, columns=columns, evidence=tuple(b.how for b in bound.values()))
        if rule.rule_type == RuleType.UNIQUE:
            checks.append(_duplicates(check, data, columns))
        else:
            checks.append(_cross_column(rule, params, check, {c: b.column for c, b in bound.items()}))
    return checks, reasons


def _placeholder_concepts(expression: str | None) -> list[str]:
    return [p.partition(".")[0] for p in _PLACEHOLDER.findall(expression or "")]


def _unbound(entries: Sequence[str]) -> str:
    concepts = [e for e in entries if "*" not in e]
    patterns = [e for e in entries if "*" in e]
    parts = []
    if concepts:
        parts.append(f"no column is bound to {' or '.join(concepts)}")
    if patterns:
        parts.append(f"no column name matches {' or '.join(repr(p) for p in patterns)}")
    return "; ".join(parts)


def _not_together(concepts: list[str], bindings: dict[str, list[_Bound]], data: _Data) -> str:
    missing = [c for c in concepts if not _targets(c, bindings, data)]
    if missing:
        return _unbound(missing)
    where = "; ".join(f"{c}: {', '.join(f'{b.table}.{b.column}' for b in _targets(c, bindings, data))}"
                      for c in concepts)
    return f"{', '.join(concepts)} are not bound in one table ({where})"


def _single_column(rule: QualityRule, params: Any, check: _Check, b: _Bound, bindings: dict[str, list[_Bound]],
                   data: _Data, reference: datetime) -> tuple[_Check | None, str]:
    col = quote_ident(b.column)
    dtype = data.dtype(b.table, b.column)
    family = _family(dtype)
    t = rule.rule_type
    if t == RuleType.NOT_NULL:
        return replace(check, predicate=_Sql(f"{col} IS NULL")), ""
    if t == RuleType.RANGE:
        if family != "number":
            return None, f"range needs a numeric column: {b.table}.{b.column} is {dtype}"
        x = f"CAST({col} AS DOUBLE)"
        below, above = ("<", ">") if params.inclusive else ("<=", ">=")
        low = _q(f"{x} {below} ", _v(params.min, "DOUBLE")) if params.min is not None else _Sql("false")
        high = _q(f"{x} {above} ", _v(params.max, "DOUBLE")) if params.max is not None else _Sql("false")
        return replace(check, predicate=_q("(", low, " OR ", high, ")")), ""
    if t in (RuleType.ALLOWED_VALUES, RuleType.DISALLOWED_VALUES):
        values, x = _value_list(col, dtype, family, params.values, params.case_sensitive)
        contains = _q("list_contains(", values, f", {x})")
        if t == RuleType.ALLOWED_VALUES:
            return replace(check, predicate=_q(f"{col} IS NOT NULL AND NOT ", contains)), ""
        return replace(check, predicate=contains), ""
    if t == RuleType.REGEX:
        return replace(check, predicate=_q(f"{col} IS NOT NULL AND NOT regexp_full_match(CAST({col} AS VARCHAR), ",
                                           _v(params.pattern, "VARCHAR"), ")")), ""
    if t == RuleType.FRESHNESS:
        if family != "temporal":
            return None, f"freshness needs a date or timestamp column: {b.table}.{b.column} is {dtype}"
        return _freshness(check, b, params.max_age_hours, reference), ""
    if t == RuleType.REFERENTIAL_INTEGRITY:
        # the referenced column: another column bound to the concept, a key if there is one
        others = [r for r in _targets(params.references, bindings, data) if (r.table, r.column) != (b.table, b.column)]
        if not others:
            return None, f"no other column is bound to {params.references}"
        target = next((r for r in others if (r.column,) in data.keys[r.table]), others[0])
        return replace(_orphans(check, data, b.table, (b.column,), target.table, (target.column,)),
                       evidence=(*check.evidence, target.how)), ""
    group = [_best_in(b.table, g, bindings, data) for g in params.group_by]
    if None in group:
        missing = [g for g, x in zip(params.group_by, group) if x is None]
        return None, f"{', '.join(missing)} (group_by) not bound in {b.table}"
    groups = tuple(g.column for g in group)
    evidence = (*check.evidence, *(g.how for g in group))
    if t == RuleType.TEMPORAL_COMPLETENESS:
        if family != "temporal":
            return None, f"temporal_completeness needs a date or timestamp column: {b.table}.{b.column} is {dtype}"
        return replace(_completeness(check, b, groups, params.grain.value), evidence=evidence,
                       columns=(b.column, *groups)), ""
    order = _best_in(b.table, params.order_by, bindings, data)  # monotonic
    if order is None:
        return None, f"{params.order_by} (order_by) not bound in {b.table}"
    return replace(_monotonic(check, b, order.column, groups, params.strict),
                   evidence=(*evidence, order.how), columns=(b.column, order.column, *groups)), ""


def _value_list(col: str, dtype: str, family: str, values: Sequence[Any], case_sensitive: bool) -> tuple[_Sql, str]:
    """The rule's values as a list of the column's kind, and the column expression to look up."""
    texts = _v([str(v).lower() if isinstance(v, bool) else str(v) for v in values], "VARCHAR[]")
    if family == "number":
        return _q("list_transform(", texts, ", lambda v: TRY_CAST(v AS DOUBLE))"), f"CAST({col} AS DOUBLE)"
    if family == "text":
        if case_sensitive:
            return texts, col
        return _q("list_transform(", texts, ", lambda v: lower(v))"), f"lower({col})"
    return _q("list_transform(", texts, f", lambda v: TRY_CAST(v AS {dtype}))"), col


def _freshness(check: _Check, b: _Bound, max_age_hours: float, reference: datetime) -> _Check:
    cutoff = reference - timedelta(hours=max_age_hours)
    col = quote_ident(b.column)
    return replace(
        check, unit="columns",
        query=_q(f"SELECT max({col}) AS latest, ", _v(cutoff, "TIMESTAMP"), " AS cutoff FROM ",
                 quote_ident(b.table), f" HAVING max(CAST({col} AS TIMESTAMP)) < ", _v(cutoff, "TIMESTAMP")),
        total=1, table_rows=False,
        evidence=(*check.evidence, f"stale when the latest value is before {cutoff:%Y-%m-%d %H:%M} "
                                   f"({max_age_hours:g} hours before {reference:%Y-%m-%d %H:%M})"))


def _completeness(check: _Check, b: _Bound, groups: tuple[str, ...], grain: str) -> _Check:
    """Periods of `grain` with no row, between each group's first and last period."""
    col = quote_ident(b.column)
    g = [quote_ident(c) for c in groups]
    keys = "".join(f"{x}, " for x in g)
    by = f" GROUP BY {', '.join(g)}" if g else ""
    on = " AND ".join([*(f"e.{x} IS NOT DISTINCT FROM p.{x}" for x in g), "e.period = p.period"])
    ctes = _q(f"WITH p AS (SELECT DISTINCT {keys}date_trunc(", _v(grain, "VARCHAR"), f", CAST({col} AS TIMESTAMP)) "
              f"AS period FROM {quote_ident(b.table)} WHERE {col} IS NOT NULL), "
              f"e AS (SELECT {keys}unnest(generate_series(min(period), max(period), ",
              _v(_GRAIN_STEPS[grain], "INTERVAL"), f")) AS period FROM p{by}) ")
    return replace(check, unit="periods", table_rows=False,
                   query=_q(ctes, f"SELECT e.* FROM e ANTI JOIN p ON {on}"),
                   total=_q(ctes, "SELECT count(*) FROM e"))


def _monotonic(check: _Check, b: _Bound, order: str, groups: tuple[str, ...], strict: bool) -> _Check:
    col, o = quote_ident(b.column), quote_ident(order)
    previous = quote_ident(f"previous_{b.column}")
    partition = f"PARTITION BY {', '.join(quote_ident(g) for g in groups)} " if groups else ""
    present = f"{col} IS NOT NULL AND {o} IS NOT NULL"
    return replace(
        check, extra=(f"previous_{b.column}",),
        query=_Sql(f"SELECT * FROM (SELECT *, lag({col}) OVER ({partition}ORDER BY {o}, {col}) AS {previous} "
                   f"FROM {quote_ident(b.table)} WHERE {present}) WHERE {col} {'<=' if strict else '<'} {previous}"),
        total=_Sql(f"SELECT count(*) FROM {quote_ident(b.table)} WHERE {present}"))


def _aggregate_calls(expression: str) -> list[tuple[int, int]]:
    """The spans of aggregate function calls in an expression (string literals skipped)."""
    spans = []
    for m in _CALL.finditer(expression):
        if m.group(1).lower() not in _AGGREGATES or _in_string(expression, m.start()):
            continue
        depth, i = 0, m.end() - 1
        while i < len(expression):
            ch = expression[i]
            if ch == "'":
                i = expression.find("'", i + 1)
                if i < 0:
                    break
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    spans.append((m.start(), i + 1))
                    break
            i += 1
    return spans


def _in_string(text: str, pos: int) -> bool:
    return text.count("'", 0, pos) % 2 == 1


def _top_level_equals(expression: str) -> int | None:
    """The position of the one top-level `=` comparison, if the expression is `a = b`."""
    depth, found = 0, []
    for i, ch in enumerate(expression):
        if _in_string(expression, i):
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "=" and depth == 0 and expression[i - 1:i] not in ("<", ">", "!", "=") \
                and expression[i + 1:i + 2] != "=":
            found.append(i)
    return found[0] if len(found) == 1 else None


def _cross_column(rule: QualityRule, params: Any, check: _Check, columns: dict[str, str]) -> _Check:
    """Row by row: the rows where the expression is false. With `group_by` or aggregates: the
    groups (one group: the table) where it is false."""
    expression = rule.expression or ""
    calls = _aggregate_calls(expression)
    grouped = bool(params.group_by or calls)
    table = quote_ident(check.table)
    groups = [quote_ident(columns[g]) for g in params.group_by]

    def substitute(text: str, offset: int, wrap: bool) -> str:
        def one(m: re.Match[str]) -> str:
            name, _, attr = m.group(1).partition(".")
            if attr == "table":
                return table
            ident = quote_ident(columns[name])
            inside = any(s <= offset + m.start() < e for s, e in calls)
            return f"any_value({ident})" if wrap and name not in params.group_by and not inside else ident
        return _PLACEHOLDER.sub(one, text)

    sql = _Sql(substitute(expression, 0, wrap=bool(calls)))
    evidence = list(check.evidence)
    at = _top_level_equals(sql.text)
    if params.tolerance:
        if at is not None:
            sql = _q(f"abs(({sql.text[:at]}) - ({sql.text[at + 1:]})) <= ", _v(params.tolerance, "DOUBLE"))
        else:
            evidence.append(f"tolerance {params.tolerance:g} not applied: the expression is not of the form a = b")
    if not grouped:
        return replace(check, predicate=_q("NOT (", sql, ")"), evidence=tuple(evidence))
    if calls:
        # each aggregate as a column, named as written without the braces: "SUM(debit)"
        named = [(substitute(expression[s:e], s, wrap=True), _PLACEHOLDER.sub(lambda m: m.group(1), expression[s:e]))
                 for s, e in calls]
        outputs = _Sql(", ".join([f"count(*) AS {quote_ident('rows')}",
                                  *(f"{sql_text} AS {quote_ident(name)}" for sql_text, name in named)]))
        having = _q("NOT (", sql, ")")
    else:  # a row-level expression per group: a group fails when any of its rows does
        outputs = _q(f"count(*) AS {quote_ident('rows')}, count(*) FILTER (WHERE NOT (", sql,
                     f")) AS {quote_ident('failing_rows')}")
        having = _q("NOT bool_and(", sql, ")")
    keys = "".join(f"{g}, " for g in groups)
    by = f" GROUP BY {', '.join(groups)}" if groups else ""
    query = _q(f"SELECT {keys}", outputs, f" FROM {table}{by} HAVING ", having)
    total: int | _Sql = _Sql(f"SELECT count(*) FROM (SELECT 1 FROM {table}{by})") if groups else 1
    return replace(check, unit="groups", query=query, total=total, table_rows=False, evidence=tuple(evidence))


# --- generic checks ------------------------------------------------------------------------


def _generic_checks(data: _Data, topology: TopologyResult | None, temporal: TemporalResult | None,
                    null_ratio_threshold: float, iqr_multiplier: float) -> list[_Check]:
    checks: list[_Check] = []
    related = {(r.from_table, c) for r in (topology.relationships if topology else ()) for c in r.from_columns} | \
              {(r.to_table, c) for r in (topology.relationships if topology else ()) for c in r.to_columns}
    for table, resolved in data.tables.items():
        stats = data.stats.tables.get(table)
        for key, why in data.keys[table].items():
            checks.append(_duplicates(_Check(
                check="duplicate_key", rule_type="duplicate_key", table=table, columns=key, severity="error",
                description=f"{', '.join(key)} should identify a row of {table}", evidence=(why,)), data, key))
        for column, rc in resolved.columns.items():
            s = stats.columns.get(column) if stats else None
            if s is not None and s.null_count:
                checks.append(_Check(
                    check="null_ratio", rule_type="null_ratio", table=table, columns=(column,), severity="info",
                    threshold=1 - null_ratio_threshold, predicate=_Sql(f"{quote_ident(column)} IS NULL"),
                    description=f"at most {null_ratio_threshold:.0%} of the rows may be null"))
            fences = _fences(table, column, s, data, related, iqr_multiplier)
            if fences is not None:
                lo, hi, note = fences
                x = f"CAST({quote_ident(column)} AS DOUBLE)"
                checks.append(_Check(
                    check="outlier", rule_type="outlier", table=table, columns=(column,), severity="info",
                    predicate=_q(f"({x} < ", _v(lo, "DOUBLE"), f" OR {x} > ", _v(hi, "DOUBLE"), ")"),
                    description=f"values beyond the IQR fences {lo:.6g} .. {hi:.6g}", evidence=(note,)))
            if rc.cast_failures and resolved.quarantine_path:
                checks.append(_Check(
                    check="cast_failure", rule_type="cast_failure", table=table, columns=(column,),
                    severity="warning", table_rows=False, total=resolved.row_count,
                    query=_q(f"SELECT * FROM {quote_ident('quarantine_' + table)} WHERE \"column\" = ",
                             _v(column, "VARCHAR")),
                    description=f"values that are not {rc.data_type}: kept in quarantine, null in the table"))
        if resolved.rejected_rows and resolved.quarantine_path:
            checks.append(_Check(
                check="rejected_rows", rule_type="rejected_rows", table=table, severity="error", table_rows=False,
                total=resolved.source_rows,
                query=_Sql(f"SELECT * FROM {quote_ident('quarantine_' + table)} WHERE \"column\" IS NULL"),
                description="malformed source rows, kept in quarantine and missing from the table"))
    for r in topology.relationships if topology else ():
        if r.from_table in data.tables and r.to_table in data.tables:
            checks.append(_orphans(_Check(
                check="orphaned_reference", rule_type="orphaned_reference", table=r.from_table,
                columns=r.from_columns, severity="error" if r.source == "declared" else "warning",
                description=f"values missing from {columns_label(r.to_table, r.to_columns)} ({r.source} relationship)"),
                data, r.from_table, r.from_columns, r.to_table, r.to_columns,
                known=r.orphan_rows if r.orphan_rows is not None and not r.inclusion_error else None))
    for table, timed in (temporal.tables.items() if temporal else ()):
        profile = timed.columns.get(timed.primary_column) if timed.primary_column else None
        period = _period(profile.period or "") if profile is not None else None
        if table in data.tables and profile is not None and period and profile.expected_periods:
            checks.append(_gaps(table, profile, period))
    return checks


def _duplicates(check: _Check, data: _Data, columns: tuple[str, ...]) -> _Check:
    """Rows whose key (all columns non-null) occurs more than once."""
    cols = [quote_ident(c) for c in columns]
    return replace(check, total=data.tables[check.table].row_count, query=_Sql(
        f"SELECT * FROM {quote_ident(check.table)} WHERE {' AND '.join(f'{c} IS NOT NULL' for c in cols)} "
        f"QUALIFY count(*) OVER (PARTITION BY {', '.join(cols)}) > 1"))


def _orphans(check: _Check, data: _Data, table: str, columns: Sequence[str], to_table: str,
             to_columns: Sequence[str], known: int | None = None) -> _Check:
    """Rows whose (non-null) reference is missing from the referenced columns."""
    on = []
    for c, k in zip(columns, to_columns):
        same = data.dtype(table, c) == data.dtype(to_table, k)
        f, r = f"f.{quote_ident(c)}", f"r.{quote_ident(k)}"
        on.append(f"{f} = {r}" if same else f"CAST({f} AS VARCHAR) = CAST({r} AS VARCHAR)")
    present = " AND ".join(f"f.{quote_ident(c)} IS NOT NULL" for c in columns)
    evidence = check.evidence + (("orphan rows counted by topology_enrichment (exact)",) if known is not None else ())
    return replace(check, failing=known, total=data.tables[table].row_count, evidence=evidence, query=_Sql(
        f"SELECT f.* FROM {quote_ident(table)} AS f ANTI JOIN {quote_ident(to_table)} AS r "
        f"ON {' AND '.join(on)} WHERE {present}"))


def _fences(table: str, column: str, s: Any, data: _Data, related: set[tuple[str, str]],
            multiplier: float) -> tuple[float, float, str] | None:
    """IQR fences for a numeric column that measures something (not a key, a reference, a flag)."""
    if s is None or _family(data.dtype(table, column)) != "number" or not s.quantiles:
        return None
    if (table, column) in related or any(column in k for k in data.keys[table]) or s.distinct_count <= 2:
        return None
    if column_name(table, column, None).key_suffix:
        return None
    q1, q3 = s.quantiles.get("p25"), s.quantiles.get("p75")
    if q1 is None or q3 is None or q3 <= q1:
        return None
    iqr = q3 - q1
    note = (f"fences Q1 - {multiplier:g}·IQR .. Q3 + {multiplier:g}·IQR from the "
            f"{'approximate ' if s.quantiles_approximate else ''}quartiles {q1:.6g}, {q3:.6g}")
    return q1 - multiplier * iqr, q3 + multiplier * iqr, note


def _null_token_checks(con: duckdb.DuckDBPyConnection, data: _Data, ws: Workspace,
                       null_tokens: Sequence[str]) -> list[_Check]:
    """Missing values written as text (`N/A`, `-`) in the staged source, read as null: one
    check per column holding any, looking for the tokens found there."""
    tokens = [t for t in inference.as_tokens(null_tokens) if t]
    checks = []
    for table, resolved in data.tables.items():
        staged = data.staging.tables.get(table) if data.staging else None
        columns = [c.name for c in staged.columns if c.data_type == "VARCHAR" and c.name in resolved.columns
                   and resolved.columns[c.name].resolved_by != "source"] if staged else []
        if not tokens or not columns:
            continue
        relation = f"read_parquet({quote_literal(str(ws.path(staged.path)))}, file_row_number = true)"
        found = con.execute(
            "SELECT " + ", ".join(f"list(DISTINCT trim({quote_ident(c)}) ORDER BY trim({quote_ident(c)})) "
                                  f"FILTER (WHERE list_contains($1, trim({quote_ident(c)})))" for c in columns)
            + f" FROM {relation}", [tokens]).fetchone()
        checks += [_Check(check="null_tokens", rule_type="null_tokens", table=table, columns=(column,),
                          severity="info", relation=relation,
                          predicate=_q("list_contains(", _v(written, "VARCHAR[]"), f", trim({quote_ident(column)}))"),
                          description=f"missing values written as {', '.join(repr(t) for t in written)} in the "
                                      "source, read as null")
                   for column, written in zip(columns, found) if written]
    return checks


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


def _gaps(table: str, p: TemporalProfile, period: tuple[str, float]) -> _Check:
    """The periods without a value between the primary time column's first and last value,
    counted as temporal_enrichment counts them (buckets of its period from the minimum)."""
    kind, size = period
    col = quote_ident(p.column)
    lo = _v(p.min, "TIMESTAMP")
    if kind == "m":
        bucket = _q("floor(((year(v) * 12 + month(v)) - (year(", lo, ") * 12 + month(", lo, "))) / ",
                    _v(size, "DOUBLE"), ")")
        start = _q("date_trunc('month', ", lo, ") + to_months(CAST(bucket * ", _v(size, "DOUBLE"), " AS INTEGER))")
    else:
        bucket = _q("floor((epoch(v) - epoch(", lo, ")) / ", _v(size, "DOUBLE"), ")")
        start = _q(lo, " + to_microseconds(CAST(bucket * ", _v(size * 1e6, "DOUBLE"), " AS BIGINT))")
    query = _q(f"WITH v AS (SELECT DISTINCT CAST({col} AS TIMESTAMP) AS v FROM {quote_ident(table)} "
               f"WHERE {col} IS NOT NULL), b AS (SELECT DISTINCT ", bucket, " AS bucket FROM v), "
               "e AS (SELECT range AS bucket FROM range(0, CAST((SELECT max(bucket) FROM b) AS BIGINT) + 1)) "
               "SELECT ", start, " AS missing_period_start FROM e ANTI JOIN b USING (bucket)")
    how = f"every {p.cadence}" if p.regular else f"irregular: counted in periods of {p.period}"
    return _Check(check="temporal_gap", rule_type="temporal_gap", table=table, columns=(p.column,),
                  severity="warning" if p.regular else "info", unit="periods", table_rows=False,
                  query=query, total=p.expected_periods,
                  description=f"periods of {p.period} without a value between {p.min} and {p.max} ({how})",
                  evidence=(f"{p.gap_count} gap(s), the largest {p.largest_gap_periods} period(s) "
                            f"(temporal_enrichment)",))


# --- running the checks --------------------------------------------------------------------


def _views(con: duckdb.DuckDBPyConnection, ws: Workspace, types: TypeResolutionResult) -> None:
    """The typed tables under their names (with their row numbers) and `quarantine_<table>`,
    as `Workspace.sql` shows them, so that the reproducing SQL runs here as it runs there."""
    for name, t in types.tables.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * FROM "
                    f"read_parquet({quote_literal(str(ws.path(t.path)))}, file_row_number = true)")
        if t.quarantine_path:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident('quarantine_' + name)} AS SELECT * FROM "
                        f"read_parquet({quote_literal(str(ws.path(t.quarantine_path)))})")


def _example_struct(c: _Check, data: _Data) -> str:
    columns = dict.fromkeys([*data.key(c.table), *c.columns])
    fields = [f"{quote_ident('_row')} := {_ROW} + 1", *(f"{quote_ident(x)} := {quote_ident(x)}" for x in columns)]
    return f"struct_pack({', '.join(fields)})"


def _run(con: duckdb.DuckDBPyConnection, checks: list[_Check], k: int, data: _Data) -> list[QualityResult]:
    """The predicate checks, one aggregate pass per relation; alone when the pass fails."""
    out: list[QualityResult] = []
    by_relation: dict[str | None, list[_Check]] = {}
    for c in checks:
        by_relation.setdefault(c.relation, []).append(c)
    for relation, group in by_relation.items():
        try:
            out += _aggregate(con, relation, group, k, data)
        except duckdb.Error:
            for c in group:
                try:
                    out += _aggregate(con, relation, [c], k, data)
                except duckdb.Error as exc:
                    out.append(_result(c, None, None, (), error=_error(exc)))
    return out


def _aggregate(con: duckdb.DuckDBPyConnection, relation: str | None, checks: list[_Check], k: int,
               data: _Data) -> list[QualityResult]:
    parts: list[str | _Sql] = ["SELECT count(*)"]
    for c in checks:
        parts += [", count(*) FILTER (WHERE ", c.predicate, f"), arg_min({_example_struct(c, data)}, {_ROW}, "
                  f"{max(k, 1)}) FILTER (WHERE ", c.predicate, ")"]
    parts.append(f" FROM {relation or quote_ident(checks[0].table)}")
    sql = _q(*parts)
    row = con.execute(sql.text, list(sql.params)).fetchone()
    total = row[0]
    out = []
    for i, c in enumerate(checks):
        failing, examples = row[1 + 2 * i], row[2 + 2 * i] or []
        out.append(_result(c, failing, total, [_json_safe(e) for e in examples[:k]]))
    return out


def _run_query(con: duckdb.DuckDBPyConnection, c: _Check, k: int, data: _Data) -> QualityResult:
    sql = c.sql()
    order = f"f.{_ROW}" if c.table_rows else "f"
    try:
        if c.failing is not None:
            rows = con.execute(f"SELECT f FROM ({sql.text}) AS f ORDER BY {order} LIMIT {max(k, 1)}",
                               list(sql.params)).fetchall()
            failing = c.failing
            examples = [r[0] for r in rows]
        else:
            rows = con.execute(f"SELECT count(*) OVER (), f FROM ({sql.text}) AS f ORDER BY {order} LIMIT {max(k, 1)}",
                               list(sql.params)).fetchall()
            failing = rows[0][0] if rows else 0
            examples = [r[1] for r in rows]
        total = c.total
        if isinstance(total, _Sql):
            total = con.execute(total.text, list(total.params)).fetchone()[0]
    except duckdb.Error as exc:
        return _result(c, None, None, (), error=_error(exc))
    return _result(c, failing, total, [_example(c, e, data) for e in examples[:k]])


def _example(c: _Check, row: dict[str, Any], data: _Data) -> dict[str, Any]:
    """A failing row as JSON-safe values: for rows of the table, its row number, key and the
    checked columns."""
    if not c.table_rows:
        return _json_safe(row)
    keep = [*data.key(c.table), *c.columns, *c.extra]
    out: dict[str, Any] = {"_row": row[_ROW] + 1} if row.get(_ROW) is not None else {}
    out |= {name: row[name] for name in dict.fromkeys(keep) if name in row}
    return _json_safe(out)


def _error(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[:1]
    return f"{type(exc).__name__}: {first[0] if first else ''}"


def _result(c: _Check, failing: int | None, total: int | None, examples: Sequence[dict[str, Any]],
            error: str | None = None) -> QualityResult:
    sql = c.sql()
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


# --- the score -----------------------------------------------------------------------------


def _table_quality(name: str, results: list[QualityResult]) -> TableQuality:
    """The table's checks, failures first (most severe, widest), and its score: the product of
    (1 - severity weight x failing share) over the checks that did not pass."""
    ran = [r for r in results if r.error is None and r.total_rows]
    score = round(math.prod(1 - SEVERITY_WEIGHTS[r.severity] * min(1.0, r.failing_share or 0.0)
                            for r in ran if not r.passed), 4) if ran else None
    ordered = sorted(results, key=lambda r: (r.passed, r.error is not None, -SEVERITY_WEIGHTS[r.severity],
                                             -(r.failing_share or 0.0), r.check, r.columns))
    return TableQuality(name=name, score=score, checks=len(results),
                        failed=sum(1 for r in results if not r.passed and r.error is None),
                        errors=sum(1 for r in results if r.error is not None), results=tuple(ordered))
