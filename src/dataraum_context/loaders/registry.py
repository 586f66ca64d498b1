"""The loaders registered in the `dataraum.loaders` entry-point group, described for people."""

from __future__ import annotations

import importlib.util

from dataraum_context import plugins


def loader_descriptions() -> list[tuple[str, str, str]]:
    """(name, type-system strength, what it reads) per registered loader; a loader whose driver
    is not installed says how to install it."""
    out = []
    for name, cls in sorted(plugins.loaders().items()):
        reads = [*(f"{s}://" for s in cls.schemes), *cls.extensions]
        text = " ".join(reads) or cls.listed_as or "(by kind in a sources.yaml)"
        if cls.driver and importlib.util.find_spec(cls.driver) is None:
            text += f"  [needs {cls.driver}: pip install 'dataraum-context[{cls.extra}]']"
        out.append((name, cls.type_system.value, text))
    return out
