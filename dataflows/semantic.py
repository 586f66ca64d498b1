"""Semantics: what each table and column means, in the terms of the pipeline's ontology
(the `ontology` step, in dataflows/ontology.py).

`semantic_enrichment` asks the pipeline's provider (`llm: {provider, model}`, chosen by
`@config.when`: `heuristic` by default, `anthropic`, or any `dataraum.llm_providers` plugin)
about batches of tables, validates every answer, and lays the workspace's `annotations.yaml`
over it. A provider that fails fails the step: there is no empty result.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from hamilton.function_modifiers import cache, config

from dataraum_context import settings
from dataraum_context.llm import (
    Annotation,
    Annotations,
    Batch,
    Enrichment,
    HeuristicProvider,
    LLMError,
    LLMProvider,
    ResponseCache,
    TableFacts,
    check_answer,
    plugin_provider,
    read_annotations,
)
from dataraum_context.llm.facts import table_facts
from dataraum_context.llm.protocol import TableAnswer
from dataraum_context.models import (
    ColumnRolesResult,
    Relationship,
    SemanticAnnotation,
    SemanticEnrichmentResult,
    StatisticsResult,
    TableEntity,
    TopologyResult,
    TypeResolutionResult,
)
from dataraum_context.ontology import Ontology
from dataraum_context.roles import given_or_decided, referencing_key_member
from dataraum_context.step import step

# --- the provider and what it needs --------------------------------------------------------


@config.when_in(llm=["heuristic", None])
def llm_provider__heuristic() -> LLMProvider:
    """Offline and deterministic: the default."""
    return HeuristicProvider()


@config.when(llm="anthropic")
def llm_provider__anthropic(
    llm_model: str | None = None,
    llm_base_url: str | None = None,
    llm_max_tokens: int = settings.LLM_MAX_TOKENS,
    llm_max_retries: int = settings.LLM_MAX_RETRIES,
    llm_backoff_s: float = settings.LLM_BACKOFF_S,
    llm_max_backoff_s: float = settings.LLM_MAX_BACKOFF_S,
    llm_timeout_s: float = settings.LLM_TIMEOUT_S,
    llm_max_concurrency: int = settings.LLM_MAX_CONCURRENCY,
    llm_batch_columns: int = settings.LLM_BATCH_COLUMNS,
) -> LLMProvider:
    """Claude through the official SDK. The SDK and `ANTHROPIC_API_KEY` are checked here,
    before any request; the key itself is read again for each request and kept nowhere."""
    from dataraum_context.llm.anthropic_provider import AnthropicProvider, api_key, sdk

    sdk()
    api_key()
    return AnthropicProvider(
        model=llm_model or settings.ANTHROPIC_MODEL, base_url=llm_base_url, max_tokens=llm_max_tokens,
        max_retries=llm_max_retries, backoff_s=llm_backoff_s, max_backoff_s=llm_max_backoff_s,
        timeout_s=llm_timeout_s, max_concurrency=llm_max_concurrency, batch_columns=llm_batch_columns,
    )


@config.when_not_in(llm=["heuristic", "anthropic", None])
def llm_provider__plugin(llm: str, llm_model: str | None = None) -> LLMProvider:
    """A provider of the `dataraum.llm_providers` entry points, by name."""
    return plugin_provider(llm, llm_model)


@cache(behavior="recompute")  # an edit to the file must take effect on the next run
def human_annotations(workspace: str) -> Annotations:
    """The workspace's `annotations.yaml`: roles, terms and descriptions people gave."""
    return read_annotations(workspace)


@cache(behavior="recompute")  # while the cache is off, a fresh token on every run
def llm_response_cache(workspace: str, llm_cache: bool = True,
                       llm_cache_ttl_s: float = settings.LLM_CACHE_TTL_S) -> ResponseCache:
    """Where providers keep their answers (`<workspace>/llm_cache/`), and for how long."""
    return ResponseCache.in_workspace(workspace, llm_cache_ttl_s, llm_cache)


# --- the step ------------------------------------------------------------------------------


@step(scope="source", phase="enrichment", criticality="critical")
def semantic_enrichment(
    statistics_profiling: StatisticsResult,
    type_resolution: TypeResolutionResult,
    workspace: str,
    ontology: Ontology,
    llm_provider: LLMProvider,
    llm_response_cache: ResponseCache,
    human_annotations: Annotations,
    column_roles: ColumnRolesResult | None = None,
    topology_enrichment: TopologyResult | None = None,
    semantic_sample_values: int = settings.SAMPLE_VALUES,
    key_duplicate_tolerance: float = settings.KEY_DUPLICATE_TOLERANCE,
) -> SemanticEnrichmentResult:
    """Per table its entity type, grain, time column and description; per column its role
    (starting from `column_roles`), whether it is a member of the table's key, business term,
    description, unit and whether it is personal data; joins the provider proposes beyond the
    measured ones. Annotations win over the provider."""
    roles = given_or_decided(column_roles, statistics_profiling, None, key_duplicate_tolerance)
    facts = table_facts(statistics_profiling, type_resolution, workspace, ontology, roles,
                        topology_enrichment, semantic_sample_values)
    batches = _batches(facts, llm_provider.batch_columns, ontology, measured=topology_enrichment is not None)
    enrichments = _enriched(llm_provider, batches, llm_response_cache)
    answers: dict[str, list[TableAnswer]] = {}
    for batch, enrichment in zip(batches, enrichments, strict=True):
        try:
            check_answer(enrichment.answer, batch)
        except ValueError as exc:
            raise LLMError(f"provider {llm_provider.name}: {exc}") from None
        for table in enrichment.answer.tables:
            answers.setdefault(table.name, []).append(table)
    tables = {t.name: _entity(t, answers[t.name], llm_provider.name, human_annotations) for t in facts}
    if statistics_profiling.tables and not tables:
        raise LLMError(f"provider {llm_provider.name} described no table")
    usage: Counter[str] = Counter()
    for enrichment in enrichments:
        usage.update(enrichment.usage)
    known = {f"{t.name}.{c.name}" for t in facts for c in t.columns}
    return SemanticEnrichmentResult(
        tables=tables,
        proposed_relationships=_proposed(enrichments, topology_enrichment, llm_provider.name, known),
        provider=llm_provider.name,
        model=llm_provider.model,
        usage=dict(sorted(usage.items())),
        warnings=tuple(f"annotations.yaml: {target} is not a column of the data; ignored"
                       for target in human_annotations.columns if target not in known),
    )


def _batches(tables: list[TableFacts], max_columns: int | None, ontology: Ontology, measured: bool) -> list[Batch]:
    """Tables packed into batches of at most `max_columns` columns; a wider table is split into
    parts, each naming the table's other columns."""
    groups: list[list[TableFacts]] = []
    if max_columns is None:
        groups = [tables] if tables else []
    else:
        current: list[TableFacts] = []
        size = 0
        for table in tables:
            for part in _parts(table, max_columns):
                if current and size + len(part.columns) > max_columns:
                    groups.append(current)
                    current, size = [], 0
                current.append(part)
                size += len(part.columns)
        if current:
            groups.append(current)
    concepts = tuple(c.name for c in ontology.concepts)
    return [Batch(tables=tuple(g), ontology=ontology.label, concepts=concepts, measured=measured) for g in groups]


def _parts(table: TableFacts, size: int) -> list[TableFacts]:
    if len(table.columns) <= size:
        return [table]
    names = [c.name for c in table.columns]
    return [table.model_copy(update={"columns": table.columns[i:i + size],
                                     "other_columns": tuple(names[:i] + names[i + size:])})
            for i in range(0, len(names), size)]


def _enriched(provider: LLMProvider, batches: list[Batch], response_cache: ResponseCache) -> list[Enrichment]:
    """The provider's answer for every batch, `max_concurrency` at a time; the first failure
    cancels the batches not started yet and is raised."""
    workers = max(1, min(provider.max_concurrency, len(batches)))
    if workers == 1:
        return [provider.enrich(batch, response_cache) for batch in batches]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="semantic")
    try:
        futures = [pool.submit(provider.enrich, batch, response_cache) for batch in batches]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _entity(facts: TableFacts, parts: list[TableAnswer], provider: str, notes: Annotations) -> TableEntity:
    """One table's answer (the first part's table-level fields, every part's columns), with the
    personal data found locally kept and the annotations laid over it."""
    head = parts[0]
    answered = {c.name: c for part in parts for c in part.columns}
    columns = {}
    for col in facts.columns:
        a = answered[col.name]
        # whatever the provider says, a referencing member of a composite key keeps both roles
        member = referencing_key_member(col.name, facts.key_columns, col.references)
        annotation = SemanticAnnotation(
            name=col.name, semantic_role="foreign_key" if member else a.semantic_role, business_term=a.business_term,
            term_confidence=a.term_confidence, evidence=tuple(a.evidence), description=a.description,
            unit=a.unit, pii=a.pii or col.pii is not None, source=provider,
            key_member=col.name in facts.key_columns,
        )
        columns[col.name] = _annotated(annotation, notes.columns.get(f"{facts.name}.{col.name}"))
    return TableEntity(
        name=facts.name, entity_type=head.entity_type, is_fact_table=head.is_fact_table,
        grain=tuple(head.grain), primary_time_column=head.primary_time_column,
        description=head.description, columns=columns, source=provider,
    )


def _annotated(annotation: SemanticAnnotation, note: Annotation | None) -> SemanticAnnotation:
    if note is None:
        return annotation
    update: dict[str, object] = {"source": "annotation",
                                 "evidence": ("annotated in annotations.yaml", *annotation.evidence)}
    if note.role:
        update["semantic_role"] = note.role
    if note.term:
        update |= {"business_term": note.term, "term_confidence": 1.0}
    if note.description:
        update["description"] = note.description
    return annotation.model_copy(update=update)


def _proposed(enrichments: list[Enrichment], topology: TopologyResult | None, provider: str,
              known: set[str]) -> tuple[Relationship, ...]:
    """Joins the provider proposed between columns that exist and that are not among the
    measured ones, each once."""
    measured = {(r.from_table, r.from_columns, r.to_table, r.to_columns)
                for r in (topology.relationships if topology else ())}
    out: dict[tuple, Relationship] = {}
    for enrichment in enrichments:
        for r in enrichment.answer.relationships:
            key = (r.from_table, tuple(r.from_columns), r.to_table, tuple(r.to_columns))
            columns = [f"{r.from_table}.{c}" for c in r.from_columns] + [f"{r.to_table}.{c}" for c in r.to_columns]
            if key in measured or key in out or not set(columns) <= known:
                continue
            out[key] = Relationship(from_table=r.from_table, from_columns=key[1], to_table=r.to_table,
                                    to_columns=key[3], source=provider, confidence=r.confidence,
                                    evidence=(r.reason,) if r.reason else ())
    return tuple(out.values())
