"""Staging a PostgreSQL table: time and peak memory against the table's size.

Starts a private PostgreSQL server (as the tests do), fills a table with generate_series, and
stages it in a fresh Python process for each batch size, so the process's peak RSS shows
whether the table passed through memory whole or batch by batch.

    python benchmarks/postgres_staging.py --rows 2000000 --batch-rows 10000 50000 200000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.servers import running_postgres

_TABLE = """
DROP TABLE IF EXISTS public.events;
CREATE TABLE public.events AS
SELECT g AS id, md5(g::text) AS label, (g % 100000) / 100.0::numeric(12, 2) AS amount,
       timestamptz '2024-01-01' + g * interval '1 second' AS at, g % 3 = 0 AS flag
FROM generate_series(1, {rows}) AS g;
ALTER TABLE public.events ALTER COLUMN amount TYPE numeric(12, 2);
"""

_MEASURE = """
import json, resource, sys, time
from dataraum_context.loaders.base import resolve_sources
from dataraum_context.workspace import Workspace
[loader] = resolve_sources([sys.argv[1]])
loader.options["batch_rows"] = int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
staged = loader.load(Workspace(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": staged.row_count,
                  "rss_before_mib": before / 1024,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-rows", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    args = parser.parse_args()
    with running_postgres() as server:
        if server is None:
            sys.exit("no PostgreSQL server installed (apt-get install postgresql)")
        server.execute(_TABLE.format(rows=args.rows))
        import psycopg

        with psycopg.connect(host=server.host, port=server.port, user=server.user,
                             password=server.password, dbname="postgres") as con:
            size = con.execute("SELECT pg_table_size('public.events')").fetchone()[0]
        print(f"{args.rows:,} rows, table {size / 2**20:.0f} MiB in PostgreSQL")
        print(f"{'batch rows':>10} {'seconds':>8} {'rows/s':>10} {'peak RSS MiB':>13} {'RSS after imports':>18}")
        env = {**os.environ, "PGPASSWORD": server.password}
        for batch in args.batch_rows:
            with tempfile.TemporaryDirectory() as ws:
                out = subprocess.run([sys.executable, "-c", _MEASURE, server.uri(schema="public", tables="events"),
                                      str(batch), ws], env=env, capture_output=True, text=True, check=True)
            m = json.loads(out.stdout)
            print(f"{batch:>10,} {m['seconds']:>8.2f} {m['rows'] / m['seconds']:>10,.0f} "
                  f"{m['peak_rss_mib']:>13.0f} {m['rss_before_mib']:>18.0f}")


if __name__ == "__main__":
    main()
