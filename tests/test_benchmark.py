"""The benchmark script runs end to end on a small file (its timings are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # the benchmark scripts, run small

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_vs_summarize.py"


@pytest.mark.parametrize(("fmt", "text"), [("csv", []), ("parquet", []), ("csv", ["--text-bytes", "1000"])])
def test_benchmark_script_prints_a_ratio(tmp_path: Path, fmt: str, text: list[str]):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "2000", "--format", fmt, "--workdir", str(tmp_path), *text],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert re.search(r"ratio \(quick_profile / SUMMARIZE\): time \d+\.\d+x, peak memory \d+\.\d+x", out), out
    assert re.search(r"^\| ratio \| \d+\.\d+x \| \d+\.\d+x \|", out, re.M), out
    assert "| `statistics_profiling` |" in out
    assert (tmp_path / f"bench_2000{'_text1000' if text else ''}.{fmt}").is_file()
    assert ("14 columns" if text else "13 columns") in out
    assert list(tmp_path.glob("workspace_0_*/tables/*.parquet")), "quick_profile wrote no typed table"


def test_wide_tables_benchmark_prints_its_table(tmp_path: Path):
    script = SCRIPT.with_name("wide_tables.py")
    proc = subprocess.run([sys.executable, str(script), "--columns", "40", "--rows", "30", "--pipelines",
                           "quick_profile", "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = r"^\| 40 \| [\d.]+ \| [\d.]+ \| \d+ \| [\d.]+ \([\d.]+x\) \| \d+ \([\d.]+x\) \|$"  # time and memory ratios
    assert re.search(row, proc.stdout, re.M), proc.stdout
    assert re.search(r"^\| `statistics_profiling` \| [\d.]+ \|$", proc.stdout, re.M), proc.stdout


def test_relationships_benchmark_prints_cases_and_calibration():
    script = SCRIPT.with_name("relationships.py")
    proc = subprocess.run([sys.executable, str(script), "--no-accuracy", "--no-timing", "--stars", "", "--traps", "1",
                           "--calibration-seeds", ""], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = r"^\| traps 1 \(traps-id\) \| 12 \| 14 \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d+ \|$"
    assert re.search(row, proc.stdout, re.M), proc.stdout
    assert re.search(r"^\| \[0\.90, 0\.95\) \| \d+ \| \d+ \| [\d.]+ \|$", proc.stdout, re.M), proc.stdout


def test_star_schema_benchmark_prints_its_steps(tmp_path: Path):
    script = SCRIPT.with_name("star_schema.py")
    proc = subprocess.run([sys.executable, str(script), "--scale", "0.01", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "generated 24 tables (4,280 fact rows" in proc.stdout, proc.stdout
    step = r"^\| `cross_table_multicollinearity` \| [\d.]+ \| [\d.]+ \| \d+% \|$"  # wall, CPU, share
    assert re.search(step, proc.stdout, re.M), proc.stdout
    whole = r"^\| \*\*whole run\*\* \| \*\*[\d.]+\*\* \| \*\*[\d.]+\*\* \| \|$"
    assert re.search(whole, proc.stdout, re.M), proc.stdout


def test_engines_benchmark_prints_a_row_per_engine():
    script = SCRIPT.with_name("engines.py")
    proc = subprocess.run([sys.executable, str(script), "--tables", "2", "--rows", "200", "--engines", "local",
                           "threads"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for engine in ("local", "threads"):
        assert re.search(rf"^\| {engine} \| [\d.]+ s \| [\d.]+ s \| \d+ MiB \| - \|$", proc.stdout, re.M), proc.stdout


def test_startup_benchmark_prints_each_command(tmp_path: Path):
    script = SCRIPT.with_name("startup.py")
    proc = subprocess.run([sys.executable, str(script), "--repeat", "1", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for command in ("`python -c pass`", "`import dataraum_context`", "`dataraum --help`",
                    r"`dataraum steps`, cold \(nothing cached\)", r"`dataraum steps`, warm \(listing cached\)",
                    r"`dataraum run` \(quick_profile, 2 rows\)"):
        assert re.search(rf"^\| {command} \| \d+\.\d+ \| -?\d+\.\d+ \|$", proc.stdout, re.M), proc.stdout
    assert "caches no listing" not in proc.stdout  # warm is warm
    assert re.search(r"^quick_profile: [\d.]+ s whole, [\d.]+ s in its steps", proc.stdout, re.M), proc.stdout
    assert list(tmp_path.glob("workspace_0_0_*/runs/*.json")), "the run left no record"
