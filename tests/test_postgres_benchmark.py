"""The PostgreSQL staging benchmark runs end to end on a small table (timings not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.servers import pg_bindir

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "postgres_staging.py"


def test_postgres_benchmark_prints_a_row_per_batch_size():
    if pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql; .ci/run does)")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--rows", "3000", "--batch-rows", "500", "5000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3,000 rows, table" in proc.stdout
    assert len(re.findall(r"^\s+[0-9,]+\s+\d+\.\d+\s+[0-9,]+\s+\d+\s+\d+$", proc.stdout, re.M)) == 2, proc.stdout
