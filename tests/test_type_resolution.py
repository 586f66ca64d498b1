"""Type resolution: the typed table, the quarantine, overrides, and the nothing-lost invariant."""

from __future__ import annotations

import csv
import string
import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hamilton import driver
from hypothesis import given, settings
from hypothesis import strategies as st

from dataraum_context import inference, sql
from dataraum_context.dataflows import schema_profiling as schema_profiling_module
from dataraum_context.dataflows import staging as staging_module
from dataraum_context.dataflows import type_resolution as type_resolution_module
from dataraum_context.dataflows.staging import source_manifest
from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.models import ResolvedTable, TypeResolutionResult
from dataraum_context.settings import NULL_TOKENS
from dataraum_context.workspace import Workspace

from support.steps import schema_profiling, staging, type_resolution


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def _resolve(sources: list[Path], ws: Path, **options) -> TypeResolutionResult:
    staged = staging(source_manifest([str(s) for s in sources]), str(ws))
    return type_resolution(schema_profiling(staged, str(ws)), staged, str(ws), **options)


def _rows(ws: Path, relative: str, order: str = "") -> list[tuple]:
    return duckdb.execute(f"SELECT * FROM read_parquet('{ws / relative}') {order}").fetchall()


def _column(ws: Path, table: ResolvedTable, name: str) -> list:
    return [r[0] for r in duckdb.execute(f'SELECT "{name}" FROM read_parquet(\'{ws / table.path}\')').fetchall()]


# --- the nothing-lost invariant ------------------------------------------------------------

_VALID = {
    "int": st.integers(-10**6, 10**6).map(str),
    "decimal": st.integers(-10**8, 10**8).map(lambda c: f"{c // 100:,}.{c % 100:02d}"),
    "decimal_comma": st.integers(0, 10**8).map(lambda c: f"{c // 100},{c % 100:02d}"),
    "date": st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")),
    "bool": st.sampled_from(["yes", "no"]),
    "timestamp": st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1)).map(lambda d: d.isoformat()),
    "text": st.text(string.ascii_letters, min_size=1, max_size=6),
}
_JUNK = st.text(string.ascii_letters + string.digits + ' .,;-/:%$€#?"\t\n\u00a0é', max_size=10)


@st.composite
def _table(draw):
    """A header and rows: an id, then columns of one type each with junk and null tokens mixed in."""
    kinds = draw(st.lists(st.sampled_from(sorted(_VALID)), min_size=1, max_size=4))
    cells = [st.one_of(_VALID[k], _VALID[k], _VALID[k], _JUNK, st.sampled_from(NULL_TOKENS)) for k in kinds]
    rows = draw(st.lists(st.tuples(*cells), min_size=1, max_size=25))
    return ["id", *(f"{k}_{i}" for i, k in enumerate(kinds))], [[str(i), *r] for i, r in enumerate(rows)]


@settings(max_examples=30, deadline=None, database=None)
@given(_table(), st.booleans(), st.sampled_from([0.5, 0.9]))
def test_nothing_is_lost(table, malformed, min_confidence):
    header, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        path, ws = Path(tmp) / "t.csv", Path(tmp) / "ws"
        _write_csv(path, header, rows + ([[*rows[0], "extra field"]] if malformed else []))
        staged_result = staging(source_manifest([str(path)]), str(ws))
        t = type_resolution(schema_profiling(staged_result, str(ws)), staged_result, str(ws),
                            min_type_confidence=min_confidence).tables["t"]
        staged = Workspace(ws).staged_rows(staged_result.tables["t"], row_numbers=True)
        typed = f"read_parquet('{ws / t.path}')"
        con = duckdb.connect()
        con.execute("CREATE VIEW q AS SELECT * FROM "
                    + (f"read_parquet('{ws / t.quarantine_path}')" if t.quarantine_path else
                       "(SELECT NULL::BIGINT AS row_number, NULL::VARCHAR AS \"column\", "
                       "NULL::VARCHAR AS raw_value, NULL::VARCHAR AS reason) WHERE false"))
        staged_rows = con.execute(f"SELECT count(*) FROM {staged}").fetchone()[0]
        assert t.row_count == staged_rows == con.execute(f"SELECT count(*) FROM {typed}").fetchone()[0]
        assert t.source_rows == t.row_count + t.rejected_rows == len(rows) + malformed
        assert con.execute('SELECT count(*) FROM q WHERE "column" IS NULL').fetchone()[0] == t.rejected_rows
        for name, column in t.columns.items():
            c = '"' + name + '"'
            values = con.execute(f"SELECT count(*) FILTER ({c} IS NOT NULL AND NOT list_contains($1, trim({c}))) "
                                 f"FROM {staged}", [list(NULL_TOKENS)]).fetchone()[0]
            cast = con.execute(f"SELECT count({c}) FROM {typed}").fetchone()[0]
            quarantined = con.execute('SELECT count(*) FROM q WHERE "column" = ?', [name]).fetchone()[0]
            assert values == cast + quarantined == cast + column.cast_failures, name
        # every quarantined value is the staged value at its row, and its typed value is NULL
        assert con.execute(f"""
            SELECT count(*) FROM q JOIN (UNPIVOT (SELECT file_row_number + 1 AS row_number,
                   COLUMNS(* EXCLUDE (file_row_number))::VARCHAR FROM {staged}) ON COLUMNS(* EXCLUDE (row_number))
                   INTO NAME "column" VALUE raw_value) s USING (row_number, "column", raw_value)
        """).fetchone()[0] == t.quarantined_values
        assert t.quarantined_values == sum(c.cast_failures for c in t.columns.values())


# --- examples ------------------------------------------------------------------------------


def test_one_unparseable_date_goes_to_quarantine(tmp_path: Path):
    days = [f"2024-01-{d:02d}" for d in range(1, 21)]
    days[6] = "2024-02-30"
    path = _write_csv(tmp_path / "orders.csv", ["id", "order_date"], [[str(i), d] for i, d in enumerate(days)])
    t = _resolve([path], tmp_path / "ws").tables["orders"]
    column = t.columns["order_date"]
    assert (column.data_type, column.resolved_by, column.cast_failures) == ("DATE", "inference", 1)
    assert column.failure_examples == ("2024-02-30",)
    assert (t.quarantine_path, t.quarantined_values, t.row_count) == ("quarantine/orders.parquet", 1, 20)
    assert _rows(tmp_path / "ws", t.quarantine_path) == [
        (7, "order_date", "2024-02-30", "not a DATE (format %Y-%m-%d)")]
    dates = _column(tmp_path / "ws", t, "order_date")
    assert dates[6] is None and dates[0] == date(2024, 1, 1) and len(dates) == 20


def test_typed_values(tmp_path: Path):
    header = ["zip", "amount", "eu", "pct", "is_active", "count", "at", "note"]
    rows = [["01234", "$1,234.50", "1.234,5", "12.5%", "1", "1", "2024-01-31T13:45:00.123Z", " NA "],
            ["12345", "$5", "7,25", "3%", "0", "0", "2024-01-31 13:45:00+02:00", "keep me"],
            ["00042", "-$3.20", "-0,5", "100 %", "1", "1", "2024-01-31 13:45", "-"]]
    t = _resolve([_write_csv(tmp_path / "t.csv", header, rows)], tmp_path / "ws").tables["t"]
    assert [c.data_type for c in t.columns.values()] == [
        "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "BOOLEAN", "BIGINT", "TIMESTAMP WITH TIME ZONE", "VARCHAR"]
    assert t.columns["amount"].candidate.unit == "$" and t.columns["pct"].candidate.unit == "%"
    assert t.quarantine_path is None and t.quarantined_values == 0
    utc = UTC
    assert _rows(tmp_path / "ws", t.path) == [
        ("01234", 1234.5, 1234.5, 12.5, True, 1, datetime(2024, 1, 31, 13, 45, 0, 123000, tzinfo=utc), None),
        ("12345", 5.0, 7.25, 3.0, False, 0, datetime(2024, 1, 31, 11, 45, tzinfo=utc), "keep me"),
        ("00042", -3.2, -0.5, 100.0, True, 1, datetime(2024, 1, 31, 13, 45, tzinfo=utc), None)]


def test_a_null_token_that_would_cast_is_null(tmp_path: Path):
    path = _write_csv(tmp_path / "t.csv", ["x"], [["1.5"], ["NaN"], ["2.5"], [" nan"]])
    t = _resolve([path], tmp_path / "ws").tables["t"]
    assert t.columns["x"].data_type == "DOUBLE"
    assert _column(tmp_path / "ws", t, "x") == [1.5, None, 2.5, None] and t.quarantine_path is None


_PADS = st.text(" \t\u00a0\u2003\u3000\u200b", max_size=40)  # spaces trim() removes (Zs), and others


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.sampled_from(["", "NA", "n/a", "null", "—", "n.v.", "ñ"]), min_size=1, max_size=4, unique=True),
       st.lists(st.tuples(_PADS, st.sampled_from(["NA", "n/a", "—", "ñ", "x", "NAN", "a" * 30]), _PADS),
                max_size=30))
def test_a_value_is_a_null_token_as_it_reads_trimmed(tokens, values):
    """`inference.null_token_sql` trims only a value that can be a token (as long as one, or
    padded), and says exactly what `list_contains(tokens, trim(value))` says."""
    texts = ["".join(v) for v in values]
    with duckdb.connect() as con:
        found = con.execute(f"SELECT v, {inference.null_token_sql('v', tokens)} = list_contains($1, trim(v)) "
                            "FROM unnest($2::VARCHAR[]) AS u(v)", [tokens, texts]).fetchall()
    assert all(same for _, same in found), [v for v, same in found if not same]


def test_trim_removes_the_characters_the_null_token_guard_looks_for():
    """DuckDB's trim() removes exactly Unicode's space separators (Zs), which the guard of
    `inference.null_token_sql` finds with RE2's \\p{Zs}: a DuckDB that trimmed more would need
    another guard."""
    assert duckdb.execute(r"SELECT count(*) FROM range(1, 1114112) r(cp) WHERE (cp < 55296 OR cp > 57343) "
                          r"AND (length(trim(chr(cp::INTEGER))) = 0) != regexp_matches(chr(cp::INTEGER), '^\p{Zs}')"
                          ).fetchone() == (0,)


def test_a_low_confidence_column_stays_text(tmp_path: Path):
    path = _write_csv(tmp_path / "t.csv", ["x"], [["1"], ["2"], ["three"], ["four"]])
    column = _resolve([path], tmp_path / "ws").tables["t"].columns["x"]
    assert (column.data_type, column.candidate.format, column.cast_failures) == ("VARCHAR", "text", 0)
    column = _resolve([path], tmp_path / "ws", min_type_confidence=0.4).tables["t"].columns["x"]
    assert (column.data_type, column.cast_failures, column.failure_examples) == ("BIGINT", 2, ("three", "four"))


def test_overrides_win_and_reuse_the_profiled_format(tmp_path: Path):
    path = _write_csv(tmp_path / "t.csv", ["amount", "code", "ratio", "day"],
                      [["1.234,50", "7", "1.5", "x"], ["12,00", "8", "2", "2024-01-31"]])
    t = _resolve([path], tmp_path / "ws", type_overrides={
        "t.amount": "decimal(18,2)", "t.code": "VARCHAR", "t.ratio": "INT", "t.day": "DATE"}).tables["t"]
    amount, code, ratio, day = t.columns.values()
    assert (amount.data_type, amount.resolved_by, amount.candidate.format) == ("DECIMAL(18,2)", "override",
                                                                              "decimal_comma")
    assert _column(tmp_path / "ws", t, "amount") == [Decimal("1234.50"), Decimal("12.00")]
    assert (code.data_type, _column(tmp_path / "ws", t, "code")) == ("VARCHAR", ["7", "8"])
    # a whole-number type does not round a fraction: it is quarantined
    assert (ratio.data_type, ratio.cast_failures, _column(tmp_path / "ws", t, "ratio")) == ("INTEGER", 1, [None, 2])
    assert (day.data_type, day.cast_failures, day.candidate.format) == ("DATE", 1, "date_iso")
    assert _rows(tmp_path / "ws", t.quarantine_path, "ORDER BY row_number, \"column\"") == [
        (1, "day", "x", "not a DATE (format %Y-%m-%d)"),
        (1, "ratio", "1.5", "not a INTEGER (whole number)")]


@pytest.mark.parametrize("overrides,message", [
    ({"invoices.amount": "DOUBLE"}, r"'invoices.amount' names no staged table .*tables: t\)"),
    ({"amount": "DOUBLE"}, r"'amount' names no staged table"),
    ({"t.price": "DOUBLE"}, r"'t.price': table 't' has no column 'price' \(columns: amount, n\)"),
    ({"t.amount": "MONEY"}, r"'t.amount': 'MONEY' is not a DuckDB type"),
    ({"t.amount": "INT); DROP TABLE x; --"}, r"is not a DuckDB type"),
])
def test_a_bad_override_is_a_config_error(tmp_path: Path, overrides, message):
    path = _write_csv(tmp_path / "t.csv", ["amount", "n"], [["1.5", "1"]])
    with pytest.raises(ConfigError, match=message):
        _resolve([path], tmp_path / "ws", type_overrides=overrides)


def test_a_stale_quarantine_is_removed(tmp_path: Path):
    path = _write_csv(tmp_path / "t.csv", ["n"], [["1"], ["x"]])
    ws = tmp_path / "ws"
    assert _resolve([path], ws, type_overrides={"t.n": "BIGINT"}).tables["t"].quarantine_path
    _write_csv(path, ["n"], [["1"], ["2"]])
    assert _resolve([path], ws, type_overrides={"t.n": "BIGINT"}).tables["t"].quarantine_path is None
    assert not (ws / "quarantine" / "t.parquet").exists()


def test_malformed_rows_are_in_quarantine_with_their_line(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n3\n4,5\n")
    t = _resolve([path], tmp_path / "ws").tables["r"]
    assert (t.row_count, t.rejected_rows, t.source_rows, t.quarantined_values) == (2, 1, 3, 0)
    (row,) = _rows(tmp_path / "ws", t.quarantine_path)
    assert row[:3] == (3, None, "3") and "MISSING COLUMNS" in row[3]


def test_a_typed_parquet_source_keeps_its_types(tmp_path: Path):
    source = tmp_path / "p.parquet"
    duckdb.execute(f"""COPY (SELECT * FROM (VALUES
        (1::BIGINT, 1.5::DOUBLE, DATE '2024-01-31', TIMESTAMP '2024-01-31 13:45:00', true, 'NA', ' 7 '),
        (2, NULL, NULL, NULL, false, 'x', '8')) v(n, x, d, ts, b, s, padded)) TO '{source}'""")
    ws = tmp_path / "ws"
    t = _resolve([source], ws, type_overrides={"p.x": "BIGINT"}).tables["p"]
    assert {n: (c.data_type, c.resolved_by) for n, c in t.columns.items()} == {
        "n": ("BIGINT", "source"), "x": ("BIGINT", "override"), "d": ("DATE", "source"),
        "ts": ("TIMESTAMP", "source"), "b": ("BOOLEAN", "source"), "s": ("VARCHAR", "source"),
        "padded": ("VARCHAR", "source")}
    assert _rows(ws, t.path) == [(1, None, date(2024, 1, 31), datetime(2024, 1, 31, 13, 45), True, "NA", " 7 "),
                                 (2, None, None, None, False, "x", "8")]
    assert _rows(ws, t.quarantine_path) == [(1, "x", "1.5", "not a BIGINT (cast from DOUBLE)")]


def test_a_parquet_file_typed_at_the_source_is_copied_as_it_is(tmp_path: Path):
    """Nothing to cast: the typed table is the file, byte for byte; a file changed after staging
    is named, not copied."""
    source = tmp_path / "p.parquet"
    duckdb.execute(f"COPY (SELECT i AS n, 'v' || i AS s FROM range(5) t(i)) TO '{source}' (ROW_GROUP_SIZE 2)")
    ws = tmp_path / "ws"
    t = _resolve([source], ws).tables["p"]
    assert (ws / t.path).read_bytes() == source.read_bytes()
    assert (t.row_count, t.quarantine_path, t.columns["n"].data_type) == (5, None, "BIGINT")
    staged = staging(source_manifest([str(source)]), str(ws))
    duckdb.execute(f"COPY (SELECT 1 AS n, 'changed' AS s) TO '{source}'")
    with pytest.raises(SourceError, match=r"p\.parquet: changed since it was staged \(table p\)"):
        type_resolution(schema_profiling(staged, str(ws)), staged, str(ws))


def test_a_parquet_file_of_long_row_groups_is_written_again(tmp_path: Path):
    """One row group of 300,000 rows (as pyarrow writes a million) would make every later scan
    run on one thread: the typed table is written in DuckDB's row groups instead."""
    source = tmp_path / "long.parquet"
    duckdb.execute(f"COPY (SELECT i AS n FROM range(300000) t(i)) TO '{source}' (ROW_GROUP_SIZE 300000)")
    t = _resolve([source], tmp_path / "ws").tables["long"]
    groups = duckdb.execute(f"SELECT max(row_group_num_rows), sum(row_group_num_rows) "
                            f"FROM parquet_metadata('{tmp_path / 'ws' / t.path}')").fetchone()
    assert groups == (122_880, 300_000)


def test_a_parquet_file_of_row_groups_of_long_texts_is_written_again(tmp_path: Path):
    """Row groups of few rows but many bytes (2,000 texts of 40 KB: 80 MiB) would have every
    later reader hold one at a time per thread: the typed table is written in bounded ones."""
    source = tmp_path / "texts.parquet"
    duckdb.execute(f"COPY (SELECT i AS n, repeat('x', 40000) || i AS t FROM range(2000) r(i)) TO '{source}' "
                   "(ROW_GROUP_SIZE 2000, ROW_GROUP_SIZE_BYTES '1GB', COMPRESSION uncompressed)")
    t = _resolve([source], tmp_path / "ws").tables["texts"]
    assert (tmp_path / "ws" / t.path).read_bytes() != source.read_bytes()
    [(size,)] = duckdb.execute(f"SELECT max(size) FROM (SELECT sum(total_uncompressed_size) AS size FROM "
                               f"parquet_metadata('{tmp_path / 'ws' / t.path}') GROUP BY row_group_id)").fetchall()
    assert size <= 2 * sql.ROW_GROUP_BYTES


def test_the_steps_run_as_a_hamilton_dataflow(tmp_path: Path):
    path = _write_csv(tmp_path / "t.csv", ["n", "flag"], [["1", "unknown"], ["2", "yes"], ["3", "no"]])
    dr = (driver.Builder().enable_dynamic_execution(allow_experimental_mode=True)
          .with_modules(staging_module, schema_profiling_module, type_resolution_module)
          .with_config({"null_tokens": ["unknown"], "type_overrides": {"t.n": "DOUBLE"}}).build())
    result = dr.execute(["type_resolution"], inputs={"sources": [str(path)], "workspace": str(tmp_path / "ws")})
    t = result["type_resolution"].tables["t"]
    assert (t.columns["n"].data_type, t.columns["flag"].data_type, t.quarantine_path) == ("DOUBLE", "BOOLEAN", None)
    assert _column(tmp_path / "ws", t, "flag") == [None, True, False]


def test_typed_rows_keep_the_staged_order_across_row_groups(tmp_path: Path):
    path = tmp_path / "big.csv"
    duckdb.execute(f"""COPY (SELECT i AS id, CASE WHEN i % 2 = 0 THEN 'yes' ELSE 'no' END AS flag,
                                  CASE WHEN i % 7 = 0 THEN 'NA' ELSE 'note ' || i END AS note
                           FROM range(1000000) t(i)) TO '{path}' (HEADER)""")
    t = _resolve([path], tmp_path / "ws").tables["big"]
    assert (t.columns["id"].data_type, t.columns["flag"].data_type, t.quarantine_path) == ("BIGINT", "BOOLEAN", None)
    assert duckdb.execute(f"""SELECT count(*) FILTER (id <> file_row_number OR flag <> (id % 2 = 0)
                                                      OR note IS DISTINCT FROM CASE WHEN id % 7 = 0 THEN NULL
                                                                                   ELSE 'note ' || id END)
                              FROM read_parquet('{tmp_path / 'ws' / t.path}')""").fetchone()[0] == 0


def test_awkward_column_names(tmp_path: Path):
    header = ["file_row_number", "column", 'we"ird col']
    path = _write_csv(tmp_path / "t.csv", header, [[str(i), "x" if i == 3 else str(i), "2024-01-01"]
                                                   for i in range(1, 21)])
    ws = tmp_path / "ws"
    staged = staging(source_manifest([str(path)]), str(ws))
    profile = schema_profiling(staged, str(ws), profile_sample_rows=10)
    assert profile.tables["t"].sampled and profile.tables["t"].columns["column"].profiled_values == 10
    t = type_resolution(schema_profiling(staged, str(ws)), staged, str(ws)).tables["t"]
    assert [c.data_type for c in t.columns.values()] == ["BIGINT", "BIGINT", "DATE"]
    assert _rows(ws, t.quarantine_path) == [(3, "column", "x", "not a BIGINT (whole number)")]


def test_typing_a_table_opens_one_duckdb_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The null-token test of each distinct cast opened a connection of its own (tens of ms
    each: seven for the thirteen columns of benchmarks/profile_vs_summarize.py)."""
    path = _write_csv(tmp_path / "kinds.csv", ["id", "price", "day", "at", "flag", "name"],
                      [[str(i), f"{i}.5", f"2024-01-{i + 1:02d}", f"2024-01-01 10:00:{i:02d}", "true", f"n{i}"]
                       for i in range(20)])
    staged = staging(source_manifest([str(path)]), str(tmp_path / "ws"))
    profiled = schema_profiling(staged, str(tmp_path / "ws"))
    opened = []
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    typed = type_resolution(profiled, staged, str(tmp_path / "ws"))
    assert {c.data_type for c in typed.tables["kinds"].columns.values()} >= {"BIGINT", "DATE", "BOOLEAN"}
    assert len(opened) == 1
