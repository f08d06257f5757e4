"""Bias audits computed on confusion counts, with closed-form intervals, so a million-row audit takes a fraction of a second.

Fairlearn's ``MetricFrame`` is the reference definition: every point value equals what it reports
for the same data, including its conventions for zero denominators (the rate is 0.0; here it is
also flagged ``defined: false``), its ``difference``/``ratio`` between groups and to the overall
(``method='to_overall'``). The engine counts TN/FP/FN/TP per group with one ``np.bincount`` pass
(``audits.groups``) and computes every interval in closed form, vectorised over all groups of all
features at once (``audits.intervals``):

* each group's metric: Wilson score interval (never degenerate: 0 events out of n gives
  [0, z²/(n + z²)]);
* difference to the reference group: Newcombe's hybrid score interval;
* ratio to the reference group: Koopman's score interval (a lower bound of 0 with no events in the
  group, an unbounded upper bound, flagged ``ci_high_unbounded``, with none in the reference);
* difference and ratio to the overall: a group and the rest of the population are disjoint, and
  with w the group's share of the metric's denominator p_g - p_all = (1 - w)(p_g - p_rest) and
  p_g / p_all = r / (w r + 1 - w) with r = p_g / p_rest (increasing in r), so the Newcombe and
  Koopman intervals of the group against the rest map exactly onto them.

Each group's denominator is held fixed (inference conditional on group sizes). Only the between-
groups extremes (Fairlearn's ``difference()``/``ratio()``: max - min and min / max over groups, and
their ``to_overall`` counterparts), which have no closed form, keep a bootstrap drawn on counts
(``audits.extremes``). Verdicts and their rule live in ``audits.verdicts``, group keys and labels in
``audits.groups``.

Result of ``run_bias_audit`` (plain JSON types only, never NaN or infinity)::

    rule {code, band, tolerance, ci_level, min_group_size, adjustment, alpha, comparisons, ...},
    methods {proportion, difference, ratio, to_overall, p_value, adjustment, extremes},
    multiplicity {method, alpha, comparisons, family},
    tolerance, tolerance_band [low, high], n_boot, seed, ci_level, min_group_size, threshold,
    predictions ("given" | "y_score >= threshold"), label, n, metrics, disparity_metrics
    overall       {count, positives, cells, metrics, roc_auc, calibration}
    features      one per sensitive feature, then one per pair ("sex×region") if intersections:
      {name, key, columns, reference_group, reference_key,
       groups       [{group, key, levels {column: typed value}, count, positives, cells {tn, fp, fn, tp},
                      metrics {name: {value, ci_low, ci_high, defined}}, roc_auc, calibration}],
       disparities  [{group, key, metric, difference {value, ci_low, ci_high},
                      ratio {value, ci_low, ci_high, ci_high_unbounded}, p_value, p_adjusted,
                      verdict, verdict_unadjusted, reason {code, ...}, base_rate_note}],
       disparities_to_overall [{group, key, metric, difference {...}, ratio {...}}],
       extremes     [{metric, difference {...}, ratio {...}, difference_to_overall {...},
                      ratio_to_overall {...}, max_group, min_group, max_key, min_key, defined}]}

``roc_auc`` is scikit-learn's ``roc_auc_score`` (null without scores or with one class);
``calibration`` lists equal-count deciles of ``y_score`` within the group as
``{decile, n, mean_predicted, observed}`` (null without scores). For the extremes a replicate whose
value is undefined is left out, and the interval is withheld (null) when more than 1 - ci_level of
the replicates are undefined, or when it would have zero width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from audits import verdicts
from audits.extremes import bootstrap, extremes, num, triple
from audits.groups import Coding, Grouping, code_rows, references
from audits.intervals import band_p_values, koopman, newcombe, wilson, z_value
from audits.verdicts import VERDICTS, summarise_verdicts

__all__ = ["DISPARITY_METRICS", "METRICS", "VERDICTS", "BiasAuditParams", "audit_from_counts", "binary_values",
           "run_bias_audit", "summarise_verdicts"]

METRICS = ("prevalence", "selection_rate", "tpr", "fpr", "fnr", "ppv", "npv", "accuracy")
DISPARITY_METRICS = ("selection_rate", "tpr", "fpr", "fnr", "ppv", "npv", "accuracy")
_TN, _FP, _FN, _TP = range(4)  # cell = 2 * y_true + y_pred
_ALL = (_TN, _FP, _FN, _TP)
_RATIOS = {  # metric: (numerator cells, denominator cells)
    "prevalence": ((_FN, _TP), _ALL),
    "selection_rate": ((_FP, _TP), _ALL),
    "tpr": ((_TP,), (_FN, _TP)),
    "fpr": ((_FP,), (_TN, _FP)),
    "fnr": ((_FN,), (_FN, _TP)),
    "ppv": ((_TP,), (_FP, _TP)),
    "npv": ((_TN,), (_TN, _FN)),
    "accuracy": ((_TN, _TP), _ALL),
}
_DISPARITY_INDEX = [METRICS.index(m) for m in DISPARITY_METRICS]


@dataclass(frozen=True)
class BiasAuditParams:
    """What an evaluator chose for one audit, recorded with its result so the audit can be replayed.

    ``reference_group`` maps a feature's name (``"sex"``, ``"sex×region"``) or key to the label of
    its reference group as results show it (``"F"``, ``"F×Bretagne"``), or to the group's key; labels
    are unique within a feature (see ``audits.groups``). ``n_boot`` only concerns the between-groups
    extremes: every other interval is closed-form.
    """

    sensitive_features: list[str]
    intersections: bool = False
    threshold: float = 0.5
    reference_group: dict[str, str] | None = None
    tolerance: float = 0.2
    min_group_size: int = 30
    n_boot: int = 1000
    seed: int = 0
    ci_level: float = 0.95

    def __post_init__(self) -> None:
        if not self.sensitive_features or len(set(self.sensitive_features)) != len(self.sensitive_features):
            raise ValueError("give at least one sensitive feature, each once")
        if not 0 < self.tolerance < 1 or not 0 < self.ci_level < 1:
            raise ValueError("tolerance and ci_level must lie strictly between 0 and 1")
        if self.n_boot < 0 or self.min_group_size < 0:
            raise ValueError("n_boot and min_group_size must be non-negative")


def run_bias_audit(
    frame: pd.DataFrame,
    *,
    label: str,
    sensitive: list[str],
    y_pred: np.ndarray | None,
    y_score: np.ndarray | None,
    params: BiasAuditParams,
) -> dict:
    """Measure per-group performance and disparities with intervals, and judge each disparity by one stated rule."""
    if list(sensitive) != list(params.sensitive_features) or len(frame) == 0:
        raise ValueError("sensitive must equal params.sensitive_features, and the frame must have rows")
    y_true = binary_values(frame[label].to_numpy(), label)
    score = None if y_score is None else np.asarray(y_score, dtype=float)
    if score is not None and (score.shape != y_true.shape or not np.isfinite(score).all()):
        raise ValueError("y_score must be finite and have one value per row")
    if y_pred is not None:
        pred = binary_values(np.asarray(y_pred), "y_pred")
    elif score is not None:
        pred = binary_values(np.asarray(score >= params.threshold), "y_pred")
    else:
        raise ValueError("give y_pred, or y_score to threshold")
    if pred.shape != y_true.shape:
        raise ValueError("y_pred must have one value per row")

    coding = code_rows(frame, sensitive, params.intersections, 2 * y_true + pred)
    return audit_from_counts(coding, label=label, params=params,
                             predictions="given" if y_pred is not None else "y_score >= threshold",
                             scores=None if score is None else (coding.row_combo(), y_true, score))


def audit_from_counts(coding: Coding, *, label: str, params: BiasAuditParams, predictions: str = "given",
                      scores: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict:
    """The audit from the finest combinations' confusion counts: every interval, verdict and extreme.

    The one place the numbers are computed, whether the counts came from a frame in memory
    (``run_bias_audit``) or were accumulated batch by batch (``audits.streaming``): for the same counts
    and seed, the results are identical. ``scores`` is (each row's combination, y_true, y_score) when
    scores are summarised per group (ROC AUC, calibration deciles); without it those are null.
    """
    rows, y_true, score = scores if scores is not None else (None, None, None)
    features = coding.groupings
    refs = references(features, params.reference_group)
    overall = Grouping("overall", "[]", [], ["overall"], ["{}"], [{}], np.zeros(coding.counts.shape[0], np.int64))
    overall.counts = coding.counts.sum(axis=0, keepdims=True)

    band = (1 - params.tolerance, 1 / (1 - params.tolerance))
    z = z_value(params.ci_level)
    closed = _closed_forms(features, refs, overall.counts[0], z, band)
    judged = verdicts.judge(closed.pop("comparisons"), band=band, level=params.ci_level,
                            min_group_size=params.min_group_size)
    rng = np.random.default_rng(params.seed)
    described, start = [], 0
    for f, (grouping, ref) in enumerate(zip(features, refs, strict=True)):
        size = (len(grouping.labels) - 1) * len(DISPARITY_METRICS)
        verdict_slice = {k: v[start : start + size] for k, v in judged.items() if k not in ("comparisons", "alpha")}
        start += size
        boot = bootstrap(grouping.counts, params.n_boot, rng)
        described.append(_describe_feature(grouping, ref, closed, f, verdict_slice, boot, rows, y_true, score,
                                           params))
    overall_view = _describe_groups(overall, _wilson_metrics(overall.counts, z), rows, y_true, score)[0]
    rule = verdicts.rule(band=band, tolerance=params.tolerance, level=params.ci_level,
                         min_group_size=params.min_group_size, comparisons=judged["comparisons"], n_boot=params.n_boot)
    return {
        "rule": rule,
        "methods": dict(verdicts.METHODS),
        "multiplicity": {"method": "holm", "alpha": judged["alpha"], "comparisons": judged["comparisons"],
                         "family": "judged_reference_comparisons"},
        "tolerance": params.tolerance,
        "tolerance_band": [band[0], band[1]],
        **{key: getattr(params, key) for key in ("n_boot", "seed", "ci_level", "min_group_size", "threshold")},
        "predictions": predictions,
        "label": label,
        "n": int(overall.counts.sum()),
        "metrics": list(METRICS),
        "disparity_metrics": list(DISPARITY_METRICS),
        "overall": {key: value for key, value in overall_view.items() if key not in ("group", "key", "levels")},
        "features": described,
    }


def binary_values(values: np.ndarray, name: str) -> np.ndarray:
    """0/1 values as int64; checked with min/max for integers (one cheap pass), exactly otherwise."""
    if values.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional array of 0/1 values")
    if values.dtype == bool:
        return values.astype(np.int64)
    if np.issubdtype(values.dtype, np.integer):
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ValueError(f"{name} must be a one-dimensional array of 0/1 values")
        return values.astype(np.int64)
    try:
        ok = bool(np.isin(values, (0, 1)).all())
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a one-dimensional array of 0/1 values")
    return values.astype(np.int64)


def _events(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 4) counts -> events and denominators (..., metrics), in METRICS order."""
    x = np.stack([counts[..., list(num)].sum(axis=-1) for num, _den in _RATIOS.values()], axis=-1)
    n = np.stack([counts[..., list(den)].sum(axis=-1) for _num, den in _RATIOS.values()], axis=-1)
    return x, n


def _values(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Fairlearn's values: x / n, 0.0 on a zero denominator."""
    return np.divide(x, n, out=np.zeros(n.shape), where=n > 0)


def _wilson_metrics(counts: np.ndarray, z: float) -> dict:
    x, n = _events(counts)
    low, high = wilson(x, n, z)
    return {"value": _values(x, n), "defined": n > 0, "low": low, "high": high}


def _closed_forms(features: list[Grouping], refs: list[int], total: np.ndarray, z: float, band) -> dict:
    """Every group interval and every comparison (to reference, to overall) of the audit, in one vectorised pass."""
    x_all, n_all = _events(total)
    d = _DISPARITY_INDEX
    per_feature: list[dict[str, Any]] = []
    pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for grouping, ref in zip(features, refs, strict=True):
        x, n = _events(grouping.counts)
        low, high = wilson(x, n, z)
        per_feature.append({"x": x, "n": n, "value": _values(x, n), "low": low, "high": high})
        xd, nd = x[:, d], n[:, d]
        pairs.append((xd, nd, np.broadcast_to(xd[ref], xd.shape), np.broadcast_to(nd[ref], nd.shape)))
        pairs.append((xd, nd, x_all[d] - xd, n_all[d] - nd))
    x1, n1, x2, n2 = (np.concatenate([p[k].ravel() for p in pairs]) for k in range(4))
    diff_low, diff_high = newcombe(x1, n1, x2, n2, z)
    ratio_low, ratio_high = koopman(x1, n1, x2, n2, z)
    p_below, p_above = band_p_values(x1, n1, x2, n2, band)

    start, tests = 0, []
    for f, (grouping, ref) in enumerate(zip(features, refs, strict=True)):
        stats = per_feature[f]
        shape = stats["x"][:, d].shape
        size = int(np.prod(shape))
        to_ref = slice(start, start + size)
        to_rest = slice(start + size, start + 2 * size)
        start += 2 * size

        def unpack(a: np.ndarray, part: slice, shape=shape) -> np.ndarray:
            return a[part].reshape(shape)

        stats["ref"] = {"diff": (unpack(diff_low, to_ref), unpack(diff_high, to_ref)),
                        "ratio": (unpack(ratio_low, to_ref), unpack(ratio_high, to_ref))}
        with np.errstate(divide="ignore", invalid="ignore"):
            share = stats["n"][:, d] / n_all[d]  # w: the group's share of the metric's denominator
        r_low, r_high = unpack(ratio_low, to_rest), unpack(ratio_high, to_rest)
        stats["overall"] = {
            "diff": ((1 - share) * unpack(diff_low, to_rest), (1 - share) * unpack(diff_high, to_rest)),
            "ratio": (_to_overall_ratio(r_low, share), _to_overall_ratio(r_high, share)),
        }
        value = stats["value"][:, d]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(value[ref] > 0, value / value[ref], np.nan)
        others = np.arange(len(grouping.labels)) != ref
        sizes = grouping.counts.sum(axis=1)
        tests.append({
            "group_n": np.broadcast_to(sizes[:, None], shape)[others], "reference_n": np.full(shape, sizes[ref])[others],
            "x1": stats["x"][:, d][others], "n1": stats["n"][:, d][others],
            "x2": np.broadcast_to(stats["x"][ref, d], shape)[others], "n2": np.broadcast_to(stats["n"][ref, d], shape)[others],
            "ratio": ratio[others], "ci_low": stats["ref"]["ratio"][0][others], "ci_high": stats["ref"]["ratio"][1][others],
            "p_below": unpack(p_below, to_ref)[others], "p_above": unpack(p_above, to_ref)[others],
        })  # fmt: skip
    comparisons = verdicts.Comparisons(**{k: np.concatenate([t[k].ravel() for t in tests]) for k in tests[0]})
    return {"features": per_feature, "overall": {"value": _values(x_all, n_all)}, "comparisons": comparisons}


def _to_overall_ratio(r: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Map a ratio to the rest of the population onto the ratio to the overall: r / (w r + 1 - w)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mapped = r / (share * r + 1 - share)
        return np.where(np.isinf(r), 1 / share, mapped)


def _describe_groups(grouping: Grouping, metrics: dict, rows, y_true, score) -> list[dict]:
    aucs, calibrations = _score_summaries(grouping, rows, y_true, score)
    value, low, high = (metrics[k].tolist() for k in ("value", "low", "high"))
    defined = metrics["defined"].tolist()
    groups = []
    for g, label in enumerate(grouping.labels):
        tn, fp, fn, tp = grouping.counts[g].tolist()
        groups.append({
            "group": label,
            "key": grouping.keys[g],
            "levels": grouping.levels[g],
            "count": tn + fp + fn + tp,
            "positives": fn + tp,
            "cells": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
            "metrics": {name: {"value": num(value[g][k]), "ci_low": num(low[g][k]), "ci_high": num(high[g][k]),
                               "defined": defined[g][k]}
                        for k, name in enumerate(METRICS)},
            "roc_auc": aucs[g],
            "calibration": calibrations[g],
        })  # fmt: skip
    return groups


def _score_summaries(grouping: Grouping, rows, y_true, score) -> tuple[list, list]:
    """ROC AUC and equal-count calibration deciles per group, from one sort of the rows by (group, score)."""
    size = len(grouping.labels)
    if score is None:
        return [None] * size, [None] * size
    row_group = grouping.combo_group[rows]
    order = np.lexsort((score, row_group))
    counts = np.bincount(row_group, minlength=size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_group = row_group[order]
    key = sorted_group * 10 + (np.arange(order.size) - starts[sorted_group]) * 10 // counts[sorted_group]
    n = np.bincount(key, minlength=size * 10).reshape(size, 10)
    predicted = np.bincount(key, weights=score[order], minlength=size * 10).reshape(size, 10)
    observed = np.bincount(key, weights=y_true[order], minlength=size * 10).reshape(size, 10)
    aucs, calibrations = [], []
    for g in range(size):
        rows_g = order[starts[g] : starts[g] + counts[g]]
        positives = y_true[rows_g].sum()
        aucs.append(num(roc_auc_score(y_true[rows_g], score[rows_g])) if 0 < positives < rows_g.size else None)
        calibrations.append(
            [
                {"decile": d + 1, "n": int(n[g, d]), "mean_predicted": num(predicted[g, d] / n[g, d]),
                 "observed": num(observed[g, d] / n[g, d])}
                for d in range(10)
                if n[g, d] > 0
            ]
        )  # fmt: skip
    return aucs, calibrations


def _describe_feature(grouping: Grouping, ref: int, closed: dict, f: int, judged: dict, boot: np.ndarray, rows,
                      y_true, score, params: BiasAuditParams) -> dict:
    stats = closed["features"][f]
    value = stats["value"]
    overall_value = closed["overall"]["value"]
    d = _DISPARITY_INDEX
    v, v_all = value[:, d], overall_value[d]
    with np.errstate(divide="ignore", invalid="ignore"):
        ref_arrays = {"difference": (v - v[ref], *stats["ref"]["diff"]),
                      "ratio": (np.where(v[ref] > 0, v / v[ref], np.nan), *stats["ref"]["ratio"])}
        all_arrays = {"difference": (v - v_all, *stats["overall"]["diff"]),
                      "ratio": (np.where(v_all > 0, v / v_all, np.nan), *stats["overall"]["ratio"])}
    to_ref, to_all = ({part: [a.tolist() for a in arrays] for part, arrays in t.items()}
                      for t in (ref_arrays, all_arrays))
    p_value, p_adjusted = judged["p_value"].tolist(), judged["p_adjusted"].tolist()
    disparities, to_overall, i = [], [], 0
    for g, label in enumerate(grouping.labels):
        key = grouping.keys[g]
        for j, metric in enumerate(DISPARITY_METRICS):
            to_overall.append({"group": label, "key": key, "metric": metric,
                               "difference": triple(*(a[g][j] for a in to_all["difference"])),
                               "ratio": _ratio_triple(*(a[g][j] for a in to_all["ratio"]))})
            if g == ref:
                continue
            disparities.append({
                "group": label, "key": key, "metric": metric,
                "difference": triple(*(a[g][j] for a in to_ref["difference"])),
                "ratio": _ratio_triple(*(a[g][j] for a in to_ref["ratio"])),
                "p_value": num(p_value[i]), "p_adjusted": num(p_adjusted[i]),
                "verdict": judged["verdict"][i], "verdict_unadjusted": judged["verdict_unadjusted"][i],
                "reason": judged["reason"][i], "base_rate_note": None,
            })  # fmt: skip
            i += 1
    metrics = {"value": value, "defined": stats["n"] > 0, "low": stats["low"], "high": stats["high"]}
    _add_base_rate_notes(disparities, value, ref, grouping)
    replicates = _events(boot)
    return {
        "name": grouping.name,
        "key": grouping.key,
        "columns": grouping.columns,
        "reference_group": grouping.labels[ref],
        "reference_key": grouping.keys[ref],
        "groups": _describe_groups(grouping, metrics, rows, y_true, score),
        "disparities": disparities,
        "disparities_to_overall": to_overall,
        "extremes": extremes(METRICS, grouping.labels, grouping.keys, value, stats["n"] > 0, overall_value,
                             *replicates, params.ci_level),
    }


def _add_base_rate_notes(disparities: list[dict], value: np.ndarray, ref: int, grouping: Grouping) -> None:
    by = {(d["key"], d["metric"]): d for d in disparities}
    prevalence, selection, tpr, fpr = (METRICS.index(m) for m in ("prevalence", "selection_rate", "tpr", "fpr"))
    reference = value[ref]
    for g, key in enumerate(grouping.keys):
        if g == ref or (key, "selection_rate") not in by:
            continue
        expected = reference[tpr] * value[g, prevalence] + reference[fpr] * (1 - value[g, prevalence])
        by[(key, "selection_rate")]["base_rate_note"] = verdicts.base_rate_note(
            by[(key, "selection_rate")], by[(key, "tpr")], by[(key, "fpr")],
            num(value[g, prevalence] / reference[prevalence]) if reference[prevalence] > 0 else None,
            num(expected / reference[selection]) if reference[selection] > 0 else None)


def _ratio_triple(value, low, high) -> dict:
    return {"value": num(value), "ci_low": num(low), "ci_high": num(high), "ci_high_unbounded": high == math.inf}
