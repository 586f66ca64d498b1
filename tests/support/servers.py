"""Real servers for the loader tests: a private PostgreSQL with password authentication, and a
local HTTP server whose answers each test scripts."""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir() -> Path | None:
    """The newest PostgreSQL server's bin directory (Debian keeps them off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def uri(self, database: str = "postgres", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                             dbname=database, autocommit=True) as con:
            con.execute(sql)


@contextmanager
def running_postgres() -> Iterator[PostgresServer | None]:
    """A private PostgreSQL server with scram-sha-256 password authentication (so a wrong
    password is really refused), stopped and removed afterwards; None when no PostgreSQL server
    is installed."""
    bindir = pg_bindir()
    if bindir is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="dataraum-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(18)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if run_as:
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    data = root / "data"

    def pg(*args: str) -> None:
        subprocess.run([*run_as, *args], check=True, capture_output=True)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", "dataraum", "--auth=scram-sha-256",
           f"--pwfile={pwfile}", "--no-sync")
        pwfile.unlink()
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
           f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start")
        try:
            yield PostgresServer("127.0.0.1", port, "dataraum", password)
        finally:
            pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server. Skipped only when no PostgreSQL server is installed
    (.ci/run installs Debian's `postgresql`)."""
    with running_postgres() as server:
        if server is None:
            pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql; .ci/run does)")
        yield server


# --- HTTP ----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of `body` as JSON


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""  # what a POST sent


class HTTPApp:
    """A local HTTP server answering with `handler(request) -> Reply`; it records requests."""

    def __init__(self, handler: Callable[[Seen], Reply]):
        self.handler = handler
        self.requests: list[Seen] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def _answer(self, body: bytes) -> None:
                parts = urlsplit(self.path)
                seen = Seen(parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                            dict(self.headers.items()), body)
                app.requests.append(seen)
                reply = app.handler(seen)
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_app() -> Iterator[Callable[[Callable[[Seen], Reply]], HTTPApp]]:
    apps: list[HTTPApp] = []

    def start(handler: Callable[[Seen], Reply]) -> HTTPApp:
        apps.append(HTTPApp(handler))
        return apps[-1]

    yield start
    for app in apps:
        app.close()
