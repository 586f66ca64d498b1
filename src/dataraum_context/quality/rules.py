"""The ontology's quality rules compiled to checks: one compiler per rule type, registered
with the rule type it compiles (adding a rule type is adding one function).

A per-column compiler (`@per_column`) runs once on every column a rule's `applies_to` binds;
a per-table compiler (`@per_table`) runs once in every table that has a column for each
concept the rule names together (the columns of `unique`, the placeholders and `group_by`
of `cross_column`). The other concepts a rule names (`group_by`, `order_by`) take the
best-bound column of the same table; `references` may be in any table and prefers a key.
A compiler returns the check, or the reason the rule does not apply there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from dataraum_context.models import InapplicableRule, TemporalResult
from dataraum_context.ontology import Ontology, QualityRule
from dataraum_context.ontology.models import RULE_PARAMETERS, RuleType
from dataraum_context.quality.bindings import Bindings, Bound
from dataraum_context.quality.checks import Check
from dataraum_context.quality.expressions import (
    PLACEHOLDER,
    aggregate_calls,
    placeholder_concepts,
    top_level_equals,
)
from dataraum_context.quality.generic import duplicate_rows, orphan_rows
from dataraum_context.quality.tables import Tables
from dataraum_context.sql import Family, Sql, bound, concat, family, is_number, is_point_in_time, quote_ident

_GRAIN_STEPS = {"minute": "1 minute", "hour": "1 hour", "day": "1 day", "week": "7 days",
                "month": "1 month", "quarter": "3 months", "year": "1 year"}


@dataclass(frozen=True)
class At:
    """A rule at one place: its parameters, the check so far (table, columns, evidence), the
    columns its concepts are bound to there, and what every compiler may look up."""

    rule: QualityRule
    params: Any  # the rule type's parameter model (ontology.models.RULE_PARAMETERS)
    check: Check
    bound: dict[str, Bound]  # concept -> its column; a per-column rule: that column
    bindings: Bindings
    reference: datetime  # what freshness is measured against

    @property
    def column(self) -> Bound:
        """The column a per-column rule checks."""
        return next(iter(self.bound.values()))

    @property
    def tables(self) -> Tables:
        return self.bindings.tables

    def compiled(self, **update: Any) -> Check:
        return self.check.model_copy(update=update)


@dataclass(frozen=True)
class Compiler:
    compile: Callable[[At], Check | str]
    together: Callable[[QualityRule, Any], list[str]] | None = None  # per-table: the concepts bound in one table


COMPILERS: dict[RuleType, Compiler] = {}


def per_column(rule_type: RuleType) -> Callable[[Callable[[At], Check | str]], Callable[[At], Check | str]]:
    def register(fn: Callable[[At], Check | str]) -> Callable[[At], Check | str]:
        COMPILERS[rule_type] = Compiler(fn)
        return fn
    return register


def per_table(rule_type: RuleType, together: Callable[[QualityRule, Any], list[str]]
              ) -> Callable[[Callable[[At], Check | str]], Callable[[At], Check | str]]:
    def register(fn: Callable[[At], Check | str]) -> Callable[[At], Check | str]:
        COMPILERS[rule_type] = Compiler(fn, together)
        return fn
    return register


# --- compiling every rule ------------------------------------------------------------------


def compile_rules(ontology: Ontology, tables: Tables, reference: datetime
                  ) -> tuple[list[Check], list[InapplicableRule]]:
    """The checks of the ontology's rules, and the rules (or places) with nothing to check."""
    if not ontology.quality_rules:
        return [], []
    bindings = Bindings(ontology, tables)
    checks: list[Check] = []
    skipped: list[InapplicableRule] = []
    for rule in ontology.quality_rules:
        params = RULE_PARAMETERS[rule.rule_type].model_validate(rule.parameters)
        origin = ontology.origins.get("quality_rules", {}).get(rule.name)
        base = Check(check=rule.name, rule_type=rule.rule_type.value, table="", severity=rule.severity.value,
                     source="ontology", ontology_file=origin, description=rule.description,
                     threshold=params.threshold)
        for table, out in _places(rule, params, base, bindings, reference):
            if isinstance(out, Check):
                checks.append(out)
            else:
                skipped.append(InapplicableRule(rule=rule.name, rule_type=rule.rule_type.value,
                                                ontology_file=origin, table=table, reason=out))
    return checks, skipped


def _places(rule: QualityRule, params: Any, base: Check, bindings: Bindings, reference: datetime
            ) -> list[tuple[str | None, Check | str]]:
    """The rule compiled at every place it binds to: (table, the check or why not)."""
    compiler = COMPILERS[rule.rule_type]
    if compiler.together is None:  # every column an entry binds, each once
        targets = {(b.table, b.column): b for e in rule.applies_to for b in bindings.targets(e)}
        places = [{b.column: b} for b in targets.values()]
        if not places:
            return [(None, bindings.unbound(rule.applies_to))]
    else:  # every table with a column for each concept
        concepts = list(dict.fromkeys(compiler.together(rule, params)))
        in_tables = (_bound_in(bindings, t, concepts) for t in bindings.tables.tables)
        places = [found for found in in_tables if len(found) == len(concepts)]
        if not places:
            return [(None, bindings.not_together(concepts))]
    out: list[tuple[str | None, Check | str]] = []
    for place in places:
        first = next(iter(place.values()))
        check = base.model_copy(update={"table": first.table,
                                        "columns": tuple(dict.fromkeys(b.column for b in place.values())),
                                        "evidence": tuple(b.how for b in place.values())})
        out.append((first.table, compiler.compile(At(rule, params, check, place, bindings, reference))))
    return out


def _bound_in(bindings: Bindings, table: str, concepts: list[str]) -> dict[str, Bound]:
    """The concepts bound to a column of `table`, with that column."""
    return {c: b for c in concepts if (b := bindings.best_in(table, c)) is not None}


# --- the compilers -------------------------------------------------------------------------


@per_column(RuleType.NOT_NULL)
def _not_null(at: At) -> Check | str:
    return at.compiled(predicate=Sql(text=f"{quote_ident(at.column.column)} IS NULL"))


@per_column(RuleType.RANGE)
def _range(at: At) -> Check | str:
    if (reason := _needs(at, is_number, "a numeric column")) is not None:
        return reason
    x = f"CAST({quote_ident(at.column.column)} AS DOUBLE)"
    below, above = ("<", ">") if at.params.inclusive else ("<=", ">=")
    low = concat(f"{x} {below} ", bound(at.params.min, "DOUBLE")) if at.params.min is not None else Sql(text="false")
    high = concat(f"{x} {above} ", bound(at.params.max, "DOUBLE")) if at.params.max is not None else Sql(text="false")
    return at.compiled(predicate=concat("(", low, " OR ", high, ")"))


@per_column(RuleType.ALLOWED_VALUES)
def _allowed_values(at: At) -> Check | str:
    return at.compiled(predicate=concat(f"{quote_ident(at.column.column)} IS NOT NULL AND NOT ", _contains(at)))


@per_column(RuleType.DISALLOWED_VALUES)
def _disallowed_values(at: At) -> Check | str:
    return at.compiled(predicate=_contains(at))


@per_column(RuleType.REGEX)
def _regex(at: At) -> Check | str:
    col = quote_ident(at.column.column)
    return at.compiled(predicate=concat(f"{col} IS NOT NULL AND NOT regexp_full_match(CAST({col} AS VARCHAR), ",
                                        bound(at.params.pattern, "VARCHAR"), ")"))


@per_column(RuleType.FRESHNESS)
def _freshness(at: At) -> Check | str:
    """Stale when the latest value is older than `max_age_hours` before the reference."""
    if (reason := _needs(at, is_point_in_time, "a date or timestamp column")) is not None:
        return reason
    b, hours = at.column, at.params.max_age_hours
    cutoff = at.reference - timedelta(hours=hours)
    col = quote_ident(b.column)
    return at.compiled(
        unit="columns", total=1, table_rows=False,
        query=concat(f"SELECT max({col}) AS latest, ", bound(cutoff, "TIMESTAMP"), " AS cutoff FROM ",
                     quote_ident(b.table), f" HAVING max(CAST({col} AS TIMESTAMP)) < ", bound(cutoff, "TIMESTAMP")),
        evidence=(*at.check.evidence, (f"stale when the latest value is before {cutoff:%Y-%m-%d %H:%M} "
                                       f"({hours:g} hours before {at.reference:%Y-%m-%d %H:%M})")))


@per_column(RuleType.REFERENTIAL_INTEGRITY)
def _referential_integrity(at: At) -> Check | str:
    """Values missing from another column bound to `references`, a key if there is one."""
    b = at.column
    others = [r for r in at.bindings.targets(at.params.references) if (r.table, r.column) != (b.table, b.column)]
    if not others:
        return f"no other column is bound to {at.params.references}"
    target = next((r for r in others if (r.column,) in at.tables.keys[r.table]), others[0])
    orphans = orphan_rows(at.check, at.tables, target.table, (target.column,))
    return orphans.model_copy(update={"evidence": (*at.check.evidence, target.how)})


@per_column(RuleType.TEMPORAL_COMPLETENESS)
def _temporal_completeness(at: At) -> Check | str:
    """Periods of `grain` with no row, between each group's first and last period."""
    groups = _group_by(at)
    if isinstance(groups, str):
        return groups
    if (reason := _needs(at, is_point_in_time, "a date or timestamp column")) is not None:
        return reason
    b, grain = at.column, at.params.grain.value
    col = quote_ident(b.column)
    g = [quote_ident(x.column) for x in groups]
    keys = "".join(f"{x}, " for x in g)
    by = f" GROUP BY {', '.join(g)}" if g else ""
    on = " AND ".join([*(f"e.{x} IS NOT DISTINCT FROM p.{x}" for x in g), "e.period = p.period"])
    ctes = concat(f"WITH p AS (SELECT DISTINCT {keys}date_trunc(", bound(grain, "VARCHAR"),
                  f", CAST({col} AS TIMESTAMP)) AS period FROM {quote_ident(b.table)} WHERE {col} IS NOT NULL), "
                  f"e AS (SELECT {keys}unnest(generate_series(min(period), max(period), ",
                  bound(_GRAIN_STEPS[grain], "INTERVAL"), f")) AS period FROM p{by}) ")
    return at.compiled(unit="periods", table_rows=False, query=concat(ctes, f"SELECT e.* FROM e ANTI JOIN p ON {on}"),
                       total=concat(ctes, "SELECT count(*) FROM e"),
                       evidence=(*at.check.evidence, *(x.how for x in groups)),
                       columns=(b.column, *(x.column for x in groups)))


@per_column(RuleType.MONOTONIC)
def _monotonic(at: At) -> Check | str:
    """Rows whose value is below (`strict`: not above) the previous one in `order_by` order
    within their `group_by` group."""
    groups = _group_by(at)
    if isinstance(groups, str):
        return groups
    b = at.column
    order = at.bindings.best_in(b.table, at.params.order_by)
    if order is None:
        return f"{at.params.order_by} (order_by) not bound in {b.table}"
    col, o = quote_ident(b.column), quote_ident(order.column)
    previous = quote_ident(f"previous_{b.column}")
    partition = f"PARTITION BY {', '.join(quote_ident(g.column) for g in groups)} " if groups else ""
    present = f"{col} IS NOT NULL AND {o} IS NOT NULL"
    return at.compiled(
        extra=(f"previous_{b.column}",),
        query=Sql(text=f"SELECT * FROM (SELECT *, lag({col}) OVER ({partition}ORDER BY {o}, {col}) AS {previous} "
                       f"FROM {quote_ident(b.table)} WHERE {present}) "
                       f"WHERE {col} {'<=' if at.params.strict else '<'} {previous}"),
        total=Sql(text=f"SELECT count(*) FROM {quote_ident(b.table)} WHERE {present}"),
        evidence=(*at.check.evidence, *(g.how for g in groups), order.how),
        columns=(b.column, order.column, *(g.column for g in groups)))


@per_table(RuleType.UNIQUE, together=lambda rule, params: list(rule.applies_to))
def _unique(at: At) -> Check | str:
    return duplicate_rows(at.check, at.tables, at.check.columns)


@per_table(RuleType.CROSS_COLUMN,
           together=lambda rule, params: [*placeholder_concepts(rule.expression), *params.group_by])
def _cross_column(at: At) -> Check | str:
    """Row by row: the rows where the expression is false. With `group_by` or aggregates: the
    groups (one group: the table) where it is false."""
    expression = at.rule.expression or ""
    calls = aggregate_calls(expression)
    group_by = at.params.group_by
    table = quote_ident(at.check.table)
    groups = [quote_ident(at.bound[g].column) for g in group_by]

    def substitute(text: str, offset: int, wrap: bool) -> str:
        def one(m: re.Match[str]) -> str:
            name, _, attr = m.group(1).partition(".")
            if attr == "table":
                return table
            ident = quote_ident(at.bound[name].column)
            inside = any(s <= offset + m.start() < e for s, e in calls)
            return f"any_value({ident})" if wrap and name not in group_by and not inside else ident
        return PLACEHOLDER.sub(one, text)

    sql = Sql(text=substitute(expression, 0, wrap=bool(calls)))
    evidence = list(at.check.evidence)
    equals = top_level_equals(sql.text)
    if at.params.tolerance:
        if equals is not None:
            sql = concat(f"abs(({sql.text[:equals]}) - ({sql.text[equals + 1:]})) <= ",
                         bound(at.params.tolerance, "DOUBLE"))
        else:
            evidence.append(f"tolerance {at.params.tolerance:g} not applied: the expression is not of the form a = b")
    if not (group_by or calls):
        return at.compiled(predicate=concat("NOT (", sql, ")"), evidence=tuple(evidence))
    if calls:
        # each aggregate as a column, named as written without the braces: "SUM(debit)"
        named = [(substitute(expression[s:e], s, wrap=True), PLACEHOLDER.sub(lambda m: m.group(1), expression[s:e]))
                 for s, e in calls]
        outputs = Sql(text=", ".join([f"count(*) AS {quote_ident('rows')}",
                                      *(f"{text} AS {quote_ident(name)}" for text, name in named)]))
        having = concat("NOT (", sql, ")")
    else:  # a row-level expression per group: a group fails when any of its rows does
        outputs = concat(f"count(*) AS {quote_ident('rows')}, count(*) FILTER (WHERE NOT (", sql,
                         f")) AS {quote_ident('failing_rows')}")
        having = concat("NOT bool_and(", sql, ")")
    keys = "".join(f"{g}, " for g in groups)
    by = f" GROUP BY {', '.join(groups)}" if groups else ""
    total: int | Sql = Sql(text=f"SELECT count(*) FROM (SELECT 1 FROM {table}{by})") if groups else 1
    return at.compiled(unit="groups", query=concat(f"SELECT {keys}", outputs, f" FROM {table}{by} HAVING ", having),
                       total=total, table_rows=False, evidence=tuple(evidence))


# --- what several compilers share ----------------------------------------------------------


def _needs(at: At, fits: Callable[[str], bool], what: str) -> str | None:
    """Why the rule does not apply to a column of the wrong type family."""
    b = at.column
    if fits(at.tables.dtype(b.table, b.column)):
        return None
    return f"{at.rule.rule_type.value} needs {what}: {b.table}.{b.column} is {at.tables.dtype(b.table, b.column)}"


def _group_by(at: At) -> tuple[Bound, ...] | str:
    """The `group_by` concepts' columns in the rule's table, or which are not bound there."""
    b = at.column
    found = [at.bindings.best_in(b.table, g) for g in at.params.group_by]
    missing = [g for g, x in zip(at.params.group_by, found, strict=True) if x is None]
    if missing:
        return f"{', '.join(missing)} (group_by) not bound in {b.table}"
    return tuple(x for x in found if x is not None)


def _contains(at: At) -> Sql:
    """Whether the value is among the rule's `values`: numbers compared as numbers, text
    without case unless `case_sensitive`, other types cast to the column's type."""
    b = at.column
    col, dtype = quote_ident(b.column), at.tables.dtype(b.table, b.column)
    values: Sequence[Any] = at.params.values
    texts = bound([str(v).lower() if isinstance(v, bool) else str(v) for v in values], "VARCHAR[]")
    if is_number(dtype):
        return concat("list_contains(list_transform(", texts, ", lambda v: TRY_CAST(v AS DOUBLE)), ",
                      f"CAST({col} AS DOUBLE))")
    if family(dtype) is Family.TEXT and at.params.case_sensitive:
        return concat("list_contains(", texts, f", {col})")
    if family(dtype) is Family.TEXT:
        return concat("list_contains(list_transform(", texts, f", lambda v: lower(v)), lower({col}))")
    return concat("list_contains(list_transform(", texts, f", lambda v: TRY_CAST(v AS {dtype})), {col})")


def reference_time(temporal: TemporalResult | None) -> datetime:
    """What freshness is measured against: the configured `reference_date`, else now (UTC)."""
    if temporal is not None and temporal.reference_source == "config" and temporal.reference_date is not None:
        ref = temporal.reference_date
        if isinstance(ref, datetime):
            return ref.astimezone(UTC).replace(tzinfo=None) if ref.tzinfo else ref
        return datetime.combine(ref, time())
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
