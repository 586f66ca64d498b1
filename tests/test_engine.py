"""The local engine: criticality, per-step status, and resuming from Hamilton's cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context.errors import StepFailed

FLOW = "name: failing\nmodules: [staging, context, flows.failing]\nfail_fast: {fail_fast}\n"


def _pipeline(tmp_path: Path, fail_fast: bool = False) -> str:
    path = tmp_path / "failing.yaml"
    path.write_text(FLOW.format(fail_fast=str(fail_fast).lower()))
    return str(path)


def _status(run: dc.PipelineRun) -> dict[str, str]:
    return {s.name: s.status for s in run.steps}


def test_optional_failure_is_a_warning_required_failure_fails_the_run(tmp_path, shop, workspace):
    run = dc.run(_pipeline(tmp_path), sources=[str(shop)], workspace=str(workspace))
    status = _status(run)
    assert status["flaky_enrichment"] == "failed"
    assert status["broken_requirement"] == "failed"
    assert status["needs_broken"] == "skipped"
    assert status["needs_broken_through_a_part"] == "skipped"  # its intermediate node needs it
    assert status["independent_enrichment"] == "succeeded"
    assert status["context_document"] == "succeeded"
    assert run.status == "failed"
    assert any("flaky_enrichment" in w and "service is down" in w for w in run.warnings)
    assert run.results["independent_enrichment"] == 2


def test_only_optional_failures_still_succeed(tmp_path, shop, workspace):
    run = dc.run(_pipeline(tmp_path), sources=[str(shop)], workspace=str(workspace), fail_required=False)
    assert run.status == "succeeded"
    assert _status(run)["flaky_enrichment"] == "failed"
    assert run.warnings


def test_fail_fast_stops_at_a_required_failure(tmp_path, shop, workspace):
    with pytest.raises(StepFailed) as err:
        dc.run(_pipeline(tmp_path, fail_fast=True), sources=[str(shop)], workspace=str(workspace))
    assert err.value.step == "broken_requirement"


def test_critical_failure_stops_the_run(tmp_path, shop, workspace):
    with pytest.raises(StepFailed, match="critical step broke"):
        dc.run(_pipeline(tmp_path), sources=[str(shop)], workspace=str(workspace),
               fail_required=False, fail_critical=True)


@pytest.mark.e2e
def test_rerun_resumes_from_the_cache_and_restages_a_changed_file(shop, workspace):
    first = dc.run("default", sources=[str(shop)], workspace=str(workspace))
    assert set(_status(first).values()) == {"succeeded"}
    second = dc.run("default", sources=[str(shop)], workspace=str(workspace))
    status = _status(second)
    assert status["staging"] == status["statistics_profiling"] == "cached"
    assert second.context.model_dump(exclude={"generated_at"}) == first.context.model_dump(exclude={"generated_at"})

    orders = shop / "orders.csv"
    orders.write_text(orders.read_text() + "14,1,2023-05-01,5.00,shipped\n")
    os.utime(orders, ns=(orders.stat().st_atime_ns, orders.stat().st_mtime_ns + 10**9))
    third = dc.run("default", sources=[str(shop)], workspace=str(workspace))
    assert _status(third)["staging"] == "succeeded"
    assert third.context.table("orders").row_count == 5


def test_step_durations_are_recorded(shop, workspace):
    run = dc.run("quick_profile", sources=[str(shop)], workspace=str(workspace))
    assert [s.name for s in run.steps] == ["staging", "schema_profiling", "type_resolution",
                                          "statistics_profiling", "context_document"]
    assert all(s.duration_s > 0 for s in run.steps)
    assert run.duration_s >= sum(s.duration_s for s in run.steps)


def test_progress_bar_goes_to_stderr(shop, workspace, capsys):
    run = dc.run("quick_profile", sources=[str(shop)], workspace=str(workspace), progress=True)
    captured = capsys.readouterr()
    assert run.succeeded and captured.out == ""
    assert "steps" in captured.err


@pytest.mark.e2e
def test_cached_step_whose_files_were_rewritten_runs_again(shop, workspace):
    """Run 1 types order_date as DATE, run 2 (an override) rewrites orders as VARCHAR, run 3 has
    run 1's inputs: its cached result no longer matches the files, so it is computed again."""
    dc.run("default", sources=[str(shop)], workspace=str(workspace))
    dc.run("default", sources=[str(shop)], workspace=str(workspace),
           type_overrides={"orders.order_date": "VARCHAR"})
    third = dc.run("default", sources=[str(shop)], workspace=str(workspace))
    assert _status(third)["staging"] == "cached"
    assert _status(third)["type_resolution"] == "succeeded"
    types = {row[0]: row[1] for row in dc.Workspace(workspace).sql("DESCRIBE orders").fetchall()}
    assert types["order_date"] == "DATE"
    assert third.context.table("orders").columns[2].data_type == "DATE"


@pytest.mark.e2e
def test_a_changed_source_recomputes_only_its_table(data_dir, workspace):
    """Eight files; one changes: the per-table steps compute that table and serve the other
    seven from the cache, and the run record says so."""
    for i in range(8):
        (data_dir / f"t{i}.csv").write_text("id,amount,day\n" + "".join(
            f"{n},{n * 1.5},2024-01-{n % 28 + 1:02d}\n" for n in range(1, 20 + i)))
    first = dc.run("default", sources=[str(data_dir)], workspace=str(workspace))
    assert first.succeeded
    changed = data_dir / "t3.csv"
    changed.write_text(changed.read_text() + "99,1.0,not a date\n")
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    second = dc.run("default", sources=[str(data_dir)], workspace=str(workspace))

    record = json.loads((workspace / "runs" / f"{second.run_id}.json").read_text())
    assert (record["pipeline"], record["engine"], record["status"]) == ("default", "local", "succeeded")
    steps = {s["name"]: s for s in record["steps"]}
    for name in ("staging", "schema_profiling", "type_resolution", "statistics_profiling", "temporal_enrichment"):
        assert (steps[name]["tables_computed"], steps[name]["tables_cached"]) == (1, 7), name
        assert steps[name]["status"] == "succeeded" and steps[name]["duration_s"] > 0
    assert second.context.table("t3").row_count == 19 + 3 + 1
    assert dc.Workspace(workspace).sql("SELECT count(*) FROM quarantine_t3").fetchall() == [(1,)]
    # nothing changed: every table is served from the cache
    third = dc.run("default", sources=[str(data_dir)], workspace=str(workspace))
    assert {(s.name, s.status, s.tables_cached) for s in third.steps if s.name == "statistics_profiling"} \
        == {("statistics_profiling", "cached", 8)}
    assert [r.run_id for r in dc.Workspace(workspace).runs()] == [third.run_id, second.run_id, first.run_id]


def test_a_failed_run_leaves_its_record(tmp_path, shop, workspace):
    with pytest.raises(StepFailed):
        dc.run(_pipeline(tmp_path, fail_fast=True), sources=[str(shop)], workspace=str(workspace))
    (record,) = dc.Workspace(workspace).runs()
    assert record.status == "failed" and "broken_requirement" in (record.error or "")
    assert {s.name: s.status for s in record.steps}["broken_requirement"] == "failed"
