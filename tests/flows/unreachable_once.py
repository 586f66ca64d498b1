"""A step whose service is unreachable the first time it is asked (to test retries)."""

from pathlib import Path

from dataraum_context.models import StagingResult
from dataraum_context.step import step


@step(scope="source", phase="enrichment", criticality="required")
def unreachable_once(staging: StagingResult, calls_file: str) -> int:
    """Counts its calls in `calls_file`; the first one fails on a refused connection."""
    calls = Path(calls_file)
    count = int(calls.read_text()) + 1 if calls.exists() else 1
    calls.write_text(str(count))
    if count == 1:
        raise ConnectionRefusedError("the enrichment service refused the connection")
    return len(staging.tables)
