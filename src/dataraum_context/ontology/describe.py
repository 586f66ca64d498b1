"""Ontologies as text for people: the list of those available, a resolved ontology as YAML with
each entry's file, and the one-line verdict of `dataraum ontology validate`."""

from __future__ import annotations

import os
from collections.abc import Iterable

import yaml

from dataraum_context.errors import ConfigError
from dataraum_context.ontology.loading import find_ontologies, read_ontology_file
from dataraum_context.ontology.models import REGEX_BOUND, SECTIONS, Ontology, RuleType


def ontology_listing(paths: Iterable[str | os.PathLike[str]] | None = None) -> list[str]:
    """One line per ontology that can be loaded by name: version, parents, where it is from,
    description. A file that does not validate is listed with its error."""
    lines = []
    for name, source in find_ontologies(paths).items():
        where = source.provider + (f", hides {', '.join(source.shadows)}" if source.shadows else "")
        try:
            model = read_ontology_file(source)
        except ConfigError as exc:
            lines.append(f"  {name:<24} INVALID  {where}: {exc}")
            continue
        parents = f"extends {', '.join(model.extends)}" if model.extends else ""
        lines.append(f"  {name:<24} {model.version:<8} {parents:<18} {where:<20} {model.description}".rstrip())
    return lines


def ontology_yaml(ontology: Ontology) -> str:
    """The resolved ontology as YAML; a comment after each entry names the file it came from."""
    header = [f"# ontology {ontology.label}, resolved from (parents first):"]
    header += [f"#   {path}" for path in ontology.files]
    head = {"name": ontology.name, "version": ontology.version, "description": ontology.description,
            "extends": list(ontology.extends)}
    out = [*header, _dump(head).rstrip()]
    for section, key in SECTIONS.items():
        entries = getattr(ontology, section)
        if not entries:
            continue
        out.append(f"{section}:")
        for entry in entries:
            text = _dump([entry.model_dump(mode="json", exclude_defaults=True)])
            first, _, rest = text.partition("\n")
            out.append(f"{first}  # {ontology.origin(section, getattr(entry, key))}")
            if rest.strip():
                out.append(rest.rstrip())
    return "\n".join(out) + "\n"


def validation_summary(path: str | os.PathLike[str], ontology: Ontology) -> str:
    parents = f"extends {', '.join(ontology.extends)}, " if ontology.extends else ""
    counts = ", ".join(f"{len(getattr(ontology, s))} {s.replace('_', ' ')}" for s in SECTIONS)
    regexes = sum(1 for c in ontology.concepts if c.value_pattern) + \
        sum(1 for r in ontology.quality_rules if r.rule_type == RuleType.REGEX)
    bound = f"; {regexes} regular expression(s), run on {REGEX_BOUND}" if regexes else ""
    return (f"{os.fspath(path)}: valid ontology {ontology.label} ({parents}{len(ontology.files)} "
            f"file(s) merged: {counts}{bound})")


class _Dumper(yaml.SafeDumper):
    """Mappings as blocks, lists of scalars on one line: `indicators: [qty, quantity, units]`."""


def _sequence(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flat = not any(isinstance(item, (dict, list)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _sequence)


def _dump(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)
