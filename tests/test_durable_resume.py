"""Crash and resume on the durable engines: a run killed (kill -9) in the middle of a per-table
step, with some of its tables finished and one half written, is run again: the finished steps
and tables come from the workspace's cache, the context equals an uninterrupted run's, and no
temporary file is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

import dataraum_context as dc

from support.durable import TESTS, comparable, engine_command, run_engine

pytestmark = pytest.mark.e2e

PIPELINE = ("name: held\nmodules: [staging, schema_profiling, type_resolution, statistics, context, "
            "flows.held_tables]\nfail_fast: false\n")


def _eight_tables(data_dir: Path) -> Path:
    for i in range(8):
        (data_dir / f"t{i}.csv").write_text("id,amount,day\n" + "".join(
            f"{n},{n * 1.5 + i},2024-01-{n % 28 + 1:02d}\n" for n in range(1, 30 + i)))
    return data_dir


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _gone(pid: int, timeout_s: float = 15) -> bool:
    """Whether process `pid` ended (a zombie waiting for init counts as ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def _wait_for(path: Path, process: subprocess.Popen, log: Path, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert process.poll() is None, f"the run ended before it was held:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the run was not held within {timeout_s}s"
        time.sleep(0.1)


@contextmanager
def _worker(address: str, task_queue: str) -> Iterator[None]:
    """`dataraum worker` serving `task_queue` of the cluster at `address` while the block runs."""
    worker = subprocess.Popen([sys.executable, "-m", "dataraum_context.cli", "worker", "--address", address,
                               "--task-queue", task_queue], cwd=TESTS, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=60)


@pytest.mark.parametrize("engine", ["prefect", "temporal", "temporal-cluster"])
def test_a_run_killed_in_the_middle_of_a_step_resumes(engine, request, data_dir, tmp_path):
    """On a cluster (`temporal-cluster`) the killed run's workflow goes on, its step held on the
    worker, until the next run on the workspace replaces it."""
    settings: dict = {}
    serving = nullcontext()
    if engine == "prefect":
        settings = {"prefect": {"api_url": request.getfixturevalue("prefect_api")}}
    elif engine == "temporal-cluster":
        address = request.getfixturevalue("temporal_address")
        settings = {"temporal": {"address": address, "task_queue": "resume-queue"}}
        serving = _worker(address, "resume-queue")
    pipeline = tmp_path / "held.yaml"
    pipeline.write_text(PIPELINE)
    sources = [str(_eight_tables(data_dir))]
    release = tmp_path / "release"
    config = {"hold_table": "t7", "release_file": str(release)}
    workspace = tmp_path / "ws"
    command = engine_command(str(pipeline), sources, workspace, engine.split("-")[0], engines=settings, **config)

    log = tmp_path / "killed.log"
    with serving, log.open("w") as out:
        killed = subprocess.Popen(command, cwd=TESTS, stdout=out, stderr=subprocess.STDOUT)
        _wait_for(release.with_name("release.started"), killed, log)
        servers = _children(killed.pid)  # temporal's dev server
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert list(workspace.rglob(".*.tmp")), "the held table's temporary file"
        assert all(_gone(pid) for pid in servers), "a server of the killed run outlived it"

        release.touch()
        result = run_engine(str(pipeline), sources, workspace, engine.split("-")[0], engines=settings, **config)
    steps = {s["name"]: s for s in result["record"]["steps"]}
    assert result["record"]["status"] == "succeeded"
    for name in ("staging", "schema_profiling", "type_resolution", "statistics_profiling"):
        assert steps[name]["status"] == "cached", name
    held = steps["held_profile"]
    if engine == "temporal-cluster":  # the killed run's step may have finished its last table meanwhile
        assert held["tables_cached"] >= 7 and held["tables_computed"] + held["tables_cached"] == 8
    else:
        assert (held["status"], held["tables_computed"], held["tables_cached"]) == ("succeeded", 1, 7)

    uninterrupted = dc.run(str(pipeline), sources=sources, workspace=str(tmp_path / "reference"), **config)
    assert comparable(result["context"], workspace) == comparable(uninterrupted.context, tmp_path / "reference")
    assert sorted(p.name for p in (workspace / "held").iterdir()) == [f"t{i}.txt" for i in range(8)]
    assert not list(workspace.rglob(".*.tmp"))
