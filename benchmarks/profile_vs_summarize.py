"""How much slower (and bigger) is `quick_profile` than DuckDB's own `SUMMARIZE`?

    python benchmarks/profile_vs_summarize.py                  # 1,000,000 rows
    python benchmarks/profile_vs_summarize.py --rows 200000 --repeat 3
    python benchmarks/profile_vs_summarize.py --format parquet   # the same rows, typed, in Parquet
    python benchmarks/profile_vs_summarize.py --rows 200000 --text-bytes 1000   # and a text of 1 KB a row

Generates a CSV (or a Parquet file) of `--rows` rows and 13 mixed columns with DuckDB SQL (ids,
integers, decimals, a thousands-separated and a decimal-comma column, dates, timestamps,
booleans, low-cardinality and free text, a few nulls; with `--text-bytes`, a 14th column `body`
of a distinct text of about that many bytes a row), then measures, each in its own subprocess so
that the peak resident memory (`ru_maxrss`) is that measurement's alone:

  (a) DuckDB `SUMMARIZE SELECT * FROM read_csv('<file>')` (`read_parquet`)
  (b) `dataraum_context.run("quick_profile", sources=[file], workspace=<fresh dir>)`
      (a new workspace for every repetition: no cache)

and prints the times, their ratio, the peak memory of each, the time per pipeline step, and a
Markdown table to paste into benchmarks/README.md. Timings (wall, and CPU of all threads: the
figure to compare on a loaded machine) exclude interpreter start-up and
imports; peak memory includes them (the "after imports" column says how much that is).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _process import measure_in_process, report

COLUMNS = """
    i AS id,
    1 + floor(random() * 50000)::BIGINT AS customer_id,
    CASE WHEN random() < 0.02 THEN NULL ELSE 1 + floor(random() * 20)::INTEGER END AS quantity,
    round(random() * 500, 2)::DECIMAL(10, 2) AS unit_price,
    format('{:,.2f}', random() * 2000000) AS revenue_thousands,
    replace(printf('%.2f', random() * 1000), '.', ',') AS discount_eu,
    DATE '2019-01-01' + floor(random() * 2000)::INTEGER AS order_date,
    TIMESTAMP '2019-01-01 00:00:00' + to_seconds(floor(random() * 170000000)::BIGINT) AS created_at,
    random() < 0.7 AS is_active,
    ['pending', 'shipped', 'delivered', 'cancelled', 'returned'][1 + floor(random() * 5)::INTEGER] AS status,
    CASE WHEN random() < 0.03 THEN NULL
         ELSE ['DE', 'FR', 'US', 'ES', 'IT', 'NL', 'PL', 'SE'][1 + floor(random() * 8)::INTEGER] END AS country,
    CASE WHEN random() < 0.05 THEN NULL
         ELSE ['fast', 'late', 'gift', 'broken', 'happy', 'return', 'box', 'blue', 'again', 'call']
                  [1 + floor(random() * 10)::INTEGER] || ' '
              || ['delivery', 'customer', 'wrap', 'item', 'please', 'soon', 'order', 'label']
                  [1 + floor(random() * 8)::INTEGER] || ' #' || (i % 997)::VARCHAR END AS comment,
    CASE WHEN random() < 0.01 THEN NULL ELSE round(random() * 100, 3) END AS score
"""


def _columns(text_bytes: int) -> str:
    """COLUMNS, and a text of about `text_bytes` bytes (distinct in every row) when asked for."""
    if not text_bytes:
        return COLUMNS
    return f"{COLUMNS}, repeat(md5(i::VARCHAR), {max(1, text_bytes // 32)}) || ' #' || i::VARCHAR AS body"


def generate(path: Path, rows: int, text_bytes: int = 0) -> Path:
    """The rows as CSV, or as Parquet when `path` ends in .parquet (the columns typed as above)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")  # with one thread, setseed makes the file reproducible
    con.execute("SELECT setseed(0.42)")
    target = str(path).replace("'", "''")
    options = "FORMAT parquet" if path.suffix == ".parquet" else "HEADER, DELIMITER ','"
    con.execute(f"COPY (SELECT {_columns(text_bytes)} FROM range({int(rows)}) t(i)) TO '{target}' ({options})")
    con.close()
    return path


# --- one measurement, in its own process -------------------------------------------------------


def _maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB elsewhere


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure_summarize(file: str) -> dict:
    import duckdb

    after_imports = _maxrss_mib()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    con = duckdb.connect(":memory:")
    reader = "read_parquet" if file.endswith(".parquet") else "read_csv"
    rows = con.execute(f"SUMMARIZE SELECT * FROM {reader}(?)", [file]).fetchall()
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    con.close()
    return {"seconds": seconds, "cpu_s": cpu, "after_imports_mib": after_imports, "columns": len(rows)}


def _measure_quick_profile(file: str, workspace: str) -> dict:
    import dataraum_context as dc

    after_imports = _maxrss_mib()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    run = dc.run("quick_profile", sources=[file], workspace=workspace)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    if not run.succeeded:
        failed = "; ".join(f"{s.name}: {s.error}" for s in run.failed_steps)
        raise SystemExit(f"quick_profile failed: {failed}")
    return {"seconds": seconds, "cpu_s": cpu, "after_imports_mib": after_imports,
            "steps": [{"name": s.name, "status": s.status, "duration_s": s.duration_s} for s in run.steps]}


def _child(kind: str, file: str, workspace: str | None) -> None:
    result = _measure_summarize(file) if kind == "summarize" else _measure_quick_profile(file, workspace)
    result["peak_rss_mib"] = _maxrss_mib()
    report(result)


def measure(kind: str, file: Path, workspace: Path | None = None) -> dict:
    args = ["--measure", kind, "--file", str(file)]
    if workspace is not None:
        args += ["--workspace", str(workspace)]
    return measure_in_process(__file__, args, f"measurement {kind!r}")


# --- the report ----------------------------------------------------------------------------


def _fmt_size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated file")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="of the generated file")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the CSV and workspaces go (default: a new temporary directory)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of each measurement")
    parser.add_argument("--text-bytes", type=int, default=0,
                        help="add a column of a text of about this many bytes a row (long values)")
    parser.add_argument("--measure", choices=["summarize", "quick_profile"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        _child(args.measure, args.file, args.workspace)
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dataraum-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    import duckdb

    text = f"_text{args.text_bytes}" if args.text_bytes else ""
    file = workdir / f"bench_{args.rows}{text}.{args.format}"
    shape = f"{args.rows:,} rows, {14 if text else 13} columns"
    t0 = time.perf_counter()
    if file.exists():  # the same rows every time (one thread, a fixed seed), and written whole or not at all
        print(f"reusing {file} ({shape}, {_fmt_size(file.stat().st_size)})")
    else:
        partial = file.with_suffix(f".partial.{args.format}")
        generate(partial, args.rows, args.text_bytes)
        partial.rename(file)
        print(f"generated {file} ({shape}, {_fmt_size(file.stat().st_size)}) in {time.perf_counter() - t0:.1f} s")
    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, {os.cpu_count()} cores, "
          f"{platform.machine()}")

    summarize, profile = [], []
    for rep in range(args.repeat):
        s = measure("summarize", file)
        summarize.append(s)
        print(f"[{rep + 1}/{args.repeat}] SUMMARIZE      {s['seconds']:8.2f} s  CPU {s['cpu_s']:6.2f} s  "
              f"peak {s['peak_rss_mib']:7.0f} MiB  load {os.getloadavg()[0]:.1f}")
        ws = workdir / f"workspace_{rep}_{time.time_ns()}"  # fresh every time: no cache
        p = measure("quick_profile", file, ws)
        profile.append(p)
        print(f"[{rep + 1}/{args.repeat}] quick_profile  {p['seconds']:8.2f} s  CPU {p['cpu_s']:6.2f} s  "
              f"peak {p['peak_rss_mib']:7.0f} MiB  load {os.getloadavg()[0]:.1f}")

    s_time = statistics.median(m["seconds"] for m in summarize)
    p_time = statistics.median(m["seconds"] for m in profile)
    s_cpu = statistics.median(m["cpu_s"] for m in summarize)
    p_cpu = statistics.median(m["cpu_s"] for m in profile)
    s_rss = max(m["peak_rss_mib"] for m in summarize)
    p_rss = max(m["peak_rss_mib"] for m in profile)
    s_base = max(m["after_imports_mib"] for m in summarize)
    p_base = max(m["after_imports_mib"] for m in profile)
    print()
    print(f"SUMMARIZE:      {s_time:.2f} s, CPU {s_cpu:.2f} s, peak RSS {s_rss:.0f} MiB")
    print(f"quick_profile:  {p_time:.2f} s, CPU {p_cpu:.2f} s, peak RSS {p_rss:.0f} MiB")
    print(f"ratio (quick_profile / SUMMARIZE): time {p_time / s_time:.2f}x, peak memory {p_rss / s_rss:.2f}x, "
          f"CPU {p_cpu / s_cpu:.2f}x")

    step_names = [st["name"] for st in profile[0]["steps"]]
    step_times = {name: statistics.median(st["duration_s"] for m in profile for st in m["steps"]
                                          if st["name"] == name) for name in step_names}
    agg = "median of " + str(args.repeat) if args.repeat > 1 else "1 run"
    print()
    print(f"| {shape} ({_fmt_size(file.stat().st_size)} {args.format}) | time (s, {agg}) "
          "| CPU (s) | peak RSS (MiB) | RSS after imports (MiB) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| DuckDB `SUMMARIZE` | {s_time:.2f} | {s_cpu:.2f} | {s_rss:.0f} | {s_base:.0f} |")
    print(f"| `dataraum_context.run(\"quick_profile\")` | {p_time:.2f} | {p_cpu:.2f} | {p_rss:.0f} | {p_base:.0f} |")
    print(f"| ratio | {p_time / s_time:.2f}x | {p_cpu / s_cpu:.2f}x | {p_rss / s_rss:.2f}x | |")
    print()
    print("| quick_profile step | time (s) | share |")
    print("|---|---:|---:|")
    for name in sorted(step_times, key=step_times.get, reverse=True):
        print(f"| `{name}` | {step_times[name]:.2f} | {100 * step_times[name] / p_time:.0f}% |")
    overhead = p_time - sum(step_times.values())
    print(f"| (driver build, outside steps) | {overhead:.2f} | {100 * overhead / p_time:.0f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
