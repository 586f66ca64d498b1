"""The local engine: one Hamilton driver in this process, one step at a time.

Running step by step (each step's upstream results handed back as `overrides`) is what lets
criticality act: an optional step that fails becomes a warning and `None` downstream; a
required one fails the run, but with `fail_fast: false` the steps that do not need it still
run; a critical one stops the run. Hamilton's cache in the workspace makes a repeated run
resume: steps whose inputs and code did not change are served from it (status `cached`).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from hamilton import driver as h_driver
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dataraum_context.errors import DataraumError, StepFailed, disk_full
from dataraum_context.models import PipelineRun, StepRun
from dataraum_context.pipeline import PipelineConfig, hard_dependencies, step_nodes, upstream_steps
from dataraum_context.workspace import Workspace


class LocalEngine:
    name = "local"

    def run(self, dr: h_driver.Driver, cfg: PipelineConfig, progress: bool = False) -> PipelineRun:
        nodes = step_nodes(dr)
        workspace = Workspace(dr.graph.config["workspace"])
        upstream = {name: upstream_steps(dr, name) for name in nodes}
        results: dict[str, Any] = {}
        runs: list[StepRun] = []
        warnings: list[str] = []
        broken: set[str] = set()  # failed or skipped steps
        started = time.perf_counter()
        with _progress(progress) as bar:
            task = bar.add_task("", total=len(nodes))
            for name in nodes:
                bar.update(task, description=name)
                criticality = nodes[name].tags.get("criticality", "required")
                missing = [d for d in hard_dependencies(dr, name) if d in broken]
                if missing:
                    broken.add(name)
                    runs.append(StepRun(name=name, criticality=criticality, status="skipped",
                                        error=f"needs {', '.join(missing)}, which did not succeed"))
                    bar.advance(task)
                    continue
                overrides = {d: results.get(d) for d in upstream[name]}
                t0 = time.perf_counter()
                try:
                    results[name] = self._execute(dr, name, overrides, workspace)
                except Exception as exc:
                    full = disk_full(exc)
                    if full is not None:  # every later step would fail the same way
                        raise full from exc
                    broken.add(name)
                    error = f"{type(exc).__name__}: {exc}"
                    runs.append(StepRun(name=name, criticality=criticality, status="failed",
                                        duration_s=time.perf_counter() - t0, error=error,
                                        user_error=isinstance(exc, DataraumError)))
                    if criticality == "optional":
                        warnings.append(f"optional step {name} failed: {error}")
                    elif criticality == "critical" or cfg.fail_fast:
                        if isinstance(exc, DataraumError):
                            raise  # the user's mistake; its message says what and where
                        raise StepFailed(name, exc) from exc
                else:
                    runs.append(StepRun(name=name, criticality=criticality, status=_status(dr, name),
                                        duration_s=time.perf_counter() - t0))
                bar.advance(task)
        failed = any(r.status == "failed" and r.criticality != "optional" for r in runs)
        # a step that could not read part of its input (a source) lists it in `failures`
        unread = [f for result in results.values() for f in getattr(result, "failures", ())]
        warnings.extend(f"source {f.source} was not staged: {f.reason}" for f in unread)
        return PipelineRun(
            pipeline=cfg.name,
            status="failed" if failed else "incomplete" if unread else "succeeded",
            steps=tuple(runs),
            warnings=tuple(warnings),
            duration_s=time.perf_counter() - started,
            results=results,
        )


    @staticmethod
    def _execute(dr: h_driver.Driver, name: str, overrides: dict[str, Any], workspace: Workspace) -> Any:
        """The step's result; a cached one is checked against the files it wrote, and computed
        again when another run has since rewritten them (same inputs, different files)."""
        result = dr.execute([name], overrides=overrides)[name]
        files = getattr(result, "files", None)
        if files and _status(dr, name) == "cached" and workspace.changed(files):
            version = dr.cache.get_data_version(run_id=dr.cache.last_run_id, node_name=name)
            dr.cache.result_store.delete(version)
            result = dr.execute([name], overrides=overrides)[name]
        return result


def _status(dr: h_driver.Driver, name: str) -> str:
    """`cached` when Hamilton's cache served the step in the last execute."""
    cache = getattr(dr, "cache", None)
    if cache is None:
        return "succeeded"
    events = cache.logs(run_id=cache.last_run_id).get(name, [])
    hit = any(getattr(e.event_type, "value", None) == "get_result" for e in events)
    return "cached" if hit else "succeeded"


def _progress(enabled: bool) -> Progress:
    """A progress bar on stderr; it vanishes when done on a terminal, and is written once,
    finished, where stderr is a log."""
    console = Console(file=sys.stderr, quiet=not enabled)
    return Progress(TextColumn("[bold]{task.description:<24}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total} steps"), TimeElapsedColumn(),
                    console=console, transient=console.is_terminal, disable=not enabled)
