"""The loader registry, source resolution (URIs, sources.yaml) and the file and database loaders:
each against real files the tests write, bad input included."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter
import xlwt
import zstandard
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import dataraum_context as dc
from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.base import resolve_sources, staged_loaders
from dataraum_context.workspace import Workspace

from conftest import cli, write


def _stage(source, workspace, **kw):
    loaders = resolve_sources([str(source)])
    return {loader.table: loader.load(Workspace(workspace)) for loader in loaders}


def _rows(workspace, table) -> list[tuple]:
    """The staged rows, wherever they are (a staged copy, or a CSV read in place)."""
    return duckdb.execute(f"SELECT * FROM {Workspace(workspace).staged_rows(table)}").fetchall()


# --- registry and sources ----------------------------------------------------------------------


def test_dataraum_loaders_lists_every_loader_with_its_strength():
    result = cli("loaders")
    assert result.code == 0
    listed = {line.split()[0]: line.split()[1] for line in result.out.splitlines()}
    assert listed == {"api": "untyped", "csv": "untyped", "duckdb": "strong", "excel": "untyped", "frame": "strong",
                      "json": "untyped", "parquet": "strong", "postgres": "strong", "sqlite": "weak"}
    assert "in-memory frames given to driver()/run()" in result.out


def test_uris_pick_their_loader(tmp_path):
    db = tmp_path / "s.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    assert [type(loader).__name__ for loader in resolve_sources([f"sqlite:///{db}"])] == ["SQLiteLoader"]
    with pytest.raises(SourceError, match="no loader for this kind of URI"):
        resolve_sources(["ftp://example.org/x.csv"])


def test_sources_file_errors_name_the_file_and_entry(tmp_path):
    bad = [
        ("sources: [}", "not valid YAML"),
        ("tables: []", "expected `sources:`"),
        ("sources:\n  - {name: a}", "source 1 ('a'): `source` is required"),
        ("sources:\n  - {name: a, source: x.csv, typo: 1}", "unknown key 'typo'"),
        ("sources:\n  - {name: a, source: x.csv, credentials: {password: hunter2}}",
         "credentials.password must reference an environment variable"),
        ("sources:\n  - {name: a, source: x.csv}\n  - {name: a, source: y.csv}", "named twice"),
        ("sources:\n  - {name: a, source: x.csv, kind: nosuch}", "unknown kind 'nosuch'"),
    ]
    for i, (text, message) in enumerate(bad):
        path = write(tmp_path / f"s{i}.yaml", text)
        with pytest.raises(ConfigError, match=re.escape(message)) as err:
            resolve_sources([str(path)])
        assert str(path) in str(err.value) or "named twice" in message
    assert "hunter2" not in str(err.value)


def test_sources_file_paths_are_relative_to_it_and_options_are_checked(tmp_path):
    (tmp_path / "d").mkdir()
    write(tmp_path / "d" / "semi.csv", "a;b\n1;2\n")
    config = write(tmp_path / "sources.yaml",
                   "sources:\n  - name: figures\n    source: d/semi.csv\n    options: {delimiter: ';'}\n")
    [loader] = resolve_sources([str(config)])
    assert loader.table == "figures" and loader.options == {"delimiter": ";"}
    write(config, "sources:\n  - name: figures\n    source: d/semi.csv\n    options: {sep: ';'}\n")
    with pytest.raises(ConfigError, match=r"unknown csv option 'sep' \(valid: delimiter, quote, header, encoding"):
        resolve_sources([str(config)])


def test_failing_sources_are_reported_by_name_and_the_rest_load(data_dir, tmp_path):
    write(data_dir / "good.csv", "x\n1\n2\n")
    write(data_dir / "empty.csv", "")
    loaders, failures = staged_loaders([str(data_dir / "good.csv"), str(tmp_path / "missing.csv")])
    assert [loader.table for loader in loaders] == ["good"]
    assert [(f.source, f.reason) for f in failures] == [
        (str(tmp_path / "missing.csv"), f"{tmp_path / 'missing.csv'}: no such file or directory")]

    run = dc.run("quick_profile", sources=[str(data_dir)], workspace=str(tmp_path / "ws"))
    assert run.status == "incomplete" and not run.succeeded
    assert list(run.results["staging"].tables) == ["good"]
    assert any("empty.csv" in w and "file is empty" in w for w in run.warnings)
    assert run.context.warnings[0].startswith("incomplete: source ") and "file is empty" in run.context.warnings[0]

    result = cli("run", str(data_dir), "--workspace", str(tmp_path / "ws2"))
    assert result.code == 1 and "## good (2 rows" in result.out
    assert "empty.csv" in result.err and "dataraum: error: incomplete" in result.err


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_header_is_detected(data_dir, workspace):
    t = _stage(write(data_dir / "nohead.csv", "1,Ann,2023-01-05\n2,Bob,2023-02-01\n"), workspace)["nohead"]
    assert t.options["header"] == "false" and t.row_count == 2
    assert [c.name for c in t.columns] == ["column0", "column1", "column2"]
    t = _stage(write(data_dir / "head.csv", "name,city\nAnn,Paris\n"), workspace)["head"]
    assert t.options["header"] == "true" and [c.name for c in t.columns] == ["name", "city"]


def test_csv_delimiter_and_quote_are_detected(data_dir, workspace):
    t = _stage(write(data_dir / "q.csv", "id;note\n1;'a;b'\n2;'c'\n"), workspace)["q"]
    assert (t.options["delimiter"], t.options["quote"]) == (";", "'")
    assert _rows(workspace, t) == [("1", "a;b"), ("2", "c")]


def test_cp1252_is_converted_without_loss(data_dir, workspace):
    text = "id;label\n1;5 € – “quoted”\n2;Müller\n"
    t = _stage(write(data_dir / "w.csv", text.encode("cp1252")), workspace)["w"]
    assert t.options["encoding"] == "cp1252"
    assert _rows(workspace, t) == [("1", "5 € – “quoted”"), ("2", "Müller")]


def test_utf16_and_zstd(data_dir, workspace):
    t = _stage(write(data_dir / "u.csv", codecs.BOM_UTF16_LE + "id,name\n1,Zoë\n".encode("utf-16-le")),
               workspace)["u"]
    assert t.options["encoding"] == "utf-16" and _rows(workspace, t) == [("1", "Zoë")]
    write(data_dir / "z.csv.zst", zstandard.ZstdCompressor().compress("id,name\n1,Zoë\n".encode("latin-1")))
    t = _stage(data_dir / "z.csv.zst", workspace)["z"]
    assert t.options["encoding"] == "latin-1" and _rows(workspace, t) == [("1", "Zoë")]


_TEXT = st.text(st.characters(codec="cp1252", exclude_characters=',"\'\r\n;|\t\x00'), min_size=1,
                max_size=12).map(str.strip).filter(bool)


def _reads_as_utf8(data: bytes) -> bool:
    """Bytes with more UTF-8 characters than bytes that are not UTF-8: cp1252 text like that is
    ambiguous (cp1252 `Â¡` is UTF-8 `¡`), and the file is read as UTF-8."""
    text = data.decode("utf-8", "replace")
    not_utf8 = text.count("\ufffd")
    return sum(not c.isascii() for c in text) - not_utf8 > not_utf8


@settings(max_examples=30, deadline=None, database=None)
@given(st.lists(_TEXT, min_size=1, max_size=6), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
def test_any_text_survives_its_encoding(values, encoding):
    """Whatever the encoding, every character arrives as written (cp1252 via a UTF-8 copy)."""
    body = "".join(f"{i},{v}\n" for i, v in enumerate(values)).encode(encoding.replace("-sig", ""))
    assume(encoding != "cp1252" or not _reads_as_utf8(body))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes("id,text\n".encode(encoding) + body)
        t = _stage(path, Path(tmp) / "ws")["t"]
        assert [r[1] for r in _rows(Path(tmp) / "ws", t)] == values


# --- JSON --------------------------------------------------------------------------------------


def test_json_nested_objects_flatten_and_arrays_explode_into_child_tables(data_dir, tmp_path):
    records = [{"id": 1, "customer": {"name": "Ann", "geo": {"city": "Paris"}}, "tags": ["a", "b"],
                "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]},
               {"id": 2, "customer": {"name": "Bob", "geo": None}, "tags": [], "items": None}]
    write(data_dir / "orders.json", json.dumps(records))
    config = write(tmp_path / "sources.yaml", f"sources:\n  - name: orders\n    source: {data_dir / 'orders.json'}\n"
                                              "    options: {explode: [items, tags]}\n")
    run = dc.run("quick_profile", sources=[str(config)], workspace=str(tmp_path / "ws"))
    staged = run.results["staging"].tables
    assert list(staged) == ["orders", "orders_items", "orders_tags"]
    assert [c.name for c in staged["orders"].columns] == ["id", "customer.name", "customer.geo.city"]
    ws = tmp_path / "ws"
    assert _rows(ws, staged["orders_items"]) == [("1", "A", "2"), ("1", "B", "1")]
    assert [c.name for c in staged["orders_tags"].columns] == ["parent_id", "value"]
    assert _rows(ws, staged["orders_tags"]) == [("1", "a"), ("1", "b")]
    declared = {(r.from_table, r.from_columns, r.to_table, r.to_columns) for r in run.context.relationships}
    assert declared == {("orders_items", ("parent_id",), "orders", ("id",)),
                        ("orders_tags", ("parent_id",), "orders", ("id",))}
    typed = run.results["type_resolution"].tables["orders_items"].columns
    assert (typed["parent_id"].data_type, typed["qty"].data_type) == ("BIGINT", "BIGINT")


def test_json_explode_of_a_field_that_is_not_an_array(data_dir, tmp_path):
    write(data_dir / "o.json", json.dumps([{"id": 1, "n": 2}]))
    config = write(tmp_path / "s.yaml", f"sources:\n  - {{name: o, source: {data_dir / 'o.json'}, "
                                        "options: {explode: [n]}}\n")
    with pytest.raises(SourceError, match="explode: 'n' is not an array field"):
        for loader in resolve_sources([str(config)]):
            loader.get_schema()


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_directory_of_parts_is_one_table(data_dir, workspace):
    folder = data_dir / "events"
    for year in (2023, 2024):
        (folder / f"year={year}").mkdir(parents=True)
        pl.DataFrame({"id": [year, year + 1]}).write_parquet(folder / f"year={year}" / "part-0.parquet")
    t = _stage(folder, workspace)["events"]
    assert t.row_count == 4 and {c.name for c in t.columns} == {"id", "year"}


# --- Excel -------------------------------------------------------------------------------------


def _workbook(path, sheets: dict[str, list[tuple[int, int, object]]]):
    book = xlsxwriter.Workbook(path)
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, cells in sheets.items():
        sheet = book.add_worksheet(name)
        for row, col, value in cells:
            if isinstance(value, dt.datetime):
                sheet.write_datetime(row, col, value, date)
            else:
                sheet.write(row, col, value)
    book.close()
    return path


def test_excel_one_table_per_sheet_title_rows_and_blank_columns_skipped(data_dir, tmp_path):
    cells = [(0, 1, "Quarterly report"), (2, 1, "id"), (2, 2, "amount"), (2, 3, "day"),
             (3, 1, 1), (3, 2, 12.5), (3, 3, dt.datetime(2024, 1, 31)),
             (4, 1, 2), (4, 2, 3.0), (4, 3, dt.datetime(2024, 2, 29)),
             (5, 1, 3), (5, 2, "n/a")]
    _workbook(data_dir / "book.xlsx", {"Sales": cells, "Empty": [], "Codes": [(0, 0, "code"), (1, 0, "x")]})
    run = dc.run("quick_profile", sources=[str(data_dir / "book.xlsx")], workspace=str(tmp_path / "ws"))
    staged = run.results["staging"].tables
    assert list(staged) == ["book_Sales", "book_Codes"]
    sales = staged["book_Sales"]
    assert [c.name for c in sales.columns] == ["id", "amount", "day"]
    assert all(c.data_type == "VARCHAR" for c in sales.columns) and sales.type_system.value == "untyped"
    assert _rows(tmp_path / "ws", sales) == [("1", "12.5", "2024-01-31"), ("2", "3", "2024-02-29"),
                                             ("3", "n/a", None)]
    typed = run.results["type_resolution"].tables["book_Sales"].columns
    assert {n: c.data_type for n, c in typed.items()} == {"id": "BIGINT", "amount": "DOUBLE", "day": "DATE"}


def test_excel_sheet_without_header_and_legacy_xls(data_dir, workspace):
    _workbook(data_dir / "raw.xlsx", {"S": [(0, 0, 1), (0, 1, "a"), (1, 0, 2), (1, 1, "b")]})
    t = _stage(data_dir / "raw.xlsx", workspace)["raw"]
    assert [c.name for c in t.columns] == ["column0", "column1"] and t.row_count == 2
    book = xlwt.Workbook()
    sheet = book.add_sheet("old")
    for row, values in enumerate([("id", "name"), (1, "Ann"), (2, "Bob")]):
        for col, value in enumerate(values):
            sheet.write(row, col, value)
    book.save(str(data_dir / "legacy.xls"))
    t = _stage(data_dir / "legacy.xls", workspace)["legacy"]
    assert _rows(workspace, t) == [("1", "Ann"), ("2", "Bob")]


def test_unreadable_excel_is_a_clear_error(data_dir, tmp_path):
    path = write(data_dir / "broken.xlsx", b"PK\x03\x04" + b"not really a zip" * 20)
    with pytest.raises(SourceError, match=r"broken\.xlsx: cannot be read as an Excel workbook"):
        resolve_sources([str(path)])
    result = cli("run", str(path), "--workspace", str(tmp_path / "ws"))
    assert result.code == 2 and "broken.xlsx" in result.err and len(result.err.strip().splitlines()) == 1


# --- SQLite and DuckDB -------------------------------------------------------------------------


def test_sqlite_weak_types_and_declared_keys(data_dir, tmp_path):
    db = data_dir / "shop.db"
    with sqlite3.connect(db) as con:
        con.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, joined DATE);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers,
                                 amount DECIMAL(10,2), paid BOOLEAN, qty INTEGER, note);
            INSERT INTO customers VALUES (1, 'Ann', '2024-01-05'), (2, 'Bob', '2024-02-01');
            INSERT INTO orders VALUES (10, 1, 12.5, 1, 3, x'00ff'), (11, 2, 7, 0, 'lots', x'01');""")
        con.executemany("INSERT INTO orders VALUES (?, 1, 1.5, 1, ?, NULL)", [(i, i) for i in range(12, 40)])
    run = dc.run("quick_profile", sources=[str(db)], workspace=str(tmp_path / "ws"))
    staged = run.results["staging"].tables
    assert staged["orders"].type_system.value == "weak" and staged["orders"].loader == "sqlite"
    assert {c.name: c.data_type for c in staged["orders"].columns} == {
        "id": "BIGINT", "customer_id": "BIGINT", "amount": "DOUBLE", "paid": "BOOLEAN",
        "qty": "VARCHAR", "note": "BLOB"}  # qty holds text beside its integers: inferred
    typed = run.results["type_resolution"].tables
    assert typed["customers"].columns["joined"].data_type == "DATE"
    assert typed["customers"].columns["joined"].resolved_by == "inference"
    assert (typed["orders"].columns["qty"].data_type, typed["orders"].quarantined_values) == ("BIGINT", 1)
    assert staged["customers"].primary_key == ("id",)
    [rel] = run.context.relationships
    assert (rel.from_table, rel.from_columns, rel.to_table, rel.to_columns, rel.source) == (
        "orders", ("customer_id",), "customers", ("id",), "declared")


def test_corrupt_sqlite_file_is_a_clear_error(data_dir):
    path = write(data_dir / "bad.sqlite", b"SQLite format 3\x00" + b"\xff" * 500)
    with pytest.raises(SourceError, match=r"bad\.sqlite: cannot be read as SQLite: file is not a database"):
        resolve_sources([str(path)])


def test_duckdb_file_with_keys(data_dir, tmp_path):
    db = data_dir / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE c (id BIGINT PRIMARY KEY, name VARCHAR); "
                    "CREATE TABLE o (id BIGINT PRIMARY KEY, c_id BIGINT REFERENCES c (id), total DECIMAL(9,2)); "
                    "INSERT INTO c VALUES (1, 'x'); INSERT INTO o VALUES (5, 1, 9.99)")
    run = dc.run("quick_profile", sources=[f"duckdb:///{db}"], workspace=str(tmp_path / "ws"))
    staged = run.results["staging"].tables
    assert {c.name: c.data_type for c in staged["o"].columns} == {
        "id": "BIGINT", "c_id": "BIGINT", "total": "DECIMAL(9,2)"}
    assert staged["o"].type_system.value == "strong" and staged["o"].primary_key == ("id",)
    assert [(r.from_table, r.to_table, r.source) for r in run.context.relationships] == [("o", "c", "declared")]
    write(data_dir / "junk.duckdb", b"\x00" * 8 + b"DUCK" + b"\x01" * 4000)
    with pytest.raises(SourceError, match=r"junk\.duckdb: cannot be opened as a DuckDB database"):
        resolve_sources([str(data_dir / "junk.duckdb")])


def test_db_extension_is_told_apart_by_content(data_dir):
    with sqlite3.connect(data_dir / "a.db") as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    with duckdb.connect(str(data_dir / "b.db")) as con:
        con.execute("CREATE TABLE u (x INTEGER)")
    assert {loader.table: loader.name for loader in resolve_sources([str(data_dir)])} == {"t": "sqlite", "u": "duckdb"}


@pytest.mark.e2e
def test_a_slow_stream_draws_no_progress_bar_on_stdout():
    """Staging a slow source (a database, an API) takes DuckDB past the 2 s after which it draws
    a progress bar on stdout, where `dataraum run` writes the context."""
    code = ("import time, pyarrow as pa\n"
            "from dataraum_context.sql import connect\n"
            "schema = pa.schema([('id', pa.int64())])\n"
            "def slow():\n"
            "    for i in range(25):\n"
            "        time.sleep(0.1)\n"
            "        yield pa.record_batch([pa.array(range(100))], schema=schema)\n"
            "con = connect()\n"
            "con.register('s', pa.RecordBatchReader.from_batches(schema, slow()))\n"
            "assert con.execute('SELECT count(*) FROM s').fetchone()[0] == 2500\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


def test_a_folder_of_tables_is_not_mistaken_for_parts(data_dir, workspace):
    pl.DataFrame({"id": [1]}).write_parquet(data_dir / "part-1.parquet")
    write(data_dir / "customers.csv", "id\n1\n")
    assert sorted(loader.table for loader in resolve_sources([str(data_dir)])) == ["customers", "part-1"]
