"""`dataraum mcp`: the tools, resources and prompt through the real MCP client (in process), the
read-only query sandbox, and the CLI's errors. Over stdio and HTTP: test_mcp_e2e.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import duckdb
import mcp
import pytest
import yaml

import dataraum_context as dc
from dataraum_context.mcp.metrics import bind_metrics, metric_expression
from dataraum_context.mcp.sandbox import MAX_ROWS, MAX_ROWS_CAP, read_only_connection
from dataraum_context.mcp.server import CONTEXT_URI, build_server
from dataraum_context.ontology import load_ontology
from dataraum_context.sample import shop_dir

from conftest import cli

TOOLS = {"list_tables", "describe_table", "get_context", "get_relationships", "join_path", "get_metrics",
         "get_quality_issues", "query", "annotate"}
TABLES = ["customers", "order_items", "orders", "products"]


@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace the default pipeline filled from the bundled sample shop (read, never written)."""
    ws = tmp_path_factory.mktemp("mcp") / "ws"
    run = dc.run("default", sources=[str(shop_dir())], workspace=ws)
    assert run.succeeded, run.failed_steps
    return ws


@pytest.fixture
def own_ws(shop_ws: Path, tmp_path: Path) -> Path:
    """A copy of the shop workspace for a test that writes to it."""
    return Path(shutil.copytree(shop_ws, tmp_path / "ws"))


def with_client(workspace: Path, use: Callable[[mcp.Client], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    """Run `use` with a real MCP client connected to a server over `workspace` (in process)."""
    async def main() -> Any:
        async with mcp.Client(build_server(workspace, timeout_s)) as client:
            return await use(client)

    return asyncio.run(main())


def call(workspace: Path, tool: str, timeout_s: float = 30.0, **arguments: Any) -> Any:
    """A tool's structured result; a tool error as `ToolFailed`."""
    async def use(client: mcp.Client) -> Any:
        return await client.call_tool(tool, arguments)

    result = with_client(workspace, use, timeout_s)
    if result.is_error:
        raise ToolFailed(result.content[0].text)
    if result.structured_content is None:
        return result.content[0].text
    return result.structured_content.get("result", result.structured_content)


class ToolFailed(Exception):
    pass


def failed(workspace: Path, tool: str, **arguments: Any) -> str:
    """The one-line message of a tool error."""
    with pytest.raises(ToolFailed) as info:
        call(workspace, tool, **arguments)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


def test_a_run_keeps_its_context_document_in_the_workspace(shop_ws: Path):
    doc = dc.Workspace(shop_ws).context()
    assert [t.name for t in doc.tables] == TABLES
    assert doc.quality is not None and doc.relationships


def test_every_tool_has_a_description_and_a_schema(shop_ws: Path):
    async def use(client: mcp.Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in with_client(shop_ws, use)}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description or "") > 60, tool.name
        assert tool.input_schema["type"] == "object"
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), (tool.name, name)
    assert tools["query"].input_schema["required"] == ["sql"]
    assert tools["get_quality_issues"].input_schema["properties"]["severity"]["anyOf"][0]["enum"] == \
        ["error", "warning", "info"]
    assert tools["query"].annotations.read_only_hint and not tools["annotate"].annotations.read_only_hint


def test_list_and_describe_tables(shop_ws: Path):
    tables = call(shop_ws, "list_tables")
    assert [t["table"] for t in tables] == TABLES
    orders = next(t for t in tables if t["table"] == "orders")
    assert orders["rows"] == 200 and orders["key"] == ["order_id"] and orders["time_column"] == "order_date"

    customers = call(shop_ws, "describe_table", table="customers")
    columns = {c["name"]: c for c in customers["columns"]}
    assert columns["customer_id"]["type"] == "BIGINT" and columns["customer_id"]["role"] == "key"
    assert columns["email"]["business_term"] == "email" and columns["email"]["pii"] is True
    assert "min" not in columns["email"].get("statistics", {})  # personal data: no values
    assert columns["country"]["statistics"]["top_values"][0] == ["DE", 16]
    issues = {i["check"]: i for i in customers["quality_issues"]}
    assert issues["duplicate_key"]["severity"] == "error" and issues["duplicate_key"]["failing"] == 2


def test_unknown_names_are_one_line_errors_naming_the_valid_ones(shop_ws: Path):
    valid = "(tables: customers, order_items, orders, products)"
    assert failed(shop_ws, "describe_table", table="nope") == \
        f"Error executing tool describe_table: unknown table 'nope' {valid}"
    assert failed(shop_ws, "join_path", from_table="orders", to_table="nope").endswith(f"'nope' {valid}")
    assert failed(shop_ws, "get_relationships", table="nope").endswith(f"'nope' {valid}")
    assert failed(shop_ws, "get_quality_issues", table="nope").endswith(f"'nope' {valid}")
    assert failed(shop_ws, "get_context", tables=["orders", "nope"]).endswith(
        "no table 'nope' in the context (its tables: customers, order_items, orders, products)")
    assert failed(shop_ws, "annotate", table="orders", column="nope", role="measure").endswith(
        "table orders has no column 'nope' (columns: order_id, customer_id, order_date, status, shipped_date, "
        "amount)")
    assert "unknown ontology 'nope'" in failed(shop_ws, "get_metrics", ontology="nope")


def test_get_context_in_each_format_and_for_some_tables(shop_ws: Path):
    markdown = call(shop_ws, "get_context")
    assert markdown.startswith("# Data context (4 tables") and "## Join paths" in markdown
    doc = json.loads(call(shop_ws, "get_context", format="json", tables=["orders"]))
    assert [t["name"] for t in doc["tables"]] == ["orders"]
    assert yaml.safe_load(call(shop_ws, "get_context", format="yaml"))["pipeline"] == "default"
    budgeted = call(shop_ws, "get_context", max_tokens=600)
    assert budgeted == dc.context(shop_ws, max_tokens=600) and len(budgeted) < len(markdown) / 3
    assert "unknown output format 'docx'" in failed(shop_ws, "get_context", format="docx")


def test_relationships_and_join_paths_come_with_sql_that_runs(shop_ws: Path):
    relationships = call(shop_ws, "get_relationships", table="orders")
    assert {(r["from"][0], r["to"][0]) for r in relationships} == {
        ("order_items.order_id", "orders.order_id"), ("orders.customer_id", "customers.customer_id")}
    orphans = next(r for r in relationships if r["to"] == ["customers.customer_id"])
    assert orphans["cardinality"] == "many_to_one" and orphans["orphan_rows"] == 1
    for r in relationships:
        assert call(shop_ws, "query", sql=f"SELECT count(*) AS n {r['sql']}")["rows"][0][0] > 0

    path = call(shop_ws, "join_path", from_table="order_items", to_table="customers")
    assert [s["to"] for s in path["steps"]] == [["orders.order_id"], ["customers.customer_id"]]
    assert path["sql"].startswith('FROM "order_items" JOIN "orders" ON')
    joined = call(shop_ws, "query", sql=path["example"])["rows"][0][0]
    # the sample's planted defects: customer 17 twice (its items counted twice), customer 75 missing
    twice, missing = (_scalar(shop_ws, "SELECT count(*) FROM order_items JOIN orders USING (order_id) "
                                       f"WHERE customer_id = {c}") for c in (17, 75))
    assert joined == 517 + twice - missing
    assert path["notes"] == [
        "orders -> customers: 1 key value(s) of customers repeat, so the rows that match them are multiplied",
        "orders -> customers: 1 row(s) of orders find no match: an inner join drops them, LEFT JOIN keeps them"]
    back = call(shop_ws, "join_path", from_table="customers", to_table="products")
    assert "one-to-many: it multiplies the rows of customers; aggregate before joining" in back["notes"][0]
    plain = call(shop_ws, "join_path", from_table="order_items", to_table="products")
    assert plain["notes"] == ["every step is many-to-one: the join keeps each row of the first table once"]
    assert call(shop_ws, "join_path", from_table="orders", to_table="orders")["connected"] is False


def test_metrics_are_bound_to_columns_and_run(shop_ws: Path):
    metrics = call(shop_ws, "get_metrics")
    total = next(m for m in metrics if m["metric"] == "total_amount" and m["table"] == "orders")
    assert total["columns"] == {"amount": "orders.amount"}
    assert total["sql"] == 'SELECT SUM("amount") AS "total_amount" FROM "orders"'
    assert total["value"] == pytest.approx(_scalar(shop_ws, "SELECT sum(amount) FROM orders"))
    distinct = next(m for m in metrics if m["metric"] == "distinct_entities" and m["table"] == "customers")
    assert distinct["value"] == 60  # the sample's customer 17 is there twice

    retail = call(shop_ws, "get_metrics", ontology="retail")
    missing = next(m for m in retail if m["metric"] == "average_order_value")
    assert missing["applicable"] is False
    assert missing["reason"] == "no column has the business term order_total or order_id"


def test_a_metric_whose_sql_fails_says_why(own_ws: Path):
    """A business term on a column of the wrong type (a person's annotation can do that): the
    metric binds, and its error is reported in place of a value."""
    ws = dc.Workspace(own_ws)
    doc = ws.context()
    customers = doc.table("customers")
    columns = tuple(c.model_copy(update={"business_term": "amount"}) if c.name == "name" else c
                    for c in customers.columns)
    tables = tuple(t.model_copy(update={"columns": columns}) if t.name == "customers" else t for t in doc.tables)
    ws.write_context(doc.model_copy(update={"tables": tables}))
    wrong = next(m for m in call(own_ws, "get_metrics") if m["metric"] == "total_amount" and m["table"] == "customers")
    assert "value" not in wrong and "sum(VARCHAR)" in wrong["error"]


def test_metric_formulas_become_sql():
    """Metrics named in a formula are expanded, COUNT_DISTINCT is COUNT(DISTINCT ...), and a bare
    concept is aggregated as its temporal behaviour says (revenue additive: summed; a balance
    is not summed over time: averaged)."""
    onto = load_ontology("financial_reporting")
    metric = {m.name: m for m in onto.metrics}
    columns = {c: f"c_{c}" for m in onto.metrics for c in m.required_concepts}
    assert metric_expression(metric["gross_margin"], onto, columns) == \
        '(SUM("c_revenue") - SUM("c_cogs")) / NULLIF(SUM("c_revenue"), 0)'
    assert metric_expression(metric["current_ratio"], onto, columns) == \
        'AVG("c_current_assets") / NULLIF(AVG("c_current_liabilities"), 0)'
    retail = load_ontology("retail")
    aov = next(m for m in retail.metrics if m.name == "average_order_value")
    assert metric_expression(aov, retail, {"order_total": "total", "order_id": "id"}) == \
        'SUM("total") / COUNT(DISTINCT "id")'


def test_metrics_whose_concepts_are_in_different_tables_are_not_applicable(shop_ws: Path):
    doc = dc.Workspace(shop_ws).context()
    onto = load_ontology("financial_reporting")
    terms = {"orders": {"amount": "revenue"}, "order_items": {"amount": "cogs"}}
    tables = tuple(t.model_copy(update={"columns": tuple(
        c.model_copy(update={"business_term": terms.get(t.name, {}).get(c.name)}) for c in t.columns)})
        for t in doc.tables)
    gross = next(b for b in bind_metrics(doc.model_copy(update={"tables": tables}), onto)
                 if b.metric.name == "gross_profit")
    assert gross.sql is None
    assert gross.reason == "revenue, cogs are not in one table (revenue: orders.amount; cogs: order_items.amount)"


def test_quality_issues_come_with_sql_returning_the_failing_rows(shop_ws: Path):
    issues = call(shop_ws, "get_quality_issues")
    assert [i["severity"] for i in issues][:3] == ["error", "warning", "warning"]
    assert len(issues) == 9
    for issue in issues:
        rows = call(shop_ws, "query", sql=issue["sql"], max_rows=MAX_ROWS_CAP)
        assert rows["row_count"] == issue["failing"], issue
    warnings = call(shop_ws, "get_quality_issues", severity="warning", table="orders")
    assert {i["check"] for i in warnings} == {"cast_failure", "orphaned_reference"}
    assert call(shop_ws, "get_quality_issues", table="products") == []


def test_query_returns_rows_within_the_row_limit(shop_ws: Path):
    result = call(shop_ws, "query", sql="SELECT order_id, order_date, amount FROM orders ORDER BY order_id;")
    assert result["columns"] == ["order_id", "order_date", "amount"]
    assert result["types"] == ["BIGINT", "DATE", "DOUBLE"]
    assert result["rows"][0] == [1001, "2023-01-03", 91.71]
    assert result["row_count"] == MAX_ROWS and result["truncated"] is True
    few = call(shop_ws, "query", sql="WITH o AS (SELECT * FROM orders) SELECT * FROM o", max_rows=5)
    assert few["row_count"] == 5 and few["truncated"]
    assert call(shop_ws, "query", sql="SELECT * FROM quarantine_orders")["rows"][0][2] == "2023-02-30"
    with pytest.raises(ToolFailed, match="less than or equal to 1000"):
        call(shop_ws, "query", sql="SELECT 1", max_rows=MAX_ROWS_CAP + 1)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A Parquet file outside the workspace."""
    path = tmp_path / "outside.parquet"
    duckdb.execute(f"COPY (SELECT 42 AS secret) TO '{path}' (FORMAT parquet)")
    return path


def test_query_refuses_writes_several_statements_and_any_other_file(shop_ws: Path, outside: Path, tmp_path: Path):
    traversal = f"{shop_ws}/tables/{os.path.relpath(outside, shop_ws / 'tables')}"  # ws/tables/../../../x
    assert ".." in traversal and Path(traversal).resolve() == outside
    written = tmp_path / "out.csv"
    refusals = {
        "DELETE FROM orders": "only SELECT (or WITH ... SELECT) is allowed, not DELETE",
        "CREATE TABLE x AS SELECT 1": "not CREATE",
        "SELECT 1; SELECT 2": "one statement at a time, not 2",
        "SELECT * FROM orders; DROP VIEW orders": "one statement at a time, not 2",
        "SELECT * FROM read_csv('/etc/passwd')": 'Cannot access file "/etc/passwd"',
        "SELECT * FROM '/etc/passwd'": "/etc/passwd",
        f"SELECT * FROM read_parquet('{outside}')": f'Cannot access file "{outside}"',
        f"SELECT * FROM read_parquet('{traversal}')": "Cannot access file",
        "SELECT * FROM glob('/etc/*')": "Cannot access file",
        f"COPY orders TO '{written}'": "not COPY",
        f"ATTACH '{tmp_path / 'x.duckdb'}'": "not ATTACH",
        "INSTALL httpfs": "not INSTALL",
        "LOAD httpfs": "not LOAD",
        "PRAGMA version": "not PRAGMA",
        "SET enable_external_access = true": "not SET",
        "CALL pragma_version()": "not CALL",
        "EXPORT DATABASE '/tmp/x'": "not EXPORT",
        "SELEC 1": "syntax error",
    }
    for sql, reason in refusals.items():
        message = failed(shop_ws, "query", sql=sql)
        assert message.startswith("Error executing tool query: ") and reason in message, (sql, message)
    assert not written.exists()


def test_the_sandbox_connection_itself_reads_no_other_file_and_stays_locked(shop_ws: Path, outside: Path):
    """Below the statement check: the connection a query runs on."""
    con = read_only_connection(dc.Workspace(shop_ws))
    try:
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(200,)]
        for sql in (f"SELECT * FROM read_parquet('{outside}')", f"COPY orders TO '{outside.parent / 'x.csv'}'",
                    f"ATTACH '{outside.parent / 'x.duckdb'}'", "INSTALL httpfs", "LOAD httpfs"):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        for setting in ("enable_external_access = true", "allowed_paths = ['/']", "lock_configuration = false"):
            with pytest.raises(duckdb.InvalidInputException, match="the configuration has been locked"):
                con.execute(f"SET {setting}")
    finally:
        con.close()


def test_a_long_query_is_stopped_at_the_time_limit(shop_ws: Path):
    started = time.monotonic()
    message = failed(shop_ws, "query", timeout_s=1.0,
                     sql="SELECT count(*) FROM range(10000000) a, range(10000000) b")
    assert message.endswith("stopped after the time limit of 1 s")
    assert time.monotonic() - started < 15
    # and the server answers the next query
    assert call(shop_ws, "query", timeout_s=1.0, sql="SELECT 1 AS one")["rows"] == [[1]]


def test_annotate_writes_what_the_cli_writes(own_ws: Path, tmp_path: Path):
    by_cli = Path(shutil.copytree(own_ws, tmp_path / "by_cli"))
    args = {"role": "measure", "term": "amount", "description": "Order value in EUR."}
    message = call(own_ws, "annotate", table="orders", column="amount", **args)
    assert message == f"annotated orders.amount in {own_ws / 'annotations.yaml'}; the next pipeline run uses it"
    assert cli("annotate", "orders.amount", "--workspace", str(by_cli), "--role", "measure", "--term", "amount",
               "--description", "Order value in EUR.").code == 0
    assert (own_ws / "annotations.yaml").read_text() == (by_cli / "annotations.yaml").read_text()
    warned = call(own_ws, "annotate", table="orders", column="status", term="lifecycle")
    assert "warning: term 'lifecycle' is not a concept of ontology base" in warned
    assert "give role, term and/or description" in failed(own_ws, "annotate", table="orders", column="status")


def test_resources_are_the_context_and_each_table(shop_ws: Path):
    async def use(client: mcp.Client) -> Any:
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
        context = (await client.read_resource(CONTEXT_URI)).contents[0].text
        table = (await client.read_resource("dataraum://tables/orders")).contents[0].text
        return listed, context, table

    listed, context, table = with_client(shop_ws, use)
    assert listed == [CONTEXT_URI] + [f"dataraum://tables/{t}" for t in TABLES]
    assert context.startswith("# Data context (4 tables")
    assert json.loads(table)["rows"] == 200


def test_the_prompt_tells_how_to_use_the_tools(shop_ws: Path):
    async def use(client: mcp.Client) -> Any:
        prompts = (await client.list_prompts()).prompts
        text = (await client.get_prompt("explore_data", {"question": "Which country buys most?"})).messages[0]
        return prompts, text.content.text

    prompts, text = with_client(shop_ws, use)
    assert [p.name for p in prompts] == ["explore_data"]
    for tool in TOOLS:
        assert f"`{tool}" in text, tool
    assert text.rstrip().endswith("The question: Which country buys most?")


def test_a_workspace_without_a_context_still_lists_and_queries(own_ws: Path):
    (own_ws / "context.json").unlink()
    assert call(own_ws, "list_tables")[0] == {"table": "customers", "columns": 7, "in_context": False}
    described = call(own_ws, "describe_table", table="orders")
    assert described["columns"][0] == {"name": "order_id", "type": "BIGINT"}
    assert "next pipeline run" in described["note"]
    assert call(own_ws, "query", sql="SELECT count(*) FROM customers")["rows"] == [[61]]
    assert "no context yet" in failed(own_ws, "get_quality_issues")


def test_cli_errors_are_one_line(tmp_path: Path, shop_ws: Path):
    missing = cli("mcp", "--workspace", str(tmp_path / "missing"))
    assert missing.code == 2 and missing.err.startswith("dataraum: error: workspace ")
    assert len(missing.err.splitlines()) == 1
    timeout = cli("mcp", "--workspace", str(shop_ws), "--query-timeout", "0")
    assert timeout.code == 2 and "--query-timeout 0" in timeout.err
    assert cli("mcp", "--workspace", str(shop_ws), "--transport", "sse").code == 2


def _scalar(ws: Path, sql: str) -> Any:
    return dc.Workspace(ws).sql(sql).fetchall()[0][0]


def test_without_the_mcp_package_the_command_says_what_to_install(shop_ws: Path, monkeypatch):
    for name in [m for m in sys.modules if m == "mcp" or m.startswith("mcp.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "dataraum_context.mcp.server")
    result = cli("mcp", "--workspace", str(shop_ws))
    assert result.code == 2
    assert result.err == ("dataraum: error: dataraum mcp needs the mcp package (mcp is not installed): "
                          "pip install 'dataraum-context[mcp]'\n")
