"""Schema profiling: value patterns, null tokens and ranked type candidates.

The properties format values of a known type and check that the profile reads them back as that
type, and that type resolution's SQL for the chosen candidate returns exactly those values.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataraum_context import inference, sql
from dataraum_context.dataflows.staging import source_manifest
from dataraum_context.errors import ConfigError
from dataraum_context.models import ColumnSchema, TypeCandidate
from dataraum_context.settings import NULL_TOKENS

from support.steps import schema_profiling, staging

PROPERTY = settings(max_examples=30, deadline=None, database=None)


def _profile(values: list[str | None], name: str = "value") -> ColumnSchema:
    return inference.profile_column(name, pl.Series(name, values, dtype=pl.String), NULL_TOKENS)


def _cast(values: list[str], candidate: TypeCandidate) -> list:
    """The values as type resolution reads them for this candidate."""
    sql = inference.cast_sql("trim(v)", candidate, candidate.data_type)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return [r[0] for r in con.execute(
            f"SELECT {sql} FROM unnest($1::VARCHAR[]) WITH ORDINALITY AS u(v, i) ORDER BY i", [values]
        ).fetchall()]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def _thousands(n: int, sep: str | None) -> str:
    return f"{n:,}".replace(",", sep) if sep else str(n)


# --- properties: a value written from a known type is read back as that type ----------------


@PROPERTY
@given(st.lists(st.integers(-10**15, 10**15), min_size=1, max_size=40),
       st.sampled_from([None, ",", ".", " "]))
def test_integers_are_read_back(numbers, sep):
    numbers = [*numbers, 1_234_567]  # two separators settle what they are
    written = [_thousands(n, sep) for n in numbers]
    best = _profile(written).best
    assert (best.data_type, best.format, best.thousands_separator) == ("BIGINT", "integer", sep)
    assert best.confidence == 1.0 and not best.ambiguous
    assert _cast(written, best) == numbers


def _decimal(cents: int, places: int, mark: str, sep: str | None) -> str:
    whole, frac = divmod(abs(cents), 10**places)
    return f"{'-' if cents < 0 else ''}{_thousands(whole, sep)}{mark}{frac:0{places}d}"


@PROPERTY
@given(st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=40), st.sampled_from([1, 2, 4]),
       st.sampled_from([(".", None), (".", ","), (",", None), (",", "."), (",", " "), (".", " ")]))
def test_decimals_are_read_back_in_both_notations(cents, places, dialect):
    mark, sep = dialect
    cents = [*cents, 123_456_789]  # one value shows the thousands separator
    written = [_decimal(c, places, mark, sep) for c in cents]
    best = _profile(written).best
    assert best.data_type == "DOUBLE" and best.format == ("decimal_comma" if mark == "," else "decimal")
    assert (best.decimal_mark, best.thousands_separator, best.confidence) == (mark, sep, 1.0)
    assert _cast(written, best) == pytest.approx([c / 10**places for c in cents], rel=1e-12)


@PROPERTY
@given(st.lists(st.dates(date(1900, 1, 1), date(2100, 12, 31)), min_size=1, max_size=40),
       st.sampled_from(["%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y"]))
def test_dates_are_read_back_in_each_format(days, fmt):
    days = [*days, date(2024, 1, 31)]  # a day above 12 settles day-first against month-first
    written = [d.strftime(fmt) for d in days]
    best = _profile(written).best
    assert (best.data_type, best.parse_format, best.ambiguous, best.confidence) == ("DATE", fmt, False, 1.0)
    assert best.format == {"%Y-%m-%d": "date_iso", "%m/%d/%Y": "date_us"}.get(fmt, "date_eu")
    assert _cast(written, best) == days


@PROPERTY
@given(st.lists(st.booleans(), min_size=1, max_size=20),
       st.sampled_from([("true", "false"), ("TRUE", "FALSE"), ("yes", "no"), ("Yes", "No"), ("y", "n"),
                        ("Y", "N"), ("t", "f")]))
def test_booleans_are_read_back(flags, words):
    written = [words[0] if f else words[1] for f in flags]
    best = _profile(written).best
    assert (best.data_type, best.confidence) == ("BOOLEAN", 1.0)
    assert _cast(written, best) == flags


_ZONES = {None: None, "Z": UTC, "+02:00": timezone(timedelta(hours=2)),
          "-0530": timezone(-timedelta(hours=5, minutes=30)), "+01": timezone(timedelta(hours=1))}


@PROPERTY
@given(st.lists(st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1)), min_size=1, max_size=30),
       st.sampled_from(["T", " "]), st.sampled_from([0, 3, 6]), st.sampled_from(list(_ZONES)))
def test_timestamps_are_read_back_with_and_without_zone(stamps, sep, digits, zone):
    stamps = [s.replace(microsecond=s.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits)) for s in stamps]
    fraction = (lambda s: f".{s.microsecond:06d}"[: digits + 1]) if digits else (lambda s: "")
    written = [s.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction(s) + (zone or "") for s in stamps]
    best = _profile(written).best
    assert (best.data_type, best.confidence) == ("TIMESTAMPTZ" if zone else "TIMESTAMP", 1.0)
    expected = [s.replace(tzinfo=_ZONES[zone]) for s in stamps] if zone else stamps
    assert _cast(written, best) == expected


# --- examples ------------------------------------------------------------------------------


def test_leading_zero_codes_stay_text():
    column = _profile(["01234", "12345", "00042", "98765"], name="postal_code")
    assert (column.best.data_type, column.best.format, column.best.confidence) == ("VARCHAR", "code", 1.0)
    integer = next(c for c in column.candidates if c.format == "integer")
    assert integer.confidence < 0.9
    assert any("leading zero" in e for e in column.best.evidence)


@pytest.mark.parametrize("name", ["is_active", "has_orders", "deleted_flag", "active", "isVerified"])
def test_zero_one_is_boolean_when_the_name_says_flag(name):
    column = _profile(["0", "1", "1", "0"], name=name)
    assert column.best.data_type == "BOOLEAN"
    assert [c.data_type for c in column.candidates] == ["BOOLEAN", "BIGINT", "VARCHAR"]
    assert any("says flag" in e for e in column.best.evidence)


@pytest.mark.parametrize("name", ["count", "quantity", "island"])
def test_zero_one_is_bigint_otherwise(name):
    column = _profile(["0", "1", "1", "0"], name=name)
    assert [c.data_type for c in column.candidates] == ["BIGINT", "VARCHAR"]


def test_unsettled_dates_are_ambiguous_and_month_first():
    best = _profile(["01/02/2024", "03/04/2024", "12/11/2023"]).best
    assert (best.data_type, best.parse_format, best.ambiguous) == ("DATE", "%m/%d/%Y", True)
    assert any("month-first assumed" in e for e in best.evidence)


def test_a_day_above_twelve_settles_day_first():
    best = _profile(["01/02/2024", "03/04/2024", "25/12/2023"]).best
    assert (best.parse_format, best.ambiguous, best.format) == ("%d/%m/%Y", False, "date_eu")
    assert any("day-first" in e for e in best.evidence)


@pytest.mark.parametrize("values,unit,data_type,mark,sep,expected", [
    (["$1,234.50", "$5", "-$3.20"], "$", "DOUBLE", ".", ",", [1234.5, 5, -3.2]),
    (["€ 12,50", "€ 1.234,00", "€3"], "€", "DOUBLE", ",", ".", [12.5, 1234, 3]),
    (["1234.00 USD", "5.50 USD"], "USD", "DOUBLE", ".", None, [1234, 5.5]),
    (["EUR 12", "EUR 1300"], "EUR", "BIGINT", None, None, [12, 1300]),
    (["12.5%", "3%", "100 %"], "%", "DOUBLE", ".", None, [12.5, 3, 100]),
])
def test_currency_and_percent_record_their_unit(values, unit, data_type, mark, sep, expected):
    best = _profile(values).best
    assert (best.unit, best.data_type, best.decimal_mark, best.thousands_separator) == (unit, data_type, mark, sep)
    assert best.format == ("percent" if unit == "%" else "currency")
    assert _cast(values, best) == pytest.approx(expected)


def test_a_value_in_another_currency_does_not_match():
    best = _profile(["$1.00", "$2.00", "$3.00", "€4.00"]).best
    assert best.unit == "$" and best.match_ratio == 0.75
    assert _cast(["€4.00"], best) == [None]


@pytest.mark.parametrize("values,data_type,fmt", [
    (["1.5e3", "2E-4", "-3.25e+10"], "DOUBLE", "scientific"),
    (["13:45", "13:45:30", "7:05"], "TIME", "time"),
    (["123e4567-e89b-12d3-a456-426614174000", "00000000-0000-0000-0000-000000000000"], "UUID", "uuid"),
    (["ann@example.com", "bob.stone+x@mail.example.org", "léa.zoë@exämple.de"], "VARCHAR", "email"),
    (["https://example.com/a?b=1", "http://x.org", "www.example.com"], "VARCHAR", "url"),
    (["10.0.0.1", "192.168.1.255", "8.8.8.8"], "VARCHAR", "ipv4"),
    (["::1", "2001:db8::ff00:42:8329", "fe80:0:0:0:0:0:0:1"], "VARCHAR", "ipv6"),
    (["2024/01/31", "2023/12/01"], "DATE", "date_ymd"),
    (["hello", "world"], "VARCHAR", "text"),
])
def test_formats(values, data_type, fmt):
    best = _profile(values).best
    assert (best.data_type, best.format) == (data_type, fmt)


def test_one_bad_value_in_a_thousand_keeps_the_type():
    column = _profile([str(i) for i in range(999)] + ["oops"])
    assert column.best.data_type == "BIGINT" and 0.998 <= column.best.confidence < 1.0
    assert column.candidates[-1].format == "text"


def test_a_mixed_column_stays_text():
    column = _profile(["shipped", "pending", "2024-01-31", "42", "cancelled"])
    assert all(c.confidence < 0.5 for c in column.candidates[:-1])
    assert column.candidates[-1].format == "text" and column.candidates[-1].confidence > 0.5


def test_name_hints_add_confidence_but_never_override_the_values():
    values = ["2023-04-01", "2023-04-02", "2023-04-19", "not a date"]
    plain, hinted = _profile(values, name="x").best, _profile(values, name="order_date").best
    assert plain.data_type == hinted.data_type == "DATE"
    assert plain.confidence == 0.75 and hinted.confidence >= 0.9
    assert any("order_date" in e for e in hinted.evidence)
    integers = _profile(["1700000000", "1700000100"], name="created_at").best
    assert integers.data_type == "BIGINT" and not any("created_at" in e for e in integers.evidence)


def test_thousands_or_decimal_comma_unsettled_is_ambiguous():
    best = _profile(["1,234", "5,678"]).best
    assert (best.data_type, best.thousands_separator, best.ambiguous) == ("BIGINT", ",", True)
    assert any(e.startswith("ambiguous") for e in best.evidence)


def test_patterns_null_tokens_and_trimming():
    column = _profile(["AB-12", " CD-34 ", "xy-9", "NA", "n/a", "N/A", "NA", None, "\u00a0-"])
    assert column.null_tokens == {"NA": 2, "-": 1, "N/A": 1, "n/a": 1}
    assert (column.profiled_values, column.distinct_values) == (3, 3)
    assert [(p.pattern, p.count, p.example) for p in column.patterns] == [
        ("AA-99", 2, "AB-12"), ("aa-9", 1, "xy-9")]


def test_long_values_have_cut_patterns():
    column = _profile(["word " * 20])
    assert column.patterns[0].pattern == ("aaaa " * 8) + "…"


def test_no_values_is_text():
    column = _profile([None, "NA", ""])
    assert column.profiled_values == 0 and [c.format for c in column.candidates] == ["text"]


# --- the step ------------------------------------------------------------------------------


def test_step_profiles_text_columns_and_keeps_parquet_types(tmp_path: Path):
    _write_csv(tmp_path / "orders.csv", ["id", "amount", "note"],
               [[str(i), f"{i},50", "NA" if i % 3 else f"note {i}"] for i in range(1, 31)])
    duckdb.execute(f"COPY (SELECT 1::BIGINT AS n, DATE '2024-01-31' AS d, 'x' AS s) "
                   f"TO '{tmp_path / 'typed.parquet'}'")
    ws = str(tmp_path / "ws")
    result = schema_profiling(staging(source_manifest([str(tmp_path)]), ws), ws, null_tokens=["NA"])
    orders = result.tables["orders"]
    assert (orders.sampled, orders.profiled_rows) == (False, 30)
    assert [c.best.data_type for c in orders.columns.values()] == ["BIGINT", "DOUBLE", "VARCHAR"]
    assert orders.columns["note"].null_tokens == {"NA": 20}
    typed = result.tables["typed"]
    for name, data_type in [("n", "BIGINT"), ("d", "DATE"), ("s", "VARCHAR")]:
        (only,) = typed.columns[name].candidates
        assert (only.data_type, only.format, only.confidence) == (data_type, "source", 1.0)


def test_step_samples_large_tables_repeatably(tmp_path: Path):
    _write_csv(tmp_path / "big.csv", ["n"], [[str(i)] for i in range(500)])
    ws = str(tmp_path / "ws")
    staged = staging(source_manifest([str(tmp_path / "big.csv")]), ws)
    first = schema_profiling(staged, ws, profile_sample_rows=100)
    table = first.tables["big"]
    assert (table.sampled, table.profiled_rows, table.columns["n"].profiled_values) == (True, 100, 100)
    assert schema_profiling(staged, ws, profile_sample_rows=100) == first
    with pytest.raises(ConfigError, match="profile_sample_rows"):
        schema_profiling(staged, ws, profile_sample_rows=0)


@pytest.mark.parametrize("kind", ["csv", "ndjson"])  # read in place (its staged sample), or a staged copy
def test_step_profiles_fewer_rows_of_long_texts(tmp_path: Path, monkeypatch, kind):
    """A table of long texts is profiled on as many rows as `sql.SAMPLE_BYTES` of them: from the
    sample staging drew (not a second read of the file), or from the staged copy."""
    monkeypatch.setattr(sql, "SAMPLE_BYTES", 1 << 16)
    rows = [[str(i), "t" * 290 + str(i % 3), f"{i}.5"] for i in range(2_000)]
    if kind == "csv":
        _write_csv(tmp_path / "long.csv", ["id", "text", "amount"], rows)
    else:
        (tmp_path / "long.ndjson").write_text("".join(
            json.dumps(dict(zip(["id", "text", "amount"], row, strict=True))) + "\n" for row in rows))
    ws = str(tmp_path / "ws")
    staged = staging(source_manifest([str(tmp_path)]), ws)
    table = staged.tables["long"]
    profile = schema_profiling(staged, ws).tables["long"]
    wanted = sql.sample_size(20_000, table.row_bytes)
    assert 150 < wanted < 300  # about 64 KiB of rows of about 300 bytes
    assert (profile.sampled, profile.profiled_rows, profile.columns["id"].profiled_values) == (True, wanted, wanted)
    assert (table.sample_rows if kind == "csv" else wanted) == wanted
    assert [profile.columns[c].best.data_type for c in ("id", "text", "amount")] == ["BIGINT", "VARCHAR", "DOUBLE"]


def test_patterns_of_letters_beyond_ascii():
    column = _profile(["Zoë-7", "José-12", "日本", "Ab-1"])
    assert sorted(p.pattern for p in column.patterns) == ["Aa-9", "Aaa-9", "Aaaa-99", "aa"]


def test_columns_profiled_together_are_profiled_as_alone():
    """profile_columns works on all columns at once (distinct values, patterns, which detectors
    can match): no column's values may reach another's profile, whatever the columns are named."""
    columns = {
        "value": ["1", "2", "2", "N/A", None],  # named like the long frame's own columns
        "column": ["1,5", "2,25", "", "x", "3,5"],
        "count": ["2024-01-31", "31/01/2024", "NULL", "a@b.de", "ü"],
        "when": ["2024-05-01T10:00:00Z", "10:30", "0b9c1e3a-5d2f-4c61-9a8e-0f1e2d3c4b5a", "$ 12", "12 %"],
        "flag": ["yes", "no", "y", "1", "0"],
        "empty": [None, "", "NA", " ", None],
    }
    frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    together = inference.profile_columns(frame, NULL_TOKENS)
    assert list(together) == list(columns)
    for name in columns:
        assert together[name] == _profile(columns[name], name), name
    assert together["value"].null_tokens == {"N/A": 1} and together["value"].candidates[0].data_type == "BIGINT"
    assert together["empty"].profiled_values == 0


def test_columns_profiled_in_batches_are_profiled_as_together(tmp_path, monkeypatch):
    """A wide sample is profiled a few columns at a time (bounded memory), with the same result."""
    from dataraum_context.dataflows import schema_profiling as module

    path = tmp_path / "t.csv"
    duckdb.execute(f"""COPY (SELECT i AS id, 'x' || (i % 7) AS label,
                               CASE WHEN i % 5 = 0 THEN 'NA' ELSE (i * 1.5)::VARCHAR END AS amount,
                               DATE '2024-01-01' + i::INTEGER AS day, i % 2 = 0 AS flag
                        FROM range(300) t(i)) TO '{path}' (HEADER)""")
    staged = staging(source_manifest([str(path)]), str(tmp_path / "ws"))
    together = schema_profiling(staged, str(tmp_path / "ws")).tables["t"]
    monkeypatch.setattr(module, "_VALUES_AT_ONCE", 600)  # two columns of 300 values at a time
    calls, profile_columns = [], inference.profile_columns
    monkeypatch.setattr(inference, "profile_columns",
                        lambda frame, tokens: calls.append(frame.columns) or profile_columns(frame, tokens))
    batched = module.table_schema(staged.tables["t"], str(tmp_path / "ws"))
    assert calls == [["id", "label"], ["amount", "day"], ["flag"]]
    assert batched == together
