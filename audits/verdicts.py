"""Verdicts on disparities that don't cry wolf: score p-values for the tolerance band, Holm across the audit.

A disparity compares a group's metric with its feature's reference group as a ratio. The question
each verdict answers is "does the ratio lie outside the tolerance band [low, high]?":

* ``p_value``: twice the smaller of the two one-sided score-test p-values ("ratio < low",
  "ratio > high"), from the statistic whose inversion gives the Koopman interval; so
  p_value < 1 - ci_level exactly when that interval lies outside the band.
* ``p_adjusted``: Holm's step-down adjustment over every judged comparison of the audit (all
  features, intersections, disparity metrics and groups): the probability of one or more false
  "fail" anywhere in the audit stays below 1 - ci_level, whatever the dependence between them.
* ``verdict``: "fail" when p_adjusted < 1 - ci_level; "pass" when the interval lies within the band;
  otherwise "insufficient_evidence". ``verdict_unadjusted`` is the same rule without adjustment.

A comparison is judged only when both groups have at least ``min_group_size`` people and the metric
is defined (non-zero denominator) in both; the others are not in Holm's family and say why.

Every ``reason`` is structured data: a ``code`` and named numbers, never numbers inside text, so
pages translate it and public views can drop any number. "insufficient_evidence" carries what would
settle the question, from the interval's own standard error on the log scale (on the side that
matters, the distance from the estimate to that bound over z; with an infinite or zero bound, the
delta-method error at the proportions with 0.5 added to the events and 1 to the denominator), split
between group and reference as their delta-method variances are: the ratios still detectable with 80 % power at this size, at the strictest level of
Holm's procedure (1 - ci_level over the number of comparisons); and how many people the group
would need (reference unchanged), or by what factor both would need to grow, to settle it with 80 %
power if the ratio is what was observed: "pass" (interval within the band, unadjusted) when the
estimate lies inside the band, "fail" at that strictest level when it lies outside. These are
planning figures (normal approximation on the log scale), not guarantees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from audits.intervals import holm

VERDICTS = ("pass", "fail", "insufficient_evidence")
POWER = 0.8
METHODS = {
    "proportion": "wilson",
    "difference": "newcombe_hybrid_score",
    "ratio": "koopman_score",
    "to_overall": "group_vs_rest_mapped",
    "p_value": "koopman_score_one_sided",
    "adjustment": "holm",
    "extremes": "bootstrap_percentile",
}


@dataclass
class Comparisons:
    """The judged comparisons of an audit, one entry each (flat arrays over features, metrics and groups)."""

    group_n: np.ndarray  # people in the group
    reference_n: np.ndarray  # people in the reference group
    x1: np.ndarray  # events of the metric in the group (e.g. true positives for TPR)
    n1: np.ndarray  # denominator of the metric in the group (e.g. positives for TPR)
    x2: np.ndarray
    n2: np.ndarray
    ratio: np.ndarray  # point ratio, NaN when the reference value is 0
    ci_low: np.ndarray
    ci_high: np.ndarray  # may be inf
    p_below: np.ndarray  # one-sided score p-value of "ratio < band[0]"
    p_above: np.ndarray


def judge(c: Comparisons, *, band: tuple[float, float], level: float, min_group_size: int) -> dict:
    """Verdicts, p-values (raw and Holm-adjusted) and structured reasons for every comparison."""
    alpha = round(1 - level, 12)
    large = (c.group_n >= min_group_size) & (c.reference_n >= min_group_size)
    defined = (c.n1 > 0) & (c.n2 > 0)
    tested = large & defined
    p_value = np.where(tested, np.minimum(1.0, 2 * np.minimum(c.p_below, c.p_above)), np.nan)
    p_adjusted = holm(p_value)
    comparisons = int(tested.sum())
    within = tested & (c.ci_low >= band[0]) & (c.ci_high <= band[1])
    fail_raw = tested & (p_value < alpha)
    fail = tested & (p_adjusted < alpha)
    settle = _settle(c, band, alpha, max(comparisons, 1))
    verdicts, unadjusted, reasons = [], [], []
    for i in range(c.group_n.size):
        verdicts.append("fail" if fail[i] else "pass" if within[i] else "insufficient_evidence")
        unadjusted.append("fail" if fail_raw[i] else "pass" if within[i] else "insufficient_evidence")
        side = "below" if c.p_below[i] <= c.p_above[i] else "above"
        if not large[i]:
            reason = {"code": "small_group", "group_n": int(c.group_n[i]), "reference_n": int(c.reference_n[i]),
                      "needed": int(min_group_size)}
        elif not defined[i]:
            where = "both" if c.n1[i] <= 0 and c.n2[i] <= 0 else "group" if c.n1[i] <= 0 else "reference"
            reason = {"code": "metric_undefined", "where": where}
        elif fail[i]:
            reason = {"code": "interval_outside", "side": side}
        elif within[i]:
            reason = {"code": "interval_within"}
        elif fail_raw[i]:
            reason = {"code": "not_significant_after_adjustment", "side": side, **settle[i]}
        else:
            reason = {"code": "interval_straddles", **settle[i]}
        reasons.append(reason)
    return {"verdict": verdicts, "verdict_unadjusted": unadjusted, "p_value": p_value, "p_adjusted": p_adjusted,
            "reason": reasons, "comparisons": comparisons, "alpha": alpha}


def _settle(c: Comparisons, band: tuple[float, float], alpha: float, m: int) -> list[dict]:
    """What would settle each comparison: detectable ratios at this size, and the size that would decide it."""
    z_pass = float(ndtri(1 - alpha / 2))  # "pass" is judged on the unadjusted interval
    z_fail = float(ndtri(1 - alpha / (2 * m)))  # "fail" must survive Holm: its strictest step, Bonferroni's
    z_power = float(ndtri(POWER))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = (c.x1 + 0.5) / (c.n1 + 1)
        p2 = (c.x2 + 0.5) / (c.n2 + 1)
        a, b = (1 - p1) / p1, (1 - p2) / p2  # delta-method variance of log(ratio) = a / n1 + b / n2
        delta_var = a / c.n1 + b / c.n2
        observed = np.isfinite(c.ratio) & (c.ratio > 0)
        estimate = np.where(observed, c.ratio, p1 / p2)
        log_r, low, high = np.log(estimate), np.log(band[0]), np.log(band[1])
        # The interval's own standard error on each side (Koopman's interval is not symmetric on the
        # log scale); the delta-method one where a bound is 0 or infinite, or the ratio undefined.
        own_low = (log_r - np.log(c.ci_low)) / z_pass
        own_high = (np.log(c.ci_high) - log_r) / z_pass
        var_low = np.where(observed & np.isfinite(own_low) & (own_low > 0), own_low**2, delta_var)
        var_high = np.where(observed & np.isfinite(own_high) & (own_high > 0), own_high**2, delta_var)
        inside = (log_r > low) & (log_r < high)
        nearer_low = log_r - low < high - log_r
        # pass: the bound facing the nearer edge must clear it; fail: the bound facing the band must.
        use_low = np.where(inside, nearer_low, log_r > high)
        var = np.where(use_low, var_low, var_high)
        distance = np.where(inside, np.minimum(log_r - low, high - log_r), np.maximum(low - log_r, log_r - high))
        z_goal = np.where(inside, z_pass, z_fail) + z_power
        var_goal = (distance / z_goal) ** 2
        factor = var / var_goal
        room = var_goal - b * (var / delta_var) / c.n2
        group_needed = np.where(room > 0, np.ceil(c.group_n * (a * (var / delta_var) / room) / c.n1), np.nan)
        detect = z_fail + z_power
        # A low ratio is shown by its upper bound, a high one by its lower bound; the group's variance is
        # taken at the alternative (p1 = ratio x p2), scaled by the interval's asymmetry on that side.
        detectable_below = _detectable(band[0], -1, detect, p2, c.n1, b / c.n2, var_high / delta_var)
        detectable_above = _detectable(band[1], 1, detect, p2, c.n1, b / c.n2, var_low / delta_var)
    out = []
    for i in range(c.group_n.size):
        out.append({
            "detectable_below": _num(detectable_below[i]),
            "detectable_above": _num(detectable_above[i]),
            "power": POWER,
            "level": _num(alpha / m),
            "group_n_needed": int(group_needed[i]) if np.isfinite(group_needed[i]) and distance[i] > 0 else None,
            "scale_needed": _num(factor[i]) if distance[i] > 0 else None,
        })
    return out


def _detectable(edge: float, direction: int, z: float, p2, n1, reference_var, scale) -> np.ndarray:
    """The ratio nearest the band edge that a test at ``z`` would show beyond it (NaN when none can be).

    Solves |log(ratio / edge)| = z * se(ratio), with se² = scale * ((1 - p1) / (n1 p1) + reference_var)
    and p1 = ratio * p2, on a grid of log ratios moving away from the edge, refined by bisection.
    """
    limit = np.where(direction > 0, np.log(1 / p2) - 1e-9, np.log(edge) - 12.0)  # p1 stays below 1 / above 0
    steps = np.linspace(0.0, 1.0, 201)[1:]
    log_edge = np.log(edge)
    grid = log_edge + (limit - log_edge)[:, None] * steps[None, :]

    def gap(log_ratio: np.ndarray) -> np.ndarray:
        p1 = np.exp(log_ratio) * p2[..., None] if log_ratio.ndim == 2 else np.exp(log_ratio) * p2
        n = n1[..., None] if log_ratio.ndim == 2 else n1
        ref = reference_var[..., None] if log_ratio.ndim == 2 else reference_var
        k = scale[..., None] if log_ratio.ndim == 2 else scale
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(k * ((1 - p1) / (n * p1) + ref))
        return direction * (log_ratio - log_edge) - z * se

    with np.errstate(invalid="ignore"):
        reached = gap(grid) >= 0
    found = reached.any(axis=1)
    first = np.argmax(reached, axis=1)
    rows = np.arange(grid.shape[0])
    outer = grid[rows, first]
    inner = np.where(first > 0, grid[rows, np.maximum(first - 1, 0)], log_edge)
    for _ in range(40):
        mid = (inner + outer) / 2
        ok = gap(mid) >= 0
        outer, inner = np.where(ok, mid, outer), np.where(ok, inner, mid)
    return np.where(found, np.exp(outer), np.nan)


def base_rate_note(selection: dict, tpr: dict, fpr: dict, prevalence_ratio: float | None,
                   expected_ratio: float | None) -> dict | None:
    """A note when a selection-rate gap simply follows the prevalence gap: error rates are on par.

    ``expected_ratio`` is the selection-rate ratio the group would show with the reference's TPR and
    FPR at its own prevalence (TPR_ref p_g + FPR_ref (1 - p_g)) / selection_ref. The note is given
    when the selection-rate interval covers it and the group's TPR and FPR disparities both pass.
    """
    ratio = selection["ratio"]
    if expected_ratio is None or ratio["ci_low"] is None or tpr["verdict"] != "pass" or fpr["verdict"] != "pass":
        return None
    high = math.inf if ratio["ci_high"] is None else ratio["ci_high"]
    if ratio["ci_low"] <= expected_ratio <= high:
        return {"code": "selection_follows_prevalence", "prevalence_ratio": prevalence_ratio,
                "expected_selection_ratio": expected_ratio}
    return None


def rule(*, band: tuple[float, float], tolerance: float, level: float, min_group_size: int, comparisons: int,
         n_boot: int) -> dict:
    """The verdict rule as data (pages render it in the reader's language)."""
    return {
        "code": "ratio_band_holm",
        "comparison": "ratio_to_reference",
        "reference": "largest_group_unless_chosen",
        "band": [band[0], band[1]],
        "tolerance": tolerance,
        "band_convention": "aequitas",
        "ci_level": level,
        "min_group_size": min_group_size,
        "pass": "interval_within_band",
        "fail": "adjusted_p_value_below_alpha",
        "p_value": "twice_smaller_one_sided_score_p_value",
        "adjustment": "holm",
        "alpha": round(1 - level, 12),
        "comparisons": comparisons,
        "to_overall": "reported_not_judged",
        "n_boot": n_boot,
    }


def summarise_verdicts(result: dict) -> dict:
    """Count verdicts and list the failures, so a card can state the audit's outcome in one line."""
    summary: dict = dict.fromkeys(VERDICTS, 0)
    summary["fail_unadjusted"] = 0
    summary["failed"] = []
    for feature in result["features"]:
        for disparity in feature["disparities"]:
            summary[disparity["verdict"]] += 1
            summary["fail_unadjusted"] += disparity.get("verdict_unadjusted") == "fail"
            if disparity["verdict"] == "fail":
                summary["failed"].append({"feature": feature["name"], "group": disparity["group"],
                                          "key": disparity.get("key"), "metric": disparity["metric"]})
    return summary


def _num(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
