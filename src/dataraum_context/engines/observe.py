"""Watching a run through Hamilton's lifecycle adapters: a step is one graph execution (the
engines execute a step at a time), a table is one task of a per-table block. The hooks used here
are called in the process that runs the driver whatever executes the tasks (threads, Dask, Ray),
so what they see is the same on every engine.

`StepObserver` turns the hooks into `step_started`/`step_finished`/`table_started`/
`table_finished`; `ProgressBar` draws steps and tables on stderr; `engines.otel.Spans` makes
OpenTelemetry spans of them. An observer travels with the tasks to the workers (Hamilton pickles
the adapters with each task) and is inert there.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from hamilton.execution.grouping import NodeGroupPurpose
from hamilton.lifecycle import GraphExecutionHook, TaskReturnHook, TaskSubmissionHook

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class StepObserver(GraphExecutionHook, TaskSubmissionHook, TaskReturnHook):
    """Calls its methods as steps and tables start and finish; subclasses override them."""

    def step_started(self, step: str) -> None:
        """A step (the final node of a graph execution) starts."""

    def step_finished(self, step: str, error: BaseException | None) -> None:
        """It finished; `error` when it failed."""

    def table_started(self, step: str, table: str) -> None:
        """A task of a per-table block of `step` is handed to the executor."""

    def table_finished(self, step: str, table: str, error: BaseException | None) -> None:
        """Its result (or failure) is back."""

    def __getstate__(self) -> dict[str, Any]:  # a copy on a worker: no console, no tracer
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # --- Hamilton's hooks -------------------------------------------------------------------

    def run_before_graph_execution(self, *, final_vars: list[str], run_id: str, **future_kwargs: Any) -> None:
        self.__dict__.setdefault("_observed_steps", {})[run_id] = ", ".join(final_vars)
        self.step_started(self._observed_steps[run_id])

    def run_after_graph_execution(self, *, error: Exception | None, run_id: str, **future_kwargs: Any) -> None:
        steps = self.__dict__.get("_observed_steps", {})
        if run_id in steps:
            self.step_finished(steps.pop(run_id), error)

    def run_before_task_submission(self, *, run_id: str, task_id: str, nodes: list[Any], inputs: dict[str, Any],
                                   purpose: NodeGroupPurpose, **future_kwargs: Any) -> None:
        step = self._block_step(run_id, nodes, purpose)
        if step is not None:
            table = _table_of(nodes, inputs) or task_id
            self.__dict__.setdefault("_observed_tables", {})[(run_id, task_id)] = table
            self.table_started(step, table)

    def run_after_task_return(self, *, run_id: str, task_id: str, nodes: list[Any], error: Exception | None,
                              purpose: NodeGroupPurpose, **future_kwargs: Any) -> None:
        step = self._block_step(run_id, nodes, purpose)
        table = self.__dict__.get("_observed_tables", {}).pop((run_id, task_id), None)
        if step is not None and table is not None:
            self.table_finished(step, table, error)

    def _block_step(self, run_id: str, nodes: list[Any], purpose: NodeGroupPurpose) -> str | None:
        """The step a task of a per-table block belongs to (its nodes' `step` tag); None for the
        other tasks, and on a worker."""
        if purpose != NodeGroupPurpose.EXECUTE_BLOCK or run_id not in self.__dict__.get("_observed_steps", {}):
            return None
        return next((n.tags["step"] for n in nodes if "step" in n.tags), self._observed_steps[run_id])


def _table_of(nodes: list[Any], inputs: dict[str, Any]) -> str | None:
    """The table a block task works on: the name held by its item (the first input of its first
    node: a `ManifestTable`, `StagedTable`, `TableToType`, ...)."""
    for n in nodes:
        for dependency in n.input_types:
            name = _name_in(inputs.get(dependency))
            if name is not None:
                return name
    return None


def _name_in(value: Any, depth: int = 2) -> str | None:
    for attr in ("table", "name", "staged"):
        found = getattr(value, attr, None)
        if isinstance(found, str):
            return found
        if found is not None and depth:
            inner = _name_in(found, depth - 1)
            if inner is not None:
                return inner
    return None


class ProgressBar(StepObserver):
    """Steps done of all, the step running, and its tables done of those handed out, on stderr.
    It vanishes when done on a terminal and is written once, finished, where stderr is a log.
    Off until an engine `start`s it; `dc.run` and `dc.driver` build every driver with one."""

    def __init__(self) -> None:
        self._bar: Progress | None = None

    def start(self, steps: int) -> None:
        # rich is imported here: every run has a bar, few draw it (on a terminal, or `progress=True`)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=sys.stderr)
        self._bar = Progress(TextColumn("[bold]{task.description:<24}"), BarColumn(),
                             TextColumn("{task.completed}/{task.total} steps"),
                             TextColumn("{task.fields[tables]}"), TimeElapsedColumn(),
                             console=console, transient=console.is_terminal)
        self._task: TaskID = self._bar.add_task("", total=steps, tables="")
        self._counts = [0, 0]  # tables done, handed out
        self._bar.start()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def step_done(self) -> None:
        """The engine is done with a step: it ran (perhaps twice), failed, was skipped or overridden."""
        if self._bar is not None:
            self._bar.advance(self._task)

    def step_started(self, step: str) -> None:
        if self._bar is not None:
            self._counts = [0, 0]
            self._bar.update(self._task, description=step, tables="")

    def table_started(self, step: str, table: str) -> None:
        self._count_table(1)

    def table_finished(self, step: str, table: str, error: BaseException | None) -> None:
        self._count_table(0)

    def _count_table(self, which: int) -> None:
        if self._bar is not None:
            self._counts[which] += 1
            self._bar.update(self._task, tables=f"{self._counts[0]}/{self._counts[1]} tables")


def progress_bar(adapters: Any) -> ProgressBar | None:
    """The progress bar among a driver's adapters (`dr.adapter.adapters`), if it has one."""
    return next((a for a in adapters if isinstance(a, ProgressBar)), None)
