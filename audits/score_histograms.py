"""Score metrics of the streaming engine, from per-group histograms of the scores by outcome.

``audits.scores`` computes calibration, curves and the threshold sweep from every row's score; the
streaming engine (``audits.streaming``) never holds the rows, so it accumulates, per finest
combination of the sensitive values, a histogram of the scores by outcome, and this module computes
the same result (``score_metrics``'s shape) from it, group by group.

Resolution. The score axis [0, 1] is cut at the ``RESOLUTION_BINS`` + 1 edges k / 1,000 (k = 0 ...
1,000), plus the audit's operating threshold when it is not one of them; a score s falls in the bin
of the last edge <= s (compared as floats, as the engine compares ``score >= t``), so the last bin
holds the scores equal to 1. Per (combination, outcome, bin) cell are kept: the number of rows, the
sum of their scores and the sum of their logits (score clipped as ``audits.scores`` clips it), and
their smallest and largest score. The sums are fixed-point integers (``SCORE_SCALE``,
``LOGIT_SCALE``: a score is rounded by at most 2^-33, a logit by 2^-25), so partial histograms add up
to the same totals in any order, on one machine or on a Dask cluster (minima and maxima too); a cell
may hold up to 2^31 rows. The histogram's size is set by the number of combinations and bins, never
by N. 1/1,000 was chosen because: the sweep grid (0, 0.05, ..., 1) falls on edges, so the sweep is
exact; the AUC's error is bounded by the pairs tied within a bin, and a thousandth keeps that bound
small for any score spread over more than a few hundredths; and at two outcomes x 1,002 bins the
histogram costs at most about 100 kB per combination (six 8-byte values per cell). Sensitive columns
with so many distinct values that the histogram could pass ``MAX_HISTOGRAM_CELLS`` get 1/100, then
1/20 (``histogram_bins``); the result's ``resolution`` is the one used.

A bin whose rows all have the same score (scores given to two or three decimals) hides nothing: its
ties are the scores' own, and it adds nothing to the bounds below; scores given to three decimals or
fewer give every metric exactly, up to the fixed-point sums.

What is exact, and what is bounded (every bound is computed per group and stored beside the value):

* ``count``, ``positives``: exact. ``sweep``: exact (same counts, same divisions), since every sweep
  threshold is an edge.
* ROC AUC: the Mann-Whitney statistic with the pairs of a positive and a negative in the same bin
  counted one half. The exact AUC counts each such pair 0, 1/2 or 1, so
  |AUC - exact| <= ``roc.error_bound`` = 1/2 sum_b n1_b n0_b / (P N), over the bins of more than one
  score value. The bound is attained when every bin hides a perfect ranking (tested).
* Average precision: the step integral of the PR curve at bin edges. Each positive's exact precision
  and the binned one lie in [(A+1)/(A+B+1+n0_b), (A+n1_b)/(A+B+n1_b)], A and B the positives and
  negatives of the higher bins, so |AP - exact| <= ``pr.error_bound`` = (1/P) sum_b n1_b x (width).
* ECE: each percentile edge of the ten equal-count bins lies within a range known from the smallest
  and largest scores of the histogram bins holding its order statistics; histogram bins wholly on one
  side go to that side, as ``audits.scores`` bins rows, and the cut falls inside the others at the
  rank the percentile gives, those bins shared out in proportion (``_rank_bins``). Moving one row
  between two bins changes the ECE by at most 2|y - s| / n, so |ECE - exact| <= ``ece.error_bound`` =
  (2/n) x the sum of |y - s| over the rows of the bins cut (computed exactly from the sums).
  The bounds are worst cases (any order of the rows within a bin); the differences met on synthetic
  cohorts are far smaller: within the resolution for groups of 2,000 rows or more (tested).
* Calibration slope and intercept: the maximum-likelihood logistic fit with each (bin, outcome) cell
  at its rows' mean logit (the approximation ``audits.scores`` already makes for the bootstrap
  blocks of large groups, with cells 1/1,000 wide instead of 200 blocks). No closed-form bound:
  tests/audits/test_score_histograms.py shows the difference on synthetic cohorts.
* Curves: ROC and PR points at the bin edges (thinned and rounded for drawing as in ``audits.scores``).

Intervals: percentile bootstrap, kept rather than withheld. Resampling a group's rows with
replacement (its size fixed), as the in-memory engine does, draws the rows of any partition of the
group in multinomial(n, shares) counts: here the partition is into at most ``MAX_ATOMS`` atoms, each
outcome's rows of ``MAX_ATOMS`` / 2 blocks of consecutive score bins holding about equal numbers of
rows, so the events drawn are exact and only the drawn rows' scores are approximated (by their atom's
mean score and mean logit). That is the approximation the in-memory engine makes for every group
above ``MAX_ATOMS`` rows (blocks of score-sorted rows, events drawn binomially), with atoms that are
pure in outcome here; its cost per group is the in-memory one, whatever N. Withholding the intervals
would leave a streamed ECE or slope looking more certain than it is, which a reader cannot tell from
the table. The replicates are not the in-memory ones (different atoms, same seed), so the interval
bounds agree in distribution, not digit for digit (the tests compare their widths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.groups import Grouping
from audits.scores import (
    CALIBRATION_MODEL,
    MAX_ATOMS,
    MAX_BOOT,
    MAX_CURVE_POINTS,
    N_BINS,
    SCORE_CLIP,
    _estimate,
    _fit_batch,
    _logit,
    _num,
    _rounded,
    _spread,
    fit_recalibration,
    replicate_ece,
    threshold_grid,
)

RESOLUTION_BINS = 1_000  # equal-width bins of [0, 1): the resolution is 1 / RESOLUTION_BINS
RESOLUTION = 1 / RESOLUTION_BINS
# The histogram is at most (possible combinations) x 2 x (bins + 2) cells; past this many at 1/1,000,
# it is taken at 1/100, then at 1/20 (the sweep grid still on edges): about 200 MB at 48 bytes a cell.
MAX_HISTOGRAM_CELLS = 1 << 22
COARSER_BINS = (RESOLUTION_BINS, 100, 20)
SCORE_SCALE = 2**32  # a score's fixed-point unit
LOGIT_SCALE = 2**24  # a clipped logit (|x| < 13.82) in fixed point
MAX_CELL_ROWS = 2**31  # rows one (combination, outcome, bin) cell may hold without the sums overflowing

METHOD = "histogram"
ECE_BINNING = ("equal-count bins at the ranks of the group's score percentiles 0, 10, ..., 100, from histograms of "
               "scores (see resolution); a histogram bin cut by a rank is shared out in proportion")
INTERVAL_METHOD = ("percentile bootstrap, rows resampled with replacement within each group (group size fixed), "
                   f"drawn as counts (multinomial) of at most {MAX_ATOMS} atoms: each outcome's rows of "
                   f"{MAX_ATOMS // 2} blocks of consecutive score bins of about equal rows, drawn rows at the "
                   "atom's mean score and logit")


def histogram_bins(possible_combinations: int) -> int:
    """Bins of [0, 1) for this many possible combinations: 1,000 unless the histogram could pass its cap.

    A dataset whose sensitive columns have very many distinct values gets a coarser resolution rather
    than a histogram that grows with them; the result states the resolution used.
    """
    for bins in COARSER_BINS:
        if possible_combinations * 2 * (bins + 2) <= MAX_HISTOGRAM_CELLS:
            return bins
    return COARSER_BINS[-1]  # beyond that, bounded by the rows themselves: at most one cell per row


def histogram_edges(threshold: float, bins: int = RESOLUTION_BINS) -> np.ndarray:
    """The bins' lower edges: k / bins and the operating threshold when in [0, 1] (so its sweep entry is exact)."""
    edges = np.arange(bins + 1) / bins
    if 0.0 <= threshold <= 1.0:
        edges = np.unique(np.append(edges, float(threshold)))
    return edges


@dataclass(frozen=True)
class PartialHistogram:
    """Non-empty cells of (combination code, outcome, bin) in ascending flat index, with their integer sums."""

    index: np.ndarray  # (combination code x 2 + y) x bins + bin
    count: np.ndarray
    score: np.ndarray  # sum of round(score x SCORE_SCALE)
    logit: np.ndarray  # sum of round(logit x LOGIT_SCALE)
    low: np.ndarray  # the cell's smallest score
    high: np.ndarray  # and its largest


def partial_histogram(joint: np.ndarray, y: np.ndarray, s: np.ndarray, edges: np.ndarray) -> PartialHistogram:
    """One partition's histogram: rows by (combination, outcome, bin), summed exactly in integers."""
    bins = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, edges.size - 1)
    flat = (joint * 2 + y) * edges.size + bins
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1]))) if ordered.size else ordered
    score_fp = np.rint(s * SCORE_SCALE).astype(np.int64)
    logit_fp = np.rint(_logit(s) * LOGIT_SCALE).astype(np.int64)
    if not ordered.size:
        return _empty()
    return PartialHistogram(ordered[starts], np.diff(np.append(starts, ordered.size)).astype(np.int64),
                            np.add.reduceat(score_fp[order], starts), np.add.reduceat(logit_fp[order], starts),
                            np.minimum.reduceat(s[order], starts), np.maximum.reduceat(s[order], starts))


def _empty() -> PartialHistogram:
    integers, floats = np.zeros(0, dtype=np.int64), np.zeros(0)
    return PartialHistogram(integers, integers, integers, integers, floats, floats)


def merge_histograms(a: PartialHistogram | None, b: PartialHistogram) -> PartialHistogram:
    """The cell-wise sum of two histograms (integer sums, minima and maxima: the same in any order)."""
    if a is None:
        return b
    index = np.concatenate((a.index, b.index))
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    if not ordered.size:
        return a
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))

    def combine(ufunc, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ufunc.reduceat(np.concatenate((x, y))[order], starts)

    add = np.add
    merged = PartialHistogram(ordered[starts], combine(add, a.count, b.count), combine(add, a.score, b.score),
                              combine(add, a.logit, b.logit), combine(np.minimum, a.low, b.low),
                              combine(np.maximum, a.high, b.high))
    if merged.count.size and int(merged.count.max()) >= MAX_CELL_ROWS:
        raise ValueError("too many rows in one score bin to sum exactly")
    return merged


@dataclass(frozen=True)
class ScoreHistograms:
    """The dataset's histograms: non-empty cells with their finest combination (``Coding`` order), outcome and bin."""

    edges: np.ndarray
    resolution: float  # the regular bins' width (1 / bins)
    combo: np.ndarray
    y: np.ndarray
    bin: np.ndarray
    count: np.ndarray  # int64
    score_sum: np.ndarray  # float
    logit_sum: np.ndarray
    low: np.ndarray  # smallest and largest score of the cell
    high: np.ndarray

    @property
    def cells(self) -> int:
        return int(self.count.size)


def final_histograms(partial: PartialHistogram | None, edges: np.ndarray, resolution: float,
                     joint_to_combo) -> ScoreHistograms:
    """The merged histogram with each cell's combination code mapped to the combination's row in ``Coding``."""
    if partial is None:
        partial = _empty()
    size = edges.size
    bins = partial.index % size
    y = (partial.index // size) % 2
    combo = joint_to_combo(partial.index // size // 2)
    return ScoreHistograms(edges, resolution, combo, y.astype(np.int64), bins, partial.count,
                           partial.score / SCORE_SCALE, partial.logit / LOGIT_SCALE, partial.low, partial.high)


# -- metrics ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """One group's histogram: (2, bins) arrays of rows, score sums and logit sums by outcome; (bins,) score range."""

    n: np.ndarray
    s: np.ndarray
    x: np.ndarray
    low: np.ndarray  # each bin's smallest score in the group (inf when empty)
    high: np.ndarray  # and its largest (-inf when empty)

    def single_valued(self) -> np.ndarray:
        """Bins whose rows all have the same score: within them, ties are the scores' own."""
        return self.low == self.high


def histogram_score_metrics(hist: ScoreHistograms, groupings: list[Grouping], result: dict, params: Any) -> dict:
    """``score_metrics``'s result from histograms: overall, then each group of ``result``'s features.

    ``groupings`` are the ``Coding``'s, in ``result["features"]`` order (``audit_from_counts`` describes
    them in that order), so a cell's group is ``combo_group[cell's combination]``.
    """
    threshold = float(getattr(params, "threshold", 0.5))
    seed = int(getattr(params, "seed", 0))
    n_boot = max(0, min(int(getattr(params, "n_boot", MAX_BOOT)), MAX_BOOT))
    ci_level = float(getattr(params, "ci_level", 0.95))
    grid = threshold_grid(np.zeros(0), threshold, True)
    sweep_at = np.searchsorted(hist.edges, grid)
    if not np.array_equal(hist.edges[sweep_at], grid):  # the sweep is exact only on edges
        raise ValueError("the sweep thresholds are not all histogram edges")
    streams = np.random.SeedSequence(seed).spawn(1 + len(result["features"]))
    settings = (sweep_at, n_boot, ci_level)
    overall = _entries(hist, np.zeros(hist.cells, dtype=np.int64), 1, settings, np.random.default_rng(streams[0]))[0]
    features = []
    for feature, grouping, stream in zip(result["features"], groupings, streams[1:], strict=True):
        if grouping.labels != [g["group"] for g in feature["groups"]]:
            raise ValueError(f"the histograms' groups of {feature['name']!r} are not the audit's")
        entries = _entries(hist, grouping.combo_group[hist.combo], len(grouping.labels), settings,
                           np.random.default_rng(stream))
        features.append({
            "name": feature["name"], "columns": list(feature["columns"]),
            "groups": [{"group": group["group"], "levels": group["levels"], **entry}
                       for group, entry in zip(feature["groups"], entries, strict=True)],
        })
    return {
        "method": METHOD,
        "resolution": hist.resolution,
        "histogram": {"bins": int(hist.edges.size), "cells": hist.cells,
                      "edges": f"k/{round(1 / hist.resolution)} for k = 0..{round(1 / hist.resolution)}, plus the "
                               "operating threshold",
                      "rule": "a score is in the bin of the last edge at or below it"},
        "thresholds": [float(t) for t in grid],
        "operating_threshold": threshold,
        "calibration": {"status": "computed", "bins": N_BINS, "binning": ECE_BINNING, "model": CALIBRATION_MODEL,
                        "score_clip": SCORE_CLIP},
        "intervals": {"method": INTERVAL_METHOD, "n_boot": n_boot, "seed": seed, "ci_level": ci_level,
                      "max_atoms": MAX_ATOMS},
        "max_curve_points": MAX_CURVE_POINTS,
        "overall": overall,
        "features": features,
    }


def _entries(hist: ScoreHistograms, cell_group: np.ndarray, size: int, settings, rng: np.random.Generator) -> list[dict]:
    """One entry per group, each from its (2, bins) histogram (built group after group: memory per group only)."""
    bins = hist.edges.size
    order = np.lexsort((hist.bin, hist.y, cell_group))
    bounds = np.searchsorted(cell_group[order], np.arange(size + 1))
    entries = []
    for g in range(size):
        cells = order[bounds[g] : bounds[g + 1]]
        group = _Group(np.zeros((2, bins)), np.zeros((2, bins)), np.zeros((2, bins)), np.full(bins, np.inf),
                       np.full(bins, -np.inf))
        where = (hist.y[cells], hist.bin[cells])
        for target, values in ((group.n, hist.count), (group.s, hist.score_sum), (group.x, hist.logit_sum)):
            np.add.at(target, where, values[cells])  # a group's combinations share bins: add, in cell order
        np.minimum.at(group.low, hist.bin[cells], hist.low[cells])
        np.maximum.at(group.high, hist.bin[cells], hist.high[cells])
        entries.append(_group_entry(group, settings, rng))
    return entries


def _group_entry(group: _Group, settings, rng: np.random.Generator) -> dict:
    sweep_at, n_boot, ci_level = settings
    n, positives = int(group.n.sum()), int(group.n[1].sum())
    entry: dict[str, Any] = {"count": n, "positives": positives}
    entry.update(_calibration(group, n_boot, ci_level, rng) if n else
                 {"ece": _estimate(None, np.empty(0), ci_level), "calibration_slope": _estimate(None, np.empty(0), ci_level),
                  "calibration_intercept": _estimate(None, np.empty(0), ci_level), "reliability": []})
    entry["roc"], entry["pr"] = _curves(group) if 0 < positives < n else (None, None)
    entry["sweep"] = _sweep(group, sweep_at)
    return entry


def _sweep(group: _Group, sweep_at: np.ndarray) -> dict[str, list]:
    """Selection rate, TPR and FPR of ``score >= t`` at each threshold t, an edge: counts of the bins from t up."""
    above = np.cumsum(group.n[:, ::-1], axis=1)[:, ::-1]  # rows in bin b or higher, by outcome
    above = np.concatenate((above, np.zeros((2, 1))), axis=1)
    negatives_at, positives_at = above[0][sweep_at].astype(np.int64), above[1][sweep_at].astype(np.int64)
    selected = negatives_at + positives_at
    n, positives = int(group.n.sum()), int(group.n[1].sum())
    negatives = n - positives

    def rate(numerator: np.ndarray, denominator: int) -> list:
        return [float(v) / denominator for v in numerator] if denominator else [None] * len(numerator)

    return {"selection_rate": rate(selected, n), "tpr": rate(positives_at, positives),
            "fpr": rate(negatives_at, negatives)}


def _curves(group: _Group) -> tuple[dict, dict]:
    """ROC and PR curves at the edges of the non-empty bins, AUC and AP with their bounds."""
    filled = np.flatnonzero(group.n.sum(axis=0))[::-1]  # non-empty bins, highest first
    n0, n1 = group.n[0][filled], group.n[1][filled]
    spread = ~group.single_valued()[filled]  # bins whose rows' order is unknown
    negatives, positives = float(n0.sum()), float(n1.sum())
    fp, tp = np.cumsum(n0), np.cumsum(n1)  # at or above each bin's lower edge
    fp_before, tp_before = fp - n0, tp - n1
    auc = float(np.sum(n1 * (negatives - fp) + 0.5 * n1 * n0) / (positives * negatives))
    auc_bound = float(0.5 * np.sum(spread * n1 * n0) / (positives * negatives))
    fpr = np.concatenate(([0.0], fp / negatives))
    tpr = np.concatenate(([0.0], tp / positives))
    keep = _spread(fpr.size, fpr * negatives + tpr * positives, negatives + positives)
    roc = {"auc": auc, "error_bound": auc_bound, "fpr": _rounded(fpr[keep]), "tpr": _rounded(tpr[keep])}

    precision_steps = tp / (tp + fp)
    recall_steps = tp / positives
    average_precision = float(np.sum(np.diff(np.concatenate(([0.0], recall_steps))) * precision_steps))
    with_positives = (n1 > 0) & spread
    with np.errstate(divide="ignore", invalid="ignore"):  # bins without positives contribute nothing
        high = (tp_before + n1) / (tp_before + fp_before + n1)
        low = (tp_before + 1) / (tp_before + fp_before + 1 + n0)
        ap_bound = float(np.sum(np.where(with_positives, n1 * (high - low), 0.0)) / positives)
    # scikit-learn's order: thresholds ascending (recall descending), then the point (recall 0, precision 1)
    precision = np.append(precision_steps[::-1], 1.0)
    recall = np.append(recall_steps[::-1], 0.0)
    keep = _spread(precision.size, np.arange(precision.size, dtype=float), float(precision.size - 1))
    pr = {"average_precision": average_precision, "error_bound": ap_bound, "recall": _rounded(recall[keep]),
          "precision": _rounded(precision[keep])}
    return roc, pr


def _calibration(group: _Group, n_boot: int, ci_level: float, rng: np.random.Generator) -> dict:
    total, events, sums, bound = _rank_bins(group)
    n = float(total.sum())
    ece = float(np.sum(np.abs(events - sums)) / n)
    cells = np.flatnonzero(group.n.ravel())  # (outcome, bin) cells with rows
    trials = group.n.ravel()[cells]
    atom_events = np.where(cells >= group.n.shape[1], trials, 0.0)  # the second row holds the positives
    atom_s, atom_x = group.s.ravel()[cells] / trials, group.x.ravel()[cells] / trials
    fit = fit_recalibration(atom_x, atom_events, trials)
    boot_ece = boot_a = boot_b = np.empty(0)
    if n_boot and n >= 2:
        trials, positive, atom_s, atom_x = _boot_atoms(group)
        drawn = rng.multinomial(int(n), trials / n, size=n_boot).astype(float)
        hits = drawn * positive
        boot_ece = replicate_ece(drawn, hits, atom_s)
        boot_a, boot_b = _fit_batch(atom_x, hits, drawn, (0.0, 1.0) if fit is None else fit)
    intercept, slope = fit if fit is not None else (None, None)
    reliability = [{"bin": int(k) + 1, "n": round(float(total[k])), "mean_predicted": _num(sums[k] / total[k]),
                    "observed": _num(events[k] / total[k])}
                   for k in np.flatnonzero(total > 0)]
    return {"ece": {**_estimate(ece, boot_ece, ci_level), "error_bound": bound},
            "calibration_slope": _estimate(slope, boot_b, ci_level),
            "calibration_intercept": _estimate(intercept, boot_a, ci_level),
            "reliability": reliability}


def _boot_atoms(group: _Group) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bootstrap's atoms, sorted by mean score: (rows, 1 if positive, mean score, mean logit).

    Each outcome's rows of up to ``MAX_ATOMS`` / 2 blocks of consecutive histogram bins holding about
    equal numbers of rows (each non-empty bin its own block when there are few): at most
    ``MAX_ATOMS`` atoms, as the in-memory engine resamples large groups, and each atom of one outcome,
    so the events drawn are exactly the rows drawn from the positive atoms.
    """
    rows = group.n.sum(axis=0)
    filled = np.flatnonzero(rows)
    blocks = MAX_ATOMS // 2
    if filled.size <= blocks:
        block = np.arange(filled.size)
    else:
        before = np.cumsum(rows[filled]) - rows[filled]
        block = (before * blocks // rows.sum()).astype(np.int64)
    size = int(block.max()) + 1 if block.size else 0
    parts = []
    for y in (0, 1):
        trials = np.bincount(block, weights=group.n[y][filled], minlength=size)
        keep = trials > 0
        parts.append((trials[keep], np.full(int(keep.sum()), float(y)),
                      np.bincount(block, weights=group.s[y][filled], minlength=size)[keep] / trials[keep],
                      np.bincount(block, weights=group.x[y][filled], minlength=size)[keep] / trials[keep]))
    trials, positive, mean_s, mean_x = (np.concatenate([part[i] for part in parts]) for i in range(4))
    order = np.argsort(mean_s, kind="stable")
    return trials[order], positive[order], mean_s[order], mean_x[order]


def _rank_bins(group: _Group) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Rows, events and score sums of the ten equal-count bins, and the bound on the ECE's error.

    The k-th percentile edge e_k (numpy's linear interpolation between the order statistics at
    0-based ranks j and j + 1) lies between the interpolations of the smallest and of the largest
    scores of the histogram bins holding those ranks. Histogram bins whose scores are all at or below
    that range go wholly below e_k, those wholly above it go above, as ``audits.scores`` bins rows
    (``score <= e_k``); the cut falls inside the others ("uncertain"), at rank j + 1 (the rows at or
    below e_k when scores do not tie), each bin there shared out in proportion. Only the rows of
    uncertain bins can be binned otherwise than on the rows themselves: the bound adds up their |y - s|.
    """
    rows = group.n.sum(axis=0)
    n = int(rows.sum())
    sums_by_bin = group.s.sum(axis=0)
    cum_rows = np.concatenate(([0.0], np.cumsum(rows)))
    cum_events = np.concatenate(([0.0], np.cumsum(group.n[1])))
    cum_sums = np.concatenate(([0.0], np.cumsum(sums_by_bin)))
    virtual = (n - 1) * (np.linspace(0, 100, N_BINS + 1)[1:-1] / 100)  # as np.percentile computes it
    below = np.floor(virtual)
    gamma = virtual - below
    ranks = below.astype(np.int64)
    holding = np.searchsorted(cum_rows, ranks, side="right") - 1  # histogram bin of the rank-j order statistic
    holding_next = np.searchsorted(cum_rows, np.minimum(ranks + 1, n - 1), side="right") - 1
    low = _lerp(group.low[holding], group.low[holding_next], gamma)  # e_k is in [low, high]
    high = _lerp(group.high[holding], group.high[holding_next], gamma)
    filled = rows > 0
    surely_below = filled & (group.high[None, :] <= low[:, None])  # (edges, bins)
    surely_above = filled & (group.low[None, :] > high[:, None])
    uncertain = filled & ~surely_below & ~surely_above
    cut = np.clip(ranks + 1, surely_below @ rows, n - surely_above @ rows)
    cuts = np.concatenate(([0.0], cut, [float(n)]))
    holder = np.clip(np.searchsorted(cum_rows, cuts, side="left") - 1, 0, rows.size - 1)  # bin of rank cut - 1
    size = np.where(rows[holder] > 0, rows[holder], 1.0)
    share = np.where(rows[holder] > 0, (cuts - cum_rows[holder]) / size, 0.0)
    at_events = cum_events[holder] + share * group.n[1][holder]
    at_sums = cum_sums[holder] + share * sums_by_bin[holder]
    at_events[0], at_sums[0] = 0.0, 0.0
    deviation = (group.n[1] - group.s[1]) + group.s[0]  # sum of |y - s| per histogram bin
    bound = float(2 * deviation[uncertain.any(axis=0)].sum() / n)
    return np.diff(cuts), np.diff(at_events), np.diff(at_sums), bound


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's interpolation between order statistics, to the last bit (``numpy.lib._function_base_impl._lerp``)."""
    with np.errstate(invalid="ignore"):  # inf - inf on an empty bin, never used
        diff = b - a
        return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
