"""Human annotations: `annotations.yaml` in the workspace, which wins over every provider.

    orders.amount:
      role: measure
      term: revenue
      description: Order value in EUR after discounts.

Keys are `table.column`; each entry may give `role`, `term` (a business term, ideally a concept
of the ontology) and `description`. `dataraum annotate` writes the file; it may be edited by
hand. It lives beside the tables, not in a cache, so it survives reruns and cache clearing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from dataraum_context.errors import ConfigError, DataraumError
from dataraum_context.llm.protocol import ROLES, SemanticRole
from dataraum_context.models import Frozen
from dataraum_context.workspace import TABLES, Workspace, write_atomically
from dataraum_context.yaml_files import read_yaml

ANNOTATIONS_FILE = "annotations.yaml"
_HEADER = ("# Column annotations (table.column: role, term, description). They win over every semantic\n"
           "# provider. Written by `dataraum annotate`; edit freely.\n")


class Annotation(Frozen):
    role: SemanticRole | None = None
    term: str | None = None
    description: str | None = None


class Annotations(Frozen):
    columns: dict[str, Annotation] = {}  # "table.column" -> what a person said about it


def annotations_path(workspace: str | os.PathLike[str]) -> Path:
    return Path(workspace) / ANNOTATIONS_FILE


def read_annotations(workspace: str | os.PathLike[str]) -> Annotations:
    """The workspace's annotations; none when there is no file. A malformed file is a
    ConfigError naming the file, the line and the entry."""
    path = annotations_path(workspace)
    if not path.is_file():
        return Annotations()
    data = _load(path)
    columns = {}
    for target, entry in data.items():
        if "." not in str(target) or not isinstance(entry, dict):
            raise ConfigError(f"{path}: {target!r}: an entry is `table.column:` followed by role, term "
                              "and/or description")
        try:
            columns[str(target)] = Annotation.model_validate(entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                message = f"unknown key {key!r} (valid: {', '.join(Annotation.model_fields)})"
            elif key == "role":
                message = f"role {entry.get('role')!r} is not one of {', '.join(ROLES)}"
            else:
                message = f"{key}: {err['msg']}"
            raise ConfigError(f"{path}: {target}: {message}") from None
    return Annotations(columns=columns)


def write_annotation(workspace: str | os.PathLike[str], target: str, annotation: Annotation) -> Path:
    """Add or update one entry (the fields given replace those written before), atomically."""
    path = annotations_path(workspace)
    data = _load(path) if path.is_file() else {}
    entry = {**(data.get(target) or {}), **annotation.model_dump(exclude_none=True)}
    data[target] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, _HEADER + yaml.safe_dump(dict(sorted(data.items())), sort_keys=False,
                                                           allow_unicode=True))


def checked_target(workspace: str | os.PathLike[str], target: str) -> str:
    """`table.column` when the workspace's typed tables have that column; else a DataraumError
    listing the tables, or the table's columns."""
    ws = Workspace(workspace)
    tables = ws.table_names()
    if not tables:
        raise DataraumError(f"workspace {ws.root} has no typed tables: run `dataraum run SOURCES "
                            f"--workspace {workspace}` first")
    table = next((t for t in sorted(tables, key=len, reverse=True) if target.startswith(f"{t}.")), None)
    if table is None:
        raise DataraumError(f"{target}: no such table.column in workspace {ws.root} "
                            f"(tables: {', '.join(tables)})")
    column = target[len(table) + 1:]
    columns = pq.read_schema(ws.path(ws.relative(TABLES, table))).names
    if column not in columns:
        raise DataraumError(f"{target}: table {table} has no column {column!r} (columns: {', '.join(columns)})")
    return target


def term_warning(term: str, ontology_name: str) -> str | None:
    """Why a business term may not do what is wanted: the quality rules and metrics of an
    ontology bind to its concepts, and this term is none of them."""
    from dataraum_context.ontology import load_ontology

    onto = load_ontology(ontology_name)
    names = [c.name for c in onto.concepts]
    if term in names:
        return None
    close = difflib.get_close_matches(term, names, n=3)
    hint = f"; close: {', '.join(close)}" if close else ""
    return (f"term {term!r} is not a concept of ontology {onto.label}{hint}: rules and metrics bind to "
            "concepts (check another ontology with --ontology NAME); written as given")


def _load(path: Path) -> dict:
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: annotations are a mapping of `table.column:` entries")
    return data
