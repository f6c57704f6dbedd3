"""Intervals and the rules that read them: a verdict from a measured interval, never from a single number.

``bootstrap`` resamples styles and seeds (both with replacement, independently) of a ``(styles, seeds)``
array of per-cell values and returns the statistic's 95% percentile interval. ``interval_verdict`` turns an
interval and a threshold into holds / does not hold / inconclusive (the interval straddles the threshold).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE = "holds", "does not hold", "inconclusive", "not testable at this scale"
LEVEL = 0.95


def bootstrap(values: np.ndarray, stat: Callable[[np.ndarray], float], *, n_boot: int = 2000,
              seed: int = 0) -> tuple[float, float]:
    """The ``LEVEL`` percentile interval of ``stat`` over resamples of ``values`` (styles, seeds, ...): styles
    and seeds each drawn with replacement (a two-way bootstrap; one style or one seed gives no spread on that
    axis); further axes (e.g. snapshots) travel with their cell."""
    values = np.asarray(values, dtype=float)
    if values.ndim < 2 or not values.size:
        raise ValueError(f"bootstrap needs a non-empty (styles, seeds, ...) array, got shape {values.shape}")
    rng = np.random.default_rng(seed)
    n_s, n_k = values.shape[:2]
    out = np.empty(n_boot)
    for b in range(n_boot):
        out[b] = stat(values[rng.integers(0, n_s, n_s)][:, rng.integers(0, n_k, n_k)])
    a = (1 - LEVEL) / 2
    # order statistics, never interpolated: a statistic may be inf ("never reached"), and inf - inf is nan
    return float(np.quantile(out, a, method="lower")), float(np.quantile(out, 1 - a, method="higher"))


def geomean_interval(log_ratios: np.ndarray, **kw) -> dict:
    """Geometric mean of per-cell ratios (given as logs, (styles, seeds)) with its bootstrap interval."""
    lo, hi = bootstrap(log_ratios, np.mean, **kw)
    return {"value": math.exp(float(np.mean(log_ratios))), "lo": math.exp(lo), "hi": math.exp(hi)}


def median_interval(values: np.ndarray, **kw) -> dict:
    """Median of per-cell values ((styles, seeds); ``inf`` allowed: never reached) with its bootstrap interval."""
    lo, hi = bootstrap(values, np.median, **kw)
    return {"value": float(np.median(values)), "lo": lo, "hi": hi}


def interval_verdict(lo: float, hi: float, threshold: float, *, below: bool = True) -> str:
    """``below``: the claim is "the quantity is below ``threshold``": holds iff the whole interval is below it,
    does not hold iff the whole interval is at or above it, inconclusive when the interval straddles it.
    ``below=False`` reverses the direction."""
    if not (lo <= hi) or math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"not an interval: [{lo}, {hi}]")
    if below:
        return HOLDS if hi < threshold else FAILS if lo >= threshold else INCONCLUSIVE
    return HOLDS if lo > threshold else FAILS if hi <= threshold else INCONCLUSIVE


def fmt(iv: dict, digits: int = 3) -> str:
    """``0.812 [0.74, 0.90]``."""
    return f"{iv['value']:.{digits}g} [{iv['lo']:.{digits}g}, {iv['hi']:.{digits}g}]"
