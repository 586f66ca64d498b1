"""Results of steps the core does not know (a step package's), in the context document.

`context_document` names the built-in steps' results one by one; a step package's cannot be
among its parameters. Instead a step's result joins the context when its type has a method
`context_section()` returning a `ContextSection` (a title, a summary, facts, a table, and data
for JSON). For the steps of a pipeline whose results have one, `build_driver` adds the node
`step_sections`: it takes each such step's result (optional, so a skipped or failed step
leaves it out) and hands their sections, in step order, to `context_document`. A pipeline
without such steps gets no node and its DAG is as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Protocol

from dataraum_context.models import ContextSection
from dataraum_context.step import part_of_step

STEP_SECTIONS = "step_sections"
_CONTEXT = "context_document"


class HasContextSection(Protocol):
    """A step result with a section of its own in the context document."""

    def context_section(self) -> ContextSection: ...


def has_context_section(result_type: Any) -> bool:
    """Whether a step's declared result type renders a section of the context."""
    return isinstance(result_type, type) and callable(getattr(result_type, "context_section", None))


def sections_module(steps: Mapping[str, Any]) -> ModuleType | None:
    """A module with the `step_sections` node over those of `steps` (name -> declared result
    type, in step order) whose results have a context section; None when none has."""
    typed = {name: t for name, t in steps.items() if has_context_section(t)}
    if not typed:
        return None

    def step_sections(**results: HasContextSection | None) -> tuple[ContextSection, ...]:
        """The context sections of the steps whose results have one, in step order; a step
        that was skipped or failed has none."""
        return tuple(result.context_section().model_copy(update={"step": name})
                     for name in typed if (result := results.get(name)) is not None)

    # Hamilton reads a function's inputs from its signature: one optional parameter per step
    returns = tuple[ContextSection, ...]
    step_sections.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=t | None)
         for name, t in typed.items()], return_annotation=returns)
    step_sections.__annotations__ = {**{name: t | None for name, t in typed.items()}, "return": returns}
    # a module of this name: Hamilton takes a module's functions whose `__module__` is the module
    module = ModuleType(__name__)
    module.step_sections = part_of_step(_CONTEXT)(step_sections)  # type: ignore[attr-defined]
    return module
