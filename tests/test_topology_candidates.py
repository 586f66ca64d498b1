"""relationship_candidates: the pairs worth measuring, found from hand-made statistics and the
names alone, without DuckDB; and the nodes of the topology step in the DAG."""

from __future__ import annotations

import pickle

import duckdb
import pytest

import dataraum_context as dc
from dataraum_context import sample, sql
from dataraum_context.dataflows.topology import relationship_candidates
from dataraum_context.models import (
    ColumnStatistics,
    Relationship,
    ResolvedColumn,
    ResolvedTable,
    StagingResult,
    StatisticsResult,
    TableStatistics,
    TypeResolutionResult,
)
from dataraum_context.topology.models import (
    Candidate,
    ColumnTuple,
    RelationshipCandidates,
)


def stats(name: str, data_type: str, rows: int, distinct: int, lo: object = None, hi: object = None,
          max_length: int | None = None) -> ColumnStatistics:
    """What statistics_profiling says about a column without nulls."""
    return ColumnStatistics(name=name, data_type=data_type, count=rows, null_count=0, null_ratio=0.0,
                            distinct_count=distinct, distinct_approximate=False, uniqueness=distinct / rows,
                            min=lo, max=hi, max_length=max_length)


def world(**tables: list[ColumnStatistics]) -> tuple[StatisticsResult, TypeResolutionResult]:
    """The statistics and typed tables of these columns (no file behind them)."""
    statistics = StatisticsResult(tables={
        name: TableStatistics(name=name, row_count=cols[0].count, columns={c.name: c for c in cols})
        for name, cols in tables.items()})
    types = TypeResolutionResult(tables={
        name: ResolvedTable(name=name, path=f"typed/{name}.parquet", quarantine_path=None, row_count=cols[0].count,
                            source_rows=cols[0].count, quarantined_values=0, rejected_rows=0,
                            columns={c.name: ResolvedColumn(name=c.name, data_type=c.data_type,
                                                            source_type=c.data_type, resolved_by="source")
                                     for c in cols})
        for name, cols in tables.items()})
    return statistics, types


@pytest.fixture
def shop() -> tuple[StatisticsResult, TypeResolutionResult]:
    return world(
        customers=[stats("customer_id", "BIGINT", 200, 200, 1, 200), stats("name", "VARCHAR", 200, 195)],
        products=[stats("id", "BIGINT", 500, 500, 1, 500), stats("title", "VARCHAR", 500, 500)],
        accounts=[stats("account_id", "BIGINT", 300, 300, 1_000_000, 900_000_000)],
        orders=[stats("order_id", "BIGINT", 1000, 1000, 1, 1000), stats("customer_id", "BIGINT", 1000, 180, 1, 200),
                stats("quantity", "INTEGER", 1000, 10, 1, 10)],
        returns=[stats("customer_id", "BIGINT", 100, 100, 5000, 6000)],  # the same name, other values
        events=[stats("batch", "BIGINT", 400, 250, 2_000_000, 800_000_000)],
        order_lines=[stats("order_id", "BIGINT", 700, 300, 1, 300), stats("line_no", "INTEGER", 700, 4, 1, 4),
                     stats("sku", "VARCHAR", 700, 90, max_length=8)],
        shipments=[stats("shipment_id", "BIGINT", 900, 900, 1, 900), stats("order_id", "BIGINT", 900, 280, 1, 300),
                   stats("line_no", "INTEGER", 900, 4, 1, 4)],
    )


def single(c: RelationshipCandidates) -> dict[tuple[str, str], Candidate]:
    return {(c.sides[p.ref].label, c.sides[p.key].label): p for p in c.pairs}


def test_a_reference_by_name_is_a_candidate_a_small_integer_inside_a_dense_key_is_not(shop):
    c = relationship_candidates(*shop)
    pairs = single(c)
    by_name = pairs[("orders.customer_id", "customers.customer_id")]
    assert by_name.names.score == 1.0 and by_name.upper_bound == 1.0 and by_name.key_is_own
    # quantity 1..10 fits inside every dense 1..N key, but nothing says it references one
    assert not [key for ref, key in pairs if ref == "orders.quantity"]
    # a dense key is reached only by name: nothing references products.id here
    assert not [ref for ref, key in pairs if key == "products.id"]
    assert c.own_keys["customers"] == ("customer_id",) and c.own_keys["products"] == ("id",)


def test_values_alone_make_a_candidate_of_a_sparse_key(shop):
    """250 values inside 300 keys spread over 900 million: no name needed."""
    pairs = single(relationship_candidates(*shop))
    batch = pairs[("events.batch", "accounts.account_id")]
    assert batch.names.score == 0 and batch.upper_bound == 1.0


def test_a_range_that_cannot_fit_is_pruned_whatever_the_name(shop):
    pairs = single(relationship_candidates(*shop))
    assert ("orders.customer_id", "customers.customer_id") in pairs
    assert ("returns.customer_id", "customers.customer_id") not in pairs


def test_a_pair_of_key_like_columns_is_a_composite_candidate(shop):
    """Both directions: which pair is unique is counted by DuckDB when measured, not here."""
    c = relationship_candidates(*shop)
    sides = [(c.sides[p.ref], c.sides[p.key]) for p in c.composites]
    assert {(ref.label, key.label) for ref, key in sides} == {
        ("shipments.(order_id, line_no)", "order_lines.(order_id, line_no)"),
        ("order_lines.(order_id, line_no)", "shipments.(order_id, line_no)")}
    assert all(isinstance(s, ColumnTuple) and s.distinct == 0 for pair in sides for s in pair)
    assert all(p.names.score == 1.0 for p in c.composites)


def test_each_declared_key_gets_the_pair_that_measures_it(shop):
    declared = (
        Relationship(from_table="orders", from_columns=("customer_id",), to_table="customers",
                     to_columns=("customer_id",), source="declared"),
        Relationship(from_table="orders", from_columns=("quantity",), to_table="products", to_columns=("id",),
                     source="declared"),
        Relationship(from_table="orders", from_columns=("customer_id",), to_table="nowhere", to_columns=("id",),
                     source="declared"),
    )
    c = relationship_candidates(*shop, staging=StagingResult(tables={}, declared_relationships=declared))
    discovered, made, unknown = c.declared
    assert discovered == single(c)[("orders.customer_id", "customers.customer_id")]
    assert made is not None and not made.discovered
    assert (c.sides[made.ref].label, c.sides[made.key].label) == ("orders.quantity", "products.id")
    assert unknown is None


def test_candidates_are_found_without_duckdb_and_pickle_and_round_trip_as_json(shop, monkeypatch):
    def no_duckdb(*args, **kwargs):
        raise AssertionError("relationship_candidates opened DuckDB")

    monkeypatch.setattr(duckdb, "connect", no_duckdb)
    monkeypatch.setattr(sql, "connect", no_duckdb)
    c = relationship_candidates(*shop)
    assert pickle.loads(pickle.dumps(c)) == c
    assert RelationshipCandidates.model_validate_json(c.model_dump_json()) == c


def test_the_nodes_inside_the_step_go_with_it():
    def nodes(**config) -> dict[str, dict]:
        return {n.name: n.tags for n in dc.driver("default", cache=False, **config).list_available_variables()}

    inside = {"relationship_candidates", "measured_relationships"}
    full = nodes()
    assert {full[name]["step"] for name in inside} == {"topology_enrichment"}
    assert not any("phase" in full[name] for name in inside)  # not steps of their own
    assert not inside & set(nodes(skip_steps=["topology_enrichment"]))


@pytest.mark.e2e
@pytest.mark.parametrize("cache", [True, False])
def test_the_step_counts_no_tables_for_its_intermediate_nodes(tmp_path, cache):
    """The run record counts tables for the per-table steps only."""
    run = dc.run("default", sources=[str(sample.shop_dir())], workspace=str(tmp_path / "ws"), cache=cache)
    counts = {s.name: (s.tables_computed, s.tables_cached) for s in run.steps}
    assert counts["topology_enrichment"] == (0, 0)
    assert counts["statistics_profiling"] == (4, 0)
