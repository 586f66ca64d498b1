"""Ontologies: the shipped ones, `extends:` resolution, every loading error with its message,
the search path (configuration, environment, entry points), the `ontology` step and the CLI."""

from __future__ import annotations

import json
import os
import pickle
import re
import textwrap
import warnings
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest
import yaml
from hamilton.caching.fingerprinting import hash_value

import dataraum_context as dc
from dataraum_context import plugins
from dataraum_context.errors import ConfigError
from dataraum_context.ontology import (
    ENV_PATH,
    Ontology,
    OntologyFile,
    find_ontologies,
    load_ontology,
    load_ontology_file,
    match_concepts,
)
from dataraum_context.ontology.models import SECTIONS

from conftest import cli
from support.venvs import on_path

SHIPPED = ["base", "financial_reporting", "retail", "marketing", "operations", "healthcare", "iot"]


def onto(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def names(entries) -> list[str]:
    return [getattr(e, "name", None) or e.pattern for e in entries]


# --- the shipped ontologies ----------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_ontology_validates_and_is_substantial(name: str):
    o = load_ontology(name)
    own = [c for c in o.concepts if o.origin("concepts", c.name) == f"{name}.yaml"]
    assert len(own) >= 35, (name, len(own))
    assert all(c.indicators and c.description for c in own)
    if name != "base":
        assert o.extends == ("base",) and [Path(f).name for f in o.files] == ["base.yaml", f"{name}.yaml"]
        mine = {s: [e for e in getattr(o, s) if o.origin(s, getattr(e, k)) == f"{name}.yaml"]
                for s, k in SECTIONS.items()}
        assert len(mine["metrics"]) >= 3 and len(mine["quality_rules"]) >= 3
        assert len(mine["suggested_queries"]) >= 3 and mine["semantic_hints"]
    for metric in o.metrics:  # derived from the formula when not written
        assert metric.required_concepts and set(metric.required_concepts) <= {c.name for c in o.concepts}


def test_builtins_are_found_with_their_provider():
    found = find_ontologies()
    assert set(SHIPPED) <= set(found)
    assert all(found[n].provider == "built-in" for n in SHIPPED)


def test_the_financial_ontology_has_the_statements_metrics_and_rules_of_the_issue():
    o = load_ontology("financial_reporting")
    concepts = {c.name for c in o.concepts}
    assert {"revenue", "cogs", "operating_expense", "total_assets", "total_liabilities", "equity",
            "account_number", "debit", "credit", "balance", "fiscal_period"} <= concepts
    metrics = {m.name: m for m in o.metrics}
    assert {"gross_margin", "net_income", "ebitda", "current_ratio", "days_sales_outstanding"} <= set(metrics)
    # required concepts are derived through the metrics a formula uses
    assert set(metrics["net_margin"].required_concepts) >= {"revenue", "cogs", "interest_expense", "tax_expense"}
    rules = {r.name for r in o.quality_rules}
    assert {"balance_sheet_balances", "debits_equal_credits", "revenue_non_negative",
            "fiscal_period_completeness"} <= rules


def test_a_resolved_ontology_pickles_serialises_and_fingerprints_stably():
    a, b = load_ontology("retail"), load_ontology("retail")
    before = match_concepts("cust_email", "t", "VARCHAR", None, ["a@b.co"], a)  # fills a's caches
    assert pickle.loads(pickle.dumps(a)) == a
    assert match_concepts("cust_email", "t", "VARCHAR", None, ["a@b.co"], pickle.loads(pickle.dumps(a))) == before
    assert Ontology.model_validate_json(a.model_dump_json()) == a
    assert hash_value(a) == hash_value(b)
    assert hash_value(a) != hash_value(load_ontology("marketing"))


# --- extends: ------------------------------------------------------------------------------


def test_single_inheritance_child_overrides_in_place_and_appends(tmp_path: Path):
    onto(tmp_path, "parent", """\
        concepts:
          - {name: x, indicators: [x], typical_role: measure}
          - {name: y, indicators: [y]}
        metrics:
          - {name: total_x, formula: SUM(x)}
        """)
    child = onto(tmp_path, "child", """\
        extends: parent
        concepts:
          - {name: z, indicators: [z]}
          - {name: x, indicators: [xx], typical_role: dimension}
        metrics:
          - {name: avg_x, formula: AVG(x)}
        """)
    o = load_ontology_file(child)
    assert names(o.concepts) == ["x", "y", "z"]
    assert o.concept("x").indicators == ("xx",) and o.concept("x").typical_role.value == "dimension"
    assert o.origin("concepts", "x") == "child.yaml" and o.origin("concepts", "y") == "parent.yaml"
    assert names(o.metrics) == ["total_x", "avg_x"]
    assert o.name == "child" and o.extends == ("parent",)
    assert [Path(f).name for f in o.files] == ["parent.yaml", "child.yaml"]


def test_multiple_parents_resolve_left_to_right(tmp_path: Path):
    onto(tmp_path, "left", "concepts:\n  - {name: shared, indicators: [l]}\n  - {name: only_left, indicators: [ol]}\n")
    onto(tmp_path, "right",
         "concepts:\n  - {name: shared, indicators: [r]}\n  - {name: only_right, indicators: [or]}\n")
    onto(tmp_path, "child", "extends: [left, right]\n")
    o = load_ontology("child", [tmp_path])
    assert names(o.concepts) == ["shared", "only_left", "only_right"]
    assert o.concept("shared").indicators == ("r",) and o.origin("concepts", "shared") == "right.yaml"


def test_diamond_merges_the_shared_base_once_and_keeps_the_left_override(tmp_path: Path):
    onto(tmp_path, "root", """\
        concepts:
          - {name: c, indicators: [root_c]}
        quality_rules:
          - {name: c_present, applies_to: c, rule_type: not_null}
        """)
    onto(tmp_path, "left", "extends: root\nconcepts:\n  - {name: c, indicators: [left_c]}\n")
    onto(tmp_path, "right", "extends: root\nconcepts:\n  - {name: r, indicators: [r]}\n")
    onto(tmp_path, "bottom", "extends: [left, right]\n")
    o = load_ontology("bottom", [tmp_path])
    assert [Path(f).name for f in o.files] == ["root.yaml", "left.yaml", "right.yaml", "bottom.yaml"]
    # right inherits root's c unchanged; that must not undo left's override
    assert o.concept("c").indicators == ("left_c",) and o.origin("concepts", "c") == "left.yaml"
    assert names(o.quality_rules) == ["c_present"]


def test_every_section_merges_by_name(tmp_path: Path):
    onto(tmp_path, "p", """\
        concepts: [{name: a, indicators: [a]}, {name: b, indicators: [b]}]
        metrics: [{name: m1, formula: SUM(a)}, {name: m2, formula: SUM(b)}]
        quality_rules: [{name: q1, applies_to: a, rule_type: unique}]
        semantic_hints: [{pattern: "*_a", likely_role: measure}]
        suggested_queries: [{name: s1, sql: "SELECT {a} FROM {a.table}"}]
        """)
    c = onto(tmp_path, "c", """\
        extends: p
        metrics: [{name: m1, formula: AVG(a)}, {name: m3, formula: m1 + m2}]
        quality_rules: [{name: q2, applies_to: "*_b", rule_type: not_null}]
        semantic_hints: [{pattern: "*_a", likely_role: dimension, likely_concept: a}]
        suggested_queries: [{name: s1, sql: "SELECT {b} FROM {b.table}", complexity: moderate}]
        """)
    o = load_ontology_file(c)
    assert names(o.metrics) == ["m1", "m2", "m3"] and o.metrics[0].formula == "AVG(a)"
    assert o.metrics[2].required_concepts == ("a", "b")
    assert names(o.quality_rules) == ["q1", "q2"]
    assert o.semantic_hints[0].likely_role.value == "dimension" and o.origin("semantic_hints", "*_a") == "c.yaml"
    assert o.suggested_queries[0].sql.startswith("SELECT {b}")


# --- errors --------------------------------------------------------------------------------


ERRORS = [
    # (file body without the name line, message)
    ("concepts:\n  - {name: a}\n  - {name: b}\n  - {name: c}\n  - name: d\n    typical_role: mesure\n",
     r"shop\.yaml:7: concepts\[3\]\.typical_role: 'mesure' is not one of key, foreign_key, measure, "
     r"dimension, timestamp, attribute$"),
    ("concepts:\n  - name: a\n    indicatorz: [a]\n",
     r"shop\.yaml:4: concepts\[0\]\.indicatorz: unknown key \(valid keys: name, description, indicators, "),
    ("colour: red\n", r"shop\.yaml:2: colour: unknown key \(valid keys: name, version, description, extends, concepts"),
    ("concepts:\n  - {name: a}\n  - {name: b}\n  - {name: a}\n",
     r"shop\.yaml:5: concepts\[2\]\.name: 'a' is defined twice in this file \(also concepts\[0\]\)"),
    ("concepts:\n  - {name: a, typical_values: [yes, no]}\n",
     r"concepts\[0\]\.typical_values\[0\]: True is not text; quote it"),
    ("concepts:\n  - {name: a, indicators: ['*']}\n", r"concepts\[0\]\.indicators\[0\]: '\*' has no words to match"),
    ("concepts:\n  - {name: a, value_pattern: '[a-'}\n",
     r"concepts\[0\]\.value_pattern: not a valid regular expression"),
    # patterns run on RE2 (linear time): what needs backtracking is refused, saying why
    ("concepts:\n  - {name: a}\n  - {name: b, value_pattern: '(?!x)[a-z]+'}\n",
     r"shop\.yaml:4: concepts\[1\]\.value_pattern: not a valid regular expression for RE2: invalid perl "
     r"operator: \(\?! \(patterns run on RE2, in time linear in the value's length and at most 8 MiB of memory "
     r"per pattern; backreferences and lookaround need backtracking and are not supported\)$"),
    ("concepts:\n  - {name: a}\nquality_rules:\n"
     "  - {name: q, applies_to: a, rule_type: regex, parameters: {pattern: '(a)\\1'}}\n",
     r"shop\.yaml:5: quality_rules\[0\]\.parameters\.pattern: not a valid regular expression for RE2: "
     r"invalid escape sequence: \\1 .*backreferences and lookaround"),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: m, formula: SUM(a) / b}\n",
     r"shop\.yaml:5: metrics\[0\]\.formula: 'b' is neither a concept nor a metric of this ontology"),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: m, formula: MEDIAN(a)}\n",
     r"metrics\[0\]\.formula: unknown function 'MEDIAN' \(known: ABS, AVG, "),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: m, formula: (SUM(a) / 2}\n",
     r"metrics\[0\]\.formula: incomplete: unclosed '\('"),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: m, formula: a +}\n",
     r"metrics\[0\]\.formula: incomplete: ends with an operator"),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: m, formula: n}\n  - {name: n, formula: m}\n",
     r"metrics\[0\]\.formula: metric 'm' is defined through itself: m -> n -> m"),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: a, formula: SUM(a)}\n",
     r"metrics\[0\]\.name: 'a' is also a concept"),
    ("concepts:\n  - {name: a}\nmetrics:\n  - {name: m, formula: SUM(a), required_concepts: [a, z]}\n",
     r"metrics\[0\]\.required_concepts\[1\]: 'z' is not a concept of this ontology"),
    ("concepts:\n  - {name: a}\nquality_rules:\n  - {name: q, applies_to: [a, revnue], rule_type: not_null}\n",
     r"quality_rules\[0\]\.applies_to\[1\]: 'revnue' is neither a concept of this ontology nor a name pattern"),
    ("concepts:\n  - {name: a}\nquality_rules:\n  - {name: q, applies_to: a, rule_type: range}\n",
     r"quality_rules\[0\]\.parameters: a range needs min, max or both \(for rule_type range\)"),
    ("concepts:\n  - {name: a}\nquality_rules:\n"
     "  - {name: q, applies_to: a, rule_type: range, parameters: {min: 0, tolerence: 1}}\n",
     r"quality_rules\[0\]\.parameters\.tolerence: unknown key \(valid keys: threshold, min, max, inclusive\)"),
    ("concepts:\n  - {name: a}\nquality_rules:\n"
     "  - {name: q, applies_to: a, rule_type: temporal_completeness, parameters: {grain: fortnight}}\n",
     r"quality_rules\[0\]\.parameters\.grain: 'fortnight' is not one of minute, hour, day, week, month, "
     r"quarter, year"),
    ("concepts:\n  - {name: a}\nquality_rules:\n"
     "  - {name: q, applies_to: a, rule_type: cross_column, expression: '{a} > {b}'}\n",
     r"quality_rules\[0\]\.expression: \{b\} is not \{concept\} or \{concept\.table\}"),
    ("concepts:\n  - {name: a}\nquality_rules:\n  - {name: q, applies_to: a, rule_type: cross_column}\n",
     r"quality_rules\[0\]\.expression: a cross_column rule needs an expression"),
    ("concepts:\n  - {name: a}\nquality_rules:\n"
     "  - {name: q, applies_to: a, rule_type: monotonic, parameters: {order_by: t}}\n",
     r"quality_rules\[0\]\.parameters\.order_by: 't' is not a concept of this ontology"),
    ("concepts:\n  - {name: a}\nquality_rules:\n  - {name: q, applies_to: a, rule_type: unique, severity: fatal}\n",
     r"quality_rules\[0\]\.severity: 'fatal' is not one of info, warning, error"),
    ("semantic_hints:\n  - {pattern: '*_x', likely_concept: nope}\n",
     r"semantic_hints\[0\]\.likely_concept: 'nope' is not a concept of this ontology"),
    ("semantic_hints:\n  - {pattern: '*_x', likely_type: NUMBER}\n",
     r"semantic_hints\[0\]\.likely_type: 'NUMBER' is not one of BOOLEAN, TINYINT"),
    ("concepts:\n  - {name: a}\nsuggested_queries:\n  - {name: s, sql: 'SELECT {a.column} FROM {a.table}'}\n",
     r"suggested_queries\[0\]\.sql: \{a\.column\} is not \{concept\} or \{concept\.table\}"),
    ("concepts:\n  - {name: a\n", r"shop\.yaml:\d+: not valid YAML"),
    ("extends: nope\n", r"shop\.yaml:2: extends: no ontology 'nope' \(available: .*base"),
    ("extends: shop\n", r"shop\.yaml:2: extends: 'shop' makes a cycle: shop -> shop$"),
]


@pytest.mark.parametrize("body,message", ERRORS, ids=[m[:40] for _b, m in ERRORS])
def test_mistakes_are_errors_naming_file_line_and_path(tmp_path: Path, body: str, message: str):
    path = onto(tmp_path, "shop", body)
    with pytest.raises(ConfigError, match=message):
        load_ontology_file(path)


def test_a_cycle_through_two_files_names_the_chain(tmp_path: Path):
    onto(tmp_path, "a", "extends: b\n")
    onto(tmp_path, "b", "extends: [base, a]\n")
    with pytest.raises(ConfigError, match=r"b\.yaml:2: extends\[1\]: 'a' makes a cycle: a -> b -> a"):
        load_ontology("a", [tmp_path])


def test_an_error_in_a_parent_names_the_parent_file(tmp_path: Path):
    onto(tmp_path, "parent", "concepts:\n  - {name: a, typical_role: keey}\n")
    child = onto(tmp_path, "child", "extends: parent\n")
    with pytest.raises(ConfigError, match=r"parent\.yaml:3: concepts\[0\]\.typical_role: 'keey'"):
        load_ontology_file(child)


def test_the_name_must_match_the_file(tmp_path: Path):
    path = tmp_path / "shop.yaml"
    path.write_text("name: store\n")
    with pytest.raises(ConfigError, match=r"shop\.yaml:1: name: 'store' does not match the file name"):
        load_ontology_file(path)


def test_unknown_ontology_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"unknown ontology 'retial' \(available: base, .*retail"):
        load_ontology("retial")


def test_the_documented_examples_validate(tmp_path: Path):
    text = (Path(__file__).parents[1] / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text.split("\n## Ontologies", 1)[1], re.S)
    assert [b.split(":", 1)[0] for b in blocks] == list(SECTIONS)
    o = load_ontology_file(onto(tmp_path, "documented", "extends: financial_reporting\n" + "".join(blocks)))
    assert o.origin("concepts", "unit_price") == "documented.yaml"
    assert o.origin("metrics", "gross_margin") == "documented.yaml"
    assert o.semantic_hints[[h.pattern for h in o.semantic_hints].index("*_amt")].likely_concept == "amount"


# --- where ontologies are found ------------------------------------------------------------


def test_configured_directories_come_first_and_shadow_builtins(tmp_path: Path):
    onto(tmp_path, "retail", "extends: base\nconcepts:\n  - {name: till_id, indicators: [till]}\n")
    found = find_ontologies([tmp_path])
    assert found["retail"].provider == str(tmp_path) and "built-in" in found["retail"].shadows
    o = load_ontology("retail", [tmp_path])
    assert "till_id" in names(o.concepts) and "order_id" not in names(o.concepts)
    with pytest.raises(ConfigError, match=r"ontology_paths: .*nowhere: no such directory"):
        load_ontology("retail", [tmp_path / "nowhere"])


def test_the_environment_variable_adds_directories(tmp_path: Path, monkeypatch):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir(), second.mkdir()
    onto(first, "warehouse", "extends: operations\nconcepts:\n  - {name: dock_door, indicators: [dock door]}\n")
    onto(second, "warehouse", "concepts: []\n")  # hidden by the first directory
    onto(second, "fleet", "extends: [iot, operations]\n")
    monkeypatch.setenv(ENV_PATH, f"{first}{os.pathsep}{second}")
    found = find_ontologies()
    assert found["warehouse"].provider == f"{first} ({ENV_PATH})"
    assert found["fleet"].provider == f"{second} ({ENV_PATH})"
    assert "dock_door" in names(load_ontology("warehouse").concepts)
    fleet = load_ontology("fleet")
    assert [Path(f).name for f in fleet.files] == ["base.yaml", "iot.yaml", "operations.yaml", "fleet.yaml"]
    assert fleet.origin("concepts", "rssi") == "iot.yaml" and fleet.origin("concepts", "oee") == "operations.yaml"
    assert fleet.origin("concepts", "identifier") == "base.yaml"
    monkeypatch.setenv(ENV_PATH, str(tmp_path / "gone"))
    with pytest.raises(ConfigError, match=f"{ENV_PATH}: .*gone: no such directory"):
        find_ontologies()


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory: pytest.TempPathFactory):
    """plugins/dataraum-ontology-example, really installed by pip into a directory on sys.path,
    where importlib.metadata finds its entry point like any installed distribution's."""
    yield from on_path("dataraum-ontology-example", tmp_path_factory)


@pytest.mark.e2e
def test_a_third_party_ontology_is_discovered_through_its_entry_point(example_plugin: Path):
    assert distribution("dataraum-ontology-example").version == "0.1.0"
    (ep,) = [e for e in entry_points(group=plugins.ONTOLOGIES) if e.name == "example"]
    assert ep.value == "dataraum_ontology_example"
    assert (plugins.ontology_dirs()["example"] / "subscription_commerce.yaml").is_file()
    assert find_ontologies()["subscription_commerce"].provider == "plugin example"

    o = load_ontology("subscription_commerce")
    assert [Path(f).name for f in o.files] == ["base.yaml", "retail.yaml", "subscription_commerce.yaml"]
    assert o.origin("concepts", "channel") == "subscription_commerce.yaml"  # overrides retail's
    assert o.origin("concepts", "order_id") == "retail.yaml"
    assert "app store" in o.concept("channel").typical_values
    assert match_concepts("current_period_end", "subscriptions", "TIMESTAMP", None, None, o)[0].concept \
        == "current_period_end"


@pytest.mark.e2e
def test_a_broken_plugin_is_reported_and_the_others_still_load(tmp_path: Path, monkeypatch, example_plugin: Path):
    """A real distribution on sys.path: one entry point imports nothing, one names a path; the
    example plugin (installed by pip) still loads."""
    folder = tmp_path / "extra_ontologies"
    folder.mkdir()
    onto(folder, "parking", "extends: iot\nconcepts:\n  - {name: bay_id, indicators: [bay, bay id]}\n")
    (tmp_path / "parking_paths.py").write_text(f"FOLDER = {str(folder)!r}\n")
    info = tmp_path / "dataraum_broken_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dataraum-broken-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[dataraum.ontologies]\nbroken = no_such_module_for_dataraum\nparking = parking_paths:FOLDER\n"
        "notadir = parking_paths\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dirs = plugins.ontology_dirs()
        parking = load_ontology("parking")
    messages = [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)]
    assert any("'broken'" in m and "failed to load" in m for m in messages)
    assert any("'notadir'" in m and "does not point at a directory" in m for m in messages)
    assert dirs["parking"] == folder and "example" in dirs
    assert "bay_id" in names(parking.concepts)


# --- the step and the pipeline -------------------------------------------------------------


def test_the_ontology_step_follows_the_pipeline_key_and_overrides(tmp_path: Path):
    assert dc.driver("financial", cache=False).execute(["ontology"])["ontology"].name == "financial_reporting"
    assert dc.driver("default", cache=False).execute(["ontology"])["ontology"].name == "base"
    dr = dc.driver("default", cache=False, ontology="healthcare")
    assert dr.execute(["ontology"])["ontology"].label == "healthcare 1.0.0"
    onto(tmp_path, "clinic", "extends: healthcare\n")
    dr = dc.driver("default", cache=False, ontology="clinic", ontology_paths=[str(tmp_path)])
    assert dr.execute(["ontology"])["ontology"].files[-1] == str(tmp_path / "clinic.yaml")


@pytest.mark.e2e
def test_the_context_names_the_ontology_and_an_edited_file_takes_effect(shop: Path, tmp_path: Path):
    folder = tmp_path / "ontologies"
    folder.mkdir()
    onto(folder, "shop", 'version: "1.0"\nextends: retail\n')
    run = dc.run("default", sources=[str(shop)], workspace=str(tmp_path / "ws"), ontology="shop",
                 ontology_paths=[str(folder)])
    assert run.succeeded and run.context.ontology == "shop 1.0"
    assert "; ontology shop 1.0," in run.context.to_markdown().splitlines()[0]
    assert json.loads(run.context.to_json())["ontology"] == "shop 1.0"
    onto(folder, "shop", 'version: "1.1"\nextends: retail\n')  # cached run, edited ontology
    again = dc.run("default", sources=[str(shop)], workspace=str(tmp_path / "ws"), ontology="shop",
                   ontology_paths=[str(folder)])
    assert again.context.ontology == "shop 1.1"
    assert {s.name: s.status for s in again.steps}["staging"] == "cached"


def test_an_unknown_ontology_fails_its_step_with_the_reason(shop: Path, tmp_path: Path):
    run = dc.run("default", sources=[str(shop)], workspace=str(tmp_path / "ws"), ontology="nope")
    (failed,) = run.failed_steps
    assert not run.succeeded and failed.name == "ontology" and "unknown ontology 'nope'" in failed.error
    assert run.context is not None and run.context.ontology is None


# --- the command line ----------------------------------------------------------------------


@pytest.mark.e2e
def test_cli_list_names_every_ontology_with_its_provider(example_plugin: Path):
    result = cli("ontology", "list")
    assert result.code == 0, result.err
    lines = {line.split()[0]: line for line in result.out.splitlines()}
    assert set(SHIPPED) | {"subscription_commerce"} <= set(lines)
    assert "extends retail" in lines["subscription_commerce"] and "plugin example" in lines["subscription_commerce"]
    assert "built-in" in lines["healthcare"] and "extends base" in lines["healthcare"]


def test_cli_show_marks_every_entry_with_its_file():
    result = cli("ontology", "show", "retail")
    assert result.code == 0, result.err
    o = load_ontology("retail")
    entries = [line for line in result.out.splitlines() if line.startswith("- ")]
    assert len(entries) == sum(len(getattr(o, s)) for s in SECTIONS)
    assert all(line.endswith(("  # base.yaml", "  # retail.yaml")) for line in entries)
    assert "- name: customer_id  # retail.yaml" in entries and "- name: identifier  # base.yaml" in entries
    # the output is the resolved ontology as YAML
    shown = OntologyFile.model_validate({**yaml.safe_load(result.out), "extends": ()})
    assert all(getattr(shown, s) == getattr(o, s) for s in SECTIONS)


def test_cli_validate_exit_codes_and_parents_beside_the_file(tmp_path: Path):
    good = onto(tmp_path, "shop", "extends: retail\nconcepts:\n  - {name: till_id, indicators: [till]}\n")
    result = cli("ontology", "validate", str(good))
    assert result.code == 0 and result.err == ""
    (line,) = result.out.splitlines()
    assert line.startswith(f"{good}: valid ontology shop 1.0.0 (extends retail, 3 file(s) merged: ")
    # the bound the ontology's regular expressions run with (base's value patterns among them)
    assert re.search(r"; \d+ regular expression\(s\), run on RE2, in time linear in the value's length "
                     r"and at most 8 MiB of memory per pattern\)$", line)

    onto(tmp_path, "base", "concepts:\n  - {name: local_only, indicators: [local]}\n")  # beside the file
    (line,) = cli("ontology", "validate", str(good)).out.splitlines()
    assert load_ontology_file(good).concepts[0].name == "local_only"
    assert "3 file(s) merged" in line

    bad = onto(tmp_path, "broken", "extends: retail\nconcepts:\n  - {name: x, typical_role: mesure}\n")
    result = cli("ontology", "validate", str(bad))
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert "broken.yaml:4: concepts[0].typical_role: 'mesure' is not one of key" in line
    for args in (("validate", str(tmp_path / "missing.yaml")), ("show", "nope"), ("frobnicate",)):
        result = cli("ontology", *args)
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1, (args, result)


@pytest.mark.e2e
def test_cli_run_with_ontology(shop: Path, tmp_path: Path):
    out = tmp_path / "ctx.json"
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--ontology", "iot", "--out", str(out))
    assert result.code == 0, result.err
    assert json.loads(out.read_text())["ontology"] == "iot 1.0.0"
    result = cli("run", str(shop), "--workspace", str(tmp_path / "ws"), "--ontology", "nope")
    assert result.code == 2 and "unknown ontology 'nope'" in result.err
    assert len(result.err.strip().splitlines()) == 1
