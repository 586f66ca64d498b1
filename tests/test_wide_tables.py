"""Wide tables: a CSV of 5,000 columns profiles end to end (DuckDB 2.0 segfaulted on the one
SELECT of 40,000 aggregates that statistics used to be), and the helpers that bound the SQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import dataraum_context as dc
from dataraum_context import sql
from dataraum_context.loaders.csv import CSVLoader
from dataraum_context.sql import WIDE_COLUMNS, batched, connect, create_parquet_relation, parquet_relation
from dataraum_context.temporal.series import series
from dataraum_context.temporal.view import open_table
from dataraum_context.workspace import Workspace

COLUMNS = 5_000
ROWS = 20


def wide_csv(path: Path, columns: int, rows: int) -> Path:
    """Integers, decimals, dates, codes and text with a null token, in turn."""
    kinds = ["(i * {k} % 1000)::BIGINT", "round(i * 1.25 + {k}, 2)", "DATE '2024-01-01' + (i + {k} % 28)::INTEGER",
             "['a', 'b', 'c'][1 + (i + {k}) % 3]", "CASE WHEN i % 7 = 0 THEN 'N/A' ELSE 'v' || ((i + {k}) % 5) END"]
    select = ", ".join(f"{kinds[k % len(kinds)].format(k=k)} AS c{k}" for k in range(columns))
    duckdb.sql(f"COPY (SELECT {select} FROM range({rows}) t(i)) TO '{path}' (HEADER)")
    return path


@pytest.mark.e2e
def test_a_5000_column_csv_profiles_end_to_end(tmp_path: Path):
    csv = wide_csv(tmp_path / "wide.csv", COLUMNS, ROWS)
    out = tmp_path / "context.json"
    # in a subprocess: before the batching, DuckDB ended the process with SIGSEGV
    run = subprocess.run([sys.executable, "-m", "dataraum_context.cli", "run", str(csv), "--pipeline", "quick_profile",
                          "--workspace", str(tmp_path / "ws"), "--out", str(out)],
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-2000:]
    (table,) = json.loads(out.read_text())["tables"]
    columns = {c["name"]: c for c in table["columns"]}
    assert list(columns) == [f"c{k}" for k in range(COLUMNS)]
    assert all(c["statistics"]["count"] == ROWS for c in columns.values())
    # each kind read and described as DuckDB itself counts it, first batch and last alike
    for name in ("c0", "c1", "c2", "c3", "c4", f"c{COLUMNS - 5}", f"c{COLUMNS - 1}"):
        [(distinct, nulls)] = duckdb.sql(f"SELECT count(DISTINCT NULLIF({name}, 'N/A')), count(*) FILTER (WHERE "
                                         f"{name} IS NULL OR {name} = 'N/A') FROM read_csv('{csv}', all_varchar=true)"
                                         ).fetchall()
        s = columns[name]["statistics"]
        assert (s["distinct_count"], s["null_count"]) == (distinct, nulls), name
    assert [columns[f"c{k}"]["data_type"] for k in range(5)] == ["BIGINT", "DOUBLE", "DATE", "VARCHAR", "VARCHAR"]
    assert columns["c1"]["statistics"]["mean"] == pytest.approx(sum(i * 1.25 + 1 for i in range(ROWS)) / ROWS)
    assert columns["c3"]["statistics"]["top_values"][0] == {"value": "a", "count": 7}


def test_batches_keep_order_and_bound_their_size():
    sizes = [3, 1, 4, 1, 5, 9, 2, 6]
    batches = list(batched(sizes, size=lambda n: n, limit=6))
    assert [n for b in batches for n in b] == sizes
    assert batches == [[3, 1], [4, 1], [5], [9], [2], [6]]  # an item above the limit runs alone
    assert list(batched(range(5), limit=2)) == [[0, 1], [2, 3], [4]]
    assert list(batched([], limit=2)) == []


@pytest.mark.parametrize("rows,file_columns,kind", [
    (3, WIDE_COLUMNS, "TABLE"),  # a batch of a wide file, copied into memory
    (10_000_000, WIDE_COLUMNS, "VIEW"),  # too many cells to copy: read from the file
    (3, WIDE_COLUMNS - 1, "VIEW"),  # a narrow file: a copy would cost memory and save nothing
])
def test_a_parquet_relation_holds_the_columns_while_the_block_runs(tmp_path: Path, rows: int, file_columns: int,
                                                                     kind: str):
    path = tmp_path / "t.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS a, 'x' AS \"b c\", 2.5 AS d) TO '{path}'")
    with connect() as con:
        with parquet_relation(con, "batch", path, ["b c", "a"], rows, file_columns):
            assert con.execute("SELECT * FROM batch").fetchall() == [("x", 1)]
            assert _kind(con, "batch") == kind
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM batch")


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """TABLE or VIEW: what DuckDB's catalog holds under `name`."""
    [(tables, views)] = con.execute("SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = $1), "
                                    "(SELECT count(*) FROM duckdb_views() WHERE view_name = $1)", [name]).fetchall()
    return "TABLE" if tables else "VIEW" if views else None


def test_statistics_of_a_narrow_table_copy_nothing_into_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The copy is for wide files; statistics of 1,000,000 rows x 13 columns took 50-60 MiB more
    memory with it, and no less time (benchmarks/profile_vs_summarize.py)."""
    kinds: list[str] = []

    def create(*args):
        kinds.append(create_parquet_relation(*args))
        return kinds[-1]

    monkeypatch.setattr(sql, "create_parquet_relation", create)
    path = tmp_path / "narrow.csv"
    duckdb.sql(f"COPY (SELECT i AS id, i % 7 AS n, 'v' || (i % 3) AS s FROM range(1000) t(i)) TO '{path}' (HEADER)")
    run = dc.run("quick_profile", sources=[str(path)], workspace=str(tmp_path / "ws"))
    assert run.succeeded and run.results["statistics_profiling"].tables["narrow"].columns["n"].distinct_count == 7
    assert kinds == ["VIEW"]


def test_a_series_of_many_measures_is_summed_a_batch_at_a_time(tmp_path: Path):
    measures = [f"m{k}" for k in range(250)]
    path = tmp_path / "t.parquet"
    duckdb.sql(f"COPY (SELECT DATE '2024-01-01' + (i % 10)::INTEGER AS d, "
               f"{', '.join(f'i * {k} AS m{k}' for k in range(250))} FROM range(40) t(i)) TO '{path}'")
    with open_table(path, ["d", *measures], 40, 1 + len(measures)) as con:
        periods, values = series(con, "d", "day", measures)
    assert len(periods) == 10 and values.shape == (10, 1 + 250)
    day = [i for i in range(40) if i % 10 == 3]  # the fourth day's rows
    assert values[3, 0] == 4 and values[3, 1 + 249] == sum(i * 249 for i in day)


def test_a_header_longer_than_the_sniffed_head_is_read_whole(tmp_path: Path):
    """3,000 names of 29 characters: the header line is 90 KiB, beyond the 64 KiB read to sniff."""
    names = [f"column_with_a_long_name_{k:05d}" for k in range(3_000)]
    path = tmp_path / "long_header.csv"
    duckdb.sql(f"COPY (SELECT {', '.join(f'i + {k} AS {n}' for k, n in enumerate(names))} FROM range(3) t(i)) "
               f"TO '{path}' (HEADER)")
    staged = CSVLoader(str(path)).load(Workspace(tmp_path / "ws"))
    assert [c.name for c in staged.columns] == names
    assert staged.warnings == ()  # no name reported as renamed from a cut-off header
    assert staged.row_count == 3
