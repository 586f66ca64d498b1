"""Facts that hold above `exact_up_to_rows`: keys, foreign keys and their cardinalities decided
on exact counts, and no distinct count above the values it counts."""

from __future__ import annotations

import random
import tempfile

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dataraum_context as dc
from dataraum_context import settings as defaults
from dataraum_context.dataflows import topology as _topology
from dataraum_context.sample import large, schemas

from support.steps import statistics_profiling


def test_a_shop_above_the_old_limit_links_orders_to_customers_many_to_one(tmp_path):
    """300k order items, 100k orders, 10k customers: the item and order keys are above the
    statistics' exact limit. Before, their estimated distinct counts made every dense key look
    sparse, so `products.product_id -> order_items.order_item_id` came with confidence 1.00."""
    shop = large.shop(tmp_path, orders=100_000)
    assert shop.rows["order_items"] > defaults.EXACT_UP_TO_ROWS
    stats = statistics_profiling(shop.types, str(tmp_path))
    items = stats.tables["order_items"].columns
    assert not items["order_item_id"].distinct_approximate and items["order_item_id"].distinct_count == \
        shop.rows["order_items"]
    # a third of its values distinct: counted exactly too, by the grouping that finds its top values
    assert (items["order_id"].distinct_count, items["order_id"].distinct_approximate) == (shop.rows["orders"], False)
    candidates = _topology.relationship_candidates(stats, shop.types)
    measured = _topology.measured_relationships(candidates, shop.types, str(tmp_path))
    topo = _topology.topology_enrichment(candidates, measured, shop.types)
    found = {(r.from_table, r.from_columns, r.to_table, r.to_columns): r for r in topo.relationships}
    assert set(found) == shop.truth
    assert {r.cardinality for r in found.values()} == {"many_to_one"}
    orders = found[("orders", ("customer_id",), "customers", ("customer_id",))]
    assert (orders.inclusion, orders.orphan_values, orders.orphan_rows) == (1.0, 0, 0)
    assert any("10,000 of 10,000 distinct values" in e for e in orders.evidence)
    items_orders = found[("order_items", ("order_id",), "orders", ("order_id",))]
    assert any("100,000 of 100,000 distinct values" in e for e in items_orders.evidence)
    paths = {(p.from_table, p.to_table) for p in topo.join_paths}
    assert {("order_items", "orders"), ("order_items", "products")} <= paths, paths


@st.composite
def referencing_frames(draw) -> dict[str, pl.DataFrame]:
    """A key table (its key repeating a few values, or none) and a table referencing it, with
    orphans and nulls, of a few hundred to a few thousand rows."""
    rng = random.Random(draw(st.integers(0, 10**6)))
    keys = rng.sample(range(1, draw(st.integers(2001, 10**7))), draw(st.integers(20, 2000)))
    repeated = keys + keys[: draw(st.integers(0, 3))]
    orphans = [max(keys) + i for i in range(1, draw(st.integers(0, 50)) + 1)]
    rows = draw(st.integers(10, 3000))
    refs = [None if rng.random() < 0.05 else rng.choice(keys + orphans) for _ in range(rows)]
    return {"accounts": pl.DataFrame({"account_id": repeated, "name": [f"a{k % 97}" for k in repeated]}),
            "transfers": pl.DataFrame({"transfer_id": range(1, rows + 1), "account_id": refs,
                                       "memo": [f"m{rng.randrange(rows)}" for _ in range(rows)]})}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=referencing_frames(), exact_up_to_rows=st.sampled_from([0, 100, 10**6]))
def test_no_distinct_count_exceeds_the_values_it_counts(frames, exact_up_to_rows):
    with tempfile.TemporaryDirectory() as root:
        types = schemas.Schema(seed=0, style="test", tables=frames).workspace(root)
        stats = statistics_profiling(types, root, exact_up_to_rows=exact_up_to_rows)
        for name, table in stats.tables.items():
            for column, s in table.columns.items():
                truth = frames[name][column].drop_nulls().n_unique()
                assert s.distinct_count <= s.count - s.null_count <= table.row_count
                assert s.uniqueness <= 1
                if not s.distinct_approximate:
                    assert s.distinct_count == truth
                if truth * 2 >= s.count - s.null_count:  # may be unique: counted exactly
                    assert not s.distinct_approximate
        candidates = _topology.relationship_candidates(stats, types)
        measured = _topology.measured_relationships(candidates, types, root)
        for side in measured.sides:
            assert side.distinct <= side.non_null
        for p in measured.pairs:
            assert p.included <= min(p.ref_distinct, p.key_distinct)
            assert p.ref_distinct <= measured.sides[p.ref].non_null
            assert p.key_distinct <= measured.sides[p.key].non_null


def test_above_the_limit_the_context_shows_exact_distinct_counts(tmp_path):
    """Every column is grouped for its top values, which counts its distinct values exactly: no
    estimate ("~") is left to mark."""
    frame = pl.DataFrame({"order_id": range(1, 2001), "customer_id": [i % 150 for i in range(2000)]})
    run = dc.run("quick_profile", sources={"orders": frame}, workspace=str(tmp_path / "ws"), exact_up_to_rows=1000)
    text = run.context.to_markdown()
    assert "| customer_id | BIGINT | 0% | 150 |" in text and "~" not in text
    assert "| order_id | BIGINT | 0% | 2,000 unique |" in text
