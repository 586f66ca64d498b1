"""Wide tables: `quick_profile` and `default` on CSVs of thousands of columns, beside DuckDB's
`SUMMARIZE` of the same file.

    python benchmarks/wide_tables.py                                 # 1,000 / 5,000 / 10,000 columns
    python benchmarks/wide_tables.py --columns 1000 --rows 500 --pipelines quick_profile

Generates one CSV per width with DuckDB SQL (`--rows` rows; integers, two-decimal numbers,
dates, low-cardinality codes and text with a null token, in turn, random with a fixed seed), then
runs each measurement as a whole process, as a user would: `python -c "...SUMMARIZE..."` and
`dataraum run <file> --pipeline <name>` with a new workspace (no cache). Wall time and peak
resident memory (`wait4`'s `ru_maxrss`) are the process's own, start-up included; the step
times come from the run record in the workspace.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = [
    "floor(random() * 1000)::BIGINT",
    "round(random() * 500, 2)",
    "DATE '2020-01-01' + floor(random() * 1500)::INTEGER",
    "['north', 'south', 'east', 'west'][1 + floor(random() * 4)::INTEGER]",
    "CASE WHEN random() < 0.1 THEN 'N/A' ELSE 'item ' || floor(random() * 200)::INTEGER END",
]


def generate_csv(path: Path, columns: int, rows: int) -> Path:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")  # with one thread, setseed makes the file the same every time
    con.execute("SELECT setseed(0.42)")
    select = ", ".join(f"{KINDS[k % len(KINDS)]} AS c{k}" for k in range(columns))
    target = str(path).replace("'", "''")
    con.execute(f"COPY (SELECT {select} FROM range({int(rows)}) t(i)) TO '{target}' (HEADER)")
    con.close()
    return path


def run_process(cmd: list[str]) -> dict:
    """Wall time and peak RSS of one process; it must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed (exit {code}): {stderr[-2000:]}")
    rss = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mib": rss}


def summarize(file: Path) -> dict:
    code = ("import duckdb, sys; con = duckdb.connect(); con.execute('SET enable_progress_bar_print = false'); "
            "con.execute('SUMMARIZE SELECT * FROM read_csv(?)', [sys.argv[1]]).fetchall()")
    return run_process([sys.executable, "-c", code, str(file)])


def pipeline(file: Path, name: str, workspace: Path) -> dict:
    result = run_process([sys.executable, "-m", "dataraum_context.cli", "run", str(file), "--pipeline", name,
                          "--workspace", str(workspace), "--out", str(workspace.with_suffix(".json"))])
    (record,) = (workspace / "runs").glob("*.json")
    result["steps"] = {s["name"]: s["duration_s"] for s in json.loads(record.read_text())["steps"]}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[1_000, 5_000, 10_000])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--pipelines", nargs="+", default=["quick_profile", "default"])
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the CSVs and workspaces go (default: a new temporary directory)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dataraum-wide-"))
    workdir.mkdir(parents=True, exist_ok=True)
    import duckdb

    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, {os.cpu_count()} cores, "
          f"{platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    rows = []
    for columns in args.columns:
        file = generate_csv(workdir / f"wide_{columns}x{args.rows}.csv", columns, args.rows)
        size = file.stat().st_size / 1024 / 1024
        base = summarize(file)
        print(f"{columns:,} columns x {args.rows:,} rows ({size:.1f} MiB): SUMMARIZE {base['seconds']:.1f} s, "
              f"{base['peak_rss_mib']:.0f} MiB", flush=True)
        measured = {}
        for name in args.pipelines:
            m = measured[name] = pipeline(file, name, workdir / f"ws_{name}_{columns}_{time.time_ns()}")
            slowest = sorted(m["steps"].items(), key=lambda s: -s[1])[:4]
            print(f"  {name}: {m['seconds']:.1f} s ({m['seconds'] / base['seconds']:.1f}x), "
                  f"{m['peak_rss_mib']:.0f} MiB ({m['peak_rss_mib'] / base['peak_rss_mib']:.1f}x); slowest steps: "
                  + ", ".join(f"{s} {t:.1f} s" for s, t in slowest), flush=True)
        rows.append((columns, size, base, measured))

    print()
    header = " | ".join(f"`{name}` s (x) | MiB (x)" for name in args.pipelines)
    print(f"| columns x {args.rows:,} rows | CSV MiB | `SUMMARIZE` s | MiB | {header} |")
    print("|---:" * (4 + 2 * len(args.pipelines)) + "|")
    for columns, size, base, measured in rows:
        cells = " | ".join(f"{m['seconds']:.1f} ({m['seconds'] / base['seconds']:.1f}x) | "
                           f"{m['peak_rss_mib']:.0f} ({m['peak_rss_mib'] / base['peak_rss_mib']:.1f}x)"
                           for m in measured.values())
        print(f"| {columns:,} | {size:.1f} | {base['seconds']:.1f} | {base['peak_rss_mib']:.0f} | {cells} |")
    print()
    names = list(dict.fromkeys(s for _, _, _, measured in rows for m in measured.values() for s in m["steps"]))
    print("| step (s) | " + " | ".join(f"{name} {c:,}" for c, _, _, measured in rows for name in measured) + " |")
    print("|---|" + "---:|" * sum(len(measured) for *_, measured in rows))
    for step in names:
        times = [m["steps"].get(step) for *_, measured in rows for m in measured.values()]
        print(f"| `{step}` | " + " | ".join("" if t is None else f"{t:.1f}" for t in times) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
