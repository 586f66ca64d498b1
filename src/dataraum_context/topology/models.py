"""What topology's nodes hand each other: the columns that can take part in a relationship, the
candidate pairs before any value is read, and the same pairs measured.

A side (one column, or columns of one table taken together) is stored once, in `sides`, and
pairs name their sides by id: the thousands of pairs of a wide schema stay small to pickle and
to fingerprint.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from dataraum_context.joins import columns_label
from dataraum_context.models import ColumnStatistics, Frozen
from dataraum_context.naming import ColumnName, NameEvidence

Family = Literal["int", "text"]  # how a column's values are compared


class Column(Frozen):
    """A column of an integer or text/UUID type that holds values, and what its statistics
    say about it."""

    id: int
    table: str
    column: str
    position: int  # in its table
    family: Family
    stats: ColumnStatistics
    name: ColumnName
    key: bool  # unique (within the tolerance) and non-null: can be referenced

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def non_null(self) -> int:
        return self.stats.count - self.stats.null_count

    @property
    def distinct(self) -> int:
        return self.stats.distinct_count

    @property
    def distinct_approximate(self) -> bool:
        return self.stats.distinct_approximate

    @property
    def null_ratio(self) -> float:
        return self.stats.null_ratio

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


class ColumnTuple(Frozen):
    """Columns of one table taken together: a composite key, a pair that references one, or a
    declared key that single columns cannot measure (other types, more columns). Its values are
    lists of the columns' text, NULL when any column is null. Its rows with every column set and
    its distinct combinations are counted exactly in DuckDB (zero until then)."""

    id: int
    table: str
    columns: tuple[str, ...]
    parts: tuple[ColumnStatistics, ...]
    position: int  # of its leftmost column in the table
    rows: int
    family: Literal["tuple"] = "tuple"
    non_null: int = 0  # rows with every column set
    distinct: int = 0

    @property
    def label(self) -> str:
        return columns_label(self.table, self.columns)

    @property
    def null_ratio(self) -> float:
        return 1 - self.non_null / self.rows if self.rows else 0.0

    @property
    def cells(self) -> float:
        """The combinations of the columns' distinct values."""
        return math.prod(max(1.0, p.distinct_count * (1.1 if p.distinct_approximate else 1.0)) for p in self.parts)


Side = Annotated[Column | ColumnTuple, Field(discriminator="family")]


class Candidate(Frozen):
    """A referencing side and a key it may reference, before any value is read."""

    ref: int  # ids of the sides
    key: int
    names: NameEvidence  # what the names say
    key_is_own: bool  # the key is its table's own key
    upper_bound: float  # the score if every referencing value were found in the key
    discovered: bool = True  # False: measured only because a source declares it


class RelationshipCandidates(Frozen):
    """The pairs worth measuring, found from the statistics and the names alone."""

    sides: tuple[Side, ...]  # by id: the columns that can take part, then the column tuples
    own_keys: dict[str, tuple[str, ...]]  # each table's own key, where its names tell
    pairs: tuple[Candidate, ...]  # single columns: of one type family, able to fit, able to score
    composites: tuple[Candidate, ...]  # a referencing pair of columns and a key pair of the same names
    declared: tuple[Candidate | None, ...]  # per declared relationship: the pair that measures it
    pairs_compatible: int  # referencing column x key pairs of compatible types


class MeasuredPair(Candidate):
    """A candidate with its inclusion measured in DuckDB, and the score that gives it."""

    inclusion: float  # share of the referencing distinct values found in the key
    included: int  # distinct referencing values found
    ref_distinct: int  # distinct referencing values
    key_distinct: int  # distinct key values
    orphan_values: int
    orphan_rows: int
    value_evidence: float  # how unlikely this inclusion is by chance (0..1)
    score: float  # inclusion x (names or values) x key evidence
    orphan_examples: tuple[str, ...] = ()
    duplicate_examples: tuple[str, ...] = ()  # repeated key values


class MeasuredRelationships(Frozen):
    """The measured pairs that can become relationships (their inclusion reaches the minimum)
    and those that measure a declared key, with the sides as measured."""

    sides: tuple[Side, ...]  # the candidates' sides; column tuples profiled where measured
    pairs: tuple[MeasuredPair, ...]
    composite_keys_checked: int  # column pairs whose uniqueness was measured as composite keys
    composite_pairs_measured: int  # of the composite candidates, those whose key may be unique
