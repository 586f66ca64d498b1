"""The context as an HTML report a person opens in a browser: one self-contained file.

No network and no script: the styles are inline, the relationship diagram is inline SVG laid
out here, and a Content-Security-Policy forbids everything else, so the file shows the same
offline, attached to a mail or archived. Every text from the data goes through `_e`
(`html.escape`): a table named `<script>` is shown as those characters.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from dataraum_context.delivery.formats import OutputFormat
from dataraum_context.delivery.render import COLUMN_HEADERS, TIME_HEADERS, budget_note, column_cells, time_cells
from dataraum_context.joins import columns_label

if TYPE_CHECKING:
    from dataraum_context.models import ContextDocument, QualityResult, Relationship, TableContext

_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1200px;margin:auto;padding:1.5rem 2rem 4rem}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.25rem;margin:2rem 0 .6rem}h3{margin:1rem 0 .4rem}
.meta{color:#5a6272;margin:.2rem 0}
.note{background:#fff6d6;border:1px solid #ecd58a;padding:.5rem .8rem;border-radius:6px}
nav a{margin-right:.8rem}
section.table{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.4rem 1.2rem 1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;margin:.4rem 0;font-size:13px}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6e9ef;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f5;font-weight:600}code,pre{font:12px ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap}
.error{color:#b3261e;font-weight:600}.warning{color:#a35c00;font-weight:600}.info{color:#3d5a80}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;background:#e4e9f2;font-size:12px;margin-left:.4rem}
svg{background:#fff;border:1px solid #dde1e8;border-radius:8px;max-width:100%;height:auto}
svg .node rect{fill:#eef3fb;stroke:#4a6fa5}svg .node.fact rect{fill:#fdf0e6;stroke:#c0762e}
svg text{font:13px system-ui,sans-serif;fill:#1d2330}svg .edge path{fill:none;stroke:#5a6272;stroke-width:1.4}
svg .edge text{font-size:11px;fill:#5a6272;paint-order:stroke;stroke:#fff;stroke-width:3px}
th,td.error,td.warning,td.info{white-space:nowrap}details summary{cursor:pointer;color:#4a6fa5}
"""


def _e(value: object) -> str:
    """Text from the data, escaped for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def to_html(doc: ContextDocument) -> str:
    brief = set(doc.budget.tables_without_statistics) if doc.budget else set()
    anchors = {t.name: f"table-{i}" for i, t in enumerate(doc.tables)}
    title = f"Data context: {len(doc.tables)} table{'' if len(doc.tables) == 1 else 's'}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>", _header(doc),
        "<nav>" + "".join(f'<a href="#{anchors[t.name]}">{_e(t.name)}</a>' for t in doc.tables) + "</nav>",
        _relationships(doc, anchors), _join_paths(doc), _quality(doc), _time_coverage(doc.tables),
        '<h2 id="tables">Tables</h2>',
        *(_table(t, anchors[t.name], detail=t.name not in brief) for t in doc.tables),
        _list("Linear dependencies", [f"{g.equation} (R² {g.r2:.3f})" for g in doc.dependency_groups]),
        _list("Warnings", doc.warnings),
        "</main></body></html>\n",
    ]
    return "\n".join(p for p in parts if p)


def _header(doc: ContextDocument) -> str:
    facts = [f"pipeline {doc.pipeline}", f"{doc.generated_at:%Y-%m-%d %H:%M} UTC"]
    if doc.ontology:
        facts.append(f"ontology {doc.ontology}")
    if doc.semantic_provider:
        facts.append(f"semantics by {doc.semantic_provider}")
    lines = [f'<p class="meta">{_e("; ".join(facts))}</p>']
    if doc.budget is not None:
        lines.append(f'<p class="note">{_e(budget_note(doc.budget))}</p>')
    return "\n".join(lines)


def _relationships(doc: ContextDocument, anchors: dict[str, str]) -> str:
    if not doc.relationships:
        return '<h2 id="relationships">Relationships</h2><p class="meta">No relationships found.</p>'
    items = []
    for r in doc.relationships:
        facts = ", ".join(x for x in (r.source, r.cardinality,
                                      f"confidence {r.confidence:.2f}" if r.confidence is not None else None) if x)
        items.append(f"{_link(r)} ({facts})")
    proposed = _list("Proposed relationships (not measured)", [_link(r) for r in doc.proposed_relationships])
    return ('<h2 id="relationships">Relationships</h2>' + _diagram(doc, anchors)
            + "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>" + proposed)


def _link(r: Relationship) -> str:
    return f"{columns_label(r.from_table, r.from_columns)} -> {columns_label(r.to_table, r.to_columns)}"


# the diagram: each table a box, the referencing tables left of what they reference
_BOX_H, _GAP_Y, _GAP_X, _CHAR_W, _PAD = 30, 22, 90, 7.5, 14
_MAX_LABEL = 28


def _diagram(doc: ContextDocument, anchors: dict[str, str]) -> str:
    names = list(dict.fromkeys(n for r in doc.relationships for n in (r.from_table, r.to_table)))
    depth = _depths(names, [(r.from_table, r.to_table) for r in doc.relationships])
    layers: dict[int, list[str]] = {}
    for name in names:
        layers.setdefault(depth[name], []).append(name)
    labels = {n: n if len(n) <= _MAX_LABEL else n[:_MAX_LABEL - 1] + "…" for n in names}
    widths = {i: max(len(labels[n]) for n in layer) * _CHAR_W + 2 * _PAD for i, layer in layers.items()}
    boxes: dict[str, tuple[float, float, float]] = {}  # x, y, width
    x = 20.0
    for i in sorted(layers):
        for j, name in enumerate(layers[i]):
            boxes[name] = (x, 20.0 + j * (_BOX_H + _GAP_Y), widths[i])
        x += widths[i] + _GAP_X
    height = 40 + max(len(layer) for layer in layers.values()) * (_BOX_H + _GAP_Y)
    roles = {t.name: t.role for t in doc.tables}
    edges = [_edge(r, boxes) for r in doc.relationships]
    nodes = [(f'<a href="#{anchors.get(n, "tables")}"><g class="node {_e(roles.get(n) or "")}"><title>{_e(n)}</title>'
              f'<rect x="{bx:.0f}" y="{by:.0f}" width="{w:.0f}" height="{_BOX_H}" rx="6"/>'
              f'<text x="{bx + _PAD:.0f}" y="{by + 20:.0f}">{_e(labels[n])}</text></g></a>')
             for n, (bx, by, w) in boxes.items()]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="relationships between tables" '
            f'width="{x:.0f}" height="{height:.0f}" viewBox="0 0 {x:.0f} {height:.0f}">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#5a6272"/></marker></defs>'
            + "".join(nodes) + "".join(edges) + "</svg>")  # edges over boxes: one that passes a box stays seen


def _depths(names: Sequence[str], links: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Each table's column in the diagram: the longest chain of references that reaches it from
    a table nobody references (0), at most len(names) long (a cycle stops there)."""
    depth = dict.fromkeys(names, 0)
    pairs = [(a, b) for a, b in links if a != b]
    for _ in names:
        changed = False
        for a, b in pairs:
            if depth[b] < depth[a] + 1 <= len(names):
                depth[b], changed = depth[a] + 1, True
        if not changed:
            break
    return depth


def _edge(r: Relationship, boxes: dict[str, tuple[float, float, float]]) -> str:
    (ax, ay, aw), (bx, by, bw) = boxes[r.from_table], boxes[r.to_table]
    if r.from_table == r.to_table:  # a loop under the box
        x1, y1 = ax + aw * 0.35, ay + _BOX_H
        x2, y2 = ax + aw * 0.65, ay + _BOX_H
        path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + 28:.0f} {x2:.0f},{y2 + 28:.0f} {x2:.0f},{y2:.0f}"
        label_x, label_y = (x1 + x2) / 2, y1 + 30
    else:
        forward = bx > ax
        x1, y1 = (ax + aw, ay + _BOX_H / 2) if forward else (ax, ay + _BOX_H / 2)
        x2, y2 = (bx, by + _BOX_H / 2) if forward else (bx + bw, by + _BOX_H / 2)
        bend = max(40.0, abs(x2 - x1) / 2) * (1 if forward else -1)
        path = f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        label_x, label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 4
    label = ", ".join(r.from_columns)
    return (f'<g class="edge"><title>{_e(_link(r))}</title><path d="{path}" marker-end="url(#arrow)"/>'
            f'<text x="{label_x:.0f}" y="{label_y:.0f}" text-anchor="middle">'
            f"{_e(label if len(label) <= 24 else label[:23] + '…')}</text></g>")


def _join_paths(doc: ContextDocument) -> str:
    if not doc.join_paths:
        return ""
    rows = [(" -> ".join([p.from_table, *(s.right_table for s in p.steps)]), p.sql) for p in doc.join_paths]
    return ('<h2 id="join-paths">Join paths</h2><table><tr><th>path</th><th>SQL</th></tr>'
            + "".join(f"<tr><td>{_e(a)}</td><td><code>{_e(b)}</code></td></tr>" for a, b in rows) + "</table>")


def _quality(doc: ContextDocument) -> str:
    q = doc.quality
    if q is None:
        return ""
    failed = sum(q.failed.values())
    score = f"score {q.score:.2f}; " if q.score is not None else ""
    parts = [f'<h2 id="quality">Quality</h2><p class="meta">{_e(f"{score}{q.checks} checks, {failed} not passed")}'
             f"</p>", _issues(q.top_issues)]
    if q.could_not_run:
        parts.append(_list("Checks that could not run", [f"{r.table} {r.check}: {r.error}" for r in q.could_not_run]))
    return "".join(parts)


def _issues(results: Sequence[QualityResult]) -> str:
    if not results:
        return ""
    rows = []
    for r in results:
        where = f"{r.table}.{', '.join(r.columns)}" if r.columns else r.table
        share = f" ({r.failing_share:.1%})" if r.failing_share is not None else ""
        counts = f"{r.failing_rows:,} of {r.total_rows:,} {r.unit}{share}" if r.failing_rows is not None else ""
        parameters = f"\n-- parameters: {list(r.parameters)}" if r.parameters else ""
        rows.append(f'<tr><td class="{_e(r.severity)}">{_e(r.severity)}</td><td>{_e(where)}</td>'
                    f"<td>{_e(r.check)}</td><td>{_e(counts)}</td><td>{_e(r.description)}"
                    f"<details><summary>SQL of the failing rows</summary><pre><code>{_e(r.sql + parameters)}"
                    "</code></pre></details></td></tr>")
    return ("<table><tr><th>severity</th><th>where</th><th>check</th><th>failing</th><th>what</th></tr>"
            + "".join(rows) + "</table>")


def _time_coverage(tables: Sequence[TableContext]) -> str:
    rows = [time_cells(t.name, p) for t in tables for p in t.temporal]
    if not rows:
        return ""
    return '<h2 id="time">Time coverage</h2>' + _grid(TIME_HEADERS, rows)


def _table(t: TableContext, anchor: str, detail: bool) -> str:
    facts = [f"{t.row_count:,} rows"]
    if t.quarantined_values:
        facts.append(f"{t.quarantined_values:,} values quarantined")
    if t.rejected_rows:
        facts.append(f"{t.rejected_rows:,} malformed rows quarantined")
    badges = "".join(f'<span class="badge">{_e(b)}</span>' for b in dict.fromkeys((t.role, t.entity_type)) if b)
    parts = [f'<section class="table" id="{anchor}"><h3>{_e(t.name)}{badges}</h3>',
             f'<p class="meta">{_e("; ".join(facts))}'
             + (f"; key {_e(', '.join(t.key_columns))}" if t.key_columns else "")
             + (f"; from {_e(t.source)}" if t.source else "") + "</p>"]
    if t.description:
        parts.append(f"<p>{_e(t.description)}</p>")
    if t.quality is not None and t.quality.score is not None:
        q = t.quality
        parts.append(f'<p class="meta">Quality {q.score:.2f}: {q.failed} of {q.checks} checks not passed</p>')
    if detail:
        parts.append(_grid(COLUMN_HEADERS, [column_cells(c) for c in t.columns]))
        if t.quality is not None:
            parts.append(_issues([r for r in t.quality.results if not r.passed and r.error is None]))
    else:  # cut to a token budget: types and roles only
        parts.append(_grid(COLUMN_HEADERS[:2] + COLUMN_HEADERS[4:5],
                           [[c[0], c[1], c[4]] for c in map(column_cells, t.columns)]))
    return "".join(parts) + "</section>"


def _grid(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _list(title: str, items: Sequence[str]) -> str:
    if not items:
        return ""
    return f"<h2>{_e(title)}</h2><ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


HTML = OutputFormat(render=to_html, extensions=(".html", ".htm"),
                    description="a self-contained report to open in a browser (diagram, tables, issues)")
