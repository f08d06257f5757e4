"""What a bias audit says about the scores, group by group: calibration with intervals, ROC and PR curves, a threshold sweep.

Computed only when the model gives scores (``y_score``), for the overall population and for every
group of every feature the engine reports (groups named by the engine's own ``group`` and
``levels``, rows matched by ``engine_adapter.group_rows``). Sizes are bounded whatever the number
of rows: per group, ``N_BINS`` reliability bins, at most ``MAX_CURVE_POINTS`` points per curve and
one value per sweep threshold (``thresholds``, shared by all groups).

Calibration (only when every score lies in [0, 1]):

* ECE: expected calibration error over ``N_BINS`` equal-count bins of the group's scores, binned
  exactly as scikit-learn's ``calibration_curve(strategy="quantile")`` (edges at the group's score
  percentiles, ``np.searchsorted(edges[1:-1], score)``, so tied scores share a bin and empty bins
  are dropped): ECE = sum over bins of n_bin / n * |observed rate - mean score|. It is biased upward
  in small groups (noise alone makes it positive), so its interval describes the statistic's
  sampling variability; the slope and intercept are the ones to judge miscalibration by.
* Slope and intercept: logistic recalibration logit P(y = 1) = intercept + slope * logit(score),
  scores clipped to [1e-6, 1 - 1e-6], fitted per group by maximum likelihood (Newton-Raphson).
  A perfectly calibrated model has slope 1 and intercept 0. Undefined (null, ``defined: false``)
  when the group has one class only or the fit does not converge (separation).

Intervals: percentile bootstrap with ``n_boot`` (the audit's, at most ``MAX_BOOT``) replicates,
stratified: each group's rows are resampled with replacement within the group, its size fixed.
Each feature draws from its own stream of the audit's seed. To bound the cost, a group of more
than ``MAX_ATOMS`` rows is resampled as ``MAX_ATOMS`` consecutive blocks of its score-sorted rows:
how many rows are drawn from each block and how many of them are events follow the row bootstrap
exactly (multinomial, then binomial), while the drawn rows take their block's mean score and mean
logit. Groups of at most ``MAX_ATOMS`` rows are resampled row by row. Point values are always
computed on the rows themselves. A replicate whose fit is undefined is left out; the interval is
withheld when more than 1 - ci_level of replicates are undefined.

Curves: scikit-learn's ``roc_curve`` and ``precision_recall_curve`` on the group's rows; ``auc``
is ``sklearn.metrics.auc`` of the full ROC curve and ``average_precision`` the step integral of
the full PR curve, i.e. what ``roc_auc_score`` and ``average_precision_score`` return. Only the
stored points, which are for drawing, are thinned and rounded to ``CURVE_DECIMALS`` decimals: ROC
points at about equal numbers of rows apart, PR points evenly over the curve's thresholds, both
always with their end points. Null when the group has one class.

Sweep: for each threshold t, selection rate, TPR and FPR of ``score >= t`` (the engine's rule) in
the group, unrounded: the values a direct recount gives. Thresholds: 0 to 1 by 0.05 for
probabilities, else the 5th to 95th percentiles of all scores rounded to 3 significant digits; plus
the audit's own. Undefined rates (no positives for TPR, no negatives for FPR) are null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audits import engine_adapter

N_BINS = 10
MAX_CURVE_POINTS = 51
SWEEP_STEP = 0.05
CURVE_DECIMALS = 4  # stored curve points are for drawing: 1/10,000 is finer than any chart
MAX_ATOMS = 200
MAX_BOOT = 500
SCORE_CLIP = 1e-6
_MAX_ITER = 50
_TOL = 1e-10
_BOOT_TOL = 1e-8  # replicates feed percentiles: eight digits are plenty

ECE_BINNING = ("equal-count bins: edges at the group's score percentiles 0, 10, ..., 100 (numpy linear "
               "interpolation), bin = np.searchsorted(inner edges, score) as scikit-learn's "
               "calibration_curve(strategy='quantile'); empty bins dropped")
CALIBRATION_MODEL = ("logit P(y=1) = intercept + slope × logit(score), score clipped to [1e-6, 1 - 1e-6], "
                     "maximum likelihood per group")
INTERVAL_METHOD = ("percentile bootstrap, rows resampled with replacement within each group (group size fixed); "
                   f"groups of more than {MAX_ATOMS} rows resampled as {MAX_ATOMS} blocks of score-sorted rows "
                   "(rows and events per block drawn exactly, drawn rows at the block's mean score and logit)")


@dataclass(frozen=True)
class _Context:
    y: np.ndarray
    s: np.ndarray
    order: np.ndarray  # rows by ascending score (stable)
    grid: np.ndarray
    probabilities: bool
    n_boot: int
    ci_level: float


def score_metrics(frame: pd.DataFrame, result: dict, *, label: str, y_score: np.ndarray | None, params: Any) -> dict | None:
    """Calibration, curves and threshold sweep for the overall population and each group of ``result``; None without scores."""
    if y_score is None:
        return None
    y = frame[label].to_numpy().astype(np.int64)
    s = np.asarray(y_score, dtype=float)
    if s.shape != y.shape or not np.isfinite(s).all():
        raise ValueError("y_score must be finite and have one value per row")
    probabilities = bool(((s >= 0) & (s <= 1)).all())
    threshold = float(getattr(params, "threshold", 0.5))
    seed = int(getattr(params, "seed", 0))
    n_boot = max(0, min(int(getattr(params, "n_boot", MAX_BOOT)), MAX_BOOT))
    ctx = _Context(y=y, s=s, order=np.argsort(s, kind="stable"), grid=threshold_grid(s, threshold, probabilities),
                   probabilities=probabilities, n_boot=n_boot, ci_level=float(getattr(params, "ci_level", 0.95)))
    streams = np.random.SeedSequence(seed).spawn(1 + len(result["features"]))
    overall = _grouping(np.zeros(y.size, dtype=np.int64), 1, ctx, np.random.default_rng(streams[0]))[0]
    features = []
    for feature, stream in zip(result["features"], streams[1:], strict=True):
        rows = engine_adapter.group_rows(frame, feature)
        entries = _grouping(rows, len(feature["groups"]), ctx, np.random.default_rng(stream))
        features.append({
            "name": feature["name"],
            "columns": list(feature["columns"]),
            "groups": [{"group": group["group"], "levels": group["levels"], **entry}
                       for group, entry in zip(feature["groups"], entries, strict=True)],
        })
    return {
        "thresholds": [float(t) for t in ctx.grid],
        "operating_threshold": threshold,
        "calibration": {
            "status": "computed" if probabilities else "scores_not_probabilities",
            "bins": N_BINS, "binning": ECE_BINNING, "model": CALIBRATION_MODEL, "score_clip": SCORE_CLIP,
        },
        "intervals": {"method": INTERVAL_METHOD, "n_boot": n_boot, "seed": seed, "ci_level": ctx.ci_level,
                      "max_atoms": MAX_ATOMS},
        "max_curve_points": MAX_CURVE_POINTS,
        "overall": overall,
        "features": features,
    }


def threshold_grid(s: np.ndarray, threshold: float, probabilities: bool) -> np.ndarray:
    """The sweep's thresholds: a fixed grid for probabilities, rounded percentiles otherwise; plus the audit's."""
    steps = round(1 / SWEEP_STEP)
    if probabilities:
        grid = np.round(np.arange(steps + 1) * SWEEP_STEP, 10)
    else:
        quantiles = np.quantile(s, np.arange(1, steps) * SWEEP_STEP)
        grid = np.array([float(f"{q:.3g}") for q in quantiles])
    return np.unique(np.append(grid, threshold))


def _grouping(codes: np.ndarray, size: int, ctx: _Context, rng: np.random.Generator) -> list[dict]:
    """One entry per group, from one stable sort of the score-sorted rows by group."""
    dtype = np.uint8 if size <= 255 else np.uint16 if size <= 65535 else np.int64  # radix sort for small codes
    perm = ctx.order[np.argsort(codes[ctx.order].astype(dtype), kind="stable")]
    counts = np.bincount(codes, minlength=size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    entries = []
    for g in range(size):
        rows = perm[starts[g] : starts[g] + counts[g]]
        entries.append(_group(ctx.y[rows], ctx.s[rows], ctx, rng))
    return entries


def _group(y: np.ndarray, s: np.ndarray, ctx: _Context, rng: np.random.Generator) -> dict:
    n, positives = int(y.size), int(y.sum())
    entry: dict[str, Any] = {"count": n, "positives": positives}
    if ctx.probabilities:
        entry.update(_calibration(y, s, ctx, rng))
    else:
        entry.update(ece=None, calibration_slope=None, calibration_intercept=None, reliability=None)
    entry["roc"], entry["pr"] = _curves(y, s) if 0 < positives < n else (None, None)
    entry["sweep"] = _sweep(y, s, ctx.grid)
    return entry


# -- threshold sweep and curves -------------------------------------------------------------------


def _sweep(y: np.ndarray, s: np.ndarray, grid: np.ndarray) -> dict[str, list]:
    n, positives = y.size, int(y.sum())
    negatives = n - positives
    below = np.searchsorted(s, grid, side="left")  # s is sorted: rows with score < t
    events_below = np.concatenate(([0], np.cumsum(y)))[below]
    selected = n - below
    tp = positives - events_below
    fp = selected - tp

    def rate(numerator: np.ndarray, denominator: int) -> list:
        return [float(v) / denominator for v in numerator] if denominator else [None] * len(numerator)

    return {"selection_rate": rate(selected, n), "tpr": rate(tp, positives), "fpr": rate(fp, negatives)}


def _spread(length: int, positions: np.ndarray, total: float) -> np.ndarray:
    """Indices of at most MAX_CURVE_POINTS points, about evenly spaced in ``positions`` (ascending), ends kept."""
    targets = np.linspace(positions[0], total, MAX_CURVE_POINTS)
    chosen = np.clip(np.searchsorted(positions, targets, side="left"), 0, length - 1)
    return np.unique(np.concatenate(([0], chosen, [length - 1])))


def _curves(y: np.ndarray, s: np.ndarray) -> tuple[dict, dict]:
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    positives = int(y.sum())
    fpr, tpr, _ = roc_curve(y, s)
    rows = np.rint(fpr * (y.size - positives) + tpr * positives)  # rows at or above each threshold
    keep = _spread(fpr.size, rows, float(y.size))
    roc = {"auc": float(auc(fpr, tpr)), "fpr": _rounded(fpr[keep]), "tpr": _rounded(tpr[keep])}
    precision, recall, _ = precision_recall_curve(y, s)
    average_precision = float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))
    keep = _spread(precision.size, np.arange(precision.size, dtype=float), float(precision.size - 1))
    pr = {"average_precision": average_precision, "recall": _rounded(recall[keep]),
          "precision": _rounded(precision[keep])}
    return roc, pr


def _rounded(values: np.ndarray) -> list[float]:
    return np.round(values, CURVE_DECIMALS).tolist()


# -- calibration ----------------------------------------------------------------------------------


def _logit(s: np.ndarray) -> np.ndarray:
    clipped = np.clip(s, SCORE_CLIP, 1 - SCORE_CLIP)
    return np.log(clipped) - np.log1p(-clipped)


def reliability_bins(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, events and score sums per bin, binned as calibration_curve(strategy='quantile')."""
    edges = np.percentile(s, np.linspace(0, 100, N_BINS + 1))
    bins = np.searchsorted(edges[1:-1], s)
    return (np.bincount(bins, minlength=N_BINS), np.bincount(bins, weights=y, minlength=N_BINS),
            np.bincount(bins, weights=s, minlength=N_BINS))


def _ece(total: np.ndarray, events: np.ndarray, sums: np.ndarray, n: float) -> np.ndarray:
    """ECE over the last axis of per-bin totals; empty bins contribute nothing."""
    filled = total > 0
    safe = np.where(filled, total, 1)
    gap = np.abs(events / safe - sums / safe)
    return np.sum(np.where(filled, total / n * gap, 0.0), axis=-1)


def _newton_step(a, b, x, events, trials, *, loglik: bool = False):
    """One Newton-Raphson step of the binomial logistic model over the last axis (batched); optionally the log-likelihood at (a, b)."""
    eta = a[..., None] + b[..., None] * x
    with np.errstate(over="ignore"):  # exp(-eta) = inf is p = 0, as it should be
        p = 1.0 / (1.0 + np.exp(-eta))
    weight = trials * p * (1.0 - p)
    residual = events - trials * p
    g0, g1 = residual.sum(-1), (residual * x).sum(-1)
    h00, h01, h11 = weight.sum(-1), (weight * x).sum(-1), (weight * x * x).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        det = h00 * h11 - h01 * h01
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
    if not loglik:
        return da, db
    return da, db, float(np.sum(events * eta - trials * np.logaddexp(0.0, eta)))


def fit_recalibration(x: np.ndarray, events: np.ndarray, trials: np.ndarray,
                      start: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float] | None:
    """(intercept, slope) of the logistic recalibration by maximum likelihood, or None (one class, separation).

    Newton-Raphson; a step after which the log-likelihood fell is halved (the likelihood is concave,
    so a short enough step along Newton's direction never lowers it).
    """
    if events.sum() <= 0 or events.sum() >= trials.sum():
        return None
    a, b = np.array(float(start[0])), np.array(float(start[1]))
    previous, last = -np.inf, (0.0, 0.0)
    for _ in range(2 * _MAX_ITER):
        da, db, current = _newton_step(a, b, x, events, trials, loglik=True)
        if current < previous - 1e-12 * abs(previous):  # overshot: go back half the last step
            last = (last[0] / 2, last[1] / 2)
            a, b = a - last[0], b - last[1]
            continue
        if not (np.isfinite(da) and np.isfinite(db)):
            return None
        if abs(da) < _TOL * (1 + abs(a)) and abs(db) < _TOL * (1 + abs(b)):
            return float(a + da), float(b + db)
        previous, last = current, (float(da), float(db))
        a, b = a + da, b + db
    return None


def _fit_batch(x: np.ndarray, events: np.ndarray, trials: np.ndarray, start: tuple[float, float]):
    """Newton-Raphson from ``start`` for each row of (B, A) counts; NaN where undefined or not converged."""
    batch = events.shape[0]
    a, b = np.full(batch, start[0]), np.full(batch, start[1])
    done = np.zeros(batch, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(_MAX_ITER):
            da, db = _newton_step(a, b, x, events, trials)
            a, b = a + da, b + db
            done = (np.abs(da) < _BOOT_TOL * (1 + np.abs(a))) & (np.abs(db) < _BOOT_TOL * (1 + np.abs(b)))
            if done.all() or not np.isfinite(a[~done]).any():
                break
    event_total = events.sum(-1)
    ok = done & np.isfinite(a) & np.isfinite(b) & (event_total > 0) & (event_total < trials.sum(-1))
    return np.where(ok, a, np.nan), np.where(ok, b, np.nan)


def _atoms(y: np.ndarray, s: np.ndarray, x: np.ndarray):
    """The group's rows, or MAX_ATOMS consecutive blocks of its score-sorted rows: (rows, events, mean score, mean logit)."""
    if y.size <= MAX_ATOMS:
        return np.ones(y.size), y.astype(float), s, x, True
    bounds = np.linspace(0, y.size, MAX_ATOMS + 1).round().astype(np.int64)[:-1]
    rows = np.diff(np.append(bounds, y.size)).astype(float)
    return (rows, np.add.reduceat(y.astype(float), bounds), np.add.reduceat(s, bounds) / rows,
            np.add.reduceat(x, bounds) / rows, False)


def _percentile_interval(samples: np.ndarray, ci_level: float) -> tuple[float | None, float | None]:
    if samples.size == 0:
        return None, None
    undefined = np.isnan(samples).mean()
    if undefined == 1 or undefined > 1 - ci_level:
        return None, None
    alpha = (1 - ci_level) / 2
    low, high = np.nanquantile(samples, [alpha, 1 - alpha])
    return _num(low), _num(high)


def _calibration(y: np.ndarray, s: np.ndarray, ctx: _Context, rng: np.random.Generator) -> dict:
    n = y.size
    total, events, sums = reliability_bins(y, s)
    ece = float(_ece(total, events, sums, n))
    x = _logit(s)
    trials, atom_events, atom_s, atom_x, exact = _atoms(y, s, x)
    fit = fit_recalibration(atom_x, atom_events, trials)
    if fit is not None and not exact:  # refine on the rows themselves, from the blocks' solution
        fit = fit_recalibration(x, y.astype(float), np.ones(n), start=fit)
    boot_ece = boot_a = boot_b = np.empty(0)
    if ctx.n_boot and n >= 2:
        boot_ece, boot_a, boot_b = _bootstrap(n, trials, atom_events, atom_s, atom_x, exact, fit, ctx, rng)
    filled = total > 0
    reliability = [
        {"bin": int(k) + 1, "n": int(total[k]), "mean_predicted": _num(sums[k] / total[k]),
         "observed": _num(events[k] / total[k])}
        for k in np.flatnonzero(filled)
    ]
    intercept, slope = fit if fit is not None else (None, None)
    return {
        "ece": _estimate(ece, boot_ece, ctx.ci_level),
        "calibration_slope": _estimate(slope, boot_b, ctx.ci_level),
        "calibration_intercept": _estimate(intercept, boot_a, ctx.ci_level),
        "reliability": reliability,
    }


def _bootstrap(n, trials, events, atom_s, atom_x, exact, fit, ctx: _Context, rng: np.random.Generator):
    """ECE, intercept and slope of ``ctx.n_boot`` within-group resamples."""
    drawn = rng.multinomial(n, trials / n, size=ctx.n_boot).astype(float)  # (B, A) rows drawn per atom
    # events among the rows drawn from a block: binomial, as drawing rows with replacement from it would give
    hits = drawn * events if exact else rng.binomial(drawn.astype(np.int64), events / trials).astype(float)
    ece = replicate_ece(drawn, hits, atom_s)
    intercept, slope = _fit_batch(atom_x, hits, drawn, (0.0, 1.0) if fit is None else fit)
    return ece, intercept, slope


def replicate_ece(drawn: np.ndarray, hits: np.ndarray, atom_s: np.ndarray) -> np.ndarray:
    """ECE of each resample given as (B, A) rows and events drawn per score-sorted atom.

    Bin edges are the resample's own percentiles (numpy's linear interpolation) and each atom falls
    in the bin its score falls in, as ``reliability_bins`` does for rows: for atoms that are single
    rows this is exactly the ECE of the expanded resample.
    """
    boot, atoms = drawn.shape
    n = round(float(drawn[0].sum()))
    # Replicate b's cumulative counts, offset by b * (n + 1), form one ascending array: one searchsorted
    # finds the atom holding any order statistic of any replicate.
    offsets = np.arange(boot)[:, None] * (n + 1)
    cumulative = (np.cumsum(drawn, axis=1) + offsets).ravel()
    heights = (n - 1) * np.linspace(0, 1, N_BINS + 1)[1:-1]
    low = np.floor(heights)
    frac = heights - low
    high = np.minimum(low + 1, n - 1)

    def holding(j: np.ndarray) -> np.ndarray:
        return np.searchsorted(cumulative, (j[None, :] + offsets).ravel(), side="right").reshape(boot, -1) % atoms

    a_low, a_high = atom_s[holding(low)], atom_s[holding(high)]
    diff = a_high - a_low
    edges = np.where(frac >= 0.5, a_high - diff * (1 - frac), a_low + diff * frac)  # numpy's _lerp
    # bin = number of edges below the score; atoms are sorted by score, so each bin is a run of atoms
    cut = np.concatenate((np.zeros((boot, 1), dtype=np.int64), np.searchsorted(atom_s, edges, side="right"),
                          np.full((boot, 1), atoms)), axis=1)

    def per_bin(values: np.ndarray) -> np.ndarray:
        running = np.concatenate((np.zeros((boot, 1)), np.cumsum(values, axis=1)), axis=1)
        return np.diff(np.take_along_axis(running, cut, axis=1), axis=1)

    return _ece(per_bin(drawn), per_bin(hits), per_bin(drawn * atom_s), n)


def _estimate(value: float | None, replicates: np.ndarray, ci_level: float) -> dict:
    low, high = _percentile_interval(replicates, ci_level) if value is not None else (None, None)
    return {"value": _num(value), "ci_low": low, "ci_high": high, "defined": value is not None}


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
