"""The REST API loader against a real local HTTP server: pagination by page, cursor and Link
header, an auth header from the environment, rate limits, server errors, endless pages."""

from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import pytest

import dataraum_context as dc
from dataraum_context.errors import SourceError
from dataraum_context.loaders.base import resolve_sources
from dataraum_context.loaders.sources import Secrets
from dataraum_context.workspace import Workspace

from conftest import cli
from support.servers import Reply, Seen

_PEOPLE = [{"id": i, "name": f"p{i}", "address": {"city": "Paris" if i % 2 else "Rome"}} for i in range(1, 8)]


def _sources_file(tmp_path: Path, url: str, options: str = "", credentials: str = "") -> str:
    text = f"sources:\n  - name: people\n    source: {url}\n"
    if options:
        text += f"    options: {options}\n"
    if credentials:
        text += f"    credentials:\n{credentials}"
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return str(path)


def _load(source: str, tmp_path: Path):
    [loader] = resolve_sources([source])
    staged = loader.load(Workspace(tmp_path / "ws"))
    rows = duckdb.execute(f"SELECT * FROM read_parquet('{tmp_path / 'ws' / staged.path}')").fetchall()
    return staged, rows


def test_page_pagination_flattens_records(http_app, tmp_path):
    def pages(req: Seen) -> Reply:
        page, size = int(req.query["page"]), int(req.query["per_page"])
        return Reply(body={"data": _PEOPLE[(page - 1) * size: page * size], "total": len(_PEOPLE)})

    app = http_app(pages)
    staged, rows = _load(_sources_file(tmp_path, f"{app.url}/v1/people",
                                       "{pagination: page, page_size: 3, records: data}"), tmp_path)
    assert staged.name == "people" and staged.loader == "api" and staged.row_count == 7
    assert [c.name for c in staged.columns] == ["id", "name", "address.city"]
    assert rows[0] == ("1", "p1", "Paris") and rows[-1] == ("7", "p7", "Paris")
    assert [r.query["page"] for r in app.requests] == ["1", "2", "3"]  # the short third page ends it


def test_cursor_pagination(http_app, tmp_path):
    def pages(req: Seen) -> Reply:
        start = int(req.query.get("after", 0))
        chunk = _PEOPLE[start:start + 4]
        following = start + 4 if start + 4 < len(_PEOPLE) else None
        return Reply(body={"items": chunk, "meta": {"next": following}})

    app = http_app(pages)
    options = "{pagination: cursor, cursor_path: meta.next, cursor_param: after}"
    staged, _ = _load(_sources_file(tmp_path, f"{app.url}/people", options), tmp_path)
    assert staged.row_count == 7 and len(app.requests) == 2


def test_link_header_pagination_is_followed_by_default(http_app, tmp_path):
    def pages(req: Seen) -> Reply:
        page = int(req.query.get("p", 1))
        link = {"Link": f'<{app.url}/people?p={page + 1}>; rel="next", <{app.url}/people?p=1>; rel="first"'}
        return Reply(body=_PEOPLE[(page - 1) * 2: page * 2], headers=link if page < 4 else {})

    app = http_app(pages)
    staged, _ = _load(f"{app.url}/people", tmp_path)
    assert staged.name == "people" and staged.row_count == 7 and len(app.requests) == 4


def test_auth_header_from_the_environment(http_app, tmp_path, monkeypatch):
    token = "tok-" + "s3cr3t" * 4
    monkeypatch.setenv("PEOPLE_TOKEN", token)

    def guarded(req: Seen) -> Reply:
        if req.headers.get("Authorization") != f"Bearer {token}":
            return Reply(status=401, body={"error": "no"})
        return Reply(body=_PEOPLE)

    app = http_app(guarded)
    source = _sources_file(tmp_path, f"{app.url}/people", credentials="      token: ${PEOPLE_TOKEN}\n")
    staged, _rows = _load(source, tmp_path)
    assert staged.row_count == 7
    ws = tmp_path / "pipeline-ws"
    run = dc.run("default", sources=[source], workspace=str(ws))
    assert run.succeeded and run.context.table("people").row_count == 7
    files = [p for p in ws.rglob("*") if p.is_file()]
    assert any("cache" in p.parts for p in files)  # Hamilton pickled the results there
    assert not [p for p in files if token.encode() in p.read_bytes()]
    assert token not in run.context.to_json()

    monkeypatch.setenv("PEOPLE_TOKEN", "expired-" + token)
    with pytest.raises(SourceError, match="HTTP 401") as err:
        _load(source, tmp_path)
    assert token not in str(err.value)
    monkeypatch.delenv("PEOPLE_TOKEN")
    with pytest.raises(SourceError, match="needs environment variable PEOPLE_TOKEN, which is not set"):
        _load(source, tmp_path)


def test_429_waits_as_retry_after_says(http_app, tmp_path):
    answered = []

    def limited(req: Seen) -> Reply:
        answered.append(time.monotonic())
        if len(answered) == 1:
            return Reply(status=429, body={"error": "slow down"}, headers={"Retry-After": "1"})
        return Reply(body=_PEOPLE)

    app = http_app(limited)
    staged, _rows = _load(f"{app.url}/people", tmp_path)
    assert staged.row_count == 7 and len(answered) == 2
    assert answered[1] - answered[0] >= 0.95


def test_http_500_is_retried_then_a_clear_error(http_app, tmp_path):
    app = http_app(lambda req: Reply(status=500, body={"error": "boom"}))
    source = _sources_file(tmp_path, f"{app.url}/people", "{max_retries: 2, backoff: 0.05}")
    with pytest.raises(SourceError, match=r"/people: HTTP 500 Internal Server Error after 3 attempts"):
        _load(source, tmp_path)
    assert len(app.requests) == 3


def test_endless_pagination_stops_at_max_pages(http_app, tmp_path):
    app = http_app(lambda req: Reply(body={"items": _PEOPLE[:2], "next_cursor": "same-again"}))
    source = _sources_file(tmp_path, f"{app.url}/people", "{pagination: cursor, max_pages: 5}")
    with pytest.raises(SourceError, match="still more pages after max_pages=5"):
        _load(source, tmp_path)
    assert len(app.requests) == 5


def test_a_response_that_is_not_json(http_app, tmp_path):
    app = http_app(lambda req: Reply(raw=b"<html>maintenance</html>"))
    with pytest.raises(SourceError, match=r"/people: the response is not JSON"):
        _load(f"{app.url}/people", tmp_path)


def test_get_schema_reads_only_the_first_page(http_app, tmp_path):
    def pages(req: Seen) -> Reply:
        page = int(req.query["page"])
        return Reply(body=_PEOPLE[(page - 1) * 3: page * 3])

    app = http_app(pages)
    [loader] = resolve_sources([_sources_file(tmp_path, f"{app.url}/people", "{pagination: page}")])
    assert [c.name for c in loader.get_schema()] == ["id", "name", "address.city"]
    assert len(app.requests) == 1 and not (tmp_path / "ws").exists()


def _encodings(secret: str) -> dict[str, str]:
    """Every form in which a secret could leak: as is, percent-encoded, base64."""
    raw = secret.encode()
    return {"raw": secret, "quote": quote(secret, safe=""), "quote/": quote(secret),
            "quote_plus": quote_plus(secret), "quote lower-case": quote(secret, safe="").lower(),
            "base64": base64.b64encode(raw).decode(), "base64url": base64.urlsafe_b64encode(raw).decode()}


def test_a_token_echoed_in_a_link_header_leaks_nowhere_in_any_encoding(http_app, tmp_path, monkeypatch):
    """The API echoes the query credential into its Link header (percent-encoded), then fails:
    stderr, the context, the run record, the cache and TMPDIR hold no form of the token."""
    token = "tok/with+plus=eq&amp;" + "s3cr3t" * 3
    monkeypatch.setenv("API_TOKEN", token)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def pages(req: Seen) -> Reply:
        page = int(req.query.get("page", 1))
        if page == 3:  # a failure whose body echoes the token again
            return Reply(status=500, body={"error": f"bad key {req.query['api_key']}"})
        following = f"{app.url}/people?page={page + 1}&api_key={quote(req.query['api_key'], safe='')}"
        return Reply(body=_PEOPLE[page - 1: page], headers={"Link": f'<{following}>; rel="next"'})

    app = http_app(pages)
    data = tmp_path / "data"
    data.mkdir()
    (data / "other.csv").write_text("a,b\n1,2\n")
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - name: people\n    source: {app.url}/people\n"
                       "    options: {max_retries: 0}\n"
                       "    credentials:\n      params:\n        api_key: ${API_TOKEN}\n"
                       f"  - name: other\n    source: {data / 'other.csv'}\n")
    ws, out = tmp_path / "ws", tmp_path / "context.json"
    result = cli("run", str(sources), "--workspace", str(ws), "--out", str(out))
    assert result.code == 1 and "source people was not staged" in result.err
    assert "page 3" in result.err and "HTTP 500" in result.err
    assert app.requests[1].query["api_key"] == token  # the token was really sent and echoed
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != sources]
    assert any("cache" in p.parts for p in files) and out in files
    for name, form in _encodings(token).items():
        assert form not in result.err + result.out, name
        assert not [p for p in files if form.encode() in p.read_bytes()], name
    assert not list(tmp.iterdir())


def test_secrets_are_scrubbed_in_every_encoding(monkeypatch):
    token = "a/b+c=d&e" + "x" * 12
    monkeypatch.setenv("T", token)
    secrets = Secrets({"token": "${T}"}, "http://h/x")
    for name, form in _encodings(token).items():
        assert secrets.scrub(f"before {form} after") == "before *** after", name
