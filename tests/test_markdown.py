"""Markdown from the data stays text: names, values and descriptions holding `|`, line breaks,
`#`, backticks or other markup neither split a table cell nor start a heading, a list or a link.
A real Markdown parser (markdown-it-py, CommonMark with GitHub's tables) reads what is written."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from dataraum_context.delivery.markdown import code, text
from dataraum_context.models import (
    ColumnContext,
    ColumnStatistics,
    ContextDocument,
    JoinPath,
    JoinStep,
    Relationship,
    TableContext,
    ValueFrequency,
)

PARSER = MarkdownIt("commonmark").enable("table")

# Markdown's own characters often, anything else (no surrogates) as well
texts = st.text(st.one_of(st.sampled_from(list("|#`*_[]<>-+=.1)!&~\\ \t\n\r")),
                          st.characters(exclude_categories=("Cs",))), min_size=1, max_size=24)


def shown(value: str) -> str:
    """What a reader should see: the text on one line (NUL is U+FFFD to every CommonMark parser)."""
    return " ".join(value.replace("\0", "\ufffd").split())


def plain(inline: Token) -> str:
    """An inline token's text, asserting that it holds nothing but text."""
    children = inline.children or []
    assert all(c.type == "text" for c in children), [(c.type, c.content) for c in children]
    return "".join(c.content for c in children)


@given(texts)
@settings(max_examples=300)
def test_text_is_one_cell_or_one_paragraph_of_text(value):
    tokens = PARSER.parse(f"| a | b |\n|---|---|\n| {text(value)} | x |\n")
    cells = [t for t in tokens if t.type == "td_open"]
    assert len(cells) == 2
    assert plain(tokens[tokens.index(cells[0]) + 1]) == shown(value)
    if shown(value):
        paragraph = PARSER.parse(text(value) + "\n")
        assert [t.type for t in paragraph] == ["paragraph_open", "inline", "paragraph_close"]
        assert plain(paragraph[1]) == shown(value)


@given(texts)
def test_code_is_one_code_span(value):
    (inline,) = [t for t in PARSER.parse(f"- see {code(value)} here\n") if t.type == "inline"]
    spans = [c for c in inline.children if c.type == "code_inline"]
    assert len(spans) == 1 and " ".join(spans[0].content.split()) == shown(value)


def _document(table: str, columns: list[str], values: list[str], description: str, warning: str) -> ContextDocument:
    def column(name: str) -> ColumnContext:
        stats = ColumnStatistics(
            name=name, data_type="VARCHAR", count=len(values), null_count=0, null_ratio=0.0,
            distinct_count=len(values), distinct_approximate=False, uniqueness=1.0,
            top_values=tuple(ValueFrequency(value=v, count=1) for v in values))
        return ColumnContext(name=name, data_type="VARCHAR", null_ratio=0.0, distinct_count=len(values),
                             business_term=name, statistics=stats)

    step = JoinStep(left_table=table, left_columns=(columns[0],), right_table=table, right_columns=(columns[-1],))
    return ContextDocument(
        pipeline="default", generated_at=datetime(2026, 1, 1), ontology=table,
        tables=(TableContext(name=table, row_count=3, columns=tuple(column(c) for c in columns),
                             description=description),),
        relationships=(Relationship(from_table=table, from_columns=(columns[0],), to_table=table,
                                    to_columns=(columns[-1],), source="discovered"),),
        join_paths=(JoinPath(from_table=table, to_table=table, steps=(step,),
                             sql=f'FROM "{table}" JOIN "{columns[-1]}"'),),
        warnings=(warning,))


@given(table=texts, columns=st.lists(texts, min_size=1, max_size=4), values=st.lists(texts, min_size=1, max_size=3),
       description=texts, warning=texts)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_the_context_keeps_its_structure_whatever_the_names_and_values(table, columns, values, description, warning):
    doc = _document(table, columns, values, description, warning)
    tokens = PARSER.parse(doc.to_markdown())
    inlines = {i: t for i, t in enumerate(tokens) if t.type == "inline"}

    # our headings and no other
    headings = [plain(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert len(headings) == 5, headings
    assert headings[0].startswith("Data context (1 tables; pipeline default; ontology ")
    assert headings[1:] == ["Join paths", f"{shown(table)} (3 rows)".strip(), "Relationships", "Warnings"]

    # one table: a header and a row per column, six cells each, the names as written
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows) == 1 + len(columns)
    assert sum(t.type == "table_open" for t in tokens) == 1
    for r, start in enumerate(rows):
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "tr_close")
        cells = [inlines[i] for i in range(start, end) if i in inlines]
        assert len(cells) == 6
        if r:
            assert plain(cells[0]) == shown(columns[r - 1])
            assert plain(cells[4]) == shown(columns[r - 1])  # the business term
            assert all(shown(v)[:21] in plain(cells[5]) for v in values)

    # the description is one paragraph of text, the warning one list item
    texts_ = [plain(t) for t in inlines.values() if all(c.type == "text" for c in t.children or [])]
    assert shown(description) in texts_ or not shown(description)
    assert shown(warning) in texts_ or not shown(warning)
    # the join path's SQL is one code span
    spans = [c for t in inlines.values() for c in t.children or [] if c.type == "code_inline"]
    assert len(spans) == 1 and spans[0].content.startswith("FROM")
