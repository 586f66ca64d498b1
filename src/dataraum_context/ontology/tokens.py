"""Column names as words, and the name patterns of ontologies matched against them.

`tokenize` reads every naming style the same way: `InvoiceDate`, `invoice_date`, `invoice-date`
and `INVOICE DATE` are all ('invoice', 'date'). Patterns are matched word by word, so `id` never
matches inside `paid` or `idle`; plurals are folded (`orders` ~ `order`, `categories` ~
`category`) on both sides of a comparison.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

# Symbols that are words in spreadsheet headers: "Discount %", "Order #".
_SYMBOL_WORDS = {"%": "percent", "#": "number"}


def _kind(ch: str) -> str | None:
    """d(igit), u(pper-case letter), l(ower-case or uncased letter), or None for a separator."""
    if ch.isdigit():
        return "d"
    if ch.isupper():
        return "u"
    if ch.isalnum():
        return "l"
    return None


def tokenize(name: str) -> tuple[str, ...]:
    """The words of a name, lower-case, in order.

    Splits at every character that is not a letter or digit, where lower case turns to upper
    (`unitPrice`), at the end of an acronym (`HTTPStatus`: http, status; a plural `s` stays with
    it: `customerIDs`: customer, ids) and between letters and digits (`address2`: address, 2).
    `%` and `#` are the words percent and number.
    """
    words: list[str] = []
    current: list[str] = []

    def flush() -> None:
        word = "".join(c for ch in current for c in ch.lower() if c.isalnum())
        if word:
            words.append(word)
        current.clear()

    for i, ch in enumerate(name):
        kind = _kind(ch)
        if kind is None:
            flush()
            if ch in _SYMBOL_WORDS:
                words.append(_SYMBOL_WORDS[ch])
            continue
        if current:
            prev = _kind(current[-1])
            nxt = _kind(name[i + 1]) if i + 1 < len(name) else None
            if (prev == "d") != (kind == "d") or (prev == "l" and kind == "u"):
                flush()
            elif prev == "u" and kind == "u" and nxt == "l" and not _plural_s(name, i + 1):
                flush()  # HTTPStatus: the S starts the next word
        current.append(ch)
    flush()
    return tuple(words)


def _plural_s(name: str, i: int) -> bool:
    """An `s` at `i` that ends the word (`IDs`, `SKUs`) is a plural, not the start of a word."""
    return name[i] == "s" and (i + 1 == len(name) or _kind(name[i + 1]) != "l")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A word with a plural ending folded, for comparisons only: orders, categories. Words of
    three letters stay as they are: `hrs` is not `hr` (heart rate), `pcs` not `pc`."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def split_compound(word: str, vocabulary: Collection[str]) -> tuple[str, ...] | None:
    """`word` as the fewest known words (each of two letters or more, compared by `stem`), or
    None: 'acctbal' -> ('acct', 'bal'), 'unitprice' -> ('unit', 'price'). Among equally short
    splits the one with the longest first word wins, so the result is deterministic."""
    if len(word) < 4 or not word.isalpha() or stem(word) in vocabulary:
        return None
    n = len(word)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)  # best split of word[i:]
    best[n] = ()
    for i in range(n - 2, -1, -1):
        for j in range(n, i + 1, -1):  # longest piece first
            rest = best[j]
            current = best[i]
            if (rest is not None and stem(word[i:j]) in vocabulary
                    and (current is None or 1 + len(rest) < len(current))):
                best[i] = (word[i:j], *rest)
    found = best[0]
    return found if found is not None and len(found) > 1 else None


# --- name patterns -------------------------------------------------------------------------


@dataclass(frozen=True)
class PatternMatch:
    """How a pattern matched a name's words: the share of the words it spelled out, and
    whether it spelled out the last word (the head noun: `customer_id` is an id)."""

    coverage: float
    head: bool


@dataclass(frozen=True)
class NamePattern:
    """An indicator or exclude pattern, parsed: words compared by `stem`; None stands for `*`.

    Without `*` the words must appear in the name adjacent and in order, anywhere (`unit price`
    matches `avg_unit_price`). With `*` the pattern spans the whole name and `*` stands for any
    number of words: `created*` starts with created, `*_at` ends with at.
    """

    text: str
    words: tuple[str | None, ...]
    literals: tuple[str, ...] = field(init=False)  # the words without the wildcards
    required: frozenset[str] = field(init=False)  # a name lacking one of these cannot match
    anchored: bool = field(init=False)

    def __post_init__(self) -> None:
        literals = tuple(w for w in self.words if w is not None)
        object.__setattr__(self, "literals", literals)
        object.__setattr__(self, "required", frozenset(literals))
        object.__setattr__(self, "anchored", None in self.words)

    def match(self, words: tuple[str, ...]) -> PatternMatch | None:
        """Match against a name's words (already passed through `stem`)."""
        literals = self.literals
        if not words or len(literals) > len(words) or not self.required.issubset(words):
            return None
        coverage = len(literals) / len(words)
        if self.anchored:
            if not _glob(self.words, words):
                return None
            return PatternMatch(coverage, self.words[-1] is not None or len(literals) == len(words))
        k = len(literals)
        for start in range(len(words) - k, -1, -1):  # rightmost first: prefer the head noun
            if words[start:start + k] == literals:
                return PatternMatch(coverage, start + k == len(words))
        return None


def parse_pattern(text: str) -> NamePattern:
    """A pattern from its text; raises ValueError for one with no words."""
    parts: list[str | None] = []
    for i, segment in enumerate(text.split("*")):
        if i and parts[-1:] != [None]:
            parts.append(None)
        parts.extend(stem(w) for w in tokenize(segment))
    if not any(parts):
        raise ValueError(f"{text!r} has no words to match (letters or digits)")
    return NamePattern(text, tuple(parts))


def _glob(pattern: tuple[str | None, ...], words: tuple[str, ...]) -> bool:
    """Whole-name match where None is any number of words."""
    reachable = {0}  # positions in `words` reachable after the pattern items so far
    for item in pattern:
        if item is None:
            reachable = set(range(min(reachable), len(words) + 1)) if reachable else set()
        else:
            reachable = {i + 1 for i in reachable if i < len(words) and words[i] == item}
        if not reachable:
            return False
    return len(words) in reachable


def stems(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(stem(w) for w in words)
