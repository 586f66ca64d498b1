"""Embedding our modules in other Hamilton flows: docs/EMBEDDING.md runs as written, and what it
relies on (`dc.builder()`, `overrides=` through `dc.run`, your own modules in a pipeline YAML).

Every Python block of the page runs on its own (as a reader pasting it would), in one directory
where the page's bash blocks ran and its `# <path>` blocks were written, and the check for its
section judges what it computed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hamilton.execution import executors

import dataraum_context as dc
from dataraum_context.dataflows import schema_profiling, staging, statistics, type_resolution
from dataraum_context.errors import ConfigError
from dataraum_context.models import StatisticsResult
from dataraum_context.ontology import load_ontology

from conftest import cli, write
from support.pages import DATARAUM, code_blocks, run_commands, run_python, write_files

PAGE = Path(__file__).resolve().parents[1] / "docs" / "EMBEDDING.md"
SHOP = {"customers", "order_items", "orders", "products"}


def _builder(ns: dict) -> None:
    stats = ns["stats"]
    assert isinstance(stats, StatisticsResult) and set(stats.tables) == SHOP
    assert all(t.columns for t in stats.tables.values())
    # the per-table steps ran as Hamilton's Parallelizable/Collect blocks
    assert "table_statistics" in ns["dr"].graph.nodes


def _builder_spelled_out(ns: dict) -> None:
    ours, theirs = dc.builder(), ns["builder"]
    assert theirs.v2_executor and ours.v2_executor
    assert type(theirs.local_executor) is type(ours.local_executor)
    assert type(theirs.remote_executor) is type(ours.remote_executor)


def _subdag(ns: dict) -> None:
    assert set(ns["rows"]) == SHOP
    for workspace, tables in (("ws/sales", {"orders", "order_items"}), ("ws/master", {"customers", "products"})):
        for table in tables:  # each profile typed its own tables, in its own workspace
            assert dc.Workspace(workspace).sql(f"SELECT count(*) FROM {table}").fetchall()[0][0] == ns["rows"][table]
    nodes = ns["dr"].graph.nodes
    assert "sales_profile.table_statistics" in nodes and "master_profile.table_statistics" in nodes


def _replaced_step(ns: dict) -> None:
    term = ns["semantics"].tables["order_items"].columns["order_item_id"].business_term
    assert term == "order_line_id"
    assert term not in {c.name for c in load_ontology("base").concepts}  # what our own step would have used
    assert "staging" in ns["dr"].graph.nodes["ontology"].input_types  # wired by the new function's parameters


def _downstream(ns: dict) -> None:
    assert ns["personal"] == ["customers.email", "customers.name"]


def _overrides(ns: dict) -> None:
    run = ns["run"]
    assert run.status == "succeeded"
    assert ns["status"]["ontology"] == "overridden"
    assert {r.source for r in ns["checks"]} == {"generic"}
    assert run.results["ontology"] is ns["without_rules"]


def _yaml_module(ns: dict) -> None:
    run = ns["run"]
    assert {s.name: s.status for s in run.steps}["table_measures"] == "succeeded"
    assert run.results["table_measures"]["order_items"] == ["quantity", "unit_price", "amount"]
    record = json.loads(next(Path("ws_cli/runs").glob("*.json")).read_text())  # the CLI's run
    assert {s["name"]: s["status"] for s in record["steps"]}["table_measures"] == "succeeded"
    assert Path("context.md").read_text().startswith("#")


# per section, one check per Python block in it, in order
CHECKS: dict[str, list[Callable[[dict], None]]] = {
    "Our modules in your own Builder": [_builder, _builder_spelled_out],
    "The same steps twice: `@subdag`": [_subdag],
    "Replacing one of our steps": [_replaced_step],
    "Your own node after `semantic_enrichment`": [_downstream],
    "Values for nodes: `overrides=` through `dc.run`": [_overrides],
    "Your own module in a pipeline YAML": [_yaml_module],
}


def _examples() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for block in code_blocks(PAGE):
        if block.kind == "python" and not block.file:
            examples.setdefault(block.heading, []).append(block.text)
    return examples


def test_every_example_of_the_page_has_a_check():
    assert {h: len(b) for h, b in _examples().items()} == {h: len(c) for h, c in CHECKS.items()}
    assert {block.file for block in code_blocks(PAGE)} >= {"my_steps.py", "my_pipeline.yaml"}


@pytest.mark.e2e
def test_every_example_runs_as_written(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_steps", raising=False)  # the page's, not another test's
    blocks = code_blocks(PAGE)
    write_files(blocks, tmp_path)
    checks = {heading: iter(found) for heading, found in CHECKS.items()}
    try:
        for block in blocks:
            if block.kind == "bash":
                run_commands(block, tmp_path, os.environ, not_run=("pip install",))
            elif block.kind == "python" and not block.file:
                next(checks[block.heading])(run_python(block, "EMBEDDING.md"))
    finally:
        sys.modules.pop("my_steps", None)


# --- what the page relies on -------------------------------------------------------------------

STEPS_PY = """from dataraum_context.models import StatisticsResult
from dataraum_context.step import step


@step(scope="source", phase="enrichment", criticality="optional")
def column_count(statistics_profiling: StatisticsResult) -> int:
    return sum(len(t.columns) for t in statistics_profiling.tables.values())
"""
PIPELINE = "name: mine\nmodules: [staging, schema_profiling, type_resolution, statistics, context, {module}]\n"


@pytest.fixture
def own_module(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """`my_counts.py` and `mine.yaml` naming it, in the current directory."""
    write(tmp_path / "my_counts.py", STEPS_PY)
    write(tmp_path / "mine.yaml", PIPELINE.format(module="my_counts"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_counts", raising=False)
    yield tmp_path
    sys.modules.pop("my_counts", None)


def test_a_pipeline_runs_a_module_of_the_current_directory(own_module: Path, shop: Path):
    run = dc.run("mine.yaml", sources=[str(shop)], workspace="ws")
    assert run.results["column_count"] == 10
    assert own_module.as_posix() not in sys.path  # the import path is as it was


@pytest.mark.e2e
def test_the_cli_runs_a_module_of_the_current_directory(own_module: Path, shop: Path):
    # the `dataraum` script: its own directory is on the import path, the current one is not
    proc = subprocess.run([DATARAUM, "run", str(shop), "--pipeline", "mine.yaml", "--workspace", "ws"],
                          cwd=own_module, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(next((own_module / "ws" / "runs").glob("*.json")).read_text())
    assert {s["name"]: s["status"] for s in record["steps"]}["column_count"] == "succeeded"


def test_a_module_that_is_not_there_is_one_line_naming_the_yaml_and_the_module(own_module: Path, shop: Path):
    write(own_module / "typo.yaml", PIPELINE.format(module="my_count"))
    result = cli("run", str(shop), "--pipeline", "typo.yaml", "--workspace", "ws")
    assert result.code == 2
    assert result.err.startswith("dataraum: error: typo.yaml: modules: unknown module 'my_count' (valid: ")
    assert str(own_module) in result.err and result.err.count("\n") == 1


def test_a_module_failing_to_import_names_the_yaml_the_module_and_why(own_module: Path, shop: Path):
    write(own_module / "needs_more.py", "import a_package_nobody_installed\n")
    write(own_module / "needs.yaml", PIPELINE.format(module="needs_more"))
    result = cli("run", str(shop), "--pipeline", "needs.yaml", "--workspace", "ws")
    assert result.code == 2
    assert result.err == ("dataraum: error: needs.yaml: modules: cannot import 'needs_more': "
                          "No module named 'a_package_nobody_installed'\n")


def test_two_modules_computing_one_node_are_named(own_module: Path, shop: Path):
    write(own_module / "my_ontology.py", "def ontology() -> str:\n    return 'mine'\n")
    write(own_module / "both.yaml", "name: both\nmodules: [staging, ontology, semantic, my_ontology]\n")
    result = cli("run", str(shop), "--pipeline", "both.yaml", "--workspace", "ws")
    assert result.code == 2
    assert result.err == ("dataraum: error: both.yaml: modules: 'ontology' and 'my_ontology' both compute "
                          "'ontology' (to replace a step, list your module instead of ours)\n")
    sys.modules.pop("my_ontology", None)


def test_the_builder_takes_an_executor_for_the_tables(shop: Path, workspace: Path):
    dr = (dc.builder(executor=executors.MultiThreadingExecutor(2))
          .with_modules(staging, schema_profiling, type_resolution, statistics).build())
    stats = dr.execute(["statistics_profiling"], inputs={"sources": [str(shop)], "workspace": str(workspace)})
    assert set(stats["statistics_profiling"].tables) == {"customers", "orders"}


def test_overrides_stand_in_for_a_step(shop: Path, workspace: Path):
    retail = load_ontology("retail")
    run = dc.run("default", sources=[str(shop)], workspace=str(workspace), overrides={"ontology": retail},
                 skip_steps=["temporal_enrichment", "cross_table_multicollinearity"])
    assert {s.name: s.status for s in run.steps}["ontology"] == "overridden"
    assert run.results["quality_assessment"].ontology == f"retail {retail.version}"


def test_an_override_that_is_not_a_node_is_a_config_error(shop: Path, workspace: Path):
    with pytest.raises(ConfigError, match=r"^overrides: 'ontologie' is not a node of pipeline 'default' "
                                          r"\(its steps: staging, "):
        dc.run("default", sources=[str(shop)], workspace=str(workspace), overrides={"ontologie": None})
