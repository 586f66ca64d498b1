"""semantic_enrichment with the heuristic provider: roles on the bundled sample and on generated
star schemas nobody tuned it for; annotations; provider selection; redaction helpers."""

from __future__ import annotations

import re
import textwrap
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dataraum_context as dc
from conftest import cli, write
from dataraum_context import sample
from dataraum_context.dataflows.semantic import semantic_enrichment
from dataraum_context.dataflows.statistics import column_roles
from support.steps import statistics_profiling, topology_enrichment
from dataraum_context.errors import ConfigError
from dataraum_context.llm import Annotations, HeuristicProvider, ResponseCache, read_annotations
from dataraum_context.llm.redaction import is_phone, redact
from dataraum_context.models import SemanticEnrichmentResult
from dataraum_context.ontology import load_ontology
from dataraum_context.pipeline import step_nodes
from dataraum_context.sample import schemas


def roles(result: SemanticEnrichmentResult, table: str) -> dict[str, str]:
    return {name: c.semantic_role for name, c in result.tables[table].columns.items()}


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory) -> dc.PipelineRun:
    ws = tmp_path_factory.mktemp("shop") / "ws"
    return dc.run("default", sources=[str(sample.shop_dir())], workspace=str(ws))


# --- the bundled sample --------------------------------------------------------------------


def test_sample_columns_get_their_roles(shop_run):
    sem = shop_run.results["semantic_enrichment"]
    assert sem.provider == "heuristic" and sem.model is None
    assert roles(sem, "customers") == {
        "customer_id": "key", "name": "attribute", "email": "attribute", "country": "dimension",
        "postal_code": "dimension", "signup_date": "timestamp", "is_active": "dimension"}
    assert roles(sem, "orders") == {
        "order_id": "key", "customer_id": "foreign_key", "order_date": "timestamp", "status": "dimension",
        "shipped_date": "timestamp", "amount": "measure"}
    assert roles(sem, "order_items") == {
        "order_item_id": "key", "order_id": "foreign_key", "product_id": "foreign_key",
        "quantity": "measure", "unit_price": "measure", "amount": "measure"}  # quantity: an integer, no key
    assert roles(sem, "products") == {"product_id": "key", "name": "attribute", "category": "dimension",
                                      "unit_price": "measure"}


def test_sample_terms_units_and_personal_data(shop_run):
    sem = shop_run.results["semantic_enrichment"]
    customers, items = sem.tables["customers"].columns, sem.tables["order_items"].columns
    assert customers["email"].pii and customers["email"].business_term == "email"
    assert customers["name"].pii and customers["name"].business_term == "person_name"
    assert not sem.tables["products"].columns["name"].pii  # a product's name is nobody's
    assert not any(c.pii for c in items.values())
    assert items["quantity"].business_term == "quantity" and items["unit_price"].unit == "currency"
    assert items["order_id"].evidence[0] == "values sit inside orders.order_id (measured)"
    assert all(c.source == "heuristic" and c.description for t in sem.tables.values() for c in t.columns.values())


def test_sample_tables_get_entity_types_grain_and_time(shop_run):
    sem = shop_run.results["semantic_enrichment"]
    entities = {name: (t.entity_type, t.is_fact_table, t.grain, t.primary_time_column)
                for name, t in sem.tables.items()}
    assert entities == {
        "customers": ("dimension", False, ("customer_id",), "signup_date"),
        "orders": ("fact", True, ("order_id",), "order_date"),  # shipped_date is null more often
        "order_items": ("fact", True, ("order_item_id",), None),
        "products": ("dimension", False, ("product_id",), None),
    }
    assert sem.tables["order_items"].description.startswith("Fact table order_items: 517 rows")
    assert sem.proposed_relationships == () and sem.usage == {}


def test_sample_context_carries_the_semantics(shop_run):
    ctx = shop_run.context
    assert ctx.semantic_provider == "heuristic"
    email = next(c for c in ctx.table("customers").columns if c.name == "email")
    assert (email.semantic_role, email.business_term, email.pii) == ("attribute", "email", True)
    orders = ctx.table("orders")
    assert orders.entity_type == "fact" and orders.grain == ("order_id",) and "references customers" in orders.description
    amount = next(c for c in orders.columns if c.name == "amount")
    assert amount.unit == "currency" and amount.description == "An amount of money."
    md = ctx.to_markdown()
    assert "| quantity | BIGINT | 0% | 4 | measure: quantity |" in md
    assert "| email | VARCHAR | 3.3% | 59 unique | attribute: email, PII |" in md
    assert "| customer_id | BIGINT | 0% | 58 | foreign_key: identifier |" in md
    assert "semantics by heuristic" in md.splitlines()[0]


def test_quick_profile_has_no_semantic_steps_and_default_does():
    assert "semantic_enrichment" not in step_nodes(dc.driver("quick_profile", cache=False))
    assert "semantic_enrichment" in step_nodes(dc.driver("default", cache=False))


def test_without_topology_references_are_named_not_measured(tmp_path):
    run = dc.run("default", sources=[str(sample.shop_dir())], workspace=str(tmp_path / "ws"),
                 skip_steps=["topology_enrichment"])
    sem = run.results["semantic_enrichment"]
    assert roles(sem, "orders")["customer_id"] == "foreign_key"
    assert "not measured" in sem.tables["orders"].columns["customer_id"].evidence[0]
    # keys are found from the statistics, tolerating the repeated customer 17 as the topology does
    assert sem.tables["customers"].grain == ("customer_id",) and roles(sem, "customers")["customer_id"] == "key"
    assert roles(sem, "order_items")["quantity"] == "measure"


# --- generated star schemas ----------------------------------------------------------------

# what a column named like a generator's trap must be, whatever the naming style
_EXPECTED = {
    "quantity": "measure", "rating": "measure", "units": "measure", "age": "measure", "score": "measure",
    "seats": "measure", "durationmin": "measure", "attempts": "measure", "amount": "measure",
    "price": "measure", "revenue": "measure", "unitssold": "measure", "minutes": "measure",
    "points": "measure",
    "priority": "dimension", "year": "dimension", "level": "dimension", "floor": "dimension",
    "rank": "dimension", "isactive": "dimension", "isreturned": "dimension", "flag": "dimension",
    "status": "dimension", "tier": "dimension", "grade": "dimension",
    "terminalno": "dimension", "batchid": "dimension", "laneid": "dimension", "shiftno": "dimension",
    "gatecode": "dimension", "slotid": "dimension", "registerno": "dimension", "bayid": "dimension",
    "linenumber": "attribute", "name": "attribute",
    "created": "timestamp", "eventdate": "timestamp", "updated": "timestamp",
}
_BY_LENGTH = sorted(_EXPECTED, key=len, reverse=True)


def _expected(column: str) -> str | None:
    norm = re.sub("[^a-z0-9]", "", column.lower())
    return next((_EXPECTED[k] for k in _BY_LENGTH if norm.endswith(k)), None)


@pytest.mark.parametrize("style", schemas.STYLES)
def test_generated_schemas_get_their_roles(tmp_path, style):
    """Prefixed (`o_custkey`), CamelCase (`CustomerId`), snake and `id` keys; dense, sparse,
    text and UUID keys; role-named references (`SupportRepId`, `user_id`); integer codes,
    positions and flags that are not measures."""
    onto = load_ontology("base")
    wrong: list[str] = []
    counts: Counter[str] = Counter()
    fk_found = fk_total = 0
    entity_types: Counter[str] = Counter()
    for seed in (11, 12):
        schema = schemas.generate(seed, style)
        root = tmp_path / f"{seed}"
        types = schema.workspace(root)
        stats = statistics_profiling(types, str(root))
        topo = topology_enrichment(stats, types, str(root))
        sem = semantic_enrichment(stats, types, str(root), onto, HeuristicProvider(),
                                  ResponseCache(directory=None, ttl_s=0), Annotations(), column_roles(stats), topo)
        references = {(f, c) for f, c, _t, _k in schema.relationships}
        for table, frame in schema.tables.items():
            got = roles(sem, table)
            counts["key"] += 1
            # every generated table's first column is (a member of) its key: a member of a
            # composite key that references another table is a foreign key and a key member
            first = frame.columns[0]
            want = "foreign_key" if (table, first) in references else "key"
            if got[first] != want or not sem.tables[table].columns[first].key_member:
                wrong.append(f"{table}.{first}: {got[first]}, not {want} and a key member")
            for column in frame.columns[1:]:
                if (table, column) in references:
                    fk_total += 1
                    fk_found += got[column] == "foreign_key"
                elif (want := _expected(column)) is not None:
                    counts[want] += 1
                    if got[column] != want:
                        wrong.append(f"{table}.{column}: {got[column]}, not {want}")
            entity_types[sem.tables[table].entity_type] += 1
            if table in {f for f, *_ in schema.relationships} and any(
                    _expected(c) == "measure" for c in frame.columns):
                assert sem.tables[table].entity_type in ("fact", "bridge", "dimension")
    assert not wrong, wrong
    assert counts["measure"] >= 10 and counts["dimension"] >= 10 and counts["timestamp"] >= 2
    # foreign keys come from the measured relationships: the topology step's recall bounds this
    assert fk_found / fk_total >= 0.9
    assert entity_types["fact"] >= 2 and entity_types["dimension"] >= 4


def test_generated_facts_and_dimensions(tmp_path):
    schema = schemas.generate(5, "snake", dimensions=5, facts=2)
    types = schema.workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    topo = topology_enrichment(stats, types, str(tmp_path))
    sem = semantic_enrichment(stats, types, str(tmp_path), load_ontology("base"), HeuristicProvider(),
                              ResponseCache(directory=None, ttl_s=0), Annotations(), column_roles(stats), topo)
    facts = {f for f, *_ in schema.relationships} - {t for _f, _c, t, _k in schema.relationships}
    for name, entity in sem.tables.items():
        if name in facts and topo.tables[name].role == "fact":
            assert entity.entity_type == "fact" and entity.is_fact_table and entity.primary_time_column
        elif topo.tables[name].in_degree:
            assert entity.entity_type in ("dimension", "reference") and not entity.is_fact_table


# --- annotations ---------------------------------------------------------------------------


def test_annotations_win_over_the_provider_and_survive_reruns(tmp_path):
    ws = tmp_path / "ws"
    shop = str(sample.shop_dir())
    first = dc.run("default", sources=[shop], workspace=str(ws))
    assert roles(first.results["semantic_enrichment"], "orders")["amount"] == "measure"
    result = cli("annotate", "orders.status", "--role", "attribute", "--term", "status",
                 "--description", "Where the order is.", "--workspace", str(ws))
    assert result.code == 0 and "annotated orders.status" in result.err
    result = cli("annotate", "orders.amount", "--term", "revenue", "--workspace", str(ws))
    assert result.code == 0 and "'revenue' is not a concept of ontology base" in result.err
    second = dc.run("default", sources=[shop], workspace=str(ws))
    assert {s.name: s.status for s in second.steps}["staging"] == "cached"
    status = second.results["semantic_enrichment"].tables["orders"].columns["status"]
    assert (status.semantic_role, status.business_term, status.description, status.source) == \
        ("attribute", "status", "Where the order is.", "annotation")
    amount = second.results["semantic_enrichment"].tables["orders"].columns["amount"]
    assert (amount.semantic_role, amount.business_term, amount.term_confidence) == ("measure", "revenue", 1.0)
    assert next(c for c in second.context.table("orders").columns if c.name == "status").semantic_role == "attribute"
    # an edit by hand takes effect on the next run; an entry for a column the data lacks is a warning
    path = ws / "annotations.yaml"
    path.write_text(path.read_text().replace("role: attribute", "role: key") + "orders.amout:\n  role: measure\n")
    third = dc.run("default", sources=[shop], workspace=str(ws))
    assert third.results["semantic_enrichment"].tables["orders"].columns["status"].semantic_role == "key"
    assert "annotations.yaml: orders.amout is not a column of the data; ignored" in third.context.warnings
    assert set(read_annotations(ws).columns) == {"orders.status", "orders.amount", "orders.amout"}


def test_annotate_checks_the_column_and_the_role(tmp_path, shop):
    ws = tmp_path / "ws"
    result = cli("annotate", "orders.amount", "--role", "measure", "--workspace", str(ws))
    assert result.code == 2 and "has no typed tables" in result.err
    assert cli("run", str(shop), "--workspace", str(ws), "--pipeline", "quick_profile").code == 0
    result = cli("annotate", "invoices.total", "--role", "measure", "--workspace", str(ws))
    assert result.code == 2 and "(tables: customers, orders)" in result.err
    result = cli("annotate", "orders.amt", "--role", "measure", "--workspace", str(ws))
    assert result.code == 2 and "table orders has no column 'amt' (columns: order_id, customer_id" in result.err
    result = cli("annotate", "orders.amount", "--role", "mesure", "--workspace", str(ws))
    assert result.code == 2 and "invalid choice: 'mesure'" in result.err
    assert not (ws / "annotations.yaml").exists()


def test_a_malformed_annotations_file_names_the_problem(tmp_path, shop):
    ws = tmp_path / "ws"
    ws.mkdir()
    write(ws / "annotations.yaml", "orders.amount:\n  role: mesure\n")
    with pytest.raises(ConfigError, match=r"annotations.yaml: orders.amount: role 'mesure' is not one of key, "):
        dc.run("default", sources=[str(shop)], workspace=str(ws))
    write(ws / "annotations.yaml", "orders.amount:\n  rol: measure\n")
    with pytest.raises(ConfigError, match=r"unknown key 'rol' \(valid: role, term, description\)"):
        read_annotations(ws)
    write(ws / "annotations.yaml", "orders.amount: [measure\n")
    with pytest.raises(ConfigError, match=r"annotations.yaml:\d+: not valid YAML"):
        read_annotations(ws)


# --- provider selection --------------------------------------------------------------------


def test_an_unknown_provider_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown LLM provider 'gpt' \(valid: anthropic, heuristic"):
        dc.driver("default", llm={"provider": "gpt"})
    path = write(tmp_path / "p.yaml", "name: p\nmodules: [staging]\nllm: {provider: claude}\n")
    result = cli("run", "x.csv", "--pipeline", str(path))
    assert result.code == 2 and "unknown LLM provider 'claude'" in result.err


def test_a_plugin_provider_is_found_by_its_entry_point(tmp_path, monkeypatch, shop):
    """A distribution on sys.path registering `dataraum.llm_providers: echo`."""
    site = tmp_path / "site"
    (site / "echo_provider-0.1.dist-info").mkdir(parents=True)
    write(site / "echo_provider-0.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: echo-provider\nVersion: 0.1\n")
    write(site / "echo_provider-0.1.dist-info" / "entry_points.txt",
          "[dataraum.llm_providers]\necho = echo_provider:EchoProvider\n")
    write(site / "echo_provider.py", textwrap.dedent("""
        from dataraum_context.llm import HeuristicProvider

        class EchoProvider(HeuristicProvider):
            name: str = "echo"
            model: str | None = "echo-1"
    """))
    monkeypatch.syspath_prepend(str(site))
    run = dc.run("default", sources=[str(shop)], workspace=str(tmp_path / "ws"),
                 llm={"provider": "echo", "model": "echo-2"})
    sem = run.results["semantic_enrichment"]
    assert (sem.provider, sem.model) == ("echo", "echo-2")
    assert {c.source for c in sem.tables["orders"].columns.values()} == {"echo"}
    assert run.context.semantic_provider == "echo (echo-2)"


# --- redaction -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["+49 30 1234567", "(030) 123-4567", "555.123.4567", "+4915112345678"])
def test_phone_numbers_are_recognised(text):
    assert is_phone(text)
    assert redact(f"call {text} today", None) == "call <phone> today"


@pytest.mark.parametrize("text", ["2023-01-05", "05.01.2023", "1234.50", "192.168.1.10", "12345", "v1.2.3"])
def test_dates_numbers_and_addresses_are_not_phone_numbers(text):
    assert not is_phone(text) and redact(text, None) == text


def test_emails_inside_text_are_masked():
    assert redact("ask zoë.müller56@example.com or a.b+c@x.co.uk", None) == "ask <email> or <email>"
    assert redact("Zoë Müller", "name") == "<name>"


@settings(max_examples=50, deadline=None)
@given(email=st.emails(), before=st.text(st.characters(categories=["L", "N", "Zs"]), max_size=12))
def test_any_email_inside_text_is_masked(email, before):
    masked = redact(f"{before} {email}, thanks", None)
    assert "@" not in masked and "<email>" in masked
