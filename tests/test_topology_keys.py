"""topology_enrichment beyond single columns: composite keys of two columns (found, not
proposed when one column is the key, the trap of columns unique by chance, sampled inclusion,
carried through join paths, context, quality and cross-table joins), and the agreement of the
keys a SQLite database declares with those found in its values."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dataraum_context as dc
from dataraum_context.models import Relationship, TopologyResult
from dataraum_context.sample import schemas

from support.steps import statistics_profiling, topology_enrichment


def discover(root: Path, **frames: pl.DataFrame) -> TopologyResult:
    types = schemas.Schema(seed=0, style="test", tables=dict(frames)).workspace(root)
    return topology_enrichment(statistics_profiling(types, str(root)), types, str(root))


def composites(topo: TopologyResult) -> dict[tuple, Relationship]:
    return {(r.from_table, r.from_columns, r.to_table, r.to_columns): r for r in topo.relationships
            if len(r.from_columns) > 1}


def lines_frames(seed: int = 1, orders: int = 400, shipments: int = 900, orphans: int = 6,
                 nulls: int = 9) -> tuple[dict[str, pl.DataFrame], set[tuple[int, int]], list]:
    """orders, order_lines keyed by (order_id, line_no), shipments referencing the lines; a
    few shipments name a line that does not exist, a few have no line number."""
    rng = random.Random(seed)
    lines = [(o, n) for o in range(1, orders + 1) for n in range(1, rng.randint(1, 4) + 1)]
    picked: list = [rng.choice(lines) for _ in range(shipments)]
    for i in range(orphans):
        picked[i] = (picked[i][0], 7 + i % 3)  # an existing order, a line it does not have
    for i in range(orphans, orphans + nulls):
        picked[i] = (picked[i][0], None)
    rng.shuffle(picked)
    frames = {
        "orders": pl.DataFrame({"order_id": range(1, orders + 1),
                                "placed": [f"2024-01-{1 + i % 28:02d}" for i in range(orders)],
                                "discount": [round(rng.uniform(0, 9), 2) for _ in range(orders)]}),
        "order_lines": pl.DataFrame({"order_id": [o for o, _ in lines], "line_no": [n for _, n in lines],
                                     "quantity": [rng.randint(1, 9) for _ in lines],
                                     "unit_price": [round(rng.uniform(1, 50), 2) for _ in lines]}),
        "shipments": pl.DataFrame({"shipment_id": range(1, shipments + 1), "order_id": [o for o, _ in picked],
                                   "line_no": [n for _, n in picked],
                                   "weight": [round(rng.uniform(0.1, 20), 2) for _ in picked]}),
    }
    return frames, set(lines), picked


# --- composite keys ------------------------------------------------------------------------


def test_composite_key_is_found_with_exact_orphans(tmp_path):
    frames, lines, picked = lines_frames()
    topo = discover(tmp_path, **frames)
    rel = composites(topo)[("shipments", ("order_id", "line_no"), "order_lines", ("order_id", "line_no"))]
    assert len(composites(topo)) == 1
    present = [p for p in picked if p[1] is not None]
    missing = [p for p in present if p not in lines]
    assert rel.orphan_rows == len(missing) and rel.orphan_values == len(set(missing))
    assert rel.inclusion == pytest.approx(1 - len(set(missing)) / len(set(present)))
    assert rel.null_ratio == pytest.approx(9 / 900)
    assert rel.cardinality == "many_to_one" and rel.confidence > 0.9
    assert set(rel.orphan_examples) <= {f"({o}, {n})" for o, n in missing} and rel.orphan_examples
    assert any("is unique over" in e and "by chance: odds of 1 in 10^" in e for e in rel.evidence)
    # the single-column keys beside it are unchanged, and the lines' key is the pair
    singles = {(r.from_table, r.from_columns[0], r.to_table) for r in topo.relationships if len(r.from_columns) == 1}
    assert singles == {("order_lines", "order_id", "orders"), ("shipments", "order_id", "orders")}
    assert topo.tables["order_lines"].key_columns == ("order_id", "line_no")
    path = next(p for p in topo.join_paths if p.from_table == "shipments" and p.to_table == "order_lines")
    assert path.sql == ('FROM "shipments" JOIN "order_lines" ON "shipments"."order_id" = "order_lines"."order_id" '
                        'AND "shipments"."line_no" = "order_lines"."line_no"')


def test_text_codes_with_table_prefixes(tmp_path):
    """(country_code, region_code), each code repeated across the other, as TPC-H-style prefixed names."""
    rng = random.Random(3)
    countries = [f"C{i:02d}" for i in range(1, 31)]
    regions = [(c, f"R{k}") for c in countries for k in range(1, rng.randint(2, 9))]
    sites = [rng.choice(regions) for _ in range(1500)]
    frames = {
        "region": pl.DataFrame({"r_country_code": [c for c, _ in regions], "r_region_code": [r for _, r in regions],
                                "r_name": [f"{c}-{r}" for c, r in regions]}),
        "site": pl.DataFrame({"s_sitekey": range(1, 1501), "s_country_code": [c for c, _ in sites],
                              "s_region_code": [r for _, r in sites]}),
    }
    found = composites(discover(tmp_path, **frames))
    assert set(found) == {("site", ("s_country_code", "s_region_code"), "region", ("r_country_code", "r_region_code"))}


def test_no_composite_when_one_column_alone_is_the_key(tmp_path):
    """Each order has one line: order_id alone is the key, and the pair is no key of its own."""
    rng = random.Random(4)
    frames = {
        "order_lines": pl.DataFrame({"order_id": range(1, 501), "line_no": [1 + i % 3 for i in range(500)],
                                     "quantity": [rng.randint(1, 9) for _ in range(500)]}),
        "shipments": pl.DataFrame({"shipment_id": range(1, 801), "order_id": [rng.randint(1, 500) for _ in range(800)],
                                   "line_no": [rng.randint(1, 3) for _ in range(800)]}),
    }
    topo = discover(tmp_path, **frames)
    assert composites(topo) == {}
    assert [(r.from_table, r.from_columns, r.to_table, r.to_columns) for r in topo.relationships] == [
        ("shipments", ("order_id",), "order_lines", ("order_id",))]


def test_a_pair_with_more_combinations_than_the_key_holds_is_not_measured(tmp_path):
    """Bins keyed by (rack_no, slot_no), 600 of them; stock references them; picks hold about
    2,000 combinations under the same names, which 600 cannot hold: only stock's pair is measured."""
    rng = random.Random(6)
    bins = [(r, s) for r in range(1, 31) for s in range(1, 21)]
    stock = [rng.choice(bins) for _ in range(3000)]
    picks = [(rng.randint(1, 60), rng.randint(1, 40)) for _ in range(2400)]
    frames = {
        "bins": pl.DataFrame({"bin_id": range(1, 601), "rack_no": [r for r, _ in bins],
                              "slot_no": [s for _, s in bins]}),
        "stock": pl.DataFrame({"stock_id": range(1, 3001), "rack_no": [r for r, _ in stock],
                               "slot_no": [s for _, s in stock]}),
        "picks": pl.DataFrame({"pick_id": range(1, 2401), "rack_no": [r for r, _ in picks],
                               "slot_no": [s for _, s in picks]}),
    }
    topo = discover(tmp_path, **frames)
    assert set(composites(topo)) == {("stock", ("rack_no", "slot_no"), "bins", ("rack_no", "slot_no"))}
    assert topo.composite_pairs_measured == 1


def test_two_small_columns_unique_by_chance_are_no_key(tmp_path):
    """Docks: 6 rows whose zone_no (1..4) and bay_no (1..4) happen to be unique together; the
    moves' same-named columns hold only those combinations. Six distinct draws from 16 cells
    happen one time in three: no evidence of a key."""
    rng = random.Random(5)

    def docks_and_moves(zones: int, bays: int, docks: int) -> dict[str, pl.DataFrame]:
        combos = rng.sample([(z, b) for z in range(1, zones + 1) for b in range(1, bays + 1)], docks)
        moves = [rng.choice(combos) for _ in range(2000)]
        return {"docks": pl.DataFrame({"dock_id": range(1, docks + 1), "zone_no": [z for z, _ in combos],
                                       "bay_no": [b for _, b in combos]}),
                "moves": pl.DataFrame({"move_id": range(1, 2001), "zone_no": [z for z, _ in moves],
                                       "bay_no": [b for _, b in moves]})}

    assert composites(discover(tmp_path, **docks_and_moves(4, 4, 6))) == {}
    # the same shape on a grid large enough that chance cannot explain the uniqueness is a key
    assert set(composites(discover(tmp_path / "grid", **docks_and_moves(40, 6, 200)))) == {
        ("moves", ("zone_no", "bay_no"), "docks", ("zone_no", "bay_no"))}


def test_composite_inclusion_is_exact_when_the_statistics_estimate(tmp_path):
    frames, lines, picked = lines_frames(seed=6, orders=1500, shipments=6000, orphans=300, nulls=0)
    types = schemas.Schema(seed=0, style="test", tables=frames).workspace(tmp_path)
    stats = statistics_profiling(types, str(tmp_path), exact_up_to_rows=500)
    truth = len(set(picked) & lines) / len(set(picked))
    rel = next(iter(composites(topology_enrichment(stats, types, str(tmp_path))).values()))
    assert rel.inclusion == pytest.approx(truth) and rel.orphan_values == len(set(picked) - lines)
    assert not any("sample" in e for e in rel.evidence)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), orders=st.integers(60, 200), orphans=st.integers(0, 12),
       nulls=st.integers(0, 12))
def test_composite_orphans_match_an_anti_join(tmp_path_factory, seed, orders, orphans, nulls):
    root = tmp_path_factory.mktemp("h")
    frames, _, _ = lines_frames(seed=seed, orders=orders, shipments=400, orphans=orphans, nulls=nulls)
    topo = discover(root, **frames)
    rel = composites(topo)[("shipments", ("order_id", "line_no"), "order_lines", ("order_id", "line_no"))]
    ws = dc.Workspace(root)
    rows, values = ws.sql("SELECT count(*), count(DISTINCT (s.order_id, s.line_no)) FROM shipments s ANTI JOIN "
                          "order_lines l USING (order_id, line_no) WHERE s.line_no IS NOT NULL").fetchall()[0]
    assert (rel.orphan_rows, rel.orphan_values) == (rows, values)


@pytest.mark.e2e
def test_composite_key_through_the_default_pipeline(tmp_path):
    """From CSV files: the context lists it, the Markdown names both columns, the quality step
    counts the orphaned pairs, and the cross-table join follows it."""
    frames, lines, picked = lines_frames(seed=7)
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in frames.items():
        frame.write_csv(data / f"{name}.csv")
    run = dc.run("default", sources=[str(data)], workspace=str(tmp_path / "ws"))
    assert run.succeeded, run.failed_steps
    ctx = run.context
    rel = next(r for r in ctx.relationships if len(r.from_columns) == 2)
    assert (rel.from_table, rel.to_table) == ("shipments", "order_lines")
    md = ctx.to_markdown()
    assert "- shipments.(order_id, line_no) -> order_lines.(order_id, line_no) (discovered, many_to_one" in md
    missing = [p for p in picked if p[1] is not None and p not in lines]
    assert any(w.startswith(f"shipments.(order_id, line_no): {len(set(missing))} value(s)") and
               f"in {len(missing)} row(s) not found in order_lines.(order_id, line_no)" in w for w in ctx.warnings)
    orphaned = next(r for r in run.results["quality_assessment"].tables["shipments"].results
                    if r.check == "orphaned_reference" and r.columns == ("order_id", "line_no"))
    assert orphaned.failing_rows == len(missing) and "order_lines.(order_id, line_no)" in orphaned.description
    assert dc.Workspace(tmp_path / "ws").sql(orphaned.sql).fetchall().__len__() == len(missing)
    joined = next(a for a in run.results["cross_table_multicollinearity"].analyses if a.base_table == "shipments")
    assert "order_lines" in joined.tables and 't0."line_no" = t' in joined.join_sql
    # each column of the pair references its counterpart; the lines' grain is the pair
    semantic = run.results["semantic_enrichment"].tables
    assert semantic["shipments"].columns["line_no"].semantic_role == "foreign_key"
    assert semantic["order_lines"].grain == ("order_id", "line_no")
    # orders is reached by shipments.order_id and again through the lines, on the same values: joined once
    assert [c.column for c in joined.columns if "discount" in c.column] == ["orders.discount"]
    assert joined.join_sql.count('"orders"') == 1


# --- declared keys against discovered ones -------------------------------------------------


@pytest.fixture
def shop_db(tmp_path) -> Path:
    """A SQLite shop declaring its keys (SQLite does not enforce them): orders -> customers
    holds, order_items -> orders has orphans, payments -> orders is mostly violated,
    shipments -> order_lines is a declared composite; order_items.product_id and the order_id of
    order_lines and shipments are not declared."""
    rng = random.Random(8)
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript("""
            PRAGMA foreign_keys = OFF;
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE products (id INTEGER PRIMARY KEY, title TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id),
                                 amount REAL);
            CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders (id),
                                      product_id INTEGER, qty INTEGER);
            CREATE TABLE payments (id INTEGER PRIMARY KEY, order_ref INTEGER REFERENCES orders, paid REAL);
            CREATE TABLE order_lines (order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, sku TEXT,
                                      PRIMARY KEY (order_id, line_no));
            CREATE TABLE shipments (id INTEGER PRIMARY KEY, order_id INTEGER, line_no INTEGER,
                                    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no));
        """)
        con.executemany("INSERT INTO customers VALUES (?, ?)", [(i, f"c{i}") for i in range(1, 81)])
        con.executemany("INSERT INTO products VALUES (?, ?)", [(i, f"p{i}") for i in range(1, 61)])
        con.executemany("INSERT INTO orders VALUES (?, ?, ?)",
                        [(i, rng.randint(1, 80), rng.uniform(5, 500)) for i in range(1, 401)])
        items = [(i, rng.randint(1, 400), rng.randint(1, 60), rng.randint(1, 5)) for i in range(1, 1201)]
        for i in range(4):  # four items of an order that is not there
            items[i] = (items[i][0], 9999, items[i][2], items[i][3])
        con.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)", items)
        con.executemany("INSERT INTO payments VALUES (?, ?, ?)",
                        [(i, rng.randint(1, 400) + (0 if i % 2 else 5000), 1.0) for i in range(1, 301)])
        lines = [(o, n) for o in range(1, 401) for n in range(1, rng.randint(1, 4) + 1)]
        con.executemany("INSERT INTO order_lines VALUES (?, ?, ?)", [(o, n, f"s{o}-{n}") for o, n in lines])
        con.executemany("INSERT INTO shipments VALUES (?, ?, ?)",
                        [(i, *rng.choice(lines)) for i in range(1, 701)])
    return db


def test_declared_keys_are_measured_and_compared_with_discovery(shop_db, tmp_path):
    run = dc.run("default", sources=[f"sqlite:///{shop_db}"], workspace=str(tmp_path / "ws"))
    assert run.succeeded, run.failed_steps
    topo = run.results["topology_enrichment"]
    agreement = topo.key_agreement

    def refs(items) -> set:
        return {(r.from_table, r.from_columns, r.to_table, r.to_columns) for r in items}

    lines = ("order_id", "line_no")
    assert refs(agreement.confirmed) == {("orders", ("customer_id",), "customers", ("id",)),
                                         ("order_items", ("order_id",), "orders", ("id",)),
                                         ("shipments", lines, "order_lines", lines)}
    assert refs(agreement.not_found) == {("payments", ("order_ref",), "orders", ("id",))}
    # the database declares none of these; the lines' and shipments' order_id hold orders' ids too
    assert refs(agreement.undeclared) == {("order_items", ("product_id",), "products", ("id",)),
                                          ("order_lines", ("order_id",), "orders", ("id",)),
                                          ("shipments", ("order_id",), "orders", ("id",))}
    with_orphans = {r.from_table: r.note for r in agreement.confirmed if r.note}
    assert with_orphans == {"order_items": "1 orphan value(s) (e.g. 9999) in 4 row(s)"}
    [violated] = agreement.not_found
    assert violated.note.startswith("the values violate it:") and "are missing from orders.id" in violated.note
    assert agreement.summary == ("4 declared foreign keys: 3 confirmed by the values (1 with orphans), "
                                 "1 not found; 3 found in the values but not declared")

    # every declared key stays declared, with its measurements; the undeclared one is added
    by_from = {(r.from_table, r.from_columns): r for r in topo.relationships}
    assert len(topo.relationships) == 7
    items = by_from[("order_items", ("order_id",))]
    assert items.source == "declared" and (items.orphan_values, items.orphan_rows) == (1, 4)
    assert items.confidence is not None and "confirmed by the values" in items.evidence
    assert any(e.startswith("FOREIGN KEY declared in") for e in items.evidence)
    payments = by_from[("payments", ("order_ref",))]
    assert payments.source == "declared" and payments.confidence is None and payments.inclusion < 0.9
    assert any(e.startswith("not found in the values: the values violate it") for e in payments.evidence)
    assert by_from[("order_items", ("product_id",))].source == "discovered"

    ctx = run.context
    assert ctx.key_agreement == agreement
    assert any(w.startswith("order_items.order_id: 1 value(s) (e.g. 9999) in 4 row(s) not found in orders.id "
                            "although the source declares the foreign key") for w in ctx.warnings)
    md = ctx.to_markdown()
    line = next(x for x in md.splitlines() if x.startswith("Declared keys:"))
    assert line.startswith(f"Declared keys: {agreement.summary}. With orphans: order_items.order_id -> orders.id")
    assert "Not found: payments.order_ref -> orders.id (the values violate it" in line
    assert "Not declared: order_items.product_id -> products.id; " in line
    # the quality step treats an orphan of a declared key as an error, reusing the exact count
    orphaned = next(r for r in run.results["quality_assessment"].tables["order_items"].results
                    if r.check == "orphaned_reference" and r.columns == ("order_id",))
    assert orphaned.severity == "error" and orphaned.failing_rows == 4


def test_a_discovered_key_contradicting_a_declared_one_is_reported_not_added(tmp_path):
    """The database says orders.account_id references customers; the values say accounts."""
    db = tmp_path / "c.sqlite"
    rng = random.Random(9)
    with sqlite3.connect(db) as con:
        con.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE accounts (account_id INTEGER PRIMARY KEY, tier TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES customers (id));
        """)
        con.executemany("INSERT INTO customers VALUES (?, ?)", [(i, f"c{i}") for i in range(1, 31)])
        con.executemany("INSERT INTO accounts VALUES (?, ?)", [(i, "gold") for i in range(1000, 1300)])
        con.executemany("INSERT INTO orders VALUES (?, ?)", [(i, rng.randint(1000, 1299)) for i in range(1, 501)])
    run = dc.run("default", sources=[str(db)], workspace=str(tmp_path / "ws"))
    topo = run.results["topology_enrichment"]
    assert [(r.from_table, r.to_table, r.source) for r in topo.relationships] == [("orders", "customers", "declared")]
    [undeclared] = topo.key_agreement.undeclared
    assert undeclared.to_table == "accounts"
    assert undeclared.note == "the source declares another target for these columns"
    [not_found] = topo.key_agreement.not_found
    assert not_found.note.startswith("the values violate it: ")


def test_no_agreement_without_declared_keys(tmp_path):
    frames, _, _ = lines_frames()
    assert discover(tmp_path, **frames).key_agreement is None
