"""Which concepts of an ontology a column may stand for, ranked, with the evidence.

The semantic steps (the heuristic provider, and the prompt of an LLM provider) start from this.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from dataraum_context.models import ColumnStatistics, Frozen
from dataraum_context.ontology.models import Concept, Ontology, Role
from dataraum_context.ontology.tokens import (
    NamePattern,
    PatternMatch,
    split_compound,
    stem,
    stems,
    tokenize,
)
from dataraum_context.sql import Family
from dataraum_context.sql import family as sql_family


class ConceptMatch(Frozen):
    concept: str  # a concept name of the ontology (`Ontology.concept(name)` has the rest)
    score: float  # 0..1, rounded to 4 places
    evidence: tuple[str, ...]  # why, in words: the indicator, the values, the type that fit


# How much a kind of evidence counts.
_VALUE_WEIGHT = 0.8  # values alone never score above this
_WITH_TABLE = 0.9  # a name read together with its table name (`customers.id`: customer id)
_TYPE_MISFIT = 0.6
_UNTYPICAL_VALUES = 0.75
_OUT_OF_RANGE = 0.7
_MIN_TYPICAL_SHARE = 0.3
_MIN_PATTERN_SHARE = 0.5

_TIME = {Family.DATE, Family.TIMESTAMP, Family.TIME}
# Per role: the type families that fit it, and those that contradict it.
_ROLE_TYPES: dict[Role, tuple[set[Family], set[Family]]] = {
    Role.TIMESTAMP: (_TIME, {Family.BOOLEAN, Family.FLOAT, Family.DECIMAL, Family.UUID}),
    Role.MEASURE: ({Family.INTEGER, Family.FLOAT, Family.DECIMAL, Family.INTERVAL},
                   {Family.BOOLEAN, *_TIME, Family.TEXT, Family.UUID}),
    Role.KEY: ({Family.INTEGER, Family.TEXT, Family.UUID}, {Family.BOOLEAN, Family.FLOAT, *_TIME}),
    Role.FOREIGN_KEY: ({Family.INTEGER, Family.TEXT, Family.UUID}, {Family.BOOLEAN, Family.FLOAT, *_TIME}),
    Role.DIMENSION: ({Family.TEXT, Family.BOOLEAN, Family.INTEGER}, {Family.FLOAT}),
}
_SHARE_UNITS = {"percent": 100.0, "ratio": 1.0}
_BOOLEAN_VALUES = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n", "1", "0", "on", "off", "x"})


def match_concepts(column_name: str, table_name: str | None, data_type: str | None,
                   statistics: ColumnStatistics | None, sample_values: Sequence[Any] | None,
                   ontology: Ontology) -> list[ConceptMatch]:
    """The concepts `column_name` may stand for, best first; among equal scores a concept from
    a more specific file of the `extends:` chain first, then by name.

    Deterministic: the same inputs give the same list. Evidence, strongest first:

    - the name: its words (see `tokens.tokenize`; a table prefix such as `o_` in table `orders`
      is dropped, run-together words such as `acctbal` are split with the ontology's
      vocabulary) matched by a concept's indicators or a semantic hint naming the concept.
      A pattern spelling out the whole name scores 1; a partial one 0.5 + 0.4 x its share of
      the words, + 0.1 when it covers the last word (`customer_id` is an id). A generic name
      read with its table (`id` in `customers`: customer id) counts 0.9 of that. A name
      matching one of a concept's `exclude_patterns` rules the concept out.
    - the values (`sample_values`, else the statistics' top values): the share that are among
      the concept's `typical_values` (from 0.3 on; yes/no values only together with a name
      match) or fully match its `value_pattern` (from 0.5 on; text columns only), counted at
      0.8: score = 1 - (1 - name) x (1 - 0.8 x values).
    - the type and statistics: a `data_type` that contradicts the concept's role (text for a
      measure, a float for a key) multiplies by 0.6; values that are none of its typical values
      by 0.75; shares outside 0..1 / 0..100 for a percent or ratio unit by 0.7; a key concept
      on a unique, never-null column gains a little.

    A concept with neither name nor value evidence is not listed.
    """
    words, notes = _name_words(column_name, table_name, ontology.vocabulary)
    table_words = stems(tokenize(table_name or ""))
    values = _values(sample_values, statistics)
    family = sql_family(data_type) if data_type else None
    hints = [(h.likely_concept, h.name_pattern) for h in ontology.semantic_hints if h.likely_concept]

    # Among equal scores the concept of the most specific file wins (retail's unit_price over
    # base's price), then the name.
    rank = {Path(f).name: i for i, f in enumerate(ontology.files)}
    index = ontology.concepts_by_word
    named = {c for w in (*words, *table_words) for c in index.get(w, ())}
    matches = []
    for concept in ontology.concepts:
        if concept.name not in named and not values:
            continue  # nothing in the name or the values could point to it
        if any(p.match(words) for p in concept.exclusions):
            continue
        patterns = [*concept.name_patterns, *(p for c, p in hints if c == concept.name)]
        name, name_evidence = (_name_strength(column_name, table_name, words, table_words, patterns)
                               if concept.name in named else (0.0, []))
        value, evidence = _value_strength(concept, values, name > 0, family)
        score = 1 - (1 - name) * (1 - _VALUE_WEIGHT * value)
        if score <= 0:
            continue
        evidence = [*notes, *name_evidence, *evidence] if name else [*evidence]
        score, adjustments = _adjusted(score, concept, family, data_type, statistics, values, value)
        specificity = rank.get(ontology.origins.get("concepts", {}).get(concept.name, ""), 0)
        matches.append((-round(score, 4), -specificity, concept.name, tuple(evidence + adjustments)))
    return [ConceptMatch(concept=name, score=-score, evidence=evidence)
            for score, _rank, name, evidence in sorted(matches)]


# --- the name ------------------------------------------------------------------------------


def _name_words(column: str, table: str | None, vocabulary: frozenset[str]) -> tuple[tuple[str, ...], list[str]]:
    """The column's words as compared (stemmed), and notes on how they were read."""
    words = list(tokenize(column))
    notes: list[str] = []
    if table and len(words) > 1 and _is_table_prefix(words[0], tokenize(table), vocabulary):
        notes.append(f"{words[0]}_ is the table's prefix ({table})")
        words = words[1:]
    read: list[str] = []
    for word in words:
        parts = split_compound(word, vocabulary)
        if parts:
            notes.append(f"{word!r} read as {' + '.join(parts)}")
        read.extend(parts or (word,))
    return stems(read), notes


def _is_table_prefix(word: str, table_words: tuple[str, ...], vocabulary: frozenset[str]) -> bool:
    """A short word that abbreviates the table and is no word of the ontology (a single letter
    always qualifies): `o` in orders, `ps` in partsupp (part + supp), `li` in line_items."""
    if not (word.isalpha() and len(word) <= 3) or not table_words:
        return False
    if len(word) > 1 and stem(word) in vocabulary:
        return False
    parts = [p for w in table_words for p in (split_compound(w, vocabulary) or (w,))]
    initials = "".join(p[0] for p in parts)
    return "".join(table_words).startswith(word) or initials.startswith(word)


def _name_strength(column: str, table: str | None, words: tuple[str, ...], table_words: tuple[str, ...],
                   patterns: list[NamePattern]) -> tuple[float, list[str]]:
    best, evidence = 0.0, []
    # a trailing index (dx1, ICD_DGNS_CD_12, address_line_2) numbers repeated columns
    indexed = len(words) > 1 and words[-1].isdigit() and not words[-2].isdigit()
    for pattern in patterns:
        m = pattern.match(words)
        if indexed:
            unindexed = pattern.match(words[:-1])
            if unindexed is not None and (m is None or _strength(unindexed) > _strength(m)):
                m = unindexed
        if m is not None:
            strength = _strength(m)
            note = f"name {column!r} matches {pattern.text!r}"
        elif table_words and not pattern.match(table_words):
            m = pattern.match(table_words + words)
            if m is None:
                continue
            strength = _WITH_TABLE * _strength(m)
            note = f"name {column!r} in table {table!r} matches {pattern.text!r}"
        else:
            continue
        if strength > best:
            best, evidence = strength, [note]
    return best, evidence


def _strength(m: PatternMatch) -> float:
    return 0.5 + 0.4 * m.coverage + 0.1 * m.head


# --- the values ----------------------------------------------------------------------------


def _values(sample: Sequence[Any] | None, statistics: ColumnStatistics | None) -> list[tuple[str, int]]:
    """Non-empty values as text with their weight: the sample, else the top values by count."""
    if sample:
        pairs = [(str(v).strip(), 1) for v in sample if v is not None]
    elif statistics is not None:
        pairs = [(f.value.strip(), f.count) for f in statistics.top_values]
    else:
        pairs = []
    return [(v, n) for v, n in pairs if v]


def _value_strength(concept: Concept, values: list[tuple[str, int]], named: bool,
                    family: Family | None) -> tuple[float, list[str]]:
    """The share of values that are typical values or fit the value pattern. Without a name
    match, yes/no values tell nothing (every flag concept has them); a value pattern describes
    text, so a typed column (a number, a date) is not held against one."""
    total = sum(n for _v, n in values)
    if not total:
        return 0.0, []
    best, evidence = 0.0, []
    if concept.value_set:
        typical = concept.value_set if named else concept.value_set - _BOOLEAN_VALUES
        share = sum(n for v, n in values if v.casefold() in typical) / total
        if share >= _MIN_TYPICAL_SHARE:
            best, evidence = share, [f"{share:.0%} of values are typical values"]
    if concept.value_regex is not None and family in (None, Family.TEXT):
        share = sum(n for v, n in values if concept.value_regex.fullmatch(v)) / total
        if share >= _MIN_PATTERN_SHARE and share > best:
            best, evidence = share, [f"{share:.0%} of values match its value pattern"]
    return best, evidence


# --- type and statistics -------------------------------------------------------------------


def _adjusted(score: float, concept: Concept, family: Family | None, data_type: str | None,
              statistics: ColumnStatistics | None, values: list[tuple[str, int]],
              value: float) -> tuple[float, list[str]]:
    notes: list[str] = []
    role = concept.typical_role
    if family is not None and role in _ROLE_TYPES:
        fits, contradicts = _ROLE_TYPES[role]
        if family in contradicts:
            score *= _TYPE_MISFIT
            notes.append(f"type {data_type} contradicts role {role.value}")
        elif family in fits:
            notes.append(f"type {data_type} fits role {role.value}")
    if concept.value_set and values and value == 0:
        score *= _UNTYPICAL_VALUES
        notes.append("none of the values is a typical value")
    if statistics is not None:
        if role == Role.KEY and statistics.null_count == 0 and statistics.uniqueness >= 0.99 \
                and statistics.count > 1:
            score = 1 - (1 - score) * 0.8
            notes.append("unique and never null")
        bound = _SHARE_UNITS.get((concept.unit or "").lower())
        low, high = _number(statistics.min), _number(statistics.max)
        if bound is not None and low is not None and high is not None:
            if low >= 0 and high <= bound:
                notes.append(f"values within 0..{bound:g}")
            elif low < 0 or high > 100:
                score *= _OUT_OF_RANGE
                notes.append(f"values {low:g}..{high:g} are not a share")
    return score, notes


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    return None
