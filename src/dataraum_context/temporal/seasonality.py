"""Seasonality: how much of a series a calendar cycle (weekday, month of year) explains."""

from __future__ import annotations

import numpy as np

from dataraum_context.models import SeasonalityHint
from dataraum_context.temporal.detrending import linear

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def seasonality(cycle: str, labels: tuple[str, ...], groups: np.ndarray, y: np.ndarray,
                min_strength: float) -> SeasonalityHint | None:
    """Share of the detrended series' variance explained by the cycle's means (eta squared),
    with the positions (`groups`, indices into `labels`) of the highest and lowest mean; None
    below `min_strength`."""
    if len(y) < 3:
        return None
    y = y - linear(y)
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return None
    means = {int(g): float(y[groups == g].mean()) for g in np.unique(groups)}
    between = sum(float(np.sum(groups == g)) * (mean - y.mean()) ** 2 for g, mean in means.items())
    strength = between / total
    if strength < min_strength:
        return None
    return SeasonalityHint(cycle=cycle, strength=round(strength, 4),
                           peak=labels[max(means, key=means.__getitem__)],
                           trough=labels[min(means, key=means.__getitem__)])
