"""The project's settings, in layers: built-in defaults < the project file < `DATARAUM_*`
environment variables < command-line flags. Each effective value remembers where it came from,
which `dataraum config` shows.

The project file is `dataraum.yaml` in the working directory, or the file given with `--config`
(or `DATARAUM_CONFIG`). Its keys are the settings below (`llm.provider` is written nested,
`llm: {provider: ...}`), and `sources:`, a list of sources as in a `sources.yaml`, used when
`dataraum run` is given none. `KEYS` is the one list of them: the file's valid keys, the
environment variables read and the flags that override them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataraum_context.errors import ConfigError
from dataraum_context.yaml_files import key_line, parse_yaml, read_text

PROJECT_FILE = "dataraum.yaml"
CONFIG_ENV = "DATARAUM_CONFIG"
DEFAULT_PIPELINE = "default"
DEFAULT_WORKSPACE = ".dataraum"


@dataclass(frozen=True)
class Key:
    """One setting: its dotted name in the project file, the environment variable and the flag
    that override it, its default, and what its value is (for checking and for reading an
    environment variable's text)."""

    name: str
    kind: str  # text | paths | sources | engines
    default: Any  # None: the pipeline's own
    env: str | None = None
    flag: str | None = None
    help: str = ""


KEYS: tuple[Key, ...] = (
    Key("pipeline", "text", DEFAULT_PIPELINE, "DATARAUM_PIPELINE", "--pipeline",
        "the pipeline `run`, `dag` and `steps` use: a built-in name or a .yaml path"),
    Key("workspace", "text", DEFAULT_WORKSPACE, "DATARAUM_WORKSPACE", "--workspace", "the workspace directory"),
    Key("engine", "text", None, "DATARAUM_ENGINE", "--engine", "the workflow engine"),
    Key("engines", "engines", {}, None, None, "settings per engine: engines.<name>.<setting>"),
    Key("llm.provider", "text", None, "DATARAUM_LLM_PROVIDER", "--llm-provider",
        "the semantic provider"),
    Key("llm.model", "text", None, "DATARAUM_LLM_MODEL", "--llm-model", "the provider's model"),
    Key("ontology_paths", "paths", [], "DATARAUM_ONTOLOGY_PATH", None,
        f"directories searched for ontologies (the variable: separated by {os.pathsep!r})"),
    Key("sources", "sources", [], None, None, "the sources `run` reads when given none (as in a sources.yaml)"),
)
_BY_NAME = {key.name: key for key in KEYS}
# the file's keys: the top-level names, and under `llm` (and `engines`) their own
_SECTIONS = {"llm": [k.name.split(".")[1] for k in KEYS if k.name.startswith("llm.")]}
_TOP_LEVEL = list(dict.fromkeys(k.name.split(".")[0] for k in KEYS))


@dataclass(frozen=True)
class Setting:
    value: Any
    origin: str  # default | <file>:<line> | env DATARAUM_X | flag --x


class Settings:
    """The effective settings by dotted name (`settings["llm.provider"].value`), each with its
    origin; `file` is the project file read, if any."""

    def __init__(self, values: dict[str, Setting], file: Path | None):
        self._values = values
        self.file = file

    def __getitem__(self, name: str) -> Setting:
        return self._values[name]

    def value(self, name: str) -> Any:
        return self._values[name].value

    def items(self) -> list[tuple[str, Setting]]:
        return list(self._values.items())

    def pipeline_overrides(self) -> dict[str, Any]:
        """What the settings change in a pipeline: the keys set anywhere but in the defaults
        (`llm` merged with the pipeline's own by the caller)."""
        overrides: dict[str, Any] = {}
        if self._values["engine"].value is not None:
            overrides["engine"] = self._values["engine"].value
        if self._values["engines"].value:
            overrides["engines"] = self._values["engines"].value
        llm = {k.split(".")[1]: s.value for k, s in self._values.items()
               if k.startswith("llm.") and s.value is not None}
        if llm:
            overrides["llm"] = llm
        return overrides

    def ontology_paths(self) -> list[str]:
        """The ontology directories of the project file or a flag; those of the environment
        variable the ontology loader reads itself, after any given to it."""
        setting = self._values["ontology_paths"]
        return [] if setting.origin.startswith("env ") else list(setting.value)

    def sources(self) -> list[str]:
        """The project file's sources, for `dataraum run` without any: the file itself, read as
        a sources.yaml (paths in it are relative to it)."""
        return [str(self.file)] if self.file is not None and self._values["sources"].value else []


def load_settings(config: str | os.PathLike[str] | None = None, flags: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """The layered settings: `config` (the `--config` flag) or `DATARAUM_CONFIG` names the
    project file, else `dataraum.yaml` in `cwd` when there is one; `flags` are the command-line
    values by setting name (None: not given)."""
    environ = os.environ if environ is None else environ
    cwd = Path() if cwd is None else cwd  # relative: errors and origins read `dataraum.yaml:3`
    values = {key.name: Setting(key.default, "default") for key in KEYS}
    file = _project_file(config, environ, cwd)
    if file is not None:
        values.update(_read_file(file))
    for key in KEYS:
        text = environ.get(key.env, "") if key.env else ""
        if text.strip():
            values[key.name] = Setting(_from_env(key, text), f"env {key.env}")
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = Setting(value, f"flag {_BY_NAME[name].flag}")
    return Settings(values, file)


def _project_file(config: str | os.PathLike[str] | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    if config is not None or environ.get(CONFIG_ENV):
        path = Path(os.fspath(config)) if config is not None else Path(environ[CONFIG_ENV])
        given = "--config" if config is not None else CONFIG_ENV
        if not path.is_file():
            raise ConfigError(f"{given} {path}: no such file")
        return path
    found = cwd / PROJECT_FILE
    return found if found.is_file() else None


def _from_env(key: Key, text: str) -> Any:
    if key.kind == "paths":
        return [entry for entry in text.split(os.pathsep) if entry]
    return text.strip()


def _read_file(path: Path) -> dict[str, Setting]:
    """The settings a project file sets, each with its file and line. Relative paths in it
    (workspace, a pipeline's .yaml, ontology directories) are relative to the file."""
    text = read_text(path)
    data = parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the project file is a mapping of keys ({', '.join(_TOP_LEVEL)})")
    found: dict[str, Setting] = {}
    for name, value, line in _entries(data, text, path):
        where = f"{path}:{line}"
        found[name] = Setting(_checked(_BY_NAME[name], value, where, path), where)
    return found


def _entries(data: dict[Any, Any], text: str, path: Path) -> list[tuple[str, Any, int | None]]:
    """The file's settings as (dotted name, value, line); an unknown key is an error naming
    the file, the line and the valid keys."""
    entries = []
    for top, value in data.items():
        line = key_line(text, [top])
        if top not in _TOP_LEVEL:
            hint = f"; an engine's settings go under engines: {{{top}: ...}}" if isinstance(value, dict) else ""
            raise ConfigError(f"{path}:{line}: unknown key {top!r} (valid keys: {', '.join(_TOP_LEVEL)}{hint})")
        if top not in _SECTIONS:
            entries.append((top, value, line))
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{path}:{line}: {top}: a mapping with keys {', '.join(_SECTIONS[top])}")
        for sub, subvalue in value.items():
            line = key_line(text, [top, sub])
            if sub not in _SECTIONS[top]:
                raise ConfigError(f"{path}:{line}: unknown key '{top}.{sub}' "
                                  f"(valid keys: {', '.join(_SECTIONS[top])})")
            entries.append((f"{top}.{sub}", subvalue, line))
    return entries


def _checked(key: Key, value: Any, where: str, file: Path) -> Any:
    """A value from the project file, checked against its key's kind; paths made absolute."""
    if value is None:
        return key.default
    if key.kind == "text":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key.name}: expected a text, got {value!r}")
        if key.name == "workspace" or (key.name == "pipeline" and (value.endswith((".yaml", ".yml"))
                                                                    or os.sep in value)):
            return str(file.parent / value)
        return value
    if key.kind == "paths":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
            raise ConfigError(f"{where}: {key.name}: expected a directory or a list of them, got {value!r}")
        return [str(file.parent / p) for p in items]
    if key.kind == "engines":
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ConfigError(f"{where}: engines: a mapping of engine names to their settings "
                              "(engines: {dask: {address: ...}})")
        return value
    if value == []:
        return value
    from dataraum_context.loaders.sources import source_specs  # the loaders: only for a file with sources

    source_specs([str(file)])  # every entry checked as a sources.yaml's, naming the file
    return value
