"""The bundled sample: a small shop with realistic defects (see `generate`).

Four CSV files, generated deterministically by `generate` (a seeded `random.Random`, no clock)
and shipped in `shop/` (`shop_dir()`; regenerate them with
`python -c "from dataraum_context import sample; sample.generate(sample.shop_dir())"`):

    customers.csv    61 rows   customer_id, name, email, country, postal_code, signup_date, is_active
    products.csv     25 rows   product_id, name, category, unit_price
    orders.csv      200 rows   order_id, customer_id, order_date, status, shipped_date, amount
    order_items.csv ~500 rows  order_item_id, order_id, product_id, quantity, unit_price, amount

Dates are ISO (`2023-04-17`), money has two decimals, `is_active` is 0/1, `postal_code` keeps
its leading zeros (`01067`), `status` is low-cardinality text, and `orders.amount` is the sum
of the order's `order_items.amount` (quantity x unit_price).

The defects, on purpose and only these:

- **null-token variants**: three `customers.country` values are `N/A` and two
  `orders.shipped_date` values are `-`, where the rest of the missing values in those columns
  are empty (two `customers.email` are empty; `shipped_date` is empty for pending and cancelled
  orders).
- **an unparseable date**: one `orders.order_date` is `2023-02-30`.
- **a duplicated key**: `customer_id` 17 appears twice in `customers.csv` (a second sign-up
  with another email and signup date).
- **an orphan**: one order belongs to `customer_id` 75, which is not in `customers.csv`.
"""

from __future__ import annotations

import csv
import os
import random
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

__all__ = ["DEFECTS", "SEED", "TABLES", "generate", "shop_dir"]

SEED = 20240517
TABLES = ("customers", "products", "orders", "order_items")

#: The planted defects, as (table, column, what): documentation that the tests check.
DEFECTS = {
    "null_tokens": {("customers", "country"): "N/A", ("orders", "shipped_date"): "-"},
    "unparseable_date": ("orders", "order_date", "2023-02-30"),
    "duplicated_key": ("customers", "customer_id", 17),
    "orphan_foreign_key": ("orders", "customer_id", 75),
}

_N_CUSTOMERS = 60
_N_ORDERS = 200
_DUPLICATE_ID = 17
_MISSING_CUSTOMER = 75
_BAD_DATE = "2023-02-30"

_FIRST = ["Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas",
          "Karin", "Lukas", "Marie", "Noah", "Olga", "Paul", "Rosa", "Sven", "Zoë", "José",
          "Léa", "Tomás", "Yuki", "Amara"]
_LAST = ["Müller", "Schmidt", "Dubois", "Martin", "Garcia", "Rossi", "Smith", "Johnson", "Weber",
         "Fischer", "Lopez", "Bianchi", "Moreau", "Brown", "Wagner", "Ricci", "Nowak", "Jensen"]
_COUNTRIES = ["DE", "DE", "DE", "FR", "FR", "US", "US", "ES", "IT"]  # weighted by repetition
_PRODUCTS = [
    ("Wireless Mouse", "Electronics"), ("USB-C Charger", "Electronics"),
    ("Noise-Cancelling Headphones", "Electronics"), ("Mechanical Keyboard", "Electronics"),
    ("Bluetooth Speaker", "Electronics"), ("Paperback Notebook", "Office"),
    ("Gel Pens (10 pack)", "Office"), ("Desk Lamp", "Office"), ("Stapler", "Office"),
    ("Coffee Mug", "Home"), ("Cast Iron Pan", "Home"), ("Cotton Towel Set", "Home"),
    ("Scented Candle", "Home"), ("French Press", "Home"), ("Yoga Mat", "Sports"),
    ("Water Bottle", "Sports"), ("Running Socks", "Sports"), ("Resistance Bands", "Sports"),
    ("Garden Gloves", "Garden"), ("Pruning Shears", "Garden"), ("Seed Starter Kit", "Garden"),
    ("Jigsaw Puzzle 1000", "Toys"), ("Wooden Train Set", "Toys"), ("Card Game", "Toys"),
    ("Science Kit", "Toys"),
]
_STATUSES = ["delivered"] * 11 + ["shipped"] * 3 + ["pending"] * 2 + ["cancelled"] * 2 + ["returned"] * 2


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _customers(rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    start = date(2022, 1, 1)
    missing_country = set(rng.sample(range(1, _N_CUSTOMERS + 1), 3))
    missing_email = set(rng.sample(sorted(set(range(1, _N_CUSTOMERS + 1)) - missing_country), 2))
    for cid in range(1, _N_CUSTOMERS + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first.lower()}.{last.lower()}{cid}@example.com"
        # every fifth postal code starts with 0, like 01067 Dresden
        postal = f"0{rng.randrange(1000, 10000):04d}" if cid % 5 == 0 else f"{rng.randrange(10000, 100000):05d}"
        rows.append([
            cid,
            f"{first} {last}",
            "" if cid in missing_email else email,
            "N/A" if cid in missing_country else rng.choice(_COUNTRIES),
            postal,
            (start + timedelta(days=rng.randrange(365))).isoformat(),
            1 if rng.random() < 0.85 else 0,
        ])
    # the duplicated key: customer 17 signed up a second time, with another address
    original = rows[_DUPLICATE_ID - 1]
    first = str(original[1]).split(" ")[0]
    rows.append([_DUPLICATE_ID, original[1], f"{first.lower()}.new@example.com",
                 original[3], original[4], "2023-03-15", 1])
    return rows


def _products(rng: random.Random) -> list[tuple[int, str, str, int]]:
    return [(pid, name, category, rng.randrange(399, 15000))
            for pid, (name, category) in enumerate(_PRODUCTS, start=1)]


def _orders_and_items(rng: random.Random, products: list[tuple[int, str, str, int]]
                      ) -> tuple[list[list[object]], list[list[object]]]:
    first_day = date(2023, 1, 1)
    days = sorted(rng.randrange(547) for _ in range(_N_ORDERS))  # 2023-01-01 .. 2024-06-30
    orphan = rng.randrange(20, _N_ORDERS - 20)
    bad_date = next(i for i, d in enumerate(days) if (first_day + timedelta(days=d)).month == 3)
    orders: list[list[object]] = []
    items: list[list[object]] = []
    item_id = 1
    dash_left = 2  # two missing shipped dates are written as "-"
    for i, day in enumerate(days):
        order_id = 1001 + i
        ordered = first_day + timedelta(days=day)
        status = rng.choice(_STATUSES)
        customer = _MISSING_CUSTOMER if i == orphan else rng.randrange(1, _N_CUSTOMERS + 1)
        if status in ("pending", "cancelled"):
            shipped = ""
            if dash_left and i % 2 == 1:
                shipped, dash_left = "-", dash_left - 1
        else:
            shipped = (ordered + timedelta(days=rng.randrange(1, 6))).isoformat()
        total = 0
        for product in rng.sample(products, rng.choice([1, 1, 2, 2, 3, 3, 4, 5])):
            quantity = rng.choice([1, 1, 1, 2, 2, 3, 5])
            total += quantity * product[3]
            items.append([item_id, order_id, product[0], quantity, _money(product[3]),
                          _money(quantity * product[3])])
            item_id += 1
        orders.append([order_id, customer, _BAD_DATE if i == bad_date else ordered.isoformat(),
                       status, shipped, _money(total)])
    if dash_left:  # not enough odd-indexed unshipped orders: should not happen with SEED
        raise AssertionError("sample generation did not place every '-' null token")
    return orders, items


def generate(directory: str | os.PathLike[str]) -> list[Path]:
    """Write the shop's four CSV files into `directory` (created if needed); return their paths.
    The same bytes on every run and platform."""
    rng = random.Random(SEED)
    customers = _customers(rng)
    products = _products(rng)
    orders, items = _orders_and_items(rng, products)
    tables = {
        "customers": (["customer_id", "name", "email", "country", "postal_code", "signup_date",
                       "is_active"], customers),
        "products": (["product_id", "name", "category", "unit_price"],
                     [[pid, name, category, _money(cents)] for pid, name, category, cents in products]),
        "orders": (["order_id", "customer_id", "order_date", "status", "shipped_date", "amount"], orders),
        "order_items": (["order_item_id", "order_id", "product_id", "quantity", "unit_price", "amount"],
                        items),
    }
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLES:
        header, rows = tables[name]
        path = out / f"{name}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        paths.append(path)
    return paths


def shop_dir() -> Path:
    """The directory of the shipped shop CSV files (inside the installed package)."""
    return Path(str(resources.files(__name__) / "shop"))

