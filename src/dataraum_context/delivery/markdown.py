"""Text from the data (names, values, descriptions, messages) as Markdown that stays text.

Everything the renderers put into Markdown from the data goes through `text` or `code`: a column
named `a|b`, a value `# Revenue` or a description with a line break must not split a table cell,
start a heading or a list, or open a link, a code span or HTML.
"""

from __future__ import annotations

import re

# what CommonMark and GitHub tables give a meaning inline, escaped wherever it stands; `_` only
# where it could open or close emphasis, so that `order_id` reads as written
_INLINE = re.compile(r"[\\`*\[\]<>|#~&]|(?<![^\W_])_|_(?![^\W_])")
# what starts a list or a thematic break at the beginning of a line: `- x`, `+ x`, `---`, `1. x`
_BLOCK = re.compile(r"^(?:([-+])(?=[\s\-+]|$)|(\d{1,9})([.)])(?=\s|$))")
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")


def text(value: object) -> str:
    """`value` as inline Markdown text: on one line, its markup characters escaped."""
    escaped = _INLINE.sub(r"\\\g<0>", " ".join(str(value).split()))
    return _BLOCK.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped)


def code(value: object) -> str:
    """`value` as a code span (SQL): on one line, fenced by more backticks than it holds."""
    one_line = _LINE_BREAKS.sub(" ", str(value)).strip() or " "  # (a code span is never empty)
    fence = "`" * (max(map(len, re.findall("`+", one_line)), default=0) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"
