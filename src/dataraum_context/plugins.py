"""Entry-point discovery, one function per namespace.

A plugin that fails to import is reported by name and skipped; it never breaks the others.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataraum_context.loaders.base import LoaderBase

LOADERS = "dataraum.loaders"
PIPELINE_STEPS = "dataraum.pipeline_steps"
ONTOLOGIES = "dataraum.ontologies"
LLM_PROVIDERS = "dataraum.llm_providers"
CORE = "dataraum-context"  # the distribution whose entry points are the built-ins
WORKFLOW_ENGINES = "dataraum.workflow_engines"
OUTPUT_FORMATS = "dataraum.output_formats"


class PluginWarning(UserWarning):
    """A plugin could not be loaded."""


def _discover(group: str, names: Collection[str] | None = None) -> dict[str, Any]:
    """The plugins of `group` (only those in `names`, when given: importing the others costs
    time), loaded, by name: the built-ins first, then the plugins by distribution and name."""
    found: dict[str, Any] = {}
    for ep in sorted(entry_points(group=group), key=_builtin_first):
        if names is not None and ep.name not in names:
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001 (a broken third-party plugin must not break discovery)
            warnings.warn(f"{group} plugin {ep.name!r} ({ep.value}) failed to load: {exc}",
                          PluginWarning, stacklevel=2)
    return found


def _builtin_first(ep: EntryPoint) -> tuple[bool, str, str]:
    dist = ep.dist.name if ep.dist else ""
    return dist != CORE, dist, ep.name


def loaders() -> dict[str, type[LoaderBase]]:
    """Loader classes by name (csv, json, parquet, ...)."""
    return _discover(LOADERS)


def pipeline_modules(names: Collection[str] | None = None) -> dict[str, ModuleType]:
    """Hamilton modules that pipeline configs can select, by name; only those in `names`, when
    given (a pipeline's own: the others are not imported)."""
    return _discover(PIPELINE_STEPS, names)


def step_origin(module_name: str) -> str | None:
    """The distribution whose `dataraum.pipeline_steps` entry point provides a step module
    (matched by top-level package, so a package's submodules count); None for a module imported
    by name that no installed distribution declares (your own)."""
    top = module_name.partition(".")[0]
    return next((ep.dist.name for ep in entry_points(group=PIPELINE_STEPS)
                 if ep.dist is not None and ep.module.partition(".")[0] == top), None)


def llm_providers() -> dict[str, type]:
    """Semantic provider classes by name (heuristic, anthropic, and those of plugins)."""
    return _discover(LLM_PROVIDERS)


def workflow_engines(names: Collection[str] | None = None) -> dict[str, type]:
    """Workflow engine classes by name (local, threads, dask, ray, and those of plugins); only
    those in `names`, when given."""
    return _discover(WORKFLOW_ENGINES, names)


def output_formats() -> dict[str, Any]:
    """Renderers of the context by format name (`delivery.formats` checks what they are)."""
    return _discover(OUTPUT_FORMATS)


def ontology_dirs() -> dict[str, Path]:
    """Directories of ontology YAML from plugins, by entry-point name, in name order. An entry
    point names a package (its directory holds the YAML) or an attribute holding a path."""
    found: dict[str, Path] = {}
    for name, target in sorted(_discover(ONTOLOGIES).items()):
        try:
            location = resources.files(target) if isinstance(target, ModuleType) else target
        except TypeError:  # a module, not a package
            location = None
        folder = Path(location) if isinstance(location, str | os.PathLike) else None  # a package in a zip: no
        if folder is not None and folder.is_dir():
            found[name] = folder
        else:
            warnings.warn(f"{ONTOLOGIES} plugin {name!r} does not point at a directory on disk "
                          f"({target!r})", PluginWarning, stacklevel=2)
    return found
