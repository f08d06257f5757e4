"""Every bias audit cross-checked against Fairlearn's MetricFrame, on a seeded sample stratified by group.

The engine counts confusion cells instead of slicing rows (``audits.fairness``); this module
shows, audit by audit, that it still computes Fairlearn's numbers. It draws a sample of at most
``MAX_ROWS`` rows (all rows when there are fewer), runs the engine on that sample (point values,
no intervals) and Fairlearn's ``MetricFrame`` on the same rows, grouped by the engine's own groups
(``engine_adapter.group_rows``), and compares every per-group metric, count and overall value.
The largest absolute difference is recorded in the audit's provenance; anything but 0.0 fails
the job with ``CrossCheckFailed``, whose ``reason`` is a fixed sentence (the details, for admins,
are in the exception's message).

The sample is stratified by the finest combination of the sensitive features crossed with the
confusion cell (observed × predicted): proportional allocation by largest remainders, with at
least one row from every non-empty stratum. So every group and intersection of the full data is
in the sample, and every metric defined on the full data is defined on the sample too, which is
where a disagreement on zero denominators would show.

An audit computed streaming (``audits.streaming``) has no rows in memory to sample; it has something
better: its counts. ``fairlearn_crosscheck_counts`` gives Fairlearn one row per non-empty (finest
combination, observed, predicted) cell, weighted by the cell's count, so the weighted ``MetricFrame``
computes every metric over all the rows, and compares it with the audit's own result.
"""

from __future__ import annotations

import warnings
from functools import partial
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from audits import engine_adapter

MAX_ROWS = 50_000
REQUIRED_METRICS = ("prevalence", "selection_rate", "tpr", "fpr", "ppv", "npv", "accuracy")
WEIGHTED_METHOD = ("MetricFrame on one row per (finest combination of the sensitive features, observed, predicted) "
                   "cell weighted by its count (sample_weight): every row, no sample; the engine's own result")
STRATIFICATION = "finest combination of the sensitive features × confusion cell (observed, predicted)"


class CrossCheckFailed(RuntimeError):
    """The engine and Fairlearn disagree: the audit's numbers cannot be stood behind."""

    reason = "cross-check failed: the audit engine disagrees with Fairlearn's MetricFrame on the sample"


def fairlearn_metrics() -> dict[str, Any]:
    """Fairlearn's and scikit-learn's definitions of the engine's metrics, keyed by the engine's names."""
    from fairlearn.metrics import (
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    return {
        "count": count,
        "prevalence": lambda y_true, y_pred: float(np.mean(y_true)),
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "ppv": partial(precision_score, zero_division=0),
        "npv": partial(precision_score, pos_label=0, zero_division=0),  # tn / (tn + fn)
        "accuracy": accuracy_score,
    }


def stratified_sample(strata: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Sorted row indices: at most ``max_rows``, proportional to each stratum, at least one per stratum."""
    n = strata.size
    if n <= max_rows:
        return np.arange(n)
    sizes = np.bincount(strata)
    exact = sizes * (max_rows / n)
    quota = np.floor(exact).astype(np.int64)
    present = sizes > 0
    if present.sum() <= max_rows:
        quota[present & (quota == 0)] = 1
    excess = int(quota.sum()) - max_rows
    while excess > 0:  # the floor of one row per stratum overshot: take back from the largest quotas
        largest = np.argsort(-quota, kind="stable")[:excess]
        largest = largest[quota[largest] > 1]
        quota[largest] -= 1
        excess -= largest.size
    if excess < 0:  # largest remainders first
        room = np.where(quota < sizes, exact - np.floor(exact), -np.inf)
        quota[np.argsort(-room, kind="stable")[:-excess]] += 1
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(n), strata))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    sorted_strata = strata[order]
    rank = np.arange(n) - starts[sorted_strata]
    return np.sort(order[rank < quota[sorted_strata]])


def _strata(frame: pd.DataFrame, sensitive: list[str], y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    fine = np.zeros(len(frame), dtype=np.int64)
    for column in sensitive:
        codes, values = pd.factorize(frame[column], sort=False)
        fine = pd.factorize(fine * (len(values) + 1) + codes)[0].astype(np.int64)
    return fine * 4 + 2 * y_true + y_pred


def _difference(ours: Any, theirs: Any) -> float:
    ours_missing = ours is None or (isinstance(ours, float) and np.isnan(ours))
    theirs_missing = theirs is None or (isinstance(theirs, float) and np.isnan(theirs))
    if ours_missing or theirs_missing:
        return 0.0 if ours_missing and theirs_missing else float("inf")
    return abs(float(ours) - float(theirs))


def fairlearn_crosscheck(
    frame: pd.DataFrame,
    *,
    label: str,
    sensitive: list[str],
    y_pred: np.ndarray,
    params: Any,
    seed: int,
    max_rows: int = MAX_ROWS,
    engine=engine_adapter.point_audit,
) -> dict[str, Any]:
    """Run the engine and Fairlearn on the same stratified sample; raise ``CrossCheckFailed`` on any difference."""
    import fairlearn

    y_true = frame[label].to_numpy().astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    rows = stratified_sample(_strata(frame, sensitive, y_true, y_pred), max_rows, seed)
    sample = frame.iloc[rows].reset_index(drop=True)
    sample_true, sample_pred = y_true[rows], y_pred[rows]
    result = engine(sample, label=label, sensitive=sensitive, y_pred=sample_pred, params=params)

    compared, values, worst = _compare(result, sample, sample_true, sample_pred)
    return {
        "library": "fairlearn",
        "fairlearn_version": getattr(fairlearn, "__version__", None) or version("fairlearn"),
        "method": "MetricFrame on a stratified sample; the engine recomputed on the same rows",
        "sample_rows": int(rows.size),
        "rows": len(frame),
        "max_rows": max_rows,
        "seed": seed,
        "stratified_by": STRATIFICATION,
        "metrics": compared,
        "values_compared": values,
        "max_abs_difference": worst,
    }


def fairlearn_crosscheck_counts(cells: pd.DataFrame, *, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray,
                                result: dict, rows: int) -> dict[str, Any]:
    """Check an audit computed from counts (``audits.streaming``) against Fairlearn on every row, at any N.

    ``cells`` holds one row per non-empty (finest combination of sensitive values, observed, predicted)
    cell and ``weights`` its count (``streaming.cell_table``): weighted by their counts
    (``sample_params={"sample_weight": ...}``) these rows stand for the whole dataset, so Fairlearn's
    weighted ``MetricFrame`` computes every metric on all ``rows`` rows without a sample. Weights are
    whole numbers, so its sums are exact and any difference fails the job as the row-level check does.
    """
    import fairlearn

    compared, values, worst = _compare(result, cells.reset_index(drop=True), np.asarray(y_true, dtype=np.int64),
                                       np.asarray(y_pred, dtype=np.int64), np.asarray(weights, dtype=np.float64))
    return {
        "library": "fairlearn",
        "fairlearn_version": getattr(fairlearn, "__version__", None) or version("fairlearn"),
        "method": WEIGHTED_METHOD,
        "sample_rows": rows,
        "rows": rows,
        "weighted_rows": len(cells),
        "metrics": compared,
        "values_compared": values,
        "max_abs_difference": worst,
    }


def _weighted(metric):
    return lambda y_true, y_pred, sample_weight: metric(y_true, y_pred, sample_weight=sample_weight)


def weighted_fairlearn_metrics() -> dict[str, Any]:
    """``fairlearn_metrics`` for rows weighted by a count: the count is the summed weight, prevalence a weighted mean."""
    metrics = fairlearn_metrics()
    return {
        **{name: _weighted(metric) for name, metric in metrics.items()},
        "count": lambda y_true, y_pred, sample_weight: float(np.sum(sample_weight)),
        "prevalence": lambda y_true, y_pred, sample_weight: float(np.average(y_true, weights=sample_weight)),
    }


def _compare(result: dict, frame: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray,
             weights: np.ndarray | None = None) -> tuple[list[str], int, float]:
    """Fairlearn's MetricFrame on ``frame`` grouped by the engine's groups, against ``result``; raise on any gap."""
    from fairlearn.metrics import MetricFrame

    metrics = fairlearn_metrics() if weights is None else weighted_fairlearn_metrics()
    engine_names = set(result["overall"]["metrics"])
    missing = [name for name in REQUIRED_METRICS if name not in engine_names]
    if missing:
        raise CrossCheckFailed(f"the engine no longer reports {missing}")
    compared = ["count", *(name for name in metrics if name in engine_names)]
    weighting = {} if weights is None else {"sample_params": {m: {"sample_weight": weights} for m in compared}}
    worst = (0.0, "")
    values = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero denominators: both sides report 0.0, which is what is compared
        for index, feature in enumerate(result["features"]):
            codes = engine_adapter.group_rows(frame, feature, weights)
            frame_ = MetricFrame(metrics={m: metrics[m] for m in compared}, y_true=y_true,
                                 y_pred=y_pred, sensitive_features=codes, **weighting)
            if index == 0:  # every MetricFrame computes the overall values; compare them once
                ours = {**engine_adapter.group_metric_values(result["overall"]), "count": result["overall"]["count"]}
                for name in compared:
                    gap = _difference(ours.get(name), frame_.overall[name])
                    values += 1
                    worst = max(worst, (gap, f"overall {name}"))
            by_group = frame_.by_group
            for position, group in enumerate(feature["groups"]):
                ours = {**engine_adapter.group_metric_values(group), "count": group["count"]}
                for name in compared:
                    gap = _difference(ours.get(name), by_group.loc[position, name])
                    values += 1
                    worst = max(worst, (gap, f"{feature['name']} group {position} {name}"))
    if worst[0] != 0.0:
        raise CrossCheckFailed(f"largest difference {worst[0]!r} at {worst[1]}")
    return compared, values, float(worst[0])
