"""OpenTelemetry spans of a run (the `otel` extra): one span per step, and inside a per-table
step one per table, on every engine (they come from `observe.StepObserver`).

    from dataraum_context.engines.otel import Spans
    dc.run("default", sources=["data/"], adapters=[Spans()])   # the global tracer provider

The spans are children of the span current when the run starts, so a run inside a span of yours
is traced under it. A failed step or table has an error status and its exception recorded.
"""

from __future__ import annotations

from typing import Any

from dataraum_context.engines.observe import StepObserver
from dataraum_context.errors import ConfigError

try:
    from opentelemetry import trace
except ImportError as exc:  # pragma: no cover (the extra is missing)
    raise ConfigError("OpenTelemetry spans need the otel extra: pip install "
                      f"'dataraum-context[otel]' ({exc})") from None


class Spans(StepObserver):
    def __init__(self, tracer_provider: trace.TracerProvider | None = None):
        self._tracer = trace.get_tracer("dataraum_context", tracer_provider=tracer_provider)
        self._open: dict[str, Any] = {}  # the spans of running steps and tables by name

    def step_started(self, step: str) -> None:
        self._open[step] = self._tracer.start_span(f"step {step}", attributes={"dataraum.step": step})

    def step_finished(self, step: str, error: BaseException | None) -> None:
        _end(self._open.pop(step, None), error)

    def table_started(self, step: str, table: str) -> None:
        parent = self._open.get(step)
        context = trace.set_span_in_context(parent) if parent is not None else None
        self._open[f"{step}\0{table}"] = self._tracer.start_span(
            f"table {table}", context=context, attributes={"dataraum.step": step, "dataraum.table": table})

    def table_finished(self, step: str, table: str, error: BaseException | None) -> None:
        _end(self._open.pop(f"{step}\0{table}", None), error)


def _end(span: Any, error: BaseException | None) -> None:
    if span is None:
        return
    if error is not None:
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()
