"""What the durable engines (prefect, temporal) share: a step's run is one attempt, and their
orchestrator retries it, also when its result lists sources that failed on something passing."""

from __future__ import annotations

from typing import Any

from dataraum_context.errors import first_line
from dataraum_context.pipeline import Retries


class SourcesMayPass(Exception):
    """A step read its sources but some failed on something that may pass (an API's 503): an
    attempt to retry while retries are left (the local engine's `_with_retries` does so too)."""

    transient = True


def check_sources(result: Any, attempt: int, retries: Retries) -> Any:
    """`result`, or SourcesMayPass when it lists sources that failed so and retries are left."""
    passing = [f for f in getattr(result, "failures", ()) if getattr(f, "transient", False)]
    if passing and attempt <= retries.count:
        raise SourcesMayPass(f"source {passing[0].source} failed: {passing[0].reason}")
    return result


def retry_warning(name: str, exc: BaseException, attempt: int, retries: Retries) -> str:
    """The run's warning that step `name` runs again after its `attempt` failed with `exc`."""
    reason = first_line(exc) if isinstance(exc, SourcesMayPass) else f"{type(exc).__name__}: {first_line(exc)}"
    return (f"step {name} ran again after {reason} (retry {attempt} of {retries.count}, "
            f"after {backoff(attempt, retries):g}s)")


def backoff(attempt: int, retries: Retries) -> float:
    """The wait before the retry after `attempt` (1-based): doubling from `backoff_s`, capped."""
    return min(retries.max_backoff_s, retries.backoff_s * 2 ** (attempt - 1))
