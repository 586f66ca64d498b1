"""The four checks in a real pipeline over real files: a journal with an unbalanced entry, a
month without postings and a liability on the debit side; a trial balance with a period that
does not sum to zero."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import dataraum_context as dc

MODULES = ("[staging, schema_profiling, type_resolution, statistics, topology, temporal, ontology, semantic, "
           "context, quality_financial]")
STEPS = ("double_entry_balance", "period_close_completeness", "sign_conventions", "trial_balance")


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("books")
    con = duckdb.connect()
    # an entry every three days of 2024 but none in May; even entries are sales (cash against
    # revenue), odd ones expenses (expense against cash); JE0007 credits 10 less than it debits;
    # JE9000 books a liability on the debit side
    con.execute(f"""COPY (
        WITH kept AS (SELECT i AS e, DATE '2024-01-03' + (i * 3)::INT AS d FROM range(120) t(i)
                      WHERE month(DATE '2024-01-03' + (i * 3)::INT) <> 5)
        SELECT * FROM (
          SELECT 'JE' || lpad(e::VARCHAR, 4, '0') AS journal_entry_id, 1 AS line_number, d AS posting_date,
                 CASE WHEN e % 2 = 0 THEN 1000 ELSE 6000 END AS account_number,
                 CASE WHEN e % 2 = 0 THEN 'Asset' ELSE 'Expense' END AS account_type,
                 CASE WHEN e % 2 = 0 THEN 500.0 ELSE 200.0 END AS debit, 0.0 AS credit FROM kept
          UNION ALL
          SELECT 'JE' || lpad(e::VARCHAR, 4, '0'), 2, d, CASE WHEN e % 2 = 0 THEN 4000 ELSE 1000 END,
                 CASE WHEN e % 2 = 0 THEN 'Revenue' ELSE 'Asset' END, 0.0,
                 CASE WHEN e % 2 = 0 THEN 500.0 ELSE 200.0 END - CASE WHEN e = 7 THEN 10 ELSE 0 END FROM kept
          UNION ALL SELECT 'JE9000', 1, DATE '2024-06-30', 2100, 'Liability', 50.0, 0.0
          UNION ALL SELECT 'JE9000', 2, DATE '2024-06-30', 4000, 'Revenue', 0.0, 50.0
        ) ORDER BY 1, 2) TO '{folder / "journal.csv"}' (HEADER)""")
    # five accounts over twelve periods, signed (debits positive); period 3 is 10 off
    con.execute(f"""COPY (
        SELECT a.account_number, a.account_type, 2024 AS fiscal_year, p AS fiscal_period,
               a.sign * 100.0 * p + CASE WHEN p = 3 AND a.account_number = 1000 THEN 10 ELSE 0 END AS balance
        FROM range(1, 13) t(p),
             (VALUES (1000, 'Asset', 1), (2000, 'Liability', -0.25), (3000, 'Equity', -0.25), (4000, 'Revenue', -1),
                     (6000, 'Expense', 0.5)) a(account_number, account_type, sign)
        ORDER BY 3, 4, 1) TO '{folder / "trial_balance.csv"}' (HEADER)""")
    return folder


def _run(books: Path, folder: Path, ontology: str, sources: list[str] | None = None):
    pipeline = folder / "books.yaml"
    pipeline.write_text(f"name: books\nmodules: {MODULES}\nontology: {ontology}\n")
    return dc.run(str(pipeline), sources=sources or [str(books)], workspace=str(folder / "ws"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def run(books: Path, folder: Path):
    return _run(books, folder, "financial_reporting")


def by_table(run, check: str) -> dict:
    return {t.table: t for t in run.results[check].tables}


def test_the_unbalanced_journal_entry_is_found(run):
    journal = by_table(run, "double_entry_balance")["journal"]
    assert journal.columns == {"journal_entry_id": "journal_entry_id", "debit": "debit", "credit": "credit"}
    assert (journal.checked, journal.failed) == (111, 1)  # 110 entries outside May, and JE9000
    assert journal.examples == ("entry JE0007: off by 10.00",)
    assert "trial_balance" not in by_table(run, "double_entry_balance")  # it binds no journal entry


def test_the_reproducing_sql_returns_the_failures(run, folder: Path):
    journal = by_table(run, "double_entry_balance")["journal"]
    assert dc.Workspace(folder / "ws").sql(journal.sql).fetchall() == [("JE0007", 10.0)]


def test_the_trial_balance_is_off_in_one_period_and_the_ledger_by_the_unbalanced_entry(run):
    checks = by_table(run, "trial_balance")
    assert (checks["trial_balance"].checked, checks["trial_balance"].failed) == (12, 1)
    assert checks["trial_balance"].examples == ("2024 3: 10.00",)
    assert checks["journal"].summary == "the ledger's total is 10.00, not zero"


def test_the_month_without_postings_is_found(run):
    checks = by_table(run, "period_close_completeness")
    assert (checks["journal"].failed, checks["journal"].examples) == (1, ("2024-05",))
    assert checks["journal"].checked == 12
    assert checks["trial_balance"].failed == 0 and checks["trial_balance"].checked == 12


def test_the_liability_on_the_debit_side_is_found(run):
    checks = by_table(run, "sign_conventions")
    assert checks["journal"].examples == ("2100 (Liability): 50.00",)
    assert (checks["journal"].checked, checks["journal"].failed) == (4, 1)
    assert checks["trial_balance"].failed == 0 and "signed, debits positive" in checks["trial_balance"].summary


def test_each_check_is_a_section_of_the_context(run):
    doc = run.results["context_document"]
    assert [s.step for s in doc.sections] == list(STEPS)
    markdown = doc.to_markdown()
    assert "## Double-entry balance: failed in 1 table(s)" in markdown
    assert "- journal: 1 of 12 months have no postings (e.g. 2024-05)" in markdown
    data = json.loads(doc.to_json())["sections"][0]["data"]
    assert data["tables"][0]["sql"].startswith("SELECT \"journal_entry_id\" AS journal_entry")


def test_without_the_financial_ontology_each_check_says_why(books: Path, tmp_path: Path):
    run = _run(books, tmp_path, "base")
    for step in STEPS:
        result = run.results[step]
        assert result.tables == () and len(result.not_applicable) == 1
        assert "the ontology base 1.0.0 has no concept" in result.not_applicable[0].reason
        assert "ontology: financial_reporting" in result.not_applicable[0].reason
    assert "## Trial balance: not applicable" in run.results["context_document"].to_markdown()


def test_tables_without_ledger_columns_are_not_applicable(tmp_path: Path):
    (tmp_path / "people.csv").write_text("person_id,name,city\n1,Ann,Oslo\n2,Bo,Rome\n")
    run = _run(tmp_path, tmp_path, "financial_reporting", [str(tmp_path / "people.csv")])
    reasons = {step: [n.reason for n in run.results[step].not_applicable] for step in STEPS}
    assert reasons == {
        "double_entry_balance": ["no table binds journal_entry_id"],
        "period_close_completeness": ["no table binds posting_date, or fiscal_year and fiscal_period"],
        "sign_conventions": ["no table binds account_type"],
        "trial_balance": ["no table binds balance, debit and credit, or a signed amount"],
    }
