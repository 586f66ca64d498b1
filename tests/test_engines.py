"""Engines found by name in `dataraum.workflow_engines`, their settings, and the same context
from every engine that runs here (local, threads, dask, ray)."""

from __future__ import annotations

import importlib
import re
import sys
import time
import warnings
from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context import engines
from dataraum_context.errors import ConfigError
from dataraum_context.plugins import PluginWarning

from conftest import cli
from support.servers import Reply, Seen

PLUGIN = '''
from dataraum_context.engines.local import LocalEngine


class Engine(LocalEngine):
    name = "mine"

    def __init__(self, greeting: str = "hello"):
        self.greeting = greeting
'''


@pytest.fixture
def engine_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution with two engines: `mine`, which works, and `broken`, whose
    module does not exist."""
    site = tmp_path / "site"
    info = site / "engine_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: engine-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dataraum.workflow_engines]\nmine = engine_plugin_mod:Engine\nbroken = no_such_engine_mod:Engine\n")
    (site / "engine_plugin_mod.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("engine_plugin_mod", None)


def test_an_unknown_engine_names_the_available_ones():
    cfg = dc.load_pipeline("quick_profile")
    available = r"\(available: dask, local, prefect, processes, ray, temporal, threads\)"
    with pytest.raises(ConfigError, match=r"engine .spark. is not available " + available):
        engines.create(engines.choose(cfg, "spark"))


def test_a_plugin_engine_is_found_and_runs_and_a_broken_one_is_skipped_by_name(engine_plugins, shop, workspace):
    with pytest.warns(PluginWarning, match="'broken'"):
        names = engines.available()
    assert "mine" in names and "broken" not in names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        run = dc.run("quick_profile", sources=[str(shop)], workspace=str(workspace), engine="mine",
                     engines={"mine": {"greeting": "hi"}})
    assert run.succeeded and run.engine == "mine"
    assert dc.Workspace(workspace).runs()[0].engine == "mine"


def test_settings_are_keyword_arguments_with_env_references_expanded(engine_plugins, monkeypatch):
    monkeypatch.setenv("DATARAUM_TEST_GREETING", "servus")
    cfg = dc.load_pipeline("quick_profile").model_copy(
        update={"engine": "mine", "engines": {"mine": {"greeting": "${DATARAUM_TEST_GREETING}!"}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        engine = engines.create(engines.choose(cfg))
        assert engine.greeting == "servus!"
        with pytest.raises(ConfigError, match=r"engines\.mine: .*'greting'"):
            engines.create(engines.EngineChoice("mine", {"greting": "x"}))


def test_parallel_true_means_threads_and_an_explicit_engine_wins(shop, workspace):
    cfg = dc.load_pipeline("quick_profile").model_copy(update={"parallel": True})
    assert engines.choose(cfg).name == "threads"
    assert engines.choose(cfg, "local").name == "local"
    run = dc.run("quick_profile", sources=[str(shop)], workspace=str(workspace), parallel=True)
    assert run.succeeded and run.engine == "threads"


@pytest.mark.parametrize("settings", [{"workers": 0}, {"workers": "two"}])
def test_bad_worker_counts_are_config_errors(settings):
    with pytest.raises(ConfigError, match=r"engines\.threads: workers"):
        engines.create(engines.EngineChoice("threads", settings))


def test_literal_secrets_are_refused_when_the_config_is_read():
    with pytest.raises(ConfigError, match=r"engines\.temporal\.api_key must reference an environment variable"):
        dc.run("quick_profile", sources=[], engines={"temporal": {"api_key": "abc"}})
    referenced = dc.PipelineConfig(name="p", modules=["staging"], engines={"temporal": {"api_key": "${K}"}})
    assert referenced.engines["temporal"]["api_key"] == "${K}"


def _context(run: dc.PipelineRun) -> dict:
    assert run.context is not None
    return run.context.model_dump(exclude={"generated_at"})


def _eight_tables(data_dir: Path) -> Path:
    for i in range(8):
        (data_dir / f"t{i}.csv").write_text("id,amount,day,kind\n" + "".join(
            f"{n},{n * 1.5 + i},2024-01-{n % 28 + 1:02d},{'ab'[n % 2]}\n" for n in range(1, 40 + i)))
    return data_dir


@pytest.mark.e2e
@pytest.mark.parametrize("engine", ["threads", "processes", "dask", "ray"])
def test_every_engine_gives_the_local_engines_context(engine, data_dir, tmp_path):
    sources = [str(_eight_tables(data_dir))]
    local = dc.run("default", sources=sources, workspace=str(tmp_path / "local"))
    other = dc.run("default", sources=sources, workspace=str(tmp_path / engine), engine=engine,
                   engines={"dask": {"workers": 2}, "ray": {"workers": 2}})
    assert other.engine == engine and other.succeeded
    assert _context(other) == _context(local)
    counted = {s.name: (s.tables_computed, s.tables_cached) for s in other.steps}
    assert counted["statistics_profiling"] == (8, 0)


FLAKY = '''
from pathlib import Path

from dataraum_context.models import StagingResult
from dataraum_context.step import step


@step(scope="source", phase="enrichment", criticality="required")
def flaky_service(staging: StagingResult, flaky_counter: str, flaky_failures: int, flaky_error: str) -> int:
    """Fails `flaky_failures` times with `flaky_error`, then answers how often it was called."""
    counter = Path(flaky_counter)
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= flaky_failures:
        raise {"timeout": TimeoutError("the service timed out"),
               "refused": ConnectionRefusedError("connection refused"),
               "defect": ValueError("a bug")}[flaky_error]
    return calls
'''


def _flaky_run(tmp_path: Path, shop: Path, monkeypatch: pytest.MonkeyPatch, failures: int, error: str,
               retries: object) -> dc.PipelineRun:
    (tmp_path / "flaky_steps.py").write_text(FLAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("flaky_steps", None)
    pipeline = tmp_path / "flaky.yaml"
    pipeline.write_text("name: flaky\nmodules: [staging, flaky_steps, context]\nfail_fast: false\n")
    return dc.run(str(pipeline), sources=[str(shop)], workspace=str(tmp_path / "ws"), retries=retries,
                  flaky_counter=str(tmp_path / "calls"), flaky_failures=failures, flaky_error=error)


@pytest.mark.parametrize("error", ["timeout", "refused"])
def test_a_transient_failure_is_retried_with_backoff(error, tmp_path, shop, monkeypatch):
    started = time.monotonic()
    run = _flaky_run(tmp_path, shop, monkeypatch, 2, error, {"count": 2, "backoff_s": 0.2})
    step = {s.name: s for s in run.steps}["flaky_service"]
    assert run.succeeded and run.results["flaky_service"] == 3
    assert (step.status, step.attempts) == ("succeeded", 3)
    assert time.monotonic() - started >= 0.2 + 0.4  # waits double
    assert [w for w in run.warnings if "flaky_service ran again" in w and "retry 2 of 2" in w]
    listed = cli("runs", "--workspace", str(tmp_path / "ws"), "--steps").out
    assert re.search(r"flaky_service +succeeded .*  3 attempts$", listed, re.M), listed


def test_retries_run_out_and_the_step_fails_with_its_last_error(tmp_path, shop, monkeypatch):
    run = _flaky_run(tmp_path, shop, monkeypatch, 5, "timeout", 1)
    step = {s.name: s for s in run.steps}["flaky_service"]
    assert (step.status, step.attempts) == ("failed", 2) and "timed out" in step.error


def test_a_defect_is_not_retried(tmp_path, shop, monkeypatch):
    run = _flaky_run(tmp_path, shop, monkeypatch, 1, "defect", 3)
    step = {s.name: s for s in run.steps}["flaky_service"]
    assert (step.status, step.attempts) == ("failed", 1)
    assert (tmp_path / "calls").read_text() == "1"


@pytest.mark.parametrize("with_csv", [True, False], ids=["beside a file", "alone"])
def test_an_api_source_answering_503_is_staged_again(with_csv, http_app, tmp_path, shop):
    answered = []

    def unavailable_once(req: Seen) -> Reply:
        answered.append(req.path)
        if len(answered) == 1:
            return Reply(status=503, body={"error": "maintenance"})
        return Reply(body=[{"id": i, "name": f"p{i}"} for i in range(1, 6)])

    app = http_app(unavailable_once)
    sources = tmp_path / "sources.yaml"
    csv = f"  - name: orders\n    source: {shop / 'orders.csv'}\n" if with_csv else ""
    sources.write_text(f"sources:\n  - name: people\n    source: {app.url}/people\n"
                       f"    options: {{max_retries: 0}}\n{csv}")
    run = dc.run("quick_profile", sources=str(sources), workspace=str(tmp_path / "ws"),
                 retries={"count": 2, "backoff_s": 0})
    staging = {s.name: s for s in run.steps}["staging"]
    assert run.succeeded, run.warnings
    assert staging.attempts == 2 and len(answered) == 2
    assert sorted(t.name for t in run.context.tables) == ["orders", "people"][not with_csv:]
    assert any("HTTP 503" in w and "retry 1 of 2" in w for w in run.warnings)


def test_fresh_ignores_the_cache_and_still_writes_it(tmp_path, shop, workspace):
    pipeline = tmp_path / "cached.yaml"
    pipeline.write_text("name: cached\nmodules: [staging, schema_profiling, type_resolution, statistics, context]\n")
    dc.run(str(pipeline), sources=[str(shop)], workspace=str(workspace))
    result = cli("run", str(shop), "--pipeline", str(pipeline), "--workspace", str(workspace), "--fresh",
                 "--engine", "threads")
    assert result.code == 0, result.err
    fresh, _first = dc.Workspace(workspace).runs(2)
    counted = {s.name: (s.status, s.tables_computed, s.tables_cached) for s in fresh.steps}
    assert fresh.engine == "threads"
    assert counted["statistics_profiling"] == ("succeeded", 2, 0)
    after = dc.run(str(pipeline), sources=[str(shop)], workspace=str(workspace))
    assert {s.name: s.status for s in after.steps}["statistics_profiling"] == "cached"


def test_threads_wait_for_their_tasks_without_taking_a_core(tmp_path, data_dir, monkeypatch):
    """Two tables that each take 2 s on two threads: the run takes them at once, and waiting for
    them costs next to no CPU (Hamilton's task loop alone polls its tasks without a pause)."""
    for i in range(2):
        (data_dir / f"t{i}.csv").write_text("id,amount\n1,2.5\n2,3.5\n")
    pipeline = tmp_path / "counted.yaml"
    pipeline.write_text("name: counted\nmodules: [staging, schema_profiling, type_resolution, statistics, "
                        "flows.slow_tables, context]\n")

    def cpu_and_step_time(sleep_s: float) -> tuple[float, float]:
        monkeypatch.setenv("DATARAUM_TEST_SLEEP_S", str(sleep_s))
        started = time.process_time()
        run = dc.run(str(pipeline), sources=[str(data_dir)], workspace=str(tmp_path / f"ws{sleep_s}"),
                     engine="threads", engines={"threads": {"workers": 2}})
        return time.process_time() - started, {s.name: s for s in run.steps}["row_counts"].duration_s

    cpu_and_step_time(0)  # imports and first calls
    cpu, step_s = cpu_and_step_time(2)
    assert 2 <= step_s < 3.5  # in parallel: not 4 s
    # the whole run, its other steps and 2 s of waiting, in less CPU than half the wait (1.7 s
    # measured with Hamilton's loop polling, 0.5 s without)
    assert cpu < step_s / 2, cpu


@pytest.mark.e2e
def test_dask_at_a_scheduler_address_checks_the_workspace_and_runs(shop, workspace):
    """A scheduler started apart from the run, reached by its address; the workers see the
    workspace (same machine), so the check passes and the run goes to them."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run = dc.run("quick_profile", sources=[str(shop)], workspace=str(workspace), engine="dask",
                     engines={"dask": {"address": cluster.scheduler_address}})
        assert run.succeeded and run.engine == "dask"
        assert {s.name: s.tables_computed for s in run.steps}["statistics_profiling"] == 2
        assert not list(workspace.glob(".probe-*"))


def test_workers_that_do_not_see_the_workspace_stop_the_run_at_once(tmp_path):
    from dataraum_context.engines.parallel import _Remote

    seen_paths = []

    def elsewhere(path: str) -> list[bool]:  # workers on machines without this disk
        seen_paths.append(path)
        return [True, False]

    remote = _Remote(lambda: (None, elsewhere, lambda: None))
    with pytest.raises(ConfigError, match=r"the workers of tcp://far:8786 do not see it; put it on storage"):
        remote.check_workspace(tmp_path, "tcp://far:8786")
    assert seen_paths and seen_paths[0].startswith(str(tmp_path)) and not list(tmp_path.iterdir())
