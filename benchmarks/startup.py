"""What starting costs: the wall time of short commands, each a whole process.

    python benchmarks/startup.py                 # 7 rounds
    python benchmarks/startup.py --repeat 11 --python /path/to/other/checkout/.venv/bin/python

Each round runs every command once, one after the other (paired: a busy minute slows them all),
and the table gives each command's median: `python -c pass` (the interpreter alone, the
reference), `import dataraum_context`, `dataraum --help`, `dataraum steps` cold (an empty cache
directory every time: it builds the pipeline's driver, and stores the listing) and warm (the
listing cached before the first round: it prints it), and `dataraum run` of `quick_profile` on a
CSV of two rows, with a new workspace every time (nothing from the cache). For that run, the
workspace's run record says how long its steps took; the rest of the process is starting,
importing, building the driver and writing the context. With `--python` (repeatable) the
commands run under each of those interpreters in turn, round by round (another checkout's
virtual environment: before and after a change), and each gets its table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dataraum_context.listing_cache import CACHE_ENV

_CLI = "import sys; from dataraum_context.cli import main; sys.exit(main())"  # as the `dataraum` script
STEPS = ["-c", _CLI, "steps"]
STEPS_COLD, STEPS_WARM = "`dataraum steps`, cold (nothing cached)", "`dataraum steps`, warm (listing cached)"
COMMANDS = {
    "`python -c pass`": ["-c", "pass"],
    "`import dataraum_context`": ["-c", "import dataraum_context"],
    "`dataraum --help`": ["-c", _CLI, "--help"],
    STEPS_COLD: STEPS,
    STEPS_WARM: STEPS,
}
QUICK_PROFILE = "`dataraum run` (quick_profile, 2 rows)"


def _timed(python: str, args: list[str], cache: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([python, *args], capture_output=True, text=True, env={**os.environ, CACHE_ENV: str(cache)})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{python} {' '.join(args)} failed (exit {proc.returncode})")
    return seconds


def _warmed(python: str, cache: Path) -> bool:
    """`dataraum steps` run until its listing is cached (not stored while a file it was built from
    changed in the last two seconds); False when this checkout keeps none (one from before)."""
    for _ in range(2):
        _timed(python, STEPS, cache)
        if any(cache.glob("steps-*.json")):
            return True
        time.sleep(2.5)
    return False


def _quick_profile(python: str, csv: Path, workspace: Path, cache: Path) -> tuple[float, float]:
    """The whole process's wall time and its steps' time (from the run record)."""
    from dataraum_context.workspace import Workspace

    seconds = _timed(python, ["-c", _CLI, "run", str(csv), "--pipeline", "quick_profile",
                              "--workspace", str(workspace)], cache)
    (run,) = Workspace(workspace).runs(1)
    return seconds, sum(step.duration_s for step in run.steps)


def _table(times: dict[str, list[float]], steps: list[float]) -> str:
    reference = statistics.median(times["`python -c pass`"])
    lines = ["| command | wall (s) | minus `python -c pass` (s) |", "|---|---:|---:|"]
    lines += [f"| {name} | {statistics.median(s):.3f} | {statistics.median(s) - reference:.3f} |"
              for name, s in times.items()]
    run_s, steps_s = statistics.median(times[QUICK_PROFILE]), statistics.median(steps)
    lines += ["", f"quick_profile: {run_s:.3f} s whole, {steps_s:.3f} s in its steps, {run_s - steps_s:.3f} s "
                  f"outside them ({run_s - steps_s - reference:.3f} s without the interpreter)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default: 7); medians are reported")
    parser.add_argument("--python", action="append", metavar="PATH",
                        help="an interpreter to measure (repeatable; default: this one)")
    parser.add_argument("--workdir", type=Path, help="where the CSV and workspaces go (default: a temporary dir)")
    args = parser.parse_args()
    pythons = args.python or [sys.executable]
    times = {p: {name: [] for name in [*COMMANDS, QUICK_PROFILE]} for p in pythons}
    steps: dict[str, list[float]] = {p: [] for p in pythons}
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        csv = workdir / "tiny.csv"
        csv.write_text("id,amount,day\n1,9.50,2024-01-02\n2,12.00,2024-01-03\n")
        warm = {python: workdir / f"cache_{n}_{time.time_ns()}" for n, python in enumerate(pythons)}
        cached = {python: _warmed(python, warm[python]) for python in pythons}
        for i in range(args.repeat):
            for name, command in COMMANDS.items():
                for n, python in enumerate(pythons):
                    cold = workdir / f"cache_{i}_{n}_{time.time_ns()}"
                    times[python][name].append(_timed(python, command, cold if name == STEPS_COLD else warm[python]))
            for n, python in enumerate(pythons):
                seconds, in_steps = _quick_profile(python, csv, workdir / f"workspace_{i}_{n}_{time.time_ns()}",
                                                   warm[python])
                times[python][QUICK_PROFILE].append(seconds)
                steps[python].append(in_steps)
    print(f"{platform.machine()}, Python {platform.python_version()}, median of {args.repeat} rounds")
    for python in pythons:
        print(f"\n{python}:\n" if len(pythons) > 1 else "", _table(times[python], steps[python]), sep="\n")
        if not cached[python]:
            print("(this checkout caches no listing of `dataraum steps`: warm is cold)")


if __name__ == "__main__":
    main()
