"""Detrending: a series without its linear trend, or without its calendar cycle."""

from __future__ import annotations

import numpy as np


def linear(y: np.ndarray) -> np.ndarray:
    """The least-squares line through the series, at each of its points."""
    t = np.arange(len(y), dtype=float)
    slope, intercept = np.polyfit(t, y, 1)
    return slope * t + intercept


def without_cycle(y: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """The series with each cycle position's mean deviation removed (a weekday effect must not
    hide a trend); `groups` gives each point's position, None for no cycle."""
    if groups is None:
        return y
    out = y.astype(float).copy()
    for g in np.unique(groups):
        out[groups == g] -= y[groups == g].mean() - y.mean()
    return out
