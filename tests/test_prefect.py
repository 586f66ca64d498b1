"""The prefect engine against a real Prefect server: the run is a flow, its steps and each table
of a per-table step are tasks, read back through Prefect's client; criticality and retries as
the local engine has them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import dataraum_context as dc

from support.durable import comparable, prefect_env, run_engine, statuses

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FAILING = "name: failing\nmodules: [staging, context, flows.failing]\nfail_fast: false\n"


def _prefect(api: str) -> dict[str, Any]:
    return {"prefect": {"api_url": api}}


def _flow_run_and_tasks(api: str, workspace: Path) -> tuple[Any, dict[str, Any]]:
    """The flow run of the run on `workspace`, and its task runs by name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        (flow_run,) = [r for r in client.read_flow_runs() if r.parameters.get("workspace") == str(workspace)]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    return flow_run, {t.name.rsplit("-", 1)[0]: t for t in tasks}


def test_a_run_is_a_flow_of_step_tasks_with_a_task_per_table(prefect_api, shop, tmp_path):
    local = dc.run("default", sources=[str(shop)], workspace=str(tmp_path / "local"))
    workspace = tmp_path / "ws"
    run = dc.run("default", sources=[str(shop)], workspace=str(workspace), engine="prefect",
                 engines=_prefect(prefect_api))

    assert run.succeeded and run.engine == "prefect"
    assert [(s.name, s.status, s.tables_computed) for s in run.steps] == \
        [(s.name, s.status, s.tables_computed) for s in local.steps]
    assert comparable(run.context, workspace) == comparable(local.context, tmp_path / "local")
    record = json.loads((workspace / "runs" / f"{run.run_id}.json").read_text())
    assert (record["engine"], record["status"]) == ("prefect", "succeeded")

    flow_run, tasks = _flow_run_and_tasks(prefect_api, workspace)
    assert flow_run.state.is_completed()
    assert {s.name for s in run.steps} <= set(tasks)
    for step in ("staging", "statistics_profiling", "quality_assessment"):
        assert {f"{step}[customers]", f"{step}[orders]"} <= set(tasks), step
    assert all(t.state.is_completed() for t in tasks.values())


def test_an_optional_step_that_fails_is_a_failed_task_and_a_warning(prefect_api, shop, tmp_path):
    pipeline = tmp_path / "failing.yaml"
    pipeline.write_text(FAILING)
    workspace = tmp_path / "ws"
    run = dc.run(str(pipeline), sources=[str(shop)], workspace=str(workspace), engine="prefect",
                 engines=_prefect(prefect_api), fail_required=False)

    assert run.status == "succeeded"
    assert {s.name: s.status for s in run.steps}["flaky_enrichment"] == "failed"
    assert any("flaky_enrichment" in w and "service is down" in w for w in run.warnings)
    flow_run, tasks = _flow_run_and_tasks(prefect_api, workspace)
    assert flow_run.state.is_completed()
    assert tasks["flaky_enrichment"].state.is_failed()
    assert tasks["independent_enrichment"].state.is_completed()


def test_a_required_failure_fails_the_run_as_the_local_engine_does(prefect_api, shop, tmp_path):
    pipeline = tmp_path / "failing.yaml"
    pipeline.write_text(FAILING)
    run = dc.run(str(pipeline), sources=[str(shop)], workspace=str(tmp_path / "ws"), engine="prefect",
                 engines=_prefect(prefect_api))
    local = dc.run(str(pipeline), sources=[str(shop)], workspace=str(tmp_path / "local"))
    assert run.status == local.status == "failed"
    assert {s.name: s.status for s in run.steps} == {s.name: s.status for s in local.steps}
    flow_run, _tasks = _flow_run_and_tasks(prefect_api, tmp_path / "ws")
    assert flow_run.state.is_failed() and "broken_requirement" in flow_run.state.message

    with pytest.raises(dc.StepFailed, match="critical step broke"):
        dc.run(str(pipeline), sources=[str(shop)], workspace=str(tmp_path / "critical"), engine="prefect",
               engines=_prefect(prefect_api), fail_required=False, fail_critical=True)
    flow_run, _tasks = _flow_run_and_tasks(prefect_api, tmp_path / "critical")
    assert flow_run.state.is_failed()
    assert [r.status for r in dc.Workspace(tmp_path / "critical").runs()] == ["failed"]


def test_a_step_failing_on_something_passing_is_retried_by_prefect(prefect_api, shop, tmp_path):
    pipeline = tmp_path / "retried.yaml"
    pipeline.write_text("name: retried\nmodules: [staging, context, flows.unreachable_once]\n"
                        "retries: {count: 2, backoff_s: 0.1}\n")
    workspace = tmp_path / "ws"
    run = dc.run(str(pipeline), sources=[str(shop)], workspace=str(workspace), engine="prefect",
                 engines=_prefect(prefect_api), calls_file=str(tmp_path / "calls"))

    step = {s.name: s for s in run.steps}["unreachable_once"]
    assert (run.status, step.status, step.attempts) == ("succeeded", "succeeded", 2)
    assert any("unreachable_once ran again after ConnectionRefusedError" in w for w in run.warnings)
    _flow_run, tasks = _flow_run_and_tasks(prefect_api, workspace)
    assert tasks["unreachable_once"].run_count == 2 and tasks["unreachable_once"].state.is_completed()


def test_without_an_address_the_run_uses_prefects_temporary_server(shop, tmp_path):
    """No server named anywhere: Prefect starts its temporary one for the run (in a process of
    its own, so that the server's start and stop are that process's)."""
    result = run_engine("quick_profile", [str(shop)], tmp_path / "ws", "prefect",
                        env=prefect_env(tmp_path / "home"))
    assert statuses(result) == {"staging": "succeeded", "schema_profiling": "succeeded",
                                "type_resolution": "succeeded", "statistics_profiling": "succeeded",
                                "context_document": "succeeded"}
    assert result["record"]["engine"] == "prefect"
    assert (tmp_path / "home" / "prefect.db").exists()  # the temporary server's database
