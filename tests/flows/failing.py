"""Steps that fail on purpose, to test how the engine applies criticality."""

from dataraum_context.models import StagingResult
from dataraum_context.step import part_of_step, step


@step(scope="source", phase="enrichment", criticality="optional")
def flaky_enrichment(staging: StagingResult) -> dict:
    raise RuntimeError("the enrichment service is down")


@step(scope="source", phase="enrichment", criticality="required")
def broken_requirement(staging: StagingResult, fail_required: bool = True) -> dict:
    if fail_required:
        raise ValueError("required step broke")
    return {"tables": sorted(staging.tables)}


@step(scope="source", phase="enrichment", criticality="required")
def needs_broken(broken_requirement: dict) -> dict:
    return broken_requirement


@part_of_step("needs_broken_through_a_part")
def part_needing_broken(broken_requirement: dict) -> dict:
    return broken_requirement


@step(scope="source", phase="enrichment", criticality="required")
def needs_broken_through_a_part(part_needing_broken: dict) -> dict:
    return part_needing_broken


@step(scope="source", phase="enrichment", criticality="optional")
def independent_enrichment(staging: StagingResult) -> int:
    return len(staging.tables)


@step(scope="source", phase="enrichment", criticality="critical")
def critical_failure(staging: StagingResult, fail_critical: bool = False) -> int:
    if fail_critical:
        raise RuntimeError("critical step broke")
    return 1
