"""Direction: whether a series increases, decreases or stays flat."""

from __future__ import annotations

import numpy as np

from dataraum_context.temporal.detrending import linear

MIN_CHANGE = 0.1  # the fitted change over the span, relative to the mean level, a trend needs


def direction(y: np.ndarray, min_r2: float) -> tuple[str, float | None, float | None]:
    """`increasing`, `decreasing` or `flat`; the fitted change over the span relative to the
    mean level; and the line's fit (R²). A direction needs a fit of `min_r2` and a change of
    `MIN_CHANGE`."""
    n = len(y)
    if n < 3 or not np.isfinite(y).all() or np.ptp(y) == 0:
        return "flat", 0.0, None
    fitted = linear(y)
    slope = (fitted[-1] - fitted[0]) / (n - 1)
    r2 = 1 - float(np.sum((y - fitted) ** 2)) / float(np.sum((y - y.mean()) ** 2))
    level = float(np.mean(np.abs(y)))
    change = float(slope * (n - 1) / level) if level else None
    if change is not None and r2 >= min_r2 and abs(change) >= MIN_CHANGE:
        return ("increasing" if change > 0 else "decreasing"), change, r2
    return "flat", change, r2
