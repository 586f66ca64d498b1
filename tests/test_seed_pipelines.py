"""Pipelines shaped as the seed document writes them: its three YAMLs verbatim
(`tests/seed_pipelines/`), `modules:` left out (every installed step module), installed step
packages joining, `parallel_enrichment`, `ontology: general`/`null`, and `extends:`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hamilton.execution import executors

import dataraum_context as dc
from dataraum_context.errors import ConfigError
from dataraum_context.pipeline import load_pipeline, step_nodes
from dataraum_context.sample import shop_dir

SEED = Path(__file__).parent / "seed_pipelines"
PROFILE = ["staging", "schema_profiling", "type_resolution", "statistics_profiling"]


def _run(name: str, tmp_path: Path) -> dc.PipelineRun:
    return dc.run(str(SEED / f"{name}.yaml"), sources=[str(shop_dir())], workspace=str(tmp_path / "ws"))


def test_the_seed_default_runs_every_step_with_the_general_ontology_in_parallel(tmp_path: Path):
    cfg = load_pipeline(SEED / "default.yaml")
    assert (cfg.modules, cfg.parallel, cfg.ontology) == (None, True, "general")
    run = _run("default", tmp_path)
    assert run.status == "succeeded" and not run.failed_steps
    assert [s.name for s in run.steps if s.status == "succeeded"] == list(step_nodes(dc.driver("default", cache=False)))
    general, base = run.results["ontology"], dc.run("default", sources=[str(shop_dir())],
                                                     workspace=str(tmp_path / "ws2")).results["ontology"]
    assert general.name == "general" and general.concepts == base.concepts and general.concepts
    assert run.context.ontology == "general 1.0.0"


def test_the_seed_quick_profile_profiles_only_and_has_no_ontology(tmp_path: Path):
    cfg = load_pipeline(SEED / "quick_profile.yaml")
    assert (cfg.parallel, cfg.ontology, cfg.fail_fast) == (False, None, True)
    run = _run("quick_profile", tmp_path)
    assert run.status == "succeeded"
    assert [s.name for s in run.steps if s.status != "skipped"] == [*PROFILE, "context_document"]
    assert "ontology" not in run.results and len(run.context.tables) == 4 and run.context.ontology is None


def test_the_seed_financial_uses_the_financial_ontology(tmp_path: Path):
    run = _run("financial", tmp_path)
    assert run.status == "succeeded" and run.results["ontology"].name == "financial_reporting"
    assert "semantic_enrichment" in run.results and "quality_assessment" in run.results


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["default", "quick_profile", "financial"])
def test_the_seed_pipelines_run_from_the_command_line(tmp_path: Path, name: str):
    out = tmp_path / "context.md"
    run = subprocess.run([sys.executable, "-m", "dataraum_context.cli", "run", str(shop_dir()), "--pipeline",
                          str(SEED / f"{name}.yaml"), "--workspace", str(tmp_path / "ws"), "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert f"pipeline {name}" in out.read_text().splitlines()[0]


def test_an_empty_ontology_is_no_ontology(tmp_path: Path):
    """`ontology: null`: the semantic and quality steps run with no domain: no business terms."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nontology: null\n")
    run = dc.run(str(path), sources=[str(shop_dir())], workspace=str(tmp_path / "ws"))
    assert run.status == "succeeded" and run.results["ontology"].concepts == ()
    sem = run.results["semantic_enrichment"]
    assert all(c.business_term is None for t in sem.tables.values() for c in t.columns.values())
    base = dc.run("default", sources=[str(shop_dir())], workspace=str(tmp_path / "ws2"))
    terms = [c.business_term for t in base.results["semantic_enrichment"].tables.values() for c in t.columns.values()]
    assert any(terms)  # with base, the same data has business terms


# --- modules left out: every installed step module -------------------------------------------


def _step_package(site: Path, pipelines: tuple[str, ...] | None = None) -> None:
    """A distribution on sys.path registering `dataraum.pipeline_steps: row_counts`: one
    step after statistics, as a separately installed step package would."""
    info = site / "dataraum_steps_rowcounts-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dataraum-steps-rowcounts\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dataraum.pipeline_steps]\nrow_counts = rowcounts_step\n")
    declared = f"PIPELINES = {pipelines!r}\n" if pipelines is not None else ""
    (site / "rowcounts_step.py").write_text(declared + textwrap.dedent("""
        from dataraum_context.models import StatisticsResult
        from dataraum_context.step import step


        @step(scope="table", phase="profiling", criticality="optional")
        def row_counts(statistics_profiling: StatisticsResult) -> dict[str, int]:
            return {name: t.row_count for name, t in statistics_profiling.tables.items()}
    """))


@pytest.fixture
def step_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(pipelines: tuple[str, ...] | None = None) -> None:
        site = tmp_path / "site"
        _step_package(site, pipelines)
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, "rowcounts_step", raising=False)
    return install


def test_an_installed_step_package_joins_the_pipelines_that_list_no_modules(step_package, tmp_path: Path):
    step_package()
    for pipeline in ("default", "financial", str(SEED / "default.yaml")):
        assert "row_counts" in step_nodes(dc.driver(pipeline, cache=False)), pipeline
    assert "row_counts" not in step_nodes(dc.driver("quick_profile", cache=False))  # it lists its modules
    run = dc.run("default", sources=[str(shop_dir())], workspace=str(tmp_path / "ws"))
    counts = {name: t.row_count for name, t in run.results["statistics_profiling"].tables.items()}
    assert run.results["row_counts"] == counts and len(counts) == 4


def test_a_step_package_joins_only_the_pipelines_it_names(step_package):
    step_package(pipelines=("financial",))
    assert "row_counts" in step_nodes(dc.driver("financial", cache=False))
    assert "row_counts" not in step_nodes(dc.driver("default", cache=False))


def test_the_built_in_modules_come_first(step_package):
    from dataraum_context import plugins

    step_package()
    names = list(plugins.pipeline_modules())
    assert names[-1] == "row_counts" and "staging" in names[:-1]


def test_without_modules_steps_select_among_every_installed_step(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nsteps: [topology_enrichment]\n")
    assert list(step_nodes(dc.driver(str(path), cache=False))) == [*PROFILE, "topology_enrichment",
                                                                   "context_document"]


# --- parallel_enrichment -------------------------------------------------------------------


def test_parallel_enrichment_is_parallel_and_runs_the_tables_on_threads():
    cfg = load_pipeline(SEED / "default.yaml")
    assert cfg.parallel
    dr = dc.driver(cfg, cache=False)
    assert isinstance(dr.graph_executor.execution_manager.remote_executor, executors.MultiThreadingExecutor)
    serial = dc.driver(SEED / "quick_profile.yaml", cache=False)
    assert not isinstance(serial.graph_executor.execution_manager.remote_executor, executors.MultiThreadingExecutor)
    threaded = dc.driver("default", parallel_enrichment=True, cache=False)
    assert isinstance(threaded.graph_executor.execution_manager.remote_executor, executors.MultiThreadingExecutor)


# --- extends -------------------------------------------------------------------------------


def test_extends_merges_onto_a_built_in_pipeline_and_a_file(tmp_path: Path):
    (tmp_path / "base.yaml").write_text("name: base_p\ndescription: mine\nextends: financial\n"
                                        "config: {top_k: 3, histogram_bins: 4}\n")
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("name: child\nextends: ../base.yaml\nskip_steps: [temporal_enrichment]\nconfig: {top_k: 5}\n")
    cfg = load_pipeline(child)
    assert (cfg.name, cfg.description, cfg.ontology) == ("child", "", "financial_reporting")
    assert cfg.config == {"top_k": 5, "histogram_bins": 4} and cfg.skip_steps == ["temporal_enrichment"]
    assert cfg.modules is None and cfg.fail_fast is False  # from default, through financial


def test_a_child_turns_off_what_its_parent_calls_parallel_enrichment(tmp_path: Path):
    (tmp_path / "child.yaml").write_text(f"name: child\nextends: {SEED / 'default.yaml'}\nparallel: false\n")
    assert load_pipeline(SEED / "default.yaml").parallel and not load_pipeline(tmp_path / "child.yaml").parallel


def test_an_extends_cycle_is_refused_naming_the_file_and_line(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("name: b\n\nextends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:3: extends: 'a\.yaml' makes a cycle"):
        load_pipeline(tmp_path / "a.yaml")


def test_an_error_in_a_parent_names_the_parent(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("name: b\nfail_fast: sometimes\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:2: fail_fast: "):
        load_pipeline(tmp_path / "a.yaml")


# --- errors that name the file ---------------------------------------------------------------


def test_an_unknown_key_names_the_file_line_and_the_valid_keys(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nsteps: all\nparalel: true\n")
    with pytest.raises(ConfigError, match=r"p\.yaml:3: unknown key 'paralel' "
                                          r"\(valid keys: name, .*parallel_enrichment, extends\)"):
        load_pipeline(path)
    path.write_text("name: p\nllm:\n  provder: heuristic\n")
    with pytest.raises(ConfigError, match=r"p\.yaml:3: unknown key 'llm.provder' \(valid keys: provider, model\)"):
        load_pipeline(path)


def test_an_unknown_config_key_names_the_yaml_and_lists_settings_not_steps(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodules: [staging, schema_profiling, type_resolution, statistics, context]\n"
                    "config: {type_overides: {orders.amount: DOUBLE}}\n")
    with pytest.raises(ConfigError) as caught:
        dc.driver(str(path), cache=False)
    message = str(caught.value)
    assert message.startswith(f"{path}: config: unknown config key 'type_overides'")
    read = message.split("read: ")[1].split(";")[0].split(", ")
    assert "type_overrides" in read and "top_k" in read
    assert not {"semantic_enrichment", "topology_enrichment", "quality_assessment"} & set(read)
    with pytest.raises(ConfigError, match=r"^unknown config key 'type_override'"):  # a keyword: no file
        dc.driver(str(path), cache=False, config={}, type_override={"a.b": "DATE"})
