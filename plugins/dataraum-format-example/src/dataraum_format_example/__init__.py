"""The context as CSV: one row per column, for a spreadsheet."""

from __future__ import annotations

import csv
import io

from dataraum_context.delivery.formats import OutputFormat
from dataraum_context.models import ContextDocument

HEADER = ("table", "column", "type", "role", "business_term", "null_ratio", "distinct_count", "description")
# a spreadsheet reads a cell starting with one of these as a formula (tab and CR too, in some)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, made text with a leading `'`."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def render(doc: ContextDocument) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for table in doc.tables:
        for col in table.columns:
            writer.writerow([_cell(v) for v in (table.name, col.name, col.data_type, col.semantic_role,
                                                col.business_term, col.null_ratio, col.distinct_count,
                                                col.description)])
    return out.getvalue()


CSV = OutputFormat(render=render, extensions=(".csv",), description="one row per column, for a spreadsheet")
