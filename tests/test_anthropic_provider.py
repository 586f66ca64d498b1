"""The anthropic provider: the real `anthropic` SDK against a local server speaking the Messages
API. Good and malformed answers, rate limits, server errors, timeouts, the response cache, and
what never leaves the machine (personal data) or is never written (the key)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context import sample
from dataraum_context.errors import ConfigError, StepFailed
from dataraum_context.llm import Batch, LLMError, ResponseCache
from dataraum_context.llm.anthropic_provider import AnthropicProvider
from dataraum_context.llm.protocol import ColumnFacts, TableFacts

from conftest import cli, write
from support.messages_api import Reply, error, good_answer, tool_use

pytestmark = pytest.mark.e2e  # a local server for the real SDK, mostly under whole pipelines

KEY = "sk-ant-test-8c1f0e5a9b7d4f3e"
SHOP = str(sample.shop_dir())


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def run(api, workspace: Path, **config) -> dc.PipelineRun:
    settings = {"llm_base_url": api.url, "llm_backoff_s": 0.01, "llm_max_retries": 2, **config}
    return dc.run("default", sources=[SHOP], workspace=str(workspace), llm={"provider": "anthropic"}, **settings)


def answering(api_requests: list[Reply] | None = None):
    """A handler answering scripted replies first, then good answers."""
    queue = list(api_requests or [])

    def handle(body: dict) -> Reply:
        return queue.pop(0) if queue else tool_use(good_answer(body["messages"][0]["content"]))

    return handle


def test_a_good_answer_is_the_semantics(messages_api, tmp_path):
    def handle(body: dict) -> Reply:
        answer = good_answer(body["messages"][0]["content"])
        answer["relationships"] = [
            {"from_table": "orders", "from_columns": ["customer_id"], "to_table": "customers",
             "to_columns": ["customer_id"], "confidence": 0.9, "reason": "measured already"},
            {"from_table": "customers", "from_columns": ["country"], "to_table": "countries",
             "to_columns": ["code"], "reason": "no such table"},
            {"from_table": "order_items", "from_columns": ["unit_price"], "to_table": "products",
             "to_columns": ["unit_price"], "confidence": 0.4, "reason": "the price at the time of the order"},
        ]
        return tool_use(answer)

    api = messages_api(handle)
    result = run(api, tmp_path / "ws")
    assert result.succeeded
    sem = result.results["semantic_enrichment"]
    assert (sem.provider, sem.model) == ("anthropic", "claude-sonnet-5-5")
    assert sem.usage == {"input_tokens": 120, "output_tokens": 45, "requests": 1}
    status = sem.tables["orders"].columns["status"]
    assert (status.semantic_role, status.description, status.source) == ("attribute", "status according to the model",
                                                                        "anthropic")
    orders = sem.tables["orders"]
    assert orders.entity_type == "fact" and orders.description == "orders, as the model sees it."
    assert sem.tables["customers"].columns["email"].pii  # found locally; the model's `false` does not undo it
    request = api.requests[0]
    assert request["model"] == "claude-sonnet-5-5"
    assert request["tool_choice"] == {"type": "tool", "name": "describe_tables"}
    assert request["tools"][0]["input_schema"]["properties"]["tables"]["type"] == "array"
    prompt = api.prompt()
    assert "## table order_items: 517 rows; key order_item_id" in prompt
    assert "- order_id BIGINT; nulls 0%; 200 distinct; range 1001 .. 1200" in prompt
    assert "references orders.order_id" in prompt and "concepts quantity 1.00" in prompt
    assert "its concepts: identifier, code, " in prompt
    assert result.context.semantic_provider == "anthropic (claude-sonnet-5-5)"
    assert result.context.llm_usage["requests"] == 1
    (proposed,) = result.context.proposed_relationships  # neither the measured one nor a made-up table
    assert (proposed.from_table, proposed.to_columns, proposed.source) == ("order_items", ("unit_price",), "anthropic")
    assert "orders" in {r.from_table for r in result.context.relationships}
    assert ("## Proposed relationships (not measured)\n\n- order_items.unit_price -> products.unit_price "
            "(anthropic, confidence 0.40): the price at the time of the order") in result.context.to_markdown()


def test_a_malformed_answer_is_retried_with_the_validation_error(messages_api, tmp_path):
    bad = {"tables": [{"name": "orders", "entity_type": "fact table", "is_fact_table": True,
                       "columns": [{"name": "order_id", "semantic_role": "identifier"}]}]}
    api = messages_api(answering([tool_use(bad)]))
    result = run(api, tmp_path / "ws")
    assert result.succeeded and len(api.requests) == 2
    retry = api.requests[1]["messages"]
    assert retry[1] == {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                                          "name": "describe_tables", "input": bad}]}
    feedback = retry[2]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] and feedback["tool_use_id"] == "toolu_1"
    assert "tables.0.entity_type" in feedback["content"] and "tables.0.columns.0.semantic_role" in feedback["content"]
    assert result.results["semantic_enrichment"].usage["invalid_answers"] == 1


def _batch() -> Batch:
    column = ColumnFacts(name="amount", data_type="DOUBLE", null_ratio=0, distinct_count=3, uniqueness=1)
    return Batch(tables=(TableFacts(name="orders", row_count=3, columns=(column,)),), ontology="base 1.0.0",
                 concepts=("amount",), measured=True)


def test_two_malformed_answers_fail_clearly(messages_api):
    incomplete = tool_use({"tables": [{"name": "orders", "entity_type": "fact", "is_fact_table": True,
                                       "columns": [{"name": "amount", "semantic_role": "measure",
                                                    "business_term": "revenue"}]}]})
    api = messages_api(lambda body: incomplete)
    provider = AnthropicProvider(base_url=api.url, backoff_s=0.01)
    with pytest.raises(LLMError, match=r"anthropic \(claude-sonnet-5-5\): the answer did not fit the schema, "
                                       r"twice .*business_term 'revenue' is not a concept"):
        provider.enrich(_batch(), ResponseCache(directory=None, ttl_s=0))
    assert len(api.requests) == 2


def test_a_rate_limit_is_waited_out(messages_api, tmp_path):
    api = messages_api(answering([error(429, "rate limited", {"retry-after": "0.4"})]))
    started = time.perf_counter()
    result = run(api, tmp_path / "ws")
    assert result.succeeded and len(api.requests) == 2
    assert time.perf_counter() - started >= 0.4  # retry-after wins over the 0.01 s backoff


def test_server_errors_and_timeouts_are_retried(messages_api):
    replies = [error(500, "boom"), error(529, "overloaded")]

    def handle(body: dict) -> Reply:
        if len(api.requests) == 3:
            time.sleep(0.6)  # longer than the timeout: the SDK gives up, the provider retries
        return replies.pop(0) if replies else tool_use(good_answer(body["messages"][0]["content"]))

    api = messages_api(handle)
    provider = AnthropicProvider(base_url=api.url, backoff_s=0.01, max_retries=3, timeout_s=0.3)
    enrichment = provider.enrich(_batch(), ResponseCache(directory=None, ttl_s=0))
    assert enrichment.answer.tables[0].columns[0].name == "amount"
    assert len(api.requests) == 4 and enrichment.usage["requests"] == 1


def test_a_persistent_server_error_fails_the_run(messages_api, tmp_path):
    api = messages_api(lambda body: error(500, "the model is on fire"))
    with pytest.raises(StepFailed) as err:
        run(api, tmp_path / "ws", retries={"count": 1, "backoff_s": 0})
    assert err.value.step == "semantic_enrichment"
    assert "anthropic (claude-sonnet-5-5): HTTP 500: the model is on fire (gave up after 3 attempts)" in str(err.value)
    assert len(api.requests) == 3 * 2  # the provider tries 3 times; a 5xx may pass, so the engine runs the step twice


def test_the_cli_exits_1_with_the_providers_message(messages_api, tmp_path):
    api = messages_api(lambda body: error(500, "the model is on fire"))
    pipeline = write(tmp_path / "p.yaml", (
        "name: claude\nmodules: [staging, schema_profiling, type_resolution, statistics, topology, semantic, "
        f"context]\nllm: {{provider: anthropic}}\nconfig: {{llm_base_url: '{api.url}', llm_backoff_s: 0.01, "
        "llm_max_retries: 1}\n"))
    result = cli("run", SHOP, "--pipeline", str(pipeline), "--workspace", str(tmp_path / "ws"),
                 "--out", str(tmp_path / "ctx.md"))
    assert result.code == 1
    assert "semantic_enrichment" in result.err and "HTTP 500: the model is on fire" in result.err
    assert not (tmp_path / "ctx.md").exists()


def test_a_rerun_is_served_from_the_response_cache(messages_api, tmp_path):
    api = messages_api(answering())
    ws = tmp_path / "ws"
    first = run(api, ws, cache=False)  # without Hamilton's cache: the step runs again
    second = run(api, ws, cache=False)
    assert len(api.requests) == 1
    assert second.results["semantic_enrichment"].usage == {"cache_hits": 1}
    assert second.results["semantic_enrichment"].tables == first.results["semantic_enrichment"].tables
    assert list((ws / "llm_cache").rglob("*.json"))
    run(api, ws, cache=False, llm_cache=False)  # the switch: ask again
    assert len(api.requests) == 2
    run(api, ws, llm_cache=False)
    run(api, ws, llm_cache=False)  # nor does Hamilton's cache serve an old answer while it is off
    assert len(api.requests) == 4


def test_no_llm_cache_on_the_command_line(messages_api, tmp_path):
    api = messages_api(answering())
    pipeline = write(tmp_path / "p.yaml", (
        "name: claude\nmodules: [staging, schema_profiling, type_resolution, statistics, semantic, context]\n"
        f"llm: {{provider: anthropic}}\nconfig: {{llm_base_url: '{api.url}'}}\n"))
    args = ["run", SHOP, "--pipeline", str(pipeline), "--workspace", str(tmp_path / "ws")]
    assert cli(*args).code == 0
    result = cli(*args, "--no-llm-cache")
    assert result.code == 0 and len(api.requests) == 2
    assert "dataraum: anthropic (claude-sonnet-5-5): 120 input tokens, 45 output tokens, 1 requests" in result.err


def test_tables_are_batched_and_asked_concurrently(messages_api, tmp_path):
    api = messages_api(answering())
    result = run(api, tmp_path / "ws", llm_batch_columns=4, llm_max_concurrency=3)
    sem = result.results["semantic_enrichment"]
    asked = [len(line) for i in range(len(api.requests)) for line in [
        [c for c in api.prompt(i).splitlines() if c.startswith("- ")]]]
    assert all(n <= 4 for n in asked) and sum(asked) == 23 and len(api.requests) == 7
    # customers (7 columns) was asked in two parts, each told the other part's columns
    assert any("its other columns, described in another request: customer_id" in api.prompt(i)
               for i in range(len(api.requests)))
    assert set(sem.tables["customers"].columns) == {"customer_id", "name", "email", "country", "postal_code",
                                                    "signup_date", "is_active"}
    assert sem.usage["requests"] == 7


def test_personal_data_never_reaches_the_server(messages_api, tmp_path):
    api = messages_api(answering())
    run(api, tmp_path / "ws")
    with open(sample.shop_dir() / "customers.csv", encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    sent = b"".join(api.raw).decode()
    emails = [p["email"] for p in people if p["email"]]
    assert emails and not [e for e in emails if e in sent]
    assert not [p["name"] for p in people if p["name"] in sent]
    assert "<email>" in api.prompt() and "<name>" in api.prompt()
    assert "personal data (values are e-mail addresses)" in api.prompt()


def test_the_key_is_read_from_the_environment_only_and_never_stored(messages_api, tmp_path, monkeypatch):
    api = messages_api(answering())
    ws = tmp_path / "ws"
    run(api, ws)
    assert api.raw and KEY.encode() in api.raw[0]  # it was sent, as a header
    stored = [p for p in ws.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert stored == []

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError, match="set the environment variable ANTHROPIC_API_KEY"):
        run(api, tmp_path / "ws2")
    assert len(api.requests) == 1  # no request without a key
