"""The concept matcher and the tokenisation under it: naming styles, abbreviations, table
prefixes, run-together names, values, types and statistics; deterministic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataraum_context.models import ColumnStatistics, ValueFrequency
from dataraum_context.ontology import Ontology, load_ontology, match_concepts, tokenize
from dataraum_context.ontology.tokens import parse_pattern, split_compound

SHIPPED = ["base", "financial_reporting", "retail", "marketing", "operations", "healthcare", "iot"]
FILLERS = ["qzx", "vvk", "jxq"]  # no word of any ontology, too short to be split


@cache
def ontology(name: str) -> Ontology:
    return load_ontology(name)


def top(onto: str, column: str, table: str | None = None, data_type: str | None = None) -> str:
    matches = match_concepts(column, table, data_type, None, None, ontology(onto))
    assert matches, column
    return matches[0].concept


# --- tokenisation --------------------------------------------------------------------------

words = st.lists(st.from_regex(r"[a-z]{2,8}|[0-9]{1,3}", fullmatch=True), min_size=1, max_size=5).filter(
    lambda ws: all(not (a.isdigit() and b.isdigit()) for a, b in pairwise(ws)))

STYLES = {
    "snake": lambda ws: "_".join(ws),
    "screaming": lambda ws: "_".join(ws).upper(),
    "kebab": lambda ws: "-".join(ws),
    "spaced": lambda ws: " ".join(ws),
    "title": lambda ws: " ".join(w.capitalize() for w in ws),
    "camel": lambda ws: ws[0] + "".join(w.capitalize() for w in ws[1:]),
    "pascal": lambda ws: "".join(w.capitalize() for w in ws),
    "dotted": lambda ws: ".".join(ws),
}


@settings(max_examples=50, deadline=None)
@given(words, st.sampled_from(sorted(STYLES)))
def test_every_naming_style_gives_the_same_words(ws: list[str], style: str):
    assert tokenize(STYLES[style](ws)) == tuple(ws)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="%#"), max_size=30))
def test_tokenize_loses_and_invents_nothing_and_is_idempotent(name: str):
    tokens = tokenize(name)
    assert all(t and t == t.lower() for t in tokens)
    expected = "".join(c for ch in name if ch.isalnum() for c in ch.lower() if c.isalnum())
    assert "".join(tokens) == expected
    assert tokenize("_".join(tokens)) == tokens


@pytest.mark.parametrize("name,expected", [
    ("InvoiceDate", ("invoice", "date")),
    ("HTTPStatusCode", ("http", "status", "code")),
    ("customerIDs", ("customer", "ids")),
    ("address2", ("address", "2")),
    ("ICD10CM", ("icd", "10", "cm")),
    ("Discount %", ("discount", "percent")),
    ("Order #", ("order", "number")),
    ("  __o_totalprice__ ", ("o", "totalprice")),
    ("Straße-Nr", ("straße", "nr")),
])
def test_tokenize_examples(name: str, expected: tuple[str, ...]):
    assert tokenize(name) == expected


def test_run_together_words_are_split_with_the_vocabulary():
    vocab = ontology("financial_reporting").vocabulary
    assert split_compound("glacct", vocab) == ("gl", "acct")
    assert split_compound("totalassets", vocab) == ("total", "assets")
    assert split_compound("balance", vocab) is None  # a word of its own
    assert split_compound("zzzz", vocab) is None


def test_patterns_match_whole_words_and_anchor_with_stars():
    assert parse_pattern("id").match(("paid", "amount")) is None
    assert parse_pattern("*_at").match(("created", "at")).head
    assert parse_pattern("*_at").match(("at", "risk")) is None
    assert parse_pattern("created*").match(("date", "created")) is None
    assert parse_pattern("unit price").match(("avg", "unit", "price")).coverage == pytest.approx(2 / 3)
    assert parse_pattern("orders").match(("order",))  # plurals fold on both sides


# --- the property: a name spelled from an indicator matches its concept --------------------


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for name in SHIPPED:
        o = ontology(name)
        cases += [(name, c.name, indicator) for c in o.concepts
                  if o.origin("concepts", c.name) == f"{name}.yaml" for indicator in c.indicators]
    return cases


def _spelled(pattern_text: str) -> list[str]:
    """An indicator's words with each `*` as a filler word."""
    out: list[str] = []
    for i, segment in enumerate(pattern_text.split("*")):
        if i:
            out.append(FILLERS[i % len(FILLERS)])
        out += list(tokenize(segment))
    return out


def _styles_for(ws: list[str]) -> list[str]:
    """camelCase cannot keep apart two numbers or two one-letter words (`pm2_5`, `s_h`)."""
    ambiguous = any((a.isdigit() and b.isdigit()) or (len(a) == 1 and len(b) == 1) for a, b in pairwise(ws))
    return [s for s in STYLES if not (ambiguous and s in ("camel", "pascal"))]


CASES = _cases()


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(CASES), st.sampled_from(sorted(STYLES)))
def test_a_name_built_from_an_indicator_in_any_style_matches_its_concept(case, style: str):
    onto, concept, indicator = case
    ws = _spelled(indicator)
    if style not in _styles_for(ws):
        style = "snake"
    column = STYLES[style](ws)
    found = [m.concept for m in match_concepts(column, None, None, None, None, ontology(onto))]
    assert concept in found, (onto, indicator, column, found[:5])


def test_every_indicator_of_every_shipped_ontology_matches_its_concept():
    """The exhaustive form of the property above, in snake_case: it keeps the YAML honest (an
    indicator that its own concept's exclude_patterns rule out is a bug)."""
    assert len(CASES) > 3000
    misses = []
    for onto, concept, indicator in CASES:
        column = "_".join(_spelled(indicator))
        if concept not in {m.concept for m in match_concepts(column, None, None, None, None, ontology(onto))}:
            misses.append((onto, concept, indicator))
    assert not misses


@settings(max_examples=40, deadline=None)
@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_ ]{0,24}", fullmatch=True), st.sampled_from(SHIPPED),
       st.sampled_from([None, "BIGINT", "VARCHAR", "DATE", "DECIMAL(18,2)", "BOOLEAN"]))
def test_matching_is_deterministic_bounded_and_sorted(column: str, onto: str, data_type: str | None):
    first = match_concepts(column, "some_table", data_type, None, None, ontology(onto))
    assert first == match_concepts(column, "some_table", data_type, None, None, ontology(onto))
    scores = [m.score for m in first]
    assert all(0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    assert all(m.evidence for m in first)


# --- realistic names -----------------------------------------------------------------------


@pytest.mark.parametrize("onto,table,column,data_type,expected", [
    # abbreviations people write
    ("base", "t", "qty", "BIGINT", "quantity"),
    ("base", "t", "total_amt", "DECIMAL(18,2)", "amount"),
    ("base", "t", "dob", "DATE", "birth_date"),
    ("base", "t", "cust_email", "VARCHAR", "email"),
    ("base", "t", "zip", "VARCHAR", "postal_code"),
    ("base", "t", "created_at", "TIMESTAMP", "created_time"),
    ("base", "t", "is_active", "BOOLEAN", "flag"),
    ("base", "t", "ccy", "VARCHAR", "currency"),
    ("retail", "t", "cust_id", "BIGINT", "customer_id"),
    ("retail", "t", "txn_id", "VARCHAR", "order_id"),
    ("retail", "t", "sku", "VARCHAR", "product_id"),
    ("retail", "t", "qoh", "BIGINT", "inventory_on_hand"),
    ("financial_reporting", "gl", "gl_acct", "VARCHAR", "account_number"),
    ("financial_reporting", "gl", "acct_bal", "DECIMAL(18,2)", "balance"),
    ("financial_reporting", "pl", "cogs", "DECIMAL(18,2)", "cogs"),
    ("financial_reporting", "pl", "OpEx", "DECIMAL(18,2)", "operating_expense"),
    ("financial_reporting", "bs", "ar_balance", "DECIMAL(18,2)", "accounts_receivable"),
    ("financial_reporting", "bs", "ap_amt", "DECIMAL(18,2)", "accounts_payable"),
    ("financial_reporting", "je", "dr_amt", "DECIMAL(18,2)", "debit"),
    ("financial_reporting", "je", "fiscal_per", "INTEGER", "fiscal_period"),
    ("financial_reporting", "bseg", "SHKZG", "VARCHAR", "debit_credit_indicator"),
    ("marketing", "ads", "ctr", "DOUBLE", "ctr"),
    ("marketing", "ads", "avg_cpc", "DOUBLE", "cpc"),
    ("marketing", "ads", "impr", "BIGINT", "impressions"),
    ("marketing", "ga", "sess", "BIGINT", "sessions"),
    ("marketing", "ga", "utm_source", "VARCHAR", "utm_source"),
    ("marketing", "ads", "metrics_cost_micros", "BIGINT", "cost_micros"),
    ("operations", "wo", "wo_id", "BIGINT", "work_order_id"),
    ("operations", "eq", "mtbf_hrs", "DOUBLE", "mtbf"),
    ("operations", "line", "oee_pct", "DOUBLE", "oee"),
    ("operations", "conf", "scrap_qty", "BIGINT", "scrap_count"),
    ("healthcare", "dx", "icd10_code", "VARCHAR", "diagnosis_code"),
    ("healthcare", "px", "cpt_code", "VARCHAR", "procedure_code"),
    ("healthcare", "enc", "npi", "VARCHAR", "provider_npi"),
    ("healthcare", "enc", "los", "INTEGER", "length_of_stay"),
    ("healthcare", "pt", "mrn", "VARCHAR", "patient_id"),
    ("healthcare", "admissions", "admittime", "TIMESTAMP", "admission_date"),
    ("healthcare", "claims", "ICD_DGNS_CD1", "VARCHAR", "diagnosis_code"),
    ("iot", "uplinks", "rssi", "DOUBLE", "rssi"),
    ("iot", "uplinks", "temp", "DOUBLE", "temperature"),
    ("iot", "uplinks", "hum", "DOUBLE", "humidity"),
    ("iot", "uplinks", "volt", "DOUBLE", "voltage"),
    ("iot", "uplinks", "f_cnt", "BIGINT", "message_counter"),
    ("iot", "uplinks", "dev_eui", "VARCHAR", "device_id"),
    # CamelCase (the UCI Online Retail set) and table-prefixed run-together names (TPC-H)
    ("retail", "online_retail", "InvoiceNo", "VARCHAR", "order_id"),
    ("retail", "online_retail", "StockCode", "VARCHAR", "product_id"),
    ("retail", "online_retail", "UnitPrice", "DOUBLE", "unit_price"),
    ("retail", "online_retail", "CustomerID", "BIGINT", "customer_id"),
    ("retail", "orders", "o_totalprice", "DECIMAL(15,2)", "order_total"),
    ("retail", "orders", "o_orderdate", "DATE", "order_date"),
    ("retail", "orders", "o_custkey", "BIGINT", "customer_id"),
    ("retail", "lineitem", "l_extendedprice", "DECIMAL(15,2)", "line_total"),
    ("retail", "lineitem", "l_shipdate", "DATE", "ship_date"),
    ("retail", "lineitem", "l_commitdate", "DATE", "promised_date"),
    ("retail", "partsupp", "ps_supplycost", "DECIMAL(15,2)", "unit_cost"),
    ("retail", "partsupp", "ps_availqty", "INTEGER", "inventory_on_hand"),
    ("retail", "customer", "c_mktsegment", "VARCHAR", "customer_segment"),
    ("financial_reporting", "customer", "c_acctbal", "DECIMAL(15,2)", "balance"),
    ("retail", "products", "UnitsInStock", "SMALLINT", "inventory_on_hand"),
    ("retail", "products", "ReorderLevel", "SMALLINT", "reorder_point"),
])
def test_realistic_column_names(onto: str, table: str, column: str, data_type: str, expected: str):
    assert top(onto, column, table, data_type) == expected


def test_evidence_says_how_the_name_was_read():
    (m, *_rest) = match_concepts("l_linestatus", "lineitem", "VARCHAR", None, None, ontology("retail"))
    assert m.concept == "status" and m.score == 0.8
    assert m.evidence == ("l_ is the table's prefix (lineitem)", "'linestatus' read as line + status",
                          "name 'l_linestatus' matches 'status'", "type VARCHAR fits role dimension")


def test_a_generic_name_is_read_with_its_table():
    matches = {m.concept: m for m in match_concepts("id", "customers", "BIGINT", None, None, ontology("retail"))}
    assert matches["identifier"].score == 1.0
    assert matches["customer_id"].score == pytest.approx(0.9)
    assert any("in table 'customers'" in e for e in matches["customer_id"].evidence)


def test_a_more_specific_file_wins_a_tie():
    matches = match_concepts("UnitPrice", None, None, None, None, ontology("retail"))
    assert [m.concept for m in matches[:2]] == ["unit_price", "price"]
    assert matches[0].score == matches[1].score == 1.0


def test_exclude_patterns_rule_a_concept_out():
    found = {m.concept for m in match_concepts("email_opt_in", None, "BOOLEAN", None, None, ontology("base"))}
    assert "email" not in found and "flag" in found


# --- values, types, statistics -------------------------------------------------------------


def stats(**kw) -> ColumnStatistics:
    base = {"name": "c", "data_type": "DOUBLE", "count": 100, "null_count": 0, "null_ratio": 0.0,
            "distinct_count": 100, "distinct_approximate": False, "uniqueness": 1.0}
    return ColumnStatistics(**{**base, **kw})


def test_values_alone_point_to_a_concept():
    values = ["ann@example.com", "bob@example.org", "cy@mail.co.uk", "not an email"]
    (m, *_rest) = match_concepts("col_7", "t", "VARCHAR", None, values, ontology("base"))
    assert m.concept == "email" and m.score == pytest.approx(0.8 * 0.75)
    assert m.evidence == ("75% of values match its value pattern",)


def test_top_values_stand_in_for_a_sample():
    st_ = stats(data_type="VARCHAR",
                top_values=(ValueFrequency(value="USD", count=90), ValueFrequency(value="EUR", count=10)))
    (m, *_rest) = match_concepts("c3", "t", "VARCHAR", st_, None, ontology("base"))
    assert m.concept == "currency" and m.evidence[0] == "100% of values are typical values"


def test_typical_values_confirm_or_weaken_a_name():
    onto = ontology("base")
    statuses = ["open", "closed", "pending", "open"]
    confirmed = {m.concept: m.score for m in match_concepts("state", "t", "VARCHAR", None, statuses, onto)}
    assert confirmed["status"] == 1.0 and confirmed["state_province"] < confirmed["status"]
    states = ["CA", "NY", "TX", "WA"]
    read = {m.concept: m.score for m in match_concepts("state", "t", "VARCHAR", None, states, onto)}
    assert read["state_province"] == 1.0 and read["status"] < 1.0


def test_a_contradicting_type_lowers_the_score():
    onto = ontology("base")
    typed = match_concepts("amount", "t", "DECIMAL(18,2)", None, None, onto)[0]
    text = match_concepts("amount", "t", "VARCHAR", None, None, onto)[0]
    assert typed.concept == text.concept == "amount"
    assert typed.score == 1.0 and text.score == pytest.approx(0.6)
    assert "type VARCHAR contradicts role measure" in text.evidence


def test_statistics_adjust_keys_and_shares():
    onto = ontology("base")
    unique = match_concepts("row_ref", "t", "BIGINT", stats(data_type="BIGINT"), None, onto)[0]
    plain = match_concepts("row_ref", "t", "BIGINT", None, None, onto)[0]
    assert unique.concept == "identifier" and unique.score > plain.score
    assert "unique and never null" in unique.evidence
    share = match_concepts("share", "t", "DOUBLE", stats(min=0.0, max=0.93), None, onto)[0]
    assert share.concept == "percentage" and "values within 0..100" in share.evidence
    wild = match_concepts("share", "t", "DOUBLE", stats(min=-5.0, max=4200.0), None, onto)[0]
    assert wild.score < share.score and "values -5..4200 are not a share" in wild.evidence


def test_value_patterns_describe_text_not_typed_columns():
    onto = ontology("base")
    phones = ["(555) 123-4567", "+44 20 7946 0958", "555-867-5309"]
    assert match_concepts("c1", "t", "VARCHAR", None, phones, onto)[0].concept == "phone"
    amounts = ["12.50", "1234.567", "99.99"]
    assert "phone" not in {m.concept for m in match_concepts("c1", "t", "VARCHAR", None, amounts, onto)}
    assert match_concepts("c1", "t", "DOUBLE", None, ["5551234567", "4155552671"], onto) == []


def test_yes_no_values_alone_point_to_no_concept():
    onto = ontology("healthcare")
    assert match_concepts("c2", "t", "BOOLEAN", None, ["true", "false", "true"], onto) == []
    (m, *_rest) = match_concepts("readmit", "t", "BOOLEAN", None, ["true", "false", "true"], onto)
    assert m.concept == "readmission_flag" and "100% of values are typical values" in m.evidence


def test_a_backtracking_value_pattern_runs_in_linear_time(tmp_path):
    """`(a+)+$` backtracks exponentially on a long value that does not match; value patterns run
    on RE2. In a subprocess, so that a regression fails the test instead of hanging it."""
    path = tmp_path / "runaway.yaml"
    path.write_text("name: runaway\nconcepts:\n  - {name: a_run, value_pattern: '(a+)+$'}\n", encoding="utf-8")
    code = textwrap.dedent(f"""
        import time
        from dataraum_context.ontology import load_ontology_file, match_concepts
        onto = load_ontology_file({str(path)!r})
        start = time.perf_counter()
        missed = match_concepts("c1", "t", "VARCHAR", None, ["a" * 100_000 + "!"] * 3, onto)
        print(time.perf_counter() - start)
        found = match_concepts("c1", "t", "VARCHAR", None, ["aaa"] * 3, onto)
        print([m.concept for m in missed], [m.concept for m in found])
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    seconds, concepts = run.stdout.splitlines()
    assert float(seconds) < 0.25
    assert concepts == "[] ['a_run']"  # the pattern still matches what it should
