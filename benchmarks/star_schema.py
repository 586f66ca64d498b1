"""The default pipeline on a TPC-DS-like star schema: time per step.

    python benchmarks/star_schema.py                        # scale 1: 24 tables, ~7 MB of Parquet
    python benchmarks/star_schema.py --scale 4 --repeat 3   # four times the fact rows

Generates 24 tables with DuckDB SQL (one thread and `setseed`, so the files are the same every
time) in the shape of TPC-DS: seven fact tables (store, catalog and web sales and returns, and
inventory; 4,000-160,000 rows at scale 1) referencing seventeen dimensions through `*_sk`
surrogate keys (dates, times, items, customers and their addresses and demographics, stores,
warehouses, promotions, reasons, ship modes, web pages and sites, call centers, catalog pages;
5 to 10,000 rows), with TPC-DS's business ids (`i_item_id`, `c_customer_id`), role-named date
keys (`cc_closed_date_sk`, `c_first_sales_date_sk`) and priced measures that depend on each
other (`ss_net_profit = ss_net_paid - ss_ext_wholesale_cost`) and on the item's price. The
fact rows scale with `--scale`; the dimensions do not.

Then runs `dataraum_context.run("default", sources=[<the Parquet files>], workspace=<new dir>)`
in its own process per repetition (the offline `heuristic` LLM provider, a new workspace: no
cache) and prints the wall time of the run and of every step (from `PipelineRun.steps`), as a
Markdown table to paste into benchmarks/README.md. Times exclude interpreter start-up and
imports. On a shared machine wall times grow with the load, so each step's CPU time (all
threads of the process, measured around the engine's call of the step) and the load average
are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _process import measure_in_process, report

# name -> (rows, at every scale; its columns, a SELECT list over range(rows) t(i))
DIMENSIONS: dict[str, tuple[int, str]] = {
    "date_dim": (2190, """
        2450815 + i AS d_date_sk, 'AAAAAAAA' || lpad((2450815 + i)::VARCHAR, 8, '0') AS d_date_id,
        DATE '1998-01-01' + i::INTEGER AS d_date, year(DATE '1998-01-01' + i::INTEGER) AS d_year,
        month(DATE '1998-01-01' + i::INTEGER) AS d_moy, day(DATE '1998-01-01' + i::INTEGER) AS d_dom,
        quarter(DATE '1998-01-01' + i::INTEGER) AS d_qoy, dayname(DATE '1998-01-01' + i::INTEGER) AS d_day_name"""),
    "time_dim": (1440, """
        i AS t_time_sk, 'AAAAAAAA' || lpad(i::VARCHAR, 8, '0') AS t_time_id, i * 60 AS t_time,
        i // 60 AS t_hour, i % 60 AS t_minute, CASE WHEN i < 720 THEN 'AM' ELSE 'PM' END AS t_am_pm"""),
    "item": (2000, """
        i + 1 AS i_item_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS i_item_id,
        round(1 + random() * 99, 2)::DECIMAL(7, 2) AS i_current_price,
        round(0.5 + random() * 60, 2)::DECIMAL(7, 2) AS i_wholesale_cost,
        'brand #' || (1 + floor(random() * 100)::INTEGER) AS i_brand,
        ['Women', 'Men', 'Children', 'Shoes', 'Music', 'Jewelry', 'Home', 'Sports', 'Books', 'Electronics']
            [1 + floor(random() * 10)::INTEGER] AS i_category,
        1 + floor(random() * 1000)::INTEGER AS i_manufact_id"""),
    "customer_address": (5000, """
        i + 1 AS ca_address_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS ca_address_id,
        (1 + floor(random() * 999)::INTEGER)::VARCHAR AS ca_street_number,
        'city ' || floor(random() * 300)::INTEGER AS ca_city,
        ['CA', 'TX', 'NY', 'FL', 'IL', 'PA', 'OH', 'GA', 'NC', 'MI'][1 + floor(random() * 10)::INTEGER] AS ca_state,
        lpad(floor(random() * 99999)::INTEGER::VARCHAR, 5, '0') AS ca_zip,
        [-5, -6, -7, -8][1 + floor(random() * 4)::INTEGER]::DECIMAL(5, 2) AS ca_gmt_offset"""),
    "customer_demographics": (1920, """
        i + 1 AS cd_demo_sk, ['M', 'F'][1 + i % 2] AS cd_gender,
        ['M', 'S', 'D', 'W', 'U'][1 + (i // 2) % 5] AS cd_marital_status,
        ['Primary', 'Secondary', 'College', '2 yr Degree', '4 yr Degree', 'Advanced Degree', 'Unknown']
            [1 + (i // 10) % 7] AS cd_education_status,
        500 * (1 + (i // 70) % 20) AS cd_purchase_estimate,
        ['Good', 'High Risk', 'Low Risk', 'Unknown'][1 + (i // 1400) % 4] AS cd_credit_rating,
        (i // 5) % 7 AS cd_dep_count"""),
    "income_band": (20, """
        i + 1 AS ib_income_band_sk, i * 10000 + 1 AS ib_lower_bound, (i + 1) * 10000 AS ib_upper_bound"""),
    "household_demographics": (720, """
        i + 1 AS hd_demo_sk, 1 + i % 20 AS hd_income_band_sk,
        ['0-500', '501-1000', '1001-5000', '5001-10000', '>10000', 'Unknown'][1 + (i // 20) % 6] AS hd_buy_potential,
        (i // 120) % 10 AS hd_dep_count, (i // 120) % 5 - 1 AS hd_vehicle_count"""),
    "customer": (10000, """
        i + 1 AS c_customer_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS c_customer_id,
        1 + floor(random() * 1920)::INTEGER AS c_current_cdemo_sk,
        1 + floor(random() * 720)::INTEGER AS c_current_hdemo_sk,
        1 + floor(random() * 5000)::INTEGER AS c_current_addr_sk,
        2450815 + floor(random() * 2190)::INTEGER AS c_first_sales_date_sk,
        ['James', 'Mary', 'John', 'Linda', 'Robert', 'Susan', 'Michael',
            'Karen'][1 + floor(random() * 8)::INTEGER] AS c_first_name,
        ['Smith', 'Jones', 'Brown', 'Garcia', 'Miller', 'Davis', 'Wilson',
            'Moore'][1 + floor(random() * 8)::INTEGER] AS c_last_name,
        1924 + floor(random() * 70)::INTEGER AS c_birth_year,
        'user' || (i + 1) || '@example.com' AS c_email_address"""),
    "promotion": (30, """
        i + 1 AS p_promo_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS p_promo_id,
        2450815 + floor(random() * 2000)::INTEGER AS p_start_date_sk,
        2450815 + 30 + floor(random() * 2000)::INTEGER AS p_end_date_sk,
        1 + floor(random() * 2000)::INTEGER AS p_item_sk, 1000.00::DECIMAL(15, 2) AS p_cost,
        ['Y', 'N'][1 + floor(random() * 2)::INTEGER] AS p_channel_email"""),
    "reason": (35, """
        i + 1 AS r_reason_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS r_reason_id,
        ['Package was damaged', 'Stopped working', 'Did not fit', 'Not the product that was ordered',
         'Found a better price', 'Gift exchange', 'Did not like the color']
            [1 + i % 7] || CASE WHEN i >= 7 THEN ' (' || (i // 7) || ')' ELSE '' END AS r_reason_desc"""),
    "ship_mode": (20, """
        i + 1 AS sm_ship_mode_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS sm_ship_mode_id,
        ['EXPRESS', 'NEXT DAY', 'OVERNIGHT', 'TWO DAY', 'REGULAR'][1 + i % 5] AS sm_type,
        ['UPS', 'FEDEX', 'DHL', 'USPS'][1 + i // 5] AS sm_carrier"""),
    "store": (12, """
        i + 1 AS s_store_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS s_store_id,
        'store ' || ['able', 'ought', 'pri', 'ese', 'anti', 'cally', 'ation', 'eing', 'bar', 'n st', 'eing',
            'ought'][1 + i] AS s_store_name,
        200 + floor(random() * 100)::INTEGER AS s_number_employees,
        5000000 + floor(random() * 5000000)::INTEGER AS s_floor_space, 'city ' || i AS s_city,
        round(random() * 0.11, 2)::DECIMAL(5, 2) AS s_tax_precentage,
        CASE WHEN i % 4 = 0 THEN 2450815 + floor(random() * 2190)::INTEGER END AS s_closed_date_sk"""),
    "warehouse": (5, """
        i + 1 AS w_warehouse_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS w_warehouse_id,
        ['Conventional childr', 'Important issues liv', 'Doors canno', 'Bad cards must make.',
            'Operations'][1 + i] AS w_warehouse_name,
        50000 + floor(random() * 950000)::INTEGER AS w_warehouse_sq_ft, 'city ' || (i * 7) AS w_city"""),
    "web_page": (60, """
        i + 1 AS wp_web_page_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS wp_web_page_id,
        2450815 + floor(random() * 2190)::INTEGER AS wp_creation_date_sk,
        1000 + floor(random() * 7000)::INTEGER AS wp_char_count, 2 + floor(random() * 23)::INTEGER AS wp_link_count,
        1 + floor(random() * 6)::INTEGER AS wp_image_count"""),
    "web_site": (30, """
        i + 1 AS web_site_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS web_site_id,
        'site_' || i AS web_name, 2450815 + floor(random() * 2190)::INTEGER AS web_open_date_sk,
        round(random() * 0.12, 2)::DECIMAL(5, 2) AS web_tax_percentage"""),
    "call_center": (6, """
        i + 1 AS cc_call_center_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS cc_call_center_id,
        ['NY Metro', 'Mid Atlantic', 'North Midwest', 'California', 'Pacific Northwest',
            'Hawaii/Alaska'][1 + i] AS cc_name,
        100 + floor(random() * 60000)::INTEGER AS cc_employees, 1000 + floor(random() * 650000)::INTEGER AS cc_sq_ft,
        CASE WHEN i % 3 = 0 THEN 2450815 + floor(random() * 2190)::INTEGER END AS cc_closed_date_sk,
        round(random() * 0.12, 2)::DECIMAL(5, 2) AS cc_tax_percentage"""),
    "catalog_page": (1000, """
        i + 1 AS cp_catalog_page_sk, 'AAAAAAAA' || lpad((i + 1)::VARCHAR, 8, '0') AS cp_catalog_page_id,
        2450815 + 30 * (i // 100) AS cp_start_date_sk, 'DEPARTMENT' AS cp_department,
        1 + i // 100 AS cp_catalog_number, 1 + i % 100 AS cp_catalog_page_number"""),
}

# fact rows at scale 1
FACT_ROWS = {"store_sales": 160_000, "store_returns": 16_000, "catalog_sales": 80_000,
             "catalog_returns": 8_000, "web_sales": 40_000, "web_returns": 4_000, "inventory": 120_000}


def _sales(p: str, keys: str, rows: int) -> str:
    """A sales fact: its keys, then TPC-DS's priced measures (list price from the item's price,
    the paid and profit amounts exact sums and differences of the others)."""
    return f"""
        SELECT {keys}, q AS {p}_quantity, wholesale AS {p}_wholesale_cost, list AS {p}_list_price,
               sales AS {p}_sales_price, (q * (list - sales))::DECIMAL(9, 2) AS {p}_ext_discount_amt,
               (q * sales)::DECIMAL(9, 2) AS {p}_ext_sales_price, (q * wholesale)::DECIMAL(9,
                   2) AS {p}_ext_wholesale_cost,
               (q * sales - coupon)::DECIMAL(9, 2) AS {p}_net_paid,
               (q * sales - coupon - q * wholesale)::DECIMAL(9, 2) AS {p}_net_profit
        FROM (SELECT *, (list * (1 - random() * 0.5))::DECIMAL(7, 2) AS sales,
                        CASE WHEN random() < 0.1 THEN (random() * 20)::DECIMAL(7, 2) ELSE 0 END AS coupon
              FROM (SELECT *, i_wholesale_cost AS wholesale,
                           (i_current_price * (1 + random() * 0.5))::DECIMAL(7, 2) AS list,
                               1 + floor(random() * 100)::INTEGER AS q
                    FROM (SELECT *, 1 + floor(random() * 2000)::INTEGER AS item_sk FROM range({rows}) t(o))
                    JOIN item ON i_item_sk = item_sk))"""


def _fact_sql(name: str, rows: int) -> str:
    """A fact table's SELECT. The lines of one ticket or order share its date, customer, store
    and the like (drawn from a hash of the ticket number, as TPC-DS's do), and the dates rise
    with the ticket numbers: what makes real fact tables compress."""
    def per_order(salt: str, n: int, nulls: bool = True) -> str:
        value = f"(1 + hash(o // 8, '{salt}') % {n})::INTEGER"
        return f"CASE WHEN hash(o // 8, '{salt}-null') % 50 = 0 THEN NULL ELSE {value} END" if nulls else value

    date = f"2450815 + (o * 2190) // {rows}"
    if name == "store_sales":
        return _sales("ss", f"""{date} AS ss_sold_date_sk, {per_order('t', 1440, False)} - 1 AS ss_sold_time_sk,
            item_sk AS ss_item_sk, {per_order('c', 10000)} AS ss_customer_sk, {per_order('cd', 1920)} AS ss_cdemo_sk,
            {per_order('hd', 720)} AS ss_hdemo_sk, {per_order('a', 5000)} AS ss_addr_sk,
            {per_order('s', 12)} AS ss_store_sk, {per_order('p', 30)} AS ss_promo_sk, 1 + o // 8 AS ss_ticket_number""",
                      rows)
    if name == "catalog_sales":
        return _sales("cs", f"""{date} AS cs_sold_date_sk,
            {date} + (1 + hash(o // 8, 'sd') % 90)::INTEGER AS cs_ship_date_sk,
            {per_order('c', 10000)} AS cs_bill_customer_sk, {per_order('sc', 10000)} AS cs_ship_customer_sk,
            {per_order('cc', 6)} AS cs_call_center_sk, {per_order('cp', 1000)} AS cs_catalog_page_sk,
            {per_order('sm', 20)} AS cs_ship_mode_sk, {per_order('w', 5)} AS cs_warehouse_sk,
            item_sk AS cs_item_sk, {per_order('p', 30)} AS cs_promo_sk, 1 + o // 8 AS cs_order_number""", rows)
    if name == "web_sales":
        return _sales("ws", f"""{date} AS ws_sold_date_sk, {per_order('t', 1440, False)} - 1 AS ws_sold_time_sk,
            item_sk AS ws_item_sk, {per_order('c', 10000)} AS ws_bill_customer_sk,
            {per_order('wp', 60)} AS ws_web_page_sk, {per_order('ws', 30)} AS ws_web_site_sk,
            {per_order('sm', 20)} AS ws_ship_mode_sk, {per_order('w', 5)} AS ws_warehouse_sk,
            {per_order('p', 30)} AS ws_promo_sk, 1 + o // 8 AS ws_order_number""", rows)
    if name == "inventory":
        return f"""SELECT 2450815 + 7 * (o // 10000) AS inv_date_sk, 1 + (o % 2000) AS inv_item_sk,
                          1 + (o // 2000) % 5 AS inv_warehouse_sk,
                          CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 1000)::INTEGER END AS
                              inv_quantity_on_hand
                   FROM range({rows}) t(o)"""
    returns = {"store_returns": ("sr", "store_sales", "ss", "ticket_number", "sr_returned_date_sk",
                                 "ss_customer_sk AS sr_customer_sk, ss_store_sk AS sr_store_sk", "return_amt"),
               "catalog_returns": ("cr", "catalog_sales", "cs", "order_number", "cr_returned_date_sk",
                                   "cs_bill_customer_sk AS cr_refunded_customer_sk, "
                                   "cs_call_center_sk AS cr_call_center_sk", "return_amount"),
               "web_returns": ("wr", "web_sales", "ws", "order_number", "wr_returned_date_sk",
                               "ws_bill_customer_sk AS wr_refunded_customer_sk, ws_web_page_sk AS wr_web_page_sk",
                               "return_amt")}
    p, sales, s, number, date_key, refs, amount = returns[name]
    return f"""SELECT {s}_sold_date_sk + floor(random() * 60)::INTEGER AS {date_key}, {s}_item_sk AS {p}_item_sk,
        {refs},
                      CASE WHEN random() < 0.02 THEN NULL ELSE 1 + floor(random() * 35)::INTEGER END AS {p}_reason_sk,
                      {s}_{number} AS {p}_{number}, rq AS {p}_return_quantity,
                      (rq * {s}_sales_price)::DECIMAL(9, 2) AS {p}_{amount}, (random() * 100)::DECIMAL(7, 2) AS {p}_fee
               FROM (SELECT *, 1 + floor(random() * {s}_quantity)::INTEGER AS rq FROM {sales}
                     USING SAMPLE reservoir({rows} ROWS) REPEATABLE (7))"""


def generate(directory: Path, scale: float = 1.0) -> list[Path]:
    """The 24 tables as Parquet files in `directory`."""
    import duckdb

    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")  # with one thread, setseed makes the files the same every time
    con.execute("SELECT setseed(0.42)")
    for name, (rows, select) in DIMENSIONS.items():
        con.execute(f"CREATE TABLE {name} AS SELECT {select} FROM range({rows}) t(i)")
    for name, rows in FACT_ROWS.items():
        con.execute(f"CREATE TABLE {name} AS {_fact_sql(name, max(1, round(rows * scale)))}")
    files = []
    for name in [*DIMENSIONS, *FACT_ROWS]:
        path = directory / f"{name}.parquet"
        con.execute(f"COPY {name} TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)")
        files.append(path)
    con.close()
    return files


# --- one run, in its own process ----------------------------------------------------------------


def _child(directory: str, workspace: str) -> None:
    import dataraum_context as dc
    from dataraum_context.engines import local

    cpu: dict[str, float] = {}
    execute = local._execute

    def timed(dr, name, *args, **kwargs):  # the engine runs one step at a time: its CPU time, all threads
        c0 = time.process_time()
        try:
            return execute(dr, name, *args, **kwargs)
        finally:
            cpu[name] = time.process_time() - c0

    local._execute = timed
    files = sorted(str(p) for p in Path(directory).glob("*.parquet"))
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = dc.run("default", sources=files, workspace=workspace)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    if not run.succeeded:
        failed = "; ".join(f"{s.name}: {s.error}" for s in run.failed_steps)
        raise SystemExit(f"default failed: {failed}")
    steps = [{"name": s.name, "status": s.status, "duration_s": s.duration_s, "cpu_s": cpu.get(s.name, 0.0)}
             for s in run.steps]
    report({"seconds": seconds, "cpu_seconds": cpu_seconds, "load": os.getloadavg()[0],
            "steps": steps, "warnings": list(run.warnings)})


def measure(directory: Path, workspace: Path) -> dict:
    return measure_in_process(__file__, ["--measure", str(directory), "--workspace", str(workspace)],
                              "the default pipeline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the fact tables' rows")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the Parquet files and workspaces go (default: a new temporary directory)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of the run")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        _child(args.measure, args.workspace)
        return 0

    import duckdb

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dataraum-star-"))
    data = workdir / f"star_{args.scale:g}"
    t0 = time.perf_counter()
    files = generate(data, args.scale)
    size = sum(f.stat().st_size for f in files)
    fact_rows = sum(max(1, round(r * args.scale)) for r in FACT_ROWS.values())
    print(f"generated {len(files)} tables ({fact_rows:,} fact rows, {size / 1024 / 1024:.1f} MiB of Parquet) "
          f"in {data} in {time.perf_counter() - t0:.1f} s")
    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, {os.cpu_count()} cores, "
          f"{platform.machine()}")

    runs = []
    for rep in range(args.repeat):
        result = measure(data, workdir / f"workspace_{rep}_{time.time_ns()}")  # fresh: no cache
        runs.append(result)
        print(f"[{rep + 1}/{args.repeat}] default  {result['seconds']:8.2f} s  (CPU {result['cpu_seconds']:.2f} s, "
              f"load average {result['load']:.1f} at the end)")
    total = statistics.median(r["seconds"] for r in runs)
    cpu_total = statistics.median(r["cpu_seconds"] for r in runs)
    names = [s["name"] for s in runs[0]["steps"]]
    times = {n: statistics.median(s["duration_s"] or 0.0 for r in runs for s in r["steps"] if s["name"] == n)
             for n in names}
    cpu = {n: statistics.median(s["cpu_s"] for r in runs for s in r["steps"] if s["name"] == n) for n in names}
    agg = f"median of {args.repeat}" if args.repeat > 1 else "1 run"
    print()
    print(f"| default on the star, scale {args.scale:g} ({len(files)} tables, {fact_rows:,} fact rows, "
          f"{size / 1024 / 1024:.1f} MiB) | wall (s, {agg}) | CPU (s, all threads) | share of CPU |")
    print("|---|---:|---:|---:|")
    for name in sorted(cpu, key=cpu.get, reverse=True):
        print(f"| `{name}` | {times[name]:.2f} | {cpu[name]:.2f} | {100 * cpu[name] / cpu_total:.0f}% |")
    wall_out, cpu_out = total - sum(times.values()), cpu_total - sum(cpu.values())
    print(f"| (driver build, outside steps) | {wall_out:.2f} | {cpu_out:.2f} | {100 * cpu_out / cpu_total:.0f}% |")
    print(f"| **whole run** | **{total:.2f}** | **{cpu_total:.2f}** | |")
    for warning in runs[0]["warnings"]:
        print(f"warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
