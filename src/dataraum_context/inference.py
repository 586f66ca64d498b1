"""Type inference over text values: value shapes, ranked type candidates with evidence, and the
DuckDB SQL that casts a value the way its candidate reads it.

Profiling matches the regular expressions below in polars (Rust regex) over a column's distinct
values; type resolution casts every row in DuckDB. Where DuckDB could read a value differently
than the profile did (numbers with separators, units or a comma mark; whole numbers, which a
cast would round), the cast is guarded by the same regular expression, so the regexes use only
syntax both engines share: `[0-9]` rather than `\\d`, explicit space classes, `(?:...)` groups.
Dates are read with the profile's strptime format; timestamps, times, UUIDs and plain decimals
with DuckDB's own casts, which accept what the profile's patterns describe.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dataraum_context.models import ColumnSchema, TypeCandidate, TypeSystemStrength, ValuePattern
from dataraum_context.sql import Family, family, is_number, is_whole_number, quote_literal

if TYPE_CHECKING:
    import polars as pl
else:
    class _Polars:
        """polars, imported when profiling first uses it: type resolution needs only the SQL
        here, and a source typed at the source profiles no value (the import costs 0.13 s and
        23 MiB)."""

        def __getattr__(self, name: str) -> Any:
            import polars

            return getattr(polars, name)

    pl = _Polars()

# trimmed from values before they are read or null-token matched: the Unicode space separators,
# exactly what DuckDB's trim() removes
WHITESPACE = (" \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
              "\u202f\u205f\u3000")
PATTERN_LIMIT = 10  # value patterns kept per column
PATTERN_WIDTH = 40  # longer shapes are cut: they are free text, not a format
NAME_HINT_WEIGHT = 10  # a telling column name counts as this many more matching distinct values

_ASCII_SHAPE = {**dict.fromkeys(string.digits, "9"), **dict.fromkeys(string.ascii_lowercase, "a"),
                **dict.fromkeys(string.ascii_uppercase, "A")}

_SPACE = r"[ \x{00A0}\x{202F}]"  # a space inside a number: space, no-break and narrow no-break
_SPACES = (" ", "\u00a0", "\u202f")
CURRENCY_SYMBOLS = ("$", "€", "£", "¥", "₹", "₩", "₽", "₺")
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD",
                  "INR", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "BRL", "MXN", "ZAR", "KRW")
_UNIT = "|".join(re.escape(u) for u in CURRENCY_SYMBOLS + CURRENCY_CODES)

# (decimal mark, thousands separator); when the values fit several equally, the first wins
_DIALECTS = ((".", None), (".", ","), (",", None), (",", "."), (".", " "), (",", " "), (".", "'"))
_SEPARATOR_RX = {",": ",", ".": r"\.", " ": _SPACE, "'": "'"}
_NUMBER_FORMATS = ("integer", "decimal", "decimal_comma", "scientific", "percent", "currency")

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

# shape -> strptime formats that read it; the first is taken when the values do not settle it
_DATE_SHAPES = (
    (r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$", ("%Y-%m-%d",)),
    (r"^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$", ("%Y/%m/%d",)),
    (r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$", ("%m/%d/%Y", "%d/%m/%Y")),
    (r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$", ("%d.%m.%Y", "%m.%d.%Y")),
    (r"^[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}$", ("%d-%m-%Y", "%m-%d-%Y")),
)
_TIME = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
_ZONE = r"(?:Z|[-+](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)"
_TIMESTAMP_RX = rf"^([0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}})[T ]{_TIME}({_ZONE})?$"
_TIME_RX = rf"^{_TIME}$"
_UUID_RX = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_HEX = r"[0-9A-Fa-f]{1,4}"
# values that stay text but are worth naming: (format, regex, what a match is)
_TEXT_FORMATS = (
    ("email", r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)*\.[^@\s.0-9]{2,}$", "email addresses"),
    ("url", r"^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp])://|www\.)[^ \t]+$", "URLs"),
    ("ipv4", rf"^{_OCTET}(?:\.{_OCTET}){{3}}$", "IPv4 addresses"),
    ("ipv6", rf"^(?:(?:{_HEX}:){{7}}{_HEX}|(?:(?:{_HEX}:){{0,6}}{_HEX})?::(?:(?:{_HEX}:){{0,6}}{_HEX})?)$",
     "IPv6 addresses"),
)

_FLAG_NAME = (r"^(is|has|can|should|was|did|does|allow|allows|use|uses)_|_(flag|yn|bool)$"
              r"|^(active|enabled|disabled|deleted|archived|verified|valid|visible|flag)$")
# (regex over the snake_case column name, candidate types or formats it supports, what it says)
_NAME_HINTS = (
    (_FLAG_NAME, ("BOOLEAN",), "a flag"),
    (r"(^|_)(id|uuid|guid|key)$", ("BIGINT", "UUID", "code"), "an identifier"),
    (r"(^|_)(at|ts|timestamp|datetime)$|^(created|updated|modified)$", ("TIMESTAMP", "TIMESTAMPTZ"),
     "a point in time"),
    (r"(^|_)(date|day|dob|birthday)$|^date(_|$)", ("DATE",), "a date"),
    (r"(^|_)time$", ("TIME", "TIMESTAMP", "TIMESTAMPTZ"), "a time"),
    (r"e_?mail", ("email",), "an email address"),
    (r"(^|_)(url|uri|link|website|homepage)$", ("url",), "a URL"),
    (r"(^|_)ip(_?(address|addr|v4|v6))?$", ("ipv4", "ipv6"), "an IP address"),
    (r"zip|postal|postcode|plz|(^|_)code$", ("code",), "a code"),
    (r"amount|price|cost|total|revenue|balance|salary|fee", ("currency", "decimal", "decimal_comma"),
     "an amount"),
    (r"pct|percent", ("percent",), "a percentage"),
)
# when candidates tie, the more specific reading ranks first
_PRIORITY = ("code", "boolean", "integer", "percent", "currency", "decimal", "decimal_comma",
             "scientific", "date_iso", "date_ymd", "date_us", "date_eu", "timestamp_iso",
             "timestamp_iso_tz", "time", "uuid", "email", "url", "ipv4", "ipv6")


# --- profiling -----------------------------------------------------------------------------


def as_tokens(null_tokens: str | Iterable[str]) -> tuple[str, ...]:
    """Null tokens as given in a config: a list, a tuple, or one string."""
    return (null_tokens,) if isinstance(null_tokens, str) else tuple(null_tokens)


# A value that trim() changes begins or ends with one of Unicode's space separators (Zs: what
# DuckDB's trim removes); RE2 reads these two patterns from the value's first or last bytes.
_PADDED = (quote_literal(r"^\p{Zs}"), quote_literal(r"\p{Zs}$"))


def null_token_sql(value: str, null_tokens: Iterable[str], tokens: str = "$1::VARCHAR[]") -> str:
    """SQL: whether `value` (a VARCHAR expression) is one of the `null_tokens` once trimmed, as
    `list_contains(tokens, trim(value))` with `tokens` the SQL list of them; only a value that
    can be is trimmed, one as long as a token at most or padded (trimming every value of a column
    of kilobyte texts took two thirds of the time to type it)."""
    longest = max((len(t.encode()) for t in null_tokens), default=0)
    padded = " OR ".join(f"regexp_matches({value}, {pattern})" for pattern in _PADDED)
    return f"((strlen({value}) <= {longest} OR {padded}) AND list_contains({tokens}, trim({value})))"


def infers(type_system: TypeSystemStrength, data_type: str) -> bool:
    """Whether a staged column's type is inferred from its values (text from a source whose types
    are not enforced) rather than kept as the source typed it."""
    return type_system != TypeSystemStrength.STRONG and data_type == "VARCHAR"


def source_column(name: str, data_type: str, source: str) -> ColumnSchema:
    """A column typed at the source: its own type is the only candidate."""
    candidate = TypeCandidate(data_type=data_type, format="source", confidence=1.0, match_ratio=1.0,
                              evidence=(f"typed {data_type} by the source ({source})",))
    return ColumnSchema(name=name, source_type=data_type, profiled_values=0, distinct_values=0,
                        candidates=(candidate,))


def profile_column(name: str, values: pl.Series, null_tokens: Iterable[str]) -> ColumnSchema:
    """Patterns, null tokens and ranked type candidates of a text column's (sampled) values."""
    return profile_columns(values.rename(name).to_frame(), null_tokens)[name]


def _checks() -> dict[str, pl.Expr]:
    """Whether a value could be read by a detector (its regex, or one of its words); a detector
    whose check no value of a column passes finds nothing there and is skipped (`_Values.present`)."""
    v = pl.col("value")
    return {
        "unit": v.str.contains(_UNIT_RX),
        **{f"separator {ch}": v.str.contains(rx) for ch, rx in _SEPARATOR_RX.items()},
        "digits": v.str.contains("^[0-9]+$"),
        "boolean": v.str.to_lowercase().is_in(TRUE_WORDS + FALSE_WORDS),
        **{rx: v.str.contains(rx) for rx, _ in _DATE_SHAPES},
        **{rx: v.str.contains(rx) for rx in (_TIMESTAMP_RX, _TIME_RX, _UUID_RX)},
        **{rx: v.str.contains(rx) for _, rx, _ in _TEXT_FORMATS},
    }


def profile_columns(frame: pl.DataFrame, null_tokens: Iterable[str]) -> dict[str, ColumnSchema]:
    """`profile_column` of every column of a frame of text columns. What can be computed for all
    columns at once is (distinct values, null tokens, value patterns, which detectors can find
    anything): a polars call costs ~0.1 ms however few its values, and a column took ~70 of them
    (1,200 columns of 5 rows: 10 s)."""
    names = frame.columns  # by position below: a column may be named as ours ("value")
    counts = (frame.rename({name: str(i) for i, name in enumerate(names)})
              .unpivot(variable_name="column", value_name="value")
              .with_columns(pl.col("column").cast(pl.Int64), pl.col("value").str.strip_chars(WHITESPACE))
              .drop_nulls("value")
              .group_by("column", "value").agg(pl.len().alias("count"))
              .with_columns(token=pl.col("value").is_in(list(null_tokens))))
    values = counts.filter(~pl.col("token")).drop("token")
    checks = _checks()
    present = {row["column"]: frozenset(k for k in checks if row[k]) for row in
               values.group_by("column").agg(**{k: e.any() for k, e in checks.items()}).iter_rows(named=True)}
    patterns = _patterns(values)
    by_column = values.partition_by("column", as_dict=True, include_key=False)
    tokens = counts.filter(pl.col("token")).sort(["column", "count", "value"], descending=[False, True, False])
    seen: dict[int, dict[str, int]] = {}
    for column, value, n in tokens.select("column", "value", "count").iter_rows():
        seen.setdefault(column, {})[value] = n
    empty = pl.DataFrame(schema={"value": pl.String, "count": pl.UInt32})
    profiles = {}
    for i, name in enumerate(names):
        vals = _Values(name, by_column.get((i,), empty), present.get(i, frozenset()))
        profiles[name] = ColumnSchema(
            name=name,
            source_type="VARCHAR",
            profiled_values=vals.rows,
            distinct_values=vals.values.len(),
            null_tokens=seen.get(i, {}),
            patterns=patterns.get(i, ()),
            candidates=_rank(vals),
        )
    return profiles


@dataclass
class _Values:
    """A column's distinct values (trimmed, no null tokens) with their row counts."""

    column: str
    frame: pl.DataFrame  # value, count
    present: frozenset[str]  # the `_checks` some value passes

    @property
    def values(self) -> pl.Series:
        return self.frame["value"]

    @cached_property
    def rows(self) -> int:
        return int(self.frame["count"].sum())

    def share(self, mask: pl.Series) -> tuple[float, float]:
        """(share of the distinct values, share of the rows) where `mask` holds."""
        if not self.values.len():
            return 0.0, 0.0
        mask = mask.fill_null(False)
        return int(mask.sum()) / mask.len(), int(self.frame["count"].filter(mask).sum()) / self.rows

    def candidate(self, mask: pl.Series, data_type: str, fmt: str, what: str,
                  evidence: tuple[str, ...] = (), **fields) -> TypeCandidate | None:
        """A candidate for the values where `mask` holds, None when none does.

        Confidence is the geometric mean of the distinct and the row share: one bad value among
        a thousand costs a thousandth, a frequent bad value or many distinct ones cost more."""
        distinct, rows = self.share(mask)
        if not distinct:
            return None
        matched = int(mask.fill_null(False).sum())
        said = (f"{matched:,} of {self.values.len():,} distinct values are {what} "
                f"({rows:.1%} of rows)",)
        return TypeCandidate(data_type=data_type, format=fmt, confidence=_ratio(math.sqrt(distinct * rows)),
                             match_ratio=_ratio(distinct), evidence=said + evidence, **fields)


def _ratio(x: float) -> float:
    """Rounded for reading, but never up to 1.0 when something did not match."""
    return 1.0 if x >= 1.0 else min(round(x, 4), 0.9999)


def _only(values: pl.Series, mask: pl.Series) -> pl.Series:
    """`values` where `mask` holds, NULL elsewhere: costly string work skips the rest."""
    return pl.select(pl.when(mask).then(values)).to_series()


def _patterns(values: pl.DataFrame) -> dict[int, tuple[ValuePattern, ...]]:
    """Each column's most frequent value shapes (9 a digit, a/A a letter), from (column, value,
    count) rows."""
    shaped = values.with_columns(pattern=pl.col("value").str.slice(0, PATTERN_WIDTH + 1).str.replace_many(_ASCII_SHAPE))
    beyond = shaped["pattern"].str.contains(r"[^\x00-\x7F]")
    if beyond.any():  # letters beyond ASCII by Unicode class, where there are any (a costly regex)
        unicode = pl.col("pattern").str.replace_all(r"[\p{L}--\p{Lu}]", "a").str.replace_all(r"\p{Lu}", "A")
        shaped = pl.concat([shaped.filter(~beyond), shaped.filter(beyond).with_columns(pattern=unicode)])
    p = pl.col("pattern")
    shaped = shaped.with_columns(pattern=pl.when(p.str.len_chars() > PATTERN_WIDTH)
                                 .then(p.str.slice(0, PATTERN_WIDTH) + "…").otherwise(p))
    top = (shaped.group_by("column", "pattern")
           .agg(pl.col("count").sum(), pl.col("value").filter(pl.col("count") == pl.col("count").max()).min())
           .sort(["column", "count", "pattern"], descending=[False, True, False])
           .group_by("column", maintain_order=True).head(PATTERN_LIMIT))
    found: dict[int, list[ValuePattern]] = {}
    for column, p, n, v in top.select("column", "pattern", "count", "value").iter_rows():
        found.setdefault(column, []).append(ValuePattern(pattern=p, count=n, example=v))
    return {column: tuple(patterns) for column, patterns in found.items()}


def _rank(vals: _Values) -> tuple[TypeCandidate, ...]:
    """Typed readings best first (confidence, then a telling name, then specificity), text last."""
    found = [c for detect in (_numbers, _booleans, _dates, _temporals, _text_formats)
             for c in detect(vals) if c is not None]
    hinted = [_with_name_hint(vals, c) for c in found]
    hinted.sort(key=lambda h: (-h[0].confidence, not h[1], _PRIORITY.index(h[0].format)))
    ranked = [c for c, _ in hinted]
    best = ranked[0].confidence if ranked else 0.0
    text = TypeCandidate(data_type="VARCHAR", format="text", confidence=_ratio(1.0 - best),
                         match_ratio=1.0, evidence=("text holds every value",) if vals.rows
                         else ("no values to read: every value is NULL or a null token",))
    return (*ranked, text)


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def is_flag_name(name: str) -> bool:
    """Whether a column's name says it is a flag (is_*, has_*, *_flag, active, ...)."""
    return re.search(_FLAG_NAME, _snake(name)) is not None


def _with_name_hint(vals: _Values, candidate: TypeCandidate) -> tuple[TypeCandidate, bool]:
    """When the name agrees with what most values say, it counts as a few more matching values:
    it settles a small column with one bad value, and fades as the values grow in number."""
    snake = _snake(vals.column)
    for rx, kinds, says in _NAME_HINTS:
        if candidate.match_ratio > 0.5 and (candidate.data_type in kinds or candidate.format in kinds) \
                and re.search(rx, snake):
            n = vals.values.len()
            return candidate.model_copy(update={
                "confidence": _ratio((candidate.confidence * n + NAME_HINT_WEIGHT) / (n + NAME_HINT_WEIGHT)),
                "evidence": (*candidate.evidence, f"the name {vals.column!r} suggests {says} "
                                                  f"(counted as {NAME_HINT_WEIGHT} more matching values)"),
            }), True
    return candidate, False


# --- detectors: each returns candidates for one family of readings ------------------------


def number_regex(decimal_mark: str | None, thousands: str | None, unit: str | None) -> str:
    """A number as written: groups (sign, sign after a leading unit, digits). Without a decimal
    mark it is a whole number."""
    integer = "[0-9]+"
    if thousands:
        integer = f"[0-9]{{1,3}}(?:{_SEPARATOR_RX[thousands]}[0-9]{{3}})+|[0-9]+"
    body = f"(?:{integer})"
    if decimal_mark:
        mark = re.escape(decimal_mark)
        body = f"(?:{body}(?:{mark}[0-9]+)?|{mark}[0-9]+)(?:[eE][-+]?[0-9]+)?"
    if not unit:
        return f"^([-+]?)()({body})$"
    u = f"(?:{re.escape(unit)})?"
    return f"^([-+]?){_SPACE}*{u}{_SPACE}*([-+]?)({body}){_SPACE}*{u}$"


def _canonical(values: pl.Series, mark: str | None, thousands: str | None, unit: str | None) -> pl.Series:
    """Matching numbers as DuckDB reads them: sign and digits, '.' as decimal mark."""
    if unit or thousands or mark == ",":
        values = values.str.replace(number_regex(mark, thousands, unit), "${1}${2}${3}")
    if thousands:
        values = values.str.replace_all(_SEPARATOR_RX[thousands], "")
    return values.str.replace(",", ".", literal=True) if mark == "," else values


_UNIT_RX = f"[0-9].*(?:{_UNIT}|%)$|^[-+]?{_SPACE}*(?:{_UNIT})"  # a value with a currency or %


def _dominant_unit(vals: _Values) -> str | None:
    """The currency or % most rows carry (values with another unit will not match)."""
    if "unit" not in vals.present:
        return None
    v = _only(vals.values, vals.values.str.contains(_UNIT_RX))
    unit = v.str.extract(f"^[-+]?{_SPACE}*({_UNIT})", 1).fill_null(v.str.extract(f"({_UNIT}|%)$", 1))
    units = (vals.frame.with_columns(unit=unit).filter(pl.col("unit").is_not_null())
             .group_by("unit").agg(pl.col("count").sum()).sort(["count", "unit"], descending=[True, False]))
    return units["unit"][0] if units.height else None


def _dialect_text(mark: str | None, thousands: str | None, unit: str | None = None) -> str:
    parts = [f"decimal mark {mark!r}" if mark else "whole number"]
    if thousands:
        parts.append(f"thousands separator {thousands!r}")
    if unit:
        parts.append(f"unit {unit!r}")
    return ", ".join(parts)


def _numbers(vals: _Values) -> list[TypeCandidate | None]:
    """Integers and decimals in any of the dialects, with currency or %; leading-zero codes."""
    v = vals.values
    unit = _dominant_unit(vals)
    present = {ch for ch in (",", ".", " ", "'") if f"separator {ch}" in vals.present}
    scored = []  # the dialects the values could be written in
    for mark, sep in _DIALECTS:
        if sep in present or (sep is None and (mark == "." or mark in present)):
            mask = v.str.contains(number_regex(mark, sep, unit))
            scored.append((vals.share(mask)[1], mark, sep, mask))
    score, mark, sep, mask = max(scored, key=lambda s: s[0])  # the first of the best
    code = None
    if "digits" in vals.present:
        plain = v.str.contains("^[0-9]+$")
        padded = plain & (v.str.contains("^0[0-9]") | (v.str.len_chars() > 18))
        code = vals.candidate(plain, "VARCHAR", "code", "digit strings",
                              (f"a number would not keep {int(padded.sum()):,} of them as written "
                               "(a leading zero, or more than 18 digits)",)) if padded.any() else None
    if not score:
        return [code]
    matched = _only(v, mask)
    canon = _canonical(matched, mark, sep, unit)
    evidence = []
    for other, m2, s2, mask2 in scored:
        if other == score and (m2, s2) != (mark, sep):
            differs = (mask2 & (canon != _canonical(matched, m2, s2, unit))).fill_null(False)
            if differs.any():
                evidence.append(f"ambiguous: {v.filter(differs).min()!r} reads as well with "
                                f"{_dialect_text(m2, s2)}; read with {_dialect_text(mark, sep)}")
                break
    ambiguous = bool(evidence)
    fraction = canon.str.contains("[.eE]").fill_null(False)
    fmt = ("percent" if unit == "%" else "currency" if unit
           else "scientific" if canon.str.contains("[eE]").any()
           else ("decimal_comma" if mark == "," else "decimal") if fraction.any() else "integer")
    if unit == "%":
        evidence.append("kept as written: 12.5% reads as 12.5 with unit '%'")
    if fraction.any():
        return [code, vals.candidate(mask, "DOUBLE", fmt, "decimal numbers", tuple(evidence),
                                     decimal_mark=mark, thousands_separator=sep, unit=unit,
                                     ambiguous=ambiguous)]
    digits = canon.str.strip_chars_start("+-")
    fits = mask & ~digits.str.contains("^0[0-9]") & (digits.str.len_chars() <= 18)
    return [code, vals.candidate(fits, "BIGINT", fmt, "whole numbers", tuple(evidence),
                                 thousands_separator=sep, unit=unit, ambiguous=ambiguous)]


def _booleans(vals: _Values) -> list[TypeCandidate | None]:
    """true/false, yes/no, y/n, t/f; 0/1 only when the name says flag."""
    if "boolean" not in vals.present:
        return []
    flag = is_flag_name(vals.column)
    words = [w for w in TRUE_WORDS + FALSE_WORDS if flag or w not in ("1", "0")]
    evidence = (f"0/1 read as booleans: the name {vals.column!r} says flag",) if flag else ()
    mask = vals.values.str.to_lowercase().is_in(words)
    return [vals.candidate(mask, "BOOLEAN", "boolean", "boolean words", evidence)]


def _date_format(fmt: str) -> str:
    if fmt.startswith("%Y"):
        return "date_iso" if fmt == "%Y-%m-%d" else "date_ymd"
    return "date_us" if fmt.startswith("%m") else "date_eu"


def _dates(vals: _Values) -> list[TypeCandidate | None]:
    """Dates per written shape; day-first or month-first as the values settle it."""
    found = []
    for rx, fmts in _DATE_SHAPES:
        if rx not in vals.present:
            continue
        shaped = vals.values.str.contains(rx)
        v = _only(vals.values, shaped)
        masks = [v.str.strptime(pl.Date, fmt, strict=False).is_not_null() for fmt in fmts]
        scores = [vals.share(m)[1] for m in masks]
        best = max(range(len(fmts)), key=lambda i: scores[i])
        evidence: tuple[str, ...] = ()
        ambiguous = False
        if len(fmts) == 2:
            only = int((masks[best] & ~masks[1 - best]).sum())
            order = "day-first" if fmts[best].startswith("%d") else "month-first"
            if only:
                evidence = (f"{order}: {only:,} values read only that way (a day above 12)",)
            else:
                ambiguous = True
                evidence = (f"ambiguous: no value settles day-first against month-first; "
                            f"{order} assumed ({fmts[best]})",)
        found.append(vals.candidate(masks[best], "DATE", _date_format(fmts[best]), "dates",
                                    evidence, parse_format=fmts[best], ambiguous=ambiguous))
    return found


def _temporals(vals: _Values) -> list[TypeCandidate | None]:
    """ISO 8601 timestamps (with a zone: TIMESTAMPTZ), times of day, UUIDs."""
    v = vals.values
    found = [vals.candidate(v.str.contains(rx), data_type, fmt, what) for rx, data_type, fmt, what in (
        (_TIME_RX, "TIME", "time", "times of day"), (_UUID_RX, "UUID", "uuid", "UUIDs")) if rx in vals.present]
    if _TIMESTAMP_RX not in vals.present:
        return found
    parts = _only(v, v.str.contains(_TIMESTAMP_RX)).str.extract_groups(_TIMESTAMP_RX)
    stamp = parts.struct.field("1").str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_not_null()
    zoned = stamp & parts.struct.field("2").is_not_null()
    if zoned.any():
        unzoned = int((stamp & ~zoned).sum())
        timestamp = vals.candidate(stamp, "TIMESTAMPTZ", "timestamp_iso_tz", "ISO 8601 timestamps",
                                   (f"{int(zoned.sum()):,} carry a zone",)
                                   + ((f"{unzoned:,} without a zone read as UTC",) if unzoned else ()))
    else:
        timestamp = vals.candidate(stamp, "TIMESTAMP", "timestamp_iso", "ISO 8601 timestamps")
    return [timestamp, *found]


def _text_formats(vals: _Values) -> list[TypeCandidate | None]:
    return [vals.candidate(vals.values.str.contains(rx), "VARCHAR", fmt, what)
            for fmt, rx, what in _TEXT_FORMATS if rx in vals.present]


# --- casting -------------------------------------------------------------------------------


def reads_alike(data_type: str, target: str) -> bool:
    """Whether a candidate of `data_type` can read values for `target`: the same family, or
    numbers both (a candidate's dialect, such as its thousands separator, serves any number)."""
    return family(data_type) is family(target) or (is_number(data_type) and is_number(target))


def default_candidate(data_type: str) -> TypeCandidate:
    """How to read values for a type the profile found no candidate of (an override)."""
    kind = family(data_type)
    fmt = ("integer" if is_whole_number(data_type) else "decimal") if is_number(data_type) else {
        Family.DATE: "date_iso", Family.TIMESTAMP: "timestamp_iso", Family.TIME: "time",
        Family.BOOLEAN: "boolean", Family.UUID: "uuid", Family.TEXT: "text"}.get(kind, "cast")
    return TypeCandidate(data_type=data_type, format=fmt, confidence=0.0, match_ratio=0.0,
                         decimal_mark="." if fmt == "decimal" else None,
                         parse_format="%Y-%m-%d" if kind is Family.DATE else None,
                         evidence=("no profiled candidate of this type: read in its plain form",))


def cast_sql(value: str, candidate: TypeCandidate, target: str) -> str:
    """SQL reading `value` (a VARCHAR expression) as `target` the way `candidate` says:
    NULL when the value does not read that way (a failure, unless the value was NULL)."""
    fmt = candidate.format
    if family(target) is Family.TEXT:
        return value
    if fmt in _NUMBER_FORMATS:
        return _number_sql(value, candidate, target)
    if fmt == "boolean":
        expr = (f"CASE WHEN lower({value}) IN ({', '.join(map(quote_literal, TRUE_WORDS))}) THEN true "
                f"WHEN lower({value}) IN ({', '.join(map(quote_literal, FALSE_WORDS))}) THEN false END")
    elif fmt.startswith("date_") and candidate.parse_format is not None:
        expr = f"try_strptime({value}, {quote_literal(candidate.parse_format)})::DATE"
    elif fmt.startswith("timestamp_") or fmt in ("time", "uuid"):
        expr = f"TRY_CAST({value} AS {candidate.data_type})"
    else:
        return f"TRY_CAST({value} AS {target})"
    return expr if candidate.data_type == target else f"TRY_CAST({expr} AS {target})"


def _number_sql(value: str, candidate: TypeCandidate, target: str) -> str:
    """A plain decimal is DuckDB's own reading; anything else is checked against the dialect's
    pattern (a whole-number type takes no fraction: DuckDB would round it), then stripped of
    unit, spaces and separators."""
    sep, unit = candidate.thousands_separator, candidate.unit
    whole = is_whole_number(target)
    mark = None if whole else candidate.decimal_mark or ("," if sep == "." else ".")
    if not (whole or sep or unit or mark == ","):
        return f"TRY_CAST({value} AS {target})"
    drops = ([unit] if unit else []) + (list(_SPACES) if unit or sep == " " else []) \
        + ([sep] if sep and sep != " " else [])
    text = value
    for drop in drops:
        text = f"replace({text}, {quote_literal(drop)}, '')"
    if mark == ",":
        text = f"replace({text}, ',', '.')"
    rx = number_regex(mark, sep, unit)
    return f"CASE WHEN regexp_full_match({value}, {quote_literal(rx)}) THEN TRY_CAST({text} AS {target}) END"


def failure_reason(candidate: TypeCandidate, target: str) -> str:
    """Why a value went to quarantine, e.g. "not a DATE (format %d/%m/%Y)"."""
    fmt = candidate.format
    detail: str | None
    if fmt in _NUMBER_FORMATS:
        mark = None if is_whole_number(target) else candidate.decimal_mark or "."
        detail = _dialect_text(mark, candidate.thousands_separator, candidate.unit)
    elif candidate.parse_format:
        detail = f"format {candidate.parse_format}"
    else:
        detail = {"boolean": "one of " + ", ".join(f"{t}/{f}" for t, f in zip(TRUE_WORDS, FALSE_WORDS, strict=True)),
                  "timestamp_iso": "ISO 8601", "timestamp_iso_tz": "ISO 8601", "time": "HH:MM[:SS]",
                  }.get(fmt)
    return f"not a {target}" + (f" ({detail})" if detail else "")
