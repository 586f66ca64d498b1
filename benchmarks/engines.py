"""The same pipeline on each engine: wall time, the per-table part, and peak memory.

    python benchmarks/engines.py                               # 20 tables x 200,000 rows
    python benchmarks/engines.py --tables 8 --rows 20000 --engines local threads

Generates `--tables` CSV files of `--rows` rows (ids, amounts, dates, text) with DuckDB SQL, then
runs `quick_profile` (staging, schema profiling, type resolution, statistics: all per table) on
each engine in a process of its own, with a fresh workspace, and prints a Markdown table:
the run's wall time (a cluster's start included), the per-table steps' time, and the peak
resident memory of the run's process and of the largest worker process it started and reaped
(Dask's local workers; Ray's workers are Ray's children, not ours, and are not counted).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from _process import measure_in_process, report

ENGINES = ["local", "threads", "processes", "dask", "ray"]
PER_TABLE = ("staging", "schema_profiling", "type_resolution", "statistics_profiling")


def generate(folder: Path, tables: int, rows: int) -> None:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")  # with one thread, setseed makes the files reproducible
    for t in range(tables):
        con.execute(f"SELECT setseed({(t + 1) / (tables + 1)})")
        con.execute(f"""COPY (SELECT i AS id, 1 + floor(random() * 5000)::BIGINT AS customer_id,
                round(random() * 900, 2) AS amount, DATE '2020-01-01' + (i % 1500)::INTEGER AS day,
                ['open', 'paid', 'void'][1 + floor(random() * 3)::INTEGER] AS status,
                'note ' || (i % 313)::VARCHAR AS note
            FROM range({rows}) r(i)) TO '{folder / f"t{t:02d}.csv"}' (HEADER)""")
    con.close()


def _mib(usage: resource.struct_rusage) -> float:
    return usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024


def _child(engine: str, data: str, workspace: str, workers: int) -> None:
    import dataraum_context as dc

    t0 = time.perf_counter()
    run = dc.run("quick_profile", sources=[data], workspace=workspace, engine=engine,
                 engines={name: {"workers": workers} for name in ("threads", "processes", "dask", "ray")})
    seconds = time.perf_counter() - t0
    if not run.succeeded:
        raise SystemExit(f"{engine}: {run.status}: {[s.error for s in run.failed_steps]}")
    report({"seconds": seconds, "per_table_s": sum(s.duration_s for s in run.steps if s.name in PER_TABLE),
            "peak_mib": _mib(resource.getrusage(resource.RUSAGE_SELF)),
            "workers_peak_mib": _mib(resource.getrusage(resource.RUSAGE_CHILDREN))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # in the child: the engine
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        _child(args.measure, args.data, args.workspace, args.workers)
        return 0

    with tempfile.TemporaryDirectory(prefix="dataraum-engines-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        generate(data, args.tables, args.rows)
        print(f"{args.tables} tables x {args.rows:,} rows, {args.workers} workers, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}", file=sys.stderr)
        print("| engine | wall time | per-table steps | peak memory (run) | peak memory (largest worker) |")
        print("|---|---:|---:|---:|---:|")
        for engine in args.engines:
            result = measure_in_process(__file__, ["--measure", engine, "--data", str(data), "--workspace",
                                                   str(Path(tmp) / f"ws-{engine}"), "--workers", str(args.workers)],
                                        f"engine {engine}")
            workers = f"{result['workers_peak_mib']:.0f} MiB" if engine in ("processes", "dask") else "-"
            print(f"| {engine} | {result['seconds']:.1f} s | {result['per_table_s']:.1f} s | "
                  f"{result['peak_mib']:.0f} MiB | {workers} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
