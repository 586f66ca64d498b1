"""The one DuckDB layer (`sql.py`): the family of every DuckDB type, connections in UTC with
their limits, the typed tables as views under one naming scheme, and results that are data."""

from __future__ import annotations

import ast
import datetime as dt
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dataraum_context as dc
from dataraum_context import sql
from dataraum_context.errors import ConfigError
from dataraum_context.sql import Family, family
from dataraum_context.workspace import Workspace

# Types DuckDB lists (`duckdb_types()`) that need their parameters to be a column's type.
_WITH_PARAMETERS = {"array": "INTEGER[3]", "list": "INTEGER[]", "map": "MAP(VARCHAR, INTEGER)",
                    "union": "UNION(a INTEGER, b VARCHAR)", "enum": "ENUM('a', 'b')",
                    "struct": "STRUCT(a INTEGER)", "row": "STRUCT(a INTEGER)"}
_NOT_A_COLUMN_TYPE = {"null", "type", "tuple"}  # pseudo types: no table holds them


def _duckdb_type_names() -> list[str]:
    with duckdb.connect() as con:
        return sorted({name for (name,) in con.execute("SELECT type_name FROM duckdb_types()").fetchall()})


def _described(con: duckdb.DuckDBPyConnection, declared: str) -> str:
    con.execute(f"CREATE OR REPLACE TABLE t (x {declared})")
    return con.execute("DESCRIBE t").fetchall()[0][1]


def test_every_type_duckdb_knows_has_a_family_whatever_its_spelling():
    names = [n for n in _duckdb_type_names() if n.lower() not in _NOT_A_COLUMN_TYPE]
    assert len(names) > 60  # the list is DuckDB's own, not ours
    with duckdb.connect() as con:
        for name in names:
            declared = _WITH_PARAMETERS.get(name.lower(), name)
            described = _described(con, declared)
            assert family(described) is not Family.OTHER, (name, described)
            assert family(declared) is family(described), (name, described)


@pytest.mark.parametrize(("data_type", "expected"), [
    ("TIMESTAMP WITH TIME ZONE", Family.TIMESTAMP), ("TIMESTAMPTZ", Family.TIMESTAMP),
    ("TIMESTAMPTZ_NS", Family.TIMESTAMP), ("TIMESTAMP_NS", Family.TIMESTAMP), ("TIMESTAMP_MS", Family.TIMESTAMP),
    ("TIMESTAMP_S", Family.TIMESTAMP), ("TIME_NS", Family.TIME), ("TIME WITH TIME ZONE", Family.TIME),
    ("HUGEINT", Family.INTEGER), ("UHUGEINT", Family.INTEGER), ("UTINYINT", Family.INTEGER),
    ("DECIMAL(12,2)", Family.DECIMAL), ("REAL", Family.FLOAT), ("double", Family.FLOAT),
    ("TEXT", Family.TEXT), ("STRING", Family.TEXT), ("BLOB", Family.BINARY), ("UUID", Family.UUID),
    ("ENUM('a', 'b')", Family.ENUM), ("INTERVAL", Family.INTERVAL), ("INTEGER[]", Family.NESTED),
    ("STRUCT(a INTEGER)[]", Family.NESTED), ("MAP(VARCHAR, INTEGER)", Family.NESTED), ("JSON", Family.NESTED),
])
def test_the_family_of_the_types_the_steps_disagreed_on(data_type, expected):
    assert family(data_type) is expected


@settings(deadline=None, max_examples=40)  # a DuckDB connection per example, on a busy machine
@given(st.integers(1, 38).flatmap(lambda p: st.tuples(st.just(p), st.integers(0, p))))
def test_a_decimal_holds_whole_numbers_exactly_when_its_scale_is_zero(width_scale):
    width, scale = width_scale
    with duckdb.connect() as con:
        described = _described(con, f"DECIMAL({width},{scale})")
    assert family(described) is Family.DECIMAL
    assert sql.is_number(described)
    assert sql.is_whole_number(described) is (scale == 0)


_SCALARS = st.sampled_from(["BIGINT", "DOUBLE", "VARCHAR", "DATE", "TIMESTAMPTZ", "UUID", "DECIMAL(9,2)"])


def _wrapped(t: str) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{t}[]", f"{t}[2]", f"STRUCT(a {t})", f"MAP(VARCHAR, {t})", f"UNION(a {t}, b INTEGER)"])


_TYPES = st.recursive(_SCALARS, lambda inner: inner.flatmap(_wrapped), max_leaves=4)


@settings(deadline=None, max_examples=40)
@given(_TYPES.flatmap(_wrapped))
def test_a_composite_of_any_types_is_nested(declared):
    with duckdb.connect() as con:
        described = _described(con, declared)
    assert family(described) is Family.NESTED
    assert family(declared) is Family.NESTED


# --- connections ---------------------------------------------------------------------------


@pytest.fixture
def tokyo(monkeypatch):
    """The machine's time zone is Tokyo's (UTC+9) while the test runs."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_every_connection_reads_time_in_utc_whatever_the_machines_zone(tokyo):
    assert duckdb.connect().execute("SELECT current_setting('TimeZone')").fetchone()[0] == "Asia/Tokyo"
    with sql.connect() as con:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
        assert con.execute("SELECT CAST(TIMESTAMPTZ '2024-01-01 23:30:00+00' AS DATE)").fetchone()[0] \
            == dt.date(2024, 1, 1)


def test_memory_and_thread_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATARAUM_DUCKDB_THREADS", "1")
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "300MB")
    with sql.connect() as con:
        threads, memory = con.execute("SELECT current_setting('threads'), current_setting('memory_limit')").fetchone()
    assert threads == 1
    assert memory.startswith("286")  # 300 MB in MiB, as DuckDB reports it


def test_a_bad_limit_is_a_user_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="DATARAUM_DUCKDB_MEMORY_LIMIT='lots'"):
        sql.connect()


@pytest.mark.e2e
def test_a_bad_limit_stops_the_cli_with_one_line_and_exit_2(tmp_path):
    (tmp_path / "t.csv").write_text("id,name\n1,a\n2,b\n")
    env = {**os.environ, "DATARAUM_DUCKDB_MEMORY_LIMIT": "lots"}
    done = subprocess.run([str(Path(sys.executable).with_name("dataraum")), "run", str(tmp_path / "t.csv"),
                           "--pipeline", "quick_profile", "--workspace", str(tmp_path / "ws")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "dataraum: error: DATARAUM_DUCKDB_MEMORY_LIMIT='lots': not a DuckDB memory_limit "
        "(Parser Error: Memory must have a number (e.g. 1GB))"]


def test_bound_values_travel_with_their_sql():
    query = sql.concat("SELECT ", sql.bound(2, "INTEGER"), " * x FROM range(", sql.bound(3, "BIGINT"), ") t(x)")
    assert query.text == "SELECT ?::INTEGER * x FROM range(?::BIGINT) t(x)"
    with sql.connect() as con:
        assert query.run(con).fetchall() == [(0,), (2,), (4,)]


def test_a_typed_table_is_found_even_when_a_temporary_table_shares_its_name(tmp_path):
    path = tmp_path / "kv_int.parquet"
    pq.write_table(pa.table({"v": [1, 2, 3]}), path)
    with sql.connect() as con:
        sql.open_tables(con, {"kv_int": path})
        con.execute("CREATE TEMP TABLE kv_int (v INTEGER)")  # a step's scratch table (topology's)
        assert con.execute(f"SELECT count(*) FROM {sql.typed_table(con, 'kv_int')}").fetchone()[0] == 3


def test_a_session_is_a_connection_of_its_own_that_leaves_nothing_behind(tmp_path, tokyo):
    """Sessions share the process's DuckDB instance but not its views, tables or settings:
    each reads in UTC, sees only the tables it opened (the same name means another file in
    another session), and its database is gone when the block ends."""
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    pq.write_table(pa.table({"v": [1, 2, 3]}), one)
    pq.write_table(pa.table({"v": [10, 20]}), two)
    with sql.session() as a, sql.session() as b:
        sql.open_tables(a, {"t": one})
        sql.open_tables(b, {"t": two})
        a.execute("CREATE TABLE scratch AS SELECT 1 AS x")
        assert a.execute("SELECT sum(v) FROM t").fetchone()[0] == 6
        assert b.execute("SELECT sum(v) FROM t").fetchone()[0] == 30
        with pytest.raises(duckdb.CatalogException):
            b.execute("SELECT * FROM scratch")
        assert a.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
        a.execute("CREATE TEMP TABLE t (v INTEGER)")  # a step's scratch table hides the view ...
        assert a.execute(f"SELECT count(*) FROM {sql.typed_table(a, 't')}").fetchone()[0] == 3  # not this
        own = a.execute("SELECT current_database()").fetchone()[0]
    with sql.session() as c:
        databases = {r[0] for r in c.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
        assert own not in databases and c.execute("SELECT current_database()").fetchone()[0] not in (own, "memory")
        with pytest.raises(duckdb.CatalogException):
            c.execute("SELECT * FROM t")


def test_sessions_take_their_limits_from_the_environment_as_it_is_now(monkeypatch):
    def limits():
        with sql.session() as con:
            return con.execute("SELECT current_setting('threads'), current_setting('memory_limit')").fetchone()

    default = limits()
    monkeypatch.setenv("DATARAUM_DUCKDB_THREADS", "1")
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "300MB")
    threads, memory = limits()
    assert threads == 1 and memory.startswith("286")
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="DATARAUM_DUCKDB_MEMORY_LIMIT='lots'"), sql.session():
        pass
    monkeypatch.delenv("DATARAUM_DUCKDB_THREADS")
    monkeypatch.delenv("DATARAUM_DUCKDB_MEMORY_LIMIT")
    assert limits() == default  # back to DuckDB's own


def test_sessions_in_parallel_threads_each_see_their_own_tables(tmp_path):
    paths = []
    for i in range(8):
        paths.append(tmp_path / f"t{i}.parquet")
        pq.write_table(pa.table({"v": list(range(i + 1))}), paths[-1])

    def rows(i: int) -> int:
        with sql.session() as con:
            sql.open_tables(con, {"t": paths[i]})
            return con.execute("SELECT count(*) FROM t").fetchone()[0]

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(rows, list(range(8)) * 5)) == list(range(1, 9)) * 5


# --- one type family, end to end ------------------------------------------------------------


def _orders_with_an_aware_nanosecond_timestamp(directory: Path) -> Path:
    """A Parquet file as pandas writes tz-aware datetimes: timestamp[ns, tz=UTC], which DuckDB
    reads as TIMESTAMPTZ_NS. Each day at 15:30 UTC: 00:30 the next day in Tokyo."""
    start = dt.datetime(2024, 1, 1, 15, 30, tzinfo=dt.UTC)
    times = [start + dt.timedelta(days=i) for i in range(60)]
    table = pa.table({"order_id": list(range(1, 61)),
                      "created_at": pa.array(times, pa.timestamp("ns", tz="UTC")),
                      "amount": [float(i % 7) for i in range(60)]})
    path = directory / "orders.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.e2e
def test_an_aware_nanosecond_timestamp_is_time_to_every_step(tmp_path, tokyo):
    """semantic_enrichment called `created_at` a timestamp while temporal_enrichment, which
    listed TIMESTAMP WITH TIME ZONE but not TIMESTAMPTZ_NS, found no time column; and the
    quality SQL run through `Workspace.sql` counted days in the machine's zone."""
    source = _orders_with_an_aware_nanosecond_timestamp(tmp_path)
    dr = dc.driver("default", sources=[str(source)], workspace=tmp_path / "ws")
    out = dr.execute(["statistics_profiling", "temporal_enrichment", "semantic_enrichment",
                      "quality_assessment"])
    stats = out["statistics_profiling"].tables["orders"].columns["created_at"]
    assert stats.data_type == "TIMESTAMPTZ_NS"
    assert stats.min == dt.datetime(2024, 1, 1, 15, 30, tzinfo=dt.UTC)
    assert stats.date_range_days is not None
    assert out["semantic_enrichment"].tables["orders"].columns["created_at"].semantic_role == "timestamp"
    timed = out["temporal_enrichment"].tables["orders"]
    assert timed.primary_column == "created_at"
    assert timed.columns["created_at"].gap_count == 0
    results = [r for t in out["quality_assessment"].tables.values() for r in t.results]
    gaps = [r for r in results if r.check == "temporal_gap"]
    assert gaps and gaps[0].failing_rows == 0
    ws = Workspace(tmp_path / "ws")
    assert ws.sql("SELECT min(CAST(created_at AS DATE)) FROM orders").fetchall() == [(dt.date(2024, 1, 1),)]
    for r in results:
        if r.failing_rows is not None:
            assert len(ws.sql(r.sql, list(r.parameters)).fetchall()) == r.failing_rows, r.check


# --- models are data --------------------------------------------------------------------------


def test_models_import_nothing_of_the_library():
    """No `models -> delivery/render -> joins -> models` cycle: models hold data, and their
    behaviour (notebook display, rendering, join paths) is registered by delivery."""
    source = Path(dc.__file__).with_name("models.py").read_text()
    imported = {n.module or "" for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("dataraum_context")}


# --- COPYs within memory -------------------------------------------------------------------------


def test_a_copy_runs_with_its_memory_bounded_by_its_columns_then_unbounded(tmp_path, monkeypatch):
    monkeypatch.delenv("DATARAUM_DUCKDB_MEMORY_LIMIT", raising=False)
    out = tmp_path / "limit.parquet"
    with sql.connect() as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchall()
        [(threads,)] = con.execute("SELECT current_setting('threads')").fetchall()
        for columns, per_thread in ((12, 128), (50, 400)):  # at least 128 MiB a thread, else 8 MiB a column
            sql.copy_within_memory(con, f"COPY (SELECT current_setting('memory_limit') AS m) TO '{out}'", [],
                                   columns)
            assert duckdb.execute(f"SELECT m FROM '{out}'").fetchall() == [(f"{threads * per_thread:.1f} MiB",)]
            assert con.execute("SELECT current_setting('memory_limit')").fetchall() == default


def test_a_copy_of_values_too_long_for_the_bound_runs_again_without_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DATARAUM_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(sql, "COPY_MEMORY_PER_THREAD", 4 << 20)
    monkeypatch.setattr(sql, "COPY_MEMORY_PER_COLUMN", 0)
    out = tmp_path / "long.parquet"
    copy = f"COPY (SELECT repeat('x', 3000) || i AS t FROM range(200000) r(i)) TO '{out}'"
    with sql.connect() as con:
        con.execute("SET threads = 2")
        con.execute("SET memory_limit = '8MiB'")
        with pytest.raises(duckdb.OutOfMemoryException):  # the bound alone is too little
            con.execute(copy)
        con.execute("RESET memory_limit")
        sql.copy_within_memory(con, copy, [], 1)
    assert duckdb.execute(f"SELECT count(*), max(length(t)) FROM '{out}'").fetchall() == [(200000, 3006)]


def test_a_memory_limit_set_by_the_user_is_kept_for_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("DATARAUM_DUCKDB_MEMORY_LIMIT", "300MB")
    out = tmp_path / "limit.parquet"
    with sql.connect() as con:
        sql.copy_within_memory(con, f"COPY (SELECT current_setting('memory_limit') AS m) TO '{out}'", [], 1)
    assert duckdb.execute(f"SELECT m FROM '{out}'").fetchall() == [("286.1 MiB",)]


def test_a_row_group_of_long_values_holds_fewer_rows(tmp_path):
    """A row group holds at most `sql.row_group_bytes` in memory, however long the values: texts
    of a kilobyte made 120 MiB row groups, and a COPY of them ran out of its memory bound."""
    with sql.connect() as con:
        Workspace(tmp_path).write_parquet(con, "SELECT repeat('x', 4000) || i AS t FROM range(40000) r(i)",
                                          "t.parquet", columns=1)
    rows = [n for (n,) in duckdb.execute(f"SELECT row_group_num_rows FROM parquet_metadata('{tmp_path}/t.parquet') "
                                         "ORDER BY row_group_id").fetchall()]
    assert sum(rows) == 40000 and len(rows) > 1 and max(rows) * 4000 <= sql.ROW_GROUP_BYTES


@pytest.mark.parametrize(("columns", "rows_per_group"), [(13, 122_880), (150, 12_288), (5_000, 2_048)])
def test_the_row_groups_of_a_copy_hold_fewer_rows_the_more_columns_it_has(tmp_path, columns, rows_per_group):
    """About as many values per row group however wide the table, in whole vectors of rows: a
    writer holds a few row groups per thread."""
    rows = 2 * rows_per_group + 7
    select = ", ".join(f"i + {c} AS c{c}" for c in range(columns))
    with sql.connect() as con:
        Workspace(tmp_path).write_parquet(con, f"SELECT {select} FROM range({rows}) t(i)", "t.parquet", columns=columns)
    groups = duckdb.execute(f"SELECT DISTINCT row_group_id, row_group_num_rows "
                            f"FROM parquet_metadata('{tmp_path}/t.parquet') ORDER BY 1").fetchall()
    assert [rows for _, rows in groups] == [rows_per_group, rows_per_group, 7]
