"""The bundled shop sample: shipped as generated, with exactly the documented defects."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dataraum_context import sample


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """The shipped CSVs as text views (all VARCHAR: the defects must stay visible)."""
    con = duckdb.connect(":memory:")
    for name in sample.TABLES:
        path = str(sample.shop_dir() / f"{name}.csv").replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{path}', all_varchar=true, "
                    "header=true, delim=',', quote='\"')")
    yield con
    con.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def test_shipped_files_are_the_generated_files(tmp_path: Path):
    written = sample.generate(tmp_path)
    assert [p.name for p in written] == [f"{name}.csv" for name in sample.TABLES]
    for path in written:
        shipped = sample.shop_dir() / path.name
        assert shipped.read_bytes() == path.read_bytes(), (
            f"{shipped} differs from generate() output: regenerate the sample")
    assert sorted(p.name for p in sample.shop_dir().glob("*.csv")) == sorted(p.name for p in written)


def test_generation_is_deterministic(tmp_path: Path):
    a = [p.read_bytes() for p in sample.generate(tmp_path / "a")]
    b = [p.read_bytes() for p in sample.generate(tmp_path / "b")]
    assert a == b


def test_sizes_and_columns(con):
    counts = {name: _one(con, f"SELECT count(*) FROM {name}") for name in sample.TABLES}
    assert counts["customers"] == 61 and counts["products"] == 25 and counts["orders"] == 200
    assert 400 <= counts["order_items"] <= 600
    cols = {name: [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()] for name in sample.TABLES}
    assert cols["customers"] == ["customer_id", "name", "email", "country", "postal_code",
                                 "signup_date", "is_active"]
    assert cols["orders"] == ["order_id", "customer_id", "order_date", "status", "shipped_date", "amount"]


def test_null_token_variants(con):
    assert _one(con, "SELECT count(*) FROM customers WHERE country = 'N/A'") == 3
    assert _one(con, "SELECT count(*) FROM orders WHERE shipped_date = '-'") == 2
    # next to the token variants, plain empty values (read as NULL)
    assert _one(con, "SELECT count(*) FROM customers WHERE email IS NULL") == 2
    assert _one(con, "SELECT count(*) FROM orders WHERE shipped_date IS NULL") > 0


def test_one_unparseable_order_date(con):
    bad = con.execute("SELECT order_id, order_date FROM orders "
                      "WHERE try_cast(order_date AS DATE) IS NULL").fetchall()
    assert len(bad) == 1 and bad[0][1] == sample.DEFECTS["unparseable_date"][2]
    # every other date in the sample parses
    for table, column in [("customers", "signup_date"), ("orders", "shipped_date")]:
        assert _one(con, f"SELECT count(*) FROM {table} WHERE {column} NOT IN ('-') "
                         f"AND try_cast({column} AS DATE) IS NULL") == 0


def test_one_duplicated_customer_id(con):
    dups = con.execute("SELECT customer_id, count(*) FROM customers GROUP BY 1 HAVING count(*) > 1").fetchall()
    assert dups == [(str(sample.DEFECTS["duplicated_key"][2]), 2)]
    for table, key in [("products", "product_id"), ("orders", "order_id"), ("order_items", "order_item_id")]:
        assert _one(con, f"SELECT count(*) - count(DISTINCT {key}) FROM {table}") == 0


def test_one_order_with_a_missing_customer(con):
    orphans = con.execute("SELECT o.order_id, o.customer_id FROM orders o "
                          "ANTI JOIN customers c ON o.customer_id = c.customer_id").fetchall()
    assert len(orphans) == 1 and orphans[0][1] == str(sample.DEFECTS["orphan_foreign_key"][2])
    # the other foreign keys all resolve
    assert _one(con, "SELECT count(*) FROM order_items i ANTI JOIN orders o USING (order_id)") == 0
    assert _one(con, "SELECT count(*) FROM order_items i ANTI JOIN products p USING (product_id)") == 0


def test_realistic_values(con):
    assert _one(con, "SELECT count(*) FROM customers WHERE postal_code LIKE '0%'") > 0
    assert _one(con, "SELECT count(*) FROM customers WHERE length(postal_code) <> 5") == 0
    assert {r[0] for r in con.execute("SELECT DISTINCT is_active FROM customers").fetchall()} == {"0", "1"}
    assert _one(con, "SELECT count(DISTINCT status) FROM orders") <= 6
    assert _one(con, "SELECT count(*) FROM products WHERE NOT regexp_full_match(unit_price, '\\d+\\.\\d{2}')") == 0
    # an order's amount is the sum of its items' amounts
    assert _one(con, """
        SELECT count(*) FROM orders o JOIN (
            SELECT order_id, sum(amount::DECIMAL(12, 2)) AS total FROM order_items GROUP BY 1
        ) i USING (order_id) WHERE o.amount::DECIMAL(12, 2) <> i.total""") == 0
    assert _one(con, "SELECT count(*) FROM order_items i JOIN products p USING (product_id) "
                     "WHERE i.unit_price <> p.unit_price") == 0
