"""quality_assessment: every rule type of the ontology schema compiled to SQL and run on small
tables written here, with the failing rows counted exactly and the reproducing SQL returning
exactly them; the generic checks; the score; the context document; the bundled sample."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import duckdb
import polars as pl
import pytest
from hamilton import driver
from hamilton.execution.executors import SynchronousLocalTaskExecutor
from hypothesis import given, settings
from hypothesis import strategies as st

import dataraum_context as dc
from dataraum_context import sample
from dataraum_context.dataflows import quality
from dataraum_context.models import (
    QualityAssessmentResult,
    QualityResult,
    SemanticAnnotation,
    SemanticEnrichmentResult,
    TableEntity,
    TemporalResult,
)
from dataraum_context.ontology import load_ontology, load_ontology_file
from dataraum_context.ontology.models import RuleType
from dataraum_context.quality import COMPILERS, find_null_tokens, run_checks, runner
from dataraum_context.sample import schemas
from dataraum_context.settings import NULL_TOKENS, QUALITY_EXAMPLE_ROWS
from dataraum_context.sql import EXPRESSIONS_PER_QUERY, Sql, connect
from dataraum_context.workspace import file_version

from conftest import write
from support.steps import statistics_profiling, temporal_enrichment, topology_enrichment

# --- a small world with a known number of failing rows per rule ----------------------------

H = datetime(2024, 1, 1)
READINGS = pl.DataFrame({
    "device": ["a", "a", "a", "a", "b", "b", "b", "z"],
    "reading_time": [H, H + timedelta(hours=1), H + timedelta(hours=1), H + timedelta(hours=4),
                     H, H + timedelta(hours=1), H + timedelta(hours=2), H],
    "counter": [1, 2, 3, 2, 5, 5, 6, 1],
    "temperature": [20.0, 21.0, -999.0, 60.0, None, 85.0, 70.0, -40.0],
    "status": ["ok", "OK", "warn", "bad", None, "ok", "warn", "ok"],
    "code": ["AB123", "AB124", "ab125", "AB12", None, "CD001", "CD002", "EF001"],
})
DEVICES = pl.DataFrame({"device_key": ["a", "b"], "model": ["x1", "x2"]})
D = date(2024, 1, 1)
LEDGER = pl.DataFrame({
    "entry": [1, 1, 2, 2, 3, 3, 4, 4],
    "debit": [10.0, 0.0, 5.0, 0.0, 7.005, 0.0, -1.0, 0.0],
    "credit": [0.0, 10.0, 0.0, 4.0, 0.0, 7.0, 0.0, -1.0],
    "entry_total": [10.0, 10.0, 6.0, 6.0, 7.005, 7.005, -1.0, -1.0],
    "starts": [D, D + timedelta(days=2), D, D, D, D, D, D],
    "ends": [D + timedelta(days=1), D + timedelta(days=1), None, D, D, D, D, D],
})

TERMS = {
    "readings": {"device": "device", "reading_time": "reading_time", "counter": "counter",
                 "temperature": "temperature", "status": "status", "code": "code"},
    "devices": {"device_key": "device_key"},
    "ledger": {"entry": "entry", "debit": "debit", "credit": "credit", "entry_total": "entry_total",
               "starts": "period_from", "ends": "period_to"},
}

ONTOLOGY = r"""
name: qa_test
concepts:
  - {name: device, indicators: [device]}
  - {name: device_key, indicators: [device key]}
  - {name: reading_time, indicators: [reading time]}
  - {name: counter, indicators: [counter]}
  - {name: temperature, indicators: [temperature]}
  - {name: status, indicators: [status]}
  - {name: code, indicators: [code]}
  - {name: entry, indicators: [entry]}
  - {name: debit, indicators: [debit]}
  - {name: credit, indicators: [credit]}
  - {name: entry_total, indicators: [entry total]}
  - {name: period_from, indicators: [starts]}
  - {name: period_to, indicators: [ends]}
  - {name: humidity, indicators: [humidity]}
quality_rules:
  - {name: temperature_present, applies_to: temperature, rule_type: not_null, severity: error}
  - {name: one_reading_per_device_and_time, applies_to: [device, reading_time], rule_type: unique}
  - {name: temperature_range, applies_to: temperature, rule_type: range, parameters: {min: -40, max: 60}}
  - {name: temperature_range_open, applies_to: temperature, rule_type: range,
     parameters: {min: -40, max: 60, inclusive: false}}
  - {name: status_values, applies_to: status, rule_type: allowed_values, parameters: {values: [ok, warn]}}
  - {name: status_values_exact, applies_to: status, rule_type: allowed_values,
     parameters: {values: [ok, warn], case_sensitive: true}}
  - {name: no_sentinels, applies_to: temperature, rule_type: disallowed_values, parameters: {values: [-999, 85.0]}}
  - {name: code_format, applies_to: code, rule_type: regex, parameters: {pattern: '[A-Z]{2}\d{3}'}}
  - {name: starts_before_ends, applies_to: [period_from, period_to], rule_type: cross_column,
     expression: "{period_from} <= {period_to}"}
  - {name: entries_balance, applies_to: [debit, credit, entry], rule_type: cross_column,
     expression: "SUM({debit}) = SUM({credit})", parameters: {group_by: [entry], tolerance: 0.01}}
  - {name: ledger_balances, applies_to: [debit, credit], rule_type: cross_column,
     expression: "SUM({debit}) = SUM({credit})", parameters: {tolerance: 0.01}}
  - {name: debits_not_negative_per_entry, applies_to: [debit, entry], rule_type: cross_column,
     expression: "{debit} >= 0", parameters: {group_by: [entry]}}
  - {name: entry_total_matches_debits, applies_to: [entry_total, debit, entry], rule_type: cross_column,
     expression: "abs({entry_total} - SUM({debit})) <= 0.001", parameters: {group_by: [entry]}}
  - {name: hourly_per_device, applies_to: reading_time, rule_type: temporal_completeness,
     parameters: {grain: hour, group_by: [device]}}
  - {name: counter_increases, applies_to: counter, rule_type: monotonic,
     parameters: {order_by: reading_time, group_by: [device], strict: true}}
  - {name: counter_never_drops, applies_to: counter, rule_type: monotonic,
     parameters: {order_by: reading_time, group_by: [device]}}
  - {name: readings_fresh, applies_to: reading_time, rule_type: freshness, parameters: {max_age_hours: 24}}
  - {name: device_known, applies_to: device, rule_type: referential_integrity, parameters: {references: device_key}}
  - {name: times_present, applies_to: ["*_time"], rule_type: not_null}
  - {name: humidity_range, applies_to: humidity, rule_type: range, parameters: {min: 0, max: 100}}
  - {name: status_is_numeric, applies_to: status, rule_type: range, parameters: {min: 0}}
  - {name: temperature_below_debit, applies_to: [temperature, debit], rule_type: cross_column,
     expression: "{temperature} < {debit}"}
  - {name: code_as_number, applies_to: code, rule_type: cross_column, expression: "CAST({code} AS INTEGER) > 0"}
  - {name: broken_expression, applies_to: [period_from], rule_type: cross_column,
     expression: "no_such_function({period_from}) = 1"}
"""

# rule -> (failing, total, unit)
EXPECTED = {
    "temperature_present": (1, 8, "rows"),
    "one_reading_per_device_and_time": (2, 8, "rows"),
    "temperature_range": (3, 8, "rows"),
    "temperature_range_open": (5, 8, "rows"),
    "status_values": (1, 8, "rows"),
    "status_values_exact": (2, 8, "rows"),
    "no_sentinels": (2, 8, "rows"),
    "code_format": (2, 8, "rows"),
    "starts_before_ends": (1, 8, "rows"),
    "entries_balance": (1, 4, "groups"),
    "ledger_balances": (1, 1, "groups"),
    "debits_not_negative_per_entry": (1, 4, "groups"),
    "entry_total_matches_debits": (1, 4, "groups"),
    "hourly_per_device": (2, 9, "periods"),
    "counter_increases": (2, 8, "rows"),
    "counter_never_drops": (1, 8, "rows"),
    "readings_fresh": (1, 1, "columns"),
    "device_known": (1, 8, "rows"),
    "times_present": (0, 8, "rows"),
}


def quality_driver() -> driver.Driver:
    """The quality module's nodes alone, the per-table items in this thread as the pipeline runs
    them: the results they need are given as inputs."""
    return (driver.Builder().enable_dynamic_execution(allow_experimental_mode=True)
            .with_local_executor(SynchronousLocalTaskExecutor())
            .with_remote_executor(SynchronousLocalTaskExecutor())
            .with_modules(quality).build())


def assess(type_resolution, statistics_profiling, workspace, ontology, **inputs) -> QualityAssessmentResult:
    """The quality step with the nodes that are part of it, run by Hamilton on the given results."""
    given = {"type_resolution": type_resolution, "statistics_profiling": statistics_profiling,
             "workspace": workspace, "ontology": ontology, **inputs}
    return quality_driver().execute(["quality_assessment"], inputs=given)["quality_assessment"]


def semantic(terms: dict[str, dict[str, str]]) -> SemanticEnrichmentResult:
    return SemanticEnrichmentResult(provider="test", tables={
        table: TableEntity(name=table, entity_type="fact", is_fact_table=True, source="test", columns={
            c: SemanticAnnotation(name=c, semantic_role="attribute", business_term=t, source="test")
            for c, t in columns.items()})
        for table, columns in terms.items()})


@pytest.fixture(scope="module")
def world_inputs(tmp_path_factory) -> dict:
    """What the quality nodes need of the small world: its results before quality."""
    root = tmp_path_factory.mktemp("world")
    types = schemas.Schema(seed=0, style="test", tables={
        "readings": READINGS, "devices": DEVICES, "ledger": LEDGER}).workspace(root)
    onto = load_ontology_file(write(root / "qa_test.yaml", ONTOLOGY))
    reference = TemporalResult(reference_date=datetime(2024, 1, 3), reference_source="config", tables={})
    return {"type_resolution": types, "statistics_profiling": statistics_profiling(types, str(root)),
            "workspace": str(root), "ontology": onto, "semantic_enrichment": semantic(TERMS),
            "temporal_enrichment": reference}


@pytest.fixture(scope="module")
def world(world_inputs) -> tuple[Path, QualityAssessmentResult]:
    return Path(world_inputs["workspace"]), assess(**world_inputs)


def by_check(result: QualityAssessmentResult) -> dict[str, QualityResult]:
    return {r.check: r for t in result.tables.values() for r in t.results}


def reproduced(root: Path, r: QualityResult) -> int:
    return len(dc.Workspace(root).sql(r.sql, list(r.parameters)).fetchall())


def test_every_rule_type_of_the_schema_is_compiled_and_run(world):
    _, result = world
    ran = {r.rule_type for r in by_check(result).values() if r.source == "ontology" and r.error is None}
    assert ran == {t.value for t in RuleType}


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_failing_rows_counted_exactly_and_reproduced_by_the_sql(world, rule):
    root, result = world
    r = by_check(result)[rule]
    assert r.error is None and r.source == "ontology"
    assert (r.failing_rows, r.total_rows, r.unit) == EXPECTED[rule]
    assert reproduced(root, r) == r.failing_rows
    assert r.passed == (r.failing_rows == 0)
    assert len(r.examples) == min(3, r.failing_rows)


def test_examples_are_the_failing_rows_with_row_numbers(world):
    _, result = world
    checks = by_check(result)
    assert [e["_row"] for e in checks["temperature_range"].examples] == [3, 6, 7]
    assert checks["temperature_range"].examples[0]["temperature"] == -999.0
    assert checks["one_reading_per_device_and_time"].examples == (
        {"_row": 2, "device": "a", "reading_time": "2024-01-01T01:00:00"},
        {"_row": 3, "device": "a", "reading_time": "2024-01-01T01:00:00"})
    assert [e["_row"] for e in checks["counter_increases"].examples] == [4, 6]
    assert checks["counter_increases"].examples[0]["previous_counter"] == 3
    assert checks["device_known"].examples[0]["device"] == "z"
    assert checks["hourly_per_device"].examples == (
        {"device": "a", "period": "2024-01-01T02:00:00"}, {"device": "a", "period": "2024-01-01T03:00:00"})
    assert checks["entries_balance"].examples == ({"entry": 2, "rows": 2, "SUM(debit)": 5.0, "SUM(credit)": 4.0},)
    assert checks["entry_total_matches_debits"].examples[0]["entry"] == 2
    assert checks["readings_fresh"].examples[0]["latest"] == "2024-01-01T04:00:00"


def test_rule_origin_threshold_and_binding_are_reported(world, tmp_path):
    _root, result = world
    r = by_check(result)["code_format"]
    assert r.ontology_file == "qa_test.yaml" and r.severity == "warning" and r.threshold == 1
    assert result.binding == "semantic_enrichment"
    assert any("business term code" in e for e in r.evidence)
    assert by_check(result)["times_present"].columns == ("reading_time",)  # bound by the name pattern
    assert any("name pattern '*_time'" in e for e in by_check(result)["times_present"].evidence)
    tolerance = by_check(result)["entries_balance"]
    assert "abs((" in tolerance.sql and 0.01 in tolerance.parameters


def test_rules_that_cannot_be_bound_are_reported_not_dropped(world):
    _, result = world
    skipped = {n.rule: n for n in result.not_applicable}
    assert skipped["humidity_range"].reason == "no column is bound to humidity"
    assert skipped["status_is_numeric"].table == "readings"
    assert "range needs a numeric column: readings.status is VARCHAR" in skipped["status_is_numeric"].reason
    assert "not bound in one table" in skipped["temperature_below_debit"].reason
    assert skipped["humidity_range"].ontology_file == "qa_test.yaml"
    checks = by_check(result)
    assert not {"humidity_range", "status_is_numeric", "temperature_below_debit"} & set(checks)


def test_a_rule_whose_sql_fails_is_reported_without_sinking_the_others(world):
    _, result = world
    checks = by_check(result)
    # (a regex that needs backtracking is refused when the ontology loads: test_ontology)
    for name in ("code_as_number", "broken_expression"):
        assert checks[name].error is not None and not checks[name].passed and checks[name].failing_rows is None
    assert "no_such_function" in checks["broken_expression"].error
    # the checks counted in the same pass as the broken ones still count
    assert checks["code_format"].failing_rows == 2 and checks["starts_before_ends"].failing_rows == 1
    assert result.tables["ledger"].errors == 1 and result.tables["readings"].errors == 1
    summary = result.summary()
    assert {r.check for r in summary.could_not_run} == {"code_as_number", "broken_expression"}


def test_freshness_against_a_recent_reference_passes(tmp_path):
    types = schemas.Schema(seed=0, style="test", tables={"readings": READINGS}).workspace(tmp_path)
    onto = load_ontology_file(write(tmp_path / "qa_test.yaml", ONTOLOGY))
    recent = TemporalResult(reference_date=datetime(2024, 1, 1, 12), reference_source="config", tables={})
    result = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path), onto,
                    semantic_enrichment=semantic({"readings": TERMS["readings"]}),
                    temporal_enrichment=recent)
    fresh = by_check(result)["readings_fresh"]
    assert (fresh.failing_rows, fresh.passed) == (0, True) and reproduced(tmp_path, fresh) == 0
    assert result.reference_time == datetime(2024, 1, 1, 12)
    # without a configured reference the clock decides: data from 2024 is stale now
    clock = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path), onto,
                   semantic_enrichment=semantic({"readings": TERMS["readings"]}))
    assert by_check(clock)["readings_fresh"].failing_rows == 1
    assert clock.reference_time > datetime(2025, 1, 1)


# --- the checks before they run ------------------------------------------------------------


def test_quality_checks_lists_every_check_with_the_sql_whose_rows_the_step_counts(world_inputs, world):
    root, result = world
    checks = quality_driver().execute(["quality_checks"], inputs=world_inputs)["quality_checks"]
    listed = {(c.table, c.check, c.columns): c for c in checks.checks}
    counted = {(r.table, r.check, r.columns): r for t in result.tables.values() for r in t.results}
    assert listed.keys() == counted.keys() and len(listed) == len(checks.checks)
    assert checks.not_applicable == result.not_applicable and checks.not_applicable  # with the reasons
    for place, check in listed.items():
        r = counted[place]
        assert check.sql.text == r.sql
        if r.error is None:  # the SQL as listed, run as written, returns exactly the rows counted
            assert len(dc.Workspace(root).sql(check.sql.text, list(check.sql.params)).fetchall()) == r.failing_rows
    assert {c.check for c in checks.tables["readings"].checks} >= {"temperature_range", "device_known"}


def test_quality_checks_compile_without_reading_a_table(world_inputs, tmp_path):
    """Nothing runs before the checks are listed: they compile over a workspace without data."""
    checks = quality_driver().execute(["quality_checks"], inputs={**world_inputs, "workspace": str(tmp_path)})
    assert len(checks["quality_checks"].checks) == sum(t.checks for t in assess(**world_inputs).tables.values())


def test_checks_filtered_out_of_quality_checks_are_not_run(world_inputs, world):
    _, result = world
    dr = quality_driver()
    checks = dr.execute(["quality_checks"], inputs=world_inputs)["quality_checks"]
    kept = checks.select(lambda c: c.check != "temperature_range")
    filtered = dr.execute(["quality_assessment"], inputs=world_inputs,
                          overrides={"quality_checks": kept})["quality_assessment"]
    dropped = by_check(result)["temperature_range"]
    assert "temperature_range" not in by_check(filtered)
    readings, before = filtered.tables["readings"], result.tables["readings"]
    assert readings.checks == before.checks - 1
    # the table no longer pays for it: a warning on 3 of 8 rows cost a factor (1 - 0.5 x 3/8)
    assert dropped.severity == "warning" and not dropped.passed
    assert readings.score == pytest.approx(before.score / (1 - 0.5 * dropped.failing_share), abs=1e-3)
    assert filtered.tables["ledger"] == result.tables["ledger"]


def test_one_compiler_per_rule_type():
    assert set(COMPILERS) == set(RuleType)


def test_the_nodes_of_the_step_go_with_it(tmp_path):
    """Skipping quality_assessment, or a step it needs, drops the nodes that are part of it."""
    parts = {"quality_reference_time", "staged_null_tokens", "quality_checks", "table_checks", "table_quality",
             "quality_by_table"}

    def nodes(**cfg) -> set[str]:
        dr = dc.driver("default", sources=[str(sample.shop_dir())], workspace=str(tmp_path), **cfg)
        return {n.name for n in dr.list_available_variables() if not n.is_external_input}

    assert parts <= nodes()
    assert not parts & nodes(skip_steps=["quality_assessment"])
    assert not parts & nodes(skip_steps=["statistics_profiling", "semantic_enrichment"])


def _concept_column(concept, rng: random.Random) -> list:
    """30 values of the kind a concept's role and name suggest."""
    role = concept.typical_role.value if concept.typical_role else None
    if role == "measure" or concept.unit:
        return [rng.uniform(-5, 100) for _ in range(30)]
    if role == "timestamp" or concept.name.split("_")[-1] in ("date", "time", "timestamp", "start", "finish"):
        return [H + timedelta(hours=rng.randint(0, 200)) for _ in range(30)]
    if role in ("key", "foreign_key"):
        return [rng.randint(1, 10) for _ in range(30)]
    return [rng.choice(concept.typical_values or ("a", "b", "c")) for _ in range(30)]


@pytest.mark.parametrize("name", ["base", "financial_reporting", "retail", "marketing", "operations",
                                  "healthcare", "iot"])
def test_every_rule_of_the_builtin_ontologies_compiles_and_runs(tmp_path, name):
    """One table per rule, its columns carrying the rule's concepts: DuckDB accepts every
    compiled rule (expressions, parameters, groups), or the rule says why it does not apply."""
    onto = load_ontology(name)
    rng = random.Random(0)
    tables, terms = {}, {}
    for i, rule in enumerate(onto.quality_rules):
        params = rule.parameters
        concepts = [c for c in rule.applies_to if "*" not in c] + re.findall(r"\{(\w+)\}", rule.expression or "")
        concepts += list(params.get("group_by", ())) + [params[k] for k in ("order_by", "references") if k in params]
        concepts = list(dict.fromkeys(concepts))
        if concepts:
            tables[f"t{i}"] = pl.DataFrame({c: _concept_column(onto.concept(c), rng) for c in concepts})
            terms[f"t{i}"] = {c: c for c in concepts}
    types = schemas.Schema(seed=0, style="test", tables=tables).workspace(tmp_path)
    result = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path), onto,
                    semantic_enrichment=semantic(terms))
    ran = {r.check for r in by_check_all(result) if r.source == "ontology"}
    assert [(r.check, r.error) for r in by_check_all(result) if r.error] == []
    assert ran | {n.rule for n in result.not_applicable} == {r.name for r in onto.quality_rules}
    assert len(ran) >= len(onto.quality_rules) - 1


def by_check_all(result: QualityAssessmentResult) -> list[QualityResult]:
    return [r for t in result.tables.values() for r in t.results]


# --- the concept matcher binds when there is no semantic_enrichment ------------------------


def test_without_semantic_enrichment_rules_bind_through_the_concept_matcher(tmp_path):
    people = pl.DataFrame({
        "person_id": list(range(1, 51)),
        "email": [f"p{i}@example.com" for i in range(48)] + ["not an email", "x@y"],
        "quantity": [1] * 47 + [-2, -3, 4],
    })
    types = schemas.Schema(seed=0, style="test", tables={"people": people}).workspace(tmp_path)
    result = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path),
                    load_ontology("base"))
    assert result.binding == "concept_matcher"
    checks = {(r.check, r.columns): r for r in result.tables["people"].results}
    email = checks[("email_format", ("email",))]
    assert (email.failing_rows, email.total_rows) == (2, 50)
    assert not email.passed  # the rule lets 2% fail; 4% did
    assert any("matches concept email" in e for e in email.evidence)
    qty = checks[("quantity_non_negative", ("quantity",))]
    assert qty.failing_rows == 2 and not qty.passed and reproduced(tmp_path, qty) == 2
    assert checks[("identifier_not_null", ("person_id",))].passed
    assert "latitude_range" in {n.rule for n in result.not_applicable}


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=1, max_size=40),
       low=st.integers(-60, 10), width=st.integers(0, 80),
       allowed=st.lists(st.integers(-50, 50), min_size=1, max_size=6, unique=True))
def test_range_and_values_counts_match_python(tmp_path_factory, values, low, width, allowed):
    root = tmp_path_factory.mktemp("h")
    types = schemas.Schema(seed=0, style="test", tables={
        "t": pl.DataFrame({"v": pl.Series(values, dtype=pl.Int64)})}).workspace(root)
    rules = [("in_range", "range", f"{{min: {low}, max: {low + width}}}"),
             ("allowed", "allowed_values", f"{{values: {allowed}}}"),
             ("banned", "disallowed_values", f"{{values: {allowed}}}"), ("present", "not_null", "{}")]
    onto_text = "name: h\nconcepts:\n  - {name: v, indicators: [v]}\nquality_rules:\n" + "".join(
        f"  - {{name: {n}, applies_to: v, rule_type: {t}, parameters: {p}}}\n" for n, t, p in rules)
    onto = load_ontology_file(write(root / "h.yaml", onto_text))
    result = assess(types, statistics_profiling(types, str(root)), str(root), onto,
                    semantic_enrichment=semantic({"t": {"v": "v"}}))
    checks = by_check(result)
    present = [v for v in values if v is not None]
    assert checks["in_range"].failing_rows == sum(1 for v in present if not low <= v <= low + width)
    assert checks["allowed"].failing_rows == sum(1 for v in present if v not in allowed)
    assert checks["banned"].failing_rows == sum(1 for v in present if v in allowed)
    assert checks["present"].failing_rows == values.count(None)
    for r in checks.values():
        assert reproduced(root, r) == r.failing_rows


# --- generic checks ------------------------------------------------------------------------


def test_generic_duplicate_keys_nulls_outliers_and_the_score(tmp_path):
    """An error on 2 of 10 rows and an info on 5 of 10: score (1 - 0.2)(1 - 0.1 x 0.5) = 0.76;
    a null share at the threshold passes and costs nothing."""
    accounts = pl.DataFrame({
        "id": ["a1", "a2", "a3", "a3", "a5", "a6", "a7", "a8", "a9", "a10"],
        "note": [None, None, None, None, None, "x", "y", "z", "w", "v"],
        "region": [None, "n", "s", "e", "w", "n", "s", "e", "w", "n"],
    })
    regions = pl.DataFrame({"region_id": [f"r{i}" for i in range(30)], "label": [f"L{i}" for i in range(30)]})
    types = schemas.Schema(seed=0, style="test", tables={"accounts": accounts, "regions": regions}).workspace(tmp_path)
    result = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path),
                    load_ontology_file(write(tmp_path / "empty.yaml", "name: empty\n")))
    checks = {(r.check, r.columns): r for r in result.tables["accounts"].results}
    dup = checks[("duplicate_key", ("id",))]
    assert (dup.failing_rows, dup.severity, dup.passed) == (2, "error", False)
    assert [e["_row"] for e in dup.examples] == [3, 4] and reproduced(tmp_path, dup) == 2
    assert dup.evidence == ("named as the table's id",)
    note = checks[("null_ratio", ("note",))]
    assert (note.failing_rows, note.passed, note.threshold) == (5, False, pytest.approx(0.9))
    region = checks[("null_ratio", ("region",))]
    assert (region.failing_rows, region.passed) == (1, True)
    assert result.tables["accounts"].score == pytest.approx(0.8 * 0.95)
    assert result.tables["regions"].score == 1.0
    assert result.score == pytest.approx((10 * 0.76 + 30 * 1.0) / 40, abs=1e-4)
    assert result.tables["accounts"].results[0].check == "duplicate_key"  # failures first, errors before infos
    assert result.summary().top_issues[0].check == "duplicate_key"
    assert result.summary().failed == {"error": 1, "info": 1}


def test_keys_named_by_semantic_enrichment_are_checked_and_examples_are_configurable(tmp_path):
    parts = pl.DataFrame({"sku": ["s1", "s2", "s2", "s2", "s5"], "code": ["c1", "c1", "c2", "c3", "c4"]})
    types = schemas.Schema(seed=0, style="test", tables={"parts": parts}).workspace(tmp_path)
    terms = SemanticEnrichmentResult(provider="test", tables={"parts": TableEntity(
        name="parts", entity_type="dimension", is_fact_table=False, source="test", columns={
            "sku": SemanticAnnotation(name="sku", semantic_role="key", source="test"),
            "code": SemanticAnnotation(name="code", semantic_role="attribute", source="test")})})
    result = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path),
                    load_ontology_file(write(tmp_path / "empty.yaml", "name: empty\n")),
                    semantic_enrichment=terms, quality_example_rows=1)
    checks = {(r.check, r.columns): r for r in result.tables["parts"].results}
    assert set(checks) == {("duplicate_key", ("sku",))}  # `code` alone is no id
    dup = checks[("duplicate_key", ("sku",))]
    assert dup.failing_rows == 3 and dup.evidence == ("semantic_enrichment calls it a key (test)",)
    assert dup.examples == ({"_row": 2, "sku": "s2"},)


def test_outliers_beyond_the_iqr_fences(tmp_path):
    amounts = [10.0 + i % 7 for i in range(100)] + [500.0, -300.0]
    types = schemas.Schema(seed=0, style="test",
                           tables={"sales": pl.DataFrame({"amount": amounts})}).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    q = stats.tables["sales"].columns["amount"].quantiles
    result = assess(types, stats, str(tmp_path), load_ontology_file(
        write(tmp_path / "empty.yaml", "name: empty\n")), iqr_fence_multiplier=1.5)
    out = by_check(result)["outlier"]
    lo, hi = q["p25"] - 1.5 * (q["p75"] - q["p25"]), q["p75"] + 1.5 * (q["p75"] - q["p25"])
    assert out.failing_rows == sum(1 for a in amounts if a < lo or a > hi) == 2
    assert out.parameters == (pytest.approx(lo), pytest.approx(hi)) and reproduced(tmp_path, out) == 2


def test_orphans_from_topology_and_declared_style_recount(tmp_path):
    customers = pl.DataFrame({"customer_id": list(range(1, 41)), "name": [f"c{i}" for i in range(40)]})
    orders = pl.DataFrame({"order_id": list(range(1, 201)),
                           "customer_id": [(i % 40) + 1 for i in range(196)] + [77, 77, 78, None]})
    types = schemas.Schema(seed=0, style="test",
                           tables={"customers": customers, "orders": orders}).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    topo = topology_enrichment(stats, types, str(tmp_path))
    rel = next(r for r in topo.relationships if r.from_table == "orders")
    assert rel.orphan_rows == 3
    empty = load_ontology_file(write(tmp_path / "empty.yaml", "name: empty\n"))
    result = assess(types, stats, str(tmp_path), empty, topology_enrichment=topo)
    orphan = by_check(result)["orphaned_reference"]
    assert (orphan.failing_rows, orphan.total_rows, orphan.severity) == (3, 200, "warning")
    assert any("topology_enrichment" in e for e in orphan.evidence)  # reused, not recounted
    assert reproduced(tmp_path, orphan) == 3  # ... and the SQL agrees
    assert [e["customer_id"] for e in orphan.examples] == [77, 77, 78]
    # a relationship without counts (declared by a source) is counted here
    declared = rel.model_copy(update={"orphan_rows": None, "source": "declared"})
    topo2 = topo.model_copy(update={"relationships": (declared,)})
    recount = by_check(assess(types, stats, str(tmp_path), empty, topology_enrichment=topo2))
    assert (recount["orphaned_reference"].failing_rows, recount["orphaned_reference"].severity) == (3, "error")


def test_checks_an_earlier_step_counted_as_passing_run_no_query(tmp_path):
    """A key whose distinct values statistics counted exactly, as many as its values, and a
    reference whose orphans topology counted as none: both pass without a query (their SQL is
    replaced here by one that cannot run, and no error comes back), and say who counted."""
    customers = pl.DataFrame({"customer_id": list(range(1, 41)), "name": [f"c{i}" for i in range(40)]})
    orders = pl.DataFrame({"order_id": list(range(1, 201)), "customer_id": [(i % 40) + 1 for i in range(200)]})
    types = schemas.Schema(seed=0, style="test",
                           tables={"customers": customers, "orders": orders}).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    topo = topology_enrichment(stats, types, str(tmp_path))
    inputs = {"type_resolution": types, "statistics_profiling": stats, "workspace": str(tmp_path),
              "ontology": load_ontology_file(write(tmp_path / "empty.yaml", "name: empty\n")),
              "topology_enrichment": topo}
    dr = quality_driver()
    checks = dr.execute(["quality_checks"], inputs=inputs)["quality_checks"]
    known = {(c.check, c.table): c for c in checks.checks if c.known_failing == 0}
    assert {("duplicate_key", "customers"), ("duplicate_key", "orders"), ("orphaned_reference", "orders")} <= set(known)
    assert any("statistics_profiling counted" in e for e in known[("duplicate_key", "customers")].evidence)
    broken = checks.model_copy(update={"tables": {name: t.model_copy(update={"checks": tuple(
        c.model_copy(update={"query": Sql(text="SELECT * FROM no_such_table")}) if c.known_failing == 0 else c
        for c in t.checks)}) for name, t in checks.tables.items()}})
    result = dr.execute(["quality_assessment"], inputs=inputs, overrides={"quality_checks": broken})
    results = {(r.check, r.table): r for r in by_check_all(result["quality_assessment"])}
    for check in known:
        r = results[check]
        assert (r.failing_rows, r.passed, r.error, r.examples) == (0, True, None, ())
    # a key statistics did not find unique is looked at: its repeats are counted by the query
    twice = pl.DataFrame({"id": [1, 2, 2, 3], "v": [1, 2, 3, 4]})
    types2 = schemas.Schema(seed=0, style="test", tables={"items": twice}).workspace(tmp_path / "b")
    result2 = assess(types2, statistics_profiling(types2, str(tmp_path / "b")), str(tmp_path / "b"),
                     inputs["ontology"])
    dup = by_check(result2)["duplicate_key"]
    assert (dup.failing_rows, [e["_row"] for e in dup.examples]) == (2, [2, 3])


def test_each_failed_check_shows_its_own_first_failing_rows(tmp_path):
    """The row checks of a table counted in one pass; examples only for those that failed, each
    its own first rows in row order, though other checks fail other rows."""
    n = 50
    frame = pl.DataFrame({"id": list(range(1, n + 1)),
                          "a": [None if i in (7, 30, 31, 44) else i for i in range(n)],
                          "b": [None if i in (2, 3) else i for i in range(n)],
                          "c": list(range(n))})
    types = schemas.Schema(seed=0, style="test", tables={"t": frame}).workspace(tmp_path)
    result = assess(types, statistics_profiling(types, str(tmp_path)), str(tmp_path),
                    load_ontology_file(write(tmp_path / "empty.yaml", "name: empty\n")), null_ratio_threshold=0.5)
    checks = {(r.check, r.columns): r for r in result.tables["t"].results}
    a, b = checks[("null_ratio", ("a",))], checks[("null_ratio", ("b",))]
    assert (a.failing_rows, [e["_row"] for e in a.examples]) == (4, [8, 31, 32])
    assert (b.failing_rows, [e["_row"] for e in b.examples]) == (2, [3, 4])
    assert all(e["a"] is None for e in a.examples) and all(e["b"] is None for e in b.examples)
    assert ("null_ratio", ("c",)) not in checks  # no nulls, no check


def test_temporal_gaps_of_the_primary_time_column(tmp_path):
    missing = {5, 6, 7, 20}
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(40) if i not in missing]
    types = schemas.Schema(seed=0, style="test", tables={
        "visits": pl.DataFrame({"visit_date": days, "n": list(range(len(days)))})}).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    temporal = temporal_enrichment(stats, types, str(tmp_path))
    p = temporal.tables["visits"].columns["visit_date"]
    result = assess(types, stats, str(tmp_path), load_ontology_file(
        write(tmp_path / "empty.yaml", "name: empty\n")), temporal_enrichment=temporal)
    gap = by_check(result)["temporal_gap"]
    assert (gap.failing_rows, gap.total_rows) == (p.expected_periods - p.observed_periods, p.expected_periods)
    assert (gap.failing_rows, gap.total_rows) == (4, 40)
    assert gap.severity == "warning" and gap.unit == "periods"  # a regular daily series lost days
    assert [e["missing_period_start"] for e in gap.examples] == [
        "2024-01-06T00:00:00", "2024-01-07T00:00:00", "2024-01-08T00:00:00"]
    assert reproduced(tmp_path, gap) == 4


def test_quarantine_null_tokens_and_rejected_rows_through_the_pipeline(data_dir, workspace):
    good = "".join(f"{i},2024-01-{i:02d},{'ab'[i % 2]}\n" for i in range(7, 30))
    write(data_dir / "events.csv", "event_id,happened,kind\n1,2024-01-01,a\n2,2024-13-45,N/A\n"
                                   "3,2024-01-03,b\n4,2024-01-04,-\n5,2024-01-05,a,extra\n6,2024-01-06,\n" + good)
    run = dc.run("default", sources=[str(data_dir)], workspace=str(workspace))
    assert next(s for s in run.steps if s.name == "quality_assessment").status == "succeeded"
    result = run.results["quality_assessment"]
    checks = by_check(result)
    cast = checks["cast_failure"]
    assert (cast.columns, cast.failing_rows, cast.severity) == (("happened",), 1, "warning")
    assert cast.examples[0]["raw_value"] == "2024-13-45"
    rejected = checks["rejected_rows"]
    assert (rejected.failing_rows, rejected.total_rows, rejected.severity) == (1, 29, "error")
    tokens = checks["null_tokens"]
    assert tokens.columns == ("kind",) and tokens.failing_rows == 2 and tokens.parameters == (["-", "N/A"],)
    assert [e["kind"] for e in tokens.examples] == ["N/A", "-"]
    for r in checks.values():
        assert reproduced(workspace, r) == r.failing_rows


# --- a wide table ----------------------------------------------------------------------------

WIDE_ROWS = 400
WIDE_TOKENS = {7: ("N/A",), 19: ("-", "N/A"), 42: ("null",), 88: ("--", "missing"), 151: ("?",)}


def _wide_column(k: int, rng: random.Random) -> list[str]:
    """Column `c<k>` of the wide CSV as written: integers, decimals with an outlier planted in
    some, dates, codes, or text; null tokens (some padded) in the columns of WIDE_TOKENS and
    empty fields in every ninth column."""
    kind = k % 4
    values = [str(rng.randrange(1000)) if kind == 0 else f"{rng.uniform(10, 20):.2f}" if kind == 1
              else str(date(2024, 1, 1) + timedelta(days=rng.randrange(300))) if kind == 2
              else rng.choice(["north", "south", "east", "west"]) for _ in range(WIDE_ROWS)]
    if kind == 1 and k % 3 == 0:
        values[5 + k % 17] = "99999.25"
    for i, token in enumerate(WIDE_TOKENS.get(k, ())):
        for row in range(3 + i, WIDE_ROWS, 29 + 6 * i):
            values[row] = f" {token} " if row % 2 else token
    if k % 9 == 4:
        for row in range(k % 7, WIDE_ROWS, 11):
            values[row] = ""
    return values


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory) -> tuple[dc.PipelineRun, Path, dict[str, list[str]]]:
    """The default pipeline on a CSV of 160 columns, more row checks than one aggregate holds."""
    root = tmp_path_factory.mktemp("wide")
    rng = random.Random(7)
    columns = {f"c{k}": _wide_column(k, rng) for k in range(160)}
    (root / "data").mkdir()
    write(root / "data" / "wide.csv", ",".join(columns) + "\n"
          + "".join(",".join(row) + "\n" for row in zip(*columns.values(), strict=True)))
    run = dc.run("default", sources=[str(root / "data")], workspace=str(root / "ws"))
    return run, root / "ws", columns


def test_the_null_tokens_of_a_wide_table_are_found_within_little_memory(wide_run, monkeypatch):
    """Each column's null tokens, as written (trimmed), found in one pass over a batch of columns
    under a memory limit of 64 MB: the search keeps a bit per token and column, not each
    column's distinct values (which took 5 MiB a column, DuckDB 2.0 grouping them all)."""
    run, ws, columns = wide_run
    expected = {name: tuple(sorted({v.strip() for v in values if v.strip() and v.strip() in NULL_TOKENS}))
                for name, values in columns.items()}
    assert {k: v for k, v in expected.items() if v} == {f"c{k}": tuple(sorted(t)) for k, t in WIDE_TOKENS.items()}
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "64MB")
    found = find_null_tokens(dc.Workspace(ws), run.results["staging"], run.results["type_resolution"],
                             NULL_TOKENS)
    assert found.tables == {"wide": {k: v for k, v in expected.items() if v}}
    counted = {r.columns[0]: r.failing_rows for r in by_check_all(run.results["quality_assessment"])
               if r.check == "null_tokens"}
    assert counted == {name: sum(v.strip() in expected[name] for v in values)
                       for name, values in columns.items() if expected[name]}


def test_the_checks_of_a_wide_table_give_what_each_gives_alone(wide_run):
    """A wide table's row checks, counted in batches of one aggregate each with the examples of
    those that failed, give each check exactly what it gives when it runs alone: counts,
    examples in row order, SQL."""
    run, ws, columns = wide_run
    dr = dc.driver("default", sources=[str(ws.parent / "data")], workspace=str(ws))
    table = dr.execute(["quality_checks"])["quality_checks"].tables["wide"]
    row_checks = [c for c in table.checks if c.predicate is not None]
    assert len(row_checks) > EXPRESSIONS_PER_QUERY // 2  # more than one aggregate's worth
    assert {c.check for c in row_checks} == {"null_ratio", "outlier", "null_tokens"}
    together = run_checks(table, str(ws), 3)
    alone = [r for c in table.checks for r in run_checks(table.model_copy(update={"checks": (c,)}), str(ws), 3)]
    assert sorted(together, key=repr) == sorted(alone, key=repr)
    assert sorted(by_check_all(run.results["quality_assessment"]), key=repr) == sorted(
        run_checks(table, str(ws), QUALITY_EXAMPLE_ROWS), key=repr)  # what the step gave
    nulls = {r.columns[0]: (r.failing_rows, [e["_row"] for e in r.examples]) for r in together
             if r.check == "null_ratio"}
    written_null = {name: [i + 1 for i, v in enumerate(values) if v.strip() in NULL_TOKENS]
                    for name, values in columns.items()}
    assert nulls == {name: (len(rows), rows[:3]) for name, rows in written_null.items() if rows}
    outliers = {r.columns[0]: r.failing_rows for r in together if r.check == "outlier" and r.failing_rows}
    assert outliers == {name: 1 for name, values in columns.items() if "99999.25" in values}


def _notes(root: Path, n: int = 40_000) -> dict:
    """What the quality nodes need of a table of `n` rows: `id`, each value twice, and ten
    columns of 400 random characters (160 MB of text at 40,000 rows)."""
    rng = random.Random(3)
    frame = pl.DataFrame({"id": [i // 2 for i in range(n)],
                          **{f"note{j}": [rng.randbytes(200).hex() for _ in range(n)] for j in range(10)}})
    types = schemas.Schema(seed=0, style="test", tables={"notes": frame}).workspace(root)
    # in row groups of a few MB, as type resolution writes them (DuckDB reads a row group whole)
    frame.write_parquet(root / types.tables["notes"].path, row_group_size=2_048)
    return {"type_resolution": types, "statistics_profiling": statistics_profiling(types, str(root)),
            "workspace": str(root), "ontology": load_ontology_file(write(root / "empty.yaml", "name: empty\n"))}


def test_a_duplicated_key_is_counted_within_little_memory(tmp_path):
    """The rows of a duplicated key are counted apart from the first of them: counted beside
    them (`count(*) OVER ()`), every failing row was held whole, 160 MB of text here, more than
    the 64 MB a connection that cannot spill is given."""

    @contextmanager
    def without_spilling() -> Iterator[duckdb.DuckDBPyConnection]:
        with connect() as con:
            con.execute("SET memory_limit = '64MB'")
            con.execute("SET temp_directory = ''")
            yield con

    with patch.object(runner, "session", without_spilling):
        dup = by_check(assess(**_notes(tmp_path)))["duplicate_key"]
    assert (dup.error, dup.failing_rows, dup.total_rows) == (None, 40_000, 40_000)
    assert dup.examples == tuple({"_row": i + 1, "id": i // 2} for i in range(QUALITY_EXAMPLE_ROWS))


def _spy_on_connections(monkeypatch) -> list[tuple[str, str]]:
    """The memory limit and temporary directory of every connection a table's checks run on."""
    seen = []
    run = runner._run

    def spy(con, *args):
        seen.append(con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')")
                    .fetchone())
        return run(con, *args)

    monkeypatch.setattr(runner, "_run", spy)
    return seen


def test_the_checks_of_a_large_table_run_in_bounded_memory(tmp_path, monkeypatch):
    """From BOUNDED_FROM_ROWS rows a table's checks run on a connection of its own, its memory
    bounded to MEMORY_PER_THREAD a thread, spilling into `<workspace>/tmp/` (gone after), with
    the results of an unbounded run; under a bound too small for its values they run once more
    without it; DATARAUM_DUCKDB_MEMORY_LIMIT wins."""
    inputs = _notes(tmp_path, n=4_000)
    unbounded = assess(**inputs)
    seen = _spy_on_connections(monkeypatch)
    monkeypatch.setattr(runner, "BOUNDED_FROM_ROWS", 4_000)
    bounded = assess(**inputs)
    [(memory, directory)] = seen
    with connect() as con:
        [(threads,)] = con.execute("SELECT current_setting('threads')").fetchall()
    assert memory == f"{threads * 128}.0 MiB" and Path(directory).parent == tmp_path / "tmp"
    assert not (tmp_path / "tmp").exists()
    assert bounded.tables == unbounded.tables
    monkeypatch.setattr(runner, "MEMORY_PER_THREAD", 1 << 20)
    assert assess(**inputs).tables == unbounded.tables
    assert len(seen) == 3 and seen[-1][0] != seen[-2][0]  # out of memory, then without the bound
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "300MiB")
    assess(**inputs)
    assert seen[-1][0] == "300.0 MiB" and Path(seen[-1][1]).parent == tmp_path / "tmp"


# --- the bundled sample and the context ----------------------------------------------------


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory) -> tuple[dc.PipelineRun, Path]:
    ws = tmp_path_factory.mktemp("shop") / "ws"
    return dc.run("default", sources=[str(sample.shop_dir())], workspace=str(ws)), ws


def test_sample_defects_are_quality_results(shop_run):
    run, ws = shop_run
    assert next(s for s in run.steps if s.name == "quality_assessment").status == "succeeded"
    result = run.results["quality_assessment"]
    checks = {(r.table, r.check, r.columns): r for t in result.tables.values() for r in t.results}
    dup = checks[("customers", "duplicate_key", ("customer_id",))]
    assert dup.failing_rows == 2 and {e["customer_id"] for e in dup.examples} == {sample.DEFECTS["duplicated_key"][2]}
    assert dup.evidence == ("named for its table, unique and never null",)  # column_roles' own key
    orphan = checks[("orders", "orphaned_reference", ("customer_id",))]
    assert orphan.failing_rows == 1 and orphan.examples[0]["customer_id"] == sample.DEFECTS["orphan_foreign_key"][2]
    cast = checks[("orders", "cast_failure", ("order_date",))]
    assert cast.failing_rows == 1 and cast.examples[0]["raw_value"] == sample.DEFECTS["unparseable_date"][2]
    na = checks[("customers", "null_tokens", ("country",))]
    assert na.failing_rows == 3 and na.parameters == (["N/A"],)
    dash = checks[("orders", "null_tokens", ("shipped_date",))]
    assert dash.failing_rows == 2 and dash.parameters == (["-"],)
    for r in checks.values():
        assert r.error is None
        assert reproduced(ws, r) == r.failing_rows, r.check


def test_each_table_s_checks_name_the_files_they_read_with_their_versions(shop_run):
    """What one table's checks read is in its item, versions included: a table whose files
    changed runs its checks again, the others need not."""
    _, ws = shop_run
    dr = dc.driver("default", sources=[str(sample.shop_dir())], workspace=str(ws))
    orders = dr.execute(["quality_checks"])["quality_checks"].tables["orders"]
    assert orders.reads == {"orders": "tables/orders.parquet", "customers": "tables/customers.parquet"}
    files = [*orders.reads.values(), "quarantine/orders.parquet"]
    assert orders.quarantine == "quarantine/orders.parquet"
    source = str(sample.shop_dir().resolve() / "orders.csv")  # the staged rows: the CSV, read in place
    assert orders.versions == {**dc.Workspace(ws).versions(files), source: file_version(source)}


@pytest.mark.e2e
def test_a_changed_source_checks_again_only_the_tables_that_read_it(tmp_path):
    data, ws = tmp_path / "data", tmp_path / "ws"
    shutil.copytree(sample.shop_dir(), data)
    first = dc.run("default", sources=[str(data)], workspace=str(ws))
    again = dc.run("default", sources=[str(data)], workspace=str(ws))
    products = data / "products.csv"
    products.write_text(products.read_text().replace(",42.74", ",99999.99"), encoding="utf-8")
    changed = dc.run("default", sources=[str(data)], workspace=str(ws))
    fresh = dc.run("default", sources=[str(data)], workspace=str(tmp_path / "fresh"))

    def tables(run: dc.PipelineRun) -> tuple[int, int]:
        step = next(s for s in run.steps if s.name == "quality_assessment")
        return step.tables_computed, step.tables_cached

    def counts(run: dc.PipelineRun) -> dict:
        return {(r.table, r.check, r.columns): (r.failing_rows, r.total_rows)
                for t in run.results["quality_assessment"].tables.values() for r in t.results}

    assert (tables(first), tables(again)) == ((4, 0), (0, 4))
    # products, and order_items, whose orphan check reads products; not orders nor customers
    assert tables(changed) == (2, 2)
    assert counts(changed) == counts(fresh) != counts(first)


def test_context_carries_table_quality_and_a_summary(shop_run):
    run, _ = shop_run
    doc = run.context.model_dump(mode="json")
    customers = next(t for t in doc["tables"] if t["name"] == "customers")
    assert 0 < customers["quality"]["score"] < 1 and customers["quality"]["failed"] >= 2
    assert {"check", "rule_type", "table", "columns", "severity", "failing_rows", "total_rows", "examples",
            "sql", "parameters", "source", "ontology_file"} <= set(customers["quality"]["results"][0])
    quality = doc["quality"]
    assert 0 < quality["score"] < 1 and quality["checks"] > 10
    assert quality["top_issues"][0]["severity"] == "error" and quality["top_issues"][0]["check"] == "duplicate_key"
    assert {i["check"] for i in quality["top_issues"]} >= {"duplicate_key", "orphaned_reference", "cast_failure",
                                                          "null_tokens"}
    assert quality["table_scores"]["customers"] == customers["quality"]["score"]
    md = run.context.to_markdown()
    assert md.index("## Join paths") < md.index("## Time coverage") < md.index("## Quality") < md.index("## customers")
    section = md[md.index("## Quality"):md.index("## customers")]
    assert "**error** customers.customer_id: duplicate_key: 2 of 61 rows" in section
    assert "orders.customer_id: orphaned_reference: 1 of 200 rows" in section
    assert re.search(r"\nQuality 0\.\d\d: \d+ of \d+ checks not passed\.\n", md[md.index("## customers"):])


@pytest.mark.e2e
def test_benchmark_script_runs_on_a_small_table():
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
    proc = subprocess.run([sys.executable, str(script), "--rows", "3000", "--repeat", "1"],
                          check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^3,000 rows: \d+ checks in \d+\.\d+ s", proc.stdout, re.MULTILINE), proc.stdout
    assert "orders.order_id duplicate_key: 6 of 3,000 rows" in proc.stdout
