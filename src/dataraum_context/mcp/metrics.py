"""Ontology metrics bound to real columns as SQL.

A metric's formula is arithmetic over concepts and other metrics (`ontology.Metric`). A concept
stands for the column whose business term it is in the context (what semantic enrichment or an
annotation said). A metric binds in each table that has a column for every concept it needs,
and is then one SELECT over that table; where no table has them all, it is not applicable, and
the reason says which concept is missing or where the concepts are. A bare concept outside an
aggregate is aggregated as its `temporal_behavior` says (additive: summed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dataraum_context.models import ContextDocument, TableContext
from dataraum_context.ontology import Metric, Ontology
from dataraum_context.ontology.loading import FORMULA_TOKEN
from dataraum_context.ontology.models import TemporalBehavior
from dataraum_context.sql import quote_ident

_AGGREGATES = frozenset({"sum", "avg", "min", "max", "count", "count_distinct"})
# how a bare concept adds up: summed when additive, averaged when summing means nothing
_AGGREGATE_BY_BEHAVIOR = {
    TemporalBehavior.ADDITIVE: "SUM",
    TemporalBehavior.SEMI_ADDITIVE: "AVG",
    TemporalBehavior.NON_ADDITIVE: "AVG",
    TemporalBehavior.POINT_IN_TIME: "MAX",
}
_DEFAULT_AGGREGATE = "SUM"


@dataclass(frozen=True)
class MetricBinding:
    """A metric over one table's columns, with its SQL; or (table None) why it binds nowhere."""

    metric: Metric
    table: str | None
    columns: dict[str, str]  # concept -> column
    sql: str | None
    reason: str | None = None  # why the metric is not applicable


def bind_metrics(doc: ContextDocument, ontology: Ontology) -> list[MetricBinding]:
    """Every metric of the ontology: one binding per table holding all its concepts, or one
    that says why it is not applicable."""
    out = []
    for metric in ontology.metrics:
        bound = [b for t in doc.tables if (b := _bind(metric, ontology, t)) is not None]
        out += bound or [MetricBinding(metric, None, {}, None, _not_bound(metric, doc))]
    return out


def _terms(table: TableContext) -> dict[str, str]:
    """Business term -> the first column carrying it."""
    terms: dict[str, str] = {}
    for col in table.columns:
        if col.business_term:
            terms.setdefault(col.business_term, col.name)
    return terms


def _bind(metric: Metric, ontology: Ontology, table: TableContext) -> MetricBinding | None:
    terms = _terms(table)
    if not all(c in terms for c in metric.required_concepts):
        return None
    columns = {c: terms[c] for c in metric.required_concepts}
    expression = metric_expression(metric, ontology, columns)
    sql = f"SELECT {expression} AS {quote_ident(metric.name)} FROM {quote_ident(table.name)}"
    return MetricBinding(metric, table.name, columns, sql)


def _not_bound(metric: Metric, doc: ContextDocument) -> str:
    where = {c: [f"{t.name}.{col}" for t in doc.tables for term, col in _terms(t).items() if term == c]
             for c in metric.required_concepts}
    missing = [c for c, found in where.items() if not found]
    if missing:
        return f"no column has the business term {' or '.join(missing)}"
    listed = "; ".join(f"{c}: {', '.join(found)}" for c, found in where.items())
    return f"{', '.join(where)} are not in one table ({listed})"


def metric_expression(metric: Metric, ontology: Ontology, columns: Mapping[str, str]) -> str:
    """The formula as a DuckDB expression over `columns` (concept -> column): metrics it names
    expanded, COUNT_DISTINCT(x) as COUNT(DISTINCT x), bare concepts aggregated."""
    metrics = {m.name: m for m in ontology.metrics}
    behavior = {c.name: c.temporal_behavior for c in ontology.concepts}

    def expand(formula: str) -> str:
        tokens = _tokens(formula)
        out: list[str] = []
        in_aggregate: list[bool] = []  # per open parenthesis: whether it opened an aggregate
        call_opened = False  # the last token was a function name, written with its "("
        for i, token in enumerate(tokens):
            calls = _is_name(token) and i + 1 < len(tokens) and tokens[i + 1] == "("
            if call_opened:
                call_opened = False
                continue
            if token == "(":
                in_aggregate.append(False)
                out.append("(")
            elif token == ")":
                in_aggregate.pop()
                out.append(")")
            elif calls:
                function = token.lower()
                in_aggregate.append(function in _AGGREGATES)
                out.append("COUNT(DISTINCT " if function == "count_distinct" else f"{function.upper()}(")
                call_opened = True
            elif token in metrics:
                out.append(f"({expand(metrics[token].formula)})")
            elif token in columns:
                column = quote_ident(columns[token])
                aggregate = _AGGREGATE_BY_BEHAVIOR.get(behavior.get(token), _DEFAULT_AGGREGATE)  # type: ignore[arg-type]
                out.append(column if any(in_aggregate) else f"{aggregate}({column})")
            else:
                out.append(token)
        return _joined(out)

    return expand(metric.formula)


def _tokens(formula: str) -> list[str]:
    """Numbers, names and operators (the ontology checked the formula when it loaded)."""
    tokens, pos, text = [], 0, formula.rstrip()
    while pos < len(text):
        m = FORMULA_TOKEN.match(text, pos)
        if m is None:  # not reached: the ontology's loader refuses such a formula
            raise ValueError(f"formula {formula!r}: unexpected text at position {pos}")
        tokens.append(m.group().strip())
        pos = m.end()
    return tokens


def _is_name(token: str) -> bool:
    return token[0].isalpha() or token[0] == "_"


def _joined(parts: list[str]) -> str:
    """SQL pieces with a space between them, none inside parentheses or before a comma."""
    text = ""
    for part in parts:
        tight = not text or text.endswith(("(", " ")) or part in (")", ",")
        text += part if tight else f" {part}"
    return text
