"""REST APIs returning JSON, through the standard library's HTTP client.

Pages are fetched one after another and appended as NDJSON to a temporary file, which is then
staged exactly like a JSON file (flattened, VARCHAR-first, `explode` for arrays): nothing is
held in memory beyond one page. Pagination (`pagination` option):

    link    follow the `Link: <...>; rel="next"` header (the default; stops when there is none)
    page    `page_param` (page) counted up from `page_start` (1); stops at an empty page, or a
            page shorter than `page_size` when that is given (sent as `page_size_param`)
    cursor  the next cursor read from `cursor_path` (next_cursor) in the body, sent as
            `cursor_param` (cursor); stops when it is missing or empty
    none    one request

`records` is the dotted path of the records in a response body (default: the body when it is a
list, else its only list). `max_pages` (1000) bounds the pages: an API that still offers more
is an error, never a silently cut table. 429 and 503 are retried after their `Retry-After`
(up to `max_retry_wait` seconds), other 5xx and connection errors with exponential backoff,
`max_retries` (3) times. Credentials (`headers`, `params` or a bearer `token`, each a
`${ENV_VAR}`) are sent only to the source's own origin and never over a redirect.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Iterator
from functools import cached_property
from http.client import HTTPException
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from dataraum_context.errors import ConfigError, SourceError
from dataraum_context.loaders.base import write_temporary
from dataraum_context.loaders.json import JSONLoader
from dataraum_context.loaders.sources import Secrets
from dataraum_context.models import StagedColumn, StagedTable, TypeSystemStrength
from dataraum_context.workspace import Workspace

_PAGINATION = ("link", "page", "cursor", "none")
_RATE_LIMITED = (429, 503)
_DEFAULTS: dict[str, Any] = {
    "pagination": "link", "page_param": "page", "page_start": 1, "cursor_param": "cursor",
    "cursor_path": "next_cursor", "max_pages": 1000, "max_retries": 3, "max_retry_wait": 60.0,
    "backoff": 1.0, "timeout": 30.0,
}


class APILoader(JSONLoader):
    name = "api"
    type_system = TypeSystemStrength.UNTYPED
    extensions = ()
    schemes = ("http", "https")
    option_names = JSONLoader.option_names + tuple(_DEFAULTS) + (
        "records", "page_size", "page_size_param", "params", "headers")
    always_restaged = True  # an API has no version to compare

    def __init__(self, source: str, table: str | None = None, options: dict | None = None,
                 credentials: dict | None = None):
        path = [p for p in urlsplit(source).path.split("/") if p]
        super().__init__(source, table=table or (path[-1] if path else urlsplit(source).hostname),
                         options=options, credentials=credentials)
        if self._option("pagination") not in _PAGINATION:
            raise ConfigError(f"{source}: pagination must be one of {', '.join(_PAGINATION)}")
        unknown = sorted(set(self.credentials) - {"headers", "params", "token"})
        if unknown:
            raise ConfigError(f"{source}: unknown credential {unknown[0]!r} (valid: headers, params, token)")

    def _option(self, key: str) -> Any:
        return self.options.get(key, _DEFAULTS[key])

    @cached_property
    def _readable(self) -> str:
        return self._download(None)

    def get_schema(self) -> list[StagedColumn]:
        """The columns of the first page's records."""
        self.__dict__["_readable"] = self._download(1)
        try:
            return super().get_schema()
        finally:
            self._discard()

    def load(self, workspace: Workspace) -> StagedTable:
        try:
            return super().load(workspace)
        finally:
            self._discard()

    def _discard(self) -> None:
        path = self.__dict__.pop("_readable", None)
        if path:
            os.unlink(path)

    def _download(self, pages: int | None) -> str:
        """Every page's records (or the first `pages`) as a temporary NDJSON file."""
        def fill(out: IO[bytes]) -> None:
            records = 0
            for page in self._pages(pages):
                for record in page:
                    out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                records += len(page)
            if not records:
                raise SourceError(f"{self.source}: the API returned no records")

        return write_temporary(".ndjson", fill)

    def _pages(self, limit: int | None) -> Iterator[list[dict]]:
        """The records page by page. Messages name the source and the page, never a URL the
        server gave (it may echo a key into its Link header), and are scrubbed of the
        credentials besides."""
        secrets = Secrets(self.credentials, self.source)
        try:
            yield from self._unscrubbed_pages(limit, secrets)
        except SourceError as exc:
            raise SourceError(secrets.scrub(str(exc)), transient=exc.transient) from None

    def _unscrubbed_pages(self, limit: int | None, secrets: Secrets) -> Iterator[list[dict]]:
        url = self._with_params(self.source, {**(self.options.get("params") or {}), **self._first_page()})
        max_pages = int(self._option("max_pages"))
        for number in range(max_pages):
            where = self.source if number == 0 else f"{self.source} (page {number + 1})"
            body, headers = self._get(url, secrets, where)
            records = self._records(body, where)
            yield records
            if limit is not None and number + 1 >= limit:
                return
            following = self._next(url, body, headers, records, number)
            if following is None:
                return
            url = following
        raise SourceError(f"{self.source}: still more pages after max_pages={max_pages}; "
                          "raise max_pages, or check the pagination settings")

    def _first_page(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self._option("pagination") == "page":
            params[self._option("page_param")] = self._option("page_start")
            if "page_size" in self.options:
                params[self.options.get("page_size_param", "per_page")] = self.options["page_size"]
        return params

    def _next(self, url: str, body: Any, headers: Any, records: list, number: int) -> str | None:
        kind = self._option("pagination")
        if kind == "link":
            target = _link_next(headers.get("Link", ""))
            return urljoin(url, target) if target else None
        if kind == "page":
            size = self.options.get("page_size")
            if not records or (size is not None and len(records) < int(size)):
                return None
            return self._with_params(url, {self._option("page_param"): int(self._option("page_start")) + number + 1})
        if kind == "cursor":
            cursor = _at(body, str(self._option("cursor_path")))
            return self._with_params(url, {self._option("cursor_param"): cursor}) if cursor else None
        return None

    @staticmethod
    def _with_params(url: str, params: dict[str, Any]) -> str:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update({k: str(v) for k, v in params.items()})
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

    def _records(self, body: Any, where: str) -> list[dict]:
        path = self.options.get("records")
        if path:
            records = _at(body, str(path))
        elif isinstance(body, list):
            records = body
        else:
            lists = [v for v in body.values() if isinstance(v, list)] if isinstance(body, dict) else []
            if len(lists) != 1:
                raise SourceError(f"{where}: cannot tell where the records are in the "
                                  "response; set the `records` option (the dotted path of the list)")
            records = lists[0]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SourceError(f"{where}: expected a list of objects at "
                              f"{path or 'the top of the response'}")
        return records

    def _get(self, url: str, secrets: Secrets, where: str) -> tuple[Any, Any]:
        """The JSON body and headers of one page, with retries; `where` names it in messages."""
        retries = int(self._option("max_retries"))
        attempt = 0
        while True:
            try:
                with urlopen(self._request(url, secrets), timeout=float(self._option("timeout"))) as response:
                    raw, headers = response.read(), response.headers
                break
            except HTTPError as exc:
                wait = self._wait(exc, attempt, where)
                if wait is None or attempt == retries:
                    tried = f" after {attempt + 1} attempts" if attempt else ""
                    raise SourceError(f"{where}: HTTP {exc.code} {exc.reason}{tried}",
                                      transient=wait is not None) from None
            except ValueError as exc:  # a next page at a URL urllib cannot request
                raise SourceError(f"{where}: cannot be requested: {exc}") from None
            except (URLError, OSError, HTTPException) as exc:
                if attempt == retries:
                    raise SourceError(f"{where}: cannot connect: {getattr(exc, 'reason', exc)}",
                                      transient=True) from None
                wait = float(self._option("backoff")) * 2 ** attempt
            time.sleep(wait)
            attempt += 1
        try:
            return json.loads(raw), headers
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"{where}: the response is not JSON: {exc}") from None

    def _wait(self, exc: HTTPError, attempt: int, where: str) -> float | None:
        """Seconds to wait before retrying, or None when the error is final."""
        if exc.code in _RATE_LIMITED:
            asked = _retry_after(exc.headers.get("Retry-After"))
            wait = float(self._option("backoff")) * 2 ** attempt if asked is None else asked
            limit = float(self._option("max_retry_wait"))
            if wait > limit:
                raise SourceError(f"{where}: HTTP {exc.code}: the API asks to wait "
                                  f"{wait:.0f}s, more than max_retry_wait={limit:g}", transient=True) from None
            return wait
        if exc.code >= 500:
            return float(self._option("backoff")) * 2 ** attempt
        return None

    def _request(self, url: str, secrets: Secrets) -> Request:
        creds = secrets.resolved
        own = _origin(url) == _origin(self.source)
        if own and creds.get("params"):
            url = self._with_params(url, creds["params"])
        request = Request(url, headers={"Accept": "application/json", "User-Agent": "dataraum-context",
                                        **(self.options.get("headers") or {})})
        if own:  # credentials go to the source's origin only, and not along a redirect
            secret_headers = dict(creds.get("headers") or {})
            if creds.get("token"):
                secret_headers["Authorization"] = f"Bearer {creds['token']}"
            for key, value in secret_headers.items():
                request.add_unredirected_header(key, value)
        return request


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _at(body: Any, path: str) -> Any:
    for key in path.split("."):
        body = body.get(key) if isinstance(body, dict) else None
    return body


def _link_next(header: str) -> str | None:
    """The `rel="next"` target of a Link header (RFC 8288)."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        rels = [p.strip() for p in params.split(";")]
        if any(r.replace(" ", "") in ('rel="next"', "rel=next") for r in rels):
            return target.strip().strip("<>")
    return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (it is either seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
