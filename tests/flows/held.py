"""A step that holds its run open until the test lets it go (to test the workspace lock)."""

import time
from pathlib import Path

from dataraum_context.models import StagingResult
from dataraum_context.step import step


@step(scope="source", phase="enrichment", criticality="optional")
def held_open(staging: StagingResult, release_file: str) -> int:
    """Says it started (`<release_file>.started`), then waits up to a minute for `release_file`."""
    release = Path(release_file)
    release.with_name(release.name + ".started").touch()
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(staging.tables)
