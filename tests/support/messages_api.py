"""A local HTTP server speaking Anthropic's Messages API (POST /v1/messages), for the real
`anthropic` SDK pointed at it with `base_url`. Each test scripts the replies; every request
body is recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest

from support.servers import HTTPApp, Reply, Seen


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
    """The Messages API over a local `HTTPApp`: `handler(request body) -> Reply`; every request
    body is recorded (`requests`), and its raw bytes with the headers (`raw`)."""

    def __init__(self, handler: Callable[[dict], Reply]):
        self.requests: list[dict] = []
        self.raw: list[bytes] = []

        def answer(seen: Seen) -> Reply:
            self.raw.append(seen.body + json.dumps(seen.headers).encode())
            self.requests.append(json.loads(seen.body))
            return handler(self.requests[-1])

        self._app = HTTPApp(answer)
        self.url = self._app.url

    def prompt(self, i: int = 0) -> str:
        return self.requests[i]["messages"][0]["content"]

    def close(self) -> None:
        self._app.close()


@pytest.fixture
def messages_api() -> Iterator[Callable[[Callable[[dict], Reply]], MessagesAPI]]:
    apps: list[MessagesAPI] = []

    def start(handler: Callable[[dict], Reply]) -> MessagesAPI:
        apps.append(MessagesAPI(handler))
        return apps[-1]

    yield start
    for app in apps:
        app.close()
