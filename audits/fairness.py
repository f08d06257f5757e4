"""Bias audits computed on confusion counts, so a million-row audit with bootstrap intervals takes seconds.

Fairlearn's ``MetricFrame`` is the reference definition: every point value equals what
it reports for the same data, including its conventions for zero denominators (the
rate is 0.0; here it is also flagged ``defined: false``). Instead of slicing rows, the
engine counts TN/FP/FN/TP per group with ``np.bincount`` and bootstraps those counts:
resampling N rows with replacement over the whole dataset is exactly a multinomial
draw over the (finest group, cell) counts with probabilities count / N, which is what
Fairlearn's whole-dataset bootstrap does for count-based metrics. One draw over the
product of all sensitive features serves every feature and intersection, so a group
and its reference are always resampled jointly.

Result of ``run_bias_audit`` (plain JSON types only, never NaN or infinity)::

    rule, tolerance, tolerance_band [low, high], n_boot, seed, ci_level, min_group_size, threshold,
    predictions ("given" | "y_score >= threshold"), label, n, metrics, disparity_metrics
    overall       {count, positives, metrics, roc_auc, calibration}
    features      one per sensitive feature, then one per pair ("sex×region") if intersections:
      {name, columns, reference_group,
       groups       [{group, levels {column: value}, count, positives,
                      metrics {name: {value, ci_low, ci_high, defined}}, roc_auc, calibration}],
       disparities  [{group, metric, difference {value, ci_low, ci_high}, ratio {...}, verdict, reason}],
       extremes     [{metric, difference {...}, ratio {...}, max_group, min_group, defined}]}

``roc_auc`` is scikit-learn's ``roc_auc_score`` (null without scores or with one class);
``calibration`` lists equal-count deciles of ``y_score`` within the group as
``{decile, n, mean_predicted, observed}`` (null without scores). Group metric intervals
follow Fairlearn (percentiles over the replicates in which the group is present). For
disparities and extremes a replicate whose value is undefined is left out, and the
interval is withheld (null) when more than 1 - ci_level of the replicates are undefined.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

METRICS = ("prevalence", "selection_rate", "tpr", "fpr", "ppv", "npv", "accuracy")
DISPARITY_METRICS = ("selection_rate", "tpr", "fpr", "ppv", "npv", "accuracy")
VERDICTS = ("pass", "fail", "insufficient_evidence")
_TN, _FP, _FN, _TP = range(4)  # cell = 2 * y_true + y_pred
_ALL = (_TN, _FP, _FN, _TP)
_RATIOS = {  # metric: (numerator cells, denominator cells)
    "prevalence": ((_FN, _TP), _ALL),
    "selection_rate": ((_FP, _TP), _ALL),
    "tpr": ((_TP,), (_FN, _TP)),
    "fpr": ((_FP,), (_TN, _FP)),
    "ppv": ((_TP,), (_FP, _TP)),
    "npv": ((_TN,), (_TN, _FN)),
    "accuracy": ((_TN, _TP), _ALL),
}
_MAX_DRAW_CELLS = 4_000_000  # bootstrap counts drawn per chunk: bounds memory whatever the number of groups


@dataclass(frozen=True)
class BiasAuditParams:
    """What an evaluator chose for one audit, recorded with its result so the audit can be replayed."""

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


@dataclass
class _Grouping:
    name: str
    columns: list[str]
    labels: list[str]
    levels: list[dict[str, str]]
    combo_group: np.ndarray  # finest combination of sensitive values -> group code
    counts: np.ndarray = field(init=False)  # (G, 4) confusion counts
    boot: np.ndarray = field(init=False)  # (B, G, 4) bootstrap confusion counts
    aucs: list = field(init=False)
    calibrations: list = field(init=False)


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
    y_true = _binary(frame[label].to_numpy(), label)
    score = None if y_score is None else np.asarray(y_score, dtype=float)
    if score is not None and (score.shape != y_true.shape or not np.isfinite(score).all()):
        raise ValueError("y_score must be finite and have one value per row")
    if y_pred is None and score is None:
        raise ValueError("give y_pred, or y_score to threshold")
    pred = _binary(np.asarray(y_pred) if y_pred is not None else (score >= params.threshold), "y_pred")
    if pred.shape != y_true.shape:
        raise ValueError("y_pred must have one value per row")

    fine, groupings = _build_groupings(frame, sensitive, params.intersections)
    unknown = set(params.reference_group or {}) - {grouping.name for grouping in groupings}
    if unknown:
        raise ValueError(f"reference_group names no audited feature: {sorted(unknown)}")
    combos = int(fine.max()) + 1
    groupings.insert(0, _Grouping("overall", [], ["overall"], [{}], np.zeros(combos, dtype=np.int64)))
    fine_counts = np.bincount(fine * 4 + 2 * y_true + pred, minlength=combos * 4)
    for grouping in groupings:
        grouping.counts = _aggregate(fine_counts.reshape(1, -1, 4), grouping)[0]
        grouping.boot = np.zeros((params.n_boot, len(grouping.labels), 4), dtype=np.int64)
        grouping.aucs, grouping.calibrations = _score_summaries(grouping, fine, y_true, score)
    _bootstrap(fine_counts, groupings, params)

    band = [1 - params.tolerance, 1 / (1 - params.tolerance)]
    overall = _describe_groups(groupings[0], params)[0]
    return {
        "rule": _rule_text(params, band),
        "tolerance": params.tolerance,
        "tolerance_band": band,
        **{key: getattr(params, key) for key in ("n_boot", "seed", "ci_level", "min_group_size", "threshold")},
        "predictions": "given" if y_pred is not None else "y_score >= threshold",
        "label": label,
        "n": int(y_true.size),
        "metrics": list(METRICS),
        "disparity_metrics": list(DISPARITY_METRICS),
        "overall": {key: value for key, value in overall.items() if key not in ("group", "levels")},
        "features": [_describe_feature(grouping, params, band) for grouping in groupings[1:]],
    }


def summarise_verdicts(result: dict) -> dict:
    """Count verdicts and list the failures, so a card can state the audit's outcome in one line."""
    summary: dict = dict.fromkeys(VERDICTS, 0)
    summary["failed"] = []
    for feature in result["features"]:
        for disparity in feature["disparities"]:
            summary[disparity["verdict"]] += 1
            if disparity["verdict"] == "fail":
                summary["failed"].append(
                    {"feature": feature["name"], "group": disparity["group"], "metric": disparity["metric"]}
                )
    return summary


def _binary(values: np.ndarray, name: str) -> np.ndarray:
    if values.ndim != 1 or not np.isin(values, (0, 1)).all():
        raise ValueError(f"{name} must be a one-dimensional array of 0/1 values")
    return values.astype(np.int64)


def _build_groupings(frame: pd.DataFrame, sensitive: list[str], intersections: bool):
    """Code every row by the product of all sensitive features; each grouping maps those combinations to groups."""
    codes, uniques = [], []
    for column in sensitive:
        if frame[column].isna().any():
            raise ValueError(f"sensitive feature {column!r} has missing values")
        column_codes, column_uniques = pd.factorize(frame[column], sort=True)
        codes.append(column_codes.astype(np.int64))
        uniques.append([str(value) for value in column_uniques])
    fine = codes[0]
    for column_codes, column_uniques in zip(codes[1:], uniques[1:], strict=True):
        fine = pd.factorize(fine * len(column_uniques) + column_codes, sort=True)[0].astype(np.int64)
    first_rows = np.unique(fine, return_index=True)[1]
    combo_codes = [column_codes[first_rows] for column_codes in codes]

    groupings = []
    parts = [(i,) for i in range(len(sensitive))]
    if intersections:
        parts += list(itertools.combinations(range(len(sensitive)), 2))
    for part in parts:
        joint = np.zeros(first_rows.size, dtype=np.int64)
        for i in part:
            joint = joint * len(uniques[i]) + combo_codes[i]
        combo_group = np.unique(joint, return_inverse=True)[1].astype(np.int64)
        first_combos = np.unique(combo_group, return_index=True)[1]
        levels = [{sensitive[i]: uniques[i][combo_codes[i][c]] for i in part} for c in first_combos]
        columns = [sensitive[i] for i in part]
        labels = ["×".join(level.values()) for level in levels]
        groupings.append(_Grouping("×".join(columns), columns, labels, levels, combo_group))
    return fine, groupings


def _aggregate(counts: np.ndarray, grouping: _Grouping) -> np.ndarray:
    """Sum (B, combinations, 4) counts into (B, groups, 4) counts."""
    order = np.argsort(grouping.combo_group, kind="stable")
    starts = np.searchsorted(grouping.combo_group[order], np.arange(len(grouping.labels)))
    return np.add.reduceat(counts[:, order, :], starts, axis=1)


def _bootstrap(fine_counts: np.ndarray, groupings: list[_Grouping], params: BiasAuditParams) -> None:
    """Resample the whole dataset as one multinomial draw over cells, in chunks of replicates."""
    rng = np.random.default_rng(params.seed)
    total = int(fine_counts.sum())
    chunk = max(1, _MAX_DRAW_CELLS // fine_counts.size)
    for start in range(0, params.n_boot, chunk):
        size = min(chunk, params.n_boot - start)
        draws = rng.multinomial(total, fine_counts / total, size=size).reshape(size, -1, 4)
        for grouping in groupings:
            grouping.boot[start : start + size] = _aggregate(draws, grouping)


def _rates(counts: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each metric as (value, defined): Fairlearn's 0.0 on a zero denominator, NaN where the group is absent."""
    present = counts.sum(axis=-1) > 0
    rates = {}
    for name, (numerator, denominator) in _RATIOS.items():
        num = counts[..., list(numerator)].sum(axis=-1)
        den = counts[..., list(denominator)].sum(axis=-1)
        value = np.divide(num, den, out=np.zeros(den.shape), where=den > 0)
        rates[name] = (np.where(present, value, np.nan), den > 0)
    return rates


def _interval(samples: np.ndarray, params: BiasAuditParams, max_undefined: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over replicates (axis 0), NaN where too many replicates are undefined."""
    if samples.shape[0] == 0:
        return np.full(samples.shape[1:], np.nan), np.full(samples.shape[1:], np.nan)
    undefined = np.isnan(samples).mean(axis=0)
    filled = np.where(undefined == 1, 0.0, samples)  # keeps nanquantile quiet; withheld below
    alpha = (1 - params.ci_level) / 2
    low, high = np.nanquantile(filled, [alpha, 1 - alpha], axis=0)
    withheld = (undefined > max_undefined) | (undefined == 1)
    return np.where(withheld, np.nan, low), np.where(withheld, np.nan, high)


def _describe_groups(grouping: _Grouping, params: BiasAuditParams) -> list[dict]:
    point, replicates = _rates(grouping.counts), _rates(grouping.boot)
    intervals = {name: _interval(replicates[name][0], params, 1.0) for name in METRICS}
    groups = []
    for g, label in enumerate(grouping.labels):
        metrics = {
            name: {**_triple(point[name][0], intervals[name], g), "defined": bool(point[name][1][g])}
            for name in METRICS
        }
        count = grouping.counts[g]
        groups.append(
            {
                "group": label,
                "levels": grouping.levels[g],
                "count": int(count.sum()),
                "positives": int(count[_FN] + count[_TP]),
                "cells": {"tn": int(count[_TN]), "fp": int(count[_FP]), "fn": int(count[_FN]), "tp": int(count[_TP])},
                "metrics": metrics,
                "roc_auc": grouping.aucs[g],
                "calibration": grouping.calibrations[g],
            }
        )
    return groups


def _score_summaries(grouping: _Grouping, fine, y_true, score) -> tuple[list, list]:
    """ROC AUC and equal-count calibration deciles per group, from one sort of the rows by (group, score)."""
    size = len(grouping.labels)
    if score is None:
        return [None] * size, [None] * size
    row_group = grouping.combo_group[fine]
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
        rows = order[starts[g] : starts[g] + counts[g]]
        aucs.append(_num(roc_auc_score(y_true[rows], score[rows])) if 0 < y_true[rows].sum() < rows.size else None)
        calibrations.append(
            [
                {"decile": d + 1, "n": int(n[g, d]), "mean_predicted": _num(predicted[g, d] / n[g, d]),
                 "observed": _num(observed[g, d] / n[g, d])}
                for d in range(10)
                if n[g, d] > 0
            ]
        )  # fmt: skip
    return aucs, calibrations


def _describe_feature(grouping: _Grouping, params: BiasAuditParams, band: list[float]) -> dict:
    wanted = (params.reference_group or {}).get(grouping.name)
    sizes = grouping.counts.sum(axis=1)
    if wanted is not None and wanted not in grouping.labels:
        raise ValueError(f"reference group {wanted!r} not found in {grouping.name!r}")
    ref = int(np.argmax(sizes)) if wanted is None else grouping.labels.index(wanted)
    point, replicates = _rates(grouping.counts), _rates(grouping.boot)
    max_undefined = 1 - params.ci_level
    disparities = []
    for metric in DISPARITY_METRICS:
        value, defined = point[metric]
        samples = np.where(replicates[metric][1], replicates[metric][0], np.nan)  # undefined replicates left out
        ref_samples = samples[:, [ref]]
        differences = _interval(samples - ref_samples, params, max_undefined)
        ratio_samples = np.divide(samples, ref_samples, out=np.full(samples.shape, np.nan), where=ref_samples > 0)
        ratios = _interval(ratio_samples, params, max_undefined)
        ratio = np.divide(value, value[ref], out=np.full(value.shape, np.nan), where=value[ref] > 0)
        for g, label in enumerate(grouping.labels):
            if g != ref:
                verdict, reason = _judge(
                    (sizes[g], sizes[ref]), defined[g] and defined[ref], value[ref], ratios[0][g], ratios[1][g],
                    params, band,
                )  # fmt: skip
                disparities.append(
                    {
                        "group": label,
                        "metric": metric,
                        "difference": _triple(value - value[ref], differences, g),
                        "ratio": _triple(ratio, ratios, g),
                        "verdict": verdict,
                        "reason": reason,
                    }
                )
    return {
        "name": grouping.name,
        "columns": grouping.columns,
        "reference_group": grouping.labels[ref],
        "groups": _describe_groups(grouping, params),
        "disparities": disparities,
        "extremes": [_extremes(grouping.labels, point[m], replicates[m][0], m, params) for m in METRICS],
    }


def _judge(sizes, defined, ref_value, low, high, params: BiasAuditParams, band) -> tuple[str, str]:
    """Apply the verdict rule stated in the result's ``rule`` to one disparity."""
    if min(sizes) < params.min_group_size:
        return "insufficient_evidence", (
            f"group has {sizes[0]} and reference {sizes[1]} individuals; {params.min_group_size} needed in each"
        )
    if not defined:
        return "insufficient_evidence", "metric undefined (zero denominator) in the group or the reference"
    if ref_value == 0:
        return "insufficient_evidence", "ratio undefined: the reference value is 0"
    if np.isnan(low) or np.isnan(high):
        return "insufficient_evidence", "no ratio interval (n_boot = 0, or too many undefined replicates)"
    where = f"ratio interval [{low:.3f}, {high:.3f}] {{}} [{band[0]:.3f}, {band[1]:.3f}]"
    if band[0] <= low and high <= band[1]:
        return "pass", where.format("lies within")
    if high < band[0] or low > band[1]:
        return "fail", where.format("lies outside")
    return "insufficient_evidence", where.format("straddles a boundary of")


def _extremes(labels, point, samples, metric: str, params: BiasAuditParams) -> dict:
    """Fairlearn's between-groups difference (max - min) and ratio (min / max), with intervals."""
    value, defined = point
    top, bottom = value.max(), value.min()
    high_s = np.nanmax(samples, axis=1, initial=-np.inf)
    low_s = np.nanmin(samples, axis=1, initial=np.inf)
    ratio_s = np.divide(low_s, high_s, out=np.full(high_s.shape, np.nan), where=high_s > 0)
    max_undefined = 1 - params.ci_level
    return {
        "metric": metric,
        "difference": _triple(np.array([top - bottom]), _interval((high_s - low_s)[:, None], params, max_undefined), 0),
        "ratio": _triple(
            np.array([bottom / top if top > 0 else np.nan]), _interval(ratio_s[:, None], params, max_undefined), 0
        ),
        "max_group": labels[int(np.argmax(value))],
        "min_group": labels[int(np.argmin(value))],
        "defined": bool(defined.all() and top > 0),
    }


def _triple(values: np.ndarray, interval: tuple[np.ndarray, np.ndarray], g: int) -> dict:
    return {"value": _num(values[g]), "ci_low": _num(interval[0][g]), "ci_high": _num(interval[1][g])}


def _num(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _rule_text(params: BiasAuditParams, band: list[float]) -> str:
    return (
        f"Each disparity is the ratio of a group's metric to the reference group's (by default the largest group), "
        f"with a {params.ci_level:.0%} percentile bootstrap interval ({params.n_boot} whole-dataset resamples, "
        f"seed {params.seed}). It passes when the whole interval lies within the tolerance band "
        f"[{band[0]:.3f}, {band[1]:.3f}] (Aequitas: [1 - τ, 1 / (1 - τ)], τ = {params.tolerance}), and fails when "
        f"the whole interval lies outside it. Otherwise the evidence is insufficient: the group or the reference has "
        f"fewer than {params.min_group_size} individuals, the metric is undefined (zero denominator) in either or the "
        f"reference value is 0, the interval cannot be computed, or it straddles a boundary of the band."
    )
