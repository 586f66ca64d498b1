"""Crash and resume on every engine of this package: the run's process (and the workers it
started) is killed with SIGKILL in the middle of a per-table step, after other tables of that
step finished; the rerun serves those from the cache, computes the rest, leaves no temporary
file, and gives the context of a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dataraum_context as dc
from dataraum_context.workspace import _HOST

TESTS = Path(__file__).parent
PIPELINE = ("name: counted\n"
            "modules: [staging, schema_profiling, type_resolution, statistics, flows.slow_tables, context]\n")
VICTIM = """
import sys
import dataraum_context as dc
from dataraum_context.workspace import _HOST
dc.run(sys.argv[1], sources=[sys.argv[2]], workspace=sys.argv[3], engine=sys.argv[4],
       engines={name: {"workers": 2} for name in ("threads", "processes", "dask", "ray")})
"""


def _tables(data_dir: Path) -> Path:
    for i in range(3):
        (data_dir / f"t{i}.csv").write_text("id,amount\n" + "".join(f"{n},{n * 2.5}\n" for n in range(1, 30 + i)))
    return data_dir


def _killed_in_the_middle(pipeline: Path, data: Path, workspace: Path, engine: str) -> None:
    """Run in a session of its own until the slow table's task has started, then SIGKILL the
    whole session: the run and every worker process it started."""
    env = {**os.environ, "DATARAUM_TEST_SLOW_TABLE": "t2",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    victim = subprocess.Popen([sys.executable, "-c", VICTIM, str(pipeline), str(data), str(workspace), engine],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = workspace / "slow" / "started-t2"
    deadline = time.monotonic() + 240
    try:
        while not started.exists():
            assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the slow table never started"
            time.sleep(0.1)
        time.sleep(1)  # the other tables' results reach the cache
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL
    [leftover] = workspace.rglob(".*.tmp")  # the write in progress
    # Ray's workers run in a session of Ray's, and end a few seconds after the run that started them
    writer = int(leftover.name.split(f"{_HOST}-")[1].split("-")[0])
    while _running(writer):
        assert time.monotonic() < deadline + 60, f"worker {writer} outlived the killed run"
        time.sleep(0.2)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.e2e
@pytest.mark.parametrize("engine", ["local", "threads", "processes", "dask", "ray"])
def test_a_killed_run_resumes_from_the_finished_tables(engine, tmp_path, data_dir, monkeypatch):
    pipeline = tmp_path / "counted.yaml"
    pipeline.write_text(PIPELINE)
    data = _tables(data_dir)
    workspace = tmp_path / "ws"
    _killed_in_the_middle(pipeline, data, workspace, engine)

    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # for the workers of dask and ray
    resumed = dc.run(str(pipeline), sources=[str(data)], workspace=str(workspace), engine=engine,
                     engines={"dask": {"workers": 2}, "ray": {"workers": 2}})
    steps = {s.name: s for s in resumed.steps}
    assert resumed.succeeded
    assert steps["statistics_profiling"].status == "cached"
    counted = steps["row_counts"]
    assert counted.tables_cached >= 1 and counted.tables_computed >= 1
    assert counted.tables_cached + counted.tables_computed == 3
    assert resumed.results["row_counts"] == {"t0": 29, "t1": 30, "t2": 31}
    assert not list(workspace.rglob(".*.tmp"))

    whole = dc.run(str(pipeline), sources=[str(data)], workspace=str(tmp_path / "uninterrupted"))
    assert resumed.context.model_dump(exclude={"generated_at"}) == whole.context.model_dump(exclude={"generated_at"})


def test_the_temporary_file_of_a_process_that_ended_unreaped_is_removed(tmp_path):
    """A killed run's workers may wait to be reaped (a zombie) when the rerun looks for stale
    temporary files: they count as ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while _running(child.pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ws = dc.Workspace(tmp_path / "ws")
    ws.create()
    leftover = ws.root / f".t.parquet.{_HOST}-{child.pid}-{'a' * 32}.tmp"
    leftover.write_bytes(b"half")
    try:
        assert ws.remove_stale_temp_files() == [leftover]
    finally:
        child.wait()


def test_the_spill_directory_of_a_killed_run_is_removed_and_a_running_ones_kept(tmp_path):
    """Statistics spill into `<workspace>/tmp/.statistics.<host>-<pid>-<hex>.tmp/`: what a killed
    process left there goes with the next run; a live process's files stay, however idle."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    ws = dc.Workspace(tmp_path / "ws")
    dead, alive = (ws.root / "tmp" / f".statistics.{_HOST}-{pid}-{'b' * 32}.tmp" for pid in (child.pid, os.getpid()))
    for spill in (dead, alive):
        spill.mkdir(parents=True)
        (spill / "duckdb_temp_storage_S32K-0.tmp").write_bytes(b"spilled")
        os.utime(spill, (0, 0))  # idle for decades: only its owner's end counts
    assert ws.remove_stale_temp_files() == [dead]
    assert not dead.exists() and (alive / "duckdb_temp_storage_S32K-0.tmp").exists()
