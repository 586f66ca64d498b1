"""What starting costs: `import dataraum_context`, the CLI's `--help` and a `dataraum steps` whose
listing is cached import neither Hamilton's driver, pandas, pyarrow, polars nor DuckDB (half a
second and 100 MiB); what needs them imports them when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataraum_context.listing_cache import CACHE_ENV

HEAVY = ("hamilton.driver", "pandas", "pyarrow", "polars", "duckdb")


def _imported_after(code: str, modules: tuple[str, ...] = HEAVY, cwd: Path | None = None) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=cwd)
    return json.loads(proc.stdout.splitlines()[-1])


def test_importing_the_package_and_the_cli_imports_nothing_heavy():
    assert _imported_after("import dataraum_context, dataraum_context.cli") == []


def test_help_imports_nothing_heavy():
    code = ("import contextlib, io\nfrom dataraum_context.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])")
    assert _imported_after(code) == []


def test_steps_listed_from_the_cache_import_nothing_heavy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The first `dataraum steps` builds the driver and keeps its listing; the next prints it.
    (In a directory unchanged for a minute: the cache keeps nothing built from what changed in
    the last seconds.)"""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    then = time.time_ns() - 60_000_000_000
    os.utime(cwd, ns=(then, then))
    code = "from dataraum_context.cli import main\nassert main(['steps']) == 0"
    assert "hamilton.driver" in _imported_after(code, cwd=cwd)
    assert _imported_after(code, cwd=cwd) == []


@pytest.mark.parametrize(("code", "unused"), [
    # a result's one line needs no polars (its rows do)
    ("from dataraum_context.models import PipelineRun\n"
     "assert 'ok' in repr(PipelineRun(pipeline='ok', status='succeeded', steps=()))", "polars"),
    # every run has a progress bar; one that never starts draws nothing
    ("from dataraum_context.engines.observe import ProgressBar\nProgressBar()", "rich"),
    # a pipeline's LLM provider is checked by name (again with each pipeline key given); the
    # provider is imported by the step using it
    ("from dataraum_context.pipeline import pipeline_config\npipeline_config('quick_profile', cache=False)",
     "dataraum_context.llm"),
    # the whole context needs no token budget, whose quality scores import the quality checks
    ("import datetime\nfrom dataraum_context.delivery.formats import render\n"
     "from dataraum_context.models import ContextDocument\n"
     "doc = ContextDocument(pipeline='p', generated_at=datetime.datetime.now(), tables=())\n"
     "assert render(doc, 'markdown')", "dataraum_context.quality"),
])
def test_what_is_not_used_is_not_imported(code: str, unused: str):
    assert _imported_after(code, (unused,)) == []


def test_profiling_a_source_typed_at_the_source_imports_no_polars(tmp_path):
    """polars profiles text values; a Parquet file has none to infer (and type resolution needs
    only inference's SQL)."""
    code = (f"import duckdb, dataraum_context as dc\n"
            f"duckdb.sql(\"COPY (SELECT 1 AS id, 'x' AS name) TO '{tmp_path / 'p.parquet'}'\")\n"
            f"assert dc.run('quick_profile', sources=['{tmp_path / 'p.parquet'}'], "
            f"workspace='{tmp_path / 'ws'}').succeeded")
    assert _imported_after(code, ("polars",)) == []


def test_the_lazy_names_are_the_library_s_own():
    import dataraum_context as dc
    from dataraum_context import pipeline, workspace

    assert dc.load_pipeline is pipeline.load_pipeline and dc.Workspace is workspace.Workspace
    assert {"run", "driver", "builder", "PipelineConfig", "Workspace"} <= set(dc.__all__)


def test_a_result_shows_itself_without_the_package_imported_first():
    code = ("from dataraum_context.models import PipelineRun\n"
            "print(repr(PipelineRun(pipeline='p', status='succeeded', steps=())))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and "succeeded" in proc.stdout, proc.stderr


def test_entry_points_are_read_once_and_again_after_an_install(tmp_path, monkeypatch):
    """A run looks up five plugin groups; the installed distributions are read once for all of
    them, and again when a distribution appears in a directory of the import path."""
    from importlib import metadata

    from dataraum_context import plugins

    monkeypatch.syspath_prepend(str(tmp_path))
    reads = []
    monkeypatch.setattr(plugins, "entry_points", lambda: reads.append(1) or metadata.entry_points())
    plugins.loaders(), plugins.workflow_engines(["local"]), plugins.output_formats()
    assert "example_steps" not in plugins.pipeline_modules() and len(reads) == 1

    (tmp_path / "example_steps.py").write_text("def rows() -> int:\n    return 1\n")
    info = tmp_path / "example_steps-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-steps\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dataraum.pipeline_steps]\nexample_steps = example_steps\n")
    assert "example_steps" in plugins.pipeline_modules()
    assert plugins.step_origin("example_steps") == "example-steps" and len(reads) == 2
