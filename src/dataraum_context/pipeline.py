"""Pipeline configs (YAML) and their resolution into a Hamilton driver.

A config selects dataflow modules; `steps` (final steps) and `skip_steps` decide which step
nodes stay in the DAG; everything else in it becomes Hamilton config, which Hamilton also hands
to the functions as inputs (`sources`, `workspace`, `null_tokens`, `type_overrides`, ...).
"""

from __future__ import annotations

import importlib
import inspect
import os
import reprlib
import shutil
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args

from hamilton import driver as h_driver
from hamilton import graph_utils
from hamilton.execution import executors
from hamilton.function_modifiers.base import resolve_nodes
from hamilton.htypes import get_type_as_string
from hamilton.lifecycle import base as lifecycle_base
from hamilton.node import DependencyType
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from dataraum_context import engines, plugins
from dataraum_context.errors import ConfigError, first_line
from dataraum_context.loaders.sources import UserSources, check_no_password, config_sources, is_uri
from dataraum_context.models import register_fingerprint
from dataraum_context.sections import sections_module
from dataraum_context.settings import DEFAULT_WORKSPACE
from dataraum_context.step import SKIP_WARNINGS, SKIPPED_STEPS, Phase
from dataraum_context.workspace import Workspace
from dataraum_context.yaml_files import key_line, parse_yaml, read_text

_ONTOLOGY = "ontology"  # the step, and the module computing it


class LLMSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    provider: str = "heuristic"
    model: str | None = None

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, name: str) -> str:
        """One of the `dataraum.llm_providers` entry points (heuristic, anthropic, plugins)."""
        available = plugins.names(plugins.LLM_PROVIDERS)  # loaded when the semantic step asks for it
        if name not in available:
            raise ValueError(f"unknown LLM provider {name!r} (valid: {', '.join(sorted(available))})")
        return name


class Retries(BaseModel):
    """How often a step that failed on something passing (a timeout, a lost connection, an HTTP
    429 or 5xx) is run again, waiting `backoff_s` before the first retry and twice as long
    before each next one (at most `max_backoff_s`). `retries: 3` is short for `{count: 3}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    count: int = Field(default=2, ge=0)
    backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)


class PipelineConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    modules: list[str] | None = None  # None: every installed step module that joins this pipeline
    steps: Literal["all"] | list[str] = "all"
    skip_steps: list[str] = []
    fail_fast: bool = True
    # the seed's name for it: its enrichment steps ran in parallel; here the per-table work does
    parallel: bool = Field(False, validation_alias=AliasChoices("parallel", "parallel_enrichment"))
    tables: list[str] | None = None
    ontology: str | None = "base"  # None: no domain ontology (an empty one: no concepts, no rules)
    llm: LLMSettings = LLMSettings()
    engine: str = "local"
    engines: dict[str, dict[str, Any]] = {}  # settings per engine: `engines: {dask: {address: ...}}`
    retries: Retries = Retries()
    cache: bool = True
    config: dict[str, Any] = {}

    @field_validator("retries", mode="before")
    @classmethod
    def _count_alone(cls, value: Any) -> Any:
        return {"count": value} if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("engines")
    @classmethod
    def _no_literal_secrets(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        engines.check_settings(value)
        return value

    def hamilton_config(self) -> dict[str, Any]:
        """The pipeline's settings as Hamilton config (and thereby function inputs)."""
        cfg: dict[str, Any] = {"pipeline_name": self.name, "llm": self.llm.provider,
                               "ontology_name": self.ontology}
        if self.tables:
            cfg["tables"] = list(self.tables)
        if self.llm.model:
            cfg["llm_model"] = self.llm.model
        return {**cfg, **self.config}


# What a pipeline YAML may hold: the fields, the seed's name for `parallel`, and `extends`.
PIPELINE_KEYS = (*PipelineConfig.model_fields, "parallel_enrichment", "extends")
# the keys a pipeline does not pass on to those extending it: theirs are their own
_NOT_INHERITED = ("name", "description")


# --- loading -------------------------------------------------------------------------------


def builtin_pipelines() -> list[str]:
    folder = resources.files("dataraum_context.dataflows") / "pipelines"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_pipeline(pipeline: str | os.PathLike[str] | PipelineConfig) -> PipelineConfig:
    """A pipeline config by built-in name (`default`) or YAML path, validated, with the pipeline
    it `extends:` (and that one's, ...) merged under it."""
    if isinstance(pipeline, PipelineConfig):
        return pipeline
    data, origin, _files = _merged(os.fspath(pipeline))
    return _validated(data, origin)


def pipeline_files(pipeline: str | os.PathLike[str]) -> list[Path]:
    """The YAML files a pipeline is read from: its own and those it extends, built-ins included
    (one inside a zipped package is no file of its own)."""
    return _merged(os.fspath(pipeline))[2]


def _locate(name: str, beside: Path | None) -> tuple[str, str, Path | None]:
    """The YAML text of a pipeline named by its built-in name or a path (relative to the file
    that names it, `beside`), how errors name it, and its file (None for a built-in)."""
    if _is_path(name):
        path = Path(name) if beside is None else beside / name
        if not path.is_file():
            raise ConfigError(f"{path}: no such pipeline config file")
        return read_text(path), str(path), path
    if name not in builtin_pipelines():
        raise ConfigError(
            f"unknown pipeline {name!r} (built in: {', '.join(builtin_pipelines())}; or give a .yaml path)"
        )
    return _builtin_file(name).read_text("utf-8"), f"{name}.yaml", None


def _builtin_file(name: str) -> Traversable:
    return resources.files("dataraum_context.dataflows") / "pipelines" / f"{name}.yaml"


def _merged(name: str, beside: Path | None = None, chain: tuple[tuple[str, str], ...] = (),
            named_at: str = "") -> tuple[dict[str, Any], str, list[Path]]:
    """A pipeline file's keys with those of the pipeline it extends beneath them (mappings
    merged key by key, anything else replaced), how errors name the file, and the files read.
    Each file is validated on its own first, so an error names the file that has it. `chain`:
    the files extending this one (identity, name), `named_at`: the file and line of the last
    one's `extends`."""
    text, origin, path = _locate(name, beside)
    file = path or _builtin_file(name)
    files = [file] if isinstance(file, Path) else []
    identity = str(path.resolve()) if path else origin
    if identity in dict(chain):
        cycle = " -> ".join([*(n for _i, n in chain), origin])
        raise ConfigError(f"{named_at}: extends: {name!r} makes a cycle ({cycle})")
    data = parse_yaml(text, origin)
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a pipeline config is a mapping of keys ({', '.join(PIPELINE_KEYS)})")
    parent = data.pop("extends", None)
    _validated(data, origin, text)
    if "parallel_enrichment" in data:  # one name in the chain, so a child's overrides its parent's
        data["parallel"] = data.pop("parallel_enrichment")
    if parent is None:
        return data, origin, files
    where = f"{origin}:{key_line(text, ['extends'])}"
    if not isinstance(parent, str):
        raise ConfigError(f"{where}: extends: one pipeline, by built-in name or .yaml path")
    base, _, base_files = _merged(parent, path.parent if path else None, (*chain, (identity, origin)), where)
    inherited = {k: v for k, v in base.items() if k not in _NOT_INHERITED}
    return _merge(inherited, data), origin, files + base_files


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def _is_path(name: str) -> bool:
    """Whether a pipeline is named by its YAML file rather than as a built-in."""
    return name.endswith((".yaml", ".yml")) or os.sep in name


def _origin(pipeline: str | os.PathLike[str] | PipelineConfig) -> str:
    """How an error names where a pipeline came from: its YAML file, or its name."""
    if isinstance(pipeline, PipelineConfig):
        return f"pipeline {pipeline.name!r}"
    name = os.fspath(pipeline)
    return name if _is_path(name) else f"{name}.yaml"


def parse_pipeline(text: str, origin: str) -> PipelineConfig:
    """A pipeline config from YAML text (`extends:` is for files: use `load_pipeline`)."""
    data = parse_yaml(text, origin)
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a pipeline config is a mapping of keys ({', '.join(PIPELINE_KEYS)})")
    return _validated(data, origin, text)


def _validated(data: dict[str, Any], origin: str, text: str | None = None) -> PipelineConfig:
    """`data` as a PipelineConfig; an error names `origin` and, given the YAML `text`, the line."""
    if "parallel" in data and "parallel_enrichment" in data:
        raise ConfigError(f"{origin}: parallel and parallel_enrichment are one setting: give one of them")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        line = key_line(text, loc) if text is not None and loc else None
        raise ConfigError(f"{origin}{'' if line is None else f':{line}'}: "
                          f"{_describe(exc, PIPELINE_KEYS)}") from None


def _describe(exc: ValidationError, valid: Iterable[str]) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        if len(err["loc"]) > 1 and err["loc"][0] == "llm":
            valid = LLMSettings.model_fields
        return f"unknown key {key!r} (valid keys: {', '.join(valid)})"
    if err["type"] == "missing":
        return f"missing key {key!r}"
    return f"{key}: {err['msg']}"


# --- modules and steps ---------------------------------------------------------------------


def resolve_modules(names: Iterable[str], origin: str) -> list[ModuleType]:
    """Dataflow modules by entry-point name (`staging`, ...) or import name: your own module or
    package in the current directory (`my_steps`, `my_flows.steps`) or installed. `origin` (the
    pipeline's YAML file) opens an error. Only these are imported: importing every module made
    building a small pipeline's driver slower."""
    names = list(names)
    available = plugins.pipeline_modules(names)
    return [available[name] if name in available else _import_module(name, origin) for name in names]


def pipeline_modules(cfg: PipelineConfig, origin: str) -> dict[str, ModuleType]:
    """The modules of a pipeline by name: those it lists (each once), or, when it lists none,
    every installed step module that joins it: a module joins every such pipeline unless it
    names the ones it joins in a `PIPELINES` attribute (`PIPELINES = ("financial",)`)."""
    if cfg.modules is not None:
        names = list(dict.fromkeys(cfg.modules))
        return dict(zip(names, resolve_modules(names, origin), strict=True))
    installed = plugins.pipeline_modules()
    return {name: module for name, module in installed.items()
            if cfg.name in getattr(module, "PIPELINES", (cfg.name,))}


def _import_module(name: str, origin: str) -> ModuleType:
    # the current directory first, as `python -m` has it: the `dataraum` script's own
    # directory is on the import path, the directory it runs in is not
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name + ".").startswith(exc.name + "."):  # the module itself is missing
            valid = ", ".join(sorted(plugins.pipeline_modules()))
            raise ConfigError(f"{origin}: modules: unknown module {name!r} (valid: {valid}, "
                              f"or a module importable from {cwd} or installed)") from None
        raise ConfigError(f"{origin}: modules: cannot import {name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 (the module's own code failed as it was imported)
        raise ConfigError(f"{origin}: modules: importing {name!r} failed: {type(exc).__name__}: "
                          f"{first_line(exc)}") from None
    finally:
        if added:
            sys.path.remove(cwd)


def _with_ontology(modules: list[ModuleType],
                   config: dict[str, Any]) -> tuple[list[ModuleType], h_driver.Driver]:
    """The modules, with the `ontology` module when a step needs the ontology and none of them
    computes it, and the driver of them all. The ontology is a setting of the pipeline (its
    `ontology:` key) more than a step a user picks: a pipeline with `quality` and without
    `semantic`, or written before `ontology` was a module, gets it without listing it."""
    dr = _build(modules, config, None)
    computed = [n for n in dr.list_available_variables() if not n.is_external_input]
    if _ONTOLOGY in {n.name for n in computed} or not any(_ONTOLOGY in n.required_dependencies for n in computed):
        return modules, dr
    ontology = plugins.pipeline_modules([_ONTOLOGY])
    if not ontology:  # a broken install: the check of the inputs names what is missing
        return modules, dr
    with_ontology = [*modules, ontology[_ONTOLOGY]]
    return with_ontology, _build(with_ontology, config, None)


def step_nodes(dr: h_driver.Driver) -> dict[str, Any]:
    """The step nodes of a driver's DAG (nodes tagged with a phase) by name, upstream first;
    of the steps whose inputs are all listed, the earliest phase comes next, then by name (so a
    step with no inputs, such as `ontology`, does not jump ahead of staging)."""
    nodes = {n.name: n for n in dr.list_available_variables() if "phase" in n.tags}
    upstream = {name: upstream_steps(dr, name) for name in nodes}
    phases = {phase: i for i, phase in enumerate(get_args(Phase))}
    order: dict[str, Any] = {}
    while len(order) < len(nodes):
        ready = [n for n in nodes if n not in order and upstream[n] <= order.keys()]
        name = min(ready, key=lambda n: (phases.get(nodes[n].tags["phase"], len(phases)), n))
        order[name] = nodes[name]
    return order


def upstream_steps(dr: h_driver.Driver, name: str) -> set[str]:
    """Every step that `name` depends on, directly or not."""
    return {n.name for n in dr.what_is_upstream_of(name) if "phase" in n.tags} - {name}


def hard_dependencies(dr: h_driver.Driver, name: str) -> list[str]:
    """The steps `name` cannot run without: its required inputs that are steps, and those
    reached through the nodes inside it (a per-table block's items and nodes)."""
    graph, found, seen = dr.graph.nodes, [], set()
    pending = [name]
    while pending:
        node = graph[pending.pop()]
        for dep, (_t, kind) in node.input_types.items():
            if kind != DependencyType.REQUIRED or dep in seen or dep not in graph:
                continue
            seen.add(dep)
            if "phase" in graph[dep].tags:
                found.append(dep)
            elif not graph[dep].user_defined:
                pending.append(dep)
    return found


def _skipped(full: h_driver.Driver, cfg: PipelineConfig, origin: str) -> tuple[set[str], list[str]]:
    """Steps to drop: `skip_steps`, and with explicit `steps`, whatever they do not need; and a
    warning for each step dropped because a step it needs is skipped. Keeping a step whose hard
    dependency is dropped, or dropping a critical step nobody named, is an error naming the chain."""
    steps = step_nodes(full)
    valid = ", ".join(steps)
    for name in cfg.skip_steps + ([] if cfg.steps == "all" else cfg.steps):
        if name not in steps:
            raise ConfigError(f"{origin}: unknown step {name!r} (steps of this pipeline: {valid})")
    both = [name for name in cfg.skip_steps if cfg.steps != "all" and name in cfg.steps]
    if both:
        raise ConfigError(f"{origin}: step {both[0]!r} is in both steps and skip_steps")
    skipped = set(cfg.skip_steps)
    if cfg.steps != "all":
        wanted = set(cfg.steps)
        needed = {n.name for n in full.what_is_upstream_of(*cfg.steps)} | wanted
        delivery = {name for name, n in steps.items() if n.tags.get("phase") == "delivery"}
        skipped |= {name for name in steps if name not in needed and name not in delivery}
    requested = set() if cfg.steps == "all" else set(cfg.steps)
    cascade: dict[str, str] = {}  # a step dropped with its input -> that input
    for name in steps:  # upstream first, so a cascade reaches the steps further down
        if name in skipped:
            continue
        for dep in hard_dependencies(full, name):
            if dep not in skipped:
                continue
            # an optional step or an enrichment nobody asked for by name goes with its input
            # (criticality says what a failure does at run time, not what skipping a profile does)
            tags = steps[name].tags
            if (tags.get("criticality") == "optional" or tags.get("phase") == "enrichment") \
                    and name not in requested:
                cascade[name] = dep
                if tags.get("criticality") == "critical":
                    chain = [name, dep]
                    while chain[-1] in cascade:
                        chain.append(cascade[chain[-1]])
                    raise ConfigError(
                        f"{origin}: skipping {chain[-1]!r} would also drop the critical step {name!r} "
                        f"({' -> '.join(reversed(chain))}); skip {name!r} too to run without it")
                skipped.add(name)
                break
            raise ConfigError(f"{origin}: step {name!r} needs {dep!r}, which this pipeline skips")
    return skipped, [f"step {name} left out: it needs {dep}, which is skipped" for name, dep in cascade.items()]


def builder(executor: executors.TaskExecutor | None = None) -> h_driver.Builder:
    """A Hamilton `Builder` that runs our modules: add them, yours, config and a cache.

    Our per-table steps are `Parallelizable`/`Collect` blocks, so dynamic execution is on.
    `executor` runs their items (Hamilton's `MultiThreadingExecutor`, `h_dask.DaskExecutor`,
    `h_ray.RayTaskExecutor`); by default one after the other in this thread: Hamilton's default
    thread pool is polled in a busy loop that takes the GIL from the work (it doubled the
    profile's time)."""
    register_fingerprint()  # before any cache is read
    return (h_driver.Builder().enable_dynamic_execution(allow_experimental_mode=True)
            .with_local_executor(executors.SynchronousLocalTaskExecutor())
            .with_remote_executor(executor or executors.SynchronousLocalTaskExecutor()))


def _build(modules: list[ModuleType], config: dict[str, Any], cache_dir: Path | None, *,
           executor: executors.TaskExecutor | None = None,
           adapters: Sequence[lifecycle_base.LifecycleAdapter] = ()) -> h_driver.Driver:
    built = builder(executor).with_modules(*modules).with_config(config)
    if adapters:
        built = built.with_adapters(*adapters)
    if cache_dir is not None:
        built = built.with_cache(path=str(cache_dir))
    return built.build()


# pipeline keys that `build_driver` takes as keyword arguments, by the field each sets
_KEYWORDS = {**{name: name for name in PipelineConfig.model_fields}, "parallel_enrichment": "parallel"}


def pipeline_config(pipeline: str | os.PathLike[str] | PipelineConfig = "default", **overrides: Any) -> PipelineConfig:
    """The pipeline's config with the pipeline keys among `overrides` set (the others, step
    settings, are left to `build_driver`)."""
    cfg = load_pipeline(pipeline)
    pipeline_keys = {_KEYWORDS[k]: v for k, v in overrides.items() if k in _KEYWORDS}
    if not pipeline_keys:
        return cfg
    try:
        return PipelineConfig.model_validate({**cfg.model_dump(), **pipeline_keys})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, PIPELINE_KEYS)) from None


def build_driver(
    pipeline: str | os.PathLike[str] | PipelineConfig = "default",
    sources: UserSources | None = None,
    workspace: str | os.PathLike[str] | None = None,
    *,
    executor: executors.TaskExecutor | None = None,
    fresh: bool = False,
    adapters: Sequence[lifecycle_base.LifecycleAdapter] = (),
    **overrides: Any,
) -> tuple[h_driver.Driver, PipelineConfig]:
    """The Hamilton driver for a pipeline, and the config it was built from.

    `overrides` may set pipeline keys (`skip_steps=[...]`, `tables=[...]`) or Hamilton config
    read by the steps (`type_overrides={...}`, `null_tokens=[...]`); anything else is an error.
    `executor` runs the per-table blocks (see `builder`); `fresh` starts the workspace's cache
    over, so every node is computed again and cached anew; `adapters` are Hamilton lifecycle adapters (hooks before
    and after each node, task and run).
    """
    cfg = pipeline_config(pipeline, **overrides)
    pipeline_keys = {_KEYWORDS[k]: v for k, v in overrides.items() if k in _KEYWORDS}
    step_config = {k: v for k, v in overrides.items() if k not in _KEYWORDS}

    ws = Workspace(workspace or DEFAULT_WORKSPACE)
    hconfig = {**cfg.hamilton_config(), **step_config, "workspace": str(ws.root)}
    if sources is not None:
        hconfig["sources"] = config_sources(sources, ws)  # frames are written to the workspace here
        # here, not only in the loader: Hamilton logs a failing node's inputs, URI and all
        for source in hconfig["sources"]:
            uri = source if isinstance(source, str) else source.source
            if is_uri(uri):
                check_no_password(uri)

    origin = f"pipeline {cfg.name!r}" if "modules" in pipeline_keys else _origin(pipeline)
    named = pipeline_modules(cfg, origin)
    _check_one_module_per_node(named, hconfig, origin)
    modules, full = _with_ontology(list(named.values()), hconfig)
    _check_config_keys(full, hconfig, cfg, step_config, origin)
    _check_config_types(full, hconfig)
    skipped, skip_warnings = _skipped(full, cfg, f"pipeline {cfg.name!r}")
    if skipped:
        hconfig[SKIPPED_STEPS] = sorted(skipped)
    if skip_warnings:
        hconfig[SKIP_WARNINGS] = skip_warnings
    if fresh and cfg.cache:
        # started over rather than recomputed into: Hamilton keeps a key's first result when the
        # same key is computed again, and the next run would find the old one
        shutil.rmtree(ws.cache_dir, ignore_errors=True)
    sections = sections_module({name: node.type for name, node in step_nodes(full).items()})
    modules = modules if sections is None else [*modules, sections]
    cache_dir = ws.checked_cache_dir() if cfg.cache else None
    if executor is None and cfg.parallel:  # a parallel pipeline's driver (`dc.driver`): tables on threads
        from dataraum_context.engines.parallel import threads

        executor = threads()
    dr = _build(modules, hconfig, cache_dir, executor=executor, adapters=adapters)
    _check_inputs(dr, hconfig, cfg)
    return dr, cfg


def _check_one_module_per_node(modules: dict[str, ModuleType], hconfig: dict[str, Any], origin: str) -> None:
    """Two modules computing the same node are an error naming both (Hamilton's own is a
    traceback): a pipeline replaces a step of ours by listing your module instead of ours."""
    computed_by: dict[str, str] = {}
    for name, module in modules.items():
        for _fn_name, fn in graph_utils.find_functions(module):
            for n in resolve_nodes(fn, hconfig):
                if n.name in computed_by and n.name not in hconfig:  # a config value stands in for a node
                    raise ConfigError(f"{origin}: modules: {computed_by[n.name]!r} and {name!r} both compute "
                                      f"{n.name!r} (to replace a step, list your module instead of ours)")
                computed_by[n.name] = name


def _check_config_keys(dr: h_driver.Driver, hconfig: dict[str, Any], cfg: PipelineConfig,
                       keywords: dict[str, Any], origin: str) -> None:
    """Reject config keys no function reads: a typo must not pass silently. The error names
    where the key was written: under `config:` of the pipeline's file (`origin`), or as a
    keyword argument (`keywords`)."""
    variables = dr.list_available_variables()
    computed = {n.name for n in variables if not n.is_external_input}
    inputs = {d for n in variables for d in n.required_dependencies | n.optional_dependencies} - computed
    # the keys the pipeline itself sets; those under its `config:` must be read by a step
    derived = cfg.model_copy(update={"config": {}}).hamilton_config()
    known = inputs | set(derived) | {"workspace", "sources", SKIPPED_STEPS, SKIP_WARNINGS}
    unknown = sorted(set(hconfig) - known)
    if not unknown:
        return
    # a setting of an installed step this pipeline does not run is no typo (the project's
    # `ontology_paths` reach every pipeline); a step is an input of the steps after it, not a setting
    parameters, functions = _installed_step_names()
    unknown = sorted(set(unknown) - (parameters - functions))
    if unknown:
        settings = sorted(inputs - functions - {"workspace", "sources"})
        where = "" if unknown[0] in keywords else f"{origin}: config: "
        raise ConfigError(f"{where}unknown config key {unknown[0]!r} (the steps of pipeline {cfg.name!r} read: "
                          f"{', '.join(settings)}; pipeline keys: {', '.join(PIPELINE_KEYS)})")


def _installed_step_names() -> tuple[set[str], set[str]]:
    """The parameters of the functions of every installed step module, and the functions."""
    functions = [fn for module in plugins.pipeline_modules().values() for _n, fn in graph_utils.find_functions(module)]
    return ({p for fn in functions for p in inspect.signature(fn).parameters}, {fn.__name__ for fn in functions})


_STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True)


def _check_config_types(dr: h_driver.Driver, hconfig: dict[str, Any]) -> None:
    """Check each config value against the type its steps declare for it: `top_k: "ten"` is
    the user's mistake, to be named before the run, not a step failing halfway through."""
    declared = {n.name: n.type for n in dr.list_available_variables() if n.is_external_input}
    for key, value in hconfig.items():
        if key not in declared:
            continue
        try:
            TypeAdapter(declared[key], config=_STRICT).validate_python(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in (key, *err["loc"]))
            message = err["msg"][:1].lower() + err["msg"][1:]
            raise ConfigError(f"config {where}: {message}, got {reprlib.repr(err['input'])} "
                              f"(declared {get_type_as_string(declared[key])})") from None


def _check_inputs(dr: h_driver.Driver, hconfig: dict[str, Any], cfg: PipelineConfig) -> None:
    """Every input a step cannot do without is computed by a module or set in the config
    (`sources` may come later, at `execute`): a missing module is named before the run."""
    computed = {n.name for n in dr.list_available_variables() if not n.is_external_input}
    for n in dr.list_available_variables():
        missing = sorted(n.required_dependencies - computed - set(hconfig) - {"sources"})
        if n.is_external_input or not missing:
            continue
        providers = [name for name, module in plugins.pipeline_modules().items()
                     if callable(getattr(module, missing[0], None))]
        fix = f"add module {providers[0]!r} to modules" if providers else f"set {missing[0]!r} under config:"
        needing = n.tags.get("step", n.name)  # a node inside a step speaks for its step
        raise ConfigError(f"pipeline {cfg.name!r}: {needing} needs {missing[0]!r}, which none of its modules "
                          f"computes ({fix})")
