"""Time quality_assessment on a generated table with planted defects.

    python benchmarks/quality.py --rows 1000000 --repeat 3

Writes `orders` (order_id, customer_id, order_date, amount, quantity, email, status) and
`customers` as Parquet, with duplicated keys, orphaned customers, negative quantities, bad
e-mails, outliers and nulls, runs the steps quality needs once, then times the step alone as
the local engine runs it: the pipeline's driver (without its cache) executes
`quality_assessment` and the nodes that are part of it, the steps before given as overrides
(median of `--repeat`). Prints what it found.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

import dataraum_context as dc
from dataraum_context.pipeline import upstream_steps


def _write(folder: Path, rows: int) -> None:
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    customers = max(10, rows // 200)
    con.execute(f"""COPY (SELECT CASE WHEN range % 997 = 0 THEN range - 1 ELSE range END AS order_id,
        CAST(random() * {customers * 1.01} AS BIGINT) AS customer_id,
        DATE '2022-01-01' + CAST(random() * 700 AS INTEGER) AS order_date,
        CASE WHEN range % 5000 = 0 THEN 1e6 ELSE round(random() * 1000, 2) END AS amount,
        CAST(random() * 10 AS INTEGER) - 1 AS quantity,
        CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.01 THEN 'not an email'
             ELSE 'x' || CAST(random() * 50 AS INTEGER) || '@example.com' END AS email,
        ['new', 'paid', 'shipped'][1 + CAST(floor(random() * 3) AS INTEGER)] AS status
        FROM range({rows})) TO '{folder / "orders.parquet"}'""")
    con.execute(f"COPY (SELECT range AS customer_id, 'c' || range AS name FROM range({customers})) "
                f"TO '{folder / 'customers.parquet'}'")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, ws = Path(tmp) / "data", Path(tmp) / "ws"
        data.mkdir()
        _write(data, args.rows)
        run = dc.run("default", sources=[str(data)], workspace=str(ws), skip_steps=["quality_assessment"])
        dr = dc.driver("default", sources=[str(data)], workspace=str(ws), cache=False)
        before = {name: run.results.get(name) for name in upstream_steps(dr, "quality_assessment")}
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            qa = dr.execute(["quality_assessment"], overrides=before)["quality_assessment"]
            times.append(time.perf_counter() - t0)
        checks = sum(t.checks for t in qa.tables.values())
        print(f"{args.rows:,} rows: {checks} checks in {statistics.median(times):.2f} s "
              f"(median of {args.repeat}); score {qa.score}")
        for issue in qa.issues():
            print(f"  {issue.severity:<8}{issue.table}.{','.join(issue.columns)} {issue.check}: "
                  f"{issue.failing_rows:,} of {issue.total_rows:,} {issue.unit}")


if __name__ == "__main__":
    main()
