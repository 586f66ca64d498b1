"""Generated star and snowflake schemas with known foreign keys: the relationship test sets.

`generate(seed)` draws a schema: fact tables referencing dimensions, dimensions referencing
sub-dimensions (snowflake), sometimes a bridge table, a self-reference (a manager, a parent
category) and role-named references (`SupportRepId` -> employees, `user_id` -> customers,
`origin_airport_id` -> airports), in one naming convention per schema (snake_case with
`customer_id`, CamelCase with `CustomerId`, TPC-H style `o_custkey` ~ `c_custkey`, or `id` keys
with `<entity>_id` references). Keys are dense integers from 1, offset integers, sparse
integers, text codes or UUIDs. Every schema carries the traps a discovery must reject: small
integer ranges (quantities, ratings) that sit inside every dense key, 0/1 flags, dates,
integer measures, key-like names with no table behind them, low-cardinality codes; and the
defects it must survive: orphans, null references, a repeated key value.

Most schemas also hold a composite key: a header table (receipts, manifests, ...) whose lines
are keyed by (header reference, line number), and a table referencing the lines by that pair
(with a few orphan pairs and nulls); half of them add the composite trap: a small table whose
two low-cardinality, key-like columns (`zone_no`, `bay_no`) happen to be unique together, and
the same columns in the referencing table, drawn from its combinations.

`relationships` is the ground truth of single-column keys: (from_table, from_column, to_table,
to_column); `composites` that of the composite ones: (from_table, from_columns, to_table,
to_columns).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from dataraum_context.models import ResolvedColumn, ResolvedTable, TypeResolutionResult
from dataraum_context.sql import connect, quote_literal

STYLES = ("snake", "camel", "prefixed", "id")

# entity, abbreviation (TPC-H style), is a person
_ENTITIES = [
    ("customer", "cust", True), ("product", "prod", False), ("store", "stor", False),
    ("supplier", "supp", False), ("region", "reg", False), ("country", "ctry", False),
    ("city", "city", False), ("category", "cat", False), ("brand", "brnd", False),
    ("warehouse", "wh", False), ("department", "dept", False), ("campaign", "camp", False),
    ("channel", "chan", False), ("promotion", "promo", False), ("carrier", "carr", False),
    ("vendor", "vend", False), ("project", "proj", False), ("device", "dev", False),
    ("location", "loc", False), ("course", "crs", False), ("account", "acct", False),
    ("currency", "cur", False), ("segment", "seg", False), ("territory", "terr", False),
    ("plan", "plan", False), ("genre", "gen", False), ("artist", "art", False),
    ("album", "alb", False), ("team", "team", False), ("league", "lg", False),
    ("airport", "apt", False), ("aircraft", "acft", False), ("clinic", "clin", False),
    ("model", "mdl", False), ("manufacturer", "mfr", False), ("school", "sch", False),
]
_PLURAL = {"category": "categories", "country": "countries", "city": "cities",
           "currency": "currencies", "territory": "territories", "aircraft": "aircraft",
           "person": "people", "employee": "employees", "facility": "facilities",
           "company": "companies", "activity": "activities", "entry": "entries",
           "dispatch": "dispatches"}
_FACTS = ["sale", "order_line", "shipment", "payment", "visit", "booking", "event", "reading",
          "transaction", "enrollment", "ticket", "flight", "claim", "session", "delivery",
          "rental", "subscription", "review", "invoice_line", "stream"]
_FACT_ABBR = {"order_line": "ol", "invoice_line": "il"}
# role-named references to people: roles a reader recognises as staff or as clients
_STAFF_ROLES = ["support_rep", "sales_rep", "account_manager", "agent", "approver", "assignee",
                "handler", "inspector", "sponsor"]
_CLIENT_ROLES = ["user", "buyer", "member", "requester", "payer", "recipient"]
_TRAPS = ["quantity", "rating", "priority", "units", "line_number", "year", "age", "score",
          "level", "floor", "seats", "duration_min", "attempts", "rank"]
_KEYLIKE_NO_TABLE = ["terminal_no", "batch_id", "lane_id", "shift_no", "gate_code", "slot_id",
                     "register_no", "bay_id"]
# composite keys: headers whose rows have numbered lines, tables that reference the lines, traps
_HEADERS = ["receipt", "manifest", "quote", "requisition", "timesheet", "work_order"]
_LINE_NUMBERS = ["line_no", "seq_no", "pos_no", "line_nr"]
_LINE_REFERENCES = ["adjustment", "correction", "dispatch", "inspection"]
_SMALL_PLACES = ["bin", "rack", "dock", "kiosk"]


@dataclass
class Schema:
    seed: int
    style: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    relationships: set[tuple[str, str, str, str]] = field(default_factory=set)
    composites: set[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=set)

    def write(self, directory: str | Path) -> list[Path]:
        """Each table as `<directory>/<table>.parquet`."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, frame in self.tables.items():
            path = out / f"{name}.parquet"
            frame.write_parquet(path)
            paths.append(path)
        return paths

    def workspace(self, root: str | Path) -> TypeResolutionResult:
        """The tables as a workspace's typed tables (`<root>/tables/<table>.parquet`), with the
        type resolution result that describes them: what the steps after typing read."""
        root = Path(root)
        self.write(root / "tables")
        con = connect()
        try:
            tables = {}
            for name, frame in self.tables.items():
                rel = con.sql(f"FROM read_parquet({quote_literal(str(root / 'tables' / f'{name}.parquet'))})")
                tables[name] = ResolvedTable(
                    name=name, path=f"tables/{name}.parquet", quarantine_path=None,
                    row_count=frame.height, source_rows=frame.height, quarantined_values=0,
                    rejected_rows=0,
                    columns={c: ResolvedColumn(name=c, data_type=str(t), source_type=str(t),
                                               resolved_by="source")
                             for c, t in zip(rel.columns, rel.types, strict=True)})
        finally:
            con.close()
        return TypeResolutionResult(tables=tables)


def _camel(words: str) -> str:
    return "".join(w.capitalize() for w in words.split("_"))


def _plural(word: str) -> str:
    last = word.split("_")[-1]
    head = word[: len(word) - len(last)]
    return head + _PLURAL.get(last, last + "s")


@dataclass
class _Naming:
    style: str
    plural: bool = True

    def table(self, ent: str) -> str:
        base = _plural(ent) if self.plural else ent
        return _camel(base) if self.style == "camel" else base

    def abbr(self, ent: str, entities: dict[str, str]) -> str:
        return entities.get(ent, _FACT_ABBR.get(ent, ent[:2]))

    def key(self, ent: str, prefix: str, abbr: str) -> str:
        return {"snake": f"{ent}_id", "camel": f"{_camel(ent)}Id", "prefixed": f"{prefix}_{abbr}key",
                "id": "id"}[self.style]

    def ref(self, target: str, target_abbr: str, prefix: str, role: str | None = None) -> str:
        words = f"{role}_{target}" if role else target
        if self.style == "camel":
            return f"{_camel(words)}Id"
        if self.style == "prefixed":
            return f"{prefix}_{role}_{target_abbr}key" if role else f"{prefix}_{target_abbr}key"
        return f"{words}_id"

    def role_ref(self, role: str, prefix: str) -> str:
        """A reference named only by a person's role: SupportRepId, user_id, o_salesrepkey."""
        if self.style == "camel":
            return f"{_camel(role)}Id"
        if self.style == "prefixed":
            return f"{prefix}_{role.replace('_', '')}key"
        return f"{role}_id"

    def plain(self, name: str, prefix: str) -> str:
        if self.style == "camel":
            return _camel(name)
        if self.style == "prefixed":
            return f"{prefix}_{name}"
        return name


@dataclass
class _Table:
    entity: str
    name: str
    prefix: str
    rows: int
    key_column: str
    keys: list  # the key values, in row order
    columns: dict[str, list] = field(default_factory=dict)


class _Builder:
    def __init__(self, seed: int, style: str | None, wide: int):
        self.rng = random.Random(seed)
        self.schema = Schema(seed=seed, style=style or self.rng.choice(STYLES))
        self.naming = _Naming(self.schema.style, plural=self.rng.random() < 0.7)
        self.wide = wide  # extra attribute columns per table
        self.abbrs: dict[str, str] = {}
        self.tables: dict[str, _Table] = {}
        self.used_prefixes: set[str] = set()

    # -- keys

    def _prefix(self, ent: str) -> str:
        base = "".join(w[0] for w in ent.split("_"))
        letters = ent.replace("_", "")
        candidate, i = base, 1
        while candidate in self.used_prefixes:
            candidate = base + (letters[i] if i < len(letters) else str(i))
            i += 1
        self.used_prefixes.add(candidate)
        return candidate

    def _key_values(self, n: int, kind: str) -> list:
        rng = self.rng
        if kind == "dense":
            return list(range(1, n + 1))
        if kind == "offset":
            start = rng.choice([100, 1000, 10_000, 500_000])
            return list(range(start, start + n))
        if kind == "sparse":
            return rng.sample(range(1, max(10 * n, 1_000_000)), n)
        if kind == "code":
            tag = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))
            return [f"{tag}-{i:06d}" for i in rng.sample(range(1, 10 * n + 10), n)]
        return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]

    def _key_kind(self) -> str:
        return self.rng.choices(["dense", "offset", "sparse", "code", "uuid"], [6, 2, 2, 1, 1])[0]

    def add_table(self, ent: str, rows: int, kind: str | None = None, abbr: str | None = None) -> _Table:
        self.abbrs[ent] = abbr or ent.split("_")[0][:4]
        prefix = self._prefix(ent)
        name = self.naming.table(ent)
        key_col = self.naming.key(ent, prefix, self.abbrs[ent])
        keys = self._key_values(rows, kind or self._key_kind())
        if self.rng.random() < 0.3:
            self.rng.shuffle(keys)
        t = _Table(ent, name, prefix, rows, key_col, keys, {key_col: list(keys)})
        self.tables[ent] = t
        return t

    # -- columns

    def reference(self, src: _Table, dst: _Table, column: str, null_share: float = 0.0,
                  orphan_share: float = 0.0, subset: float = 1.0) -> None:
        rng = self.rng
        pool = dst.keys[: max(1, int(len(dst.keys) * subset))] if subset < 1 else dst.keys
        values = [rng.choice(pool) for _ in range(src.rows)]
        if orphan_share:
            bad = self._orphan(dst)
            for i in rng.sample(range(src.rows), max(1, int(src.rows * orphan_share))):
                values[i] = bad
        if null_share:
            for i in rng.sample(range(src.rows), int(src.rows * null_share)):
                values[i] = None
        src.columns[column] = values
        self.schema.relationships.add((src.name, column, dst.name, dst.key_column))

    def _orphan(self, dst: _Table):
        sample = dst.keys[0]
        if isinstance(sample, int):
            return max(dst.keys) + self.rng.randint(1, 50)
        return (sample[:-2] + "ZZ") if "-" in sample else str(uuid.UUID(int=self.rng.getrandbits(128)))

    def traps(self, t: _Table, count: int) -> None:
        rng = self.rng
        for trap in rng.sample(_TRAPS, min(count, len(_TRAPS))):
            hi = rng.choice([3, 5, 10, 20, 60, 120])
            lo = 0 if trap in ("units", "attempts") else 1
            t.columns[self.naming.plain(trap, t.prefix)] = [rng.randint(lo, hi) for _ in range(t.rows)]
        t.columns[self.naming.plain(rng.choice(["is_active", "is_returned", "flag"]), t.prefix)] = \
            [rng.randint(0, 1) for _ in range(t.rows)]
        start = date(2020, 1, 1)
        t.columns[self.naming.plain(rng.choice(["created", "event_date", "updated"]), t.prefix)] = \
            [start + timedelta(days=rng.randrange(1500)) for _ in range(t.rows)]
        t.columns[self.naming.plain(rng.choice(["amount", "price", "revenue"]), t.prefix)] = \
            [round(rng.uniform(1, 500), 2) for _ in range(t.rows)]
        t.columns[self.naming.plain(rng.choice(["units_sold", "minutes", "points"]), t.prefix)] = \
            [rng.randint(0, 5000) for _ in range(t.rows)]
        t.columns[self.naming.plain(rng.choice(["status", "tier", "grade"]), t.prefix)] = \
            [rng.choice("ABC") for _ in range(t.rows)]
        if rng.random() < 0.6:
            name = rng.choice(_KEYLIKE_NO_TABLE)
            t.columns[self.naming.plain(name, t.prefix) if self.naming.style != "camel" else _camel(name)] = \
                [rng.randint(1, rng.choice([4, 8, 12, 30])) for _ in range(t.rows)]

    def attributes(self, t: _Table) -> None:
        rng = self.rng
        t.columns[self.naming.plain("name", t.prefix)] = [f"{t.entity} {i}" for i in range(t.rows)]
        for i in range(self.wide):
            kind = rng.choice(["int", "float", "text", "date"])
            col = self.naming.plain(f"attr_{i}", t.prefix)
            if kind == "int":
                t.columns[col] = [rng.randint(0, 100) for _ in range(t.rows)]
            elif kind == "float":
                t.columns[col] = [rng.random() * 100 for _ in range(t.rows)]
            elif kind == "text":
                t.columns[col] = [rng.choice(["red", "green", "blue", "grey"]) for _ in range(t.rows)]
            else:
                t.columns[col] = [date(2021, 1, 1) + timedelta(days=rng.randrange(900)) for _ in range(t.rows)]

    def composite(self, rows: Callable[[int, int], int]) -> None:
        """A header, its lines keyed by (header reference, line number), a table referencing the
        lines by that pair; sometimes the trap of two small columns unique by chance."""
        rng, naming = self.rng, self.naming
        header = self.add_table(rng.choice(_HEADERS), rows(40, 600))
        self.attributes(header)
        ent = f"{header.entity}_line"
        prefix = self._prefix(ent)
        href = naming.ref(header.entity, self.abbrs[header.entity], prefix)
        word = rng.choice(_LINE_NUMBERS)
        number = naming.plain(word, prefix) if naming.style != "camel" else _camel(word)
        most = rng.choice([3, 5, 8])
        pairs = [(h, n) for h in header.keys for n in range(1, rng.randint(1, most) + 1)]
        rng.shuffle(pairs)
        columns: dict[str, list] = {"id": list(range(1, len(pairs) + 1))} if naming.style == "id" else {}
        columns |= {href: [h for h, _ in pairs], number: [n for _, n in pairs],
                    naming.plain("quantity", prefix): [rng.randint(1, 20) for _ in pairs],
                    naming.plain("amount", prefix): [round(rng.uniform(1, 500), 2) for _ in pairs]}
        lines = _Table(ent, naming.table(ent), prefix, len(pairs), href, [h for h, _ in pairs], columns)
        self.tables[ent] = lines
        self.schema.relationships.add((lines.name, href, header.name, header.key_column))

        user = self.add_table(rng.choice(_LINE_REFERENCES), rows(100, 1500),
                              kind=rng.choice(["dense", "offset", "sparse"]))
        uref = naming.ref(header.entity, self.abbrs[header.entity], user.prefix)
        unumber = naming.plain(word, user.prefix) if naming.style != "camel" else _camel(word)
        chosen = [rng.choice(pairs) for _ in range(user.rows)]
        for i in rng.sample(range(user.rows), max(1, user.rows // 100)):  # a line that does not exist
            chosen[i] = (chosen[i][0], most + rng.randint(1, 5))
        numbers: list[int | None] = [n for _, n in chosen]
        for i in rng.sample(range(user.rows), user.rows // 50):
            numbers[i] = None
        user.columns |= {uref: [h for h, _ in chosen], unumber: numbers,
                         naming.plain("event_date", user.prefix):
                             [date(2022, 1, 1) + timedelta(days=rng.randrange(700)) for _ in chosen],
                         naming.plain("amount", user.prefix): [round(rng.uniform(1, 90), 2) for _ in chosen]}
        self.schema.relationships.add((user.name, uref, header.name, header.key_column))
        self.schema.composites.add((user.name, (uref, unumber), lines.name, (href, number)))
        if rng.random() < 0.5:
            self._chance_trap(user)

    def _chance_trap(self, user: _Table) -> None:
        """A small table whose `zone_no` and `bay_no` (neither unique alone) happen to be unique
        together, and the same columns in `user` drawn from its combinations."""
        rng, naming = self.rng, self.naming
        d1, d2 = rng.choice([3, 4]), rng.choice([3, 4])
        n = rng.randint(max(d1, d2) + 1, max(d1, d2) + 3)
        combos = rng.sample([(a, b) for a in range(1, d1 + 1) for b in range(1, d2 + 1)], n)
        small = self.add_table(rng.choice(_SMALL_PLACES), n, kind="dense")
        picked = [rng.choice(combos) for _ in range(user.rows)]
        for t, values in ((small, combos), (user, picked)):
            for i, word in enumerate(("zone_no", "bay_no")):
                name = naming.plain(word, t.prefix) if naming.style != "camel" else _camel(word)
                t.columns[name] = [v[i] for v in values]

    def finish(self) -> Schema:
        for t in self.tables.values():
            self.schema.tables[t.name] = pl.DataFrame(t.columns, strict=False)
        return self.schema


def generate(seed: int, style: str | None = None, dimensions: int | None = None,
             facts: int | None = None, scale: float = 1.0, wide: int = 0) -> Schema:
    """One schema with its ground truth. `dimensions`/`facts` default to a random 4-8 / 1-3;
    `scale` multiplies the row counts; `wide` adds that many attribute columns per table."""
    b = _Builder(seed, style, wide)
    rng = b.rng
    n_dims = dimensions if dimensions is not None else rng.randint(4, 8)
    n_facts = facts if facts is not None else rng.randint(1, 3)
    entities = rng.sample(_ENTITIES, min(n_dims, len(_ENTITIES)))
    while len(entities) < n_dims:  # more dimensions than the vocabulary: numbered variants
        ent, ab, person = rng.choice(_ENTITIES)
        k = len(entities)
        entities.append((f"{ent}_v{k}", f"{ab}{k}", person))

    def rows(lo: int, hi: int) -> int:
        return max(3, int(rng.randint(lo, hi) * scale))

    dims = [b.add_table(ent, rows(8, 1500), abbr=ab) for ent, ab, _ in entities]
    # a person dimension for role-named references, and an employee table with its manager
    people = next((d for d in dims if d.entity == "customer"), None)
    if people is None:
        people = b.add_table("customer", rows(100, 1500), abbr="cust")
        b.attributes(people)
    staff = b.add_table("employee", rows(8, 120), abbr="emp")
    b.attributes(staff)
    manager = b.naming.plain("reports_to", staff.prefix) if b.naming.style != "camel" else "ReportsTo"
    if rng.random() < 0.5:
        manager = {"snake": "manager_id", "camel": "ManagerId", "prefixed": f"{staff.prefix}_mgrkey",
                   "id": "manager_id"}[b.naming.style]
    bosses = staff.keys[: max(1, staff.rows // 6)]
    staff.columns[manager] = [None if i < len(bosses) else rng.choice(bosses) for i in range(staff.rows)]
    b.schema.relationships.add((staff.name, manager, staff.name, staff.key_column))

    # snowflake: some dimensions reference another (city -> country -> region)
    for d in dims:
        b.attributes(d)
        if rng.random() < 0.4:
            parents = [p for p in dims if p is not d and p.rows <= d.rows]
            if parents:
                p = rng.choice(parents)
                col = b.naming.ref(p.entity, b.abbrs[p.entity], d.prefix)
                if col not in d.columns:
                    b.reference(d, p, col, null_share=rng.choice([0, 0, 0.05]))
    # a parent-child hierarchy inside one dimension
    tree = rng.choice(dims)
    parent_col = {"snake": f"parent_{tree.entity}_id", "camel": f"Parent{_camel(tree.entity)}Id",
                  "prefixed": f"{tree.prefix}_parent{b.abbrs[tree.entity]}key", "id": "parent_id"}[b.naming.style]
    roots = tree.keys[: max(1, tree.rows // 5)]
    tree.columns[parent_col] = [None if i < len(roots) else rng.choice(roots) for i in range(tree.rows)]
    b.schema.relationships.add((tree.name, parent_col, tree.name, tree.key_column))
    # one dimension carries a repeated key value (a second sign-up, a re-imported row)
    dup = rng.choice([d for d in dims if d.rows >= 50] or dims)
    if dup.rows >= 50:
        for col, values in dup.columns.items():
            values.append(values[0] if col == dup.key_column else values[1])
        dup.rows += 1
        dup.keys = dup.columns[dup.key_column]

    # facts: references to dimensions, role-named references, traps
    for f_ent in rng.sample(_FACTS, n_facts):
        fact = b.add_table(f_ent, rows(500, 6000), kind=rng.choice(["dense", "dense", "offset", "sparse"]),
                           abbr=_FACT_ABBR.get(f_ent, f_ent[:4]))
        targets = rng.sample(dims, min(len(dims), rng.randint(2, 6)))
        for d in targets:
            col = b.naming.ref(d.entity, b.abbrs[d.entity], fact.prefix)
            b.reference(fact, d, col, null_share=rng.choice([0, 0, 0, 0.02, 0.1]),
                        orphan_share=rng.choice([0, 0, 0, 0.005, 0.02]))
        if rng.random() < 0.5:  # the same dimension in two roles (origin / destination)
            d = rng.choice(targets)
            for role in ("origin", "destination"):
                b.reference(fact, d, b.naming.ref(d.entity, b.abbrs[d.entity], fact.prefix, role))
        if rng.random() < 0.6:
            b.reference(fact, staff, b.naming.role_ref(rng.choice(_STAFF_ROLES), fact.prefix),
                        subset=rng.choice([1.0, 0.5]))
        if rng.random() < 0.5:
            b.reference(fact, people, b.naming.role_ref(rng.choice(_CLIENT_ROLES), fact.prefix))
        b.traps(fact, rng.randint(2, 5))
        for i in range(b.wide):
            fact.columns[b.naming.plain(f"measure_{i}", fact.prefix)] = \
                [round(rng.uniform(0, 1000), 2) for _ in range(fact.rows)]
    # a bridge (many-to-many) between two dimensions
    if rng.random() < 0.4 and len(dims) >= 2:
        left, right = rng.sample(dims, 2)
        link = b.add_table(f"{left.entity}_{right.entity}", rows(50, 400), kind="dense",
                           abbr=b.abbrs[left.entity][:2] + b.abbrs[right.entity][:2] + "l")
        b.reference(link, left, b.naming.ref(left.entity, b.abbrs[left.entity], link.prefix))
        b.reference(link, right, b.naming.ref(right.entity, b.abbrs[right.entity], link.prefix))
    if rng.random() < 0.7:  # drawn last, so the rest of a seed's schema stays as it was
        b.composite(rows)
    return b.finish()
