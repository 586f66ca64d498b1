"""What starting costs: the wall time of short commands, each a whole process.

    python benchmarks/startup.py                 # 7 rounds
    python benchmarks/startup.py --repeat 11 --workdir /tmp/startup

Each round runs every command once, one after the other (paired: a busy minute slows them all),
and the table gives each command's median: `python -c pass` (the interpreter alone, the
reference), `import dataraum_context`, `dataraum --help`, `dataraum steps` and `dataraum run` of
`quick_profile` on a CSV of two rows, with a new workspace every time (nothing from the cache).
For that run, the workspace's run record says how long its steps took; the rest of the process
is starting, building the driver and writing the context.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CLI = "import sys; from dataraum_context.cli import main; sys.exit(main())"  # as the `dataraum` script
COMMANDS = {
    "`python -c pass`": ["-c", "pass"],
    "`import dataraum_context`": ["-c", "import dataraum_context"],
    "`dataraum --help`": ["-c", _CLI, "--help"],
    "`dataraum steps`": ["-c", _CLI, "steps"],
}
QUICK_PROFILE = "`dataraum run` (quick_profile, 2 rows)"


def _timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode})")
    return seconds


def _quick_profile(csv: Path, workspace: Path) -> tuple[float, float]:
    """The whole process's wall time and its steps' time (from the run record)."""
    from dataraum_context.workspace import Workspace

    seconds = _timed(["-c", _CLI, "run", str(csv), "--pipeline", "quick_profile", "--workspace", str(workspace)])
    (run,) = Workspace(workspace).runs(1)
    return seconds, sum(step.duration_s for step in run.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default: 7); medians are reported")
    parser.add_argument("--workdir", type=Path, help="where the CSV and workspaces go (default: a temporary dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        csv = workdir / "tiny.csv"
        csv.write_text("id,amount,day\n1,9.50,2024-01-02\n2,12.00,2024-01-03\n")
        times: dict[str, list[float]] = {name: [] for name in [*COMMANDS, QUICK_PROFILE]}
        steps: list[float] = []
        for i in range(args.repeat):
            for name, command in COMMANDS.items():
                times[name].append(_timed(command))
            seconds, in_steps = _quick_profile(csv, workdir / f"workspace_{i}_{time.time_ns()}")
            times[QUICK_PROFILE].append(seconds)
            steps.append(in_steps)
    reference = statistics.median(times["`python -c pass`"])
    print(f"{platform.machine()}, Python {platform.python_version()}, median of {args.repeat} rounds\n")
    print("| command | wall (s) | minus `python -c pass` (s) |\n|---|---:|---:|")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"| {name} | {median:.3f} | {median - reference:.3f} |")
    run_s, steps_s = statistics.median(times[QUICK_PROFILE]), statistics.median(steps)
    print(f"\nquick_profile: {run_s:.3f} s whole, {steps_s:.3f} s in its steps, "
          f"{run_s - steps_s:.3f} s outside them ({run_s - steps_s - reference:.3f} s without the interpreter)")


if __name__ == "__main__":
    main()
