"""Staging and the bad inputs every data tool meets: each gets a clear error or quarantine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

import dataraum_context as dc
from dataraum_context import sql
from dataraum_context.errors import SourceError
from dataraum_context.loaders import csv as csv_loader
from dataraum_context.loaders.base import resolve_sources, table_name
from dataraum_context.models import StagedTable
from dataraum_context.workspace import Workspace

from conftest import cli, write


def _stage(path: Path, workspace: Path):
    [loader] = resolve_sources([str(path)])
    return loader.load(Workspace(workspace))


def _rows(workspace: Path, table: StagedTable) -> list[tuple]:
    """The staged rows, wherever they are (a staged copy, or a CSV read in place)."""
    return duckdb.execute(f"SELECT * FROM {Workspace(workspace).staged_rows(table)}").fetchall()


@pytest.mark.parametrize("name,expected", [
    ("orders.csv", "orders"), ("orders.csv.gz", "orders"), ("my.data.csv", "my.data"),
    ("events.ndjson", "events"), ("x.parquet", "x"),
])
def test_table_name_is_the_file_name_without_extensions(name, expected):
    assert table_name(f"/d/{name}") == expected


def test_a_plugin_loaders_extension_is_not_part_of_the_table_name():
    """A loader of `.psv` files (docs/EXTENDING.md) names the table of `returns.psv` `returns`."""
    from dataraum_context.loaders.csv import CSVLoader

    class PSVLoader(CSVLoader):
        extensions = (".psv",)

    assert PSVLoader("/d/returns.psv").table == "returns"
    assert table_name("/d/returns.psv", (".psv",)) == "returns" and table_name("/d/returns.psv") == "returns.psv"


def test_csv_is_staged_varchar_first_and_keeps_raw_text(data_dir, workspace):
    t = _stage(write(data_dir / "a.csv", "id,amount\n007,\"1,5\"\n8,N/A\n"), workspace)
    assert [c.data_type for c in t.columns] == ["VARCHAR", "VARCHAR"]
    assert _rows(workspace, t) == [("007", "1,5"), ("8", "N/A")]


@pytest.mark.parametrize("content,message", [
    (b"", "file is empty"),
    (b"\n\n  \n", "file is empty"),
    (bytes(range(256)) * 20, "looks like a binary file"),
])
def test_unreadable_files_are_clear_errors(data_dir, workspace, content, message):
    path = write(data_dir / "bad.csv", content)
    with pytest.raises(SourceError, match=message) as err:
        _stage(path, workspace)
    assert str(path) in str(err.value)


def test_header_only_is_an_empty_table(data_dir, workspace):
    t = _stage(write(data_dir / "h.csv", "id,name\n"), workspace)
    assert t.row_count == 0 and [c.name for c in t.columns] == ["id", "name"]


def test_ragged_rows_go_to_quarantine_with_their_line(data_dir, workspace):
    path = write(data_dir / "r.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    run = dc.run("quick_profile", sources=[str(path)], workspace=str(workspace))
    table = run.results["type_resolution"].tables["r"]
    assert (table.row_count, table.rejected_rows, table.source_rows) == (2, 2, 4)
    quarantine = duckdb.execute(
        f"SELECT row_number, raw_value FROM read_parquet('{workspace / table.quarantine_path}') "
        "WHERE \"column\" IS NULL ORDER BY row_number").fetchall()
    assert quarantine == [(3, "4,5"), (4, "6,7,8,9")]
    assert any("2 malformed source row(s)" in w for w in run.context.warnings)


def test_latin1_file_is_converted_without_loss(data_dir, workspace):
    path = write(data_dir / "l.csv", "id;name\n1;Jos\xe9\n2;M\xfcller\n".encode("latin-1"))
    t = _stage(path, workspace)
    assert t.options["encoding"] == "latin-1"
    assert _rows(workspace, t) == [("1", "José"), ("2", "Müller")]


def test_latin1_byte_after_the_sniffed_sample(data_dir, workspace):
    body = b"".join(b"%d,plain\n" % i for i in range(30000)) + b"30000,Gr\xfc\xdfe\n"
    t = _stage(write(data_dir / "late.csv", b"id,word\n" + body), workspace)
    assert t.options["encoding"] == "latin-1" and t.row_count == 30001 and t.rejected_rows == 0
    assert _rows(workspace, t)[-1] == ("30000", "Grüße")


def test_utf8_bom_is_not_part_of_the_first_name(data_dir, workspace):
    t = _stage(write(data_dir / "b.csv", "\ufeffid,name\n1,Zoë\n".encode("utf-8")), workspace)
    assert [c.name for c in t.columns] == ["id", "name"]
    assert _rows(workspace, t) == [("1", "Zoë")]


def test_duplicate_and_empty_column_names_are_renamed_with_a_warning(data_dir, workspace):
    t = _stage(write(data_dir / "d.csv", "id,,id\n1,2,3\n"), workspace)
    names = [c.name for c in t.columns]
    assert len(set(names)) == 3 and names[0] == "id"
    assert any("'id' renamed" in w for w in t.warnings) and any("'' renamed" in w for w in t.warnings)


def test_gzip_and_tsv(data_dir, workspace):
    path = data_dir / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"a\tb\n1\tx\n2\ty\n"))
    t = _stage(path, workspace)
    assert (t.name, t.row_count, [c.name for c in t.columns]) == ("t", 2, ["a", "b"])


def test_json_array_and_ndjson(data_dir, workspace):
    write(data_dir / "arr.json",
          json.dumps([{"id": 1, "tags": ["a"], "geo": {"x": 1.5}}, {"id": 2, "tags": [], "geo": None}]))
    write(data_dir / "lines.ndjson", '{"id": 1, "ok": true}\n{"id": 2, "ok": false}\n')
    arr, lines = (_stage(data_dir / n, workspace) for n in ("arr.json", "lines.ndjson"))
    assert all(c.data_type == "VARCHAR" for c in arr.columns + lines.columns)
    # nested objects are flattened to dotted names (issue 6); arrays are kept as their JSON
    assert [c.name for c in arr.columns] == ["id", "tags", "geo.x"]
    assert _rows(workspace, arr) == [("1", '["a"]', "1.5"), ("2", "[]", None)]
    assert _rows(workspace, lines) == [("1", "true"), ("2", "false")]


def test_invalid_json_is_a_clear_error(data_dir, workspace):
    path = write(data_dir / "bad.json", '{"id": 1,,}')
    with pytest.raises(SourceError, match=r"bad\.json: not valid JSON"):
        _stage(path, workspace)


def test_parquet_keeps_its_types(data_dir, workspace):
    path = data_dir / "p.parquet"
    pl.DataFrame({"id": [1, 2], "when": [None, None], "x": [1.5, 2.5]},
                 schema={"id": pl.Int32, "when": pl.Date, "x": pl.Float64}).write_parquet(path)
    t = _stage(path, workspace)
    assert [c.data_type for c in t.columns] == ["INTEGER", "DATE", "DOUBLE"]
    assert t.type_system.value == "strong"


def test_directory_glob_and_missing_paths(data_dir, workspace, tmp_path):
    write(data_dir / "a.csv", "x\n1\n")
    write(data_dir / "b.csv", "x\n2\n")
    write(data_dir / "notes.md", "not data")
    assert [loader.table for loader in resolve_sources([str(data_dir)])] == ["a", "b"]
    assert [loader.table for loader in resolve_sources([str(data_dir / "*.csv")])] == ["a", "b"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="directory has no data files"):
        resolve_sources([str(empty)])
    with pytest.raises(SourceError, match="no such file or directory"):
        resolve_sources([str(tmp_path / "nope.csv")])
    with pytest.raises(SourceError, match="no files match"):
        resolve_sources([str(data_dir / "*.tsv")])
    with pytest.raises(SourceError, match="no loader for this kind of file"):
        resolve_sources([str(data_dir / "notes.md")])
    write(data_dir / "a.json", "[]")
    with pytest.raises(SourceError, match="would both become table 'a'"):
        resolve_sources([str(data_dir)])


@pytest.mark.parametrize("name,content,message", [
    ("empty.csv", b"", "file is empty"),
    ("binary.csv", bytes(range(256)) * 8, "binary"),
    ("bad.json", b"[{", "not valid JSON"),
])
def test_bad_inputs_through_the_cli_are_one_line(data_dir, tmp_path, name, content, message):
    path = write(data_dir / name, content)
    result = cli("run", str(path), "--workspace", str(tmp_path / "ws"))
    assert result.code == 2 and message in result.err and name in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_missing_directory_through_the_cli(tmp_path):
    result = cli("run", str(tmp_path / "nowhere"))
    assert result.code == 2 and "no such file or directory" in result.err


def test_get_schema_reads_columns_without_loading(data_dir, workspace):
    [loader] = resolve_sources([str(write(data_dir / "s.csv", "id,,name\n1,2,x\n"))])
    columns = loader.get_schema()
    assert [(c.name, c.data_type, c.source_name) for c in columns] == [
        ("id", "VARCHAR", None), ("column1", "VARCHAR", ""), ("name", "VARCHAR", None)]
    assert not workspace.exists()


# --- encodings decided by the evidence of the whole file (issue 9) ------------------------------


_CAFES = "".join(f"{i},café {i}\n" for i in range(50000)).encode()


@pytest.mark.parametrize("where", ["late", "early"])
def test_a_latin1_row_in_a_utf8_file_goes_to_quarantine_and_the_rest_stays_utf8(data_dir, tmp_path, where):
    """Valid UTF-8 is never read as Latin-1: the one row that is not UTF-8 is quarantined with
    its exact bytes and its line, whether it comes after the sniffed sample or inside it."""
    latin1 = b"50000,Gr\xfc\xdfe\n"
    body = _CAFES + latin1 if where == "late" else latin1 + _CAFES
    path = write(data_dir / "m.csv", b"id,word\n" + body)
    run = dc.run("quick_profile", sources=[str(path)], workspace=str(tmp_path / "ws"))
    staged = run.results["staging"].tables["m"]
    assert staged.options["encoding"] == "utf-8"
    words = dict(_rows(tmp_path / "ws", staged))
    assert len(words) == 50000 and words["0"] == "café 0" and words["49999"] == "café 49999"
    line = 50002 if where == "late" else 2
    assert any("not UTF-8" in w and f"line {line}" in w for w in staged.warnings)
    table = run.results["type_resolution"].tables["m"]
    assert (table.row_count, table.rejected_rows, table.source_rows) == (50000, 1, 50001)
    quarantined = duckdb.execute(
        f"SELECT row_number, raw_value, reason FROM read_parquet('{tmp_path / 'ws' / table.quarantine_path}') "
        "WHERE \"column\" IS NULL").fetchall()
    assert [(r[0], r[1]) for r in quarantined] == [(line, "50000,Gr\\xfc\\xdfe")]
    assert "not UTF-8" in quarantined[0][2]


def test_a_cp1252_file_stays_cp1252_when_a_pair_of_its_letters_happens_to_be_utf8(data_dir, workspace):
    """`É’` in cp1252 is the bytes of UTF-8 `ɒ`: one such pair does not outweigh the file."""
    text = "id;name\n1;CAFÉ’S\n2;Müller\n3;Hélène – “quoted”\n"
    t = _stage(write(data_dir / "w.csv", text.encode("cp1252")), workspace)
    assert t.options["encoding"] == "cp1252" and t.rejected_rows == 0
    assert [r[1] for r in _rows(workspace, t)] == ["CAFÉ’S", "Müller", "Hélène – “quoted”"]


def test_an_explicit_utf8_encoding_is_kept(data_dir, workspace):
    path = write(data_dir / "x.csv", b"id,word\n1,plain\n2,Gr\xfc\xdfe\n")
    [loader] = resolve_sources([str(path)])
    loader.options["encoding"] = "utf-8"
    t = loader.load(Workspace(workspace))
    assert t.options["encoding"] == "utf-8" and (t.row_count, t.rejected_rows) == (1, 1)

# --- quotes and dialects: the dialect reported is the one read (issue 9) -----------------------


@pytest.mark.parametrize("rows,newline", [(100, "\n"), (5000, "\n"), (100, "\r")])
def test_an_unterminated_quote_at_the_end_rejects_only_the_broken_row(data_dir, workspace, rows, newline):
    names = "".join(f'{i},"Ann Lee {i}",Paris{newline}' for i in range(rows))
    path = write(data_dir / "q.csv", f'id,name,city{newline}{names}{rows},"Broken,Rome{newline}')
    t = _stage(path, workspace)
    assert (t.options["delimiter"], t.options["quote"]) == (",", '"')
    assert (t.row_count, t.rejected_rows) == (rows, 1)
    staged = _rows(workspace, t)
    assert staged[0] == ("0", "Ann Lee 0", "Paris") and all('"' not in r[1] for r in staged)
    [(line, raw)] = duckdb.execute(
        f"SELECT line, raw_line FROM read_parquet('{workspace / t.rejects_path}')").fetchall()
    assert (line, raw.strip()) == (rows + 2, f'{rows},"Broken,Rome')


def test_a_ragged_row_does_not_change_the_delimiter(data_dir, workspace):
    path = write(data_dir / "o.csv", "order_no,cust_id,amount\n1,10,5.0\n2,11,6.5,extra\n3,12,7.0\n")
    t = _stage(path, workspace)
    assert t.options["delimiter"] == "," and not t.warnings
    assert [c.name for c in t.columns] == ["order_no", "cust_id", "amount"]
    assert (t.row_count, t.rejected_rows) == (2, 1)

# --- long lines: room for them only in the files that have them ---------------------------------


@pytest.mark.parametrize("where", ["early", "late"])  # in the sniffed sample, or far after it
def test_a_4_mb_line_is_read_whole(data_dir, workspace, where):
    long = "0," + "x" * 4_000_000 + "\n"
    short = "".join(f"{i},y\n" for i in range(1, 30_001))
    [loader] = resolve_sources([str(write(data_dir / "l.csv", "id,blob\n" + (long + short if where == "early"
                                                                                else short + long)))])
    t = loader.load(Workspace(workspace))
    assert (t.row_count, t.rejected_rows, t.rejects_path) == (30_001, 0, None)
    assert duckdb.execute(f"SELECT length(blob) FROM {Workspace(workspace).staged_rows(t)} WHERE id = '0'"
                          ).fetchall() == [(4_000_000,)]
    assert loader._max_line == csv_loader._LONG_LINE


def test_a_header_field_beyond_pythons_csv_limit_is_read_as_duckdb_reads_it(data_dir, workspace):
    """A first line of one 200,000-character field (Python's csv reads at most 131,072): the
    names as DuckDB reads them stand, and the table is staged, not a failed step."""
    t = _stage(write(data_dir / "one.csv", "x" * 200_000 + "\n1\n2\n"), workspace)
    assert (t.row_count, [c.name for c in t.columns]) == (2, ["x" * 200_000])


def test_a_file_of_short_lines_is_read_with_duckdbs_default_line_size(data_dir, workspace):
    """DuckDB's read buffers grow with the longest line allowed: with room for 256 MiB lines,
    staging a 112 MiB file took 250 MiB more memory (benchmarks/profile_vs_summarize.py)."""
    [loader] = resolve_sources([str(write(data_dir / "s.csv", "id,name\n1,a\n2,b\n"))])
    assert loader.load(Workspace(workspace)).row_count == 2
    assert loader._max_line == csv_loader._LINE == 2_000_000

# --- JSON documents that are not records -------------------------------------------------------


@pytest.mark.parametrize("text,found", [
    ("42", "a number"), ('"x"', "a string"), ("true", "a boolean"), ("null", "null"),
    ("-1.5e3\n", "a number"), ("1\n2\n", "a number"),
])
def test_a_scalar_json_document_is_a_one_line_error(data_dir, tmp_path, text, found):
    path = write(data_dir / "s.json", text)
    with pytest.raises(SourceError, match=f"s.json: .*array of objects.*found {found}"):
        _stage(path, tmp_path / "ws")
    result = cli("run", str(path), "--workspace", str(tmp_path / "ws"))
    assert result.code == 2 and "s.json" in result.err.strip().splitlines()[-1]


@pytest.mark.parametrize("text,message", [
    ("[]", "the array is empty"),
    ("  [ ]\n", "the array is empty"),
    ("{}", "no fields"),
    ("[{}, {}]", "no fields"),
    ('[{"a": 1}, 2]', "mixes objects with other values"),
    ('{"a": 1}\n7\n', "mixes objects with other values"),
])
def test_json_without_a_table_in_it_is_a_clear_error(data_dir, workspace, text, message):
    with pytest.raises(SourceError, match=f"e.json: .*{message}"):
        _stage(write(data_dir / "e.json", text), workspace)


@pytest.mark.parametrize("text,rows", [
    ("[1, 2, 3]", [("1",), ("2",), ("3",)]),
    ('["a", null, "b"]', [("a",), (None,), ("b",)]),
    ("[[1, 2], [3]]", [("[1,2]",), ("[3]",)]),
])
def test_a_json_array_of_scalars_is_a_table_of_values(data_dir, workspace, text, rows):
    t = _stage(write(data_dir / "v.json", text), workspace)
    assert [c.name for c in t.columns] == ["value"] and _rows(workspace, t) == rows


def test_a_json_object_of_scalars_is_one_row(data_dir, workspace):
    t = _stage(write(data_dir / "o.json", '{"a": 1, "b": "x", "c": {"d": true}}'), workspace)
    assert [c.name for c in t.columns] == ["a", "b", "c.d"]
    assert _rows(workspace, t) == [("1", "x", "true")]


def test_json_objects_with_too_many_keys_for_columns_are_kept_whole(data_dir, workspace):
    """DuckDB takes objects with hundreds of different keys for maps, not records."""
    t = _stage(write(data_dir / "k.json", json.dumps([{f"k{i}": i} for i in range(500)])), workspace)
    assert [c.name for c in t.columns] == ["value"] and t.row_count == 500
    assert _rows(workspace, t)[:2] == [('{"k0":0}',), ('{"k1":1}',)]
    assert any("too many different keys" in w for w in t.warnings)


def test_a_csv_is_read_in_place_and_a_change_after_staging_is_named(data_dir, workspace):
    path = write(data_dir / "a.csv", "id,name\n1,x\n2,y\n")
    t = _stage(path, workspace)
    assert t.path is None and t.in_place is not None and t.in_place.file == str(path.resolve())
    assert (t.sample_path, t.sample_rows) == ("staged/a.sample.parquet", 2)
    assert [c.values for c in t.columns] == [2, 2]
    assert _rows(workspace, t) == [("1", "x"), ("2", "y")]
    with path.open("a") as f:
        f.write("3,z\n")
    with pytest.raises(SourceError, match=r"a\.csv: changed since it was staged \(table a\)"):
        Workspace(workspace).staged_rows(t)
    path.unlink()
    with pytest.raises(SourceError, match=r"a\.csv: cannot be read since it was staged"):
        Workspace(workspace).staged_rows(t)


def test_a_parquet_file_is_read_in_place_and_a_dataset_copied(data_dir, workspace):
    """One Parquet file is staged by its counts alone (typed at the source: no sample to infer
    from); a directory of parts is copied, since parts can come and go."""
    path = data_dir / "p.parquet"
    duckdb.sql(f"COPY (SELECT * FROM (VALUES (1, 'x'), (2, NULL), (3, 'z')) t(id, name)) TO '{path}'")
    t = _stage(path, workspace)
    assert (t.path, t.in_place.file, t.sample_path) == (None, str(path.resolve()), None)
    assert (t.row_count, [c.values for c in t.columns]) == (3, [None, None])  # not counted: nothing to cast
    assert _rows(workspace, t) == [(1, "x"), (2, None), (3, "z")]
    parts = data_dir / "events.parquet"
    parts.mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS id) TO '{parts / 'part-0.parquet'}'")
    t = _stage(parts, workspace)
    assert (t.path, t.in_place, t.row_count) == ("staged/events.parquet", None, 1)


@pytest.mark.parametrize("later_lines", ["alike", "longer"])  # as the first ones promise, or far longer
def test_the_sample_is_the_rows_of_the_smallest_hashes(data_dir, workspace, monkeypatch, later_lines):
    """Staging packs only the rows hashed below a bound for the sample; when the later lines are
    longer than the first ones promise, too few pass and the sample is drawn from every row.
    Either way it is the same sample: the rows of the smallest hashes."""
    monkeypatch.setattr(dc.settings, "PROFILE_SAMPLE_ROWS", 50)
    pad = "y" * (2000 if later_lines == "longer" else 1)
    lines = [f"{i},x{i % 7}" for i in range(12_000)] + [f"{i},{pad}{i % 5}" for i in range(12_000, 14_000)]
    path = write(data_dir / "s.csv", "id,name\n" + "\n".join(lines) + "\n")
    t = _stage(path, workspace)
    assert (t.row_count, t.sample_rows) == (14_000, 50)
    staged = duckdb.sql(f"SELECT * FROM '{Workspace(workspace).path(t.sample_path)}' ORDER BY id").fetchall()
    expected = duckdb.sql(f"SELECT unnest(min_by(struct_pack(id, name), hash(id, name), 50), recursive := true) "
                          f"FROM read_csv('{path}', all_varchar = true)").fetchall()
    assert staged == sorted(expected)


def test_a_sample_of_long_rows_holds_as_much_text_as_a_sample_may(data_dir, workspace, monkeypatch):
    """Rows of kilobytes: the sample holds as many as `sql.SAMPLE_BYTES` of text (20,000 rows of
    10 KB took 1.5 GiB to draw), by the mean length of the first lines; still the rows of the
    smallest hashes."""
    monkeypatch.setattr(sql, "SAMPLE_BYTES", 1 << 16)
    lines = [f"{i},{'t' * 290}{i % 3}" for i in range(2_000)]
    path = write(data_dir / "long.csv", "id,text\n" + "\n".join(lines) + "\n")
    t = _stage(path, workspace)
    assert 290 < t.row_bytes < 300 and t.row_count == 2_000
    assert t.sample_rows == sql.sample_size(dc.settings.PROFILE_SAMPLE_ROWS, t.row_bytes) == (1 << 16) // t.row_bytes
    staged = duckdb.sql(f"SELECT * FROM '{Workspace(workspace).path(t.sample_path)}' ORDER BY id").fetchall()
    expected = duckdb.sql(f"SELECT unnest(min_by(struct_pack(id, text), hash(id, text), {t.sample_rows}), "
                          f"recursive := true) FROM read_csv('{path}', all_varchar = true)").fetchall()
    assert staged == sorted(expected)


def test_a_wide_csv_is_staged_as_a_copy(data_dir, workspace):
    header = ",".join(f"c{i}" for i in range(100))
    t = _stage(write(data_dir / "wide.csv", f"{header}\n" + ",".join(map(str, range(100))) + "\n"), workspace)
    assert (t.path, t.in_place, t.sample_path) == ("staged/wide.parquet", None, None)
    assert _rows(workspace, t) == [tuple(map(str, range(100)))]
