"""Semantic providers: the `LLMProvider` protocol, the offline `heuristic` provider, the
`anthropic` provider (Claude), the response cache, redaction and human annotations.

Providers are found under the `dataraum.llm_providers` entry-point group (the built-ins are
registered there too); a pipeline picks one with `llm: {provider: NAME, model: ...}`.
"""

from __future__ import annotations

from dataraum_context import plugins
from dataraum_context.errors import ConfigError
from dataraum_context.llm.annotations import Annotation, Annotations, read_annotations, write_annotation
from dataraum_context.llm.cache import ResponseCache
from dataraum_context.llm.heuristic import HeuristicProvider
from dataraum_context.llm.protocol import (
    ENTITY_TYPES,
    ROLES,
    Batch,
    BatchAnswer,
    ColumnFacts,
    Enrichment,
    LLMError,
    LLMProvider,
    TableFacts,
    check_answer,
)
from dataraum_context.llm.tool_use import ToolCall, ToolRequest, ToolUseProvider

__all__ = [
    "ENTITY_TYPES", "ROLES", "Annotation", "Annotations", "Batch", "BatchAnswer", "ColumnFacts",
    "Enrichment", "HeuristicProvider", "LLMError", "LLMProvider", "ResponseCache", "TableFacts",
    "ToolCall", "ToolRequest", "ToolUseProvider", "check_answer", "plugin_provider",
    "read_annotations", "write_annotation",
]


def plugin_provider(name: str, model: str | None = None) -> LLMProvider:
    """The provider registered as `name` in the `dataraum.llm_providers` entry points, built
    with `model` when one is given."""
    available = plugins.llm_providers()
    if name not in available:
        raise ConfigError(f"llm.provider: unknown LLM provider {name!r} (valid: {', '.join(sorted(available))})")
    provider = available[name](model=model) if model else available[name]()
    if not isinstance(provider, LLMProvider):
        raise ConfigError(f"llm.provider: {name!r} ({type(provider).__qualname__}) is not an LLMProvider "
                          "(it needs name, model, max_concurrency, batch_columns and enrich)")
    return provider
