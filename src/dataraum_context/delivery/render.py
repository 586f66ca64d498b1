"""The context document as JSON, YAML, and compact Markdown meant for an LLM prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from dataraum_context.delivery.formats import OutputFormat
from dataraum_context.delivery.markdown import code
from dataraum_context.delivery.markdown import text as md
from dataraum_context.joins import columns_label

if TYPE_CHECKING:
    from dataraum_context.models import (
        ColumnContext,
        ContextBudget,
        ContextDocument,
        ContextSection,
        JoinPath,
        KeyAgreement,
        QualityResult,
        QualitySummary,
        Relationship,
        RelationshipRef,
        TableContext,
        TemporalProfile,
    )


def to_json(doc: ContextDocument, indent: int | None = 2) -> str:
    return doc.model_dump_json(indent=indent)


def to_yaml(doc: ContextDocument) -> str:
    return yaml.safe_dump(doc.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def to_markdown(doc: ContextDocument) -> str:
    # every text from the data or the configuration goes through `md` (or `code`): a name or a
    # value must not split a table cell, start a heading or open a link
    ontology = f"; ontology {md(doc.ontology)}" if doc.ontology else ""
    semantics = f"; semantics by {md(doc.semantic_provider)}" if doc.semantic_provider else ""
    lines = [f"# Data context ({len(doc.tables)} tables; pipeline {md(doc.pipeline)}{ontology}, "
             f"{doc.generated_at:%Y-%m-%d %H:%M} UTC{semantics})", ""]
    if doc.budget is not None:
        lines += [md(budget_note(doc.budget)), ""]
    lines += _join_paths(doc.join_paths)
    lines += _time_coverage(doc.tables)
    lines += _quality(doc.quality)
    brief = set(doc.budget.tables_without_statistics) if doc.budget else set()
    for table in doc.tables:
        lines += _table(table, detail=table.name not in brief)
    if doc.relationships or doc.key_agreement:
        lines += ["## Relationships", ""]
        if doc.key_agreement:
            lines += [_key_agreement(doc.key_agreement), ""]
        lines += [f"- {_relationship(r)}" for r in doc.relationships]
        lines.append("")
    if doc.proposed_relationships:
        lines += ["## Proposed relationships (not measured)", ""]
        lines += [f"- {_relationship(r)}{': ' + md('; '.join(r.evidence)) if r.evidence else ''}"
                  for r in doc.proposed_relationships]
        lines.append("")
    if doc.dependency_groups:
        lines += ["## Linear dependencies", ""]
        lines += [f"- {md(g.equation)} (R² {g.r2:.3f}; tables {md(', '.join(g.tables))}"
                  f"{''.join('; ' + md(e) for e in g.evidence)})"
                  for g in doc.dependency_groups]
        lines.append("")
    for section in doc.sections:
        lines += _section(section)
    if doc.warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {md(w)}" for w in doc.warnings]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def budget_note(b: ContextBudget) -> str:
    """Says, as plain text, that (and how) the context was cut to fit a token budget."""
    text = f"Cut to fit {b.max_tokens:,} tokens ({b.counter})"
    if b.tables_left_out:
        text += f"; tables left out: {', '.join(b.tables_left_out)}"
    if b.tables_without_statistics:
        text += f"; without column statistics: {', '.join(b.tables_without_statistics)}"
    return text + "."


def _section(section: ContextSection) -> list[str]:
    """A step package's section: its title, summary, facts and table, every text escaped."""
    lines = [f"## {md(section.title)}", ""]
    if section.summary:
        lines += [md(section.summary), ""]
    if section.facts:
        lines += [*(f"- {md(fact)}" for fact in section.facts), ""]
    if section.table:
        header, *rows = section.table
        lines += ["| " + " | ".join(md(c) for c in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
        lines.append("")
    return lines


def _table(table: TableContext, detail: bool = True) -> list[str]:
    """A table's section; with `detail` false, its columns with type and role only."""
    facts = [f"{table.row_count:,} rows"]
    if table.quarantined_values:
        facts.append(f"{table.quarantined_values:,} value{'s' if table.quarantined_values > 1 else ''} quarantined")
    if table.rejected_rows:
        facts.append(f"{table.rejected_rows:,} malformed row{'s' if table.rejected_rows > 1 else ''} quarantined")
    lines = [f"## {md(table.name)} ({'; '.join(facts)})", ""]
    if table.description:
        lines += [md(table.description), ""]
    elif table.role:
        key = f", key {md(', '.join(table.key_columns))}" if table.key_columns else ""
        lines += [f"A {md(table.role)} table{key}.", ""]
    if table.quality is not None and table.quality.score is not None:
        q = table.quality
        lines += [f"Quality {q.score:.2f}: {q.failed} of {q.checks} checks not passed"
                  f"{f', {q.errors} could not run' if q.errors else ''}.", ""]
    if not detail:
        lines += ["| column | type | role |", "|---|---|---|"]
        lines += [f"| {md(col.name)} | {md(_type(col))} | {md(_role(col))} |" for col in table.columns]
        return [*lines, ""]
    lines += [f"| {' | '.join(COLUMN_HEADERS)} |", "|---" * len(COLUMN_HEADERS) + "|"]
    for col in table.columns:
        name, type_, nulls, distinct, role, values = column_cells(col)
        lines.append("| " + " | ".join([md(name), md(type_), nulls, distinct, md(role), md(values)]) + " |")
    lines.append("")
    if any(col.statistics and col.statistics.distinct_approximate for col in table.columns):
        lines += ["~ an estimated distinct count (HyperLogLog, within a few per cent); a column that may be "
                  "unique is always counted exactly.", ""]
    return lines


COLUMN_HEADERS = ("column", "type", "nulls", "distinct", "role", "values")
TIME_HEADERS = ("column", "granularity", "range", "cadence", "completeness", "gaps", "freshness", "trends")


def column_cells(col: ColumnContext) -> list[str]:
    """A column's row under COLUMN_HEADERS, as plain text (each format escapes it)."""
    return [col.name, _type(col), _percent(col.null_ratio), _distinct(col), _role(col), _values(col)]


def time_cells(table: str, p: TemporalProfile) -> list[str]:
    """A time column's row under TIME_HEADERS, as plain text (each format escapes it)."""
    return [
        f"{table}.{p.column}" + (" (primary)" if p.primary else ""),
        p.granularity or "",
        f"{p.min} .. {p.max}",
        _cadence(p),
        f"{p.completeness:.0%} of {_count(p.expected_periods, p.period)}"
        if p.completeness is not None and p.period else "",
        (f"{p.gap_count:,}, largest {_count(p.largest_gap_periods, p.period)}" if p.gap_count else "none"),
        _freshness(p),
        _trends(p),
    ]


def _type(col: ColumnContext) -> str:
    return col.data_type + (f" ({col.unit})" if col.unit else "")


def _role(col: ColumnContext) -> str:
    """`measure: amount`, `attribute: email, PII`, `foreign_key (key member)`."""
    text = col.semantic_role or ""
    if col.key_member and text != "key":
        text += " (key member)"
    extra = [x for x in (col.business_term, "PII" if col.pii else None) if x]
    return f"{text}: {', '.join(extra)}" if extra and text else ", ".join(extra) or text


def _percent(ratio: float | None) -> str:
    if ratio is None:
        return ""
    if ratio == 0:
        return "0%"
    return f"{ratio:.1%}" if ratio >= 0.001 else "<0.1%"


def _distinct(col: ColumnContext) -> str:
    if col.distinct_count is None:
        return ""
    stats = col.statistics
    text = f"{'~' if stats and stats.distinct_approximate else ''}{col.distinct_count:,}"
    if stats and stats.uniqueness == 1 and stats.count - stats.null_count > 1:
        text += " unique"
    return text


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _values(col: ColumnContext) -> str:
    s = col.statistics
    if s is None:
        return col.type_format or ""
    non_null = s.count - s.null_count
    if non_null == 0:
        return "all null"
    if s.top_values and s.distinct_count <= 8:
        return ", ".join(f"{_short(v.value)} {v.count / non_null:.0%}" for v in s.top_values)
    parts = []
    if s.min is not None and s.max is not None:
        parts.append(f"{_short(s.min)} .. {_short(s.max)}")
    if s.mean is not None and s.mean == s.mean:
        parts.append(f"mean {_short(s.mean)}")
    if s.max_length is not None and s.min is None:
        parts.append(f"length {s.min_length}..{s.max_length}")
    if col.type_format and col.type_format not in ("source", "text"):
        parts.append(col.type_format)
    return "; ".join(parts)


def _relationship(r: Relationship) -> str:
    facts = [r.source]
    if r.cardinality:
        facts.append(r.cardinality)
    if r.confidence is not None:
        facts.append(f"confidence {r.confidence:.2f}")
    return f"{_link(r)} ({md(', '.join(facts))})"


def _link(r: Relationship | RelationshipRef) -> str:
    """`orders.customer_id -> customers.id`; `a.(x, y) -> b.(x, y)` for a composite key."""
    return f"{md(columns_label(r.from_table, r.from_columns))} -> {md(columns_label(r.to_table, r.to_columns))}"


def _key_agreement(a: KeyAgreement) -> str:
    """One line: how the foreign keys a source declares agree with the values."""
    # a context of some of the tables lists their keys only: the summary counted all of them
    parts = [f"Declared keys: {md(a.summary)}." if a.summary else "Declared keys among these tables."]
    for title, refs in (("With orphans", [r for r in a.confirmed if r.note]), ("Not found", a.not_found),
                        ("Not declared", a.undeclared)):
        if refs:
            listed = "; ".join(_link(r) + (f" ({md(r.note)})" if r.note else "") for r in refs)
            parts.append(f"{title}: {listed}.")
    return " ".join(parts)


def _join_paths(paths: tuple[JoinPath, ...]) -> list[str]:
    if not paths:
        return []
    lines = ["## Join paths", ""]
    for path in paths:
        chain = " -> ".join(md(t) for t in [path.from_table, *(s.right_table for s in path.steps)])
        lines.append(f"- {chain}: {code(path.sql)}")
    return [*lines, ""]


def _time_coverage(tables: tuple[TableContext, ...]) -> list[str]:
    rows = [(t.name, p) for t in tables for p in t.temporal]
    if not rows:
        return []
    lines = ["## Time coverage", "", f"| {' | '.join(TIME_HEADERS)} |", "|---" * len(TIME_HEADERS) + "|"]
    lines += ["| " + " | ".join(md(cell) for cell in time_cells(table, p)) + " |" for table, p in rows]
    return [*lines, ""]


def _count(n: int, period: str | None) -> str:
    """`3 weeks`, `1 week`, `4 x 7 days`."""
    if period is None:
        return f"{n:,}"
    if " " in period:
        return f"{n:,} x {period}"
    return f"{n:,} {period}{'' if n == 1 else 's'}"


def _freshness(p: TemporalProfile) -> str:
    if p.freshness_days is None:
        return ""
    lag = p.freshness_days
    return f"{lag:,.4g} days behind {p.reference_date}" if lag >= 0 else f"{-lag:,.4g} days past {p.reference_date}"


def _cadence(p: TemporalProfile) -> str:
    if p.cadence is None:
        return ""
    if p.regular:
        return f"every {p.cadence}"
    return f"irregular (median {p.cadence_seconds / 86400:.3g} days)" if p.cadence_seconds else "irregular"


def _trends(p: TemporalProfile) -> str:
    parts = []
    for t in p.trends:
        text = f"{t.measure} {t.direction}"
        if t.direction != "flat" and t.relative_change is not None:
            text += f" ({t.relative_change:+.0%} over {_count(t.points, t.period)})"
        for h in t.seasonality:
            text += f", {h.cycle} peak {h.peak}"
        parts.append(text)
    return "; ".join(parts)


def _quality(q: QualitySummary | None) -> list[str]:
    """The score and the worst issues, each with its SQL: what an agent should know before
    trusting a number."""
    if q is None:
        return []
    failed = sum(q.failed.values())
    by = ", ".join(f"{q.failed[s]} {s}{'s' if q.failed[s] > 1 and s != 'info' else ''}"
                   for s in ("error", "warning", "info") if q.failed.get(s))
    score = f"score {q.score:.2f}; " if q.score is not None else ""
    lines = [f"## Quality ({score}{q.checks} checks, {failed} not passed{': ' + by if by else ''}; "
             f"rules bound by {md(q.binding.replace('_', ' '))})", ""]
    lines += [f"- {_issue(r)}" for r in q.top_issues]
    lines += [f"- could not run: {md(r.table)} {md(r.check)}: {md(r.error)}" for r in q.could_not_run]
    if q.not_applicable:
        names = ", ".join(dict.fromkeys(n.rule for n in q.not_applicable))
        lines.append(f"- not applicable (nothing to check): {md(names)}")
    return [*lines, ""]


def _issue(r: QualityResult) -> str:
    where = f"{r.table}.{', '.join(r.columns)}" if r.columns else r.table
    share = f" ({r.failing_share:.1%})" if r.failing_share is not None else ""
    text = (f"**{md(r.severity)}** {md(where)}: {md(r.check)}: {r.failing_rows:,} of {r.total_rows:,} {md(r.unit)}"
            f"{share}{' - ' + md(r.description) if r.description else ''}")
    if r.examples:
        text += "; e.g. " + md("; ".join(", ".join(f"{k}={_short(v)}" for k, v in e.items()) for e in r.examples))
    if r.severity == "info":  # kept short for a prompt; every issue's SQL is in the JSON
        return text
    params = f" with parameters {md(list(r.parameters))}" if r.parameters else ""
    return text + f". {code(r.sql)}{params}"


JSON = OutputFormat(render=to_json, extensions=(".json",), description="the whole document as JSON")
MARKDOWN = OutputFormat(render=to_markdown, extensions=(".md", ".markdown"),
                        description="compact Markdown for an LLM prompt (the default)")
YAML = OutputFormat(render=to_yaml, extensions=(".yaml", ".yml"), description="the whole document as YAML")
