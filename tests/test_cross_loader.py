"""One small dataset written as CSV, Parquet, Excel, SQLite, DuckDB, PostgreSQL and JSON: after
`quick_profile` every source yields the same typed table and the same statistics, whether its
types came from the source (Parquet, DuckDB, PostgreSQL), from its declarations and values
(SQLite) or from inference over text (CSV, JSON, Excel)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import duckdb
import polars as pl
import pytest

import dataraum_context as dc

_ROWS = [
    (1, "Ann", 12.5, dt.date(2023, 1, 5), True, dt.datetime(2023, 1, 5, 10, 30)),
    (2, "Bob", 3.0, dt.date(2023, 2, 1), False, dt.datetime(2023, 2, 1, 0, 0, 1)),
    (3, None, None, None, None, None),
    (4, "Cy", -7.75, dt.date(2024, 2, 29), True, dt.datetime(2024, 2, 29, 23, 59, 59)),
    (5, "Di", 1000.25, dt.date(2024, 12, 31), False, dt.datetime(2024, 12, 31, 12, 0)),
    (6, "Ed", 0.5, dt.date(2025, 6, 15), True, dt.datetime(2025, 6, 15, 8, 15, 30)),
]
_NAMES = ("id", "name", "amount", "day", "active", "placed_at")
_TYPES = {"id": "BIGINT", "name": "VARCHAR", "amount": "DOUBLE", "day": "DATE", "active": "BOOLEAN",
          "placed_at": "TIMESTAMP"}


def _frame() -> pl.DataFrame:
    return pl.DataFrame([dict(zip(_NAMES, row, strict=True)) for row in _ROWS],
                        schema={"id": pl.Int64, "name": pl.String, "amount": pl.Float64, "day": pl.Date,
                                "active": pl.Boolean, "placed_at": pl.Datetime("us")})


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _csv(d: Path) -> str:
    lines = [",".join(_NAMES)] + [",".join(_text(v) for v in row) for row in _ROWS]
    (d / "people.csv").write_text("\n".join(lines) + "\n")
    return str(d / "people.csv")


def _json(d: Path) -> str:
    records = [{k: (_text(v) if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in zip(_NAMES, row, strict=True)}
               for row in _ROWS]
    (d / "people.json").write_text(json.dumps(records))
    return str(d / "people.json")


def _parquet(d: Path) -> str:
    _frame().write_parquet(d / "people.parquet")
    return str(d / "people.parquet")


def _excel(d: Path) -> str:
    _frame().write_excel(d / "people.xlsx", worksheet="people")
    return str(d / "people.xlsx")


def _sqlite(d: Path) -> str:
    with sqlite3.connect(d / "people.sqlite") as con:
        con.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, amount REAL, day DATE, "
                    "active BOOLEAN, placed_at TIMESTAMP)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)",
                        [tuple(None if v is None else _text(v) if isinstance(v, (dt.date, dt.datetime)) else v
                               for v in row) for row in _ROWS])
    return f"sqlite:///{d / 'people.sqlite'}"


def _duckdb(d: Path) -> str:
    with duckdb.connect(str(d / "people.duckdb")) as con:
        con.register("frame", _frame().to_arrow())
        con.execute("CREATE TABLE people AS SELECT * FROM frame")
    return str(d / "people.duckdb")


_WRITERS = {"csv": _csv, "json": _json, "parquet": _parquet, "excel": _excel, "sqlite": _sqlite,
            "duckdb": _duckdb}


@pytest.fixture(scope="module")
def profiles(postgres, tmp_path_factory) -> dict[str, tuple[list, dict, dict]]:
    """Per loader: (typed rows, typed column types, statistics) of table `people`."""
    postgres.execute("DROP SCHEMA IF EXISTS cross_loader CASCADE; CREATE SCHEMA cross_loader; "
                     "CREATE TABLE cross_loader.people (id bigint PRIMARY KEY, name text, "
                     "amount double precision, day date, active boolean, placed_at timestamp)")
    values = ", ".join("(" + ", ".join("NULL" if v is None else str(v) if isinstance(v, (int, float))
                                       else f"'{_text(v)}'" for v in row) + ")" for row in _ROWS)
    postgres.execute(f"INSERT INTO cross_loader.people VALUES {values}")
    out = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PGPASSWORD", postgres.password)
        for name in [*_WRITERS, "postgres"]:
            d = tmp_path_factory.mktemp(name)
            source = postgres.uri(schema="cross_loader") if name == "postgres" else _WRITERS[name](d)
            run = dc.run("quick_profile", sources=[source], workspace=str(d / "ws"))
            assert run.succeeded, (name, run.warnings)
            assert run.results["staging"].tables["people"].loader == name
            typed = run.results["type_resolution"].tables["people"]
            rows = duckdb.execute(f"SELECT * FROM read_parquet('{d / 'ws' / typed.path}') ORDER BY id").fetchall()
            types = {n: c.data_type for n, c in typed.columns.items()}
            stats = run.results["statistics_profiling"].tables["people"].model_dump()
            out[name] = (rows, types, stats)
    return out


@pytest.mark.parametrize("loader", ["csv", "json", "parquet", "excel", "sqlite", "duckdb", "postgres"])
def test_every_loader_yields_the_same_typed_table(profiles, loader):
    rows, types, _stats = profiles[loader]
    assert types == _TYPES
    assert rows == [tuple(row) for row in _ROWS]


@pytest.mark.parametrize("loader", ["json", "parquet", "excel", "sqlite", "duckdb", "postgres"])
def test_every_loader_yields_the_same_statistics(profiles, loader):
    stats = profiles[loader][2]
    assert stats == profiles["csv"][2]
    amount, name = stats["columns"]["amount"], stats["columns"]["name"]
    assert (amount["max"], amount["null_count"], name["distinct_count"]) == (1000.25, 1, 5)
    assert stats["columns"]["placed_at"]["min"] == dt.datetime(2023, 1, 5, 10, 30)
