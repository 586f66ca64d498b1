"""Engines that run the per-table map in parallel: on threads of this process, on processes of
this machine, on a Dask cluster, on Ray. Each is the local engine (steps in order, criticality,
retries, the cache) with a Hamilton executor for the tasks of the per-table blocks; the steps
across tables run here.

A task on Dask or Ray runs in another process, maybe on another machine: it reads and writes the
workspace by its absolute path, so with a scheduler address the workspace must be on storage
every worker sees under the same path (checked at the start of a run). With no address, the
engine starts a cluster on this machine for the run and stops it after.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hamilton import driver as h_driver
from hamilton.caching.adapter import HamiltonCacheAdapter
from hamilton.execution import executors
from hamilton.execution.grouping import TaskImplementation
from hamilton.execution.state import TaskState

from dataraum_context.engines.local import LocalEngine
from dataraum_context.errors import ConfigError
from dataraum_context.models import PipelineRun
from dataraum_context.pipeline import PipelineConfig
from dataraum_context.workspace import Workspace

_WAIT_S = 0.05  # longest pause of Hamilton's task loop between two looks at the tasks in flight


class ThreadsEngine(LocalEngine):
    """The per-table map on a pool of `workers` threads (default: one per core). DuckDB works
    outside the GIL, and each task opens its own connection."""

    name = "threads"

    def __init__(self, workers: int | None = None):
        self.workers = _positive(workers, "workers") or os.cpu_count() or 2

    @contextmanager
    def task_executor(self) -> Iterator[executors.TaskExecutor]:
        yield threads(self.workers)


def threads(workers: int | None = None) -> executors.TaskExecutor:
    """Hamilton's thread pool for the per-table tasks (one thread per core by default), with a
    task loop that waits rather than spins."""
    return _Patient(executors.MultiThreadingExecutor(workers or os.cpu_count() or 2))


class _ClusterEngine(LocalEngine, ABC):
    """An engine whose tasks run in other processes, through `_Remote`."""

    extra = ""

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address
        self.workers = _positive(workers, "workers")
        self._remote: _Remote | None = None

    @contextmanager
    def task_executor(self) -> Iterator[executors.TaskExecutor]:
        self._remote = _Remote(self._start)
        try:
            yield _Patient(self._remote)
        finally:
            self._remote.close()
            self._remote = None

    def run(self, dr: h_driver.Driver, cfg: PipelineConfig, progress: bool = False,
            overrides: dict[str, Any] | None = None) -> PipelineRun:
        if self.address and self._remote is not None:
            self._remote.check_workspace(Workspace(dr.graph.config["workspace"]).root, self.address)
        return super().run(dr, cfg, progress=progress, overrides=overrides)

    @abstractmethod
    def _start(self) -> tuple[_Submit, _Probe, Callable[[], None]]:
        """Connect (or start a local cluster): how to submit a task, how to ask every worker
        whether a file exists, and how to let go."""

    def _missing(self, exc: ImportError) -> ConfigError:
        return ConfigError(f"engine {self.name!r} needs the {self.extra} extra: pip install "
                           f"'dataraum-context[{self.extra}]' ({exc})")


class ProcessesEngine(_ClusterEngine):
    """The per-table map on a pool of `workers` processes of this machine (default: one per
    core), started for the run (spawned: a fork would copy DuckDB's and Hamilton's threads)."""

    name = "processes"

    def __init__(self, workers: int | None = None):
        super().__init__(workers=workers)

    def _start(self) -> tuple[_Submit, _Probe, Callable[[], None]]:
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=self.workers or os.cpu_count() or 2,
                                                      mp_context=multiprocessing.get_context("spawn"))
        return pool.submit, (lambda path: [True]), pool.shutdown


class DaskEngine(_ClusterEngine):
    """The per-table map on Dask: a `distributed.LocalCluster` of `workers` processes started
    for the run, or the scheduler at `address` (`tcp://host:8786`)."""

    name = "dask"
    extra = "dask"

    def _start(self) -> tuple[_Submit, _Probe, Callable[[], None]]:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise self._missing(exc) from None
        cluster = None
        if self.address:
            try:
                client = Client(self.address, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"engines.dask.address {self.address}: cannot connect: {exc}") from None
        else:
            cluster = LocalCluster(n_workers=self.workers or os.cpu_count() or 2, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)

        def close() -> None:
            client.close()
            if cluster is not None:
                cluster.close()

        def probe(path: str) -> list[bool]:
            return list(client.run(os.path.exists, path).values())

        return (lambda fn, task: client.submit(fn, task, pure=False)), probe, close


class RayEngine(_ClusterEngine):
    """The per-table map on Ray: a local `ray.init` with `workers` CPUs for the run, or the
    cluster at `address` (`ray://host:10001`, or `auto`)."""

    name = "ray"
    extra = "ray"

    def _start(self) -> tuple[_Submit, _Probe, Callable[[], None]]:
        try:
            import ray
        except ImportError as exc:
            raise self._missing(exc) from None
        owned = not ray.is_initialized()
        if owned:
            options: dict[str, Any] = {"address": self.address} if self.address else {
                "num_cpus": self.workers or os.cpu_count() or 2, "include_dashboard": False}
            ray.init(log_to_driver=False, configure_logging=False, **options)
        remote = ray.remote(_execute_reporting)
        exists = ray.remote(os.path.exists)

        def probe(path: str) -> list[bool]:
            return [ray.get(exists.remote(path))]

        def close() -> None:
            if owned:
                ray.shutdown()

        return (lambda _fn, task: remote.remote(task).future()), probe, close


_Submit = Callable[[Callable[[TaskImplementation], Any], TaskImplementation], Any]
_Probe = Callable[[str], list[bool]]


def _positive(value: int | None, key: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{key}: a whole number of at least 1, got {value!r}")
    return value


class _Remote(executors.TaskExecutor):
    """Runs tasks in other processes; the cluster is reached at the first task, so a run whose
    tables all come from the cache starts none. A task comes back with the cache's record of what
    it computed and what it read from the cache, which the worker's copy of the cache adapter
    kept: merged into this process's adapter, the run record counts tables as in process."""

    def __init__(self, start: Callable[[], tuple[_Submit, _Probe, Callable[[], None]]]):
        self._start = start
        self._connection: tuple[_Submit, _Probe, Callable[[], None]] | None = None

    def _connected(self) -> tuple[_Submit, _Probe, Callable[[], None]]:
        if self._connection is None:
            self._connection = self._start()
        return self._connection

    def init(self) -> None:  # once per `execute`; the cluster lasts the whole run
        pass

    def finalize(self) -> None:
        pass

    def close(self) -> None:
        if self._connection is not None:
            self._connection[2]()
            self._connection = None

    def check_workspace(self, root: Path, address: str) -> None:
        """Every worker sees the workspace: a file written here is found there by its path."""
        probe = root / f".probe-{uuid.uuid4().hex}"
        probe.touch()
        try:
            seen = self._connected()[1](str(probe))
        finally:
            probe.unlink(missing_ok=True)
        if not all(seen):
            raise ConfigError(f"workspace {root}: the workers of {address} do not see it; put it on storage "
                              "every worker mounts under the same path")

    def submit_task(self, task: TaskImplementation) -> executors.TaskFuture:
        future = self._connected()[0](_execute_reporting, task)
        return _Reported(future, _cache_adapter(task), task.run_id)

    def can_submit_task(self) -> bool:
        return True


def _execute_reporting(task: TaskImplementation) -> tuple[dict[str, Any], list[Any]]:
    """Hamilton's task, and the cache events of it (on a worker: its copy of the adapter's)."""
    results = executors.base_execute_task(task)
    cache = _cache_adapter(task)
    events = [e for e in cache._logs.get(task.run_id, []) if e.task_id == task.task_id] if cache else []
    return results, events


def _cache_adapter(task: TaskImplementation) -> HamiltonCacheAdapter | None:
    found = [a for a in task.adapter.adapters if isinstance(a, HamiltonCacheAdapter)]
    return found[0] if found else None


class _Reported(executors.TaskFutureWrappingPythonFuture):
    """A remote task's future: its results, its cache events merged into this process's log."""

    def __init__(self, future: Any, cache: HamiltonCacheAdapter | None, run_id: str):
        super().__init__(future)
        self._cache, self._run_id, self._merged = cache, run_id, False

    def get_result(self) -> Any:
        reported = super().get_result()
        if reported is None:
            return None
        results, events = reported
        if self._cache is not None and not self._merged:
            self._cache._logs.setdefault(self._run_id, []).extend(events)  # the adapter keeps its log there
            self._merged = True
        return results


class _Patient(executors.TaskExecutor):
    """Hamilton's task loop (`run_graph_to_completion`) asks the tasks in flight for their state
    over and over, with no pause: while they run elsewhere it would take a core here, and the GIL
    from the threads doing the work. This executor pauses the loop once per round until a task
    finishes (or `_WAIT_S` passes): a round is over when a task is asked again."""

    def __init__(self, inner: executors.TaskExecutor):
        self.inner = inner
        self._asked: set[int] = set()
        self._running: dict[int, Any] = {}

    def init(self) -> None:
        self.inner.init()

    def finalize(self) -> None:
        self.inner.finalize()
        self._asked.clear()
        self._running.clear()

    def can_submit_task(self) -> bool:
        return self.inner.can_submit_task()

    def submit_task(self, task: TaskImplementation) -> executors.TaskFuture:
        return _PatientFuture(self.inner.submit_task(task), self)

    def pause(self, future: _PatientFuture) -> None:
        if id(future) in self._asked:
            self._asked.clear()
            _wait_any(list(self._running.values()))
        self._asked.add(id(future))

    def track(self, future: _PatientFuture, running: bool) -> None:
        if running:
            self._running[id(future)] = getattr(future.inner, "future", None)
        else:
            self._running.pop(id(future), None)
            self._asked.discard(id(future))


class _PatientFuture(executors.TaskFuture):
    def __init__(self, inner: executors.TaskFuture, executor: _Patient):
        self.inner, self._executor = inner, executor

    def get_state(self) -> TaskState:
        state = self.inner.get_state()
        running = state == TaskState.RUNNING
        self._executor.track(self, running)
        if running:
            self._executor.pause(self)
        return state

    def get_result(self) -> Any:
        return self.inner.get_result()


def _wait_any(futures: list[Any]) -> None:
    """Until one of `futures` is done, at most `_WAIT_S`: at once for Python futures (threads,
    Ray), by sleeping for the others (Dask's)."""
    python = [f for f in futures if isinstance(f, concurrent.futures.Future)]
    if python and len(python) == len(futures):
        concurrent.futures.wait(python, timeout=_WAIT_S, return_when=concurrent.futures.FIRST_COMPLETED)
    else:
        time.sleep(_WAIT_S / 5)
