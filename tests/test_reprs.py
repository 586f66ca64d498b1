"""Step results read well in a notebook: a one-line repr, a compact Markdown table, and rows for
polars and pandas."""

from __future__ import annotations

import re
import sys

import pandas as pd
import polars as pl
import pytest

import dataraum_context as dc
from dataraum_context import sample
from dataraum_context.delivery.notebook import MAX_ROWS

_SEPARATOR = re.compile(r"^\|(---\|)+$")
_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory) -> dc.PipelineRun:
    ws = tmp_path_factory.mktemp("shop") / "ws"
    return dc.run("default", sources=[str(sample.shop_dir())], workspace=str(ws))


def _displayed(run: dc.PipelineRun) -> list:
    return [*(r for name, r in run.results.items() if name != "ontology"), run]


def _table(markdown: str) -> list[list[str]]:
    """The Markdown table's rows (header first), split on the unescaped bars."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if _SEPARATOR.match(line)) - 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not _SEPARATOR.match(line):
            rows.append([cell.strip() for cell in _UNESCAPED_BAR.split(line)[1:-1]])
    return rows


def test_every_step_result_has_a_short_one_line_repr(shop_run):
    shown = {type(r).__name__: repr(r) for r in _displayed(shop_run)}
    assert set(shown) == {
        "StagingResult", "SchemaProfilingResult", "TypeResolutionResult", "StatisticsResult", "TopologyResult",
        "TemporalResult", "MulticollinearityReport", "SemanticEnrichmentResult", "QualityAssessmentResult",
        "ContextDocument", "PipelineRun"}
    for name, text in shown.items():
        assert text.startswith(f"{name}(") and text.endswith(")") and "\n" not in text, text
        assert len(text) < 200, text
    assert shown["StatisticsResult"] == "StatisticsResult(4 tables, 23 columns)"
    assert shown["StagingResult"] == "StagingResult(4 tables, 803 rows)"
    assert shown["TypeResolutionResult"] == "TypeResolutionResult(4 tables, 23 columns, 803 rows, 1 value quarantined)"
    assert shown["TopologyResult"] == "TopologyResult(4 tables, 3 relationships, 3 join paths)"
    assert re.fullmatch(r"QualityAssessmentResult\(4 tables, \d+ checks, \d+ not passed, score 0\.\d\d\)",
                        shown["QualityAssessmentResult"])
    assert re.fullmatch(r"PipelineRun\(default, succeeded, 11 steps, [\d.]+ s\)", shown["PipelineRun"])
    assert str(shop_run.context) == repr(shop_run.context)


def test_every_step_result_renders_a_markdown_table(shop_run):
    for result in _displayed(shop_run):
        text = result._repr_markdown_()
        assert text.startswith(f"**{type(result).__name__}** (")
        rows = _table(text)
        assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows), text
    stats = _table(shop_run.results["statistics_profiling"]._repr_markdown_())
    assert stats[0] == ["column", "type", "nulls", "distinct", "min", "max", "mean"]
    assert stats[18][:3] == ["orders.shipped_date", "DATE", "36"] and len(stats) == 1 + 23
    relationships = _table(shop_run.results["topology_enrichment"]._repr_markdown_())
    assert ["orders.customer_id", "customers.customer_id", "many_to_one"] in [r[:3] for r in relationships]
    steps = _table(shop_run._repr_markdown_())
    assert [r[0] for r in steps[1:]] == [s.name for s in shop_run.steps]  # (no `_` inside a word is emphasis)


def test_statistics_relationships_and_checks_convert_to_polars_and_pandas(shop_run):
    stats = shop_run.results["statistics_profiling"].to_polars()
    assert stats.height == 23 and stats.columns[:4] == ["table", "column", "data_type", "count"]
    assert {"null_ratio", "min", "max", "p50", "mean_length"} <= set(stats.columns)
    shipped = stats.filter((pl.col("table") == "orders") & (pl.col("column") == "shipped_date")).row(0, named=True)
    assert (shipped["null_count"], shipped["min"], shipped["data_type"]) == (36, "2023-01-07", "DATE")

    topology = shop_run.results["topology_enrichment"]
    relationships = topology.to_polars()
    assert relationships.height == len(topology.relationships) == 3
    assert relationships.columns[:4] == ["from_table", "from_columns", "to_table", "to_columns"]
    orphans = relationships.filter(pl.col("from_columns") == "customer_id").row(0, named=True)
    assert (orphans["from_table"], orphans["orphan_rows"]) == ("orders", 1)

    quality = shop_run.results["quality_assessment"]
    checks = quality.to_polars()
    assert checks.height == sum(t.checks for t in quality.tables.values())
    assert checks.schema["passed"] == pl.Boolean and checks.schema["failing_share"] == pl.Float64
    assert checks.filter(~pl.col("passed") & pl.col("error").is_null()).height == len(quality.issues())

    frame = quality.to_pandas()
    assert isinstance(frame, pd.DataFrame) and frame.shape == checks.shape


def test_to_pandas_says_that_pandas_is_missing(shop_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` meets without pandas
    with pytest.raises(ImportError, match=r"StatisticsResult.to_pandas\(\) needs pandas .* to_polars\(\) does not"):
        shop_run.results["statistics_profiling"].to_pandas()


def test_markdown_escapes_what_the_data_names_and_caps_long_tables(workspace):
    names = ["a|b", "<img src=x>", "__init__", "# heading", *(f"c{i}" for i in range(MAX_ROWS))]
    frame = pl.DataFrame({name: [1, 2] for name in names})
    stats = dc.driver("quick_profile", sources={"odd": frame}, workspace=str(workspace)).execute(
        ["statistics_profiling"])["statistics_profiling"]
    text = stats._repr_markdown_()
    rows = _table(text)
    assert len(rows) == 1 + MAX_ROWS and all(len(row) == 7 for row in rows)
    assert [r[0] for r in rows[1:5]] == ["odd.a\\|b", "odd.\\<img src=x\\>", "odd.\\_\\_init\\_\\_", "odd.\\# heading"]
    assert "... and 4 more rows" in text
    assert stats.to_polars().height == len(names)
