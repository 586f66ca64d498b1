"""The CLI's promise, kept by real processes: a user error is one line on stderr and exit 2 (its
traceback only with -v), no credential is echoed, outputs are checked before the run and written
atomically, a full disk says so, and one run at a time writes a workspace."""

from __future__ import annotations

import gzip
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataraum_context.errors import WorkspaceBusy
from dataraum_context.workspace import Workspace, temp_path

from conftest import SHOP_ORDERS, cli, write
from support.servers import Reply

TESTS = Path(__file__).parent
SCRIPT = Path(sys.executable).with_name("dataraum")  # the installed command, as a user runs it


def command(*args: str) -> list[str]:
    exe = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "dataraum_context.cli"]
    return [*exe, *args]


def _env() -> dict[str, str]:
    """This environment, with `flows` importable (test pipelines name `flows.held`)."""
    env = {k: v for k, v in os.environ.items() if k != "DATARAUM_TEST_UNSET"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    return env


def dataraum(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *command(*args)], check=False, capture_output=True, text=True, timeout=180,
                          env=_env())


def _one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dataraum: error: "), stderr
    return lines[0]


# --- one line per user error ---------------------------------------------------------------


def _user_errors(d: Path) -> dict[str, tuple[list[str], str]]:
    """Case -> (arguments, what its one line names)."""
    shop = d / "shop"
    shop.mkdir()
    write(shop / "orders.csv", SHOP_ORDERS)
    (d / "empty").mkdir()
    write(d / "notes.xyz", "not data")
    write(d / "bad_sources.yaml", "sources:\n  - name: a\n")
    write(d / "env_sources.yaml", "sources:\n  - name: pg\n    source: postgresql://app@127.0.0.1:1/db\n"
                                  "    credentials:\n      password: ${DATARAUM_TEST_UNSET}\n")
    annotated = d / "annotated"
    annotated.mkdir()
    write(annotated / "annotations.yaml", "orders.amount:\n  role: bogus\n")
    write(d / "overrides.yaml", "name: p\nmodules: [staging, schema_profiling, type_resolution, statistics, "
                                "context]\nfail_fast: false\nconfig: {type_overrides: {invoices.total: DOUBLE}}\n")
    cases = {
        "missing file": (["run", str(d / "missing.csv")], "missing.csv"),
        "unknown --table": (["run", str(shop), "--table", "invoices"], "invoices"),
        "empty directory": (["run", str(d / "empty")], "no data files"),
        "unknown extension": (["run", str(d / "notes.xyz")], "notes.xyz"),
        "bad sources.yaml": (["run", str(d / "bad_sources.yaml")], "bad_sources.yaml"),
        "unset ${ENV} credential": (["run", str(d / "env_sources.yaml")], "DATARAUM_TEST_UNSET"),
        "closed port": (["run", "postgresql://app@127.0.0.1:1/db"], "127.0.0.1"),
        "bad type_overrides": (["run", str(shop), "--pipeline", str(d / "overrides.yaml")], "type_overrides"),
        "password in the URI": (["run", "postgresql://app:SECRET@127.0.0.1:1/db"], "password in the URI"),
        "skipping a critical step's input": (["run", str(shop), "--skip-step", "statistics_profiling"],
                                             "statistics_profiling -> semantic_enrichment"),
    }
    # each its own workspace: they run at once, and a workspace takes one run at a time
    cases = {name: ([*args, "--workspace", str(d / f"ws{i}")], expected)
             for i, (name, (args, expected)) in enumerate(cases.items())}
    cases["bad annotations.yaml"] = (["run", str(shop), "--workspace", str(annotated)], "annotations.yaml")
    return cases


@pytest.fixture(scope="module")
def user_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, subprocess.CompletedProcess[str]]]:
    """Every case run as its own `dataraum` process, all at once."""
    cases = _user_errors(tmp_path_factory.mktemp("user_errors"))
    running = {name: (expected, args, subprocess.Popen(command(*args), stdout=subprocess.PIPE,
                                                        stderr=subprocess.PIPE, text=True, env=_env()))
               for name, (args, expected) in cases.items()}
    done = {}
    for name, (expected, args, proc) in running.items():
        out, err = proc.communicate(timeout=180)
        done[name] = (expected, subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


@pytest.mark.e2e
@pytest.mark.parametrize("case", [
    "missing file", "unknown --table", "empty directory", "unknown extension", "bad sources.yaml",
    "unset ${ENV} credential", "closed port", "bad annotations.yaml", "bad type_overrides",
    "password in the URI", "skipping a critical step's input"])
def test_a_user_error_is_one_line_and_exit_2(user_errors, case: str):
    expected, result = user_errors[case]
    assert result.returncode == 2, result
    line = _one_error_line(result.stderr)  # no Hamilton error box, no traceback, no chat invitation
    assert expected in line
    assert "SECRET" not in result.stdout + result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_adds_the_traceback_but_never_a_secret(tmp_path: Path, where: str):
    args = ["run", "postgresql://app:SECRET@127.0.0.1:1/db", "--workspace", str(tmp_path / "ws")]
    result = dataraum(*(["-v", *args] if where == "before" else [*args, "--verbose"]))
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("dataraum: error: postgresql://app@127.0.0.1:1/db: ")
    assert "SECRET" not in result.stdout + result.stderr
    assert not any("SECRET" in p.read_text(errors="replace") for p in (tmp_path / "ws").rglob("*") if p.is_file())


def test_a_failing_node_in_the_library_still_raises_its_own_error(tmp_path: Path):
    import dataraum_context as dc

    with pytest.raises(dc.SourceError, match=r"missing\.csv: no such file"):
        dc.run("quick_profile", sources=[str(tmp_path / "missing.csv")], workspace=str(tmp_path / "ws"))


# --- outputs and workspaces ----------------------------------------------------------------


def test_out_is_checked_before_the_run(tmp_path: Path, shop: Path):
    ws = tmp_path / "ws"
    adir, missing = tmp_path / "adir.json", tmp_path / "nowhere" / "ctx.json"
    adir.mkdir()
    for out, message in [(adir, "is a directory"), (missing, f"no such directory {missing.parent}")]:
        result = cli("run", str(shop), "--workspace", str(ws), "--out", str(out))
        assert result.code == 2
        assert _one_error_line(result.err) == f"dataraum: error: --out {out}: {message}"
    assert not ws.exists()  # refused before any work
    dot_dir = tmp_path / "dag.dot"
    dot_dir.mkdir()
    result = cli("dag", "--out", str(dot_dir))
    assert result.code == 2 and _one_error_line(result.err) == f"dataraum: error: --out {dot_dir}: is a directory"


def _unprivileged() -> tuple[str, ...]:
    """A command prefix under which permission bits bind: root ignores them, but not root
    inside a new user namespace (nobody there)."""
    if os.geteuid() != 0:
        return ()
    if subprocess.run(["unshare", "--user", "true"], check=False, capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot unshare a user namespace")
    return ("unshare", "--user")


@pytest.mark.e2e
def test_out_into_a_read_only_directory_is_refused_before_the_run(tmp_path: Path, shop: Path):
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    ws = tmp_path / "ws"
    result = dataraum("run", str(shop), "--workspace", str(ws), "--out", str(readonly / "ctx.json"),
                      prefix=_unprivileged())
    assert result.returncode == 2
    assert _one_error_line(result.stderr) == (f"dataraum: error: --out {readonly / 'ctx.json'}: cannot write "
                                              f"in {readonly}: Permission denied")
    assert not ws.exists()


def test_a_workspace_that_is_a_file_is_one_line(tmp_path: Path, shop: Path):
    ws = write(tmp_path / "ws", "a file")
    result = cli("run", str(shop), "--workspace", str(ws))
    assert result.code == 2
    assert _one_error_line(result.err) == f"dataraum: error: workspace {ws}: not a directory"


@pytest.mark.e2e
def test_a_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path: Path, shop: Path):
    ws = tmp_path / "ws"
    assert cli("run", str(shop), "--workspace", str(ws), "--pipeline", "default").code == 0
    database = ws / "cache" / "metadata_store.db"
    database.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))  # a cut-off, scrambled copy
    result = cli("run", str(shop), "--workspace", str(ws), "--out", str(tmp_path / "ctx.json"))
    assert result.code == 0, result.err
    assert f"dataraum: warning: the cache database {database} is corrupt: moved aside" in result.err
    [aside] = (ws / "cache").glob("metadata_store.db.corrupt-*")
    assert aside.read_bytes().startswith(b"SQLite format 3")
    with sqlite3.connect(database) as con:  # the new one is sound and used
        assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert cli("run", str(shop), "--workspace", str(ws)).code == 0


def test_wrote_message_counts_tables_in_english(tmp_path: Path, data_dir: Path):
    write(data_dir / "orders.csv", SHOP_ORDERS)
    result = cli("run", str(data_dir), "--workspace", str(tmp_path / "ws"), "--out", str(tmp_path / "c.md"))
    assert f"wrote {tmp_path / 'c.md'} (1 table, " in result.err


# --- a full disk: a real one, a small tmpfs mounted in a namespace of our own ---------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """Runs a shell script in new user and mount namespaces with a 256 KiB tmpfs at `mnt`."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run(["unshare", "-r", "-m", "sh", "-c", f"mount -t tmpfs -o size=4k none {mnt}"],
                           check=False, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.decode().strip()}")

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["unshare", "-r", "-m", "sh", "-c",
                               f"mount -t tmpfs -o size=256k none {mnt} && {script}"],
                              check=False, capture_output=True, text=True, timeout=180, env=_env())

    return mnt, run


@pytest.mark.e2e
def test_a_full_disk_under_out_keeps_the_old_file_and_says_so(tmp_path: Path, shop: Path, small_disk):
    mnt, run = small_disk
    out = mnt / "ctx.json"
    result = run(f"printf old > {out}; cat /dev/zero > {mnt}/filler 2>/dev/null; "
                 f"{shlex.join(command('run', str(shop), '--workspace', str(tmp_path / 'ws'), '--out', str(out)))}; "
                 f"echo exit=$?; cat {out}; echo; ls -a {mnt}")
    assert _one_error_line(result.stderr) == f"dataraum: error: disk full: {out}"
    assert "exit=2\nold\n" in result.stdout  # the previous output is intact, not truncated
    assert ".tmp" not in result.stdout  # and no temporary file is left


@pytest.mark.e2e
def test_a_full_workspace_disk_is_reported_as_such(tmp_path: Path, small_disk):
    mnt, run = small_disk
    big = tmp_path / "big.csv"
    big.write_text("id,blob\n" + "".join(f"{i},{os.urandom(24).hex()}\n" for i in range(40_000)))
    ws = mnt / "ws"
    result = run(f"{shlex.join(command('run', str(big), '--workspace', str(ws)))}; echo exit=$?; "
                 f"find {ws} -name '*.tmp'")
    # the first file written: the sample of the CSV, which is read in place
    assert _one_error_line(result.stderr) == f"dataraum: error: disk full: {ws}/staged/big.sample.parquet"
    assert result.stdout.strip().endswith("exit=2")  # and no temporary file is left


@pytest.mark.e2e
def test_a_workspace_on_a_disk_already_full_is_one_line(shop: Path, small_disk):
    mnt, run = small_disk
    ws = mnt / "ws"
    result = run(f"cat /dev/zero > {mnt}/filler 2>/dev/null; "
                 f"{shlex.join(command('run', str(shop), '--workspace', str(ws)))}")
    assert result.returncode == 2
    assert _one_error_line(result.stderr) == f"dataraum: error: disk full: {ws}/.lock"



@pytest.mark.e2e
def test_a_full_tmpdir_says_so_and_keeps_no_partial_copy(tmp_path: Path, small_disk):
    """A cp1252 CSV (here gzip-compressed) is read through a UTF-8 copy in TMPDIR."""
    mnt, run = small_disk
    rows = "".join(f"{i};5 € – “quoted” {i}\n" for i in range(50_000))  # 1.4 MB decompressed
    source = write(tmp_path / "w.csv.gz", gzip.compress(("id;label\n" + rows).encode("cp1252")))
    result = run(f"TMPDIR={mnt} {shlex.join(command('run', str(source), '--workspace', str(tmp_path / 'ws')))}; "
                 f"echo exit=$?; ls -a {mnt}")
    line = _one_error_line(result.stderr)
    assert line.startswith(f"dataraum: error: disk full: {mnt}/dataraum-") and line.endswith(".csv (in TMPDIR)")
    assert result.stdout.split() == ["exit=2", ".", ".."]  # the partial copy is gone


@pytest.mark.e2e
def test_an_api_download_into_a_full_tmpdir_says_so_and_is_removed(tmp_path: Path, small_disk, http_app):
    mnt, run = small_disk
    app = http_app(lambda req: Reply(body=[{"id": i, "text": "x" * 100} for i in range(5_000)]))  # 600 KB
    result = run(f"TMPDIR={mnt} {shlex.join(command('run', f'{app.url}/items', '--workspace', str(tmp_path / 'ws')))}; "
                 f"echo exit=$?; ls -a {mnt}")
    line = _one_error_line(result.stderr)
    assert line.startswith(f"dataraum: error: disk full: {mnt}/dataraum-") and line.endswith(".ndjson (in TMPDIR)")
    assert result.stdout.split() == ["exit=2", ".", ".."]

# --- one run at a time per workspace -------------------------------------------------------


def _held_run(tmp_path: Path, shop: Path, ws: Path) -> tuple[subprocess.Popen[str], Path]:
    """A `dataraum run` that holds its workspace until `release` exists."""
    release = tmp_path / "release"
    pipeline = write(tmp_path / "held.yaml", "name: held\nmodules: [staging, schema_profiling, type_resolution, "
                     f"context, flows.held]\nconfig: {{release_file: '{release}'}}\n")
    proc = subprocess.Popen(command("run", str(shop), "--pipeline", str(pipeline), "--workspace", str(ws)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    started = tmp_path / "release.started"
    deadline = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, release


@pytest.mark.e2e
def test_a_second_run_fails_at_once_naming_the_first_and_readers_go_on(tmp_path: Path, shop: Path):
    ws = tmp_path / "ws"
    first, release = _held_run(tmp_path, shop, ws)
    try:
        t0 = time.monotonic()
        second = dataraum("run", str(shop), "--workspace", str(ws), "--pipeline", "quick_profile")
        assert time.monotonic() - t0 < 30  # at once, not after the first
        assert second.returncode == 2
        line = _one_error_line(second.stderr)
        assert f"workspace {ws} is being written by pid {first.pid} on {os.uname().nodename} since " in line
        assert f"(dataraum run {shop} --pipeline " in line
        # a reader does not wait for the writer
        assert Workspace(ws).sql("SELECT count(*) AS n FROM orders").pl()["n"][0] == 4
    finally:
        release.touch()
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert dataraum("run", str(shop), "--workspace", str(ws), "--pipeline", "quick_profile").returncode == 0


@pytest.mark.e2e
def test_a_killed_run_frees_the_workspace_and_its_temporary_files_are_removed(tmp_path: Path, shop: Path):
    ws = tmp_path / "ws"
    first, _release = _held_run(tmp_path, shop, ws)
    target = ws / "staged" / "orders.parquet"
    ours = temp_path(target)  # a write of a process still running (this one)
    killed = ours.with_name(ours.name.replace(f"-{os.getpid()}-", f"-{first.pid}-"))
    old_style, old_style_fresh = (target.with_name(f".orders.parquet.{c * 32}.tmp") for c in "ab")
    for path in (ours, killed, old_style, old_style_fresh):
        path.write_bytes(b"PAR1 half a table")
    os.utime(old_style, (time.time() - 3600, time.time() - 3600))  # untouched for an hour
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    result = dataraum("run", str(shop), "--workspace", str(ws), "--pipeline", "quick_profile")
    assert result.returncode == 0, result.stderr
    assert not killed.exists() and not old_style.exists()
    assert ours.exists() and old_style_fresh.exists()  # a live or recent writer keeps its file


def test_the_lock_says_who_holds_it_without_credentials(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/bin/dataraum", "run", "postgresql://app:SECRET@db:5432/shop?token=T0K"])
    ws = Workspace(tmp_path / "ws")
    with ws.lock():
        held = (ws.root / ".lock").read_text()
        assert held.startswith(f"pid {os.getpid()} on ")
        assert held.endswith("(dataraum run postgresql://db:5432/shop)")
        # flock is per open file: a second holder in this very process is refused too
        with pytest.raises(WorkspaceBusy, match="is being written by pid"), Workspace(tmp_path / "ws").lock():
            pass
    with ws.lock():  # released
        pass
