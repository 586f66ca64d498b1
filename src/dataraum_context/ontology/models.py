"""The ontology schema: what a YAML file may say, validated strictly (unknown keys are errors).

`OntologyFile` is one file as written; `Ontology` is the result of resolving its `extends:`
chain, with the file each entry came from. Both are frozen, pickle, and serialise to JSON.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

import re2
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from dataraum_context.models import Frozen
from dataraum_context.ontology.tokens import NamePattern, parse_pattern


class Role(StrEnum):
    """What a column does in its table."""

    KEY = "key"
    FOREIGN_KEY = "foreign_key"
    MEASURE = "measure"
    DIMENSION = "dimension"
    TIMESTAMP = "timestamp"
    ATTRIBUTE = "attribute"


class TemporalBehavior(StrEnum):
    """How a value adds up over time, which decides how a metric aggregates it."""

    ADDITIVE = "additive"  # sums over time and entities: revenue, quantity sold
    SEMI_ADDITIVE = "semi_additive"  # sums over entities, not time: a balance, stock on hand
    NON_ADDITIVE = "non_additive"  # never summed: a price, a rate, a temperature
    POINT_IN_TIME = "point_in_time"  # the instant something happened: an order date
    STATIC = "static"  # fixed for its entity: date of birth
    SLOWLY_CHANGING = "slowly_changing"  # changes now and then: a status, an address


class RuleType(StrEnum):
    NOT_NULL = "not_null"
    UNIQUE = "unique"  # over all the columns it applies to together
    RANGE = "range"
    ALLOWED_VALUES = "allowed_values"
    DISALLOWED_VALUES = "disallowed_values"  # sentinels such as -999
    REGEX = "regex"
    CROSS_COLUMN = "cross_column"  # an `expression` over several concepts
    TEMPORAL_COMPLETENESS = "temporal_completeness"  # no gaps at a grain
    MONOTONIC = "monotonic"  # never decreases in the order of another concept
    FRESHNESS = "freshness"
    REFERENTIAL_INTEGRITY = "referential_integrity"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class OutputType(StrEnum):
    NUMBER = "number"
    COUNT = "count"
    CURRENCY = "currency"
    RATIO = "ratio"  # a share written 0..1
    PERCENTAGE = "percentage"  # a share written 0..100
    DURATION = "duration"


class Complexity(StrEnum):
    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"


def _check_pattern(text: str) -> str:
    parse_pattern(text)  # raises ValueError saying what is wrong
    return text


PatternText = Annotated[str, AfterValidator(_check_pattern)]
# A name or a list of names: `extends: base`, `applies_to: [debit, credit]`.
OneOrMany = Annotated[tuple[str, ...], BeforeValidator(lambda v: (v,) if isinstance(v, str) else v)]

# The types `likely_type` may name: DuckDB's, as type resolution reports them.
DATA_TYPES = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE",
              "DECIMAL", "VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE",
              "INTERVAL", "UUID", "BLOB", "JSON")


# Regular expressions from ontologies run on RE2, as DuckDB's regexp functions (where quality
# rules run them) do: no backtracking, so no pattern can hang a run on a long value.
REGEX_BOUND = "RE2, in time linear in the value's length and at most 8 MiB of memory per pattern"
_REGEX_MEMORY = 8 << 20


def compile_regex(regex: str) -> re2._Regexp:
    """`regex` compiled by RE2; a ValueError saying why when RE2 cannot run it."""
    options = re2.Options()
    options.max_mem = _REGEX_MEMORY
    options.log_errors = False  # the error is raised here, not also written to stderr
    try:
        return re2.compile(regex, options)
    except re2.error as exc:
        why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not a valid regular expression for RE2: {why} (patterns run on {REGEX_BOUND}; "
                         "backreferences and lookaround need backtracking and are not supported)") from None


def _compiled(regex: str) -> str:
    compile_regex(regex)
    return regex


def _patterns(texts: tuple[str, ...]) -> tuple[NamePattern, ...]:
    return tuple(parse_pattern(t) for t in texts)


class Concept(Frozen):
    """A business meaning a column can have, and the words that give it away."""

    name: str
    description: str = ""
    indicators: tuple[PatternText, ...] = ()  # name patterns (see `tokens.NamePattern`)
    exclude_patterns: tuple[PatternText, ...] = ()  # a name matching one of these is never this concept
    typical_role: Role | None = None
    entity_type: str | None = None  # the business entity it identifies or describes
    temporal_behavior: TemporalBehavior | None = None
    typical_values: tuple[str, ...] = ()  # compared case-insensitively with a column's values
    value_pattern: str | None = None  # a regular expression most values fully match
    unit: str | None = None
    pii: bool = False  # personal data: its sample values are masked before they are sent to an LLM

    @field_validator("value_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return value if value is None else _compiled(value)

    @cached_property
    def name_patterns(self) -> tuple[NamePattern, ...]:
        return _patterns(self.indicators)

    @cached_property
    def exclusions(self) -> tuple[NamePattern, ...]:
        return _patterns(self.exclude_patterns)

    @cached_property
    def value_regex(self) -> re2._Regexp | None:
        return compile_regex(self.value_pattern) if self.value_pattern else None

    @cached_property
    def value_set(self) -> frozenset[str]:
        return frozenset(v.casefold() for v in self.typical_values)


class Metric(Frozen):
    """A computable figure: `formula` is arithmetic over concept and metric names, numbers,
    and SUM, AVG, MIN, MAX, COUNT, COUNT_DISTINCT, ABS, NULLIF, COALESCE. A bare concept stands
    for its column aggregated as its `temporal_behavior` says (additive: summed)."""

    name: str
    formula: str = Field(min_length=1)
    description: str = ""
    required_concepts: tuple[str, ...] = ()  # derived from the formula when not given
    output_type: OutputType = OutputType.NUMBER
    typical_range: tuple[float | None, float | None] | None = None
    aliases: tuple[str, ...] = ()


class RuleParameters(Frozen):
    """What every rule type accepts: the share of rows that must pass."""

    threshold: float = Field(1.0, ge=0, le=1)


class RangeParameters(RuleParameters):
    min: float | None = None
    max: float | None = None
    inclusive: bool = True

    @model_validator(mode="after")
    def _bounded(self) -> RangeParameters:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        return self


class ValuesParameters(RuleParameters):
    values: tuple[str | int | float | bool, ...] = Field(min_length=1)
    case_sensitive: bool = False


class RegexParameters(RuleParameters):
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _compiled(value)


class CrossColumnParameters(RuleParameters):
    group_by: tuple[str, ...] = ()  # concepts
    tolerance: float = Field(0.0, ge=0)


class Grain(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class CompletenessParameters(RuleParameters):
    grain: Grain
    group_by: tuple[str, ...] = ()  # concepts


class MonotonicParameters(RuleParameters):
    order_by: str  # a concept
    group_by: tuple[str, ...] = ()  # concepts
    strict: bool = False


class FreshnessParameters(RuleParameters):
    max_age_hours: float = Field(gt=0)


class ReferenceParameters(RuleParameters):
    references: str  # a concept


RULE_PARAMETERS: dict[RuleType, type[RuleParameters]] = {
    RuleType.NOT_NULL: RuleParameters,
    RuleType.UNIQUE: RuleParameters,
    RuleType.RANGE: RangeParameters,
    RuleType.ALLOWED_VALUES: ValuesParameters,
    RuleType.DISALLOWED_VALUES: ValuesParameters,
    RuleType.REGEX: RegexParameters,
    RuleType.CROSS_COLUMN: CrossColumnParameters,
    RuleType.TEMPORAL_COMPLETENESS: CompletenessParameters,
    RuleType.MONOTONIC: MonotonicParameters,
    RuleType.FRESHNESS: FreshnessParameters,
    RuleType.REFERENTIAL_INTEGRITY: ReferenceParameters,
}


class QualityRule(Frozen):
    """A check that the data of some concepts (or of columns whose names match a pattern) must
    pass. `expression` uses `{concept}` placeholders; `parameters` are validated by the
    `RULE_PARAMETERS` model of the `rule_type`."""

    name: str
    description: str = ""
    applies_to: OneOrMany  # concept names or name patterns (with `*`)
    rule_type: RuleType
    expression: str | None = None
    parameters: dict[str, Any] = {}
    severity: Severity = Severity.WARNING


class SemanticHint(Frozen):
    """A name pattern that suggests a type, a role, or a concept."""

    pattern: PatternText
    likely_type: str | None = None  # a DuckDB type name: BIGINT, DECIMAL, DATE, BOOLEAN, ...
    likely_role: Role | None = None
    likely_concept: str | None = None

    @field_validator("likely_type")
    @classmethod
    def _known_type(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in DATA_TYPES:
            raise ValueError(f"{value!r} is not one of {', '.join(DATA_TYPES)}")
        return value.upper() if value else value

    @cached_property
    def name_pattern(self) -> NamePattern:
        return parse_pattern(self.pattern)


class SuggestedQuery(Frozen):
    """SQL an agent can start from: `{concept}` is the column bound to a concept (quoted),
    `{concept.table}` the table that holds it."""

    name: str
    description: str = ""
    sql: str
    complexity: Complexity = Complexity.SIMPLE


class OntologyFile(Frozen):
    """One ontology YAML file as written."""

    name: str
    version: str = "1.0.0"
    description: str = ""
    extends: OneOrMany = ()  # one parent name or a list; later parents override earlier
    concepts: tuple[Concept, ...] = ()
    metrics: tuple[Metric, ...] = ()
    quality_rules: tuple[QualityRule, ...] = ()
    semantic_hints: tuple[SemanticHint, ...] = ()
    suggested_queries: tuple[SuggestedQuery, ...] = ()


# The list sections of an ontology, and the field that names an entry in each.
SECTIONS: dict[str, str] = {
    "concepts": "name",
    "metrics": "name",
    "quality_rules": "name",
    "semantic_hints": "pattern",
    "suggested_queries": "name",
}


class Ontology(OntologyFile):
    """An ontology with its `extends:` chain resolved: every inherited entry is here, a child's
    entry in place of its parent's entry of the same name. `files` are the files merged, parents
    first; `origins[section][entry]` names the file an entry came from."""

    files: tuple[str, ...] = ()
    origins: dict[str, dict[str, str]] = Field(default_factory=dict)

    def concept(self, name: str) -> Concept:
        for c in self.concepts:
            if c.name == name:
                return c
        raise KeyError(name)

    def origin(self, section: str, key: str) -> str:
        """The file (name) that defined an entry of a section."""
        return self.origins[section][key]

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of every indicator and hint, by `stem`: what long run-together names are
        split into (`acctbal`: acct, bal)."""
        patterns = [p for c in self.concepts for p in c.name_patterns]
        patterns += [h.name_pattern for h in self.semantic_hints]
        return frozenset(w for p in patterns for w in p.literals)

    @cached_property
    def concepts_by_word(self) -> dict[str, frozenset[str]]:
        """The concepts whose indicators or hints use a word (by `stem`): the only ones a name
        without that word's company can match."""
        index: dict[str, set[str]] = {}
        pairs = [(c.name, p) for c in self.concepts for p in c.name_patterns]
        pairs += [(h.likely_concept, h.name_pattern) for h in self.semantic_hints if h.likely_concept]
        for concept, pattern in pairs:
            for word in pattern.literals:
                index.setdefault(word, set()).add(concept)
        return {word: frozenset(names) for word, names in index.items()}

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"
