"""column_roles: one home for a table's own key, its candidate keys, measures, dimensions and
times, read by semantic enrichment, topology, quality and the context alike."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import polars as pl

import dataraum_context as dc
from dataraum_context.dataflows.statistics import column_roles
from dataraum_context.llm.facts import table_facts
from dataraum_context.ontology import load_ontology
from dataraum_context.sample import schemas

from support.steps import statistics_profiling

_REPEATED_KEY = "looks like the table's key but"


def _people_and_categories() -> dict[str, pl.DataFrame]:
    """A repeated id in two tables whose names are not plain plurals (categories, people): one
    repeat in 30 rows (within the key tolerance) and ten (far beyond it)."""
    category_ids = [*range(1, 30), 7]
    person_ids = [*range(1, 21), *range(1, 11)]
    return {
        "categories": pl.DataFrame({"category_id": category_ids, "label": [f"c{i}" for i in range(30)]}),
        "people": pl.DataFrame({"person_id": person_ids, "name": [f"p{i}" for i in range(30)]}),
        "orders": pl.DataFrame({"order_id": range(1, 61), "category_id": [1 + i % 29 for i in range(60)],
                                "person_id": [1 + i % 20 for i in range(60)],
                                "amount": [10.5 + i for i in range(60)]}),
    }


def test_the_context_warns_about_the_repeated_own_keys_the_quality_check_finds(tmp_path):
    run = dc.run("default", sources=_people_and_categories(), workspace=str(tmp_path / "ws"))
    warned = {w.split(":")[0] for w in run.context.warnings if _REPEATED_KEY in w}
    quality = run.results["quality_assessment"]
    failing = {f"{r.table}.{r.columns[0]}" for t in quality.tables.values() for r in t.results
               if r.check == "duplicate_key" and len(r.columns) == 1 and r.failing_rows}
    assert {"categories.category_id", "people.person_id"} <= warned
    assert warned == failing


def test_a_users_key_duplicate_tolerance_reaches_the_facts_given_to_the_llm(tmp_path):
    """accounts.account_id repeats 4 of its 100 values: a key at a 5% tolerance, not at 2%."""
    accounts = pl.DataFrame({"account_id": [*range(1, 97), 1, 2, 3, 4], "balance": [float(i) for i in range(100)]})
    types = schemas.Schema(seed=0, style="test", tables={"accounts": accounts}).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))

    def key(tolerance: float) -> tuple[str, ...]:
        roles = column_roles(stats, key_duplicate_tolerance=tolerance)
        facts = table_facts(stats, types, str(tmp_path), load_ontology("base"), roles, None, 0)
        return facts[0].key_columns

    assert key(0.02) == () and key(0.05) == ("account_id",)
    # and through the pipeline's config, without the topology step
    dr = dc.driver("default", sources={"accounts": accounts}, workspace=str(tmp_path / "ws"),
                   skip_steps=["topology_enrichment"], key_duplicate_tolerance=0.05)
    entity = dr.execute(["semantic_enrichment"])["semantic_enrichment"].tables["accounts"]
    assert entity.grain == ("account_id",) and entity.columns["account_id"].semantic_role == "key"


def _partsupp_database(path) -> None:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE part (p_partkey INTEGER PRIMARY KEY, p_name TEXT);
        CREATE TABLE supplier (s_suppkey INTEGER PRIMARY KEY, s_name TEXT);
        CREATE TABLE partsupp (
            ps_partkey INTEGER REFERENCES part (p_partkey),
            ps_suppkey INTEGER REFERENCES supplier (s_suppkey),
            ps_availqty INTEGER, ps_supplycost REAL,
            PRIMARY KEY (ps_partkey, ps_suppkey));
    """)
    con.executemany("INSERT INTO part VALUES (?, ?)", [(i, f"part {i}") for i in range(1, 41)])
    con.executemany("INSERT INTO supplier VALUES (?, ?)", [(i, f"supplier {i}") for i in range(1, 11)])
    con.executemany("INSERT INTO partsupp VALUES (?, ?, ?, ?)",
                    [(p, s, (p * 37 + s * 11) % 900, round(1 + (p * s) % 97 * 1.5, 2))
                     for p in range(1, 41) for s in (1 + p % 10, 1 + (p + 3) % 10)])
    con.commit()
    con.close()


def test_members_of_a_composite_key_that_reference_other_tables_keep_both_roles(tmp_path):
    _partsupp_database(tmp_path / "tpch.sqlite")
    run = dc.run("default", sources=[str(tmp_path / "tpch.sqlite")], workspace=str(tmp_path / "ws"))
    semantic = run.results["semantic_enrichment"].tables["partsupp"].columns
    context = {c.name: c for c in run.context.table("partsupp").columns}
    for column in ("ps_partkey", "ps_suppkey"):
        assert (semantic[column].semantic_role, semantic[column].key_member) == ("foreign_key", True)
        assert (context[column].semantic_role, context[column].key_member) == ("foreign_key", True)
    assert (semantic["ps_supplycost"].semantic_role, semantic["ps_supplycost"].key_member) == ("measure", False)
    assert run.results["semantic_enrichment"].tables["part"].columns["p_partkey"].semantic_role == "key"
    assert run.context.table("partsupp").key_columns == ("ps_partkey", "ps_suppkey")
    assert "foreign_key (key member)" in run.context.to_markdown()


def test_dates_of_birth_and_opening_dates_are_timestamps(tmp_path):
    people = pl.DataFrame({
        "person_id": range(1, 41),
        "date_of_birth": [date(1960, 1, 1) + timedelta(days=311 * i) for i in range(40)],
        "opened_on": [date(2020, 1, 1) + timedelta(days=3 * i) for i in range(40)],
    })
    types = schemas.Schema(seed=0, style="test", tables={"people": people}).workspace(tmp_path)
    roles = column_roles(statistics_profiling(types, str(tmp_path))).tables["people"]
    assert roles.timestamps == ("date_of_birth", "opened_on") and roles.own_key == ("person_id",)
    run = dc.run("default", sources={"people": people}, workspace=str(tmp_path / "ws"))
    columns = run.results["semantic_enrichment"].tables["people"].columns
    assert columns["date_of_birth"].semantic_role == "timestamp"
    assert columns["date_of_birth"].business_term == "birth_date"  # the concept still names it
    assert columns["opened_on"].semantic_role == "timestamp"


def test_measures_dimensions_and_keys_each_with_their_reason(tmp_path):
    n = 60
    orders = pl.DataFrame({
        "order_id": range(1, n + 1),
        "customer_id": [1 + i % 7 for i in range(n)],
        "line_no": [1 + i % 4 for i in range(n)],
        "priority": [1 + i % 3 for i in range(n)],
        "is_gift": [i % 2 for i in range(n)],
        "amount": [round(3.5 * i + 1, 2) for i in range(n)],
        "quantity": [1 + (i * 7) % 13 for i in range(n)],
        "status": ["open" if i % 3 else "closed" for i in range(n)],
    })
    types = schemas.Schema(seed=0, style="test", tables={"orders": orders}).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path))
    roles = column_roles(stats).tables["orders"]
    assert roles.own_key == ("order_id",) and roles.own_key_evidence == "named for its table, unique and never null"
    assert roles.candidate_keys == ("order_id",) and roles.named_keys == ("order_id",)
    assert roles.measures == ("amount", "quantity")
    assert roles.dimensions == ("priority", "is_gift", "status")
    kinds = {name: (c.role, c.evidence) for name, c in roles.columns.items()}
    assert kinds["customer_id"][0] == "identifier" and kinds["line_no"] == (
        "attribute", ("a position (line), not a quantity",))
    assert kinds["priority"][1] == ("a code (priority), not a quantity",)
    result = column_roles(stats)
    assert repr(result) == "ColumnRolesResult(1 table, 1 own key, 2 measures)"
    assert "| orders.amount | measure | no | no | no | a number that is no key, reference or code |" \
        in result._repr_markdown_()
