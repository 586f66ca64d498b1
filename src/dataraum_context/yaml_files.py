"""YAML written by users (pipelines, sources, annotations): parsed with the file and line of an error."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dataraum_context.errors import ConfigError


def parse_yaml(text: str, origin: str) -> Any:
    """The YAML document in `text`; a `ConfigError` naming `origin` and the line when it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark else origin
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def read_text(path: Path) -> str:
    """A file that users write, as text; a `ConfigError` naming it when it cannot be read or is
    not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def read_yaml(path: Path) -> Any:
    """The YAML document in the file `path`, with every error a `ConfigError` naming it."""
    return parse_yaml(read_text(path), str(path))


def key_line(text: str, path: Sequence[str | int]) -> int | None:
    """The line (1-based) of the key at `path` (a top-level key, then keys and list positions
    inside it) in the YAML `text`, or of the deepest part of the path it has; None when the
    text is not a mapping. `text` has been parsed already: it is YAML."""
    node, line = yaml.compose(text), None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if k.value == str(part)]
            if not found:
                break
            line, node = found[0][0].start_mark.line + 1, found[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
