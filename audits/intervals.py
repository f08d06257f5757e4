"""Closed-form confidence intervals for proportions, their differences and ratios, vectorised over groups.

Every function takes arrays of event counts ``x`` and denominators ``n`` (one entry per group or
comparison) and returns arrays, so one call serves every group of every feature. Each group's
denominator is treated as fixed (inference conditional on the group's size), the standard footing of
these intervals; groups compared with each other are disjoint, hence independent.

* proportion: Wilson's score interval. Unlike the Wald interval or a percentile bootstrap it is
  never degenerate: with 0 events out of n it is [0, z²/(n + z²)], not [0, 0].
* difference of two proportions: Newcombe's hybrid score interval (his method 10), built from the
  two Wilson intervals.
* ratio of two proportions: Koopman's asymptotic score interval, i.e. the set of ratios φ whose
  score test (Miettinen-Nurminen statistic without the N / (N - 1) factor, restricted maximum
  likelihood of Farrington and Manning) is not rejected. It is found by bisection on log φ,
  vectorised. Zero events in the group give a lower bound of 0; zero events in the reference give
  an unbounded upper bound (``inf``), which is what the data say.
* Katz's log interval, with 0.5 added to every cell of a 2×2 table that has a zero cell, is kept
  for comparison: the coverage simulation in ``tests/audits/test_intervals.py`` chose Koopman.

The one-sided p-values for "the ratio lies outside a band [low, high]" come from the same score
statistic, so a p-value below 1 - level happens exactly when the interval at that level lies
outside the band.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

_LOG_RANGE = (-40.0, 40.0)  # ratios searched between e^-40 and e^40; beyond that a bound is 0 or inf
_BISECTIONS = 56  # halves the log-scale search width of 80 down to about 1e-15


def z_value(level: float) -> float:
    """The standard normal quantile of a two-sided interval at ``level`` (1.96 at 0.95)."""
    return float(ndtri(0.5 + level / 2))


def wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for x / n; NaN where n is 0."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (x + z * z / 2) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(x * (n - x) / n + z * z / 4)
        low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    low = np.where(x == 0, 0.0, low)  # exact at the edges, whatever the rounding
    high = np.where(x == n, 1.0, high)
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def newcombe(x1, n1, x2, n2, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for x1/n1 - x2/n2 (method 10); NaN where a denominator is 0."""
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    delta = p1 - p2
    return delta - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), delta + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


class _Score:
    """The signed score statistic of H0: p1 / p2 = phi for fixed tables, as a function of phi.

    The restricted maximum-likelihood p2 under p1 = phi * p2 has a closed form (Farrington and
    Manning 1990); the statistic decreases as phi grows. Per-table constants are computed once,
    so a bisection evaluates only what depends on phi.
    """

    def __init__(self, x1, n1, x2, n2):
        self.n1, self.n2, self.total = n1, n2, n1 + n2
        self.c = x1 + x2
        self.b0, self.b1 = x1 + n2, n1 + x2  # b = -(b0 + b1 phi)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.p1, self.p2 = x1 / n1, x2 / n2

    def __call__(self, phi) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            minus_b = self.b0 + self.b1 * phi
            root = np.sqrt(np.maximum(minus_b * minus_b - 4 * self.total * phi * self.c, 0.0))
            p2 = np.clip(2 * self.c / (minus_b + root), 0.0, 1.0)  # the smaller root, without cancellation
            p2 = np.where(self.c > 0, p2, 0.0)
            p1 = np.minimum(phi * p2, 1.0)
            numerator = self.p1 - phi * self.p2
            variance = p1 * (1 - p1) / self.n1 + phi * phi * p2 * (1 - p2) / self.n2
            stat = numerator / np.sqrt(variance)
        return np.where(variance > 0, stat, np.sign(numerator) * np.where(numerator == 0, 0.0, np.inf))


def koopman_statistic(phi, x1, n1, x2, n2) -> np.ndarray:
    """Signed score statistic of H0: p1 / p2 = phi; it decreases as phi grows."""
    phi, x1, n1, x2, n2 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (phi, x1, n1, x2, n2)))
    return _Score(x1, n1, x2, n2)(phi)


def koopman(x1, n1, x2, n2, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Koopman's score interval for (x1/n1) / (x2/n2): low may be 0 and high inf; NaN where a denominator is 0."""
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x1, n1, x2, n2)))
    size = x1.size
    both = [np.concatenate([a.ravel(), a.ravel()]) for a in (x1, n1, x2, n2)]  # both bounds in one bisection
    target = np.concatenate([np.full(size, z), np.full(size, -z)])
    bounds = _bound(_Score(*both), target)
    empty = ((n1 <= 0) | (n2 <= 0)).ravel()
    low, high = (np.where(empty, np.nan, half).reshape(x1.shape) for half in (bounds[:size], bounds[size:]))
    return low, high


def _bound(score: _Score, target: np.ndarray) -> np.ndarray:
    """Where the statistic (decreasing in the ratio) first drops to ``target``: bisection on log phi.

    0 when it is already at or below ``target`` at the smallest ratio searched (no events in the group,
    for the lower bound), inf when it is still above at the largest (no events in the reference, for
    the upper bound).
    """
    lo = np.full(target.shape, _LOG_RANGE[0])
    hi = np.full(target.shape, _LOG_RANGE[1])
    at_zero = score(np.exp(lo)) <= target
    at_infinity = score(np.exp(hi)) > target
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        above = score(np.exp(mid)) > target
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.where(at_zero, 0.0, np.where(at_infinity, np.inf, np.exp((lo + hi) / 2)))


def katz(x1, n1, x2, n2, z: float, correction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Katz's log interval for the ratio; ``correction`` is added to every cell of a table with a zero cell."""
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x1, n1, x2, n2)))
    zero = (x1 == 0) | (x2 == 0) | (x1 == n1) | (x2 == n2)
    c = np.where(zero, correction, 0.0)
    a, b = x1 + c, x2 + c
    m1, m2 = n1 + 2 * c, n2 + 2 * c
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.log(a / m1) - np.log(b / m2)
        se = np.sqrt(1 / a - 1 / m1 + 1 / b - 1 / m2)
    empty = (n1 <= 0) | (n2 <= 0)
    return np.where(empty, np.nan, np.exp(centre - z * se)), np.where(empty, np.nan, np.exp(centre + z * se))


def band_p_values(x1, n1, x2, n2, band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """One-sided score p-values for "ratio < band[0]" and "ratio > band[1]"; NaN where a denominator is 0."""
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x1, n1, x2, n2)))
    below = ndtr(koopman_statistic(band[0], x1, n1, x2, n2))
    above = ndtr(-koopman_statistic(band[1], x1, n1, x2, n2))
    empty = (n1 <= 0) | (n2 <= 0)
    return np.where(empty, np.nan, below), np.where(empty, np.nan, above)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries are not part of the family and stay NaN)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    if m == 0:
        return adjusted
    order = tested[np.argsort(p[tested], kind="stable")]
    steps = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(steps)
    return adjusted
