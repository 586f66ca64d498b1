"""A per-table step that holds one table open until the test lets it go: a run can be killed in
the middle of a step, with some tables finished and one half written."""

import time
from pathlib import Path

from hamilton.htypes import Collect, Parallelizable

from dataraum_context.models import StatisticsResult, TableStatistics
from dataraum_context.step import part_of_step, step
from dataraum_context.workspace import Workspace, temp_path


@part_of_step("held_profile")
def table_to_hold(statistics_profiling: StatisticsResult) -> Parallelizable[TableStatistics]:
    yield from (statistics_profiling.tables[name] for name in sorted(statistics_profiling.tables))


@part_of_step("held_profile")
def held_table(table_to_hold: TableStatistics, workspace: str, hold_table: str, release_file: str) -> int:
    """Writes `held/<table>.txt` through a temporary file; for `hold_table`, says it started
    (`<release_file>.started`) with the temporary file written, then waits for `release_file`."""
    target = Workspace(workspace).path(f"held/{table_to_hold.name}.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    tmp.write_text(str(table_to_hold.row_count))
    release = Path(release_file)
    if table_to_hold.name == hold_table:
        release.with_name(release.name + ".started").touch()
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    tmp.replace(target)
    return table_to_hold.row_count


@step(scope="table", phase="enrichment", criticality="optional")
def held_profile(held_table: Collect[int]) -> int:
    return sum(held_table)
