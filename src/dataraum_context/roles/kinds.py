"""Kinds: whether a column measures, groups, times or describes its rows, from its type, its
name and its statistics.

Dates, times and timestamps are timestamps, whatever they mark (an order, a birth, an
opening). Booleans are dimensions, intervals measures. A number is a measure unless its name
makes it a position (`line`, `seq`), an identifier (`*_id`, `*_no`, `*_code`: a reference or a
code, which topology tells apart), or a code (`priority`, `level`, `size`, `year`), or it is a
0/1 flag. Text named like an identifier is an identifier; long text is free text; text with few
distinct values that repeat is a dimension; other text describes its row.
"""

from __future__ import annotations

from dataraum_context.inference import is_whole_number_type, type_family
from dataraum_context.models import ColumnStatistics
from dataraum_context.naming import ColumnName, tokens

DIMENSION_MAX_DISTINCT = 50
_DIMENSION_MAX_UNIQUENESS = 0.5
_FREE_TEXT_LENGTH = 50
#: words that make a number a code to group by (sizes, priorities, levels, calendar parts)
_CODE_WORDS = frozenset({
    "priority", "prio", "rank", "ranking", "level", "lvl", "tier", "grade", "class", "size", "floor",
    "type", "kind", "category", "group", "grp", "zone", "status", "stage", "state", "version", "rev",
    "bucket", "band", "decile", "quartile", "quintile", "segment", "year", "quarter", "month", "week",
    "weekday", "day", "hour", "dow", "gender", "sex", "region", "area", "district", "channel",
    "severity", "urgency", "rating_code", "mode",
})
#: words that make a number a position within its parent (line 3 of an order)
_POSITION_WORDS = frozenset({"line", "seq", "sequence", "position", "pos", "ordinal", "idx", "index",
                             "sort", "row", "rownum", "step"})


def column_kind(s: ColumnStatistics, name: ColumnName, prefix: str | None) -> tuple[str, list[str]]:
    """measure | dimension | timestamp | identifier | attribute, and why."""
    family = type_family(s.data_type)
    if family in ("date", "timestamp", "time"):
        return "timestamp", [f"type {s.data_type}"]
    if family == "boolean":
        return "dimension", ["a yes/no flag"]
    if s.data_type.upper() == "INTERVAL":
        return "measure", ["an interval"]
    if family == "number":
        return _number_kind(s, name, prefix)
    if family in ("text", "uuid"):
        return _text_kind(s, name)
    return "attribute", [f"type {s.data_type}"]


def _number_kind(s: ColumnStatistics, name: ColumnName, prefix: str | None) -> tuple[str, list[str]]:
    column = name.column
    words = set(tokens(column[len(prefix):] if prefix and column.lower().startswith(prefix) else column))
    if words & _POSITION_WORDS:
        return "attribute", [f"a position ({', '.join(sorted(words & _POSITION_WORDS))}), not a quantity"]
    if name.key_suffix:
        return "identifier", ["named like an identifier: a reference or a code, not a quantity"]
    if words & _CODE_WORDS:
        return "dimension", [f"a code ({', '.join(sorted(words & _CODE_WORDS))}), not a quantity"]
    if s.distinct_count <= 2 and {str(s.min), str(s.max)} <= {"0", "1"}:
        return "dimension", ["a 0/1 flag"]
    if s.count == s.null_count:
        return "attribute", ["a number without values"]
    kind = "an integer" if is_whole_number_type(s.data_type) else "a number"
    return "measure", [f"{kind} that is no key, reference or code"]


def _text_kind(s: ColumnStatistics, name: ColumnName) -> tuple[str, list[str]]:
    if name.key_suffix:
        return "identifier", ["named like an identifier: a reference or a code"]
    if (s.mean_length or 0) > _FREE_TEXT_LENGTH:
        return "attribute", ["free text"]
    if s.distinct_count <= DIMENSION_MAX_DISTINCT and s.uniqueness <= _DIMENSION_MAX_UNIQUENESS:
        return "dimension", [f"text with {s.distinct_count} distinct values"]
    return "attribute", [f"text with {s.distinct_count:,} distinct values"]

