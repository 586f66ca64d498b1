"""The context cut to a token budget, and the context of some of the tables.

What an agent needs first comes first: how the tables join, their keys and the roles of their
columns, their quality issues and time coverage; per-column detail (statistics, values,
descriptions, every check with its SQL) only after that. So a budget fills in two passes, the
tables ordered by relevance (the most connected first, then the most issues, the most time
columns): first each table with its columns' types and roles, then each with its full detail,
as long as the text stays within the budget (planned from what each table adds alone, checked
on the whole text, cut back until it fits). A table is in or out whole, never cut mid-table;
what was left out is said in the text itself (`ContextDocument.budget`).

Tokens are counted with a real tokenizer where one is installed: `bpe-openai` (the extra
`dataraum-context[tokens]`; OpenAI's o200k_base, its files inside the package, so it works
offline), else `tiktoken` if it can load o200k_base (it downloads the file on first use),
else estimated as one token per 3 bytes of UTF-8, which is above what o200k_base counts for
the Markdown, JSON and YAML of a context (about 3.1, 4.1 and 3.3 characters per token). Other
models' tokenizers differ by some per cent: leave a margin.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dataraum_context.errors import ConfigError
from dataraum_context.models import (
    ColumnContext,
    ContextBudget,
    ContextDocument,
    KeyAgreement,
    QualityAssessmentResult,
    QualitySummary,
    RelationshipRef,
    TableContext,
)
from dataraum_context.quality.score import overall_score

ENCODING = "o200k_base"
BYTES_PER_TOKEN = 3  # the estimate without a tokenizer (see the module's docstring)


@dataclass(frozen=True)
class TokenCounter:
    name: str  # said in the context's header
    count: Callable[[str], int]


ESTIMATE = TokenCounter(f"estimated: 1 token per {BYTES_PER_TOKEN} bytes of UTF-8",
                        lambda text: math.ceil(len(text.encode()) / BYTES_PER_TOKEN))


@functools.cache
def token_counter() -> TokenCounter:
    """The first tokenizer that works here, else the estimate."""
    for load in (_bpe_openai, _tiktoken):
        try:
            return load()
        except Exception:  # noqa: BLE001 (not installed, or tiktoken cannot fetch its file offline)
            continue
    return ESTIMATE


def _bpe_openai() -> TokenCounter:
    with warnings.catch_warnings():  # it reads its files with a deprecated importlib.resources call
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding(ENCODING)
        encoding.encode_ordinary("loaded")  # (its files are read on first use)

    def count(text: str) -> int:
        # it encodes at most 200,000 tokens a call (a character is at most 4 tokens); a token
        # may span a cut, so each cut counts one more
        pieces = _pieces(text, _PIECE)
        return sum(len(encoding.encode_ordinary(p)) for p in pieces) + len(pieces) - 1

    return TokenCounter(f"bpe-openai {ENCODING}", count)


_PIECE = 50_000


def _pieces(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, cut after a line break where there is one."""
    pieces = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size) + 1 or size
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


def _tiktoken() -> TokenCounter:
    import tiktoken

    encoding = tiktoken.get_encoding(ENCODING)
    return TokenCounter(f"tiktoken {ENCODING}", lambda text: len(encoding.encode_ordinary(text)))


def fit(doc: ContextDocument, render: Callable[[ContextDocument], str], max_tokens: int,
        counter: TokenCounter | None = None) -> str:
    """`doc` rendered within `max_tokens` (as `counter` counts, by default `token_counter()`):
    the most relevant tables first, each whole. A ConfigError when not even the context
    without tables fits."""
    counter = counter or token_counter()
    order = relevance_order(doc)

    def rendered(brief: Sequence[str], full: Sequence[str]) -> tuple[str, int]:
        """The text with those tables (`brief`: without their detail), and its tokens."""
        shown = {*brief, *full}
        budget = ContextBudget(max_tokens=max_tokens, counter=counter.name,
                               tables_left_out=tuple(n for n in order if n not in shown),
                               tables_without_statistics=tuple(n for n in order if n in brief))
        cut = _briefly(of_tables(doc, [n for n in order if n in shown]), brief)
        text = render(cut.model_copy(update={"budget": budget}))
        return text, counter.count(text)

    text, tokens = rendered((), order)  # everything, when it fits
    if tokens <= max_tokens:
        return text
    text, base = rendered((), ())
    if base > max_tokens:
        raise ConfigError(f"max_tokens {max_tokens:,} is too small: the context without any table takes "
                          f"{base:,} tokens ({counter.name})")
    # what each table adds, measured alone: a plan from these sums, then checked on the whole
    # text (a relationship, say, is only shown with both its tables), so rendering the whole
    # document a few times rather than twice per table
    brief_cost = {n: rendered([n], ())[1] - base for n in order}
    detail_cost = {n: rendered((), [n])[1] - base - brief_cost[n] for n in order}
    plan: list[tuple[str, int]] = []  # (table, level 1: facts, 2: detail), the most useful first
    used = base
    for name in order:
        if used + brief_cost[name] <= max_tokens:
            plan.append((name, 1))
            used += brief_cost[name]
    for name in [n for n, _ in plan]:
        if used + detail_cost[name] <= max_tokens:
            plan.append((name, 2))
            used += detail_cost[name]

    def planned(steps: list[tuple[str, int]]) -> tuple[str, int]:
        full = [n for n, level in steps if level == 2]
        return rendered([n for n, _ in steps if n not in full], full)

    undone: list[tuple[str, int]] = []
    text, tokens = planned(plan)
    while tokens > max_tokens:  # undo the least useful steps until the overshoot is made up
        over = tokens - max_tokens
        while plan and over > 0:
            undone.insert(0, plan.pop())
            over -= (brief_cost if undone[0][1] == 1 else detail_cost)[undone[0][0]]
        text, tokens = planned(plan)
    for step in undone:  # then each step undone again, the most useful first, if it fits
        if step[1] == 1 or (step[0], 1) in plan:
            candidate, tokens = planned([*plan, step])
            if tokens <= max_tokens:
                text, plan = candidate, [*plan, step]
    return text


def relevance_order(doc: ContextDocument) -> list[str]:
    """The tables' names, the most relevant to an agent first: the most relationships, then
    the most quality issues, then the most time columns; else in the document's order."""
    links: Counter[str] = Counter()
    for r in doc.relationships:
        links.update({r.from_table, r.to_table})
    return [t.name for t in sorted(doc.tables, key=lambda t: (
        -links[t.name], -(t.quality.failed if t.quality else 0), -len(t.temporal)))]


def of_tables(doc: ContextDocument, names: Iterable[str]) -> ContextDocument:
    """The context of these tables only, in this order: their relationships, join paths,
    dependencies, key agreement, quality and warnings, without the others'."""
    names = list(names)
    keep = set(names)
    by_name = {t.name: t for t in doc.tables}
    if keep == by_name.keys():
        return doc.model_copy(update={"tables": tuple(by_name[n] for n in names)})

    def within(*tables: str) -> bool:
        return keep.issuperset(tables)

    return doc.model_copy(update={
        "tables": tuple(by_name[n] for n in names),
        "relationships": tuple(r for r in doc.relationships if within(r.from_table, r.to_table)),
        "proposed_relationships": tuple(r for r in doc.proposed_relationships
                                        if within(r.from_table, r.to_table)),
        "join_paths": tuple(p for p in doc.join_paths
                            if within(p.from_table, *(s.right_table for s in p.steps))),
        "dependency_groups": tuple(g for g in doc.dependency_groups if within(*g.tables)),
        "key_agreement": _agreement_within(doc.key_agreement, keep),
        "quality": _quality_within(doc, keep),
        "warnings": tuple(w for w in doc.warnings if _about(w, by_name) in keep | {None}),
    })


def _about(warning: str, tables: Iterable[str]) -> str | None:
    """The table a warning is about (`orders.amount: ...`, `orders: ...`), the longest name that
    fits; None for a warning about no one table."""
    return max((t for t in tables if warning.startswith((f"{t}.", f"{t}:"))), key=len, default=None)


def _agreement_within(a: KeyAgreement | None, keep: set[str]) -> KeyAgreement | None:
    if a is None:
        return None

    def within(refs: tuple[RelationshipRef, ...]) -> tuple[RelationshipRef, ...]:
        return tuple(r for r in refs if r.from_table in keep and r.to_table in keep)

    cut = a.model_copy(update={"confirmed": within(a.confirmed), "not_found": within(a.not_found),
                               "undeclared": within(a.undeclared)})
    if not (cut.confirmed or cut.not_found or cut.undeclared):
        return None
    # the summary counts every table's keys: kept only when none was left out
    return cut if cut == a else cut.model_copy(update={"summary": ""})


def _quality_within(doc: ContextDocument, keep: set[str]) -> QualitySummary | None:
    """The quality summary of the kept tables, from their own checks."""
    q = doc.quality
    if q is None:
        return None
    tables = [t for t in doc.tables if t.name in keep and t.quality is not None]
    assessed = QualityAssessmentResult(
        tables={t.name: t.quality for t in tables if t.quality is not None},
        score=overall_score((t.row_count, t.quality.score) for t in tables if t.quality is not None),
        binding=q.binding, ontology=q.ontology,
        not_applicable=tuple(n for n in q.not_applicable if n.table is None or n.table in keep))
    return assessed.summary()


def _briefly(doc: ContextDocument, names: Iterable[str]) -> ContextDocument:
    """The document with these tables' per-column detail left out: columns keep name, type,
    role, business term, unit and PII; a table's quality keeps its score and counts."""
    brief = set(names)
    return doc.model_copy(update={"tables": tuple(_brief_table(t) if t.name in brief else t
                                                  for t in doc.tables)})


def _brief_table(t: TableContext) -> TableContext:
    return t.model_copy(update={
        "columns": tuple(ColumnContext(name=c.name, data_type=c.data_type, semantic_role=c.semantic_role,
                                       key_member=c.key_member, business_term=c.business_term, pii=c.pii,
                                       unit=c.unit) for c in t.columns),
        "quality": t.quality.model_copy(update={"results": ()}) if t.quality else None,
    })
