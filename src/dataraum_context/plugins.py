"""Entry-point discovery, one function per namespace.

A plugin that fails to import is reported by name and skipped; it never breaks the others.
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

LOADERS = "dataraum.loaders"
PIPELINE_STEPS = "dataraum.pipeline_steps"


class PluginWarning(UserWarning):
    """A plugin could not be loaded."""


def _discover(group: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break discovery
            warnings.warn(f"{group} plugin {ep.name!r} ({ep.value}) failed to load: {exc}",
                          PluginWarning, stacklevel=2)
    return found


def loaders() -> dict[str, type]:
    """Loader classes by name (csv, json, parquet, ...)."""
    return _discover(LOADERS)


def pipeline_modules() -> dict[str, ModuleType]:
    """Hamilton modules that pipeline configs can select, by name."""
    return _discover(PIPELINE_STEPS)
