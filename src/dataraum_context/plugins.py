"""Entry-point discovery, one function per namespace.

A plugin that fails to import is reported by name and skipped; it never breaks the others.
"""

from __future__ import annotations

import functools
import os
import sys
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
GROUPS = (LOADERS, PIPELINE_STEPS, ONTOLOGIES, LLM_PROVIDERS, WORKFLOW_ENGINES, OUTPUT_FORMATS)


class PluginWarning(UserWarning):
    """A plugin could not be loaded."""


def _discover(group: str, names: Collection[str] | None = None) -> dict[str, Any]:
    """The plugins of `group` (only those in `names`, when given: importing the others costs
    time), loaded, by name: the built-ins first, then the plugins by distribution and name."""
    found: dict[str, Any] = {}
    for _dist, ep in _entry_points(group):
        if names is not None and ep.name not in names:
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001 (a broken third-party plugin must not break discovery)
            warnings.warn(f"{group} plugin {ep.name!r} ({ep.value}) failed to load: {exc}",
                          PluginWarning, stacklevel=2)
    return found


def _entry_points(group: str) -> list[tuple[str, EntryPoint]]:
    """The entry points of `group` with their distribution's name: the built-ins first, then
    the plugins by distribution and name."""
    return _scan(_installed())[group]


def _installed() -> tuple[tuple[str, int], ...]:
    """What decides the installed distributions: the import path, and when each of its
    directories last changed (installing or removing a distribution changes its directory)."""
    return tuple((path, _mtime(path)) for path in sys.path)


def _mtime(path: str) -> int:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=1)
def _scan(installed: tuple[tuple[str, int], ...]) -> dict[str, list[tuple[str, EntryPoint]]]:
    """Our groups' entry points, read once for an installation (`installed`): reading them goes
    through every installed distribution, and a run looks up five groups, some twice."""
    installed_eps = entry_points()
    dist_names: dict[Any, str] = {}  # a distribution's name parses its metadata: once each

    def dist_name(ep: EntryPoint) -> str:
        if ep.dist is None:
            return ""
        if ep.dist not in dist_names:
            dist_names[ep.dist] = ep.dist.name
        return dist_names[ep.dist]

    groups = {group: [(dist_name(ep), ep) for ep in installed_eps.select(group=group)] for group in GROUPS}
    for found in groups.values():
        found.sort(key=lambda item: (item[0] != CORE, item[0], item[1].name))
    return groups


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
    return next((dist for dist, ep in _entry_points(PIPELINE_STEPS)
                 if dist and ep.module.partition(".")[0] == top), None)


def names(group: str) -> list[str]:
    """The names of the plugins of `group`, without importing them (a pipeline config checks
    its LLM provider's name: importing the providers brings pyarrow)."""
    return [ep.name for _dist, ep in _entry_points(group)]


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
