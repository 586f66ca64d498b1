"""The context within a token budget, of some tables, from a filled workspace (`dc.context`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import dataraum_context as dc
from dataraum_context.delivery import budget
from dataraum_context.delivery.budget import ESTIMATE, fit, of_tables, relevance_order, token_counter
from dataraum_context.delivery.formats import output_format
from dataraum_context.errors import ConfigError, DataraumError
from dataraum_context.models import (
    ColumnContext,
    ColumnStatistics,
    ContextDocument,
    JoinPath,
    JoinStep,
    QualityAssessmentResult,
    QualityResult,
    Relationship,
    TableContext,
    TemporalProfile,
    ValueFrequency,
)
from dataraum_context.quality.score import table_quality

# names as a hostile source may write them: Markdown, HTML, YAML and JSON syntax, line breaks
_NAME = st.text(st.sampled_from("abcxyz_|*#<>`'\"&:-\n é中"), min_size=1, max_size=8)


@st.composite
def documents(draw: st.DrawFn) -> ContextDocument:
    names = draw(st.lists(_NAME, min_size=1, max_size=6, unique=True))
    tables, results = [], {}
    for name in names:
        columns = draw(st.lists(_NAME, min_size=1, max_size=6, unique=True))
        rows = draw(st.integers(1, 10**6))
        checks = [QualityResult(check=draw(_NAME), rule_type="null_ratio", table=name, columns=(column,),
                                severity=draw(st.sampled_from(["error", "warning", "info"])), source="generic",
                                passed=draw(st.booleans()), failing_rows=3, total_rows=rows,
                                description=draw(_NAME), sql=f'SELECT * FROM "{name}"')
                  for column in columns[: draw(st.integers(0, 2))]]
        results[name] = table_quality(name, checks)
        tables.append(TableContext(
            name=name, row_count=rows, quality=results[name], role=draw(st.sampled_from([None, "fact", "dimension"])),
            key_columns=columns[:1], description=draw(st.none() | _NAME),
            temporal=tuple(TemporalProfile(column=c, data_type="DATE", min="2024-01-01", max="2024-12-31",
                                           primary=i == 0)
                           for i, c in enumerate(columns[1: 1 + draw(st.integers(0, 1))])),
            columns=tuple(ColumnContext(
                name=c, data_type="VARCHAR", null_ratio=0.1, distinct_count=5, semantic_role="dimension",
                business_term=draw(st.none() | _NAME), description=draw(_NAME),
                statistics=ColumnStatistics(name=c, data_type="VARCHAR", count=rows, null_count=1, null_ratio=0.1,
                                            distinct_count=5, distinct_approximate=False, uniqueness=0.5,
                                            top_values=tuple(ValueFrequency(value=draw(_NAME), count=2)
                                                             for _ in range(draw(st.integers(0, 3))))))
                for c in columns)))
    links = draw(st.lists(st.tuples(st.sampled_from(tables), st.sampled_from(tables)), max_size=6))
    relationships = tuple(Relationship(from_table=a.name, from_columns=(a.columns[-1].name,), to_table=b.name,
                                       to_columns=(b.columns[0].name,), source="discovered", confidence=0.9)
                          for a, b in links if a is not b)
    paths = tuple(JoinPath(from_table=r.from_table, to_table=r.to_table, sql=f"FROM {r.from_table} JOIN {r.to_table}",
                           steps=(JoinStep(left_table=r.from_table, left_columns=r.from_columns,
                                           right_table=r.to_table, right_columns=r.to_columns),))
                  for r in relationships)
    quality = QualityAssessmentResult(tables=results, score=0.9, binding="semantic_enrichment").summary()
    warnings = tuple(f"{t.name}.{t.columns[0].name}: {draw(_NAME)}" for t in tables if draw(st.booleans()))
    return ContextDocument(pipeline="default", generated_at=datetime(2026, 12, 7, tzinfo=UTC), tables=tuple(tables),
                           relationships=relationships, join_paths=paths, quality=quality, warnings=warnings)


def _parsed(text: str, fmt: str) -> dict:
    return json.loads(text) if fmt == "json" else yaml.safe_load(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), max_tokens=st.integers(50, 4000), fmt=st.sampled_from(["json", "yaml"]))
def test_the_budget_is_met_and_every_table_is_whole_or_absent(doc: ContextDocument, max_tokens: int, fmt: str):
    render = output_format(fmt).render
    try:
        text = fit(doc, render, max_tokens)
    except ConfigError as exc:  # too small for the context without tables: said, never exceeded
        assert int(re.search(r"takes ([\d,]+) tokens", str(exc))[1].replace(",", "")) > max_tokens
        return
    assert token_counter().count(text) <= max_tokens
    out = _parsed(text, fmt)
    shown = [t["name"] for t in out["tables"]]
    assert shown == [n for n in relevance_order(doc) if n not in out["budget"]["tables_left_out"]]
    brief = set(out["budget"]["tables_without_statistics"])
    for table in out["tables"]:
        original = doc.table(table["name"])
        assert [c["name"] for c in table["columns"]] == [c.name for c in original.columns]  # every column
        if table["name"] in brief:
            assert all(c["statistics"] is None and c["semantic_role"] for c in table["columns"])
        else:
            assert table == _parsed(render(doc.model_copy(update={"tables": (original,)})), fmt)["tables"][0]
    # nothing about a table left out: its relationships, join paths and warnings went with it
    kept = set(shown)
    assert all({r["from_table"], r["to_table"]} <= kept for r in out["relationships"])
    assert all(p["from_table"] in kept and p["to_table"] in kept for p in out["join_paths"])
    assert all(i["table"] in kept for i in out["quality"]["top_issues"])
    # a warning is about the table whose name it starts with, the longest of them all (names may
    # hold dots: `a.b.c: ...` is about table `a.b`, also when only `a` is shown)
    names = [t.name for t in doc.tables]
    assert len(out["warnings"]) == sum(1 for w in doc.warnings if budget._about(w, names) in kept)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), max_tokens=st.integers(100, 3000))
def test_markdown_within_the_budget_shows_every_column_of_each_table_it_shows(doc: ContextDocument,
                                                                               max_tokens: int):
    try:
        text = fit(doc, output_format("markdown").render, max_tokens, counter=ESTIMATE)
    except ConfigError:
        return
    assert ESTIMATE.count(text) <= max_tokens
    tokens = MarkdownIt().enable("table").parse(text)
    headings = [tokens[i + 1].children for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    titles = ["".join(c.content for c in children or ()) for children in headings]
    sections = [title for title in titles if title.split(" (")[0] in {t.name for t in doc.tables}]
    bodies = [i for i, t in enumerate(tokens) if t.type == "tbody_open"]
    rows = [sum(1 for t in tokens[i:next(j for j in range(i, len(tokens)) if tokens[j].type == "tbody_close")]
                if t.type == "tr_open") for i in bodies]
    for title in sections:
        name = title.split(" (")[0]
        assert len(doc.table(name).columns) in rows, f"{name}: a table of its columns, whole"


def test_the_estimate_is_bytes_over_three():
    assert ESTIMATE.count("abc") == 1 and ESTIMATE.count("abcd") == 2 and ESTIMATE.count("中") == 1
    assert "3 bytes" in ESTIMATE.name


def test_a_real_tokenizer_counts_when_installed():
    pytest.importorskip("bpe_openai")  # the `tokens` extra, in `dev`
    assert token_counter().name == "bpe-openai o200k_base"
    assert token_counter().count("hello world") == 2


def test_without_a_tokenizer_the_estimate_is_said(monkeypatch):
    def missing():
        raise ImportError("not installed")

    monkeypatch.setattr(budget, "_bpe_openai", missing)
    monkeypatch.setattr(budget, "_tiktoken", missing)
    budget.token_counter.cache_clear()
    try:
        assert budget.token_counter() is ESTIMATE
    finally:
        budget.token_counter.cache_clear()


def test_relevance_puts_the_most_connected_table_first():
    doc = _doc(["lonely", "dim", "fact"], [("fact", "dim")])
    assert relevance_order(doc) == ["dim", "fact", "lonely"]


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_what_two_tables_share_counts_too(fmt: str):
    """Relationships show only with both their tables: measured one table at a time they cost
    nothing, so a plan from those costs overshoots; the text is cut until it fits, and what
    was undone is tried again: one table fits, and is shown."""
    doc = _doc(["a", "b"], [("a", "b")] * 40)
    render = output_format(fmt).render
    alone = [token_counter().count(render(of_tables(doc, [n]))) for n in ("a", "b")]
    both = token_counter().count(render(doc))
    max_tokens = (both + max(alone)) // 2
    text = fit(doc, render, max_tokens)
    assert token_counter().count(text) <= max_tokens
    if fmt == "json":
        assert json.loads(text)["budget"]["tables_left_out"] == ["b"]
    else:
        assert "tables left out: b." in text and "\n## a (1 rows)" in text


def test_of_tables_keeps_their_relationships_only():
    doc = _doc(["a", "b", "c"], [("a", "b"), ("b", "c")])
    cut = of_tables(doc, ["a", "b"])
    assert [t.name for t in cut.tables] == ["a", "b"]
    assert [(r.from_table, r.to_table) for r in cut.relationships] == [("a", "b")]


def _doc(names: list[str], links: list[tuple[str, str]]) -> ContextDocument:
    return ContextDocument(
        pipeline="p", generated_at=datetime(2026, 1, 1, tzinfo=UTC),
        tables=tuple(TableContext(name=n, row_count=1, columns=(ColumnContext(name="id", data_type="BIGINT"),))
                     for n in names),
        relationships=tuple(Relationship(from_table=a, from_columns=("id",), to_table=b, to_columns=("id",),
                                         source="discovered") for a, b in links))


# --- dc.context on a workspace a pipeline filled ----------------------------------------------------


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dataraum_context.sample import shop_dir

    workspace = tmp_path_factory.mktemp("ws")
    assert dc.run("default", sources=[str(shop_dir())], workspace=workspace).succeeded
    return workspace


def test_context_of_a_workspace_in_each_format(filled: Path):
    text = dc.context(filled)
    assert text.startswith("# Data context (4 tables") and "## order_items (" in text
    assert {t["name"] for t in json.loads(dc.context(filled, format="json"))["tables"]} == {
        "customers", "products", "orders", "order_items"}
    assert yaml.safe_load(dc.context(filled, tables=["orders"], format="yaml"))["tables"][0]["name"] == "orders"


def test_context_of_some_tables_keeps_what_is_between_them(filled: Path):
    doc = json.loads(dc.context(filled, tables=["orders", "customers"], format="json"))
    assert [t["name"] for t in doc["tables"]] == ["orders", "customers"]
    assert [(r["from_table"], r["to_table"]) for r in doc["relationships"]] == [("orders", "customers")]
    assert all(i["table"] in ("orders", "customers") for i in doc["quality"]["top_issues"])
    assert not any(w.startswith("products") for w in doc["warnings"])


def test_context_names_an_unknown_table_and_the_known_ones(filled: Path):
    with pytest.raises(DataraumError, match=r"no table 'invoices' in the context \(its tables: customers, "
                                            r"order_items, orders, products\)"):
        dc.context(filled, tables=["orders", "invoices"])


def test_context_within_a_budget(filled: Path):
    whole = token_counter().count(dc.context(filled))
    text = dc.context(filled, max_tokens=whole // 2)
    assert token_counter().count(text) <= whole // 2
    assert f"Cut to fit {whole // 2:,} tokens ({token_counter().name}); tables left out: " in text
    assert "## Join paths" in text  # the most useful facts stay
    with pytest.raises(DataraumError, match="max_tokens 20 is too small: the context without any table takes"):
        dc.context(filled, max_tokens=20)
    with pytest.raises(DataraumError, match=r"unknown output format .toml. \(available: .*json, markdown"):
        dc.context(filled, format="toml")


def test_context_of_an_empty_workspace_says_to_run_a_pipeline(tmp_path: Path):
    with pytest.raises(DataraumError, match="no context yet; run a pipeline on it first"):
        dc.context(tmp_path)
    (tmp_path / "context.json").write_text("{not json")
    with pytest.raises(DataraumError, match=r"context\.json: not a context document"):
        dc.context(tmp_path)
