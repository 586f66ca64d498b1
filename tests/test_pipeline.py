"""Pipeline configs: validation, step selection, and the driver a notebook gets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context.errors import ConfigError
from dataraum_context.models import StatisticsResult
from dataraum_context.pipeline import (
    builtin_pipelines,
    hard_dependencies,
    load_pipeline,
    step_nodes,
)

from flows import own_ontology


def test_builtin_pipelines_validate_and_resolve():
    assert {"default", "quick_profile"} <= set(builtin_pipelines())
    for name in builtin_pipelines():
        cfg = load_pipeline(name)
        dr = dc.driver(cfg, cache=False)
        assert "staging" in step_nodes(dr)


def test_driver_executes_a_step_with_no_further_inputs(shop: Path, workspace: Path):
    dr = dc.driver("default", sources=[str(shop)], workspace=str(workspace))
    stats = dr.execute(["statistics_profiling"])["statistics_profiling"]
    assert isinstance(stats, StatisticsResult)
    assert set(stats.tables) == {"customers", "orders"}
    assert stats.tables["orders"].row_count == 4


def test_steps_are_tagged_and_ordered():
    nodes = step_nodes(dc.driver("default", cache=False))
    assert list(nodes)[:4] == ["staging", "schema_profiling", "type_resolution", "statistics_profiling"]
    assert list(nodes)[-1] == "context_document"
    for node in nodes.values():
        assert {"scope", "phase", "criticality"} <= set(node.tags)


def test_unknown_key_lists_the_valid_ones(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging]\nstepz: all\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(str(path))
    assert "p.yaml" in str(err.value) and "'stepz'" in str(err.value)
    assert "skip_steps" in str(err.value)


def test_bad_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: p\nmodules: [staging\nsteps: all\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_pipeline(str(path))


def test_unknown_pipeline_lists_builtins():
    with pytest.raises(ConfigError, match="quick_profile"):
        load_pipeline("nonexistent")


def test_unknown_module_lists_the_valid_ones(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging, profiling_magic]\n")
    with pytest.raises(ConfigError, match=r"unknown module 'profiling_magic' \(valid: .*statistics"):
        dc.driver(str(path))


def test_unknown_step_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown step 'semantics' \(steps of this pipeline: staging, "):
        dc.driver("default", skip_steps=["semantics"])


def test_skipping_a_hard_dependency_names_the_chain():
    with pytest.raises(ConfigError, match="step 'type_resolution' needs 'schema_profiling'"):
        dc.driver("default", skip_steps=["schema_profiling"])


def test_skipped_optional_input_becomes_none(shop: Path, workspace: Path):
    # semantic_enrichment, critical, needs statistics: it goes only when named too (see below)
    dr = dc.driver("default", sources=[str(shop)], workspace=str(workspace),
                   skip_steps=["statistics_profiling", "semantic_enrichment"])
    assert "statistics_profiling" not in step_nodes(dr)
    ctx = dr.execute(["context_document"])["context_document"]
    assert ctx.table("orders").columns[0].statistics is None
    assert ctx.table("orders").columns[0].data_type == "BIGINT"


def test_a_steps_own_nodes_go_with_it():
    dr = dc.driver("default", cache=False)
    own = {n.name for n in dr.list_available_variables() if n.tags.get("step") == "temporal_enrichment"}
    assert {"temporal_tables", "configured_reference_date"} <= own
    assert not own & set(step_nodes(dr))
    # what its own nodes need, the step needs: skipping statistics skips temporal too
    assert set(hard_dependencies(dr, "temporal_enrichment")) == {"statistics_profiling", "type_resolution"}
    skipped = dc.driver("default", cache=False, skip_steps=["temporal_enrichment"])
    assert not own & {n.name for n in skipped.list_available_variables()}


def test_quality_without_semantic_gets_the_ontology_it_needs(tmp_path: Path, shop: Path, workspace: Path):
    path = tmp_path / "q.yaml"
    path.write_text("name: q\nmodules: [staging, schema_profiling, type_resolution, statistics, quality]\n"
                    "ontology: financial_reporting\n")
    assert "ontology" in step_nodes(dc.driver(str(path), cache=False))
    run = dc.run(str(path), sources=[str(shop)], workspace=str(workspace))
    assert {s.name: s.status for s in run.steps}["quality_assessment"] == "succeeded"
    quality = run.results["quality_assessment"]
    assert quality.binding == "concept_matcher" and quality.ontology.startswith("financial_reporting ")
    # a config written before `ontology` was a module of its own still gets it with `semantic`
    path.write_text("name: s\nmodules: [staging, schema_profiling, type_resolution, statistics, semantic]\n")
    assert "ontology" in step_nodes(dc.driver(str(path), cache=False))


def test_the_ontology_comes_only_where_a_step_needs_it_and_none_computes_it(tmp_path: Path):
    assert "ontology" not in step_nodes(dc.driver("quick_profile", cache=False))
    path = tmp_path / "q.yaml"
    path.write_text("name: q\nmodules: [staging, schema_profiling, type_resolution, statistics, quality, "
                    "flows.own_ontology]\n")
    dr = dc.driver(str(path), cache=False)  # one `ontology` node: yours, not a built-in step beside it
    assert dr.graph.nodes["ontology"].originating_functions[0] is own_ontology.ontology


def test_a_driver_imports_only_the_modules_its_pipeline_lists(tmp_path: Path):
    """Importing every dataflow module (quality, topology, temporal, ...) to build any driver
    made the quick profile's build slower; in a process of its own, so nothing was imported before."""
    code = ("import sys, dataraum_context as dc; dc.driver('quick_profile', cache=False); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('dataraum_context.dataflows.'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert run.stdout.split() == [f"dataraum_context.dataflows.{m}" for m in
                                  ("context", "schema_profiling", "staging", "statistics", "type_resolution")]


def test_steps_keep_only_what_they_need(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging, schema_profiling, type_resolution, statistics, context]\n"
                    "steps: [schema_profiling]\n")
    assert list(step_nodes(dc.driver(str(path), cache=False))) == ["staging", "schema_profiling", "context_document"]


def test_unknown_config_key_is_rejected():
    with pytest.raises(ConfigError, match=r"unknown config key 'type_override'.*type_overrides"):
        dc.driver("default", type_override={"a.b": "DATE"})


def test_tables_filter(shop: Path, workspace: Path):
    run = dc.run("default", sources=[str(shop)], workspace=str(workspace), tables=["orders"])
    assert [t.name for t in run.context.tables] == ["orders"]
    with pytest.raises(ConfigError, match=r"tables: invoices not among the sources' tables \(customers, orders\)"):
        dc.run("default", sources=[str(shop)], workspace=str(workspace), tables=["invoices"])


def test_a_step_both_wanted_and_skipped_is_refused(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging, schema_profiling, type_resolution, statistics, context]\n"
                    "steps: [statistics_profiling]\nskip_steps: [statistics_profiling]\n")
    with pytest.raises(ConfigError, match="step 'statistics_profiling' is in both steps and skip_steps"):
        dc.driver(str(path), cache=False)
    with pytest.raises(ConfigError, match="'type_resolution' is in both"):
        dc.driver("quick_profile", steps=["type_resolution"], skip_steps=["type_resolution"])


def test_a_typo_under_config_is_refused_as_the_same_keyword_is(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging, schema_profiling, type_resolution, context]\n"
                    "config: {type_overides: {orders.amount: DOUBLE}}\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'type_overides'.*type_overrides"):
        dc.driver(str(path), cache=False)


def test_a_missing_module_names_the_step_and_the_module(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging, type_resolution, context]\n")
    with pytest.raises(ConfigError, match=r"type_resolution needs 'schema_profiling', which none of its modules "
                                          r"computes \(add module 'schema_profiling' to modules\)"):
        dc.driver(str(path), cache=False)


@pytest.mark.parametrize(("config", "message"), [
    ({"profile_sample_rows": "abc"},
     r"config profile_sample_rows: input should be a valid integer, got 'abc' \(declared int\)"),
    ({"type_overrides": 5}, r"config type_overrides: input should be a valid dictionary, got 5"),
    ({"type_overrides": {"orders.amount": 5}},
     r"config type_overrides\.orders\.amount: input should be a valid string, got 5"),
    ({"top_k": True}, r"config top_k: input should be a valid integer, got True"),
    ({"null_tokens": "NA"}, r"config null_tokens: 'str' instances are not allowed"),
])
def test_config_values_are_checked_against_the_types_the_steps_declare(config: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        dc.driver("default", cache=False, **config)


def test_config_values_of_the_declared_type_pass():
    dc.driver("default", cache=False, profile_sample_rows=500, min_type_confidence=1, null_tokens=("NA",),
              type_overrides={"orders.amount": "DOUBLE"}, reference_date=None)


def test_skipping_the_input_of_a_critical_step_names_the_chain():
    with pytest.raises(ConfigError, match=r"skipping 'statistics_profiling' would also drop the critical step "
                                          r"'semantic_enrichment' \(statistics_profiling -> semantic_enrichment\)"):
        dc.driver("default", cache=False, skip_steps=["statistics_profiling"])


def test_steps_left_out_with_a_skipped_input_are_warned(shop: Path, workspace: Path):
    run = dc.run("default", sources=[str(shop)], workspace=str(workspace),
                 skip_steps=["statistics_profiling", "semantic_enrichment"])
    left_out = [w for w in run.warnings if " left out: " in w]
    assert "step topology_enrichment left out: it needs statistics_profiling, which is skipped" in left_out
    # further down, what needs a step left out goes too, and says so
    assert "step cross_table_multicollinearity left out: it needs topology_enrichment, which is skipped" in left_out
    assert not any("step statistics_profiling left out" in w for w in left_out)  # named, not dropped
    assert [w for w in run.context.warnings if " left out: " in w] == left_out
