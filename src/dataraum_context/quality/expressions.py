"""Reading the SQL expressions of `cross_column` rules: their `{concept}` placeholders, their
aggregate calls and a top-level `a = b` comparison (string literals skipped)."""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_AGGREGATES = frozenset({
    "sum", "avg", "mean", "min", "max", "count", "median", "mode", "stddev", "stddev_pop",
    "stddev_samp", "variance", "var_pop", "var_samp", "any_value", "first", "last", "arg_min",
    "arg_max", "min_by", "max_by", "bool_and", "bool_or", "string_agg", "list", "product",
    "quantile", "quantile_cont", "quantile_disc", "approx_count_distinct", "fsum", "kahan_sum"})


def placeholder_concepts(expression: str | None) -> list[str]:
    """The concepts of the `{concept}` and `{concept.table}` placeholders, in order."""
    return [p.partition(".")[0] for p in PLACEHOLDER.findall(expression or "")]


def aggregate_calls(expression: str) -> list[tuple[int, int]]:
    """The spans of aggregate function calls in an expression."""
    spans = []
    for m in _CALL.finditer(expression):
        if m.group(1).lower() not in _AGGREGATES or _in_string(expression, m.start()):
            continue
        depth, i = 0, m.end() - 1
        while i < len(expression):
            ch = expression[i]
            if ch == "'":
                i = expression.find("'", i + 1)
                if i < 0:
                    break
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    spans.append((m.start(), i + 1))
                    break
            i += 1
    return spans


def top_level_equals(expression: str) -> int | None:
    """The position of the one top-level `=` comparison, if the expression is `a = b`."""
    depth, found = 0, []
    for i, ch in enumerate(expression):
        if _in_string(expression, i):
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "=" and depth == 0 and expression[i - 1:i] not in ("<", ">", "!", "=") \
                and expression[i + 1:i + 2] != "=":
            found.append(i)
    return found[0] if len(found) == 1 else None


def _in_string(text: str, pos: int) -> bool:
    return text.count("'", 0, pos) % 2 == 1
