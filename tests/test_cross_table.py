"""cross_table_multicollinearity: a known linear dependency across two joined tables, VIFs,
condition indices and variance-decomposition proportions, against numpy on the same data."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_info

from dataraum_context.dataflows import cross_table
from dataraum_context.dataflows.cross_table import cross_table_multicollinearity
from dataraum_context.delivery.render import to_markdown
from dataraum_context.models import ContextDocument, MulticollinearityReport
from dataraum_context.sample import schemas

from support.steps import statistics_profiling, topology_enrichment


def analyse(root: Path, frames: dict[str, pl.DataFrame], **kwargs) -> MulticollinearityReport:
    types = schemas.Schema(seed=0, style="test", tables=frames).workspace(root)
    stats = statistics_profiling(types, str(root))
    topo = topology_enrichment(stats, types, str(root))
    return cross_table_multicollinearity(topo, types, stats, str(root), **kwargs)


def invoices_and_payments(n_invoices: int = 300, n_payments: int = 1000, noise: float = 0.0):
    rng = random.Random(1)
    subtotal = [round(rng.uniform(10, 500), 2) for _ in range(n_invoices)]
    invoice_of = [rng.randrange(n_invoices) for _ in range(n_payments)]
    tax = [round(rng.uniform(1, 40), 2) for _ in range(n_payments)]
    total = [subtotal[i] + t + rng.gauss(0, noise) for i, t in zip(invoice_of, tax, strict=True)]
    return {
        "invoices": pl.DataFrame({"invoice_id": range(1, n_invoices + 1), "subtotal": subtotal,
                                  "weight_kg": [rng.uniform(0, 9) for _ in range(n_invoices)]}),
        "payments": pl.DataFrame({"payment_id": range(1, n_payments + 1),
                                  "invoice_id": [i + 1 for i in invoice_of], "tax": tax, "total": total,
                                  "tip": [rng.uniform(0, 5) for _ in range(n_payments)]}),
    }


def test_exact_dependency_across_two_joined_tables(tmp_path):
    report = analyse(tmp_path, invoices_and_payments())
    (analysis,) = report.analyses
    assert analysis.base_table == "payments" and analysis.tables == ("payments", "invoices")
    assert analysis.rows == 1000 and not analysis.sampled
    vif = {c.column: c.vif for c in analysis.columns}
    assert set(vif) == {"payments.tax", "payments.total", "payments.tip", "invoices.subtotal", "invoices.weight_kg"}
    assert vif["payments.total"] is None and vif["invoices.subtotal"] is None and vif["payments.tax"] is None
    assert vif["payments.tip"] == pytest.approx(1, abs=0.05)
    (group,) = report.dependency_groups
    assert group.columns[0] == "payments.total"
    assert set(group.columns) == {"payments.total", "payments.tax", "invoices.subtotal"}
    assert set(group.tables) == {"payments", "invoices"}
    assert group.condition_index is None and group.r2 == pytest.approx(1)
    assert "1·payments.tax" in group.equation and "1·invoices.subtotal" in group.equation
    assert all(p > 0.99 for p in group.variance_proportions.values())
    assert analysis.condition_indices[0] == pytest.approx(1) and analysis.condition_indices[-1] is None
    assert "JOIN" in analysis.join_sql


def test_a_unique_key_is_joined_as_it_is_and_a_repeating_one_deduplicated(tmp_path):
    """Topology counted the invoices' keys: unique, they join without a DISTINCT ON; with one
    repeated (tolerated as a key), deduplicated, so the join still gives one row per payment."""
    frames = invoices_and_payments()
    (analysis,) = analyse(tmp_path / "unique", frames).analyses
    assert "DISTINCT ON" not in analysis.join_sql and analysis.rows == 1000
    repeated = pl.concat([frames["invoices"], frames["invoices"].head(1)])
    (analysis,) = analyse(tmp_path / "repeated", {**frames, "invoices": repeated}).analyses
    assert 'DISTINCT ON ("invoice_id")' in analysis.join_sql and analysis.rows == 1000


def test_the_algebra_runs_with_blas_on_one_thread(tmp_path, monkeypatch):
    """Small matrices: BLAS threads would only wait for each other (and for a busy machine)."""
    seen = []
    real = cross_table._analyse

    def spy(*args, **kwargs):
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
        return real(*args, **kwargs)

    monkeypatch.setattr(cross_table, "_analyse", spy)
    analyse(tmp_path, invoices_and_payments())
    assert seen == [{1}]


def test_near_dependency_matches_numpy(tmp_path):
    frames = invoices_and_payments(noise=0.5)
    report = analyse(tmp_path, frames)
    (analysis,) = report.analyses
    # the same joined matrix, by hand
    joined = frames["payments"].join(frames["invoices"], on="invoice_id", how="left")
    labels = [c.column for c in analysis.columns]
    x = joined.select([label.split(".")[1] for label in labels]).to_numpy()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    expected_vif = np.diag(np.linalg.inv(np.corrcoef(x, rowvar=False)))
    for column, expected in zip(analysis.columns, expected_vif, strict=True):
        assert column.vif == pytest.approx(expected, rel=1e-6)
    s = np.linalg.svd(z, compute_uv=False)
    assert analysis.condition_indices[-1] == pytest.approx(s[0] / s[-1], rel=1e-6)
    assert analysis.condition_indices[-1] >= 30
    proportions = np.array(analysis.variance_proportions)
    assert proportions.sum(axis=0) == pytest.approx(np.ones(len(labels)), abs=1e-5)  # rounded to 6 places
    (group,) = report.dependency_groups
    assert set(group.columns) == {"payments.total", "payments.tax", "invoices.subtotal"}
    assert 0.99 < group.r2 < 1 and group.condition_index >= 30


def test_large_base_tables_are_sampled(tmp_path):
    report = analyse(tmp_path, invoices_and_payments(), multicollinearity_max_rows=200)
    (analysis,) = report.analyses
    assert analysis.sampled and analysis.rows == 200
    assert report.dependency_groups[0].condition_index is None


def test_no_dependency_no_group(tmp_path):
    frames = invoices_and_payments()
    frames["payments"] = frames["payments"].drop("total")
    (analysis,) = analyse(tmp_path, frames).analyses
    assert analysis.dependency_groups == ()
    assert all(c.vif is not None and c.vif < 1.2 for c in analysis.columns)


def star(n_sales: int = 4000) -> dict[str, pl.DataFrame]:
    """A small TPC-DS-like star: a sales fact whose list price is a linear combination of three
    dimensions' attributes (1.5 × the item's price + the store's handling fee - the promotion's
    discount, to the cent), beside measures and attributes that depend on nothing."""
    rng = random.Random(7)
    price = [round(rng.uniform(1, 100), 2) for _ in range(200)]
    fee = [round(rng.uniform(0, 9), 2) for _ in range(12)]
    discount = [round(rng.uniform(0, 5), 2) for _ in range(30)]
    item, store, promo = ([rng.randrange(n) for _ in range(n_sales)] for n in (200, 12, 30))
    return {
        "item": pl.DataFrame({"i_item_sk": range(1, 201), "i_current_price": price,
                              "i_weight": [round(rng.uniform(0.1, 20), 1) for _ in range(200)]}),
        "store": pl.DataFrame({"s_store_sk": range(1, 13), "s_handling_fee": fee}),
        "promotion": pl.DataFrame({"p_promo_sk": range(1, 31), "p_discount": discount}),
        "store_sales": pl.DataFrame({
            "ss_ticket_number": range(1, n_sales + 1),
            "ss_item_sk": [i + 1 for i in item], "ss_store_sk": [s + 1 for s in store],
            "ss_promo_sk": [p + 1 for p in promo],
            "ss_quantity": [rng.randrange(1, 100) for _ in range(n_sales)],
            "ss_list_price": [round(1.5 * price[i] + fee[s] - discount[p], 2)
                              for i, s, p in zip(item, store, promo, strict=True)],
        }),
    }


@pytest.mark.parametrize("max_rows", [100_000, 1_000])
def test_fact_measure_from_dimension_attributes_in_a_star(tmp_path, max_rows):
    report = analyse(tmp_path, star(), multicollinearity_max_rows=max_rows)
    (analysis,) = [a for a in report.analyses if a.base_table == "store_sales"]
    assert set(analysis.tables) == {"store_sales", "item", "store", "promotion"}
    assert analysis.sampled == (max_rows < 4000) and analysis.rows == min(max_rows, 4000)
    (group,) = report.dependency_groups
    assert group.columns[0] == "store_sales.ss_list_price"
    assert set(group.columns) == {"store_sales.ss_list_price", "item.i_current_price", "store.s_handling_fee",
                                  "promotion.p_discount"}
    assert group.r2 > 0.9999 and (group.condition_index is None or group.condition_index >= 30)
    assert "1.5·item.i_current_price" in group.equation and "- 1·promotion.p_discount" in group.equation
    vif = {c.column: c.vif for c in analysis.columns}
    assert vif["store_sales.ss_quantity"] == pytest.approx(1, abs=0.05)
    assert vif["store_sales.ss_list_price"] is None or vif["store_sales.ss_list_price"] > 1e4


def test_a_sample_is_stated_and_the_same_on_every_run(tmp_path):
    reports = [analyse(tmp_path / name, star(), multicollinearity_max_rows=1_000) for name in ("a", "b")]
    assert reports[0] == reports[1]
    (analysis,) = [a for a in reports[0].analyses if a.base_table == "store_sales"]
    assert (analysis.sampled, analysis.sample_rows, analysis.base_rows, analysis.rows) == (True, 1_000, 4_000, 1_000)
    (group,) = reports[0].dependency_groups
    assert group.evidence == ("fitted on 1,000 complete rows of a reservoir sample of 1,000 of the 4,000 rows of "
                              "store_sales (seed 42) and the tables it references",)
    assert report_markdown_line(reports[0]).endswith("(seed 42) and the tables it references)")


def report_markdown_line(report: MulticollinearityReport) -> str:
    doc = ContextDocument(pipeline="test", generated_at=datetime.now(), tables=(),
                          dependency_groups=report.dependency_groups)
    (line,) = [ln for ln in to_markdown(doc).splitlines() if ln.startswith("- store_sales.ss_list_price")]
    return line


def test_a_joined_column_null_in_most_rows_is_left_out_not_its_rows(tmp_path):
    """Only 3 of 12 stores have closed, so the attributes of their closing date are null in
    most sales: analysing them would leave a quarter of the rows."""
    frames = star()
    rng = random.Random(3)
    frames["date_dim"] = pl.DataFrame({"d_date_sk": range(2450815, 2451815),
                                       "d_temperature": [round(rng.uniform(-5, 35), 1) for _ in range(1000)]})
    frames["store"] = frames["store"].with_columns(
        pl.Series("s_closed_date_sk", [None] * 9 + [2450900, 2451200, 2451700]))
    report = analyse(tmp_path, frames)
    (analysis,) = [a for a in report.analyses if a.base_table == "store_sales"]
    assert analysis.left_out == ("date_dim.d_temperature",)  # a measure (a week is a code)
    assert analysis.rows == 4_000
    (group,) = report.dependency_groups
    assert group.evidence == ("fitted on 4,000 complete rows of 4,000 in store_sales and the tables it references",)


def test_only_measures_are_analysed(tmp_path):
    """Codes and identifiers (a unique integer, a `*_sk` the discovery did not link, a 0/1 flag)
    are no quantities: a dependency among them would mean nothing."""
    frames = star()
    frames["store_sales"] = frames["store_sales"].with_columns(
        pl.Series("ss_line_id", [7 * i + 3 for i in range(4000)]),
        pl.Series("ss_cashier_sk", [1 + i % 17 for i in range(4000)]),
        pl.Series("ss_is_member", [i % 2 for i in range(4000)]))
    (analysis,) = [a for a in analyse(tmp_path, frames).analyses if a.base_table == "store_sales"]
    assert {c.column for c in analysis.columns} == {
        "store_sales.ss_quantity", "store_sales.ss_list_price", "item.i_current_price", "item.i_weight",
        "store.s_handling_fee", "promotion.p_discount"}
