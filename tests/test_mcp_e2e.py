"""`dataraum mcp` as a client meets it: the command started over stdio by the MCP client, and on
streamable HTTP on a free port; every tool, the refusals, the time limit, and queries answered
while a pipeline writes the same workspace."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import mcp
import pytest

import dataraum_context as dc
from dataraum_context.sample import shop_dir

from support.pages import code_blocks, run_python

pytestmark = pytest.mark.e2e

DATARAUM = str(Path(sys.executable).with_name("dataraum"))
AGENTS = Path(__file__).resolve().parents[1] / "docs" / "AGENTS.md"
TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("mcp-e2e") / "ws"
    assert dc.run("default", sources=[str(shop_dir())], workspace=ws).succeeded
    return ws


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(shop_ws: Path) -> Iterator[str]:
    with _serving(shop_ws) as url:
        yield url


@contextmanager
def _serving(ws: Path) -> Iterator[str]:
    """`dataraum mcp --transport http` on a free port of 127.0.0.1; its URL once it accepts."""
    port = _free_port()
    server = subprocess.Popen([DATARAUM, "mcp", "--workspace", str(ws), "--transport", "http", "--port", str(port),
                               "--query-timeout", str(TIMEOUT_S)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start listening"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _every_tool(client: mcp.Client) -> None:
    """Each tool once, a refusal of each kind, and the time limit, through `client`."""
    async def ok(tool: str, **arguments: Any) -> Any:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, (tool, result.content)
        if result.structured_content is None:
            return result.content[0].text
        return result.structured_content.get("result", result.structured_content)

    async def refused(tool: str, **arguments: Any) -> str:
        result = await client.call_tool(tool, arguments)
        assert result.is_error, (tool, arguments)
        text = result.content[0].text
        assert "\n" not in text, text
        return text

    assert {t.name for t in (await client.list_tools()).tools} >= {"query", "annotate", "get_metrics"}
    assert [t["table"] for t in await ok("list_tables")] == ["customers", "order_items", "orders", "products"]
    assert (await ok("describe_table", table="orders"))["rows"] == 200
    assert (await ok("get_context", tables=["orders"])).startswith("# Data context (1 tables")
    assert len(await ok("get_relationships")) == 3
    path = await ok("join_path", from_table="order_items", to_table="products")
    assert (await ok("query", sql=path["example"]))["rows"] == [[517]]
    total = next(m for m in await ok("get_metrics") if m["metric"] == "total_quantity")
    assert total["value"] == 1126
    issues = await ok("get_quality_issues", severity="error")
    assert [i["check"] for i in issues] == ["duplicate_key"]
    assert (await ok("query", sql=issues[0]["sql"]))["row_count"] == 2
    assert "annotated products.unit_price" in await ok("annotate", table="products", column="unit_price",
                                                       description="List price in EUR.")
    assert "unknown table 'nope'" in await refused("describe_table", table="nope")
    for sql in ("DELETE FROM orders", "SELECT 1; SELECT 2", "SELECT * FROM read_csv('/etc/passwd')",
                "COPY orders TO 'x.csv'", "ATTACH 'x.db'", "INSTALL httpfs", "PRAGMA version"):
        assert "Error executing tool query" in await refused("query", sql=sql)
    started = time.monotonic()
    stopped = await refused("query", sql="SELECT count(*) FROM range(10000000) a, range(10000000) b")
    assert stopped.endswith(f"stopped after the time limit of {TIMEOUT_S:g} s")
    assert time.monotonic() - started < 20
    assert (await ok("query", sql="SELECT 1 AS one"))["rows"] == [[1]]
    assert "dataraum://context" in [str(r.uri) for r in (await client.list_resources()).resources]
    assert (await client.get_prompt("explore_data")).messages


def test_every_tool_over_stdio(shop_ws: Path):
    params = mcp.StdioServerParameters(command=DATARAUM, args=["mcp", "--workspace", str(shop_ws),
                                                               "--query-timeout", str(TIMEOUT_S)])

    async def main() -> None:
        async with mcp.Client(params) as client:
            await _every_tool(client)

    asyncio.run(main())


def test_every_tool_over_http(http_server: str):
    async def main() -> None:
        async with mcp.Client(http_server) as client:
            await _every_tool(client)

    asyncio.run(main())


def test_http_listens_on_loopback_only(shop_ws: Path):
    """By default the HTTP server binds 127.0.0.1, not every address of the machine."""
    tcp = Path("/proc/net/tcp")
    if not tcp.is_file():
        pytest.skip("reads the listening sockets from /proc/net/tcp (Linux)")
    with _serving(shop_ws) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        listening = [line.split()[1] for line in tcp.read_text().splitlines()[1:]
                     if line.split()[3] == "0A" and line.split()[1].endswith(f":{port:04X}")]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1, little-endian


def test_queries_are_answered_while_a_pipeline_writes_the_workspace(tmp_path: Path):
    """A pipeline rewrites the table the server reads: every query is answered, promptly, and sees
    the table whole (the old rows or the new ones, never part of them)."""
    data, ws = tmp_path / "data", tmp_path / "ws"
    data.mkdir()
    old_rows, new_rows = 1_000, 400_000
    _events(data / "events.csv", old_rows)
    assert dc.run("quick_profile", sources=[str(data)], workspace=ws).succeeded
    _events(data / "events.csv", new_rows)
    answers: list[tuple[float, int, bool]] = []  # seconds taken, rows seen, whether the pipeline held the lock

    async def main(url: str) -> None:
        async with mcp.Client(url) as client:
            writer = subprocess.Popen([DATARAUM, "run", str(data), "--workspace", str(ws), "--pipeline",
                                       "quick_profile", "--out", str(tmp_path / "context.md")],
                                      stderr=subprocess.PIPE, text=True)
            while writer.poll() is None:
                writing = bool((ws / ".lock").read_text().strip())
                started = time.monotonic()
                result = await client.call_tool("query", {"sql": "SELECT count(*) FROM events"})
                assert not result.is_error, result.content
                answers.append((time.monotonic() - started, result.structured_content["rows"][0][0], writing))
                listed = await client.call_tool("list_tables", {})
                assert not listed.is_error, listed.content
                await asyncio.sleep(0.05)
            assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
            final = await client.call_tool("query", {"sql": "SELECT count(*) FROM events"})
            assert final.structured_content["rows"] == [[new_rows]]
            described = await client.call_tool("describe_table", {"table": "events"})
            assert json.loads(described.content[0].text)["rows"] == new_rows

    with _serving(ws) as url:
        asyncio.run(main(url))
    assert {rows for _, rows, _ in answers} <= {old_rows, new_rows}, answers
    assert any(writing for _, _, writing in answers), "no query was answered while the pipeline held the lock"
    assert max(seconds for seconds, _, _ in answers) < 10, answers


def _events(path: Path, rows: int) -> None:
    duckdb.execute(f"COPY (SELECT range AS event_id, range % 1000 AS user_id, DATE '2024-01-01' + "
                   f"CAST(range % 365 AS INTEGER) AS day, round(random() * 100, 2) AS amount, 'k' || (range % 7) "
                   f"AS kind FROM range({rows})) TO '{path}' (HEADER)")


def test_the_python_example_of_docs_agents_runs_as_written(tmp_path: Path, monkeypatch, capsys):
    """docs/AGENTS.md's client: started in a directory whose `.dataraum/` a pipeline filled."""
    assert dc.run("default", sources=[str(shop_dir())], workspace=tmp_path / ".dataraum").succeeded
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(DATARAUM).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    [block] = [b for b in code_blocks(AGENTS) if b.kind == "python"]
    run_python(block, "docs/AGENTS.md")
    printed = capsys.readouterr().out.splitlines()
    assert [t["table"] for t in json.loads(printed[0])] == ["customers", "order_items", "orders", "products"]
    revenue = ast.literal_eval(printed[-1])
    assert revenue[0][0] == "DE" and sum(r[1] for r in revenue) == pytest.approx(
        _sum(tmp_path / ".dataraum", "SELECT sum(order_items.amount) FROM order_items JOIN orders USING (order_id) "
             "JOIN customers USING (customer_id)"))


def _sum(ws: Path, sql: str) -> float:
    return dc.Workspace(ws).sql(sql).fetchall()[0][0]
