"""The prefect engine: the pipeline as a Prefect flow, each step a task, each table of a
per-table step a task inside it, so a run is seen in Prefect's UI step by step and table by table.

It is the local engine (steps in order, criticality, the run record, Hamilton's cache in the
workspace) with Prefect running each step: a step that fails on something passing is retried
by Prefect as `retries:` says, and an optional step that fails is a failed task and a warning on
a run that goes on. Results stay in this process and in the workspace's cache, never in Prefect:
a run that was killed resumes, when run again, from the cache (finished steps and tables).

With no `api_url` Prefect starts its temporary local server for the run (SQLite in
`PREFECT_HOME`), unless `PREFECT_API_URL` names a server; `engines: {prefect: {api_url: ...}}`
sends the runs to that server (`prefect server start`, or Prefect Cloud with its key in
`PREFECT_API_KEY`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hamilton import driver as h_driver
from hamilton.execution import executors
from hamilton.execution.grouping import TaskImplementation

from dataraum_context.engines import transient
from dataraum_context.engines._durable import backoff, check_sources, retry_warning
from dataraum_context.engines.local import LocalEngine, _execute
from dataraum_context.engines.observe import _table_of
from dataraum_context.errors import ConfigError
from dataraum_context.models import PipelineRun
from dataraum_context.pipeline import PipelineConfig, Retries
from dataraum_context.workspace import Workspace

if TYPE_CHECKING:
    from types import ModuleType


class PrefectEngine(LocalEngine):
    name = "prefect"

    def __init__(self, api_url: str | None = None):
        self.api_url = api_url

    @contextmanager
    def task_executor(self) -> Iterator[executors.TaskExecutor]:
        """The per-table blocks, each as a Prefect task of its own (in this thread)."""
        yield _TableTasks()

    def run(self, dr: h_driver.Driver, cfg: PipelineConfig, progress: bool = False,
            overrides: dict[str, Any] | None = None) -> PipelineRun:
        prefect = _prefect()
        from prefect.states import Failed

        def pipeline(workspace: str) -> Any:
            run = LocalEngine.run(self, dr, cfg, progress=progress, overrides=overrides)
            if run.status != "failed":
                return run
            # a run that went on past a failed required step (fail_fast: false) fails its flow too
            failed = ", ".join(s.name for s in run.failed_steps if s.criticality != "optional")
            return Failed(message=f"steps failed: {failed}", data=run)

        flow = prefect.flow(pipeline, name=f"dataraum-{_prefect_name(cfg.name)}", validate_parameters=False,
                            persist_result=False, log_prints=False)
        with _server(self.api_url):
            outcome = flow(workspace=dr.graph.config["workspace"], return_state=True).result(raise_on_failure=False)
        if isinstance(outcome, BaseException):  # what stopped the run, as the local engine raises it
            raise outcome
        return outcome

    def _execute_step(self, dr: h_driver.Driver, cfg: PipelineConfig, name: str, overrides: dict[str, Any],
                      workspace: Workspace, warnings: list[str]) -> tuple[Any, int]:
        # a closure, not parameters: Prefect would walk the upstream results looking for futures
        def attempt() -> tuple[Any, int]:
            from prefect.runtime import task_run

            runs = task_run.run_count
            try:
                return check_sources(_execute(dr, name, overrides, workspace), runs, cfg.retries), runs
            except Exception as exc:
                exc.attempts = runs  # type: ignore[attr-defined]
                raise

        return _task(attempt, name, cfg.retries, warnings)()


class _TableTasks(executors.SynchronousLocalTaskExecutor):
    """Runs each per-table block of a step as a Prefect task named `<step>[<table>]`."""

    def submit_task(self, task: TaskImplementation) -> executors.TaskFuture:
        label = f"{_step_of(task)}[{_table_of(task.nodes, task.dynamic_inputs) or task.task_id}]"
        table_task = _task(lambda: executors.base_execute_task(task), label)
        return executors.TaskFutureWrappingFunction(table_task)


def _task(fn: Callable[[], Any], name: str, retries: Retries | None = None,
          warnings: list[str] | None = None) -> Any:
    """`fn` as a Prefect task: no Prefect cache (Hamilton's serves repeated work), nothing
    persisted; retried as `retries` says when the failure may pass (`engines.transient`), each
    retry a warning in `warnings`."""
    prefect = _prefect()
    from prefect.cache_policies import NO_CACHE

    def may_pass(task: Any, task_run: Any, state: Any) -> bool:
        exc = state.result(raise_on_failure=False)
        if not (isinstance(exc, BaseException) and transient(exc)):
            return False
        if retries is not None and warnings is not None and task_run.run_count <= retries.count:
            warnings.append(retry_warning(name, exc, task_run.run_count, retries))
        return True

    retry: dict[str, Any] = {}
    if retries is not None and retries.count:
        retry = {"retries": retries.count, "retry_condition_fn": may_pass,
                 "retry_delay_seconds": [backoff(i, retries) for i in range(1, retries.count + 1)]}
    return prefect.task(fn, name=name, cache_policy=NO_CACHE, persist_result=False, **retry)


def _step_of(task: TaskImplementation) -> str:
    steps = [n.tags.get("step") for n in task.nodes if n.tags.get("step")]
    return steps[0] if steps else task.base_id


def _prefect_name(name: str) -> str:
    """A pipeline name as Prefect accepts it in a flow's name (no / % & > <)."""
    return re.sub(r"[/%&><]", "-", name)


@contextmanager
def _server(api_url: str | None) -> Iterator[None]:
    """Prefect's API at `api_url` while the run lasts. Without one, Prefect's own choice (its
    temporary server unless PREFECT_API_URL names one), given a minute and a half to start
    rather than Prefect's 20 s, which a busy machine overran."""
    from prefect import settings

    if api_url:
        updates: dict[Any, Any] = {settings.PREFECT_API_URL: api_url.rstrip("/")}
    elif _STARTUP_TIMEOUT not in os.environ:
        updates = {settings.PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 90}
    else:
        updates = {}
    with settings.temporary_settings(updates=updates):
        yield


_STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def _prefect() -> ModuleType:
    try:
        import prefect
    except ImportError as exc:
        raise ConfigError(f"engine 'prefect' needs the prefect extra: pip install 'dataraum-context[prefect]' "
                          f"({exc})") from None
    return prefect
