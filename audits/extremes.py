"""Between-groups extremes of a bias audit (Fairlearn's ``difference()`` and ``ratio()``), with bootstrap intervals.

The largest gap between any two groups (max - min, min / max) and the largest gap to the overall
population (Fairlearn's ``method='to_overall'``: max |group - overall|, min of group / overall folded
below 1) have no closed-form interval: they are maxima over groups. They keep a percentile
bootstrap, drawn on counts: resampling N rows with replacement makes a feature's (group, cell)
counts one multinomial draw with probabilities count / N, which is exactly what Fairlearn's
whole-dataset bootstrap does for count-based metrics, at a cost independent of N. An interval is
withheld (null) when more than 1 - level of the replicates are undefined, or when it would have zero
width (every replicate equal), so none is ever degenerate.

``num`` and ``triple`` write numbers as results carry them: plain floats, null for NaN or infinity.
"""

from __future__ import annotations

import math

import numpy as np

_MAX_DRAW_CELLS = 4_000_000  # bootstrap counts drawn per chunk: bounds memory whatever the number of groups


def bootstrap(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Resampled (B, groups, 4) counts: N rows drawn with replacement is one multinomial over the cells."""
    total = int(counts.sum())
    boot = np.zeros((n_boot, *counts.shape), dtype=np.int64)
    chunk = max(1, _MAX_DRAW_CELLS // counts.size)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        boot[start : start + size] = rng.multinomial(total, counts.ravel() / total, size=size).reshape(size, -1, 4)
    return boot


def extremes(metrics: tuple[str, ...], labels: list[str], keys: list[str], value: np.ndarray, defined: np.ndarray,
             overall: np.ndarray, x: np.ndarray, n: np.ndarray, level: float) -> list[dict]:
    """Fairlearn's difference and ratio between groups and to the overall, per metric, with bootstrap intervals.

    ``value`` and ``defined`` are the groups' point values (Fairlearn's 0.0 when undefined), (groups,
    metrics); ``overall`` the whole population's, (metrics,); ``x`` and ``n`` the events and
    denominators per replicate, (B, groups, metrics). A replicate's undefined group values are left out.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        boot_overall = x.sum(axis=1, keepdims=True) / np.maximum(n.sum(axis=1, keepdims=True), 1)
        high_s, low_s = _max_over_groups(samples), -_max_over_groups(-samples)
        ratio_s = np.where(high_s > 0, low_s / high_s, np.nan)
        to_overall_s = np.where(boot_overall > 0, samples / boot_overall, np.nan)
        ratio_overall_s = -_max_over_groups(-np.where(to_overall_s > 1, 1 / to_overall_s, to_overall_s))
    diff_overall_s = _max_over_groups(np.abs(samples - boot_overall))
    stats = np.concatenate([high_s - low_s, ratio_s, diff_overall_s, ratio_overall_s], axis=1)  # (B, 4 metrics)
    low, high = _percentile(stats, level, 1 - level)
    k = len(metrics)
    intervals = {part: (low[i * k : (i + 1) * k], high[i * k : (i + 1) * k])
                 for i, part in enumerate(("difference", "ratio", "difference_to_overall", "ratio_to_overall"))}
    top, bottom = value.max(axis=0), value.min(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_overall = np.where(overall > 0, value / overall, np.nan)
        folded = np.where(to_overall > 1, 1 / to_overall, to_overall)
        points = {
            "difference": top - bottom,
            "ratio": np.where(top > 0, bottom / top, np.nan),
            "difference_to_overall": np.abs(value - overall).max(axis=0),
            "ratio_to_overall": -_max_over_groups(-folded[None])[0],
        }
    argmax, argmin = value.argmax(axis=0), value.argmin(axis=0)
    return [
        {"metric": metric,
         **{part: triple(points[part][j], intervals[part][0][j], intervals[part][1][j]) for part in points},
         "max_group": labels[argmax[j]], "min_group": labels[argmin[j]],
         "max_key": keys[argmax[j]], "min_key": keys[argmin[j]],
         "defined": bool(defined[:, j].all() and top[j] > 0)}
        for j, metric in enumerate(metrics)
    ]  # fmt: skip


def _max_over_groups(samples: np.ndarray) -> np.ndarray:
    """Maximum over groups (axis 1), ignoring NaN; NaN when every group is undefined."""
    top = np.where(np.isnan(samples), -np.inf, samples).max(axis=1, initial=-np.inf)
    return np.where(np.isneginf(top), np.nan, top)


def _percentile(samples: np.ndarray, level: float, max_undefined: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column over replicates (NumPy's linear rule, NaN left out).

    Withheld (NaN) where more than ``max_undefined`` of the replicates are undefined, or where the
    interval would have zero width.
    """
    columns = samples.shape[1]
    if samples.shape[0] == 0:
        return np.full(columns, np.nan), np.full(columns, np.nan)
    ordered = np.sort(samples, axis=0)  # NaN last
    valid = (~np.isnan(samples)).sum(axis=0)
    alpha = (1 - level) / 2
    bounds = []
    for q in (alpha, 1 - alpha):
        position = q * np.maximum(valid - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        low_value = np.take_along_axis(ordered, below[None], axis=0)[0]
        high_value = np.take_along_axis(ordered, above[None], axis=0)[0]
        bounds.append(low_value + (position - below) * (high_value - low_value))
    low, high = bounds
    withheld = (valid == 0) | (1 - valid / samples.shape[0] > max_undefined) | ~(high > low)
    return np.where(withheld, np.nan, low), np.where(withheld, np.nan, high)


def triple(value, low, high) -> dict:
    """{value, ci_low, ci_high} as plain JSON numbers."""
    return {"value": num(value), "ci_low": num(low), "ci_high": num(high)}


def num(value) -> float | None:
    """A float, or None for NaN and infinities (results are strict JSON)."""
    value = float(value)
    return value if math.isfinite(value) else None
