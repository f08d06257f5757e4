"""Score metrics of the streaming engine, from histograms: the in-memory ones, exact or within their stated bounds.

The in-memory engine (``audits.scores.score_metrics``) computes every score metric from the rows;
the streaming engine only keeps per-combination histograms of the scores by outcome
(``audits.score_histograms``). On synthetic cohorts (``audits.synth``, real Parquet files, the real
streaming join) this shows what ``audits/score_histograms.py`` claims: counts and the sweep exact,
AUC, average precision and ECE within the bound stored beside each, slope and intercept close, the
same result wherever and in whichever order the partitions were counted, and a histogram whose size
does not depend on the number of rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audits.fairness import BiasAuditParams, run_bias_audit
from audits.score_histograms import RESOLUTION, histogram_edges, histogram_score_metrics
from audits.scores import score_metrics
from audits.streaming import run_streaming_bias_audit
from audits.synth import BiasSpec, generate_cohort
from registry_db.errors import ValidationFailed

SENSITIVE = ["sex", "age_band"]
# Slope and intercept: each (bin, outcome) cell's rows sit at their mean logit. Within a bin 1/1,000 wide the
# logits of its rows differ by less than 0.001 / (s (1 - s)), about 0.01 at the cohort's scores (0.01 to 0.9),
# and the fit moves by a fraction of that: measured at most 6.4e-4 (intercepts of groups of 1,000 rows).
FIT_TOLERANCE = 1e-3
# The bounds are worst cases (any order of the rows within a bin); the errors met are far smaller. In groups
# of this size or more, AUC, average precision and ECE were within the resolution on every cohort tried
# (below it, the ECE's shared bins weigh more: up to 3.6e-3 in groups of 600 to 1,000 rows).
WITHIN_RESOLUTION_ROWS = 2_000


def _files(tmp_path, frame: pd.DataFrame, *, score: str = "risk_score", fmt: str = "parquet"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    dataset = tmp_path / "data.parquet"
    frame.drop(columns=["prediction", score]).to_parquet(dataset, index=False, row_group_size=2_000)
    predictions = frame[["row_id", "prediction"]].assign(score=frame[score].to_numpy()).sample(frac=1, random_state=5)
    path = tmp_path / f"predictions.{fmt}"
    if fmt == "parquet":
        predictions.to_parquet(path, index=False)
    else:
        predictions.to_csv(path, index=False)
    return dataset, path


def _cohort(rows: int, seed: int, *, decimals: int | None = None) -> pd.DataFrame:
    frame = generate_cohort(rows, seed=seed, bias=BiasSpec("sex", "F", 0.3))
    if decimals is not None:
        frame["risk_score"] = frame["risk_score"].round(decimals)
    frame["prediction"] = (frame["risk_score"] >= 0.2).astype(int)
    return frame


def _both(tmp_path, frame, *, fmt="parquet", map_partitions=map, partition_rows=3_000, sensitive=SENSITIVE,
          **options):
    """The in-memory score metrics of the frame read back from its file, and the streamed ones with their counts."""
    params = BiasAuditParams(sensitive_features=sensitive, **{"intersections": True, "n_boot": 200, "seed": 11,
                                                              **options})
    dataset, predictions = _files(tmp_path, frame, fmt=fmt)
    stored = pd.read_parquet(dataset)
    scores = frame["risk_score"].to_numpy()
    audit = run_bias_audit(stored, label="outcome", sensitive=sensitive, y_pred=frame["prediction"].to_numpy(),
                           y_score=scores, params=params)
    expected = score_metrics(stored, audit, label="outcome", y_score=scores, params=params)
    streamed, counts = run_streaming_bias_audit(dataset, predictions, predictions_format=fmt, label="outcome",
                                                row_key="row_id", params=params, workdir=tmp_path / "work",
                                                batch_rows=1_500, partition_rows=partition_rows,
                                                map_partitions=map_partitions, scores=True)
    found = histogram_score_metrics(counts.scores, counts.coding.groupings, streamed, params)
    return audit, expected, streamed, found, counts


def _groups(metrics: dict) -> list[dict]:
    return [metrics["overall"], *(g for f in metrics["features"] for g in f["groups"])]


@pytest.mark.parametrize(("rows", "seed", "fmt"), [(20_000, 1, "parquet"), (6_000, 2, "csv"), (6_000, 3, "parquet")])
def test_streamed_score_metrics_equal_the_in_memory_ones_exactly_or_within_their_bounds(tmp_path, rows, seed, fmt):
    audit, expected, streamed, found, counts = _both(tmp_path, _cohort(rows, seed), fmt=fmt)

    # the audit itself (counts, intervals, verdicts) is unchanged by reading the scores
    assert json.dumps(streamed["features"]) == json.dumps(
        [{**f, "groups": [{**g, "roc_auc": None, "calibration": None} for g in f["groups"]]}
         for f in audit["features"]])
    assert found["method"] == "histogram" and found["resolution"] == RESOLUTION == 0.001
    assert found["thresholds"] == expected["thresholds"] and found["operating_threshold"] == 0.5
    assert [(f["name"], [g["group"] for g in f["groups"]]) for f in found["features"]] == \
        [(f["name"], [g["group"] for g in f["groups"]]) for f in expected["features"]]
    worst = {"auc": 0.0, "ap": 0.0, "ece": 0.0}
    for ours, theirs in zip(_groups(found), _groups(expected), strict=True):
        assert (ours["count"], ours["positives"]) == (theirs["count"], theirs["positives"])
        assert ours["sweep"] == theirs["sweep"]  # exact: every sweep threshold is a histogram edge
        auc = abs(ours["roc"]["auc"] - theirs["roc"]["auc"])
        ap = abs(ours["pr"]["average_precision"] - theirs["pr"]["average_precision"])
        ece = abs(ours["ece"]["value"] - theirs["ece"]["value"])
        assert auc <= ours["roc"]["error_bound"] + 1e-12
        assert ap <= ours["pr"]["error_bound"] + 1e-12
        assert ece <= ours["ece"]["error_bound"] + 1e-9
        for name in ("calibration_slope", "calibration_intercept"):
            assert abs(ours[name]["value"] - theirs[name]["value"]) <= FIT_TOLERANCE
        if ours["count"] >= WITHIN_RESOLUTION_ROWS:
            worst.update(auc=max(worst["auc"], auc), ap=max(worst["ap"], ap), ece=max(worst["ece"], ece))
        for name in ("ece", "calibration_slope", "calibration_intercept"):  # intervals given, around the value
            low, high, value = ours[name]["ci_low"], ours[name]["ci_high"], ours[name]["value"]
            assert low <= high and theirs[name]["ci_low"] is not None
            if ours["count"] >= 1_000:  # the same bootstrap, up to the cells' mean scores: similar widths
                width, their_width = high - low, theirs[name]["ci_high"] - theirs[name]["ci_low"]
                assert 0.6 < width / their_width < 1.6, (name, ours["count"], width, their_width)
            if name != "ece":  # the ECE's own interval need not cover it (it is biased upward)
                assert low <= value <= high
        assert len(ours["roc"]["fpr"]) <= found["max_curve_points"] + 2
        assert ours["roc"]["fpr"][0] == 0 and ours["roc"]["fpr"][-1] == 1 and ours["pr"]["recall"][-1] == 0
        assert [b["n"] for b in ours["reliability"]] == [b["n"] for b in theirs["reliability"]]
    assert max(worst.values()) <= RESOLUTION, worst
    assert counts.scores.count.sum() == rows


@pytest.mark.parametrize("decimals", [2, 3])
def test_scores_that_fall_on_bin_edges_give_exact_metrics_and_zero_bounds(tmp_path, decimals):
    """Scores given to two or three decimals: every bin holds one score value, so ties are the scores' own."""
    _, expected, _, found, _ = _both(tmp_path, _cohort(8_000, 5, decimals=decimals))
    for ours, theirs in zip(_groups(found), _groups(expected), strict=True):
        for name in ("calibration_slope", "calibration_intercept"):  # mean logits exact up to the fixed point
            assert ours[name]["value"] == pytest.approx(theirs[name]["value"], abs=1e-6)
        assert ours["roc"]["error_bound"] == ours["pr"]["error_bound"] == ours["ece"]["error_bound"] == 0
        assert ours["roc"]["auc"] == pytest.approx(theirs["roc"]["auc"], abs=1e-12)
        assert ours["pr"]["average_precision"] == pytest.approx(theirs["pr"]["average_precision"], abs=1e-12)
        assert ours["ece"]["value"] == pytest.approx(theirs["ece"]["value"], abs=1e-9)
        assert ours["reliability"] == [
            {**b, "mean_predicted": pytest.approx(b["mean_predicted"], abs=1e-9)} for b in theirs["reliability"]]
        assert ours["sweep"] == theirs["sweep"]


def test_an_operating_threshold_off_the_grid_becomes_an_edge_and_its_sweep_stays_exact(tmp_path):
    _, expected, _, found, counts = _both(tmp_path, _cohort(5_000, 6), threshold=0.2345)
    assert 0.2345 in found["thresholds"] and 0.2345 in counts.scores.edges
    assert all(o["sweep"] == t["sweep"] for o, t in zip(_groups(found), _groups(expected), strict=True))


def test_the_metrics_are_identical_whatever_the_order_the_partitions_were_counted_in(tmp_path):
    frame = _cohort(9_000, 7)

    def backwards(func, tasks):
        return [func(task) for task in reversed(tasks)]

    *_, forward, forward_counts = _both(tmp_path / "a", frame, partition_rows=1_000)
    *_, reverse, reverse_counts = _both(tmp_path / "b", frame, partition_rows=1_000, map_partitions=backwards)
    assert forward_counts.stats.partitions == 9
    assert json.dumps(forward, sort_keys=True) == json.dumps(reverse, sort_keys=True)
    for name in ("combo", "y", "bin", "count", "score_sum", "logit_sum", "low", "high"):
        assert np.array_equal(getattr(forward_counts.scores, name), getattr(reverse_counts.scores, name))


def test_the_metrics_are_identical_when_counted_on_a_dask_cluster(tmp_path, dask_scheduler):
    from audits.distributed import dask_executor

    frame = _cohort(6_000, 8)
    *_, local, _ = _both(tmp_path / "local", frame, partition_rows=1_000)
    with dask_executor(dask_scheduler, timeout=10) as executor:
        *_, on_dask, counts = _both(tmp_path / "dask", frame, partition_rows=1_000, map_partitions=executor.map)
    assert counts.stats.partitions == 6
    assert json.dumps(on_dask, sort_keys=True) == json.dumps(local, sort_keys=True)


def test_the_histogram_size_is_bounded_by_combinations_and_bins_not_rows(tmp_path):
    sizes = {}
    for rows in (3_000, 30_000, 120_000):
        *_, counts = _both(tmp_path / str(rows), _cohort(rows, 9), partition_rows=40_000)
        combinations, bins = counts.coding.counts.shape[0], histogram_edges(0.5).size
        hist = counts.scores
        assert hist.cells <= combinations * 2 * bins
        sizes[rows] = sum(getattr(hist, name).nbytes for name in ("combo", "y", "bin", "count", "score_sum",
                                                                   "logit_sum", "low", "high"))
        bound = combinations * 2 * bins * 8 * 8  # eight 8-byte values per cell, whatever the rows
        assert sizes[rows] <= bound
    # the cells fill up, then stop growing: 4 times the rows, well under twice the bytes (measured 1.4)
    assert sizes[120_000] < 2 * sizes[30_000], sizes


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan])
def test_a_score_outside_0_1_is_refused_in_the_upload_check_s_words(tmp_path, bad):
    frame = _cohort(2_000, 10)
    frame.loc[17, "risk_score"] = bad
    dataset, predictions = _files(tmp_path, frame)
    with pytest.raises(ValidationFailed) as refused:
        run_streaming_bias_audit(dataset, predictions, predictions_format="parquet", label="outcome",
                                 row_key="row_id", params=BiasAuditParams(sensitive_features=["sex"]),
                                 workdir=tmp_path, scores=True)
    assert refused.value.errors == {"file": ["'score' must be a probability in [0, 1] on every row"]}


def test_without_scores_nothing_is_histogrammed(tmp_path):
    frame = _cohort(2_000, 11)
    dataset, predictions = _files(tmp_path, frame)
    _, counts = run_streaming_bias_audit(dataset, predictions, predictions_format="parquet", label="outcome",
                                         row_key="row_id", params=BiasAuditParams(sensitive_features=["sex"]),
                                         workdir=tmp_path)
    assert counts.scores is None


def test_the_auc_bound_is_attained_when_a_bin_hides_a_perfect_ranking(tmp_path):
    """Within one bin the order is unknown: positives all just above negatives is the worst case, and the bound says so."""
    rng = np.random.default_rng(12)
    n = 2_000
    outcome = (rng.random(n) < 0.3).astype(int)
    frame = pd.DataFrame({"row_id": np.arange(n), "sex": rng.choice(["F", "M"], n), "age_band": "40-59",
                          "outcome": outcome, "prediction": outcome,
                          "risk_score": np.where(outcome == 1, 0.4009, 0.4001)})  # one bin: [0.400, 0.401)
    _, expected, _, found, _ = _both(tmp_path, frame)
    ours, theirs = found["overall"], expected["overall"]
    assert theirs["roc"]["auc"] == 1.0 and ours["roc"]["auc"] == 0.5 and ours["roc"]["error_bound"] == 0.5
    assert ours["pr"]["average_precision"] < theirs["pr"]["average_precision"] == 1.0
    assert theirs["pr"]["average_precision"] - ours["pr"]["average_precision"] <= ours["pr"]["error_bound"] + 1e-12
    assert ours["sweep"] == theirs["sweep"]


def test_sensitive_columns_with_very_many_values_get_a_coarser_stated_resolution(tmp_path):
    """3,000 sites x 2 sexes could fill 12M cells at 1/1,000: the histogram is taken at 1/100, and says so."""
    frame = _cohort(12_000, 13)
    frame["site"] = np.random.default_rng(13).integers(0, 3_000, len(frame))
    _, expected, _, found, counts = _both(tmp_path, frame, sensitive=["site", "sex"], intersections=False, n_boot=0)
    assert found["resolution"] == counts.scores.resolution == 0.01 and counts.scores.edges.size == 101
    assert counts.scores.cells <= 6_000 * 2 * 101
    for ours, theirs in zip(_groups(found), _groups(expected), strict=True):
        assert ours["sweep"] == theirs["sweep"]  # the sweep grid is still on edges
        if ours["roc"] is not None:
            assert abs(ours["roc"]["auc"] - theirs["roc"]["auc"]) <= ours["roc"]["error_bound"] + 1e-12
        assert abs(ours["ece"]["value"] - theirs["ece"]["value"]) <= ours["ece"]["error_bound"] + 1e-9


_WRITE_SCORED = """
import sys
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
directory, n = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
ages = np.array(["18-39", "40-59", "60-74", "75+"])
regions = np.array([f"region {i:02d}" for i in range(18)])
score = rng.beta(2, 8, n)
outcome = (rng.random(n) < score).astype(np.int64)
table = pa.table({"row_id": np.arange(n, dtype=np.int64) * 7 + 3, "sex": np.where(rng.random(n) < 0.52, "F", "M"),
                  "age_band": ages[rng.integers(0, 4, n)], "region": regions[rng.integers(0, 18, n)],
                  "outcome": outcome})
pq.write_table(table, directory / "data.parquet", row_group_size=131_072)
order = rng.permutation(n)
predictions = pa.table({"row_id": order.astype(np.int64) * 7 + 3, "prediction": (score[order] >= 0.3).astype(np.int64),
                        "score": score[order]})
pq.write_table(predictions, directory / "pred.parquet", row_group_size=131_072)
"""

_PEAK_SCORED = """
import json, resource, sys
from pathlib import Path
from audits.fairness import BiasAuditParams
from audits.score_histograms import histogram_score_metrics
from audits.streaming import run_streaming_bias_audit

def rss_kb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))

directory, partition_rows = Path(sys.argv[1]), int(sys.argv[2])
before = rss_kb()
params = BiasAuditParams(sensitive_features=["sex", "age_band", "region"], intersections=True, n_boot=100)
result, counts = run_streaming_bias_audit(directory / "data.parquet", directory / "pred.parquet",
                                          predictions_format="parquet", label="outcome", row_key="row_id",
                                          params=params, workdir=directory, partition_rows=partition_rows, scores=True)
scores = histogram_score_metrics(counts.scores, counts.coding.groupings, result, params)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": scores["overall"]["count"], "added_mb": (peak - before) / 1024, "cells": counts.scores.cells}))
"""


def test_peak_memory_with_scores_does_not_grow_with_the_number_of_rows(tmp_path):
    """Stream 500k then 2M scored rows (files written by another process): the peak the audit adds stays flat."""
    from tests.audits.test_streaming import measure_peaks

    peaks = measure_peaks(tmp_path, _WRITE_SCORED, _PEAK_SCORED, (500_000, 2_000_000))
    small, large = peaks[500_000], peaks[2_000_000]
    # measured: about 130 MB added at 2M and 110 MB at 8M rows (reading the Parquet files row group by row
    # group; one reader over the whole file grew with N: 198 MB at 2M, 325 MB at 8M)
    assert large["added_mb"] / small["added_mb"] < 1.3, peaks
    assert large["cells"] <= 2 * 4 * 18 * 2 * 1_002  # combinations x outcomes x bins, whatever the rows
