"""Generated star schemas with many small dimensions and surrogate keys, written by DuckDB SQL.

`generate(seed)` draws a retail star of 24 tables: seven fact tables (sales and returns of three
channels, an inventory snapshot) around seventeen dimensions, from a date and a time-of-day
dimension of tens of thousands of rows down to dimensions of two to a few dozen rows (stores,
warehouses, call centers, reasons, ship modes, web sites). Every dimension has a dense integer
surrogate key, and most have a business id as text of one shared format (`AAAAAAAA0000002A`),
so the id of row 42 is the same string in every table. References are role-named (`sold_date`,
`ship_date`, `bill_customer`, `returning_customer`, `closed_date`), some through short forms
(`addr`, `cdemo`, `hdemo`, `promo`); returns reference the sales line they return by
(item, ticket or order number).

One naming convention per schema, in turn by seed (or chosen):

    sk    TPC-DS style: `store_sales.ss_sold_date_sk` -> `date_dim.d_date_sk`, table prefixes
    key   warehouse style: `fact_store_sales.sold_date_key` -> `dim_date.date_key` (yyyymmdd)
    id    CamelCase: `StoreSales.SoldDateId` -> `Dates.DateId`

The traps are those of real stars: every small dimension's keys lie inside every larger one
(dense 1..N), line numbers, quantities, counts, months and ranks are small integers inside every
key, a page number runs 1..N inside its own table, the time of day in seconds equals its own
surrogate key, two demographics tables share the name of their keys (`cd_demo_sk`,
`hd_demo_sk`), business ids of one format are found in each other, free text and text attributes
(cities, states, street numbers) repeat across tables, and ids with no table behind them
(`manager_id`, `brand_id`) are key-like.

`relationships` is the ground truth of single-column keys (from_table, from_column, to_table,
to_column), `composites` that of the composite ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from dataraum_context.models import ResolvedColumn, ResolvedTable, TypeResolutionResult
from dataraum_context.sql import connect, quote_ident, quote_literal

CONVENTIONS = ("sk", "key", "id")

# text attributes drawn from small vocabularies: they repeat across tables
_CITIES = ["Fairview", "Midway", "Oak Grove", "Five Points", "Pleasant Hill", "Riverside",
           "Centerville", "Mount Zion", "Greenwood", "Salem", "Union", "Liberty"]
_STATES = ["TN", "GA", "TX", "OH", "KY", "VA", "IL", "NC", "MI", "IA"]
_WORDS = ["able", "bright", "calm", "dark", "eager", "fresh", "gentle", "heavy", "ideal", "jolly",
          "kind", "light", "mild", "neat", "open", "plain", "quick", "rich", "soft", "tall"]


@dataclass(frozen=True)
class _Ref:
    role: str  # "" when the column is named for the dimension alone
    target: str  # a dimension
    nulls: float = 0.0
    within: float = 1.0  # the share of the dimension's rows that are referenced (from its start)


@dataclass(frozen=True)
class _Dim:
    entity: str  # singular words, snake_case
    prefix: str  # TPC-DS style column prefix
    short: str  # the name references use in the `sk` convention (`addr`, `cdemo`)
    word: str  # the name its own key and business id use in the `sk` convention (`address`, `demo`)
    rows: tuple[int, int]
    attributes: tuple[tuple[str, str], ...]  # (column, SQL over i = 0..rows-1)
    refs: tuple[_Ref, ...] = ()
    business_id: bool = True


@dataclass(frozen=True)
class _Fact:
    entity: str
    prefix: str
    rows: int  # at scale 1
    refs: tuple[_Ref, ...]
    measures: tuple[tuple[str, str], ...]
    returns_of: str = ""  # returns reference lines of this sales fact by (item, number)
    number: str = ""  # the degenerate document number (`ticket_number`)


def _u(n: int | str, salt: str) -> str:
    """SQL: a uniform integer 0..n-1 drawn from the row number `i`, fixed by the seed and `salt`."""
    return f"(hash(i, $seed, '{salt}') % ({n}))::BIGINT"


def _pick(words: list[str], salt: str) -> str:
    items = ", ".join(quote_literal(w) for w in words)
    return f"[{items}][1 + {_u(len(words), salt)}]"


def _text(salt: str, words: int) -> str:
    """Free text: `words` words from a small vocabulary joined by spaces."""
    return " || ' ' || ".join(_pick(_WORDS, f"{salt}{k}") for k in range(words))


_DIMS = (
    _Dim("date", "d", "date", "date", (1461, 2922), (
        ("date", "DATE '1998-01-01' + i::INTEGER"), ("year", "1998 + i // 365"), ("moy", "1 + (i // 30) % 12"),
        ("dom", "1 + i % 28"), ("dow", "i % 7"), ("qoy", "1 + (i // 91) % 4"),
        ("holiday", "CASE WHEN i % 37 = 0 THEN 'Y' ELSE 'N' END"))),
    _Dim("time", "t", "time", "time", (86400, 86400), (
        ("time", "i"), ("hour", "i // 3600"), ("minute", "(i // 60) % 60"), ("second", "i % 60"),
        ("am_pm", "CASE WHEN i < 43200 THEN 'AM' ELSE 'PM' END"))),
    _Dim("customer", "c", "customer", "customer", (2000, 6000), (
        ("first_name", _pick(["Ann", "Bob", "Cho", "Dee", "Eli", "Fay", "Gus", "Hal"], "fn")),
        ("last_name", _pick(["Smith", "Jones", "Brown", "Lee", "Diaz", "Khan", "Wong"], "ln")),
        ("birth_month", f"1 + {_u(12, 'bm')}"), ("birth_year", f"1930 + {_u(60, 'by')}"),
        ("email_address", "'user' || i || '@example.com'"),
        ("preferred_flag", _pick(["Y", "N"], "pf"))),
        refs=(_Ref("current", "customer_demographics"), _Ref("current", "household_demographics"),
              _Ref("current", "customer_address"), _Ref("first_sales", "date", nulls=0.03),
              _Ref("first_shipto", "date", nulls=0.03))),
    _Dim("customer_address", "ca", "addr", "address", (1000, 3000), (
        ("street_number", f"CAST(1 + {_u(999, 'sn')} AS VARCHAR)"),
        ("street_name", _text("st", 2) + " || ' St'"), ("city", _pick(_CITIES, "ci")),
        ("state", _pick(_STATES, "sa")), ("zip", f"lpad(CAST(10000 + {_u(89999, 'zp')} AS VARCHAR), 5, '0')"),
        ("gmt_offset", f"-5 - {_u(4, 'gm')}"))),
    _Dim("customer_demographics", "cd", "cdemo", "demo", (2000, 20000), (
        ("gender", _pick(["M", "F"], "g")), ("marital_status", _pick(["M", "S", "D", "W", "U"], "ms")),
        ("education_status", _pick(["Primary", "Secondary", "College", "Advanced Degree"], "es")),
        ("dep_count", "i % 7"), ("credit_rating", _pick(["Good", "High Risk", "Low Risk", "Unknown"], "cr"))),
        business_id=False),
    _Dim("household_demographics", "hd", "hdemo", "demo", (720, 7200), (
        ("buy_potential", _pick(["0-500", "501-1000", "1001-5000", ">10000", "Unknown"], "bp")),
        ("dep_count", "i % 10"), ("vehicle_count", "i % 6 - 1")),
        refs=(_Ref("", "income_band"),), business_id=False),
    _Dim("income_band", "ib", "income_band", "income_band", (20, 20), (
        ("lower_bound", "i * 10000 + 1"), ("upper_bound", "(i + 1) * 10000")), business_id=False),
    _Dim("item", "i", "item", "item", (500, 2000), (
        ("item_desc", _text("de", 8)), ("current_price", f"round(0.5 + {_u(9000, 'cp')} / 100.0, 2)"),
        ("brand_id", f"1000000 + {_u(900, 'bi')}"), ("brand", _pick(_WORDS, "br") + " || ' brand'"),
        ("class_id", f"1 + {_u(16, 'cl')}"), ("category_id", f"1 + {_u(10, 'ca')}"),
        ("manager_id", f"1 + {_u(100, 'mg')}"), ("color", _pick(["red", "blue", "green", "white"], "co")))),
    _Dim("promotion", "p", "promo", "promo", (10, 50), (
        ("promo_name", _pick(_WORDS, "pn")), ("channel_email", _pick(["Y", "N"], "ce")),
        ("cost", f"1000 + {_u(500, 'pc')}")),
        refs=(_Ref("start", "date", within=0.5), _Ref("end", "date", within=0.5), _Ref("", "item", nulls=0.1))),
    _Dim("store", "s", "store", "store", (4, 12), (
        ("store_name", _pick(_WORDS, "sn")), ("number_employees", f"200 + {_u(100, 'ne')}"),
        ("floor_space", f"5000000 + {_u(5000000, 'fs')}"), ("city", _pick(_CITIES, "sc")),
        ("state", _pick(_STATES, "ss")), ("market_id", f"1 + {_u(10, 'mk')}")),
        refs=(_Ref("closed", "date", nulls=0.7),)),
    _Dim("warehouse", "w", "warehouse", "warehouse", (2, 6), (
        ("warehouse_name", _text("wn", 3)), ("warehouse_sq_ft", f"50000 + {_u(900000, 'sq')}"),
        ("city", _pick(_CITIES, "wc")), ("state", _pick(_STATES, "ws")))),
    _Dim("call_center", "cc", "call_center", "call_center", (2, 8), (
        ("name", _pick(["North", "South", "East", "West", "Mid"], "cn") + " || ' Center'"),
        ("employees", f"1 + {_u(7000, 'em')}"), ("city", _pick(_CITIES, "cc"))),
        refs=(_Ref("open", "date", within=0.3), _Ref("closed", "date", nulls=0.5))),
    _Dim("web_page", "wp", "web_page", "web_page", (10, 60), (
        ("url", "'http://www.example.com'"), ("char_count", f"300 + {_u(6000, 'ch')}"),
        ("link_count", f"2 + {_u(24, 'lc')}")),
        refs=(_Ref("creation", "date"), _Ref("access", "date"), _Ref("", "customer", nulls=0.7))),
    _Dim("web_site", "web", "web_site", "site", (2, 10), (
        ("name", "'site_' || i"), ("city", _pick(_CITIES, "sw"))),
        refs=(_Ref("open", "date", within=0.3),)),
    _Dim("catalog_page", "cp", "catalog_page", "catalog_page", (200, 1200), (
        ("catalog_number", "1 + i // 108"), ("catalog_page_number", "1 + i % 108"),
        ("description", _text("cd", 10))),
        refs=(_Ref("start", "date"), _Ref("end", "date"))),
    _Dim("reason", "r", "reason", "reason", (10, 40), (("reason_desc", _text("rd", 4)),)),
    _Dim("ship_mode", "sm", "ship_mode", "ship_mode", (10, 20), (
        ("type", _pick(["EXPRESS", "LIBRARY", "OVERNIGHT", "REGULAR"], "ty")),
        ("code", _pick(["AIR", "SURFACE", "SEA"], "sc")), ("carrier", _pick(_WORDS, "ca")))),
)

_SALES_MEASURES = (("quantity", f"1 + {_u(100, 'q')}"), ("list_price", f"round(1 + {_u(20000, 'lp')} / 100.0, 2)"),
                   ("sales_price", f"round(1 + {_u(15000, 'sp')} / 100.0, 2)"))
_RETURN_MEASURES = (("return_quantity", f"1 + {_u(100, 'rq')}"),
                    ("return_amt", f"round({_u(50000, 'ra')} / 100.0, 2)"))
_FACTS = (
    _Fact("store_sales", "ss", 60000, (
        _Ref("sold", "date", nulls=0.02, within=0.7), _Ref("sold", "time", nulls=0.02), _Ref("", "item"),
        _Ref("", "customer", nulls=0.02), _Ref("", "customer_demographics", nulls=0.02),
        _Ref("", "household_demographics", nulls=0.02), _Ref("", "customer_address", nulls=0.02),
        _Ref("", "store", nulls=0.02), _Ref("", "promotion", nulls=0.02)), _SALES_MEASURES, number="ticket_number"),
    _Fact("store_returns", "sr", 6000, (
        _Ref("returned", "date", within=0.75), _Ref("return", "time", nulls=0.03), _Ref("", "customer", nulls=0.03),
        _Ref("", "store", nulls=0.03), _Ref("", "reason", nulls=0.03)), _RETURN_MEASURES,
        returns_of="store_sales", number="ticket_number"),
    _Fact("catalog_sales", "cs", 40000, (
        _Ref("sold", "date", within=0.7), _Ref("ship", "date", within=0.72, nulls=0.01),
        _Ref("bill", "customer", nulls=0.01), _Ref("bill", "customer_address", nulls=0.01),
        _Ref("ship", "customer", nulls=0.01), _Ref("ship", "customer_address", nulls=0.01),
        _Ref("", "call_center", nulls=0.01), _Ref("", "catalog_page", nulls=0.01),
        _Ref("", "ship_mode", nulls=0.01), _Ref("", "warehouse", nulls=0.01), _Ref("", "item"),
        _Ref("", "promotion", nulls=0.01)), _SALES_MEASURES, number="order_number"),
    _Fact("catalog_returns", "cr", 4000, (
        _Ref("returned", "date", within=0.75), _Ref("refunded", "customer", nulls=0.02),
        _Ref("returning", "customer", nulls=0.02), _Ref("", "call_center", nulls=0.02),
        _Ref("", "catalog_page", nulls=0.02), _Ref("", "ship_mode", nulls=0.02),
        _Ref("", "warehouse", nulls=0.02), _Ref("", "reason", nulls=0.02)), _RETURN_MEASURES,
        returns_of="catalog_sales", number="order_number"),
    _Fact("web_sales", "ws", 20000, (
        _Ref("sold", "date", within=0.7), _Ref("ship", "date", within=0.72), _Ref("", "item"),
        _Ref("bill", "customer", nulls=0.01), _Ref("ship", "customer", nulls=0.01),
        _Ref("", "web_page", nulls=0.01), _Ref("", "web_site", nulls=0.01), _Ref("", "ship_mode", nulls=0.01),
        _Ref("", "warehouse", nulls=0.01), _Ref("", "promotion", nulls=0.01)), _SALES_MEASURES,
        number="order_number"),
    _Fact("web_returns", "wr", 2000, (
        _Ref("returned", "date", within=0.75), _Ref("refunded", "customer", nulls=0.02),
        _Ref("returning", "customer", nulls=0.02), _Ref("", "web_page", nulls=0.02),
        _Ref("", "reason", nulls=0.02)), _RETURN_MEASURES, returns_of="web_sales", number="order_number"),
    _Fact("inventory", "inv", 30000, (_Ref("", "date", within=0.7), _Ref("", "item"), _Ref("", "warehouse")),
          (("quantity_on_hand", f"{_u(1000, 'qh')}"),)),
)
_LINES = 8  # most lines of one ticket or order


def _camel(words: str) -> str:
    return "".join(w.capitalize() for w in words.split("_"))


@dataclass(frozen=True)
class _Naming:
    convention: str

    def table(self, entity: str, fact: bool) -> str:
        if self.convention == "sk":
            return entity if fact or entity not in ("date", "time") else f"{entity}_dim"
        if self.convention == "key":
            return f"{'fact' if fact else 'dim'}_{entity}"
        if fact:
            return _camel(entity)
        plural = {"date": "dates", "time": "times", "demographics": "demographics"}.get(entity.split("_")[-1])
        return _camel(entity[: entity.rfind("_") + 1] + plural if plural
                      else entity[:-1] + "ies" if entity.endswith("y")
                      else entity + "es" if entity.endswith("s") else entity + "s")

    def column(self, prefix: str, words: str) -> str:
        return {"sk": f"{prefix}_{words}", "key": words, "id": _camel(words)}[self.convention]

    def key(self, prefix: str, dim: _Dim) -> str:
        return {"sk": f"{prefix}_{dim.word}_sk", "key": f"{dim.entity}_key",
                "id": f"{_camel(dim.entity)}Id"}[self.convention]

    def business_id(self, prefix: str, dim: _Dim) -> str:
        return {"sk": f"{prefix}_{dim.word}_id", "key": f"{dim.entity}_id",
                "id": f"{_camel(dim.entity)}Number"}[self.convention]

    def reference(self, prefix: str, ref: _Ref, dim: _Dim) -> str:
        words = "_".join(w for w in (ref.role, dim.short if self.convention == "sk" else dim.entity) if w)
        return {"sk": f"{prefix}_{words}_sk", "key": f"{words}_key", "id": f"{_camel(words)}Id"}[self.convention]


@dataclass
class SqlSchema:
    """A generated schema: each table's SELECT (over `range(rows) t(i)` or the tables before
    it, `$seed` bound to the seed) and the ground truth."""

    seed: int
    convention: str
    selects: dict[str, str] = field(default_factory=dict)
    relationships: set[tuple[str, str, str, str]] = field(default_factory=set)
    composites: set[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=set)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Each table as `<directory>/<table>.parquet`, written by DuckDB."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        con = connect()
        try:
            con.execute("SET threads = 1")  # one thread: the files are the same every time
            for name, select in self.selects.items():
                seed = {"seed": self.seed} if "$seed" in select else None  # a parameter is bound only where used
                con.execute(f"CREATE TABLE {quote_ident(name)} AS {select}", seed)
                paths[name] = out / f"{name}.parquet"
                con.execute(f"COPY {quote_ident(name)} TO {quote_literal(str(paths[name]))} (FORMAT parquet)")
        finally:
            con.close()
        return paths

    def workspace(self, root: str | Path) -> TypeResolutionResult:
        """The tables as a workspace's typed tables with the type resolution that describes them."""
        paths = self.write(Path(root) / "tables")
        con = connect()
        try:
            tables = {}
            for name, path in paths.items():
                rel = con.sql(f"FROM read_parquet({quote_literal(str(path))})")
                rows = con.execute(f"SELECT count(*) FROM read_parquet({quote_literal(str(path))})").fetchone()
                assert rows is not None
                tables[name] = ResolvedTable(
                    name=name, path=f"tables/{name}.parquet", quarantine_path=None, row_count=rows[0],
                    source_rows=rows[0], quarantined_values=0, rejected_rows=0,
                    columns={c: ResolvedColumn(name=c, data_type=str(t), source_type=str(t), resolved_by="source")
                             for c, t in zip(rel.columns, rel.types, strict=True)})
        finally:
            con.close()
        return TypeResolutionResult(tables=tables)


class _Builder:
    def __init__(self, seed: int, convention: str | None, scale: float):
        self.rng = random.Random(seed)
        self.star = SqlSchema(seed, convention or CONVENTIONS[seed % len(CONVENTIONS)])
        self.naming = _Naming(self.star.convention)
        self.scale = scale
        self.rows: dict[str, int] = {}
        self.dims = {d.entity: d for d in _DIMS}

    def key_value(self, entity: str, index: str) -> str:
        """SQL: the surrogate key of a dimension's row `index` (0-based)."""
        if entity == "time":
            return index  # seconds of the day, from 0
        if entity == "date":
            if self.naming.convention == "key":  # yyyymmdd
                return f"strftime(DATE '1998-01-01' + ({index})::INTEGER, '%Y%m%d')::INTEGER"
            if self.naming.convention == "sk":  # a Julian day number
                return f"2450815 + {index}"
        return f"1 + {index}"

    def reference(self, table: str, prefix: str, ref: _Ref, salt: str) -> tuple[str, str]:
        dim = self.dims[ref.target]
        column = self.naming.reference(prefix, ref, dim)
        value = self.key_value(dim.entity, _u(max(1, int(self.rows[dim.entity] * ref.within)), salt))
        if ref.nulls:
            # the first row always holds a value: a column of nulls references nothing
            null = f"i > 0 AND hash(i, $seed, '{salt}n') % 1000 < {int(ref.nulls * 1000)}"
            value = f"CASE WHEN {null} THEN NULL ELSE {value} END"
        target = self.naming.table(dim.entity, fact=False)
        self.star.relationships.add((table, column, target, self.naming.key(dim.prefix, dim)))
        return column, value

    def dimension(self, dim: _Dim) -> None:
        rows = self.rows[dim.entity]
        table = self.naming.table(dim.entity, fact=False)
        cols = [(self.naming.key(dim.prefix, dim), self.key_value(dim.entity, "i"))]
        if dim.business_id:
            cols.append((self.naming.business_id(dim.prefix, dim), "printf('AAAAAAAA%08X', i + 1)"))
        cols += [self.reference(table, dim.prefix, r, f"{dim.entity}{n}") for n, r in enumerate(dim.refs)]
        cols += [(self.naming.column(dim.prefix, name), sql) for name, sql in dim.attributes]
        self.star.selects[table] = self._select(cols, f"range({rows}) t(i)")

    def fact(self, fact: _Fact) -> None:
        table = self.naming.table(fact.entity, fact=True)
        rows = max(50, int(fact.rows * self.scale))
        item, number = self.dims["item"], self.naming.column(fact.prefix, fact.number) if fact.number else ""
        item_col = self.naming.reference(fact.prefix, _Ref("", "item"), item)
        cols = [self.reference(table, fact.prefix, r, f"{fact.entity}{n}") for n, r in enumerate(fact.refs)]
        cols += [(self.naming.column(fact.prefix, name), sql) for name, sql in fact.measures]
        if not fact.returns_of:
            if number:  # lines of a ticket: distinct items, the ticket numbered from 1
                cols += [(number, f"1 + i // {_LINES}")]
                first_item = f"hash(i // {_LINES}, $seed, '{fact.entity}') % {self.rows['item']}"
                line_item = f"(1 + ({first_item} + i % {_LINES}) % {self.rows['item']})::BIGINT"
                cols = [(c, line_item if c == item_col else v) for c, v in cols]
            self.star.selects[table] = self._select(cols, f"range({rows}) t(i)")
            return
        # returns: a sample of the sales lines, referencing the line by (item, number)
        sales = self.naming.table(fact.returns_of, fact=True)
        prefix = next(f.prefix for f in _FACTS if f.entity == fact.returns_of)
        sold_item = self.naming.reference(prefix, _Ref("", "item"), item)
        sold_number = self.naming.column(prefix, fact.number)
        every = max(2, self.rows[fact.returns_of] // rows)
        source = (f"(SELECT row_number() OVER () - 1 AS i, {quote_ident(sold_item)} AS _item, "
                  f"{quote_ident(sold_number)} AS _number FROM {quote_ident(sales)} "
                  f"WHERE hash({quote_ident(sold_number)}, {quote_ident(sold_item)}, $seed) % {every} = 0)")
        cols = [(item_col, "_item"), (number, "_number"), *cols]
        self.star.selects[table] = self._select(cols, source)
        self.star.relationships.add((table, item_col, self.naming.table("item", fact=False),
                                     self.naming.key(item.prefix, item)))
        self.star.composites.add((table, (item_col, number), sales, (sold_item, sold_number)))

    @staticmethod
    def _select(cols: list[tuple[str, str]], source: str) -> str:
        return "SELECT " + ", ".join(f"{v} AS {quote_ident(c)}" for c, v in cols) + f" FROM {source}"

    def build(self) -> SqlSchema:
        for dim in _DIMS:  # a large dimension shrinks with a scale below 1, a small one never
            rows = self.rng.randint(*dim.rows)
            shrinks = rows >= 1000
            self.rows[dim.entity] = max(100, int(rows * min(1.0, self.scale))) if shrinks else rows
        for fact in _FACTS:
            self.rows[fact.entity] = max(50, int(fact.rows * self.scale))
        for dim in _DIMS:
            self.dimension(dim)
        for fact in _FACTS:
            self.fact(fact)
        return self.star


def generate(seed: int, convention: str | None = None, scale: float = 1.0) -> SqlSchema:
    """A star of 24 tables with its ground truth; `scale` multiplies the fact rows (and the
    larger dimensions' rows, up to their drawn size)."""
    return _Builder(seed, convention, scale).build()


def traps(seed: int, scale: float = 1.0) -> SqlSchema:
    """A small order-entry and ticketing schema made of the traps a discovery must reject, next
    to the references it must keep:

    - small integers inside a sparse key: line numbers 1..7, quantities, a line count, ranks and
      a severity (1..5, as the keys of a five-row priorities table) inside order keys that skip
      three values of four (`1..8, 33..40, ...`) and inside every dense key;
    - free text shared across tables: a product's name copied into each order line, comments;
    - business ids of one format (`BX00000123`) in customers and suppliers, drawn from one
      sequence, so every customer code is also a supplier code;
    - role-named references: `bill_to` and `ship_to` to customers, `sales_rep` to employees,
      `opened_date_key` and `closed_date_key` (mostly null) to a yyyymmdd date key;
    - UUID keys: users and teams keyed by UUIDs, tickets referencing them as `assignee`,
      `created_by` (text holding UUIDs) and `team_id`.
    """
    rng = random.Random(seed)
    k = ("key", "id")[seed % 2]  # the integer keys' suffix
    n = {"customers": rng.randint(300, 800), "suppliers": rng.randint(900, 1500), "products": rng.randint(100, 400),
         "employees": rng.randint(10, 40), "orders": max(200, int(rng.randint(2000, 5000) * scale)),
         "users": rng.randint(100, 400), "teams": rng.randint(5, 15), "tickets": max(100, int(2000 * scale)),
         "accounts": rng.randint(200, 600)}
    def uid(table: str, index: str) -> str:  # a UUID fixed by the seed, the table and the row
        return f"CAST(md5(CAST({index} AS VARCHAR) || '{table}' || $seed) AS UUID)"

    dense = {t: f"1 + {_u(n[t], t)}" for t in ("customers", "products", "employees")}
    schema = SqlSchema(seed, f"traps-{k}")
    schema.selects = {
        "order_priorities": f"SELECT 1 + i AS priority_{k}, ['urgent', 'high', 'medium', 'low', 'none'][1 + i] AS name "
                            "FROM range(5) t(i)",
        "customers": f"SELECT 1 + i AS customer_{k}, printf('BX%08d', 1 + i) AS customer_code, "
                     f"{_text('cn', 2)} AS customer_name, {_pick(_CITIES, 'cc')} AS city, "
                     f"{_text('cm', 6)} AS comment FROM range({n['customers']}) t(i)",
        "suppliers": f"SELECT 1 + i AS supplier_{k}, printf('BX%08d', 1 + i) AS supplier_code, "
                     f"{_pick(_CITIES, 'sc')} AS city, {_text('sm', 6)} AS comment FROM range({n['suppliers']}) t(i)",
        "products": f"SELECT 1 + i AS product_{k}, {_text('pn', 3)} || ' ' || i AS product_name, "
                    f"printf('BX%08d', 1 + {_u(n['suppliers'], 'ps')}) AS supplier_code, "
                    f"round(1 + {_u(9000, 'pp')} / 100.0, 2) AS unit_price FROM range({n['products']}) t(i)",
        "employees": f"SELECT 1 + i AS employee_{k}, 'emp ' || i AS employee_name, 1 + {_u(5, 'er')} AS rank "
                     f"FROM range({n['employees']}) t(i)",
        "orders": f"SELECT (i // 8) * 32 + i % 8 + 1 AS order_{k}, {dense['customers']} AS customer_{k}, "
                  f"{dense['customers'].replace('customers', 'bill')} AS bill_to, "
                  f"{dense['customers'].replace('customers', 'ship')} AS ship_to, "
                  f"{dense['employees']} AS sales_rep, 1 + {_u(5, 'op')} AS priority_{k}, 1 + {_u(5, 'ok')} AS rank, "
                  f"1 + {_u(7, 'lc')} AS line_count, {_text('oc', 5)} AS comment FROM range({n['orders']}) t(i)",
        "order_lines": f"SELECT o.order_{k}, l.n AS line_number, p.product_{k}, p.product_name, "
                       f"1 + (hash(o.order_{k}, l.n, $seed) % 50)::BIGINT AS quantity "
                       f"FROM orders o CROSS JOIN range(1, 8) l(n) "
                       f"JOIN products p ON p.product_{k} = 1 + (hash(o.order_{k}, l.n, $seed, 'p') % {n['products']}) "
                       "WHERE l.n <= o.line_count",
        "users": f"SELECT {uid('users', 'i')} AS id, 'user' || i AS login FROM range({n['users']}) t(i)",
        "teams": f"SELECT {uid('teams', 'i')} AS id, {_pick(_WORDS, 'tn')} || ' team' AS name "
                 f"FROM range({n['teams']}) t(i)",
        "tickets": f"SELECT 1 + i AS ticket_{k}, CAST({uid('users', _u(n['users'], 'ta'))} AS VARCHAR) AS assignee, "
                   f"{uid('users', _u(n['users'], 'tc'))} AS created_by, "
                   f"{uid('teams', _u(n['teams'], 'tt'))} AS team_id, "
                   f"1 + {_u(5, 'tp')} AS severity, {_text('tx', 8)} AS description FROM range({n['tickets']}) t(i)",
        "dates": f"SELECT strftime(DATE '2015-01-01' + i::INTEGER, '%Y%m%d')::INTEGER AS date_{k}, "
                 "DATE '2015-01-01' + i::INTEGER AS calendar_date FROM range(3650) t(i)",
        "accounts": f"SELECT 1 + i AS account_{k}, {dense['customers'].replace('customers', 'acc')} AS customer_{k}, "
                    f"strftime(DATE '2015-01-01' + {_u(1800, 'ao')}::INTEGER, '%Y%m%d')::INTEGER AS opened_date_{k}, "
                    f"CASE WHEN {_u(10, 'an')} < 8 THEN NULL ELSE strftime(DATE '2020-01-01' + "
                    f"{_u(1000, 'ac')}::INTEGER, '%Y%m%d')::INTEGER END AS closed_date_{k} "
                    f"FROM range({n['accounts']}) t(i)",
    }
    key = {t: f"{t[:-1] if t != 'order_priorities' else 'priority'}_{k}" for t in schema.selects}
    schema.relationships = {
        ("order_lines", f"order_{k}", "orders", key["orders"]),
        ("order_lines", f"product_{k}", "products", key["products"]),
        ("orders", f"customer_{k}", "customers", key["customers"]),
        ("orders", "bill_to", "customers", key["customers"]), ("orders", "ship_to", "customers", key["customers"]),
        ("orders", "sales_rep", "employees", key["employees"]),
        ("orders", f"priority_{k}", "order_priorities", key["order_priorities"]),
        ("products", "supplier_code", "suppliers", "supplier_code"),
        ("tickets", "assignee", "users", "id"), ("tickets", "created_by", "users", "id"),
        ("tickets", "team_id", "teams", "id"), ("accounts", f"customer_{k}", "customers", key["customers"]),
        ("accounts", f"opened_date_{k}", "dates", f"date_{k}"), ("accounts", f"closed_date_{k}", "dates", f"date_{k}"),
    }
    return schema
