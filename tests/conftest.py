"""Shared fixtures: small source files written by the tests, and the CLI run in-process."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from dataraum_context.cli import main
from dataraum_context.listing_cache import CACHE_ENV

# fixtures for every test: a PostgreSQL server, HTTP apps, a local Messages API, Prefect and Temporal
# servers, a fresh venv for plugins
pytest_plugins = ["support.servers", "support.messages_api", "support.durable", "support.venvs"]


@pytest.fixture(autouse=True, scope="session")
def _listing_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The listings `dataraum steps` keeps go to a directory of the session's, not the user's
    cache (the CLI's processes inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("listing-cache")))
        yield


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def cli(*args: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse exits for usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


SHOP_CUSTOMERS = """customer_id,name,email,signup_date,is_active
1,Ann Lee,ann@example.com,2023-01-05,1
2,Bob Stone,bob@example.org,2023-02-11,0
3,Cy Park,N/A,2023-03-15,1
4,Di Wu,di@example.net,2023-03-30,1
"""

SHOP_ORDERS = """order_id,customer_id,order_date,amount,status
10,1,2023-04-01,"1,234.50",shipped
11,2,2023-04-02,12.00,shipped
12,9,not a date,7.25,pending
13,4,2023-04-19,99.99,cancelled
"""


@pytest.fixture
def shop(data_dir: Path) -> Path:
    write(data_dir / "customers.csv", SHOP_CUSTOMERS)
    write(data_dir / "orders.csv", SHOP_ORDERS)
    return data_dir
