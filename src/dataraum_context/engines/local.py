"""The local engine: one Hamilton driver in this process, one step at a time.

Running step by step (each step's upstream results handed back as `overrides`) is what lets
criticality act: an optional step that fails becomes a warning and `None` downstream; a
required one fails the run, but with `fail_fast: false` the steps that do not need it still
run; a critical one stops the run. Hamilton's cache in the workspace makes a repeated run
resume: per-table steps compute only the tables whose inputs changed, the others are served
from it (`tables_cached`), and a step served whole is `cached`. A step that fails on something
that may pass (a timeout, an HTTP 503) runs again after a growing wait (`retries:`). Every run,
failed or not, leaves its record in `<workspace>/runs/`. The progress bar is the driver's
`observe.ProgressBar` adapter (`dc.driver` and `dc.run` build drivers with one).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from hamilton import driver as h_driver
from hamilton.node import NodeType

from dataraum_context.engines import transient
from dataraum_context.engines.observe import ProgressBar, progress_bar
from dataraum_context.errors import ConfigError, DataraumError, StepFailed, disk_full, first_line
from dataraum_context.models import PipelineRun, StepRun
from dataraum_context.pipeline import (
    PipelineConfig,
    Retries,
    hard_dependencies,
    step_nodes,
    upstream_steps,
)
from dataraum_context.workspace import Workspace


class LocalEngine:
    name = "local"

    def run(self, dr: h_driver.Driver, cfg: PipelineConfig, progress: bool = False,
            overrides: dict[str, Any] | None = None) -> PipelineRun:
        """Run the pipeline's steps. `overrides` are Hamilton's: values that stand in for nodes
        (a step, or a node inside one), which are then not computed."""
        given = dict(overrides or {})
        unknown = sorted(set(given) - set(dr.graph.nodes))
        if unknown:
            raise ConfigError(f"overrides: {unknown[0]!r} is not a node of pipeline {cfg.name!r} "
                              f"(its steps: {', '.join(step_nodes(dr))})")
        workspace = Workspace(dr.graph.config["workspace"])
        record = _Record(cfg, self.name)
        bar = progress_bar(dr.adapter.adapters) if progress else None
        try:
            if bar is not None:
                bar.start(len(step_nodes(dr)))
            self._run_steps(dr, cfg, workspace, record, bar, given)
        except BaseException as exc:
            workspace.write_run(record.finish("failed", error=exc))
            raise
        finally:
            if bar is not None:
                bar.stop()
        run = record.finish()
        workspace.write_run(run)
        return run

    def _run_steps(self, dr: h_driver.Driver, cfg: PipelineConfig, workspace: Workspace,
                   record: _Record, bar: ProgressBar | None, given: dict[str, Any]) -> None:
        nodes = step_nodes(dr)
        upstream = {name: upstream_steps(dr, name) for name in nodes}
        broken: set[str] = set()  # failed or skipped steps
        for name in nodes:
            self._run_step(dr, cfg, workspace, record, given, name, nodes[name], upstream[name], broken)
            if bar is not None:
                bar.step_done()

    def _run_step(self, dr: h_driver.Driver, cfg: PipelineConfig, workspace: Workspace, record: _Record,
                  given: dict[str, Any], name: str, node: Any, upstream: set[str], broken: set[str]) -> None:
        """Run one step, or record why it does not run; a failure the run cannot go on from raises."""
        criticality = node.tags.get("criticality", "required")
        if name in given:  # the caller's value is the step's result
            record.results[name] = given[name]
            record.steps.append(StepRun(name=name, criticality=criticality, status="overridden"))
            return
        missing = [d for d in hard_dependencies(dr, name) if d in broken]
        if missing:
            broken.add(name)
            record.steps.append(StepRun(name=name, criticality=criticality, status="skipped",
                                        error=f"needs {', '.join(missing)}, which did not succeed"))
            return
        overrides = {**given, **{d: record.results.get(d) for d in upstream}}
        t0 = time.perf_counter()
        try:
            result, attempts = self._execute_step(dr, cfg, name, overrides, workspace, record.warnings)
        except Exception as exc:
            full = disk_full(exc)
            if full is not None:  # every later step would fail the same way
                raise full from exc
            broken.add(name)
            error = f"{type(exc).__name__}: {exc}"
            record.steps.append(StepRun(name=name, criticality=criticality, status="failed",
                                        duration_s=time.perf_counter() - t0, error=error,
                                        user_error=isinstance(exc, DataraumError),
                                        attempts=getattr(exc, "attempts", 1)))
            if criticality == "optional":
                record.warnings.append(f"optional step {name} failed: {error}")
            elif criticality == "critical" or cfg.fail_fast:
                if isinstance(exc, DataraumError):
                    raise  # the user's mistake; its message says what and where
                raise StepFailed(name, exc) from exc
            return
        record.results[name] = result
        computed, cached = _table_counts(dr, name, result)
        whole = computed == 0 and (cached > 0 or _served_from_cache(dr, name))
        record.steps.append(StepRun(
            name=name, criticality=criticality, status="cached" if whole else "succeeded",
            duration_s=time.perf_counter() - t0, tables_computed=computed, tables_cached=cached,
            attempts=attempts))


    def _execute_step(self, dr: h_driver.Driver, cfg: PipelineConfig, name: str, overrides: dict[str, Any],
                      workspace: Workspace, warnings: list[str]) -> tuple[Any, int]:
        """One step's result and the runs it took (`retries:`); the durable engines run it as a task of theirs."""
        return _with_retries(lambda: _execute(dr, name, overrides, workspace), cfg.retries, name, warnings)

class _Record:
    """The run as it happens: steps, warnings and results, finished into a `PipelineRun`."""

    def __init__(self, cfg: PipelineConfig, engine: str):
        self.started_at = datetime.now(UTC)
        # to the microsecond: run ids sort as the runs started, also two in one second
        self.run_id = f"{self.started_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
        self.cfg, self.engine = cfg, engine
        self.steps: list[StepRun] = []
        self.warnings: list[str] = []
        self.results: dict[str, Any] = {}

    def finish(self, status: str | None = None, error: BaseException | None = None) -> PipelineRun:
        # a step that could not read part of its input (a source) lists it in `failures`
        unread = [f for result in self.results.values() for f in getattr(result, "failures", ())]
        warnings = [*self.warnings, *(f"source {f.source} was not staged: {f.reason}" for f in unread)]
        if status is None:
            failed = any(r.status == "failed" and r.criticality != "optional" for r in self.steps)
            status = "failed" if failed else "incomplete" if unread else "succeeded"
        ended_at = datetime.now(UTC)
        return PipelineRun(
            run_id=self.run_id, pipeline=self.cfg.name, engine=self.engine, status=status,
            started_at=self.started_at, ended_at=ended_at, steps=tuple(self.steps),
            warnings=tuple(warnings), error=None if error is None else f"{type(error).__name__}: {error}",
            duration_s=(ended_at - self.started_at).total_seconds(), results=self.results)


def _with_retries(call: Callable[[], Any], retries: Retries, name: str, warnings: list[str]) -> tuple[Any, int]:
    """The step's result and the number of runs it took: a step that fails on something that
    may pass (`engines.transient`), or whose result lists sources that failed so, runs again
    after a wait doubling from `retries.backoff_s`, up to `retries.count` times. Each retry is a
    warning on the run; a failure that gets no retry says how many runs it had (`attempts`)."""
    attempt = 1
    while True:
        try:
            result = call()
        except Exception as exc:
            if attempt > retries.count or not transient(exc):
                exc.attempts = attempt  # type: ignore[attr-defined]
                raise
            reason = f"{type(exc).__name__}: {first_line(exc)}"
        else:
            passing = [f for f in getattr(result, "failures", ()) if getattr(f, "transient", False)]
            if not passing or attempt > retries.count:
                return result, attempt
            reason = f"source {passing[0].source} failed: {passing[0].reason}"
        wait = min(retries.max_backoff_s, retries.backoff_s * 2 ** (attempt - 1))
        warnings.append(f"step {name} ran again after {reason} (retry {attempt} of {retries.count}, "
                        f"after {wait:g}s)")
        time.sleep(wait)
        attempt += 1


def _execute(dr: h_driver.Driver, name: str, overrides: dict[str, Any], workspace: Workspace) -> Any:
    """The step's result. Per-table results served from the cache are checked against the files
    they wrote; where another run has since rewritten those (same inputs, other settings), their
    cache entries are dropped and the step runs again."""
    result = dr.execute([name], overrides=overrides)[name]
    files = getattr(result, "workspace_files", None)
    if files and workspace.changed(files) and _drop_stale(dr, name, workspace):
        result = dr.execute([name], overrides=overrides)[name]
    return result


def _drop_stale(dr: h_driver.Driver, name: str, workspace: Workspace) -> bool:
    """Delete the cached per-table results of step `name` whose files changed; whether any was."""
    cache = getattr(dr, "cache", None)
    if cache is None:
        return False
    dropped = False
    for node_name, task_id in _block_tasks(dr, name):
        version = cache.get_data_version(run_id=cache.last_run_id, node_name=node_name, task_id=task_id)
        cached = cache.result_store.get(version) if isinstance(version, str) else None
        if workspace.changed(getattr(cached, "workspace_files", None) or {}):
            cache.result_store.delete(version)
            dropped = True
    return dropped


def _block_tasks(dr: h_driver.Driver, name: str) -> Iterator[tuple[str, str]]:
    """(node, task id) of the per-table nodes of step `name` in the last execution: the tasks of
    its block (`expand-<item>.<i>.block-<item>`), not its nodes before the block."""
    cache = dr.cache
    per_table = _per_table_nodes(dr, name)
    for key in cache.logs(run_id=cache.last_run_id, level="debug"):
        if isinstance(key, tuple) and key[0] in per_table:
            yield key


def _per_table_nodes(dr: h_driver.Driver, name: str) -> set[str]:
    """The nodes of step `name` inside its `Parallelizable`/`Collect` block (not the step's
    other intermediate nodes, which run once)."""
    own = {n.name: n.node_role for n in dr.graph.nodes.values() if name in (n.name, n.tags.get("step"))}
    expanders = [n for n, role in own.items() if role == NodeType.EXPAND]
    collectors = [n for n, role in own.items() if role == NodeType.COLLECT]
    if not expanders or not collectors:
        return set()
    inside = {n.name for n in dr.what_is_downstream_of(*expanders)} & \
        {n.name for n in dr.what_is_upstream_of(*collectors)}
    return {n for n in inside if own.get(n) == NodeType.STANDARD}


def _table_counts(dr: h_driver.Driver, name: str, result: Any) -> tuple[int, int]:
    """(tables computed, tables served from the cache) of a per-table step; (0, 0) otherwise."""
    cache = getattr(dr, "cache", None)
    if cache is None:
        items = getattr(result, "tables", None)
        return (len(items), 0) if _per_table_nodes(dr, name) and isinstance(items, dict) else (0, 0)
    logs = cache.logs(run_id=cache.last_run_id, level="debug")
    executed: dict[str, bool] = {}
    for node_name, task_id in _block_tasks(dr, name):
        ran = any(_event(e) == "execute_node" for e in logs[(node_name, task_id)])
        executed[task_id] = executed.get(task_id, False) or ran
    computed = sum(executed.values())
    return computed, len(executed) - computed


def _served_from_cache(dr: h_driver.Driver, name: str) -> bool:
    """Whether Hamilton's cache served the step node itself in the last execute."""
    cache = getattr(dr, "cache", None)
    if cache is None:
        return False
    logs = cache.logs(run_id=cache.last_run_id, level="debug")
    events = [e for key, events in logs.items() if (key[0] if isinstance(key, tuple) else key) == name
              for e in events]
    return any(_event(e) == "get_result" for e in events)


def _event(e: Any) -> str | None:
    return getattr(e.event_type, "value", None)
