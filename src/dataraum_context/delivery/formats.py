"""Output formats: the renderers of the context document, found as `dataraum.output_formats`
entry points (json, markdown, yaml and html built in; any installed package can add one).

An entry point names an `OutputFormat`, or any object with a `render(doc) -> str` method and,
optionally, `extensions` (the file name endings that imply the format) and `description`. One
that fails to load, or is not such an object, is reported by name and skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataraum_context import plugins
from dataraum_context.errors import ConfigError

if TYPE_CHECKING:
    from dataraum_context.models import ContextDocument


@dataclass(frozen=True)
class OutputFormat:
    """A renderer of the context document as text."""

    render: Callable[[ContextDocument], str]
    extensions: tuple[str, ...] = ()  # ".md", ".markdown": `--out` with these picks the format
    description: str = ""


def output_formats() -> dict[str, OutputFormat]:
    """The installed output formats by name, in name order."""
    found = {}
    for name, target in sorted(plugins.output_formats().items()):
        render = getattr(target, "render", None)
        if not callable(render):
            warnings.warn(f"{plugins.OUTPUT_FORMATS} plugin {name!r} is not an output format (it has no "
                          f"render method): {target!r}", plugins.PluginWarning, stacklevel=2)
            continue
        found[name] = target if isinstance(target, OutputFormat) else OutputFormat(
            render=render, extensions=tuple(getattr(target, "extensions", ())),
            description=str(getattr(target, "description", "")))
    return found


def output_format(name: str) -> OutputFormat:
    """The output format called `name`; a ConfigError listing the installed ones when none is."""
    formats = output_formats()
    if name not in formats:
        raise ConfigError(f"unknown output format {name!r} (available: {', '.join(formats) or 'none'})")
    return formats[name]


def format_for(path: str) -> str | None:
    """The name of the output format a file name implies (by its extension), or None."""
    lower = path.lower()
    return next((name for name, fmt in output_formats().items()
                 if any(lower.endswith(ext.lower()) for ext in fmt.extensions)), None)


def render(doc: ContextDocument, format: str = "markdown", tables: Sequence[str] | None = None,
           max_tokens: int | None = None) -> str:
    """`doc` as text in an output format: of `tables` only, when given (a ConfigError names a
    table it does not have); within `max_tokens`, when given (`budget.fit`)."""
    renderer = output_format(format)
    if tables is None and max_tokens is None:
        return renderer.render(doc)
    from dataraum_context.delivery import budget  # here: it imports the quality checks (for their scores)

    if tables is not None:
        doc = budget.of_tables(doc, _known(doc, [tables] if isinstance(tables, str) else tables))
    if max_tokens is None:
        return renderer.render(doc)
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be a positive number of tokens, not {max_tokens}")
    return budget.fit(doc, renderer.render, max_tokens)


def _known(doc: ContextDocument, tables: Sequence[str]) -> list[str]:
    names = [t.name for t in doc.tables]
    unknown = [t for t in tables if t not in names]
    if unknown:
        raise ConfigError(f"no table {', '.join(map(repr, unknown))} in the context (its tables: "
                          f"{', '.join(names) or 'none'})")
    return list(dict.fromkeys(tables))
