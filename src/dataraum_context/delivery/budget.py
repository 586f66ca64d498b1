"""The context cut to a token budget, and the context of some of the tables.

What an agent needs first comes first: how the tables join, their keys and the roles of their
columns, their quality issues and time coverage; per-column detail (statistics, values,
descriptions, every check with its SQL) only after that. So a budget fills in two passes, the
tables ordered by relevance (the most connected first, then the most issues, the most time
columns): first each table with its columns' types and roles, then each with its full detail,
as long as the text stays within the budget. A table is in or out whole, never cut mid-table;
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
    return TokenCounter(f"bpe-openai {ENCODING}", lambda text: len(encoding.encode_ordinary(text)))


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

    best, tokens = rendered((), order)  # everything, when it fits
    if tokens <= max_tokens:
        return best
    best, tokens = rendered((), ())
    if tokens > max_tokens:
        raise ConfigError(f"max_tokens {max_tokens:,} is too small: the context without any table takes "
                          f"{tokens:,} tokens ({counter.name})")
    brief: list[str] = []
    for name in order:  # each table with its columns' types and roles, while it fits
        text, tokens = rendered([*brief, name], ())
        if tokens <= max_tokens:
            best, brief = text, [*brief, name]
    full: list[str] = []
    for name in brief:  # then with its detail, the most relevant first
        text, tokens = rendered([n for n in brief if n != name and n not in full], [*full, name])
        if tokens <= max_tokens:
            best, full = text, [*full, name]
    return best


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
