"""A local HTTP server speaking Anthropic's Messages API (POST /v1/messages), for the real
`anthropic` SDK pointed at it with `base_url`. Each test scripts the replies; every request
body is recorded."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


def tool_use(tool_input: dict, name: str = "describe_tables", input_tokens: int = 120,
             output_tokens: int = 45) -> Reply:
    return Reply(body={
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": name, "input": tool_input}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    })


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    kind = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}.get(status, "invalid_request_error")
    return Reply(status=status, body={"type": "error", "error": {"type": kind, "message": message}},
                 headers=headers or {})


def tables_in(prompt: str) -> dict[str, list[str]]:
    """The tables and columns a prompt asks about (the prompt's `## table` and `- column` lines)."""
    tables: dict[str, list[str]] = {}
    current = None
    for line in prompt.splitlines():
        if m := re.match(r"## table (\S+):", line):
            current = tables.setdefault(m.group(1), [])
        elif current is not None and (m := re.match(r"- (\S+) ", line)):
            current.append(m.group(1))
    return tables


def good_answer(prompt: str) -> dict:
    """What a careful model would answer, in the schema: every table and column described."""
    return {"tables": [{
        "name": table, "entity_type": "fact", "is_fact_table": True, "grain": columns[:1],
        "primary_time_column": None, "description": f"{table}, as the model sees it.",
        "columns": [{"name": c, "semantic_role": "attribute", "business_term": None,
                     "description": f"{c} according to the model", "pii": False,
                     "evidence": ["model"]} for c in columns]}
        for table, columns in tables_in(prompt).items()]}


class MessagesAPI:
    def __init__(self, handler: Callable[[dict], Reply]):
        self.handler = handler
        self.requests: list[dict] = []
        self.raw: list[bytes] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                app.raw.append(raw + json.dumps(dict(self.headers.items())).encode())
                app.requests.append(body)
                reply = app.handler(body)
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def prompt(self, i: int = 0) -> str:
        return self.requests[i]["messages"][0]["content"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def messages_api() -> Iterator[Callable[[Callable[[dict], Reply]], MessagesAPI]]:
    apps: list[MessagesAPI] = []

    def start(handler: Callable[[dict], Reply]) -> MessagesAPI:
        apps.append(MessagesAPI(handler))
        return apps[-1]

    yield start
    for app in apps:
        app.close()
