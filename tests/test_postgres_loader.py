"""The PostgreSQL loader against a real server: schema filter, types, declared keys, streaming
in batches, credentials from the environment and nowhere else."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

import dataraum_context as dc
from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import resolve_sources
from dataraum_context.workspace import Workspace

from conftest import cli

pytestmark = pytest.mark.e2e  # a real PostgreSQL server

_SHOP = """
DROP SCHEMA IF EXISTS shop CASCADE; DROP SCHEMA IF EXISTS other CASCADE;
CREATE SCHEMA shop; CREATE SCHEMA other;
CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL, tier char(1));
CREATE TABLE shop.orders (
    order_id integer PRIMARY KEY, customer_id bigint REFERENCES shop.customers (id),
    amount numeric(10, 2), ratio numeric, placed_at timestamptz, placed_on date, paid boolean,
    ref uuid, meta jsonb, qty smallint, score real);
CREATE TABLE shop.lines (order_id integer, line_no integer, sku text,
    PRIMARY KEY (order_id, line_no), FOREIGN KEY (order_id) REFERENCES shop.orders (order_id));
CREATE TABLE other.noise (x int);
INSERT INTO shop.customers VALUES (1, 'Ann', 'A'), (2, 'Bob', NULL);
INSERT INTO shop.orders VALUES
    (10, 1, 1234.50, 0.125, '2024-01-05 10:30:00+02', '2024-01-05', true,
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}', 3, 1.5),
    (11, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO shop.lines VALUES (10, 1, 'A-1'), (10, 2, 'B-2');
"""


@pytest.fixture(scope="module")
def shop_db(postgres):
    postgres.execute(_SHOP)
    return postgres


def test_tables_of_one_schema_with_their_types(shop_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", shop_db.password)
    loaders = resolve_sources([shop_db.uri(schema="shop")])
    assert [loader.table for loader in loaders] == ["customers", "lines", "orders"]  # not other.noise
    orders = next(loader for loader in loaders if loader.table == "orders")
    assert {c.name: c.data_type for c in orders.get_schema()} == {
        "order_id": "INTEGER", "customer_id": "BIGINT", "amount": "DECIMAL(10,2)", "ratio": "DOUBLE",
        "placed_at": "TIMESTAMP WITH TIME ZONE", "placed_on": "DATE", "paid": "BOOLEAN",
        "ref": "VARCHAR", "meta": "VARCHAR", "qty": "SMALLINT", "score": "FLOAT"}
    staged = orders.load(Workspace(tmp_path / "ws"))
    assert staged.row_count == 2 and staged.type_system.value == "strong"
    assert any("ratio: numeric without a precision" in w for w in staged.warnings)
    # every row fetched: a result left unfinished on DuckDB's default connection fails later tests' queries
    row = duckdb.execute(f"SET TimeZone = 'UTC'; SELECT amount::VARCHAR, placed_at::VARCHAR, ref, meta "
                         f"FROM read_parquet('{tmp_path / 'ws' / staged.path}') ORDER BY order_id").fetchall()[0]
    assert row == ("1234.50", "2024-01-05 08:30:00+00", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                   '{"k": [1, 2]}')


def test_declared_keys_become_relationships(shop_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", shop_db.password)
    run = dc.run("quick_profile", sources=[shop_db.uri(schema="shop", tables="orders,customers,lines")],
                 workspace=str(tmp_path / "ws"))
    staged = run.results["staging"]
    assert staged.tables["lines"].primary_key == ("order_id", "line_no")
    declared = {(r.from_table, r.from_columns, r.to_table, r.to_columns, r.source)
                for r in run.context.relationships}
    assert declared == {("orders", ("customer_id",), "customers", ("id",), "declared"),
                        ("lines", ("order_id",), "orders", ("order_id",), "declared")}
    assert '"source": "declared"' in run.context.to_json()


def test_a_large_table_is_streamed_in_batches(shop_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", shop_db.password)
    shop_db.execute("CREATE TABLE shop.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 25000) g")
    try:
        [loader] = resolve_sources([shop_db.uri(schema="shop", tables="big")])
        loader.options["batch_rows"] = 4000
        sizes = [b.num_rows for b in loader._batches()]
        assert len(sizes) == 7 and max(sizes) == 4000 and sum(sizes) == 25000
        staged = loader.load(Workspace(tmp_path / "ws"))
        assert staged.row_count == 25000
    finally:
        shop_db.execute("DROP TABLE shop.big")


def test_wrong_password_is_a_clear_error_without_the_password(shop_db, tmp_path, monkeypatch):
    wrong = "Wr0ng-" + shop_db.password[:6]
    monkeypatch.setenv("SHOP_PW", wrong)
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - name: shop\n    source: {shop_db.uri(schema='shop')}\n"
                      "    credentials:\n      password: ${SHOP_PW}\n")
    with pytest.raises(SourceError) as err:
        resolve_sources([str(config)])
    message = str(err.value)
    assert "password authentication failed" in message and shop_db.uri(schema="shop") in message
    assert wrong not in message and shop_db.password not in message
    result = cli("run", str(config), "--workspace", str(tmp_path / "ws"))
    assert result.code == 2 and "password authentication failed" in result.err
    assert wrong not in result.err + result.out


def test_credentials_never_reach_the_workspace(shop_db, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("SHOP_PW", shop_db.password)
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - name: shop\n    source: {shop_db.uri(schema='shop')}\n"
                      "    credentials:\n      password: ${SHOP_PW}\n")
    ws = tmp_path / "ws"
    for _ in range(2):  # a second run goes through Hamilton's cache
        result = cli("run", str(config), "--workspace", str(ws), "--out", str(tmp_path / "ctx.json"))
        assert result.code == 0, result.err
    assert shop_db.password not in result.err + result.out
    assert len(list(ws.rglob("*"))) > 5
    # the password as a fixed pattern: one starting with "-" is no option
    found = subprocess.run(["grep", "-r", "-l", "-a", "-F", "-e", shop_db.password, str(ws),
                            str(tmp_path / "ctx.json")], capture_output=True, text=True)
    assert found.returncode == 1 and found.stdout == "", found.stdout


def test_a_password_in_the_uri_is_refused(shop_db):
    uri = f"postgresql://dataraum:{shop_db.password}@127.0.0.1:{shop_db.port}/postgres"
    with pytest.raises(dc.ConfigError, match="a password in the URI is not accepted") as err:
        resolve_sources([uri])
    assert shop_db.password not in str(err.value)


def test_an_unreachable_server_sinks_only_itself(shop_db, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", shop_db.password)
    (data_dir / "a.csv").write_text("x\n1\n")
    dead = f"postgresql://dataraum@127.0.0.1:{_closed_port()}/postgres"
    result = cli("run", str(data_dir / "a.csv"), dead, "--workspace", str(tmp_path / "ws"),
                 "--out", str(tmp_path / "ctx.md"))
    assert result.code == 1
    assert f"source {dead} was not staged" in result.err and "incomplete" in result.err
    context = Path(tmp_path / "ctx.md").read_text()
    assert "## a (1 rows" in context and "incomplete: source " + dead in context


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
