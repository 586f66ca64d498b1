"""What the MCP tools answer, as plain Python over a workspace (the server only wraps these).

Every call reads the workspace afresh: the tables as they are now (`sandbox`), the context
document of the last run (`context.json`, parsed again only when it changed). Nothing is held
open between calls, so a pipeline may write the workspace meanwhile. A name the workspace does
not have is a DataraumError in one line naming the valid ones.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import closing
from typing import Any

from dataraum_context.errors import ConfigError, DataraumError
from dataraum_context.joins import join_path, join_sql
from dataraum_context.llm.protocol import SemanticRole
from dataraum_context.mcp.metrics import bind_metrics
from dataraum_context.mcp.sandbox import TIMEOUT_S, QueryRefused, run_query
from dataraum_context.models import (
    ColumnContext,
    ContextDocument,
    JoinStep,
    QualityResult,
    Relationship,
    TableContext,
)
from dataraum_context.sql import connect, quarantine_view, quote_literal
from dataraum_context.workspace import CONTEXT, TABLES, Workspace

SEVERITIES = ("error", "warning", "info")


class WorkspaceTools:
    def __init__(self, workspace: str | os.PathLike[str], timeout_s: float = TIMEOUT_S):
        self.ws = Workspace(workspace)
        self.timeout_s = timeout_s
        self._cached: tuple[tuple[int, int], ContextDocument] | None = None

    # --- what the workspace holds ----------------------------------------------------------

    def context_document(self) -> ContextDocument:
        """The last run's context, parsed again only when its file changed."""
        path = self.ws.root / CONTEXT
        try:
            st = path.stat()
        except FileNotFoundError:
            return self.ws.context()  # says there is none, and how to make one
        version = (st.st_mtime_ns, st.st_size)
        if self._cached is None or self._cached[0] != version:
            self._cached = (version, self.ws.context())
        return self._cached[1]

    def _context_or_none(self) -> ContextDocument | None:
        return self.context_document() if (self.ws.root / CONTEXT).is_file() else None

    def table_names(self) -> list[str]:
        return self.ws.table_names()

    def checked_table(self, table: str) -> str:
        tables = self.table_names()
        if table not in tables:
            listed = ", ".join(tables) if tables else "none yet: run a pipeline on the workspace first"
            raise DataraumError(f"unknown table {table!r} (tables: {listed})")
        return table

    def _table_context(self, table: str) -> TableContext | None:
        doc = self._context_or_none()
        return next((t for t in doc.tables if t.name == table), None) if doc else None

    # --- tools -------------------------------------------------------------------------------

    def list_tables(self) -> list[dict[str, Any]]:
        doc = self._context_or_none()
        known = {t.name: t for t in doc.tables} if doc else {}
        out = []
        for name in self.table_names():
            t = known.get(name)
            if t is None:
                out.append({"table": name, "columns": len(self._schema(name)), "in_context": False})
                continue
            out.append(_drop_empty({
                "table": name, "rows": t.row_count, "columns": len(t.columns), "role": t.role,
                "entity_type": t.entity_type, "description": t.description, "key": list(t.key_columns),
                "quality_score": t.quality.score if t.quality else None,
                "time_column": next((p.column for p in t.temporal if p.primary), None),
            }))
        return out

    def describe_table(self, table: str) -> dict[str, Any]:
        self.checked_table(table)
        t = self._table_context(table)
        if t is None:
            return {"table": table, "note": "not in the context document yet: the next pipeline run describes it",
                    "columns": [{"name": n, "type": ty} for n, ty in self._schema(table).items()]}
        return _drop_empty({
            "table": t.name, "source": t.source, "rows": t.row_count, "role": t.role,
            "entity_type": t.entity_type, "description": t.description, "grain": list(t.grain),
            "key": list(t.key_columns),
            "quarantine": (f"{quarantine_view(t.name)}: {t.quarantined_values} values that failed their type, "
                           f"{t.rejected_rows} malformed rows") if t.quarantined_values or t.rejected_rows else None,
            "quality_score": t.quality.score if t.quality else None,
            "columns": [_column(c) for c in t.columns],
            "time": [_drop_empty({"column": p.column, "primary": p.primary, "granularity": p.granularity,
                                  "min": _text(p.min), "max": _text(p.max), "cadence": p.cadence,
                                  "completeness": p.completeness, "gaps": p.gap_count})
                     for p in t.temporal],
            "quality_issues": [_issue(r) for r in _failed(t)],
        })

    def get_context(self, tables: list[str] | None = None, fmt: str = "markdown",
                    max_tokens: int | None = None) -> str:
        import dataraum_context as dc

        return dc.context(self.ws.root, tables=tables or None, max_tokens=max_tokens, format=fmt)

    def get_relationships(self, table: str | None = None) -> list[dict[str, Any]]:
        if table is not None:
            self.checked_table(table)
        doc = self.context_document()
        found = [(r, True) for r in doc.relationships] + [(r, False) for r in doc.proposed_relationships]
        return [_relationship(r, measured) for r, measured in found
                if table is None or table in (r.from_table, r.to_table)]

    def join_path(self, from_table: str, to_table: str) -> dict[str, Any]:
        self.checked_table(from_table)
        self.checked_table(to_table)
        doc = self.context_document()
        path = join_path(doc.relationships, from_table, to_table)
        if path is None:
            reason = ("the same table" if from_table == to_table
                      else "no chain of relationships connects them (see get_relationships)")
            return {"from_table": from_table, "to_table": to_table, "connected": False, "reason": reason}
        return {
            "from_table": from_table, "to_table": to_table, "connected": True,
            "steps": [_step(s) for s in path.steps],
            "sql": path.sql,
            "example": f"SELECT count(*) {path.sql}",
            "notes": _join_notes(path.steps, doc.relationships),
        }

    def get_metrics(self, ontology: str | None = None) -> list[dict[str, Any]]:
        from dataraum_context.ontology import load_ontology

        doc = self.context_document()
        name = ontology or (doc.ontology.rsplit(" ", 1)[0] if doc.ontology else None)
        if name is None:
            raise DataraumError("the context names no ontology (no semantic step ran): give one, "
                                "e.g. ontology='base'")
        onto = load_ontology(name)
        out = []
        for b in bind_metrics(doc, onto):
            entry: dict[str, Any] = {"metric": b.metric.name, "description": b.metric.description,
                                     "formula": b.metric.formula, "output_type": str(b.metric.output_type)}
            if b.sql is None:
                out.append({**entry, "applicable": False, "reason": b.reason})
                continue
            entry |= {"applicable": True, "table": b.table,
                      "columns": {c: f"{b.table}.{col}" for c, col in b.columns.items()}, "sql": b.sql}
            try:
                entry["value"] = run_query(self.ws, b.sql, 1, self.timeout_s).rows[0][0]
            except QueryRefused as exc:
                entry["error"] = str(exc)
            out.append(entry)
        return out

    def get_quality_issues(self, table: str | None = None, severity: str | None = None) -> list[dict[str, Any]]:
        if table is not None:
            self.checked_table(table)
        if severity is not None and severity not in SEVERITIES:
            raise DataraumError(f"unknown severity {severity!r} (severities: {', '.join(SEVERITIES)})")
        doc = self.context_document()
        results = [r for t in doc.tables if table in (None, t.name) for r in _failed(t)]
        if severity is not None:
            results = [r for r in results if r.severity == severity]
        results.sort(key=lambda r: (SEVERITIES.index(r.severity) if r.severity in SEVERITIES else 3,
                                    -(r.failing_share or 0), r.table, r.check))
        return [_issue(r) for r in results]

    def query(self, sql: str, max_rows: int | None = None) -> dict[str, Any]:
        return run_query(self.ws, sql, max_rows, self.timeout_s).as_dict()

    def annotate(self, table: str, column: str, role: SemanticRole | None = None, term: str | None = None,
                 description: str | None = None) -> str:
        from dataraum_context.llm.annotations import Annotation, checked_target, term_warning, write_annotation

        self.checked_table(table)
        if not (role or term or description):
            raise DataraumError("annotate: give role, term and/or description")
        target = checked_target(self.ws.root, f"{table}.{column}")
        path = write_annotation(self.ws.root, target, Annotation(role=role, term=term, description=description))
        message = f"annotated {target} in {path}; the next pipeline run uses it"
        if term:
            doc = self._context_or_none()
            ontology = doc.ontology.rsplit(" ", 1)[0] if doc and doc.ontology else "base"
            try:
                warning = term_warning(term, ontology)
            except ConfigError:  # the context's ontology came from a file not found here
                warning = None
            if warning:
                message += f" (warning: {warning})"
        return message

    # --- helpers -----------------------------------------------------------------------------

    def _schema(self, table: str) -> dict[str, str]:
        """The table's columns with their DuckDB types, from its Parquet file."""
        with closing(connect()) as con:
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                    [str(self.ws.path(self.ws.relative(TABLES, table)))]).fetchall()
        return {name: data_type for name, data_type, *_ in described}


def _failed(t: TableContext) -> list[QualityResult]:
    return [r for r in (t.quality.results if t.quality else ()) if not r.passed and r.error is None]


def _column(c: ColumnContext) -> dict[str, Any]:
    s = c.statistics
    stats = None
    if s is not None:
        stats = _drop_empty({
            "min": _text(s.min), "max": _text(s.max), "mean": s.mean, "std": s.std,
            "quantiles": s.quantiles, "min_length": s.min_length, "max_length": s.max_length,
            "top_values": [[v.value, v.count] for v in s.top_values] or None,
            "distinct_approximate": s.distinct_approximate or None,
        })
    return _drop_empty({
        "name": c.name, "type": c.data_type, "role": c.semantic_role, "key_member": c.key_member or None,
        "business_term": c.business_term, "description": c.description, "pii": c.pii or None, "unit": c.unit,
        "format": c.type_format, "null_ratio": c.null_ratio, "distinct": c.distinct_count,
        "cast_failures": c.cast_failures or None, "statistics": stats or None,
    })


def _issue(r: QualityResult) -> dict[str, Any]:
    """A failed check with SQL that returns its failing rows, ready for the `query` tool."""
    return _drop_empty({
        "severity": r.severity, "table": r.table, "columns": list(r.columns), "check": r.check,
        "description": r.description, "failing": r.failing_rows, "of": r.total_rows, "unit": r.unit,
        "failing_share": round(r.failing_share, 4) if r.failing_share is not None else None,
        "examples": [{k: _text(v) for k, v in e.items()} for e in r.examples] or None,
        "sql": with_values(r.sql, r.parameters),
    })


def _relationship(r: Relationship, measured: bool) -> dict[str, Any]:
    step = JoinStep(left_table=r.from_table, left_columns=r.from_columns, right_table=r.to_table,
                    right_columns=r.to_columns, cardinality=r.cardinality)
    return _drop_empty({
        "from": [f"{r.from_table}.{c}" for c in r.from_columns], "to": [f"{r.to_table}.{c}" for c in r.to_columns],
        "cardinality": r.cardinality, "source": r.source if measured else f"proposed by {r.source}, not measured",
        "confidence": r.confidence, "orphan_rows": r.orphan_rows or None,
        "sql": join_sql(r.from_table, [step]),
    })


def _join_notes(steps: tuple[JoinStep, ...], relationships: tuple[Relationship, ...]) -> list[str]:
    """What the join does to the rows of the first table: where it multiplies them, where an
    inner join drops them."""
    forward = {(r.from_table, r.from_columns, r.to_table, r.to_columns): r for r in relationships}
    notes = []
    for s in steps:
        label = f"{s.left_table} -> {s.right_table}"
        if s.cardinality == "one_to_many":
            notes.append(f"{label} is one-to-many: it multiplies the rows of {s.left_table}; aggregate before "
                         "joining")
        r = forward.get((s.left_table, s.left_columns, s.right_table, s.right_columns))
        if r is not None and r.referenced_duplicates:
            notes.append(f"{label}: {r.referenced_duplicates:,} key value(s) of {s.right_table} repeat, so the rows "
                         "that match them are multiplied")
        if r is not None and r.orphan_rows:
            notes.append(f"{label}: {r.orphan_rows:,} row(s) of {s.left_table} find no match: an inner join drops "
                         "them, LEFT JOIN keeps them")
    return notes or ["every step is many-to-one: the join keeps each row of the first table once"]


def _step(s: JoinStep) -> dict[str, Any]:
    return {"from": [f"{s.left_table}.{c}" for c in s.left_columns],
            "to": [f"{s.right_table}.{c}" for c in s.right_columns], "cardinality": s.cardinality}


def with_values(sql: str, params: tuple[Any, ...]) -> str:
    """`sql` with each `?` outside quotes replaced by its value as a literal: SQL to paste."""
    if not params:
        return sql
    values = iter(params)
    out, quote = [], ""
    for ch in sql:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append(_literal(next(values)))
            continue
        out.append(ch)
    return "".join(out)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return quote_literal(str(value))


def _text(value: Any) -> Any:
    """Dates and times as ISO text, other values as they are."""
    return value.isoformat() if isinstance(value, dt.date | dt.time) else value


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != ""}

