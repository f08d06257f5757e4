"""The audit engine: Fairlearn's numbers, Fairlearn's intervals, and verdicts that find an injected bias."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from audits.fairness import DISPARITY_METRICS, METRICS, BiasAuditParams, run_bias_audit, summarise_verdicts
from audits.synth import BiasSpec, generate_cohort

FAIRLEARN_METRICS = {
    "prevalence": lambda y_true, y_pred: float(np.mean(y_true)),
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "ppv": partial(precision_score, zero_division=0),
    "npv": partial(precision_score, pos_label=0, zero_division=0),  # tn / (tn + fn)
    "accuracy": accuracy_score,
}


def edge_case_frame(seed: int) -> pd.DataFrame:
    """Random data plus groups with no positives, no predicted positives, no negatives, and two rows."""
    rng = np.random.default_rng(seed)
    n = 1200
    frame = pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c", "d", "e", "f"], size=n, p=[0.35, 0.3, 0.12, 0.12, 0.1, 0.01]),
            "h": rng.choice(["x", "y", "z"], size=n, p=[0.6, 0.35, 0.05]),
            "y": (rng.random(n) < 0.3).astype(int),
        }
    )
    score = np.clip(0.25 + 0.4 * frame["y"] + rng.normal(0, 0.25, n), 0, 1)
    frame["score"] = score
    frame["pred"] = (score >= 0.5).astype(int)
    frame.loc[frame["g"] == "c", "y"] = 0  # zero positives: TPR undefined
    frame.loc[frame["g"] == "d", "pred"] = 0  # zero predicted positives: PPV undefined
    frame.loc[frame["g"] == "e", "y"] = 1  # zero negatives: FPR undefined
    return frame


def audit(frame, sensitive, *, label="y", pred="pred", score="score", **options):
    params = BiasAuditParams(sensitive_features=sensitive, **options)
    y_score = None if score is None else frame[score].to_numpy()
    return run_bias_audit(
        frame, label=label, sensitive=sensitive, y_pred=frame[pred].to_numpy(), y_score=y_score, params=params
    )


def metric_frame(frame, columns, *, label="y", pred="pred", **bootstrap):
    sensitive = frame[columns[0]] if len(columns) == 1 else frame[columns]
    metrics = FAIRLEARN_METRICS if bootstrap else {**FAIRLEARN_METRICS, "count": count}  # count: not bootstrapped
    return MetricFrame(
        metrics=metrics, y_true=frame[label], y_pred=frame[pred], sensitive_features=sensitive, **bootstrap
    )


def close(ours, theirs, tol=1e-9) -> bool:
    if theirs is None or (isinstance(theirs, float) and np.isnan(theirs)):
        return ours is None
    return ours is not None and abs(ours - theirs) <= tol


def assert_matches_fairlearn(feature, mf, columns):
    by_group = mf.by_group
    for group in feature["groups"]:
        key = tuple(group["levels"][c] for c in columns)
        row = by_group.loc[key if len(key) > 1 else key[0]]
        assert group["count"] == row["count"]
        for name in METRICS:
            assert close(group["metrics"][name]["value"], row[name]), (group["group"], name)
    present = by_group.dropna(how="all")  # Fairlearn lists empty intersections as NaN rows
    assert len(present) == len(feature["groups"])
    for extreme in feature["extremes"]:
        assert close(extreme["difference"]["value"], mf.difference()[extreme["metric"]])
        assert close(extreme["ratio"]["value"], mf.ratio()[extreme["metric"]])
    labels = {g["group"]: tuple(g["levels"][c] for c in columns) for g in feature["groups"]}
    ref = labels[feature["reference_group"]]
    ref_row = by_group.loc[ref if len(ref) > 1 else ref[0]]
    for disparity in feature["disparities"]:
        key = labels[disparity["group"]]
        row = by_group.loc[key if len(key) > 1 else key[0]]
        metric = disparity["metric"]
        assert close(disparity["difference"]["value"], row[metric] - ref_row[metric])
        expected = row[metric] / ref_row[metric] if ref_row[metric] > 0 else None
        assert close(disparity["ratio"]["value"], expected)


@pytest.mark.parametrize("seed", range(5))
def test_point_estimates_equal_fairlearn_for_every_group_and_metric(seed):
    frame = edge_case_frame(seed)
    result = audit(frame, ["g", "h"], n_boot=0)
    for feature, column in zip(result["features"], ["g", "h"], strict=True):
        assert_matches_fairlearn(feature, metric_frame(frame, [column]), [column])
    mf = metric_frame(frame, ["g"])
    for name in METRICS:
        assert close(result["overall"]["metrics"][name]["value"], mf.overall[name])


@pytest.mark.parametrize("seed", range(5))
def test_intersections_equal_fairlearn_with_two_sensitive_columns(seed):
    frame = edge_case_frame(seed)
    result = audit(frame, ["g", "h"], intersections=True, n_boot=0)
    names = [f["name"] for f in result["features"]]
    assert names == ["g", "h", "g×h"]
    assert_matches_fairlearn(result["features"][2], metric_frame(frame, ["g", "h"]), ["g", "h"])


@pytest.mark.parametrize("seed", range(4))
def test_to_overall_disparities_and_fnr_equal_fairlearn_exactly(seed):
    frame = edge_case_frame(seed)
    result = audit(frame, ["g", "h"], intersections=True, n_boot=0)
    for feature, columns in zip(result["features"], [["g"], ["h"], ["g", "h"]], strict=True):
        mf = metric_frame(frame, columns)
        for extreme in feature["extremes"]:
            metric = extreme["metric"]
            assert close(extreme["difference_to_overall"]["value"], mf.difference(method="to_overall")[metric], 0)
            assert close(extreme["ratio_to_overall"]["value"], mf.ratio(method="to_overall")[metric], 0)
        by_key = {g["key"]: tuple(g["levels"][c] for c in columns) for g in feature["groups"]}
        assert len(feature["disparities_to_overall"]) == len(feature["groups"]) * len(DISPARITY_METRICS)
        for disparity in feature["disparities_to_overall"]:
            key, metric = by_key[disparity["key"]], disparity["metric"]
            theirs = mf.by_group.loc[key if len(key) > 1 else key[0], metric]
            overall = mf.overall[metric]
            assert close(disparity["difference"]["value"], theirs - overall, 0)
            assert close(disparity["ratio"]["value"], theirs / overall if overall > 0 else None, 0)
        for group in feature["groups"]:
            key = tuple(group["levels"][c] for c in columns)
            row = mf.by_group.loc[key if len(key) > 1 else key[0]]
            assert close(group["metrics"]["fnr"]["value"], row["fnr"], 0)
    assert "fnr" in result["disparity_metrics"]


def test_to_overall_intervals_map_the_group_against_the_rest():
    # p_g - p_all = (1 - w)(p_g - p_rest) and p_g / p_all = r / (w r + 1 - w), w the group's share.
    from audits.intervals import koopman, newcombe, z_value

    frame = generate_cohort(8000, seed=3)
    result = audit(frame, ["region"], label="outcome", pred="prediction", score=None, n_boot=0)
    feature = result["features"][0]
    groups = {g["key"]: g for g in feature["groups"]}
    total = {k: sum(g["cells"][k] for g in feature["groups"]) for k in ("tn", "fp", "fn", "tp")}
    checked = 0
    for disparity in feature["disparities_to_overall"]:
        if disparity["metric"] != "tpr":
            continue
        cells = groups[disparity["key"]]["cells"]
        x1, n1 = cells["tp"], cells["tp"] + cells["fn"]
        x2, n2 = total["tp"] - x1, total["tp"] + total["fn"] - n1
        share = n1 / (n1 + n2)
        low, high = newcombe(x1, n1, x2, n2, z_value(0.95))
        assert disparity["difference"]["ci_low"] == pytest.approx((1 - share) * low, abs=1e-12)
        assert disparity["difference"]["ci_high"] == pytest.approx((1 - share) * high, abs=1e-12)
        r_low, r_high = koopman(x1, n1, x2, n2, z_value(0.95))
        assert disparity["ratio"]["ci_low"] == pytest.approx(r_low / (share * r_low + 1 - share), rel=1e-9)
        assert disparity["ratio"]["ci_high"] == pytest.approx(r_high / (share * r_high + 1 - share), rel=1e-9)
        assert disparity["ratio"]["ci_low"] <= disparity["ratio"]["value"] <= disparity["ratio"]["ci_high"]
        checked += 1
    assert checked == len(feature["groups"])


def test_undefined_metrics_report_fairlearns_zero_and_are_flagged():
    result = audit(edge_case_frame(0), ["g"], n_boot=50)
    groups = {g["group"]: g["metrics"] for g in result["features"][0]["groups"]}
    assert groups["c"]["tpr"] == {**groups["c"]["tpr"], "value": 0.0, "defined": False}
    assert groups["d"]["ppv"]["value"] == 0.0 and not groups["d"]["ppv"]["defined"]
    assert groups["e"]["fpr"]["value"] == 0.0 and not groups["e"]["fpr"]["defined"]
    assert groups["a"]["tpr"]["defined"] and groups["a"]["ppv"]["defined"]
    verdicts = {(d["group"], d["metric"]): d for d in result["features"][0]["disparities"]}
    assert verdicts[("c", "tpr")]["verdict"] == "insufficient_evidence"
    assert verdicts[("c", "tpr")]["reason"] == {"code": "metric_undefined", "where": "group"}
    assert verdicts[("f", "selection_rate")]["verdict"] == "insufficient_evidence"  # a dozen rows
    small = verdicts[("f", "selection_rate")]["reason"]
    assert small == {"code": "small_group", "group_n": small["group_n"], "reference_n": small["reference_n"],
                     "needed": 30}
    assert small["group_n"] < 30 <= small["reference_n"]


def test_result_is_strict_json_even_with_undefined_metrics():
    result = audit(edge_case_frame(1), ["g", "h"], intersections=True, n_boot=100)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result


def test_same_inputs_give_identical_results_and_the_seed_only_moves_the_bootstrapped_extremes():
    frame = generate_cohort(3000, seed=11)
    first = audit(frame, ["sex", "age_band"], label="outcome", pred="prediction", score="risk_score", n_boot=200)
    second = audit(frame, ["sex", "age_band"], label="outcome", pred="prediction", score="risk_score", n_boot=200)
    other = audit(
        frame, ["sex", "age_band"], label="outcome", pred="prediction", score="risk_score", n_boot=200, seed=1
    )
    assert json.dumps(first) == json.dumps(second)
    assert first["features"][0]["extremes"] != other["features"][0]["extremes"]
    for part in ("groups", "disparities", "disparities_to_overall"):  # closed forms: no randomness
        assert first["features"][0][part] == other["features"][0][part]


def test_bootstrap_intervals_agree_with_fairlearns_bootstrap():
    # Fairlearn resamples rows (200 replicates, ~15 s); the engine draws the counts (1000 replicates).
    # A 2.5 % percentile of B replicates has a Monte Carlo standard error of about 0.19 sd (B=200) and
    # 0.085 sd (B=1000), i.e. about 5 % of a 95 % interval's width (3.92 sd) combined; so bounds must
    # agree within 25 % of the width (~5 standard errors) and widths within 25 %.
    frame = generate_cohort(5000, seed=2)
    mf = metric_frame(frame, ["sex"], label="outcome", pred="prediction", n_boot=200, ci_quantiles=[0.025, 0.975],
                      random_state=7)  # fmt: skip
    result = audit(frame, ["sex"], label="outcome", pred="prediction", score=None, n_boot=1000, seed=3)
    feature = result["features"][0]
    pairs = []
    for group in feature["groups"]:
        for name in METRICS:
            theirs = (mf.by_group_ci[0].loc[group["group"], name], mf.by_group_ci[1].loc[group["group"], name])
            pairs.append(((group["metrics"][name]["ci_low"], group["metrics"][name]["ci_high"]), theirs))
    for extreme in feature["extremes"]:
        for part, theirs in (("difference", mf.difference_ci()), ("ratio", mf.ratio_ci())):
            ours = (extreme[part]["ci_low"], extreme[part]["ci_high"])
            pairs.append((ours, (theirs[0][extreme["metric"]], theirs[1][extreme["metric"]])))
    for name in METRICS:
        ours = result["overall"]["metrics"][name]
        pairs.append(((ours["ci_low"], ours["ci_high"]), (mf.overall_ci[0][name], mf.overall_ci[1][name])))
    assert len(pairs) == 3 * len(METRICS) + 2 * len(METRICS)
    for (low, high), (their_low, their_high) in pairs:
        width, their_width = high - low, their_high - their_low
        assert their_width > 0
        assert abs(low - their_low) <= 0.25 * their_width and abs(high - their_high) <= 0.25 * their_width
        assert 0.75 <= width / their_width <= 1.25


def test_drawing_counts_matches_resampling_rows_closely():
    # The same claim as above with many more replicates on both sides (about 1.8 % of a width of Monte
    # Carlo error per bound): a multinomial draw of the counts is a whole-dataset row bootstrap.
    frame = generate_cohort(5000, seed=8)
    y, pred, female = (frame[c].to_numpy() for c in ("outcome", "prediction", "sex"))
    female = female == "F"
    rng = np.random.default_rng(0)
    replicates = []
    for _ in range(3000):
        rows = rng.integers(0, len(frame), len(frame))
        yy, pp, ff = y[rows], pred[rows], female[rows]
        replicates.append([pp[ff & (yy == 1)].mean(), pp[~ff & (yy == 1)].mean(), pp[ff].mean() / pp[~ff].mean()])
    rows_low, rows_high = np.quantile(np.array(replicates), [0.025, 0.975], axis=0)
    result = audit(
        frame, ["sex"], label="outcome", pred="prediction", score=None, n_boot=3000, reference_group={"sex": "M"}
    )
    groups = {g["group"]: g["metrics"] for g in result["features"][0]["groups"]}
    ratio = next(d["ratio"] for d in result["features"][0]["disparities"] if d["metric"] == "selection_rate")
    ours = [groups["F"]["tpr"], groups["M"]["tpr"], ratio]
    for k, interval in enumerate(ours):
        width = rows_high[k] - rows_low[k]
        assert abs(interval["ci_low"] - rows_low[k]) <= 0.1 * width
        assert abs(interval["ci_high"] - rows_high[k]) <= 0.1 * width


def test_disparity_intervals_surround_the_point_ratio():
    frame = generate_cohort(20_000, seed=4)
    result = audit(frame, ["sex", "region"], label="outcome", pred="prediction", score=None, n_boot=300)
    checked = 0
    for feature in result["features"]:
        for disparity in feature["disparities"]:
            ratio = disparity["ratio"]
            if ratio["ci_low"] is not None and ratio["value"] is not None:
                assert ratio["ci_low"] <= ratio["value"] * 1.05 and ratio["value"] <= ratio["ci_high"] * 1.05
                checked += 1
    assert checked > 50


def injected_bias_audit(seed: int, bias: BiasSpec | None):
    frame = generate_cohort(40_000, seed=seed, bias=bias)
    reference = {"sex": "M", "region": "Île-de-France"}
    return audit(frame, ["sex", "region"], label="outcome", pred="prediction", score="risk_score",
                 reference_group=reference)  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
def test_an_injected_bias_against_women_fails_and_nothing_else_does(seed):
    summary = summarise_verdicts(injected_bias_audit(seed, BiasSpec("sex", "F", 0.5)))
    failed = {(f["feature"], f["group"], f["metric"]) for f in summary["failed"]}
    assert {("sex", "F", "tpr"), ("sex", "F", "selection_rate")} <= failed
    assert all(feature == "sex" and group == "F" for feature, group, _metric in failed)
    assert summary["pass"] > 30


@pytest.mark.parametrize("seed", [0, 1])
def test_an_injected_bias_against_a_region_fails_only_that_region(seed):
    summary = summarise_verdicts(injected_bias_audit(seed, BiasSpec("region", "Hauts-de-France", 0.5)))
    failed = {(f["feature"], f["group"], f["metric"]) for f in summary["failed"]}
    assert {("region", "Hauts-de-France", "tpr"), ("region", "Hauts-de-France", "selection_rate")} <= failed
    assert all(group == "Hauts-de-France" for _feature, group, _metric in failed)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_cohort_without_bias_has_no_failure(seed):
    summary = summarise_verdicts(injected_bias_audit(seed, None))
    assert summary["fail"] == 0 and summary["failed"] == []
    judged = summary["pass"] + summary["insufficient_evidence"]
    assert judged == len(DISPARITY_METRICS) * (1 + 17)  # F vs M, and 17 regions vs Île-de-France


def test_real_differences_in_base_rates_by_age_are_reported_as_failures():
    # Risk rises with age in the cohort, so an unbiased model selects the old far more often:
    # the audit reports it (which is why the acceptance tests above audit sex and region).
    result = audit(generate_cohort(40_000, seed=0), ["age_band"], label="outcome", pred="prediction", score=None)
    failed = {(f["group"], f["metric"]) for f in summarise_verdicts(result)["failed"]}
    assert ("75+", "selection_rate") in failed


def test_verdicts_follow_the_stated_band():
    rng = np.random.default_rng(5)
    n = 40_000
    frame = pd.DataFrame({"g": np.repeat(["big", "fair", "worse"], [n, n, n]), "y": rng.random(3 * n) < 0.3})
    frame["y"] = frame["y"].astype(int)
    keep = np.where(frame["g"] == "worse", 0.5, 0.8)  # "worse" detects 50 % of positives, the others 80 %
    frame["pred"] = ((frame["y"] == 1) & (rng.random(3 * n) < keep)).astype(int)
    result = audit(frame, ["g"], score=None, n_boot=500, reference_group={"g": "big"})
    assert result["tolerance_band"] == [0.8, 1.25]
    verdicts = {(d["group"], d["metric"]): d for d in result["features"][0]["disparities"]}
    assert verdicts[("fair", "tpr")]["verdict"] == "pass"
    assert verdicts[("worse", "tpr")]["verdict"] == "fail"
    low, high = verdicts[("worse", "tpr")]["ratio"]["ci_low"], verdicts[("worse", "tpr")]["ratio"]["ci_high"]
    assert high < 0.8 and low < 0.625 < high
    assert verdicts[("fair", "ppv")]["ratio"]["value"] == pytest.approx(1.0)  # no false positives anywhere
    rule = result["rule"]
    assert rule["min_group_size"] == 30 and rule["band"] == [0.8, 1.25] and rule["adjustment"] == "holm"
    assert rule["comparisons"] == result["multiplicity"]["comparisons"] == 2 * len(DISPARITY_METRICS)


def test_an_interval_straddling_the_boundary_is_insufficient_evidence():
    rng = np.random.default_rng(6)
    sizes = {"ref": 20_000, "edge": 400}
    frame = pd.DataFrame({"g": np.repeat(list(sizes), list(sizes.values()))})
    frame["y"] = 1
    rate = np.where(frame["g"] == "edge", 0.4, 0.5)  # true ratio 0.8, right on the boundary
    frame["pred"] = (rng.random(len(frame)) < rate).astype(int)
    result = audit(frame, ["g"], score=None, n_boot=500)
    tpr = next(d for d in result["features"][0]["disparities"] if d["metric"] == "tpr")
    assert tpr["ratio"]["ci_low"] < 0.8 < tpr["ratio"]["ci_high"]
    assert tpr["verdict"] == "insufficient_evidence" and tpr["reason"]["code"] == "interval_straddles"


def test_reference_group_defaults_to_the_largest_and_can_be_chosen():
    frame = edge_case_frame(2)
    assert audit(frame, ["g"], n_boot=0)["features"][0]["reference_group"] == "a"
    chosen = audit(frame, ["g"], n_boot=0, reference_group={"g": "b"})["features"][0]
    assert chosen["reference_group"] == "b"
    assert {d["group"] for d in chosen["disparities"]} == {"a", "c", "d", "e", "f"}
    with pytest.raises(ValueError, match="reference group"):
        audit(frame, ["g"], n_boot=0, reference_group={"g": "nobody"})
    with pytest.raises(ValueError, match="no audited feature"):
        audit(frame, ["g"], n_boot=0, reference_group={"G": "a"})


def test_without_bootstrap_only_the_extremes_lose_their_intervals():
    # Closed forms need no resampling: groups, disparities and verdicts are unchanged by n_boot.
    with_boot, without = audit(edge_case_frame(3), ["g"], n_boot=200), audit(edge_case_frame(3), ["g"], n_boot=0)
    feature = without["features"][0]
    for part in ("groups", "disparities", "disparities_to_overall"):
        assert feature[part] == with_boot["features"][0][part]
    assert all(d["ratio"]["ci_low"] is not None for d in feature["disparities"] if d["ratio"]["value"])
    assert all(e[part]["ci_low"] is None for e in feature["extremes"] for part in ("difference", "ratio"))
    assert any(e["difference"]["ci_low"] is not None for e in with_boot["features"][0]["extremes"])


def test_predictions_can_be_derived_from_scores_at_the_threshold():
    frame = edge_case_frame(4)
    params = BiasAuditParams(sensitive_features=["g"], threshold=0.6, n_boot=0)
    derived = run_bias_audit(frame, label="y", sensitive=["g"], y_pred=None, y_score=frame["score"].to_numpy(),
                             params=params)  # fmt: skip
    frame["at_06"] = (frame["score"] >= 0.6).astype(int)
    given = audit(frame, ["g"], pred="at_06", n_boot=0)
    assert derived["predictions"] == "y_score >= threshold" and given["predictions"] == "given"
    assert derived["features"] == given["features"]


def test_roc_auc_and_calibration_are_per_group():
    frame = edge_case_frame(0)
    feature = audit(frame, ["g"], n_boot=0)["features"][0]
    for group in feature["groups"]:
        rows = frame[frame["g"] == group["group"]]
        if rows["y"].nunique() == 2:
            assert group["roc_auc"] == pytest.approx(roc_auc_score(rows["y"], rows["score"]), abs=1e-12)
        else:
            assert group["roc_auc"] is None
        deciles = group["calibration"]
        assert sum(d["n"] for d in deciles) == group["count"]
        assert sum(d["observed"] * d["n"] for d in deciles) == pytest.approx(rows["y"].sum())
        assert [d["mean_predicted"] for d in deciles] == sorted(d["mean_predicted"] for d in deciles)
    assert audit(frame, ["g"], score=None, n_boot=0)["features"][0]["groups"][0]["calibration"] is None


def test_summary_counts_every_disparity_once():
    result = audit(edge_case_frame(1), ["g", "h"], intersections=True, n_boot=100)
    summary = summarise_verdicts(result)
    total = sum(len(f["disparities"]) for f in result["features"])
    assert summary["pass"] + summary["fail"] + summary["insufficient_evidence"] == total
    assert len(summary["failed"]) == summary["fail"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sensitive_features": []}, "sensitive feature"),
        ({"tolerance": 1.0}, "tolerance"),
        ({"n_boot": -1}, "n_boot"),
    ],
)
def test_invalid_parameters_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        BiasAuditParams(**{"sensitive_features": ["g"], **change})


def test_non_binary_labels_and_missing_groups_are_refused():
    frame = edge_case_frame(0)
    frame.loc[0, "y"] = 2
    with pytest.raises(ValueError, match="0/1"):
        audit(frame, ["g"], n_boot=0)
    frame = edge_case_frame(0)
    frame.loc[0, "g"] = None
    with pytest.raises(ValueError, match="missing"):
        audit(frame, ["g"], n_boot=0)
