"""In-memory frames as sources of `driver()`/`run()`: pandas, polars, pyarrow and DuckDB, named by
a mapping and mixed with paths; their types kept (pandas text inferred), materialized in the
workspace once, and staged again only when their content changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import dataraum_context as dc
from dataraum_context.errors import ConfigError, SourceError

from conftest import SHOP_CUSTOMERS, cli, write

N = 20


def _types(workspace, table: str) -> dict[str, str]:
    return {row[0]: row[1] for row in dc.Workspace(workspace).sql(f'DESCRIBE "{table}"').fetchall()}


def _typed(sources, workspace) -> dict:
    return dc.driver("quick_profile", sources=sources, workspace=str(workspace)).execute(
        ["staging", "type_resolution"])


def test_pandas_frame_keeps_its_dtypes_and_infers_its_text(workspace):
    days = [str(date(2024, 1, 1) + timedelta(days=i)) for i in range(N)]
    orders = pd.DataFrame({
        "amount": pd.array([None, *(i * 1.5 for i in range(1, N))], dtype="Float64"),
        "qty": pd.array([None, *range(1, N)], dtype="Int64"),
        "status": pd.Categorical(["shipped", "pending"] * (N // 2)),
        "paid_at": pd.date_range("2024-01-01 10:00", periods=N, freq="D", tz="Europe/Berlin"),
        "flag": pd.array([True, None, False, True] * (N // 4), dtype="boolean"),
        "day": [*days[:-1], "not a date"],  # pandas text (`str`): inferred, as a CSV's
        "units": pd.array([i if i % 2 else str(i) for i in range(N)], dtype=object),  # any objects
    }, index=pd.RangeIndex(101, 101 + N, name="order_id"))  # named: data
    out = _typed({"orders": orders}, workspace)

    staged = out["staging"].tables["orders"]
    assert (staged.loader, staged.source, staged.type_system.value) == ("frame", "in-memory pandas DataFrame", "weak")
    assert (staged.path, staged.sample_rows, [c.values for c in staged.columns][-2:]) == (None, N, [N, N])  # sampled
    assert _types(workspace, "orders") == {
        "order_id": "BIGINT", "amount": "DOUBLE", "qty": "BIGINT", "status": "VARCHAR",
        "paid_at": "TIMESTAMP WITH TIME ZONE", "flag": "BOOLEAN", "day": "DATE", "units": "BIGINT"}
    resolved = out["type_resolution"].tables["orders"]
    assert {c.name for c in resolved.columns.values() if c.resolved_by == "inference"} == {"status", "day", "units"}
    assert (resolved.row_count, resolved.quarantined_values) == (N, 1)  # 'not a date', in quarantine

    rows = dc.Workspace(workspace).sql(
        "SELECT order_id, amount, qty, status, paid_at, flag, day, units FROM orders ORDER BY order_id").fetchall()
    assert rows[0] == (101, None, None, "shipped", datetime(2024, 1, 1, 9, 0, tzinfo=UTC), True, date(2024, 1, 1), 0)
    assert rows[1] == (102, 1.5, 1, "pending", datetime(2024, 1, 2, 9, 0, tzinfo=UTC), None, date(2024, 1, 2), 1)
    assert rows[-1][6] is None


def test_a_pandas_index_of_labels_is_a_column_a_range_index_is_not(workspace):
    labelled = pd.DataFrame({"v": [1, 2, 3], "index": [7, 8, 9]}, index=["a", "b", "c"])
    by_level = pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("x", 1), ("y", 2)], names=["k", None]))
    filtered = pd.DataFrame({"v": [1, 2, 3]})[lambda d: d.v > 1]  # a RangeIndex from 1
    _typed({"labelled": labelled, "by_level": by_level, "filtered": filtered}, workspace)
    assert list(_types(workspace, "labelled")) == ["index_1", "v", "index"]
    assert list(_types(workspace, "by_level")) == ["k", "level_1", "v"]
    assert list(_types(workspace, "filtered")) == ["v"]
    assert dc.Workspace(workspace).sql("SELECT index_1, v FROM labelled ORDER BY v").fetchall() == \
        [("a", 1), ("b", 2), ("c", 3)]


def test_polars_frames_keep_their_types_and_text_is_not_inferred(workspace):
    sites = pl.DataFrame({
        "id": list(range(N)),
        "zip": [f"{i:05d}" for i in range(N)],  # typed text: kept as text, leading zeros and all
        "opened": [date(2024, 1, 1) + timedelta(days=i) for i in range(N)],
        "seen_at": pl.Series([datetime(2024, 1, 1, 12, tzinfo=UTC)] * N).dt.convert_time_zone("UTC"),
        "kind": pl.Series(["shop", "depot"] * (N // 2), dtype=pl.Categorical),
    })
    notes = pl.DataFrame({"note": pl.Series([date(2024, 1, 1), "2024-01-02", None] * 7, dtype=pl.Object)})
    out = _typed({"sites": sites, "lazy_sites": sites.lazy(), "notes": notes}, workspace)

    for name in ("sites", "lazy_sites"):
        staged = out["staging"].tables[name]
        assert staged.type_system.value == "strong" and staged.row_count == N
        assert _types(workspace, name) == {"id": "BIGINT", "zip": "VARCHAR", "opened": "DATE",
                                           "seen_at": "TIMESTAMP WITH TIME ZONE", "kind": "VARCHAR"}
    assert out["staging"].tables["lazy_sites"].source == "in-memory polars LazyFrame"
    # the frame's file is read in place, and is the typed table as it is: nothing to cast
    staged, typed = out["staging"].tables["sites"], out["type_resolution"].tables["sites"]
    frame_file = workspace / "frames" / "sites.parquet"
    assert (staged.path, staged.sample_path, staged.in_place.file) == (None, None, str(frame_file))
    assert (workspace / typed.path).read_bytes() == frame_file.read_bytes()
    assert dc.Workspace(workspace).sql("SELECT zip FROM sites WHERE id = 7").fetchall() == [("00007",)]
    # an Object column holds Python values: staged as their text, and inferred
    assert out["staging"].tables["notes"].type_system.value == "weak"
    assert _types(workspace, "notes") == {"note": "DATE"}
    assert dc.Workspace(workspace).sql("SELECT count(note) FROM notes").fetchall() == [(14,)]


def test_arrow_duckdb_and_paths_mix_in_one_mapping(data_dir, workspace):
    write(data_dir / "customers.csv", SHOP_CUSTOMERS)
    con = duckdb.connect()
    sources = {
        "orders": pa.table({"order_id": [10, 11, 12], "customer_id": [1, 2, 4]}),
        "skus": pa.table({"sku": ["a-1", "b-2"]}).to_reader(),
        "numbers": con.sql("SELECT range::INTEGER AS n, (range * 1.5)::DECIMAL(6, 2) AS x FROM range(5)"),
        "clients": data_dir / "customers.csv",  # a path, named: its table's name
    }
    run = dc.run("quick_profile", sources=sources, workspace=str(workspace))
    assert run.succeeded
    tables = {t.name: (t.source, t.row_count) for t in run.context.tables}
    assert tables == {"orders": ("in-memory pyarrow Table", 3), "skus": ("in-memory pyarrow RecordBatchReader", 2),
                      "numbers": ("in-memory DuckDB relation", 5), "clients": (str(data_dir / "customers.csv"), 4)}
    assert _types(workspace, "numbers") == {"n": "INTEGER", "x": "DECIMAL(6,2)"}
    assert run.results["staging"].tables["clients"].loader == "csv"


def test_an_unchanged_frame_is_cached_a_changed_one_staged_again(workspace):
    kept = pl.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5]})
    changing = pd.DataFrame({"id": [1, 2, 3], "status": ["new", "paid", "paid"]})

    def run() -> dict[str, tuple[int, int]]:
        result = dc.run("quick_profile", sources={"kept": kept, "changing": changing},
                        workspace=str(workspace), cache=True)
        assert result.succeeded
        return {s.name: (s.tables_computed, s.tables_cached) for s in result.steps if s.name != "context_document"}

    assert set(run().values()) == {(2, 0)}
    written = (workspace / "frames" / "kept.parquet").stat().st_mtime_ns
    assert set(run().values()) == {(0, 2)}
    assert (workspace / "frames" / "kept.parquet").stat().st_mtime_ns == written  # not written again
    changing.loc[3] = [4, "void"]
    assert set(run().values()) == {(1, 1)}
    assert dc.Workspace(workspace).sql("SELECT count(*) FROM changing").fetchall() == [(4,)]


@pytest.mark.parametrize(("sources", "message"), [
    (42, ("sources: expected a path, a list of paths, or a mapping of names to paths or frames "
         r"\(pandas DataFrame, polars DataFrame or LazyFrame, pyarrow Table or RecordBatchReader, "
         r"DuckDB relation\); got int")),
    ({"orders": 42}, "source 'orders': expected .* got int"),
    (["a.csv", 3.5], "sources: expected .* got float"),
    (pd.DataFrame({"order_id": [1]}), "a pandas DataFrame needs a name"),
    ([pl.DataFrame({"order_id": [1]})], "a polars DataFrame needs a name"),
    ({1: pd.DataFrame({"order_id": [1]})}, "names are strings; got int 1"),
])
def test_what_is_not_a_source_is_a_type_error_naming_what_is(sources, message, workspace):
    with pytest.raises(TypeError, match=message):
        dc.driver("quick_profile", sources=sources, workspace=str(workspace))


def test_a_frame_that_cannot_be_a_table_is_a_user_error_naming_it(workspace):
    with pytest.raises(ConfigError, match="source 'a/b': a frame's name"):
        dc.driver("quick_profile", sources={"a/b": pd.DataFrame({"x": [1]})}, workspace=str(workspace))
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(SourceError, match=r"source 'twice': the pandas DataFrame cannot be converted .* Duplicate"):
        dc.driver("quick_profile", sources={"twice": twice}, workspace=str(workspace))


def test_the_cli_still_reads_paths(data_dir, workspace):
    write(data_dir / "customers.csv", SHOP_CUSTOMERS)
    result = cli("run", str(data_dir / "customers.csv"), "--pipeline", "quick_profile", "--workspace", str(workspace))
    assert result.code == 0 and "## customers (4 rows" in result.out
    assert not (workspace / "frames").exists()
