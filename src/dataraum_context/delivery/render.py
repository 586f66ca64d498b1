"""The context document as JSON, YAML, and compact Markdown meant for an LLM prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from dataraum_context.models import ColumnContext, ContextDocument, TableContext

FORMATS = ("json", "markdown", "yaml")
_EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".yaml": "yaml", ".yml": "yaml"}


def format_for(path: str) -> str | None:
    """The output format a file name implies, or None."""
    lower = path.lower()
    return next((fmt for ext, fmt in _EXTENSIONS.items() if lower.endswith(ext)), None)


def render(doc: ContextDocument, fmt: str) -> str:
    return {"json": to_json, "markdown": to_markdown, "yaml": to_yaml}[fmt](doc)


def to_json(doc: ContextDocument, indent: int | None = 2) -> str:
    return doc.model_dump_json(indent=indent)


def to_yaml(doc: ContextDocument) -> str:
    return yaml.safe_dump(doc.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def to_markdown(doc: ContextDocument) -> str:
    lines = [f"# Data context ({len(doc.tables)} tables; pipeline {doc.pipeline}, "
             f"{doc.generated_at:%Y-%m-%d %H:%M} UTC)", ""]
    for table in doc.tables:
        lines += _table(table)
    if doc.relationships:
        lines += ["## Relationships", ""]
        lines += [f"- {_relationship(r)}" for r in doc.relationships]
        lines.append("")
    if doc.warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {w}" for w in doc.warnings]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _table(table: TableContext) -> list[str]:
    facts = [f"{table.row_count:,} rows"]
    if table.quarantined_values:
        facts.append(f"{table.quarantined_values:,} value{'s' if table.quarantined_values > 1 else ''} quarantined")
    if table.rejected_rows:
        facts.append(f"{table.rejected_rows:,} malformed row{'s' if table.rejected_rows > 1 else ''} quarantined")
    lines = [f"## {table.name} ({'; '.join(facts)})", "",
             "| column | type | nulls | distinct | role | values |",
             "|---|---|---|---|---|---|"]
    for col in table.columns:
        lines.append("| " + " | ".join([
            col.name,
            col.data_type + (f" ({col.unit})" if col.unit else ""),
            _percent(col.null_ratio),
            _distinct(col),
            col.semantic_role or "",
            _values(col).replace("|", "\\|"),
        ]) + " |")
    lines.append("")
    return lines


def _percent(ratio: float | None) -> str:
    if ratio is None:
        return ""
    if ratio == 0:
        return "0%"
    return f"{ratio:.1%}" if ratio >= 0.001 else "<0.1%"


def _distinct(col: ColumnContext) -> str:
    if col.distinct_count is None:
        return ""
    stats = col.statistics
    text = f"{'~' if stats and stats.distinct_approximate else ''}{col.distinct_count:,}"
    if stats and stats.uniqueness == 1 and stats.count - stats.null_count > 1:
        text += " unique"
    return text


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _values(col: ColumnContext) -> str:
    s = col.statistics
    if s is None:
        return col.type_format or ""
    non_null = s.count - s.null_count
    if non_null == 0:
        return "all null"
    if s.top_values and s.distinct_count <= 8:
        return ", ".join(f"{_short(v.value)} {v.count / non_null:.0%}" for v in s.top_values)
    parts = []
    if s.min is not None and s.max is not None:
        parts.append(f"{_short(s.min)} .. {_short(s.max)}")
    if s.mean is not None and s.mean == s.mean:
        parts.append(f"mean {_short(s.mean)}")
    if s.max_length is not None and s.min is None:
        parts.append(f"length {s.min_length}..{s.max_length}")
    if col.type_format and col.type_format not in ("source", "text"):
        parts.append(col.type_format)
    return "; ".join(parts)


def _relationship(r: dict[str, Any]) -> str:
    frm = f"{r.get('from_table')}.{', '.join(r.get('from_columns', []))}"
    to = f"{r.get('to_table')}.{', '.join(r.get('to_columns', []))}"
    return f"{frm} -> {to} ({r.get('cardinality', '')}, confidence {r.get('confidence', '')})"
