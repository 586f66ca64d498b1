"""`@step`: what makes a dataflow function a pipeline step.

A step is a Hamilton function tagged with its `scope`, `phase` and `criticality`, and dropped
from the DAG when the driver's config lists it in `skipped_steps` (how `steps:` and
`skip_steps:` of a pipeline config take effect). Outside a pipeline config nothing is skipped,
so the modules embed in any Hamilton flow as they are.

A step that works table by table is a Hamilton `Parallelizable`/`Collect` block: a node yields
one item per table, per-table nodes compute on one item, and the step node collects them. The
nodes inside are `@part_of_step(<step>)`, so they leave the DAG with their step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from hamilton.function_modifiers import tag
from hamilton.function_modifiers.base import NodeResolver

SKIPPED_STEPS = "skipped_steps"
SKIP_WARNINGS = "skip_warnings"  # why steps nobody named were left out; the context lists them
STEP_TAGS = ("scope", "phase", "criticality")

Scope = Literal["source", "table", "column"]
Phase = Literal["staging", "profiling", "enrichment", "quality", "delivery"]
Criticality = Literal["critical", "required", "optional"]


def step(*, scope: Scope, phase: Phase, criticality: Criticality) -> Callable[[Callable], Callable]:
    def decorate(fn: Callable) -> Callable:
        fn = tag(scope=scope, phase=phase, criticality=criticality)(fn)
        return _unless_skipped(fn.__name__)(fn)

    return decorate


def part_of_step(step_name: str) -> Callable[[Callable], Callable]:
    """A node inside a step (a per-table node, an intermediate result): tagged `step=<name>`
    and dropped from the DAG together with its step."""

    def decorate(fn: Callable) -> Callable:
        return _unless_skipped(step_name)(tag(step=step_name)(fn))

    return decorate


class _unless_skipped(NodeResolver):
    """Keeps a function in the DAG unless the config lists its step in `skipped_steps`.
    Hamilton's `@config` would do the same, but it marks each node it decorates with the config
    key, and drawings then label every step `<step>: skipped_steps`."""

    def __init__(self, step_name: str):
        super().__init__()
        self.step_name = step_name

    def resolve(self, fn: Callable, config: dict[str, Any]) -> Callable | None:
        return None if self.step_name in (config.get(SKIPPED_STEPS) or ()) else fn

    def validate(self, fn: Callable) -> None:
        pass

    def required_config(self) -> list[str]:
        return []

    def optional_config(self) -> dict[str, Any]:
        return {SKIPPED_STEPS: None}
