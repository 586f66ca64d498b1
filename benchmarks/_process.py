"""One measurement in a process of its own, so that its peak memory is its own: the script runs
itself with the measurement's arguments and prints its result as one `RESULT <json>` line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_PREFIX = "RESULT "


def report(result: dict) -> None:
    """Print a measurement's result for `measure_in_process` to read."""
    print(_PREFIX + json.dumps(result), flush=True)


def measure_in_process(script: str, args: list[str], what: str) -> dict:
    """Run `script` with `args` in a fresh interpreter and return the result it reported; on a
    failure, its output goes to stderr and the benchmark stops naming `what` failed."""
    proc = subprocess.run([sys.executable, str(Path(script).resolve()), *args], capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_PREFIX)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{what} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len(_PREFIX):])
