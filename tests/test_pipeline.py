"""Pipeline configs: validation, step selection, and the driver a notebook gets."""

from __future__ import annotations

from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context.errors import ConfigError
from dataraum_context.models import StatisticsResult
from dataraum_context.pipeline import builtin_pipelines, load_pipeline, step_nodes


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
    dr = dc.driver("default", sources=[str(shop)], workspace=str(workspace),
                   skip_steps=["statistics_profiling"])
    assert "statistics_profiling" not in step_nodes(dr)
    ctx = dr.execute(["context_document"])["context_document"]
    assert ctx.table("orders").columns[0].statistics is None
    assert ctx.table("orders").columns[0].data_type == "BIGINT"


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
