"""Finding ontology files, reading them strictly, and resolving `extends:`.

An ontology is found by name (its file name without `.yaml`) in, first match wins: the
directories a caller passes (`ontology_paths` in a pipeline's `config:`), the directories in
`DATARAUM_ONTOLOGY_PATH` (separated by `os.pathsep`), the packages of the `dataraum.ontologies`
entry-point group (in entry-point name order), and the built-in `ontologies/`.

`extends:` is resolved by merging the files of the chain parents first (a depth-first
post-order over the parents, left to right, each file once, so a diamond merges its shared base
once): an entry replaces the earlier entry of the same name in place, new entries are appended.
Every mistake is a `ConfigError` naming the file, the line and the path inside it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dataraum_context import plugins
from dataraum_context.errors import ConfigError
from dataraum_context.models import Frozen
from dataraum_context.ontology.models import (
    RULE_PARAMETERS,
    SECTIONS,
    Concept,
    Metric,
    Ontology,
    OntologyFile,
    QualityRule,
    RuleType,
    SemanticHint,
    SuggestedQuery,
)

ENV_PATH = "DATARAUM_ONTOLOGY_PATH"
SUFFIX = ".yaml"

_ENTRY_MODELS: dict[str, type[BaseModel]] = {
    "concepts": Concept, "metrics": Metric, "quality_rules": QualityRule,
    "semantic_hints": SemanticHint, "suggested_queries": SuggestedQuery,
}
FUNCTIONS = frozenset({"sum", "avg", "min", "max", "count", "count_distinct", "abs", "nullif",
                       "coalesce"})
FORMULA_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/(),]))")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class OntologySource(Frozen):
    """Where an ontology file was found, and which files of the same name it hides."""

    name: str
    path: str
    provider: str  # built-in | plugin NAME | a directory (and where it was configured)
    shadows: tuple[str, ...] = ()


# --- finding -------------------------------------------------------------------------------


def _builtin_dir() -> Path:
    return Path(str(resources.files("dataraum_context.ontologies")))


def _search_dirs(paths: Iterable[str | os.PathLike[str]] | None, first: Path | None) -> list[tuple[Path, str]]:
    """The directories to search, in order, each with how it came to be searched."""
    dirs: list[tuple[Path, str]] = []
    if first is not None:
        dirs.append((first, f"{first} (the file's own directory)"))
    for given in paths or ():
        path = Path(given)
        if not path.is_dir():
            raise ConfigError(f"ontology_paths: {os.fspath(given)}: no such directory")
        dirs.append((path, str(path)))
    for entry in os.environ.get(ENV_PATH, "").split(os.pathsep):
        if entry:
            path = Path(entry)
            if not path.is_dir():
                raise ConfigError(f"{ENV_PATH}: {entry}: no such directory")
            dirs.append((path, f"{path} ({ENV_PATH})"))
    dirs += [(folder, f"plugin {name}") for name, folder in plugins.ontology_dirs().items()]
    dirs.append((_builtin_dir(), "built-in"))
    return dirs


def find_ontologies(paths: Iterable[str | os.PathLike[str]] | None = None,
                    first: Path | None = None) -> dict[str, OntologySource]:
    """Every ontology that can be loaded by name, sorted by name; the first of a name wins."""
    found: dict[str, OntologySource] = {}
    for folder, provider in _search_dirs(paths, first):
        for file in sorted(folder.glob(f"*{SUFFIX}")):
            name = file.name[: -len(SUFFIX)]
            if name in found:
                found[name] = found[name].model_copy(update={"shadows": (*found[name].shadows, provider)})
            else:
                found[name] = OntologySource(name=name, path=str(file), provider=provider)
    return dict(sorted(found.items()))


# --- reading one file ----------------------------------------------------------------------


# libyaml when it is there: ten times faster than the pure-Python parser
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class _Parsed:
    source: OntologySource
    model: OntologyFile
    text: str  # parsed again for line numbers, only when there is an error to report

    def error(self, loc: Sequence[str | int], message: str) -> ConfigError:
        return _error(self.source, self.text, loc, message)


def _error(source: OntologySource, text: str, loc: Sequence[str | int], message: str) -> ConfigError:
    where = _path(loc)
    line = _line(yaml.compose(text, Loader=yaml.SafeLoader), loc)
    return ConfigError(f"{source.path}:{line}: {where + ': ' if where else ''}{message}")


def read_ontology_file(source: OntologySource) -> OntologyFile:
    """One file as written, validated strictly, without resolving `extends:`."""
    return _read(source).model


def _read(source: OntologySource) -> _Parsed:
    try:
        text = Path(source.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source.path}: cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source.path}:{mark.line + 1}" if mark else source.path
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source.path}: an ontology is a mapping of keys "
                          f"({', '.join(OntologyFile.model_fields)})")
    try:
        model = OntologyFile.model_validate(data)
    except ValidationError as exc:
        raise _error(source, text, *_describe(exc, OntologyFile)) from None
    parsed = _Parsed(source, model, text)
    if model.name != source.name:
        raise parsed.error(["name"], f"{model.name!r} does not match the file name "
                                     f"({source.name}{SUFFIX}); ontologies are found by file name")
    for section, key in SECTIONS.items():
        seen: dict[str, int] = {}
        for i, entry in enumerate(getattr(model, section)):
            value = getattr(entry, key)
            if value in seen:
                raise parsed.error([section, i, key], f"{value!r} is defined twice in this file "
                                                      f"(also {section}[{seen[value]}])")
            seen[value] = i
    return parsed


def _describe(exc: ValidationError, root: type[BaseModel]) -> tuple[list[str | int], str]:
    """The first validation error of a `root` model as (location, message)."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    kind, given = err["type"], err.get("input")
    if kind == "extra_forbidden":
        valid = ", ".join(_model_at(root, loc[:-1]).model_fields)
        return loc, f"unknown key (valid keys: {valid})"
    if kind == "missing":
        return loc, "missing (required)"
    if kind in ("enum", "literal_error"):
        valid = ", ".join(re.findall(r"'([^']*)'", err["ctx"]["expected"]))
        return loc, f"{given!r} is not one of {valid}"
    if kind in ("value_error", "assertion_error"):
        return loc, str(err["ctx"]["error"])
    if kind == "string_type" and isinstance(given, (bool, int, float)):
        return loc, f"{given!r} is not text; quote it (YAML reads yes, no, on, off and numbers unquoted)"
    return loc, f"{err['msg'][0].lower()}{err['msg'][1:]} (got {given!r})"


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel]:
    for part in loc:
        if isinstance(part, str) and part in _ENTRY_MODELS:
            model = _ENTRY_MODELS[part]
    return model


def _path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(node: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """The line of the deepest node on `loc` that exists (1-based)."""
    if node is None:
        return 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


# --- resolving -----------------------------------------------------------------------------


def load_ontology(name: str, paths: Iterable[str | os.PathLike[str]] | None = None) -> Ontology:
    """An ontology by name (or a `.yaml` path), with `extends:` resolved and checked."""
    if name.endswith(SUFFIX) or os.sep in name:
        return load_ontology_file(name, paths)
    found = find_ontologies(paths)
    if name not in found:
        raise ConfigError(f"unknown ontology {name!r} (available: {', '.join(found)}; "
                          "or give a .yaml path)")
    return _resolve(found[name], found)


def load_ontology_file(path: str | os.PathLike[str],
                       paths: Iterable[str | os.PathLike[str]] | None = None) -> Ontology:
    """An ontology from a file; its parents are looked up in the file's own directory first,
    then everywhere `load_ontology` looks."""
    file = Path(path)
    if not file.is_file() or not file.name.endswith(SUFFIX):
        raise ConfigError(f"{os.fspath(path)}: no such ontology file (a {SUFFIX} file)")
    root = OntologySource(name=file.name[: -len(SUFFIX)], path=str(file), provider=str(file))
    return _resolve(root, find_ontologies(paths, first=file.resolve().parent))


def _resolve(root: OntologySource, found: dict[str, OntologySource]) -> Ontology:
    order: list[_Parsed] = []
    done: set[str] = set()

    def visit(parsed: _Parsed, chain: list[str]) -> None:
        parents = parsed.model.extends
        for i, parent in enumerate(parents):
            loc: list[str | int] = ["extends", i] if len(parents) > 1 else ["extends"]
            if parent in chain:
                cycle = " -> ".join([*chain[chain.index(parent):], parent])
                raise parsed.error(loc, f"{parent!r} makes a cycle: {cycle}")
            if parent in done:
                continue
            if parent not in found:
                raise parsed.error(loc, f"no ontology {parent!r} (available: {', '.join(found)})")
            visit(_read(found[parent]), [*chain, parent])
        done.add(parsed.model.name)
        order.append(parsed)

    top = _read(root)
    visit(top, [top.model.name])

    merged: dict[str, dict[str, tuple[Any, _Parsed, int]]] = {s: {} for s in SECTIONS}
    for parsed in order:
        for section, key in SECTIONS.items():
            for i, entry in enumerate(getattr(parsed.model, section)):
                merged[section][getattr(entry, key)] = (entry, parsed, i)
    checks = _Checks(merged)
    return Ontology(
        name=top.model.name,
        version=top.model.version,
        description=top.model.description,
        extends=top.model.extends,
        files=tuple(p.source.path for p in order),
        origins={s: {k: Path(p.source.path).name for k, (_e, p, _i) in entries.items()}
                 for s, entries in merged.items()},
        **{s: checks.section(s) for s in SECTIONS},
    )


class _Checks:
    """What only the resolved ontology can tell: that every name an entry refers to exists."""

    def __init__(self, merged: dict[str, dict[str, tuple[Any, _Parsed, int]]]):
        self.merged = merged
        self.concepts = set(merged["concepts"])
        self.metrics = set(merged["metrics"])

    def section(self, section: str) -> tuple[Any, ...]:
        check: Callable[..., Any] = getattr(self, f"_{section}")
        return tuple(check(entry, lambda loc, msg, p=parsed, i=i: p.error([section, i, *loc], msg))
                     for entry, parsed, i in self.merged[section].values())

    def _concept(self, name: str, error: Callable[..., ConfigError], loc: list[str | int]) -> None:
        if name not in self.concepts:
            raise error(loc, f"{name!r} is not a concept of this ontology")

    def _concepts(self, concept: Concept, error: Callable[..., ConfigError]) -> Concept:
        return concept

    def _metrics(self, metric: Metric, error: Callable[..., ConfigError]) -> Metric:
        if metric.name in self.concepts:
            raise error(["name"], f"{metric.name!r} is also a concept; a formula could not tell them apart")
        for i, name in enumerate(metric.required_concepts):
            self._concept(name, error, ["required_concepts", i])
        if metric.required_concepts:
            return metric
        return metric.model_copy(update={"required_concepts": self._formula_concepts(metric, error, ())})

    def _formula_concepts(self, metric: Metric, error: Callable[..., ConfigError],
                          via: tuple[str, ...]) -> tuple[str, ...]:
        """The concepts a formula needs, through the metrics it uses, in order of appearance."""
        if metric.name in via:
            raise error(["formula"], f"metric {metric.name!r} is defined through itself: "
                                     f"{' -> '.join([*via, metric.name])}")
        names = _formula_names(metric.formula, error)
        needed: list[str] = []
        for name in names:
            if name in self.concepts:
                needed.append(name)
            elif name in self.metrics:
                used = self.merged["metrics"][name][0]
                needed += self._formula_concepts(used, error, (*via, metric.name))
            else:
                raise error(["formula"], f"{name!r} is neither a concept nor a metric of this ontology")
        return tuple(dict.fromkeys(needed))

    def _quality_rules(self, rule: QualityRule, error: Callable[..., ConfigError]) -> QualityRule:
        for i, target in enumerate(rule.applies_to):
            if "*" not in target and target not in self.concepts:
                raise error(["applies_to", i], f"{target!r} is neither a concept of this ontology "
                                               "nor a name pattern (patterns contain *)")
        try:
            params = RULE_PARAMETERS[rule.rule_type].model_validate(rule.parameters)
        except ValidationError as exc:
            loc, message = _describe(exc, RULE_PARAMETERS[rule.rule_type])
            raise error(["parameters", *loc], f"{message} (for rule_type {rule.rule_type.value})") from None
        for field in ("group_by", "order_by", "references"):
            value = getattr(params, field, None)
            for i, name in enumerate((value,) if isinstance(value, str) else value or ()):
                self._concept(name, error, ["parameters", field, *([i] if not isinstance(value, str) else [])])
        if rule.rule_type == RuleType.CROSS_COLUMN and not rule.expression:
            raise error(["expression"], "a cross_column rule needs an expression")
        if rule.expression:
            self._placeholders(rule.expression, error, ["expression"])
        return rule

    def _semantic_hints(self, hint: SemanticHint, error: Callable[..., ConfigError]) -> SemanticHint:
        if hint.likely_concept is not None:
            self._concept(hint.likely_concept, error, ["likely_concept"])
        return hint

    def _suggested_queries(self, query: SuggestedQuery, error: Callable[..., ConfigError]) -> SuggestedQuery:
        self._placeholders(query.sql, error, ["sql"])
        return query

    def _placeholders(self, text: str, error: Callable[..., ConfigError], loc: list[str | int]) -> None:
        for placeholder in _PLACEHOLDER.findall(text):
            name, _, attr = placeholder.partition(".")
            if name not in self.concepts or attr not in ("", "table"):
                raise error(loc, f"{{{placeholder}}} is not {{concept}} or {{concept.table}} "
                                 "for a concept of this ontology")


def _formula_names(formula: str, error: Callable[..., ConfigError]) -> list[str]:
    """The concept and metric names in a formula; checks its syntax on the way."""
    names: list[str] = []
    depth, pos, expect_operand = 0, 0, True
    formula = formula.rstrip()
    while pos < len(formula):
        m = FORMULA_TOKEN.match(formula, pos)
        if m is None:
            raise error(["formula"], f"unexpected {formula[pos:].strip()[:1]!r} at position {pos}")
        pos = m.end()
        if m["name"]:
            is_call = formula[pos:].lstrip().startswith("(")
            if is_call and m["name"].lower() not in FUNCTIONS:
                raise error(["formula"], f"unknown function {m['name']!r} (known: "
                                         f"{', '.join(sorted(f.upper() for f in FUNCTIONS))})")
            if not is_call:
                names.append(m["name"])
            expect_operand = is_call
        elif m["number"]:
            expect_operand = False
        else:
            op = m["op"]
            depth += {"(": 1, ")": -1}.get(op, 0)
            if depth < 0:
                raise error(["formula"], f"unbalanced ')' at position {pos - 1}")
            expect_operand = op != ")"
    if depth or expect_operand:
        raise error(["formula"], "incomplete: " + ("unclosed '('" if depth else "ends with an operator"))
    return names
