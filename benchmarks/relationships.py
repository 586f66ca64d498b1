"""Foreign-key discovery: precision, recall and F1 on generated schemas, and how time grows.

    python benchmarks/relationships.py                     # accuracy on seeds 1000-1049, timing
    python benchmarks/relationships.py --seeds 2000-2099 --no-timing
    python benchmarks/relationships.py --no-accuracy --tables 50 200

Accuracy: `dataraum_context.sample.schemas.generate(seed)` draws a star/snowflake schema with
known keys and the traps (see that module); each is written as a workspace, profiled by
`statistics_profiling` and searched by `topology_enrichment`. A found relationship is correct
when (from_table, from_column, to_table, to_column) is in the ground truth; a composite one
when (from_table, from_columns, to_table, to_columns) is. Single-column and composite keys are
scored apart, then together. The code was tuned on seeds 0-99; the default seeds 1000-1049
were not looked at while tuning.

Large: generated TPC-H-like and shop schemas (`dataraum_context.sample.large`) at millions of rows
in the fact table (`--large tpch:1 shop:1000000`: TPC-H scale 1 has 1.5M orders and ~6M line
items; a shop of 1M orders has ~3M order items; `tpchgen:1` is TPC-H's own data, from
`tpchgen-cli` when it is installed), each case in a process of its own: P/R/F1 over
the ground truth, relationships with the wrong cardinality (a reference into its table's own
key repeated by many rows is many_to_one; every true key here is), the time of statistics and of
topology, and the process's peak memory.
Stars, traps and calibration (each case in a process of its own, for its peak memory):
`dataraum_context.sample.star.generate(seed)` draws a 24-table retail star with many small
dimensions, surrogate keys, role-named references and business ids of one format, in one of
three naming conventions by seed; `star.traps(seed)` a small schema of traps (small integers in
sparse keys, shared free text, business ids of one format, role-named and UUID keys). P/R/F1,
statistics and topology time and peak RSS per case; then the precision per confidence bucket
over every relationship found in the stars, the traps and `--calibration-seeds` classic
schemas. `--tpcds 0.01` adds TPC-DS's own data (`pip install tpcgen-cli`).

    python benchmarks/relationships.py --no-accuracy --no-timing --stars 1-3 --traps 1-3 -v

Timing: wide schemas of N tables x 20 columns (`--tables`), the time of the topology step alone
(its nodes `relationship_candidates`, `measured_relationships` and `topology_enrichment`;
statistics are computed first and not counted), with the candidate pairs it considered
and measured: pruning must keep the measured pairs far below all pairs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb

from dataraum_context.dataflows.statistics import (
    statistics_profiling,
    table_statistics,
    table_to_describe,
)
from dataraum_context.dataflows.topology import (
    measured_relationships,
    relationship_candidates,
    topology_enrichment,
)
from dataraum_context.sample import large, schemas, star
from dataraum_context.sql import quote_ident, quote_literal


def _seeds(text: str) -> list[int]:
    if not text:
        return []
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def _statistics(types, root: str):
    """The statistics step over every table, as Hamilton's per-table block computes it."""
    return statistics_profiling([table_statistics(t, root) for t in table_to_describe(types)])


def _topology(stats, types, root: str):
    """The topology step through its nodes: candidates, measured, resolved."""
    candidates = relationship_candidates(stats, types)
    return topology_enrichment(candidates, measured_relationships(candidates, types, root), types)


def evaluate(seed: int, **kwargs) -> tuple[set, set, schemas.Schema]:
    """What was found and what is true, as (from_table, from_columns, to_table, to_columns)."""
    schema = schemas.generate(seed, **kwargs)
    with tempfile.TemporaryDirectory() as root:
        types = schema.workspace(root)
        stats = _statistics(types, root)
        topo = _topology(stats, types, root)
    found = {(r.from_table, r.from_columns, r.to_table, r.to_columns) for r in topo.relationships}
    truth = {(f, (c,), t, (k,)) for f, c, t, k in schema.relationships} | schema.composites
    return found, truth, schema


def accuracy(seeds: list[int], verbose: bool) -> dict[str, float]:
    counts: dict[str, Counter] = {}  # by naming style, and "composite" for the composite keys
    for seed in seeds:
        found, truth, schema = evaluate(seed)
        for kind, items in (("tp", found & truth), ("fp", found - truth), ("fn", truth - found)):
            for item in sorted(items):
                counts.setdefault("composite" if len(item[1]) > 1 else schema.style, Counter())[kind] += 1
                if verbose and kind != "tp":
                    print(f"  seed {seed} ({schema.style}) {kind}: {item[0]}.{', '.join(item[1])} -> "
                          f"{item[2]}.{', '.join(item[3])}")
    single = sum((c for k, c in counts.items() if k != "composite"), Counter())
    total = single + counts.get("composite", Counter())
    out = _prf(total["tp"], total["fp"], total["fn"])
    print(f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)} schemas): {total['tp'] + total['fn']} true relationships, "
          f"{total['tp'] + total['fp']} found; precision {out['precision']:.3f}, recall {out['recall']:.3f}, "
          f"F1 {out['f1']:.3f}")
    for label, c in [*sorted((k, c) for k, c in counts.items() if k != "composite"), ("single", single),
                     ("composite", counts.get("composite", Counter()))]:
        s = _prf(c["tp"], c["fp"], c["fn"])
        print(f"  {label:9s} tp {c['tp']:4d} fp {c['fp']:3d} fn {c['fn']:3d}  "
              f"P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f}")
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def timing(table_counts: list[int], repeat: int) -> None:
    print("| tables | columns | pairs of compatible type | pairs measured | composite keys checked | "
          "composite pairs measured | relationships | topology time (s) | statistics time (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in table_counts:
        facts = max(1, n // 10)
        schema = schemas.generate(7, style="snake", dimensions=n - facts - 2, facts=facts,
                                  scale=0.25, wide=12)
        times, stat_times = [], []
        with tempfile.TemporaryDirectory() as root:
            types = schema.workspace(root)
            for _ in range(repeat):
                t0 = time.perf_counter()
                stats = _statistics(types, root)
                stat_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                topo = _topology(stats, types, root)
                times.append(time.perf_counter() - t0)
        columns = sum(f.width for f in schema.tables.values())
        print(f"| {len(schema.tables)} | {columns:,} | {topo.pairs_compatible:,} | {topo.pairs_measured:,} | "
              f"{topo.composite_keys_checked:,} | {topo.composite_pairs_measured:,} | "
              f"{len(topo.relationships)} | {statistics.median(times):.2f} | "
              f"{statistics.median(stat_times):.2f} |", flush=True)


def _large(kind: str, size: str, root: str) -> large.Large:
    if kind == "tpch":
        return large.tpch(root, float(size))
    if kind == "shop":
        return large.shop(root, int(float(size)))
    # TPC-H's own generator (pip install tpchgen-cli), with TPC-H's ground truth
    subprocess.run(["tpchgen-cli", "parquet", "-s", size, f"--output-dir={root}/gen"], check=True)
    names = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
    return large.write(root, {n: f"FROM read_parquet('{root}/gen/{n}.parquet')" for n in names}, large.TPCH_TRUTH)


def large_case(case: str) -> dict:
    """One large case (`tpch:<scale>` or `shop:<orders>`) in this process: its scores, times and
    peak memory."""
    kind, _, size = case.partition(":")
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        made = _large(kind, size, root)
        t1 = time.perf_counter()
        stats = _statistics(made.types, root)
        t2 = time.perf_counter()
        topo = _topology(stats, made.types, root)
        t3 = time.perf_counter()
    found = {(r.from_table, r.from_columns, r.to_table, r.to_columns): r for r in topo.relationships}
    out = _prf(len(found.keys() & made.truth), len(found.keys() - made.truth), len(made.truth - found.keys()))
    # every true key of these schemas is referenced by many rows per key value
    wrong_cardinality = [k for k, r in found.items() if k in made.truth and r.cardinality != "many_to_one"]
    return {"case": case, "rows": max(made.rows.values()), **out,
            "missed": sorted(map(list, made.truth - found.keys())),
            "false": sorted(map(list, found.keys() - made.truth)),
            "wrong_cardinality": sorted(map(list, wrong_cardinality)),
            "distinct_over_rows": sorted(f"{t}.{c}" for t, ts in stats.tables.items() for c, s in ts.columns.items()
                                         if s.distinct_count > s.count - s.null_count),
            "generate_s": t1 - t0, "statistics_s": t2 - t1, "topology_s": t3 - t2,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def large_cases(cases: list[str], verbose: bool) -> None:
    print("| case | fact rows | precision | recall | F1 | wrong cardinality | statistics (s) | topology (s) "
          "| peak memory (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:  # a process each: its peak memory is its own
        proc = subprocess.run([sys.executable, __file__, "--one-large", case], capture_output=True, text=True)
        if proc.returncode:
            error = next((line for line in reversed(proc.stderr.splitlines()) if line[:1].isalpha()), "")
            print(f"| {case} | failed: {error} |||||||", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {case} | {r['rows']:,} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
              f"{len(r['wrong_cardinality'])} | {r['statistics_s']:.1f} | {r['topology_s']:.1f} | "
              f"{r['peak_mb']:,.0f} |", flush=True)
        if verbose:
            for key in ("missed", "false", "wrong_cardinality", "distinct_over_rows"):
                for item in r[key]:
                    print(f"  {case} {key}: {item}")


# --- star schemas with small dimensions, and the traps (sample/star.py) -----------------------

_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)  # confidence buckets [lo, hi)


# TPC-DS's references name the dimension's key by its last words: `ss_sold_date_sk` -> date_dim
_TPCDS_KEYS = {"date": "date_dim", "time": "time_dim", "item": "item", "customer": "customer",
               "cdemo": "customer_demographics", "hdemo": "household_demographics", "addr": "customer_address",
               "store": "store", "promo": "promotion", "call_center": "call_center", "catalog_page": "catalog_page",
               "ship_mode": "ship_mode", "warehouse": "warehouse", "reason": "reason", "web_page": "web_page",
               "web_site": "web_site", "income_band": "income_band"}


def _tpcds(scale: float, root: str) -> star.SqlSchema:
    """TPC-DS's own data (`pip install tpcgen-cli`) with the ground truth its naming rules give:
    each `<prefix>_<role>_<dimension>_sk` references that dimension's first column, returns
    reference their sales line by (item, ticket or order number); a column with no value
    references nothing (`cc_closed_date_sk` at small scales)."""
    beside = Path(sys.executable).with_name("tpcgen-cli")  # installed into this venv, or on the PATH
    subprocess.run([str(beside) if beside.exists() else "tpcgen-cli", "tpcds", "parquet", "-s", str(scale),
                    f"--output-dir={root}/gen"], check=True, capture_output=True)
    schema = star.SqlSchema(0, f"TPC-DS {scale}")
    schema.selects = {p.stem: f"FROM read_parquet({quote_literal(str(p))})"
                      for p in sorted(Path(root, "gen").glob("*.parquet")) if p.stem != "dbgen_version"}
    con = duckdb.connect()
    columns = {t: con.sql(select).columns for t, select in schema.selects.items()}
    for table, cols in columns.items():
        for col in cols[1:] if table in _TPCDS_KEYS.values() else cols:
            body = col.partition("_")[2].removesuffix("_sk")
            target = next((t for k, t in _TPCDS_KEYS.items() if col.endswith("_sk") and
                           (body == k or body.endswith("_" + k))), None)
            filled = con.execute(f"SELECT count({quote_ident(col)}) FROM ({schema.selects[table]})").fetchone()
            if target and filled and filled[0]:
                schema.relationships.add((table, col, target, columns[target][0]))
    for channel, number in (("store", "ticket_number"), ("catalog", "order_number"), ("web", "order_number")):
        sales, returns = f"{channel}_sales", f"{channel}_returns"
        sp, rp = columns[sales][0].partition("_")[0], columns[returns][0].partition("_")[0]
        schema.composites.add((returns, (f"{rp}_item_sk", f"{rp}_{number}"),
                               sales, (f"{sp}_item_sk", f"{sp}_{number}")))
    return schema


def _case(kind: str, seed: float) -> dict:
    """One case (a generated schema by seed, or TPC-DS at a scale) through statistics and
    topology, in the process that runs it: what was found with its confidence, the truth, the
    step times and the process's peak memory."""
    with tempfile.TemporaryDirectory() as root:
        schema = (_tpcds(seed, root) if kind == "tpcds"
                  else {"star": star.generate, "traps": star.traps, "classic": schemas.generate}[kind](int(seed)))
        types = schema.workspace(root)
        t0 = time.perf_counter()
        stats = _statistics(types, root)
        t1 = time.perf_counter()
        topo = _topology(stats, types, root)
        t2 = time.perf_counter()
    truth = {(f, (c,), t, (k,)) for f, c, t, k in schema.relationships} | schema.composites
    return {"name": f"{kind} {seed} ({getattr(schema, 'convention', None) or getattr(schema, 'style', '')})",
            "tables": len(types.tables), "truth": truth, "statistics_s": t1 - t0, "topology_s": t2 - t1,
            "found": {(r.from_table, r.from_columns, r.to_table, r.to_columns): r.confidence
                      for r in topo.relationships},
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _in_child(kind: str, seed: float) -> dict:
    """`_case` in a fresh process, so its peak memory is its own (DuckDB's native allocations
    included)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_case, kind, seed).result()


def schema_cases(cases: list[tuple[str, float]], verbose: bool) -> list[dict]:
    """P/R/F1, time and peak memory per case, one process each; then the confidence calibration
    over every relationship found."""
    print("| case | tables | true | found | precision | recall | F1 | statistics (s) | topology (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    for kind, seed in cases:
        r = _in_child(kind, seed)
        tp, fp, fn = (len(r["found"].keys() & r["truth"]), len(r["found"].keys() - r["truth"]),
                      len(r["truth"] - r["found"].keys()))
        s = _prf(tp, fp, fn)
        print(f"| {r['name']} | {r['tables']} | {len(r['truth'])} | {len(r['found'])} | {s['precision']:.3f} | "
              f"{s['recall']:.3f} | {s['f1']:.3f} | {r['statistics_s']:.2f} | {r['topology_s']:.2f} | "
              f"{r['peak_mib']:.0f} |", flush=True)
        if verbose:
            for item in sorted(r["found"].keys() - r["truth"]):
                print(f"  false: {item[0]}.{', '.join(item[1])} -> {item[2]}.{', '.join(item[3])} "
                      f"({r['found'][item]:.2f})")
            for item in sorted(r["truth"] - r["found"].keys()):
                print(f"  missed: {item[0]}.{', '.join(item[1])} -> {item[2]}.{', '.join(item[3])}")
        results.append(r)
    return results


def calibration(results: list[dict]) -> None:
    """Precision per confidence bucket over every relationship the cases found."""
    print("\n| confidence | found | right | precision |")
    print("|---|---:|---:|---:|")
    for lo, hi in itertools.pairwise(_BUCKETS):
        hits = [key in r["truth"] for r in results for key, c in r["found"].items() if lo <= c < hi]
        label = f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}"
        print(f"| {label} | {len(hits)} | {sum(hits)} | {sum(hits) / len(hits) if hits else 1.0:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1000-1049", help="range of schema seeds, e.g. 1000-1049")
    parser.add_argument("--tables", type=int, nargs="*", default=[10, 50, 100, 200])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--large", nargs="*", default=[], metavar="CASE",
                        help="large cases, e.g. tpch:1 shop:1000000 (each in a process of its own)")
    parser.add_argument("--one-large", help=argparse.SUPPRESS)  # one large case, as JSON
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss and false find")
    parser.add_argument("--stars", default="1-3", help="seeds of generated star schemas (24 tables), e.g. 1-3")
    parser.add_argument("--traps", default="1-3", help="seeds of generated trap schemas, e.g. 1-3")
    parser.add_argument("--calibration-seeds", default="1000-1009",
                        help="seeds of generated classic schemas that join the stars and traps in the calibration")
    parser.add_argument("--tpcds", type=float, nargs="*", default=[], metavar="SCALE",
                        help="TPC-DS's own data at these scale factors too (needs `pip install tpcgen-cli`)")
    parser.add_argument("--no-cases", action="store_true", help="skip the stars, traps and calibration")
    args = parser.parse_args(argv)
    if args.one_large:
        print(json.dumps(large_case(args.one_large)))
        return 0
    if args.large:
        large_cases(args.large, args.verbose)
    if not args.no_accuracy:
        accuracy(_seeds(args.seeds), args.verbose)
    if not args.no_cases:
        cases: list[tuple[str, float]] = [
            (kind, seed) for kind, seeds in (("star", args.stars), ("traps", args.traps),
                                             ("classic", args.calibration_seeds)) for seed in _seeds(seeds)]
        cases += [("tpcds", scale) for scale in args.tpcds]
        results = schema_cases(cases, args.verbose)
        calibration(results)
    if not args.no_timing:
        timing(args.tables, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
