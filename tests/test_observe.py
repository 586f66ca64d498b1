"""Watching a run through Hamilton lifecycle adapters: the user's own (`adapters=`), and
OpenTelemetry spans per step and per table on every engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from hamilton.lifecycle import NodeExecutionHook
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import dataraum_context as dc
from dataraum_context.engines.otel import Spans

PER_TABLE = ["staging", "schema_profiling", "type_resolution", "statistics_profiling"]


class NodesSeen(NodeExecutionHook):
    def __init__(self) -> None:
        self.nodes: list[str] = []

    def run_before_node_execution(self, *, node_name: str, **kwargs) -> None:
        self.nodes.append(node_name)

    def run_after_node_execution(self, **kwargs) -> None:
        pass


def _three_tables(data_dir: Path) -> Path:
    for i in range(3):
        (data_dir / f"t{i}.csv").write_text("id,amount\n" + "".join(f"{n},{n + i}.5\n" for n in range(1, 9)))
    return data_dir


def test_the_users_adapters_see_the_nodes(shop, workspace):
    seen = NodesSeen()
    run = dc.run("quick_profile", sources=[str(shop)], workspace=str(workspace), adapters=[seen])
    assert run.succeeded
    assert {"source_manifest", "table_staging", "staging", "statistics_profiling"} <= set(seen.nodes)
    assert seen.nodes.count("table_statistics") == 2  # per table

    seen = NodesSeen()
    dr = dc.driver("quick_profile", sources=[str(shop)], workspace=str(workspace), adapters=[seen])
    dr.execute(["staging"])
    assert "table_staging" in seen.nodes and "statistics_profiling" not in seen.nodes


def _spans(engine: str, data_dir: Path, workspace: Path) -> list:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    run = dc.run("quick_profile", sources=[str(_three_tables(data_dir))], workspace=str(workspace),
                 engine=engine, adapters=[Spans(provider)], engines={"dask": {"workers": 2}})
    assert run.succeeded
    return list(exporter.get_finished_spans())


def _check_spans(spans: list) -> None:
    steps = {s.attributes["dataraum.step"]: s for s in spans if s.name.startswith("step ")}
    assert list(steps) == [*PER_TABLE, "context_document"]  # in the order they ran
    for name in PER_TABLE:
        tables = [s for s in spans if s.name.startswith("table ") and s.attributes["dataraum.step"] == name]
        assert sorted(s.attributes["dataraum.table"] for s in tables) == ["t0", "t1", "t2"], name
        assert {s.parent.span_id for s in tables} == {steps[name].context.span_id}
        assert all(steps[name].start_time <= s.start_time <= s.end_time <= steps[name].end_time for s in tables)
    assert all(s.status.status_code != StatusCode.ERROR for s in spans)


@pytest.mark.parametrize("engine", ["local", "threads"])
def test_a_span_per_step_and_per_table(engine, data_dir, workspace):
    _check_spans(_spans(engine, data_dir, workspace))


@pytest.mark.e2e
def test_spans_on_dask_come_from_this_process(data_dir, workspace):
    _check_spans(_spans("dask", data_dir, workspace))


def test_a_failed_step_has_an_error_span(tmp_path, shop, workspace):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    pipeline = tmp_path / "failing.yaml"
    pipeline.write_text("name: failing\nmodules: [staging, context, flows.failing]\nfail_fast: false\n")
    dc.run(str(pipeline), sources=[str(shop)], workspace=str(workspace), adapters=[Spans(provider)])
    failed = [s for s in exporter.get_finished_spans() if s.name == "step flaky_enrichment"]
    assert failed and failed[0].status.status_code == StatusCode.ERROR
    assert "service is down" in failed[0].status.description
