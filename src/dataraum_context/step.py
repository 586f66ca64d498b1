"""`@step`: what makes a dataflow function a pipeline step.

A step is a Hamilton function tagged with its `scope`, `phase` and `criticality`, and dropped
from the DAG when the driver's config lists it in `skipped_steps` (how `steps:` and
`skip_steps:` of a pipeline config take effect). Outside a pipeline config nothing is skipped,
so the modules embed in any Hamilton flow as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from hamilton.function_modifiers import config, tag

SKIPPED_STEPS = "skipped_steps"
STEP_TAGS = ("scope", "phase", "criticality")

Scope = Literal["source", "table", "column"]
Phase = Literal["staging", "profiling", "enrichment", "quality", "delivery"]
Criticality = Literal["critical", "required", "optional"]


def step(*, scope: Scope, phase: Phase, criticality: Criticality) -> Callable[[Callable], Callable]:
    def decorate(fn: Callable) -> Callable:
        name = fn.__name__

        def included(cfg: dict) -> bool:
            return name not in (cfg.get(SKIPPED_STEPS) or ())

        fn = tag(scope=scope, phase=phase, criticality=criticality)(fn)
        return config(included, config_used=[SKIPPED_STEPS])(fn)

    return decorate
