"""The `dataraum` command: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dataraum_context import dataflows
from dataraum_context.listing_cache import CACHE_ENV

from conftest import cli, write


def test_run_writes_json_with_the_documented_fields(shop: Path, tmp_path: Path):
    out = tmp_path / "ctx.json"
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--out", str(out))
    assert result.code == 0, result.err
    doc = json.loads(out.read_text())
    assert {"pipeline", "generated_at", "tables", "relationships", "warnings"} <= set(doc)
    assert doc["pipeline"] == "default" and doc["relationships"] == []
    orders = next(t for t in doc["tables"] if t["name"] == "orders")
    assert orders["row_count"] == 4
    amount = next(c for c in orders["columns"] if c["name"] == "amount")
    assert {"name", "data_type", "null_ratio", "distinct_count", "semantic_role", "statistics"} <= set(amount)
    assert amount["data_type"] in ("DOUBLE", "DECIMAL(18,2)") and amount["semantic_role"] == "measure"
    assert amount["statistics"]["max"] == 1234.5
    assert any("order_date" in w and "quarantine" in w for w in doc["warnings"])


@pytest.mark.e2e
def test_run_markdown_to_stdout_and_yaml_by_extension(shop: Path, tmp_path: Path):
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"))
    assert result.code == 0, result.err
    assert "## orders (4 rows" in result.out and "| customer_id | BIGINT |" in result.out
    out = tmp_path / "ctx.yaml"
    assert cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--out", str(out)).code == 0
    assert yaml.safe_load(out.read_text())["tables"][0]["name"] == "customers"


def test_workspace_defaults_to_a_directory_under_the_current_one(shop: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("run", str(shop), "--pipeline", "quick_profile").code == 0
    assert (tmp_path / ".dataraum" / "tables" / "orders.parquet").is_file()


@pytest.mark.e2e
def test_demo_prints_a_context():
    result = cli("demo")
    assert result.code == 0, result.err
    for table in ("customers", "products", "orders", "order_items"):
        assert f"## {table} (" in result.out
    # the sample's planted defects are reported
    assert "customers.customer_id: looks like the table's key but 60 distinct values in 61 rows" in result.out
    assert "customers.country: missing values written as 'N/A' (3)" in result.out
    assert "orders.order_date: 1 value(s) not DATE (e.g. '2023-02-30') moved to quarantine" in result.out
    assert "## orders (200 rows; 1 value quarantined)" in result.out
    # personal data stays out of the context: no email address of the sample appears
    assert "@example." not in result.out


def test_user_errors_are_one_line_exit_2(tmp_path: Path, shop: Path):
    cases = [
        ("run", str(tmp_path / "missing.csv")),
        ("run", str(shop), "--pipeline", "nope"),
        ("run", str(shop), "--skip-step", "nope"),
        ("run", str(shop), "--out", str(tmp_path / "ctx.docx")),
        ("run", str(shop), "--format", "xml"),
        ("dag", "--out", str(tmp_path / "dag.gif")),
        ("frobnicate",),
    ]
    for args in cases:
        result = cli(*args)
        assert result.code == 2, (args, result)
        assert len(result.err.strip().splitlines()) == 1, (args, result.err)
        assert "Traceback" not in result.err


def test_failed_critical_step_exits_1_with_its_error(tmp_path: Path, shop: Path):
    pipeline = write(tmp_path / "p.yaml", "name: p\nmodules: [staging, context, flows.failing]\n"
                     "config: {fail_critical: true, fail_required: false}\n")
    result = cli("run", str(shop), "--pipeline", str(pipeline), "--workspace", str(tmp_path / "ws"))
    assert result.code == 1
    assert "critical_failure" in result.err and "critical step broke" in result.err


def test_failed_required_step_exits_1_but_writes_the_context(tmp_path: Path, shop: Path):
    pipeline = write(tmp_path / "p.yaml", "name: p\nmodules: [staging, context, flows.failing]\n"
                     "fail_fast: false\n")
    out = tmp_path / "ctx.md"
    result = cli("run", str(shop), "--pipeline", str(pipeline), "--workspace", str(tmp_path / "ws"),
                 "--out", str(out))
    assert result.code == 1
    assert "broken_requirement (required) failed" in result.err
    assert "warning: optional step flaky_enrichment failed" in result.err
    assert out.is_file()


def test_dag_dot_needs_no_graphviz_binary(tmp_path: Path):
    out = tmp_path / "dag.dot"
    assert cli("dag", "--pipeline", "default", "--out", str(out)).code == 0
    text = out.read_text()
    assert "digraph" in text and "type_resolution" in text and "statistics_profiling" in text


def test_dag_png(tmp_path: Path):
    import shutil

    out = tmp_path / "dag.png"
    result = cli("dag", "--out", str(out))
    if shutil.which("dot"):
        assert result.code == 0 and out.read_bytes()[:4] == b"\x89PNG"
    else:
        assert result.code == 2 and "Graphviz" in result.err


def test_steps_lists_module_and_tags():
    result = cli("steps")
    assert result.code == 0
    line = next(x for x in result.out.splitlines() if x.strip().startswith("type_resolution"))
    assert "dataraum_context.dataflows.type_resolution" in line
    assert "scope=table phase=profiling criticality=required" in line
    assert " built-in " in line


def test_steps_shows_where_each_step_comes_from(tmp_path: Path):
    pipeline = write(tmp_path / "p.yaml", "name: p\nmodules: [staging, schema_profiling, type_resolution, "
                     "statistics, context, flows.sectioned]\n")
    lines = {x.split()[0]: x for x in cli("steps", "--pipeline", str(pipeline)).out.splitlines()[1:]}
    assert " built-in " in lines["staging"]
    assert "flows.sectioned" in lines["row_counts"] and "own module (not installed)" in lines["row_counts"]


def test_pipelines_lists_builtins():
    result = cli("pipelines")
    assert "default" in result.out and "quick_profile" in result.out


def test_a_required_step_failing_on_user_input_exits_2(shop: Path, tmp_path: Path):
    pipeline = write(tmp_path / "p.yaml", "name: p\nmodules: [staging, schema_profiling, type_resolution, "
                     "statistics, semantic, context]\nontology: no_such_ontology\nfail_fast: false\n")
    out = tmp_path / "ctx.json"
    result = cli("run", str(shop), "--pipeline", str(pipeline), "--workspace", str(tmp_path / "ws"),
                 "--out", str(out))
    assert result.code == 2
    assert "step ontology (required) failed" in result.err and "no_such_ontology" in result.err
    assert out.is_file()


def test_runs_lists_the_recorded_runs_newest_first(shop, workspace):
    assert cli("run", str(shop), "--pipeline", "quick_profile", "--workspace", str(workspace)).code == 0
    assert cli("run", str(shop), "--pipeline", "quick_profile", "--workspace", str(workspace),
               "--table", "orders").code == 0
    listed = cli("runs", "--workspace", str(workspace), "--steps")
    assert listed.code == 0
    lines = [line for line in listed.out.splitlines() if not line.startswith(" ")]
    assert len(lines) == 2 and all("quick_profile" in line and "succeeded" in line for line in lines)
    assert "statistics_profiling" in listed.out and "2 computed, 0 cached" in listed.out
    assert "1 computed, 0 cached" in listed.out  # the second run staged only orders
    assert cli("runs", "--workspace", str(workspace), "--last", "1").out.count("quick_profile") == 1


def test_dag_labels_each_step_by_its_name_alone(tmp_path: Path):
    out = tmp_path / "dag.dot"
    assert cli("dag", "--out", str(out)).code == 0
    text = out.read_text()
    assert "skipped_steps" not in text  # was on every box: `staging: skipped_steps`
    for name in ("staging", "type_resolution", "semantic_enrichment", "context_document"):
        assert f"<b>{name}</b>" in text


def test_steps_left_out_with_a_skipped_input_are_listed_on_stderr_and_in_the_context(shop: Path, tmp_path: Path):
    out = tmp_path / "ctx.json"
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--out", str(out),
                 "--skip-step", "statistics_profiling", "--skip-step", "semantic_enrichment")
    assert result.code == 0, result.err
    warning = "step temporal_enrichment left out: it needs statistics_profiling, which is skipped"
    assert f"dataraum: warning: {warning}" in result.err.splitlines()
    assert warning in json.loads(out.read_text())["warnings"]


def test_config_mistakes_found_at_build_time_exit_2(shop: Path, tmp_path: Path):
    cases = {
        "modules: [staging, type_resolution, context]": "needs 'schema_profiling'",
        "modules: [staging, schema_profiling, context]\nconfig: {profile_sample_rows: abc}": "profile_sample_rows",
        "modules: [staging, schema_profiling, context]\nconfig: {profile_sampel_rows: 10}": "'profile_sampel_rows'",
        "modules: [staging, schema_profiling, context]\nsteps: [schema_profiling]\nskip_steps: [schema_profiling]":
            "'schema_profiling' is in both",
    }
    for config, expected in cases.items():
        pipeline = write(tmp_path / "p.yaml", f"name: p\n{config}\n")
        result = cli("run", str(shop), "--pipeline", str(pipeline), "--workspace", str(tmp_path / "ws"))
        assert result.code == 2, (config, result)
        [line] = result.err.splitlines()
        assert expected in line, (config, line)


# --- `dataraum steps` from its cache ---------------------------------------------------------
# In a process of its own, as a user runs it, in a directory unchanged for a minute with the cache
# outside it: a file or directory changed in the last seconds may change again unseen within its
# timestamp's granularity, and the cache does not keep what was built from it. No bytecode is
# written: a new __pycache__ in the working directory is a change the cache sees. The last line
# on stderr says whether Hamilton was imported: the driver was built.
_STEPS = ("import sys\nfrom dataraum_context.cli import main\ncode = main()\n"
          "print('hamilton' in sys.modules, file=sys.stderr)\nsys.exit(code)")

MY_STEPS = """from dataraum_context.models import StagingResult
from dataraum_context.step import step

from levels import LEVEL


@step(scope="source", phase="enrichment", criticality=LEVEL)
def table_total(staging: StagingResult) -> int:
    return len(staging.tables)
"""


@dataclass
class Listed:
    code: int
    out: str
    err: str
    built: bool  # the driver was built (Hamilton imported), not read from the cache


def _steps(cwd: Path, *args: str, **environ: str) -> Listed:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", CACHE_ENV: str(cwd.parent / "cache"), **environ}
    proc = subprocess.run([sys.executable, "-c", _STEPS, "steps", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    *err, built = proc.stderr.splitlines() or [""]
    return Listed(proc.returncode, proc.stdout, "\n".join(err), built == "True")


def _settled(*paths: Path) -> None:
    """Changed a minute ago."""
    then = time.time_ns() - 60_000_000_000
    for path in paths:
        os.utime(path, ns=(then, then))


def _edit(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` (as long as it: the size stays) and move the file's time a second on."""
    assert len(old) == len(new) and old in path.read_text()
    before = path.stat().st_mtime_ns
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(before, before + 1_000_000_000))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with a pipeline of staging and a step module of one's own, whose step takes its
    criticality from a module beside it."""
    project = tmp_path / "project"
    project.mkdir()
    write(project / "p.yaml", "name: p\ndescription: one\nmodules: [staging, my_steps]\n")
    write(project / "child.yaml", "name: child\nextends: p.yaml\n")
    write(project / "my_steps.py", MY_STEPS)
    write(project / "levels.py", 'LEVEL = "optional"\n')
    _settled(*project.iterdir(), project)
    return project


@pytest.mark.e2e
def test_steps_from_the_cache_are_the_steps_built(project: Path):
    first = _steps(project)
    assert first.code == 0 and first.built, first.err
    assert len(list((project.parent / "cache").glob("steps-*.json"))) == 1
    assert _steps(project) == Listed(0, first.out, "", built=False)
    # another pipeline (a flag) is another entry
    flagged = _steps(project, "--pipeline", "quick_profile")
    assert flagged.built and flagged.out.startswith("pipeline quick_profile")
    assert _steps(project, "--pipeline", "quick_profile") == Listed(0, flagged.out, "", built=False)
    assert _steps(project) == Listed(0, first.out, "", built=False)


def test_a_listing_depends_on_the_pipeline_s_files_and_those_it_extends(project: Path):
    from dataraum_context.pipeline import pipeline_files

    builtins = Path(dataflows.__file__).parent / "pipelines"
    assert pipeline_files("financial") == [builtins / "financial.yaml", builtins / "default.yaml"]
    write(project / "fin.yaml", "name: fin\nextends: financial\n")
    assert pipeline_files(project / "fin.yaml") == [project / "fin.yaml", *pipeline_files("financial")]
    assert pipeline_files(project / "child.yaml") == [project / "child.yaml", project / "p.yaml"]


@pytest.mark.e2e
def test_steps_listings_are_kept_in_the_user_cache_directory(project: Path, tmp_path: Path):
    xdg = {CACHE_ENV: "", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert _steps(project, **xdg).built and len(list((tmp_path / "xdg" / "dataraum-context").iterdir())) == 1
    assert not _steps(project, **xdg).built
    home = {CACHE_ENV: "", "XDG_CACHE_HOME": "", "HOME": str(tmp_path / "home")}
    assert _steps(project, **home).built and not _steps(project, **home).built
    assert len(list((tmp_path / "home" / ".cache" / "dataraum-context").iterdir())) == 1


@pytest.mark.e2e
def test_steps_after_an_edit_of_a_step_module_or_what_it_imports_show_the_edit(project: Path):
    assert _steps(project, "--pipeline", "p.yaml").built
    cached = _steps(project, "--pipeline", "p.yaml")
    assert not cached.built and "criticality=optional" in cached.out
    _edit(project / "levels.py", "optional", "required")
    edited = _steps(project, "--pipeline", "p.yaml")
    assert edited.built and "table_total my_steps" in edited.out and "criticality=required" in edited.out
    _edit(project / "my_steps.py", "table_total", "table_count")
    renamed = _steps(project, "--pipeline", "p.yaml")
    assert renamed.built and "table_count my_steps" in renamed.out and "table_total" not in renamed.out
    assert _steps(project, "--pipeline", "p.yaml") == Listed(0, renamed.out, "", built=False)


@pytest.mark.e2e
def test_steps_after_an_edit_of_the_pipeline_or_the_one_it_extends_show_the_edit(project: Path):
    assert _steps(project, "--pipeline", "child.yaml").built
    cached = _steps(project, "--pipeline", "child.yaml")
    assert not cached.built and "table_total" in cached.out
    _edit(project / "p.yaml", "[staging, my_steps]", "[staging]          ")
    edited = _steps(project, "--pipeline", "child.yaml")
    assert edited.built and "  staging " in edited.out and "table_total" not in edited.out
    _edit(project / "child.yaml", "name: child", "name: other")
    assert _steps(project, "--pipeline", "child.yaml").out.startswith("pipeline other")


@pytest.mark.e2e
def test_steps_of_a_pipeline_broken_after_it_was_cached_is_the_error(project: Path):
    assert _steps(project, "--pipeline", "p.yaml").built
    assert not _steps(project, "--pipeline", "p.yaml").built
    _edit(project / "p.yaml", "my_steps]", "no_steps]")
    for _ in range(2):  # an error is never stored as the listing
        broken = _steps(project, "--pipeline", "p.yaml")
        assert broken.code == 2 and broken.out == ""
        assert broken.err.startswith("dataraum: error: p.yaml: modules: unknown module 'no_steps'")
    (project / "p.yaml").unlink()
    gone = _steps(project, "--pipeline", "p.yaml")
    assert gone.code == 2 and gone.err == "dataraum: error: p.yaml: no such pipeline config file"


def _on_import_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    packages = tmp_path / "packages"
    packages.mkdir()
    _settled(packages)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(packages), os.environ.get("PYTHONPATH")])))
    return packages


def _install(packages: Path, module: str, text: str) -> None:
    """A distribution of one step module, as pip leaves it: the module and its metadata."""
    write(packages / f"{module}.py", text)
    info = packages / f"{module}-0.1.dist-info"
    info.mkdir()
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    write(info / "entry_points.txt", f"[dataraum.pipeline_steps]\n{module} = {module}\n")


@pytest.mark.e2e
def test_steps_of_a_step_package_installed_after_the_listing_was_cached(project: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    """A distribution appearing in a directory of the import path brings its steps into the
    default pipeline, named by their distribution."""
    packages = _on_import_path(tmp_path, monkeypatch)
    assert _steps(project).built
    before = _steps(project)
    assert before.code == 0 and not before.built and "extra_total" not in before.out
    _install(packages, "extra_steps", MY_STEPS.replace("from levels import LEVEL", 'LEVEL = "optional"')
             .replace("table_total", "extra_total"))
    after = _steps(project)
    assert after.built, after.err
    line = next(x for x in after.out.splitlines() if x.strip().startswith("extra_total"))
    assert "extra_steps" in line and "extra-steps" in line


@pytest.mark.e2e
def test_steps_with_a_broken_step_package_say_so_every_time(project: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    _install(_on_import_path(tmp_path, monkeypatch), "broken_steps", "raise RuntimeError('half installed')\n")
    _settled(tmp_path / "packages")
    first, again = _steps(project), _steps(project)
    assert first.code == 0 and "broken_steps" in first.err and "half installed" in first.err
    assert again == first  # built again: a listing with a warning is not stored without it


@pytest.mark.e2e
def test_steps_with_a_cache_that_cannot_be_written_or_read(project: Path):
    expected = _steps(project)
    (entry,) = (project.parent / "cache").glob("steps-*.json")
    cut_short = entry.read_text()[:100]
    # a corrupt entry, one cut short, ones of another shape: built again, and written anew
    for corrupt in ("{not json", cut_short, "[]", '{"text": 1, "files": {}}', '{"text": "x", "files": {}}'):
        entry.write_text(corrupt)
        assert _steps(project) == Listed(0, expected.out, "", built=True)
        assert _steps(project) == Listed(0, expected.out, "", built=False)
    # the cache directory cannot be made (as read-only: root may write anywhere)
    entry.unlink()
    (project.parent / "cache").rmdir()
    write(project.parent / "cache", "a file")
    for _ in range(2):
        assert _steps(project) == Listed(0, expected.out, "", built=True)
