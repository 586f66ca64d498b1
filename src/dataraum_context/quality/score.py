"""The score (docs/QUALITY.md). A check that did not pass costs its failing share
f = failing / total, weighted by its severity w (error 1, warning 0.5, info 0.1): a table
scores the product of (1 - w·f) over those checks; 1 when every check passed, whatever the
number of checks, lower the more rows fail and the worse the severity. The overall score is
the row-weighted mean of the tables' scores."""

from __future__ import annotations

import math
from collections.abc import Iterable

from dataraum_context.models import QualityResult, TableQuality

SEVERITY_WEIGHTS = {"error": 1.0, "warning": 0.5, "info": 0.1}


def table_quality(name: str, results: list[QualityResult]) -> TableQuality:
    """The table's results, failures first (most severe, widest), with its score: the product
    of (1 - severity weight x failing share) over the checks that did not pass."""
    ran = [r for r in results if r.error is None and r.total_rows]
    score = round(math.prod(1 - SEVERITY_WEIGHTS[r.severity] * min(1.0, r.failing_share or 0.0)
                            for r in ran if not r.passed), 4) if ran else None
    ordered = sorted(results, key=lambda r: (r.passed, r.error is not None, -SEVERITY_WEIGHTS[r.severity],
                                             -(r.failing_share or 0.0), r.check, r.columns))
    return TableQuality(name=name, score=score, checks=len(results),
                        failed=sum(1 for r in results if not r.passed and r.error is None),
                        errors=sum(1 for r in results if r.error is not None), results=tuple(ordered))


def overall_score(scored: Iterable[tuple[int, float | None]]) -> float | None:
    """The tables' scores weighted by their rows, from (rows, score) pairs; tables without a
    score do not count."""
    pairs = [(rows, score) for rows, score in scored if score is not None]
    total = sum(rows for rows, _ in pairs)
    return round(sum(rows * score for rows, score in pairs) / total, 4) if total else None
