"""Output formats as `dataraum.output_formats` plugins: the built-ins, a third-party package
installed by pip, broken plugins, `--format`/`--out`, and the HTML report in a real browser."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import warnings
from importlib.metadata import distribution
from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context import plugins
from dataraum_context.delivery.formats import format_for, output_formats, render

from conftest import cli, write
from support.venvs import on_path

HOSTILE = "<script>pwned=1</script>"
# customers with a segment a source could hold: markup, and a formula for a spreadsheet
CUSTOMERS = f"""customer_id,name,segment,signup_date
1,Ann Lee,{HOSTILE},2023-01-05
2,Bob Stone,=HYPERLINK("http://x"),2023-02-11
3,Cy Park,{HOSTILE},2023-03-15
4,Di Wu,retail,2023-03-30
"""
ORDERS = """order_id,customer_id,order_date,amount,status
10,1,2023-04-01,12.50,shipped
11,2,2023-04-02,12.00,shipped
12,3,not a date,7.25,pending
13,4,2023-04-19,99.99,cancelled
14,1,2023-04-20,5.00,shipped
15,2,2023-04-21,8.00,shipped
"""


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace a pipeline filled: two tables that join, quality issues, a hostile value."""
    data = tmp_path_factory.mktemp("data")
    write(data / "customers.csv", CUSTOMERS)
    write(data / "orders.csv", ORDERS)
    workspace = tmp_path_factory.mktemp("ws")
    assert dc.run("default", sources=[str(data)], workspace=workspace).succeeded
    return workspace


def test_the_built_in_formats_are_entry_points():
    formats = output_formats()
    assert {"json", "markdown", "yaml", "html"} <= set(formats)
    assert format_for("x.md") == "markdown" and format_for("X.YML") == "yaml" and format_for("r.html") == "html"
    assert format_for("x.txt") is None


def test_format_and_out_pick_a_format(filled: Path, tmp_path: Path):
    result = cli("context", "--workspace", str(filled), "--format", "json")
    assert result.code == 0, result.err
    assert {t["name"] for t in json.loads(result.out)["tables"]} == {"customers", "orders"}
    out = tmp_path / "report.html"
    result = cli("context", "--workspace", str(filled), "--out", str(out), "--table", "orders")
    assert result.code == 0 and result.err == f"dataraum: wrote {out} (html)\n"
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_an_unknown_format_exits_2_listing_the_available_ones(filled: Path, shop: Path, tmp_path: Path):
    result = cli("context", "--workspace", str(filled), "--format", "docx")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("dataraum: error: unknown output format 'docx' (available: html, json, markdown")
    # a run is refused before it starts
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--format", "docx")
    assert result.code == 2 and "unknown output format 'docx'" in result.err
    assert not (tmp_path / "ws").exists()
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--out", str(tmp_path / "x.txt"))
    assert result.code == 2 and "cannot tell the format from the extension (use .html, .htm, .json" in result.err


def test_run_prints_the_context_within_max_tokens(shop: Path, tmp_path: Path):
    from dataraum_context.delivery.budget import token_counter

    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--max-tokens", "400")
    assert result.code == 0, result.err
    assert token_counter().count(result.out) <= 400
    assert f"Cut to fit 400 tokens ({token_counter().name})" in result.out
    assert cli("run", str(shop), "--max-tokens", "-3").code == 2


def test_the_html_report_within_a_budget_shows_types_and_roles_only_of_some_tables(filled: Path):
    from dataraum_context.delivery.budget import token_counter

    whole = token_counter().count(dc.context(filled, format="html"))
    text = dc.context(filled, format="html", max_tokens=whole * 2 // 3)
    assert token_counter().count(text) <= whole * 2 // 3
    assert "Cut to fit" in text and "without column statistics: " in text
    assert "<th>column</th><th>type</th><th>role</th></tr>" in text


def test_formats_lists_each_with_its_extensions():
    result = cli("formats")
    assert result.code == 0
    assert "  markdown   .md .markdown" in result.out and "  html       .html .htm" in result.out


# --- a third-party format: plugins/dataraum-format-example, installed by pip ------------------------


@pytest.fixture(scope="module")
def example_format(tmp_path_factory: pytest.TempPathFactory):
    yield from on_path("dataraum-format-example", tmp_path_factory)


@pytest.mark.e2e
def test_a_third_party_format_is_found_and_neutralises_formulas(example_format: Path, filled: Path, tmp_path: Path):
    assert distribution("dataraum-format-example").version == "0.1.0"
    assert "csv" in output_formats() and format_for("columns.csv") == "csv"
    assert "  csv        .csv" in cli("formats").out
    out = tmp_path / "columns.csv"
    result = cli("context", "--workspace", str(filled), "--out", str(out))
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {(r["table"], r["column"]) for r in rows} >= {("orders", "amount"), ("customers", "segment")}
    assert next(r for r in rows if r["column"] == "amount")["role"] == "measure"
    rendered = dc.context(filled, format="csv")
    assert rendered == out.read_text()
    # a cell that would start with = is text: none starts with a formula character
    cells = [cell for row in csv.reader(io.StringIO(rendered)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


@pytest.mark.e2e
def test_the_example_csv_neutralises_each_formula_start(example_format: Path):
    from dataraum_format_example import _cell

    for start in "=+-@\t\r":
        assert _cell(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert _cell("retail") == "retail" and _cell(0.5) == 0.5 and _cell(None) == ""


def test_a_broken_format_is_reported_by_name_and_skipped(tmp_path: Path, monkeypatch):
    (tmp_path / "half_formats.py").write_text("NOT_A_FORMAT = 42\n")
    info = tmp_path / "dataraum_broken_formats-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dataraum-broken-formats\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[dataraum.output_formats]\nbroken = no_such_module_for_dataraum:FORMAT\nnumber = half_formats:NOT_A_FORMAT\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        formats = output_formats()
    messages = [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)]
    assert any("'broken'" in m and "failed to load" in m for m in messages)
    assert any("'number'" in m and "is not an output format" in m for m in messages)
    assert {"json", "markdown", "yaml", "html"} <= set(formats) and not {"broken", "number"} & set(formats)


# --- the HTML report, in a real headless Chromium -------------------------------------------------


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through playwright; .ci/run installs both, so CI never skips this."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")  # in `dev`
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.mark.e2e
def test_the_html_report_shows_tables_relationships_and_issues_in_a_browser(browser, filled: Path, tmp_path: Path):
    report = tmp_path / "report.html"
    assert cli("context", "--workspace", str(filled), "--out", str(report)).code == 0
    page = browser.new_page()
    messages, errors, requests = [], [], []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())

    text = page.inner_text("body")
    assert page.locator("section.table h3").all_inner_texts() == ["customersdimension", "ordersfact"]  # name + badge
    assert page.locator("section.table").nth(1).locator("td").get_by_text("amount", exact=True).is_visible()
    edge = page.locator("svg .edge")
    assert edge.count() == 1 and edge.is_visible() and edge.bounding_box()["width"] > 20
    assert edge.locator("title").text_content() == "orders.customer_id -> customers.customer_id"
    assert page.locator("svg .node").all_text_contents() == ["ordersorders", "customerscustomers"]  # title + label
    issues = page.locator("#quality ~ table").first
    assert issues.is_visible() and "orders.order_date\tcast_failure\t1 of 6 rows (16.7%)" in issues.inner_text()
    assert "orders.order_date (primary)\tday\t2023-04-01 .. 2023-04-21" in page.inner_text("#time + table")
    # the hostile value is text on the page, never a script
    assert HOSTILE in text
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("script").count() == 0
    assert messages == [] and errors == []
    assert requests == [report.as_uri()]  # self-contained: nothing else is fetched
    page.close()


@pytest.mark.e2e
def test_hostile_names_everywhere_stay_text_in_the_browser(browser, tmp_path: Path):
    """Every field of the document from the data, hostile: table, column, relationship, issue,
    warning; the page shows each as written and runs none."""
    from datetime import UTC, datetime

    from dataraum_context.models import (
        ColumnContext,
        ContextDocument,
        QualityAssessmentResult,
        QualityResult,
        Relationship,
        TableContext,
    )
    from dataraum_context.quality.score import table_quality

    evil = ['<img src=x onerror="window.pwned=1">', "</svg><script>window.pwned=2</script>",
            "\"'><b>bold</b>&amp;", "</title><script>window.pwned=3</script>"]
    issue = QualityResult(check=evil[3], rule_type="x", table=evil[0], columns=(evil[1],), severity="error",
                          source="generic", passed=False, failing_rows=1, total_rows=2, description=evil[2],
                          sql=f"SELECT '{evil[1]}'")
    tables = tuple(TableContext(name=name, row_count=2, role="fact", description=evil[2],
                                columns=(ColumnContext(name=evil[1], data_type="VARCHAR", semantic_role="dimension",
                                                       description=evil[3]),),
                                quality=table_quality(name, [issue] if name == evil[0] else []))
                   for name in evil[:2])
    doc = ContextDocument(
        pipeline=evil[2], generated_at=datetime(2026, 12, 7, tzinfo=UTC), tables=tables, warnings=tuple(evil),
        relationships=(Relationship(from_table=evil[0], from_columns=(evil[1],), to_table=evil[1],
                                    to_columns=(evil[3],), source="discovered"),),
        quality=QualityAssessmentResult(tables={t.name: t.quality for t in tables if t.quality},
                                        score=0.5, binding="semantic_enrichment").summary())
    report = tmp_path / "evil.html"
    report.write_text(render(doc, "html"))
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    text = page.inner_text("body")
    for value in evil:
        assert value in text
    assert page.locator("svg .edge title").text_content() == f"{evil[0]}.{evil[1]} -> {evil[1]}.{evil[3]}"
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("script, img, b").count() == 0
    assert errors == []
    page.close()
