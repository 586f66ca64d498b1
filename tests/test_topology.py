"""topology_enrichment: foreign keys found in the values, the traps it must reject, roles and
join paths; on typed Parquet written by the tests and on the bundled sample."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

import dataraum_context as dc
from dataraum_context import sample
from dataraum_context.joins import join_path
from dataraum_context.models import TopologyResult
from dataraum_context.sample import schemas

from support.steps import statistics_profiling, topology_enrichment


def discover(root: Path, **frames: pl.DataFrame) -> TopologyResult:
    schema = schemas.Schema(seed=0, style="test", tables=dict(frames))
    types = schema.workspace(root)
    return topology_enrichment(statistics_profiling(types, str(root)), types, str(root))


def edges(topo: TopologyResult) -> set[tuple[str, str, str, str]]:
    """The single-column relationships found."""
    return {(r.from_table, r.from_columns[0], r.to_table, r.to_columns[0]) for r in topo.relationships
            if len(r.from_columns) == 1}


def composite_edges(topo: TopologyResult) -> set[tuple[str, tuple[str, ...], str, tuple[str, ...]]]:
    return {(r.from_table, r.from_columns, r.to_table, r.to_columns) for r in topo.relationships
            if len(r.from_columns) > 1}


def pick(rng: random.Random, values: list, n: int) -> list:
    return [rng.choice(values) for _ in range(n)]


# --- the bundled sample --------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory) -> tuple[dc.PipelineRun, dc.Workspace]:
    ws = tmp_path_factory.mktemp("shop") / "ws"
    return dc.run("default", sources=[str(sample.shop_dir())], workspace=str(ws)), dc.Workspace(ws)


def test_sample_orders_reference_customers_despite_orphan_and_repeated_key(shop_run):
    topo = shop_run[0].results["topology_enrichment"]
    assert edges(topo) == {("orders", "customer_id", "customers", "customer_id"),
                           ("order_items", "order_id", "orders", "order_id"),
                           ("order_items", "product_id", "products", "product_id")}
    rel = next(r for r in topo.relationships if r.from_table == "orders")
    assert rel.source == "discovered" and rel.cardinality == "many_to_one"
    assert rel.orphan_values == 1 and rel.orphan_rows == 1 and rel.orphan_examples == ("75",)
    assert rel.referenced_duplicates == 1  # customer 17 signed up twice
    assert rel.inclusion == pytest.approx(57 / 58)
    assert any("repeats 1 value(s) (e.g. 17)" in e for e in rel.evidence)
    assert 0.9 < rel.confidence <= 1
    assert "repeat" in topo.key_duplicate_policy
    roles = {name: t.role for name, t in topo.tables.items()}
    assert roles == {"order_items": "fact", "orders": "dimension", "customers": "dimension",
                     "products": "dimension"}
    assert topo.tables["customers"].key_columns == ("customer_id",)


def test_sample_context_carries_relationships_temporal_and_join_paths(shop_run):
    ctx = shop_run[0].context
    doc = ctx.model_dump(mode="json")
    rel = next(r for r in doc["relationships"] if r["from_table"] == "orders")
    assert {"from_table", "from_columns", "to_table", "to_columns", "cardinality", "confidence",
            "evidence", "source"} <= set(rel)
    assert rel["to_columns"] == ["customer_id"]
    orders = next(t for t in doc["tables"] if t["name"] == "orders")
    assert orders["role"] == "dimension" and orders["key_columns"] == ["order_id"]
    temporal = {t["column"]: t for t in orders["temporal"]}
    assert temporal["order_date"]["granularity"] == "day" and temporal["order_date"]["primary"]
    assert temporal["order_date"]["min"] == "2023-01-03" and temporal["order_date"]["max"] == "2024-06-26"
    chains = {(p["from_table"], p["to_table"]) for p in doc["join_paths"]}
    assert ("order_items", "customers") in chains
    assert any("orders.customer_id: 1 value(s) (e.g. 75)" in w for w in doc["warnings"])
    assert doc["dependency_groups"][0]["columns"] == ["order_items.unit_price", "products.unit_price"]
    md = ctx.to_markdown()
    assert md.index("## Join paths") < md.index("## Time coverage") < md.index("## customers (")


def test_join_path_sql_runs_and_counts_what_an_inner_join_keeps(shop_run):
    ctx, ws = shop_run[0].context, shop_run[1]

    def count(sql: str) -> int:
        return ws.sql(sql).fetchall()[0][0]

    path = next(p for p in ctx.join_paths if p.from_table == "order_items" and p.to_table == "customers")
    items = count("SELECT count(*) FROM order_items")
    orphans = count("SELECT count(*) FROM order_items JOIN orders USING (order_id) WHERE customer_id = 75")
    repeated = count("SELECT count(*) FROM order_items JOIN orders USING (order_id) WHERE customer_id = 17")
    # the orphan's items drop out; the repeated customer's items appear twice
    assert count(f"SELECT count(*) {path.sql}") == items - orphans + repeated
    between = ctx.join_path("customers", "products")  # any two tables, walked both ways
    assert [s.right_table for s in between.steps] == ["orders", "order_items", "products"]
    assert [s.cardinality for s in between.steps] == ["one_to_many", "one_to_many", "many_to_one"]
    assert count(f"SELECT count(*) {between.sql}") == items - orphans + repeated
    assert join_path(ctx.relationships, "customers", "nowhere") is None


# --- the traps -----------------------------------------------------------------------------


@pytest.fixture
def shop_frames() -> dict[str, pl.DataFrame]:
    """A dense-key star: customers 1..120, products 1..40, stores 1..8, a fact with traps."""
    rng = random.Random(5)
    n = 2000
    return {
        "customers": pl.DataFrame({"customer_id": range(1, 121), "age": [rng.randint(18, 90) for _ in range(120)]}),
        "products": pl.DataFrame({"product_id": range(1, 41), "price": [rng.random() * 50 for _ in range(40)]}),
        "stores": pl.DataFrame({"store_id": range(1, 9), "floor_count": [rng.randint(1, 3) for _ in range(8)]}),
        "sales": pl.DataFrame({
            "sale_id": range(1, n + 1),
            "customer_id": pick(rng, list(range(1, 121)), n),
            "product_id": pick(rng, list(range(1, 41)), n),
            "store_id": pick(rng, list(range(1, 9)), n),
            "quantity": pick(rng, [1, 2, 3, 4, 5], n),  # 1..5 sits inside every key
            "rating": pick(rng, list(range(1, 11)), n),
            "is_returned": pick(rng, [0, 1], n),  # boolean-like
            "priority": pick(rng, [1, 2], n),  # tiny cardinality
            "units_sold": pick(rng, list(range(40)), n),  # an integer measure inside products' keys
            "sale_date": [date(2024, 1, 1) + timedelta(days=rng.randrange(100)) for _ in range(n)],
        }),
        "calendar": pl.DataFrame({"day": [date(2024, 1, 1) + timedelta(days=i) for i in range(120)]}),
    }


def test_small_ranges_flags_dates_and_integer_measures_are_rejected(tmp_path, shop_frames):
    found = edges(discover(tmp_path, **shop_frames))
    assert found == {("sales", "customer_id", "customers", "customer_id"),
                     ("sales", "product_id", "products", "product_id"),
                     ("sales", "store_id", "stores", "store_id")}


def test_small_ranges_are_rejected_even_with_key_like_names_and_no_table(tmp_path, shop_frames):
    rng = random.Random(2)
    frames = dict(shop_frames)
    frames["sales"] = frames["sales"].with_columns(
        pl.Series("terminal_no", pick(rng, list(range(1, 9)), 2000)),  # 1..8 like stores, no terminals table
        pl.Series("line_number", pick(rng, list(range(1, 6)), 2000)))
    found = edges(discover(tmp_path, **frames))
    assert not {e for e in found if e[1] in ("terminal_no", "line_number")}


def test_self_references(tmp_path):
    rng = random.Random(3)
    employees = pl.DataFrame({"employee_id": range(1, 31),
                              "manager_id": [None] * 3 + pick(rng, [1, 2, 3], 27),
                              "salary": [rng.randint(30, 90) * 1000 for _ in range(30)]})
    categories = pl.DataFrame({"id": range(1, 51), "parent_id": [None] * 5 + pick(rng, list(range(1, 6)), 45),
                               "name": [f"c{i}" for i in range(50)]})
    found = edges(discover(tmp_path, employees=employees, categories=categories))
    assert found == {("employees", "manager_id", "employees", "employee_id"),
                     ("categories", "parent_id", "categories", "id")}


def test_role_named_support_rep_points_at_employees_not_at_other_small_keys(tmp_path):
    """Chinook: SupportRepId holds 3, 4, 5 of employees 1..8; media types 1..5 and genres 1..25
    contain those values too."""
    rng = random.Random(4)
    frames = {
        "Employee": pl.DataFrame({"EmployeeId": range(1, 9), "ReportsTo": [None, 1, 2, 2, 2, 1, 6, 6],
                                  "LastName": [f"e{i}" for i in range(8)]}),
        "Customer": pl.DataFrame({"CustomerId": range(1, 60), "SupportRepId": pick(rng, [3, 4, 5], 59)}),
        "MediaType": pl.DataFrame({"MediaTypeId": range(1, 6), "Name": [f"m{i}" for i in range(5)]}),
        "Genre": pl.DataFrame({"GenreId": range(1, 26), "Name": [f"g{i}" for i in range(25)]}),
        "Track": pl.DataFrame({"TrackId": range(1, 501), "MediaTypeId": pick(rng, list(range(1, 6)), 500),
                               "GenreId": pick(rng, list(range(1, 26)), 500),
                               "Milliseconds": [rng.randint(1000, 400000) for _ in range(500)]}),
    }
    found = edges(discover(tmp_path, **frames))
    assert ("Customer", "SupportRepId", "Employee", "EmployeeId") in found
    assert ("Employee", "ReportsTo", "Employee", "EmployeeId") in found
    assert ("Track", "MediaTypeId", "MediaType", "MediaTypeId") in found
    assert ("Track", "GenreId", "Genre", "GenreId") in found
    assert len(found) == 4


def test_a_person_named_by_what_they_do_points_at_staff(tmp_path):
    """inspector_id and sponsor_id hold 1..40, inside the dense keys of employees (1..40),
    customers (1..300) and products (1..800): only their names can tell, and an agent noun
    names staff; a sector_id (a thing) links nowhere."""
    rng = random.Random(7)
    frames = {
        "employees": pl.DataFrame({"employee_id": range(1, 41), "name": [f"e{i}" for i in range(40)]}),
        "customers": pl.DataFrame({"customer_id": range(1, 301), "email": [f"u{i}@x.org" for i in range(300)]}),
        "products": pl.DataFrame({"product_id": range(1, 801), "title": [f"p{i}" for i in range(800)]}),
        "inspections": pl.DataFrame({"inspection_id": range(1, 2001),
                                     "inspector_id": pick(rng, list(range(1, 41)), 2000),
                                     "product_id": pick(rng, list(range(1, 801)), 2000),
                                     "sector_id": pick(rng, list(range(1, 41)), 2000)}),
        "projects": pl.DataFrame({"project_id": range(1, 301), "sponsor_id": pick(rng, list(range(1, 41)), 300),
                                  "customer_id": pick(rng, list(range(1, 301)), 300)}),
    }
    found = edges(discover(tmp_path, **frames))
    assert found == {("inspections", "inspector_id", "employees", "employee_id"),
                     ("inspections", "product_id", "products", "product_id"),
                     ("projects", "sponsor_id", "employees", "employee_id"),
                     ("projects", "customer_id", "customers", "customer_id")}


def test_user_id_points_at_customers_id(tmp_path):
    rng = random.Random(6)
    frames = {
        "customers": pl.DataFrame({"id": range(1, 301), "email": [f"u{i}@x.org" for i in range(300)]}),
        "products": pl.DataFrame({"id": range(1, 801), "title": [f"p{i}" for i in range(800)]}),
        "events": pl.DataFrame({"id": range(1, 3001), "user_id": pick(rng, list(range(1, 301)), 3000),
                                "product_id": pick(rng, list(range(1, 801)), 3000)}),
    }
    found = edges(discover(tmp_path, **frames))
    assert found == {("events", "user_id", "customers", "id"), ("events", "product_id", "products", "id")}


def test_table_prefixed_keys_tpch_style(tmp_path):
    rng = random.Random(7)
    frames = {
        "region": pl.DataFrame({"r_regionkey": range(5), "r_name": list("ABCDE")}),
        "nation": pl.DataFrame({"n_nationkey": range(25), "n_regionkey": pick(rng, list(range(5)), 25)}),
        "customer": pl.DataFrame({"c_custkey": range(1, 301), "c_nationkey": pick(rng, list(range(25)), 300),
                                  "c_acctbal": [rng.random() * 1e4 for _ in range(300)]}),
        "orders": pl.DataFrame({"o_orderkey": range(1, 3001), "o_custkey": pick(rng, list(range(1, 301)), 3000),
                                "o_shippriority": [0] * 3000}),
    }
    found = edges(discover(tmp_path, **frames))
    assert found == {("nation", "n_regionkey", "region", "r_regionkey"),
                     ("customer", "c_nationkey", "nation", "n_nationkey"),
                     ("orders", "o_custkey", "customer", "c_custkey")}


def test_camel_case_and_value_evidence_for_codes(tmp_path):
    rng = random.Random(8)
    codes = [f"ACC-{i:05d}" for i in rng.sample(range(100_000), 200)]
    frames = {
        "Invoice": pl.DataFrame({"InvoiceId": range(1, 201), "Total": [rng.random() * 100 for _ in range(200)]}),
        "Account": pl.DataFrame({"AccountCode": codes}),
        "InvoiceLine": pl.DataFrame({"InvoiceLineId": range(1, 1001),
                                     "InvoiceId": pick(rng, list(range(1, 201)), 1000),
                                     "Payer": pick(rng, codes, 1000)}),  # no name evidence, only values
    }
    found = edges(discover(tmp_path, **frames))
    assert found == {("InvoiceLine", "InvoiceId", "Invoice", "InvoiceId"),
                     ("InvoiceLine", "Payer", "Account", "AccountCode")}


def test_too_many_repeats_on_the_referenced_side_is_not_a_key(tmp_path):
    rng = random.Random(9)
    ids = list(range(1, 101)) + list(range(1, 11))  # 10% repeated
    frames = {"customers": pl.DataFrame({"customer_id": ids}),
              "orders": pl.DataFrame({"order_id": range(1, 501), "customer_id": pick(rng, list(range(1, 101)), 500)})}
    assert edges(discover(tmp_path, **frames)) == set()


def test_inclusion_is_exact_when_the_statistics_estimate(tmp_path):
    """When the statistics estimate distinct counts, inclusion and orphans
    are still counted exactly (they once were a hash sample above 100k distinct values)."""
    rng = random.Random(10)
    keys = rng.sample(range(10**9), 5000)
    missing = rng.sample(range(10**9, 2 * 10**9), 100)  # 100 orphan values of 5,100
    values = keys + missing
    frames = {"accounts": pl.DataFrame({"account_id": keys}),
              "transfers": pl.DataFrame({"transfer_id": range(1, 20_001), "account_id": pick(rng, values, 20_000)})}
    types = schemas.Schema(seed=0, style="test", tables=frames).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path), exact_up_to_rows=1000)
    # statistics count distinct values exactly now; an estimate (an older run's, a plugin's) 3% off
    transfers = stats.tables["transfers"]
    counted = transfers.columns["account_id"]
    estimate = counted.model_copy(update={"distinct_approximate": True,
                                          "distinct_count": counted.distinct_count * 97 // 100})
    stats = stats.model_copy(update={"tables": {**stats.tables, "transfers": transfers.model_copy(
        update={"columns": {**transfers.columns, "account_id": estimate}})}})
    referenced = frames["transfers"]["account_id"]
    orphans = set(referenced) - set(keys)
    (rel,) = topology_enrichment(stats, types, str(tmp_path)).relationships
    assert rel.inclusion == pytest.approx(1 - len(orphans) / referenced.n_unique())
    assert rel.orphan_values == len(orphans) and rel.orphan_rows == referenced.is_in(list(orphans)).sum()
    assert not any("sample" in e for e in rel.evidence) and rel.cardinality == "many_to_one"


def test_a_key_that_references_another_is_counted_exactly(tmp_path):
    """accounts.account_id is the key transfers reference, and itself references its one-to-one
    extension account_details. Its distinct values are counted exactly as a key, whatever the
    statistics estimate: it repeats none, so transfers reference accounts."""
    rng = random.Random(12)
    keys = rng.sample(range(10**9), 3000)
    frames = {"accounts": pl.DataFrame({"account_id": keys}),
              "account_details": pl.DataFrame({"account_id": keys + rng.sample(range(10**9, 2 * 10**9), 500)}),
              "transfers": pl.DataFrame({"transfer_id": range(1, 5001), "account_id": pick(rng, keys, 5000)})}
    types = schemas.Schema(seed=0, style="test", tables=frames).workspace(tmp_path)
    topo = topology_enrichment(statistics_profiling(types, str(tmp_path), exact_up_to_rows=1000), types,
                               str(tmp_path))
    assert edges(topo) == {("transfers", "account_id", "accounts", "account_id"),
                           ("accounts", "account_id", "account_details", "account_id")}
    rel = next(r for r in topo.relationships if r.from_table == "transfers")
    assert rel.referenced_duplicates == 0 and rel.cardinality == "many_to_one"
    one = next(r for r in topo.relationships if r.from_table == "accounts")
    assert one.cardinality == "one_to_one"


def test_bridge_and_roles(tmp_path):
    rng = random.Random(11)
    frames = {
        "students": pl.DataFrame({"student_id": range(1, 101), "name": [f"s{i}" for i in range(100)]}),
        "courses": pl.DataFrame({"course_id": range(1, 21), "title": [f"c{i}" for i in range(20)]}),
        "enrollments": pl.DataFrame({"student_id": pick(rng, list(range(1, 101)), 400),
                                     "course_id": pick(rng, list(range(1, 21)), 400)}),
        "notes": pl.DataFrame({"text": ["a", "b"]}),
    }
    roles = {n: t.role for n, t in discover(tmp_path, **frames).tables.items()}
    assert roles == {"students": "dimension", "courses": "dimension", "enrollments": "bridge", "notes": "isolated"}


def test_generated_schemas_are_found_with_high_precision_and_recall(tmp_path):
    """The relationship test sets of `benchmarks/relationships.py`, on a few seeds; the
    composite keys among them are all found, and nothing else of two columns."""
    tp = fp = fn = 0
    composites = set()
    for seed in (3000, 3001, 3002, 3003):
        schema = schemas.generate(seed)
        types = schema.workspace(tmp_path / str(seed))
        root = str(tmp_path / str(seed))
        topo = topology_enrichment(statistics_profiling(types, root), types, root)
        found = edges(topo)
        tp, fp, fn = tp + len(found & schema.relationships), fp + len(found - schema.relationships), \
            fn + len(schema.relationships - found)
        assert composite_edges(topo) == schema.composites
        composites |= schema.composites
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95
    assert len(composites) >= 2


def test_generated_schemas_cover_every_naming_style():
    styles = {schemas.generate(seed).style for seed in range(12)}
    assert styles == set(schemas.STYLES)
    s = schemas.generate(1, style="prefixed")
    assert all("_" in c for t in s.tables.values() for c in t.columns)
    assert any(src == dst for src, _, dst, _ in s.relationships)  # a self-reference
