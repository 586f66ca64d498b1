"""YAML written by users (pipelines, sources, annotations): parsed with the file and line of an error."""

from __future__ import annotations

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
