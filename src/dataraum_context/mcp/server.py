"""The MCP server: `WorkspaceTools` as tools, the context and each table as resources, and a
prompt that tells an agent how to work with them. On stdio, or streamable HTTP on 127.0.0.1.

A tool answers JSON (text and structured content). A user error in a tool (an unknown table, a
refused query) becomes a tool error whose text is the one-line message; anything else is the
SDK's generic tool error, logged on stderr.
"""

# No `from __future__ import annotations`: the SDK reads the tools' parameter annotations, and
# some name values of `build_server` (the installed output formats).
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from mcp.types import Resource as ResourceInfo
from pydantic import Field

from dataraum_context.delivery.formats import output_formats
from dataraum_context.errors import DataraumError
from dataraum_context.llm.protocol import SemanticRole
from dataraum_context.mcp.sandbox import MAX_ROWS, MAX_ROWS_CAP, TIMEOUT_S
from dataraum_context.mcp.tools import WorkspaceTools

CONTEXT_URI = "dataraum://context"
TABLE_URI = "dataraum://tables/{table}"

INSTRUCTIONS = """\
This server describes the tables of a dataraum workspace: what each table and column is and
means, how the tables join, how far the data can be trusted, and read-only SQL over it (DuckDB
dialect). Start with list_tables or get_context; use join_path for the SQL of a join rather than
guessing keys; check get_quality_issues before trusting a figure; query runs one SELECT."""

PROMPT = """\
You are working with the tables of a dataraum workspace through these tools.

1. Get oriented: `list_tables` (rows, role, key, description of each table), then `get_context`
   (the whole context document; pass `tables` and `max_tokens` to keep it short) or
   `describe_table` for one table's columns: type, role, business term, statistics, issues.
2. Joins: `join_path(from_table, to_table)` gives the FROM ... JOIN ... ON clause along the
   discovered relationships. A one-to-many step multiplies rows: aggregate before joining.
   `get_relationships` lists every relationship with its cardinality and orphans.
3. Trust: `get_quality_issues` lists failed checks, worst first, each with SQL that returns the
   failing rows. Mention the issues that touch a figure you report.
4. Figures: `get_metrics` gives the domain ontology's metrics bound to real columns, with their
   SQL and value; prefer them to writing the same formula yourself.
5. SQL: `query(sql)` runs ONE read-only SELECT (or WITH ... SELECT) in DuckDB's dialect over the
   tables by name, plus `quarantine_<table>` with the values that failed their type. It returns
   at most {max_rows} rows by default ({cap} at most) and stops after {timeout:g} s: aggregate in
   SQL instead of fetching rows. Files, the network and writes are not available.
6. When you learn what a column means, record it with `annotate(table, column, role, term,
   description)`; the next pipeline run uses it.
{question}"""

Table = Annotated[str, Field(description="a table name, as list_tables gives it")]


def _tool(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A tool's answer as compact JSON text (the SDK's own indents every value onto a line of
    its own, which costs an agent tokens) beside the same structured content; a DataraumError
    as a tool error the model reads, its one-line message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = fn(*args, **kwargs)
        except DataraumError as exc:
            raise ToolError(str(exc)) from None
        if isinstance(answer, str):
            return answer
        text = json.dumps(answer, ensure_ascii=False, default=str)
        return CallToolResult(content=[TextContent(type="text", text=text)],
                              structured_content={"result": answer} if isinstance(answer, list) else answer)

    return wrapper


class WorkspaceServer(MCPServer):
    """An MCPServer whose resource list follows the workspace: a table a pipeline adds while
    the server runs is listed at the next request."""

    def __init__(self, tools: WorkspaceTools, **kwargs: Any):
        super().__init__(**kwargs)
        self.tools = tools

    async def list_resources(self) -> list[ResourceInfo]:
        listed = await super().list_resources()
        return listed + [
            ResourceInfo(uri=TABLE_URI.format(table=name), name=f"table {name}", mime_type="application/json",
                         description=f"table {name}: columns with type, role, business term, statistics and "
                                     "quality issues")
            for name in self.tools.table_names()
        ]


def build_server(workspace: str | os.PathLike[str], timeout_s: float = TIMEOUT_S) -> WorkspaceServer:
    tools = WorkspaceTools(workspace, timeout_s)
    formats = ", ".join(output_formats())
    app = WorkspaceServer(tools, name="dataraum", instructions=INSTRUCTIONS, log_level="WARNING")
    reading = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    @app.tool(annotations=reading)
    @_tool
    def list_tables() -> list[dict[str, Any]]:
        """The workspace's tables: rows, columns, role (fact, dimension, ...), key, quality score
        (0..1), primary time column and a one-line description. Start here."""
        return tools.list_tables()

    @app.tool(annotations=reading)
    @_tool
    def describe_table(table: Table) -> dict[str, Any]:
        """One table in detail: each column's type, semantic role, business term, description,
        null ratio, distinct count and statistics (min, max, mean, quantiles, top values), its
        time columns, and the quality checks it failed with SQL returning the failing rows."""
        return tools.describe_table(table)

    @app.tool(annotations=reading)
    @_tool
    def get_context(
        tables: Annotated[list[str] | None, Field(description="only these tables (default: all)")] = None,
        format: Annotated[str, Field(description=f"output format, one of: {formats}; markdown reads best in a "
                                                 "prompt, json has every field")] = "markdown",
        max_tokens: Annotated[int | None, Field(ge=1, description="fit the text into this many tokens: the most "
                                                                   "useful facts and tables first, each table "
                                                                   "whole")] = None,
    ) -> str:
        """The context document: join paths, time coverage, quality, then each table with its
        columns (type, nulls, distinct, role, values), relationships and warnings. With
        max_tokens, the least relevant tables and details are left out, and it says which."""
        return tools.get_context(tables, format, max_tokens)

    @app.tool(annotations=reading)
    @_tool
    def get_relationships(
        table: Annotated[str | None, Field(description="only relationships of this table (default: all)")] = None,
    ) -> list[dict[str, Any]]:
        """Relationships between tables (foreign key -> key): columns, cardinality, whether declared
        or discovered, confidence, orphaned rows, and the SQL of the join. Relationships a
        semantic provider proposed but that were not measured are marked so."""
        return tools.get_relationships(table)

    @app.tool(annotations=reading)
    @_tool
    def join_path(from_table: Table, to_table: Table) -> dict[str, Any]:
        """The shortest chain of relationships from one table to another, with the SQL of the join
        (FROM ... JOIN ... ON ...) ready to put in a query, and whether it multiplies rows."""
        return tools.join_path(from_table, to_table)

    @app.tool(annotations=reading)
    @_tool
    def get_metrics(
        ontology: Annotated[str | None, Field(description="an ontology name (default: the one the context "
                                                          "was built with)")] = None,
    ) -> list[dict[str, Any]]:
        """The domain ontology's metrics (revenue, margin, ...) bound to real columns: each with its
        SQL and the value it gives now, or marked not applicable with the reason (a concept no
        column carries, or concepts in different tables)."""
        return tools.get_metrics(ontology)

    @app.tool(annotations=reading)
    @_tool
    def get_quality_issues(
        table: Annotated[str | None, Field(description="only this table (default: all)")] = None,
        severity: Annotated[Literal["error", "warning", "info"] | None,
                            Field(description="only this severity (default: all)")] = None,
    ) -> list[dict[str, Any]]:
        """Quality checks that failed, most severe and widest first: what failed, how many rows,
        examples, and SQL that returns exactly the failing rows (run it with `query`)."""
        return tools.get_quality_issues(table, severity)

    @app.tool(annotations=reading)
    @_tool
    def query(
        sql: Annotated[str, Field(description="one SELECT or WITH ... SELECT statement, DuckDB dialect")],
        max_rows: Annotated[int | None, Field(ge=1, le=MAX_ROWS_CAP, description=f"rows to return (default "
                                                                                  f"{MAX_ROWS})")] = None,
    ) -> dict[str, Any]:
        """Run one read-only SELECT over the workspace's tables (by name) and `quarantine_<table>`
        views. Returns columns, types and rows, and whether rows were left out. No writes, no
        files, no network; a query running too long is stopped."""
        return tools.query(sql, max_rows)

    @app.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                                          open_world_hint=False))
    @_tool
    def annotate(
        table: Table,
        column: Annotated[str, Field(description="a column of the table")],
        role: Annotated[SemanticRole | None, Field(description="the column's role")] = None,
        term: Annotated[str | None, Field(description="its business term, ideally a concept of the ontology")] = None,
        description: Annotated[str | None, Field(description="one sentence on what it holds")] = None,
    ) -> str:
        """Record what a column means in the workspace's annotations.yaml (as `dataraum annotate`
        does). Annotations win over every semantic provider from the next pipeline run on."""
        return tools.annotate(table, column, role, term, description)

    @app.resource(CONTEXT_URI, name="context", mime_type="text/markdown",
                  description="the workspace's context document (Markdown)")
    def context_resource() -> str:
        return _resource(lambda: tools.get_context())

    @app.resource(TABLE_URI, name="table", mime_type="application/json",
                  description="one table: columns with type, role, business term, statistics and quality issues")
    def table_resource(table: str) -> str:
        return _resource(lambda: json.dumps(tools.describe_table(table), indent=2, default=str))

    @app.prompt(name="explore_data", description="how to answer questions about this workspace's data "
                                                 "with these tools")
    def explore_data(question: str | None = None) -> str:
        asked = f"\nThe question: {question}\n" if question else ""
        return PROMPT.format(max_rows=MAX_ROWS, cap=MAX_ROWS_CAP, timeout=timeout_s, question=asked)

    return app


def _resource(read: Callable[[], str]) -> str:
    try:
        return read()
    except DataraumError as exc:
        raise ResourceError(str(exc)) from None


def serve(workspace: str | os.PathLike[str], transport: str = "stdio", host: str = "127.0.0.1",
          port: int = 8000, timeout_s: float = TIMEOUT_S) -> None:
    """Serve the workspace until the client goes away (stdio) or the process is stopped (http)."""
    app = build_server(workspace, timeout_s)
    if transport == "stdio":
        app.run("stdio")
    else:
        print(f"dataraum: serving {app.tools.ws.root} at http://{host}:{port}/mcp", file=sys.stderr, flush=True)
        app.run("streamable-http", host=host, port=port)
