"""A per-table step that, for the table named by DATARAUM_TEST_SLOW_TABLE, says it started, leaves
a write in progress (a temporary file) and waits: the process running it is killed there by the
crash-and-resume tests. The variable is read inside, so it is no input: a rerun without it has the
same cache keys, and finds the other tables' results in the cache. DATARAUM_TEST_SLEEP_S makes
every table take that long."""

import os
import time

from hamilton.htypes import Collect, Parallelizable

from dataraum_context.models import StatisticsResult, TableStatistics
from dataraum_context.step import part_of_step, step
from dataraum_context.workspace import Workspace, temp_path


@part_of_step("row_counts")
def table_to_count(statistics_profiling: StatisticsResult) -> Parallelizable[TableStatistics]:
    yield from statistics_profiling.tables.values()


@part_of_step("row_counts")
def table_row_count(table_to_count: TableStatistics, workspace: str) -> tuple[str, int]:
    name = table_to_count.name
    if os.environ.get("DATARAUM_TEST_SLOW_TABLE") == name:
        ws = Workspace(workspace)
        folder = ws.path("slow")
        folder.mkdir(exist_ok=True)
        temp_path(folder / f"{name}.parquet").write_bytes(b"half a file")
        (folder / f"started-{name}").touch()
        time.sleep(300)
    time.sleep(float(os.environ.get("DATARAUM_TEST_SLEEP_S", 0)))  # every table, when set
    return name, table_to_count.row_count


@step(scope="table", phase="enrichment", criticality="required")
def row_counts(table_row_count: Collect[tuple[str, int]]) -> dict[str, int]:
    return dict(sorted(table_row_count))
