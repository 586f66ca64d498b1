"""Providers that answer through one tool call of an LLM: the prompt, the cache, and the
validation shared by every such provider.

A subclass says only how to make one call (`complete`). `enrich` renders the batch into a
prompt, returns a cached answer when one is fresh, else calls the model, validates its tool
input against `BatchAnswer` and the batch (`check_answer`), asks once more with the validation
error when it does not fit, and fails with `LLMError` when the second answer does not fit
either. Only valid answers are cached.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
import functools
from typing import Any

from pydantic import ValidationError

from dataraum_context import settings
from dataraum_context.llm.cache import ResponseCache
from dataraum_context.llm.protocol import Batch, BatchAnswer, ColumnFacts, Enrichment, LLMError, TableFacts, check_answer
from dataraum_context.models import Frozen

TOOL_NAME = "describe_tables"
TOOL_DESCRIPTION = "Record what every given table and column means."
SYSTEM = """You describe the tables of a data set for analysts and AI agents writing SQL.
Answer by calling the tool describe_tables exactly once, with every table and every column given.

Column roles:
- key: identifies a row of its own table (usually the table's grain)
- foreign_key: refers to a row of another table (or another row of the same table); also a
  column of a composite key that refers to another table (the key membership is kept apart)
- measure: a number to sum or average (amounts, quantities, durations, scores)
- dimension: a category or code to group or filter by (statuses, types, flags, countries, sizes, priorities)
- timestamp: a date or time, whatever it marks (an order, a birth, an opening)
- attribute: anything else that describes a row (names, free text, addresses, identifiers that are no key)
An integer is not a measure when it is a code, a position (a line number) or an identifier.

Table entity types: fact (events with measures, referencing dimensions), event (things that
happened, without measures), dimension (the things facts refer to), bridge (links two tables
many to many), reference (a small code list).

business_term: the name of one of the listed ontology concepts when one fits, else null; give
term_confidence (0..1). unit: currency (or an ISO code), percent, kg, days, ... or null.
pii: true for personal data. Descriptions are one sentence each.
Sample values were redacted before they reached you: <email>, <phone>, <name> and <personal>
stand for personal data. List under relationships only joins that are not among the measured
references."""


class ToolCall(Frozen):
    """The tool input a model answered with, and what the call cost."""

    id: str
    input: dict[str, Any]
    input_tokens: int = 0
    output_tokens: int = 0


class ToolRequest(Frozen):
    system: str
    prompt: str
    tool_name: str
    tool_description: str
    input_schema: dict[str, Any]
    rejected: ToolCall | None = None  # an earlier answer that did not fit ...
    error: str | None = None  # ... and why


class ToolUseProvider(Frozen):
    """Base of the LLM providers: subclasses implement `complete`."""

    name: str
    model: str
    max_concurrency: int = settings.LLM_MAX_CONCURRENCY
    batch_columns: int | None = settings.LLM_BATCH_COLUMNS

    @property
    def label(self) -> str:
        return f"{self.name} ({self.model})"

    @abstractmethod
    def complete(self, request: ToolRequest) -> ToolCall:
        """One tool call of the model, retried on rate limits, server errors and timeouts;
        `LLMError` with the provider's message when it cannot be had."""

    def enrich(self, batch: Batch, cache: ResponseCache) -> Enrichment:
        request = ToolRequest(system=SYSTEM, prompt=render_prompt(batch), tool_name=TOOL_NAME,
                              tool_description=TOOL_DESCRIPTION, input_schema=answer_schema())
        key = cache.key(self.name, self.model, request.system + "\n\n" + request.prompt, request.input_schema)
        hit = cache.get(key)
        if hit is not None:
            try:
                answer = BatchAnswer.model_validate(hit["answer"])
                check_answer(answer, batch)
                return Enrichment(answer=answer, usage={"cache_hits": 1})
            except (KeyError, ValidationError, ValueError):
                pass  # an entry written by another version: ask again
        usage: Counter[str] = Counter()
        call = self._counted(request, usage)
        try:
            answer = _validated(call, batch)
        except ValueError as first:
            usage["invalid_answers"] += 1
            call = self._counted(request.model_copy(update={"rejected": call, "error": str(first)}), usage)
            try:
                answer = _validated(call, batch)
            except ValueError as second:
                raise LLMError(f"{self.label}: the answer did not fit the schema, twice (the second "
                               f"time after being told why): {second}") from None
        cache.put(key, {"provider": self.name, "model": self.model,
                        "answer": answer.model_dump(mode="json"), "usage": dict(usage)})
        return Enrichment(answer=answer, usage=dict(usage))

    def _counted(self, request: ToolRequest, usage: Counter[str]) -> ToolCall:
        call = self.complete(request)
        usage["requests"] += 1
        usage["input_tokens"] += call.input_tokens
        usage["output_tokens"] += call.output_tokens
        return call


def _validated(call: ToolCall, batch: Batch) -> BatchAnswer:
    """The answer, or ValueError saying what is wrong with it (for the model to fix)."""
    try:
        answer = BatchAnswer.model_validate(call.input)
    except ValidationError as exc:
        raise ValueError("; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                                   for e in exc.errors()[:20])) from None
    check_answer(answer, batch)
    return answer


@functools.cache
def answer_schema() -> dict[str, Any]:
    """The JSON schema of `BatchAnswer` with its definitions inlined (no `$ref`)."""
    schema = BatchAnswer.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


# --- the prompt ----------------------------------------------------------------------------


def render_prompt(batch: Batch) -> str:
    measured = ("Foreign keys were measured on the values (listed as 'references')." if batch.measured
                else "Foreign keys were not measured: judge references by name and values.")
    lines = [f"Ontology {batch.ontology}; its concepts: {', '.join(batch.concepts)}.", measured, ""]
    for table in batch.tables:
        lines += _table_lines(table)
    lines.append(f"Call {TOOL_NAME} with all {sum(len(t.columns) for t in batch.tables)} columns of the "
                 f"{len(batch.tables)} table(s) above.")
    return "\n".join(lines)


def _table_lines(table: TableFacts) -> list[str]:
    facts = [f"{table.row_count:,} rows"]
    if table.key_columns:
        facts.append(f"key {', '.join(table.key_columns)}")
    if table.topology_role:
        facts.append(f"role by its joins: {table.topology_role}")
    if table.referenced_by:
        facts.append(f"referenced by {', '.join(table.referenced_by)}")
    lines = [f"## table {table.name}: {'; '.join(facts)}"]
    if table.other_columns:
        lines.append(f"(a wide table: its other columns, described in another request: "
                     f"{', '.join(table.other_columns)})")
    lines += [_column_line(c) for c in table.columns]
    return lines + [""]


def _column_line(c: ColumnFacts) -> str:
    parts = [f"- {c.name} {c.data_type}", f"nulls {c.null_ratio:.0%}",
             f"{c.distinct_count:,} distinct" + (" (unique)" if c.uniqueness >= 0.999 else "")]
    if c.min is not None:
        parts.append(f"range {c.min} .. {c.max}")
    if c.mean is not None:
        parts.append(f"mean {c.mean:.4g}")
    if c.references:
        parts.append(f"references {c.references}")
    if c.candidates:
        parts.append("concepts " + ", ".join(f"{k.concept} {k.score:.2f}" for k in c.candidates))
    if c.pii:
        parts.append(f"personal data ({c.pii})")
    if c.samples:
        parts.append("samples " + ", ".join(_short(v) for v in c.samples))
    return "; ".join(parts)


def _short(value: str, limit: int = 60) -> str:
    text = " ".join(value.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
