"""YAML written by users (pipelines, sources, annotations): parsed with the file and line of an error."""

from __future__ import annotations

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
