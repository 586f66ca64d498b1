"""Workflow engines: what runs a pipeline's steps, found by name.

An engine is an object with a `name` and

    run(dr, cfg, progress=False, overrides=None) -> PipelineRun

(`WorkflowEngine`). Engines are the entry points of the group `dataraum.workflow_engines`
(built in: local, threads, dask, ray; the durable extras add prefect and temporal); each names a
class that the run creates with the settings under `engines.<name>:` in the pipeline config as
keyword arguments (`engines: {dask: {address: "tcp://scheduler:8786"}}` creates
`DaskEngine(address="tcp://scheduler:8786")`). Settings are checked when the config is read: a
credential (a key such as `password` or `token`, or a password inside an address) is accepted
only as a `${ENV_VAR}` reference, which is expanded when the engine is created.

An engine that runs the per-table map on Hamilton executors (threads, dask, ray) also has
`task_executor()`, a context manager giving the `hamilton.execution.executors.TaskExecutor` the
driver is built with; it lasts the whole run (a Dask cluster is started and stopped by it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from dataraum_context import plugins
from dataraum_context.errors import ConfigError

if TYPE_CHECKING:
    from hamilton import driver as h_driver
    from hamilton.execution.executors import TaskExecutor

    from dataraum_context.models import PipelineRun
    from dataraum_context.pipeline import PipelineConfig

DEFAULT = "local"
PARALLEL = "threads"  # what `parallel: true` means with the default engine

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# setting names that hold credentials: their values must be ${ENV_VAR} references
_SECRET_KEY = re.compile(r"(^|_)(password|passwd|secret|token|api_key|apikey|key|credentials?)$", re.IGNORECASE)


@runtime_checkable
class WorkflowEngine(Protocol):
    """Runs the steps of a built driver and reports each one's outcome."""

    name: str

    def run(self, dr: h_driver.Driver, cfg: PipelineConfig, progress: bool = False,
            overrides: dict[str, Any] | None = None) -> PipelineRun: ...


class EngineChoice(NamedTuple):
    """The engine a run uses, and its settings as written (`${ENV_VAR}` references unexpanded)."""

    name: str
    settings: dict[str, Any]


def available() -> list[str]:
    """The names of the engines that can be used (broken plugins are warned about and left out)."""
    return sorted(plugins.workflow_engines())


def choose(cfg: PipelineConfig, engine: str | None = None) -> EngineChoice:
    """The engine a run uses: `engine` (`--engine`, `dc.run(engine=...)`) over the pipeline's
    `engine:`; `parallel: true` turns the default `local` into `threads`. Its settings are the
    pipeline's `engines.<name>:`. The one place the choice is made: a project file or the
    environment layer onto it by handing in `engine` or a config with other `engines:`."""
    name = engine or cfg.engine
    if name == DEFAULT and cfg.parallel and not engine:
        name = PARALLEL
    return EngineChoice(name, dict(cfg.engines.get(name) or {}))


def create(choice: EngineChoice) -> WorkflowEngine:
    """The engine of `choice`, created with its settings (`${ENV_VAR}` references expanded). An
    unknown engine, or settings it does not take, are a ConfigError."""
    classes = plugins.workflow_engines([choice.name])
    if choice.name not in classes:
        raise ConfigError(f"engine {choice.name!r} is not available (available: {', '.join(available())})")
    settings = {key: _expanded(value, f"engines.{choice.name}.{key}") for key, value in choice.settings.items()}
    try:
        engine = classes[choice.name](**settings)
    except TypeError as exc:  # a key the engine does not take
        raise ConfigError(f"engines.{choice.name}: {exc}") from None
    except ValueError as exc:  # a pydantic model's validation (a ValueError) or the engine's own check
        raise ConfigError(f"engines.{choice.name}: {str(exc).splitlines()[0]}") from None
    if not isinstance(engine, WorkflowEngine):
        raise ConfigError(f"engine {choice.name!r} ({type(engine).__qualname__}) is not a WorkflowEngine "
                          "(it needs a name and run(dr, cfg, progress, overrides))")
    return engine


def task_executor(engine: WorkflowEngine) -> AbstractContextManager[TaskExecutor | None]:
    """The Hamilton executor `engine` runs the per-table map on while the run lasts; None (the
    calling thread) for an engine without one."""
    own = getattr(engine, "task_executor", None)
    return own() if callable(own) else nullcontext(None)


def transient(exc: BaseException) -> bool:
    """Whether a failure may pass if the step runs again: a timeout, a lost or refused
    connection, an HTTP 408, 429 or 5xx, or an error its raiser marked `transient` (an LLM
    provider's or an API source's once their own retries are spent); also when one of these
    caused `exc`. Never a mistake in the user's input or a defect, which fail the same way again."""
    from http.client import HTTPException
    from urllib.error import HTTPError

    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "transient", False) is True:
            return True
        if isinstance(seen, HTTPError):
            return seen.code in (408, 429) or seen.code >= 500
        if isinstance(seen, TimeoutError | ConnectionError | HTTPException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check_settings(engines: dict[str, Any]) -> None:
    """Engine settings hold no literal credential: a secret key's value is a `${ENV_VAR}`
    reference, and an address carries no password (as sources are checked)."""
    from dataraum_context.loaders.sources import check_no_password, is_uri

    for name, settings in engines.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"engines.{name}: a mapping of settings (address, workers, ...), got {settings!r}")
        for key, value in _flat(settings, f"engines.{name}"):
            if _SECRET_KEY.search(key.rsplit(".", 1)[-1]) and not (isinstance(value, str) and _ENV_REF.search(value)):
                raise ConfigError(f"{key} must reference an environment variable as ${{NAME}} (a secret "
                                  "written into the file would be copied wherever the file goes)")
            if isinstance(value, str) and is_uri(value) and not _ENV_REF.search(value):
                try:
                    check_no_password(value)
                except ConfigError as exc:
                    raise ConfigError(f"{key}: {exc}") from None


def _flat(settings: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in settings.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}.{key}")
        else:
            yield f"{prefix}.{key}", value


def _expanded(value: Any, key: str) -> Any:
    """A setting with its `${ENV_VAR}` references replaced by the variables' values."""
    if isinstance(value, dict):
        return {k: _expanded(v, f"{key}.{k}") for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def read(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            raise ConfigError(f"{key} needs environment variable {match.group(1)}, which is not set")
        return found

    return _ENV_REF.sub(read, value)
