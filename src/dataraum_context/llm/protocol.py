"""What a semantic provider is given and what it must answer.

The `semantic_enrichment` step hands a provider a `Batch` of `TableFacts` (names, types,
statistics, measured keys and references, concept candidates from the ontology, and a few sample
values already redacted) and gets back a `BatchAnswer`, which is also the JSON schema of an LLM's
tool call: a malformed answer fails `check_answer` with a message the model can act on.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from dataraum_context.llm.cache import ResponseCache
from dataraum_context.models import Frozen
from dataraum_context.naming import ROLES as ROLES  # where it is defined (the CLI reads it)

ENTITY_TYPES = ("fact", "dimension", "event", "bridge", "reference")
SemanticRole = Literal["key", "foreign_key", "measure", "dimension", "timestamp", "attribute"]
EntityType = Literal["fact", "dimension", "event", "bridge", "reference"]


class LLMError(Exception):
    """A provider call that failed (refused, rate-limited past the retries, a server error, an
    answer that does not fit the schema): the step fails with this message. `transient`: the
    failure may pass (a timeout, a 429 or 5xx), so the engine may run the step again."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


# --- what a provider is given --------------------------------------------------------------


class ConceptCandidate(Frozen):
    """An ontology concept the matcher found for a column."""

    concept: str
    score: float
    role: SemanticRole | None = None  # the concept's typical role
    unit: str | None = None
    description: str = ""


class ColumnFacts(Frozen):
    name: str
    data_type: str
    null_ratio: float
    distinct_count: int
    uniqueness: float  # distinct / non-null
    min: str | None = None  # numbers and dates only: text extremes are values, and may be personal data
    max: str | None = None
    mean: float | None = None
    mean_length: float | None = None
    samples: tuple[str, ...] = ()  # distinct values, redacted
    candidates: tuple[ConceptCandidate, ...] = ()  # best first
    references: str | None = None  # "table.column" this column's values sit inside (measured)
    pii: str | None = None  # why it holds personal data ("email values", "concept person_name")
    kind: str | None = None  # its role by statistics, name and type (`column_roles`), before the ontology
    kind_evidence: tuple[str, ...] = ()  # why


class TableFacts(Frozen):
    name: str
    row_count: int
    columns: tuple[ColumnFacts, ...]
    key_columns: tuple[str, ...] = ()  # unique and never null (measured)
    topology_role: str | None = None  # fact | dimension | bridge | isolated, from the relationships
    referenced_by: tuple[str, ...] = ()  # tables whose columns reference this one
    other_columns: tuple[str, ...] = ()  # columns of a wide table described in another batch


class Batch(Frozen):
    """Tables described in one provider call."""

    tables: tuple[TableFacts, ...]
    ontology: str  # "name version"
    concepts: tuple[str, ...]  # every concept name of the ontology: the valid business terms
    measured: bool  # whether foreign keys were measured on the values (the topology step ran)


# --- what a provider answers ---------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnAnswer(_Answer):
    name: str
    semantic_role: SemanticRole
    business_term: str | None = Field(None, description="a concept name from the ontology, or null")
    term_confidence: float | None = Field(None, ge=0, le=1)
    description: str | None = Field(None, description="one sentence")
    unit: str | None = Field(None, description="currency code, currency, percent, kg, days, ...")
    pii: bool = Field(False, description="holds personal data")
    evidence: list[str] = Field(default_factory=list, description="short reasons")


class TableAnswer(_Answer):
    name: str
    entity_type: EntityType
    is_fact_table: bool
    grain: list[str] = Field(default_factory=list, description="the columns that identify a row")
    primary_time_column: str | None = None
    description: str | None = Field(None, description="one sentence")
    columns: list[ColumnAnswer]


class RelationshipAnswer(_Answer):
    from_table: str
    from_columns: list[str] = Field(min_length=1)
    to_table: str
    to_columns: list[str] = Field(min_length=1)
    confidence: float | None = Field(None, ge=0, le=1)
    reason: str | None = None


class BatchAnswer(_Answer):
    tables: list[TableAnswer]
    relationships: list[RelationshipAnswer] = Field(
        default_factory=list, description="joins not among the measured references, if any")


class Enrichment(Frozen):
    """A provider's answer for one batch, with what it cost."""

    answer: BatchAnswer
    # requests, input_tokens, output_tokens, cache_hits, invalid_answers
    usage: dict[str, int] = Field(default_factory=dict)


def check_answer(answer: BatchAnswer, batch: Batch) -> None:
    """Raise ValueError listing every way the answer misses the batch: a table or column missing,
    unknown or repeated, a grain or time column that is not a column, a business term that is
    not a concept, a relationship between columns that do not exist."""
    problems: list[str] = []
    expected = {t.name: t for t in batch.tables}
    concepts = set(batch.concepts)
    seen: set[str] = set()
    for table in answer.tables:
        facts = expected.get(table.name)
        if facts is None:
            problems.append(f"table {table.name!r} is not one of {', '.join(expected)}")
            continue
        if table.name in seen:
            problems.append(f"table {table.name!r} is answered twice")
        seen.add(table.name)
        names = [c.name for c in facts.columns]
        known = set(names) | set(facts.other_columns)
        answered = [c.name for c in table.columns]
        missing = [n for n in names if n not in answered]
        if missing:
            problems.append(f"table {table.name!r}: columns {', '.join(missing)} are missing")
        for name in sorted({n for n in answered if answered.count(n) > 1}):
            problems.append(f"table {table.name!r}: column {name!r} is answered twice")
        problems += [f"table {table.name!r}: {n!r} is not one of its columns ({', '.join(names)})"
                     for n in answered if n not in names]
        problems += [f"table {table.name!r}: grain column {n!r} is not one of its columns"
                     for n in table.grain if n not in known]
        if table.primary_time_column is not None and table.primary_time_column not in known:
            problems.append(f"table {table.name!r}: primary_time_column {table.primary_time_column!r} "
                            "is not one of its columns")
        problems += [f"{table.name}.{c.name}: business_term {c.business_term!r} is not a concept of "
                     f"the ontology (use one of the listed concepts, or null)"
                     for c in table.columns if c.business_term is not None and c.business_term not in concepts]
    missing_tables = [name for name in expected if name not in seen]
    if missing_tables:
        problems.append(f"tables {', '.join(missing_tables)} are missing")
    columns = {t.name: {c.name for c in t.columns} | set(t.other_columns) for t in batch.tables}
    for r in answer.relationships:
        for end, cols in ((r.from_table, r.from_columns), (r.to_table, r.to_columns)):
            if end in columns and not set(cols) <= columns[end]:
                problems.append(f"relationship {r.from_table} -> {r.to_table}: {end} has no column "
                                f"{', '.join(c for c in cols if c not in columns[end])}")
        if len(r.from_columns) != len(r.to_columns):
            problems.append(f"relationship {r.from_table} -> {r.to_table}: {len(r.from_columns)} "
                            f"columns joined to {len(r.to_columns)}")
    if problems:
        raise ValueError("; ".join(problems))


# --- the protocol --------------------------------------------------------------------------


@runtime_checkable
class LLMProvider(Protocol):
    """Describes batches of tables. Implementations are frozen pydantic models (or other
    picklable values without live clients): the step's result is cached by Hamilton, which
    fingerprints the provider. Third-party providers register a class under the
    `dataraum.llm_providers` entry-point group; it is built as `Class(model=...)` when the
    pipeline names a model, else `Class()`."""

    name: str  # what `source` says on the annotations it makes
    max_concurrency: int  # batches described at once
    batch_columns: int | None  # columns per batch; None: everything in one batch

    @property
    def model(self) -> str | None: ...  # read only: a provider may always name one

    def enrich(self, batch: Batch, cache: ResponseCache) -> Enrichment: ...
