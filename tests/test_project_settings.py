"""Layered settings: defaults < the project file (`dataraum.yaml`, `--config`) < `DATARAUM_*`
< flags, each value with its origin; `dataraum config`; the CLI reading them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataraum_context.errors import ConfigError
from dataraum_context.listing_cache import CACHE_ENV
from dataraum_context.project import KEYS, load_settings
from dataraum_context.sample import shop_dir

PROJECT = """\
pipeline: quick_profile
workspace: ws
llm:
  provider: heuristic
  model: m-file
ontology_paths: [onto]
sources:
  - name: shop
    source: data
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "dataraum.yaml").write_text(PROJECT)
    (tmp_path / "onto").mkdir()
    (tmp_path / "data").mkdir()
    for path in shop_dir().glob("*.csv"):
        (tmp_path / "data" / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_each_layer_overrides_the_one_below_and_says_so(project: Path):
    settings = load_settings(environ={"DATARAUM_LLM_MODEL": "m-env", "DATARAUM_WORKSPACE": "ws-env"},
                             flags={"workspace": "ws-flag", "pipeline": None}, cwd=project)
    assert settings.file == project / "dataraum.yaml"
    shown = {name: (s.value, s.origin) for name, s in settings.items()}
    assert shown["pipeline"] == ("quick_profile", f"{project / 'dataraum.yaml'}:1")
    assert shown["workspace"] == ("ws-flag", "flag --workspace")
    assert shown["llm.provider"] == ("heuristic", f"{project / 'dataraum.yaml'}:4")
    assert shown["llm.model"] == ("m-env", "env DATARAUM_LLM_MODEL")
    assert shown["ontology_paths"] == ([str(project / "onto")], f"{project / 'dataraum.yaml'}:6")
    assert shown["engine"] == (None, "default") and set(shown) == {k.name for k in KEYS}
    assert settings.pipeline_overrides() == {"llm": {"provider": "heuristic", "model": "m-env"}}


def test_without_a_project_file_the_defaults_and_the_environment(tmp_path: Path):
    paths = os.pathsep.join(["a", "b"])
    settings = load_settings(environ={"DATARAUM_ONTOLOGY_PATH": paths, "DATARAUM_ENGINE": "threads"}, cwd=tmp_path)
    assert settings.file is None and settings["workspace"].value == ".dataraum"
    assert settings["ontology_paths"].value == ["a", "b"]
    assert settings.ontology_paths() == []  # the ontology loader reads the variable itself
    assert settings.pipeline_overrides() == {"engine": "threads"}


def test_the_config_flag_and_variable_name_the_file(project: Path, tmp_path: Path):
    other = tmp_path / "elsewhere.yaml"
    other.write_text("pipeline: financial\n")
    assert load_settings(config=other, cwd=project)["pipeline"].value == "financial"
    assert load_settings(environ={"DATARAUM_CONFIG": str(other)}, cwd=project)["pipeline"].value == "financial"
    with pytest.raises(ConfigError, match=r"--config .*nope\.yaml: no such file"):
        load_settings(config=tmp_path / "nope.yaml", cwd=project)


@pytest.mark.parametrize(("text", "message"), [
    ("workspace: ws\nworkspaces: x\n", r"dataraum\.yaml:2: unknown key 'workspaces' \(valid keys: pipeline, "
                                        r"workspace, engine, engines, llm, ontology_paths, sources\)"),
    ("llm:\n  provider: heuristic\n  modle: x\n", r"dataraum\.yaml:3: unknown key 'llm\.modle' "
                                                   r"\(valid keys: provider, model\)"),
    ("llm: anthropic\n", r"dataraum\.yaml:1: llm: a mapping with keys provider, model"),
    ("engine: local\nlocal:\n  max_retries: 3\n",  # the seed's workflow.yaml
     r"dataraum\.yaml:2: unknown key 'local' \(valid keys: .*; "
     r"an engine's settings go under engines: \{local: \.\.\.\}\)"),
    ("workspace: [a]\n", r"dataraum\.yaml:1: workspace: expected a text"),
    ("engines: {dask: 3}\n", r"dataraum\.yaml:1: engines: a mapping of engine names to their settings"),
    ("sources:\n  - {name: a, source: x.csv, typo: 1}\n", r"dataraum\.yaml: source 1 \('a'\): unknown key 'typo'"),
    ("- pipeline\n", r"dataraum\.yaml: the project file is a mapping"),
    ("pipeline: [\n", r"dataraum\.yaml:\d+: not valid YAML"),
])
def test_a_bad_project_file_is_an_error_naming_file_and_line(tmp_path: Path, text: str, message: str):
    (tmp_path / "dataraum.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cwd=tmp_path)


# --- the command line, in a process of its own -------------------------------------------------


def _dataraum(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DATARAUM_") or k == CACHE_ENV} | (env or {})
    return subprocess.run([sys.executable, "-m", "dataraum_context.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.e2e
def test_dataraum_config_shows_every_setting_and_its_origin(project: Path):
    done = _dataraum(project, "config", "--format", "json", "--pipeline", "financial",
                     env={"DATARAUM_LLM_PROVIDER": "anthropic"})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["file"] == "dataraum.yaml"
    origins = {name: s["origin"] for name, s in shown["settings"].items()}
    assert origins == {"pipeline": "flag --pipeline", "workspace": "dataraum.yaml:2", "engine": "default",
                       "engines": "default", "llm.provider": "env DATARAUM_LLM_PROVIDER",
                       "llm.model": "dataraum.yaml:5", "ontology_paths": "dataraum.yaml:6",
                       "sources": "dataraum.yaml:7"}
    text = _dataraum(project, "config").stdout.splitlines()
    assert text[0] == "project file: dataraum.yaml"
    assert any(line.split() == ["pipeline", "quick_profile", "dataraum.yaml:1"] for line in text)


@pytest.mark.e2e
def test_run_takes_pipeline_workspace_and_sources_from_the_project_file(project: Path):
    done = _dataraum(project, "run", "--out", "context.md")
    assert done.returncode == 0, done.stderr
    assert "pipeline quick_profile" in (project / "context.md").read_text().splitlines()[0]
    assert len(list((project / "ws" / "runs").glob("*.json"))) == 1
    runs = _dataraum(project, "runs")  # the project's workspace too
    assert "quick_profile" in runs.stdout


@pytest.mark.e2e
def test_the_environment_overrides_the_file_and_a_flag_the_environment(project: Path):
    bad = _dataraum(project, "run", env={"DATARAUM_LLM_PROVIDER": "nosuch", "DATARAUM_PIPELINE": "default"})
    assert bad.returncode == 2 and "unknown LLM provider 'nosuch'" in bad.stderr
    steps = _dataraum(project, "steps", env={"DATARAUM_PIPELINE": "default"})
    assert "semantic_enrichment" in steps.stdout
    flagged = _dataraum(project, "steps", "--pipeline", "quick_profile", env={"DATARAUM_PIPELINE": "default"})
    assert "semantic_enrichment" not in flagged.stdout and "statistics_profiling" in flagged.stdout


@pytest.mark.e2e
def test_the_project_ontology_paths_reach_the_ontology_commands_and_the_run(project: Path):
    (project / "onto" / "shop.yaml").write_text(
        "name: shop\nextends: base\nconcepts:\n  - {name: basket_value, indicators: [amount]}\n")
    listing = _dataraum(project, "ontology", "list")
    assert listing.returncode == 0
    assert any(line.split()[:2] == ["shop", "1.0.0"] for line in listing.stdout.splitlines())
    done = _dataraum(project, "run", "--pipeline", "default", "--ontology", "shop", "--out", "c.json")
    assert done.returncode == 0, done.stderr
    assert json.loads((project / "c.json").read_text())["ontology"] == "shop 1.0.0"


@pytest.mark.e2e
def test_a_bad_project_file_is_one_line_and_exit_2(project: Path):
    (project / "dataraum.yaml").write_text("pipeline: default\nworkspce: ws\n")
    done = _dataraum(project, "config")
    assert done.returncode == 2
    assert done.stderr == ("dataraum: error: dataraum.yaml:2: unknown key 'workspce' (valid keys: pipeline, "
                           "workspace, engine, engines, llm, ontology_paths, sources)\n")
    assert _dataraum(project, "run", "--config", "nope.yaml").stderr == \
        "dataraum: error: --config nope.yaml: no such file\n"


@pytest.mark.e2e
def test_run_without_sources_anywhere_says_where_to_put_them(tmp_path: Path):
    done = _dataraum(tmp_path, "run")
    assert done.returncode == 2 and "no sources" in done.stderr and "dataraum.yaml" in done.stderr
