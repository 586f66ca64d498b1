"""Results of steps the core does not know reach the context through `context_section()`."""

from __future__ import annotations

import json
from pathlib import Path

import dataraum_context as dc
from dataraum_context.sections import STEP_SECTIONS

_MODULES = "[staging, schema_profiling, type_resolution, statistics, context, flows.sectioned]"


def _pipeline(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: p\nmodules: {_MODULES}\n{extra}")
    return str(path)


def test_a_step_package_result_is_a_section_of_the_context(shop: Path, tmp_path: Path):
    run = dc.run(_pipeline(tmp_path), sources=[str(shop)], workspace=str(tmp_path / "ws"))
    doc = run.results["context_document"]
    assert [(s.step, s.title) for s in doc.sections] == [("broken_counts", "Row counts | by table"),
                                                        ("row_counts", "Row counts | by table")]
    counts = doc.sections[1]
    assert counts.data == {"tables": {"customers": 4, "orders": 4}}
    markdown = doc.to_markdown()
    assert "## Row counts \\| by table\n\nCounted by a step package.\n\n- customers: 4 rows\n" in markdown
    assert "| table | rows |\n|---|---|\n| customers | 4 |\n| orders | 4 |\n" in markdown
    sections = json.loads(doc.to_json())["sections"]
    assert sections[1]["step"] == "row_counts" and sections[1]["table"][0] == ["table", "rows"]


def test_a_skipped_or_failed_step_has_no_section(shop: Path, tmp_path: Path):
    path = _pipeline(tmp_path, "skip_steps: [row_counts]\nfail_fast: false\nconfig: {fail_counts: true}\n")
    run = dc.run(path, sources=[str(shop)], workspace=str(tmp_path / "ws"))
    assert run.results["context_document"].sections == ()
    assert any("optional step broken_counts failed" in w for w in run.warnings)


def test_without_such_steps_the_dag_has_no_sections_node(tmp_path: Path):
    computed = {n.name for n in dc.driver("default", cache=False).list_available_variables()
                if not n.is_external_input}
    assert STEP_SECTIONS not in computed and "context_document" in computed
    dr = dc.driver(_pipeline(tmp_path), cache=False)
    assert set(dr.graph.nodes[STEP_SECTIONS].input_types) == {"row_counts", "broken_counts"}
    assert dr.graph.nodes[STEP_SECTIONS].tags["step"] == "context_document"
