"""Score metrics by group: calibration against scikit-learn and statsmodels, curves, sweep, intervals that cover."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from audits import scores
from audits.engine_adapter import GroupMismatch, group_rows
from audits.fairness import BiasAuditParams, run_bias_audit
from audits.synth import generate_cohort


def miscalibrated(n: int, seed: int) -> pd.DataFrame:
    """Three groups with known calibration: b is over-confident (slope 0.6), c is shifted (intercept -0.5)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    true_logit = rng.normal(-1.5, 1.2, n)
    y = (rng.random(n) < expit(true_logit)).astype(int)
    # score = expit((true_logit - intercept) / slope): the recalibration of y on logit(score) recovers them
    slope = np.select([group == "b"], [0.6], 1.0)
    intercept = np.select([group == "c"], [-0.5], 0.0)
    score = expit((true_logit - intercept) / slope)
    return pd.DataFrame({"g": group, "band": rng.choice([1, 2], size=n), "y": y, "score": score,
                         "pred": (score >= 0.3).astype(int)})


def audit(frame, sensitive, *, label="y", score="score", pred="pred", **options):
    params = BiasAuditParams(sensitive_features=sensitive, **{"n_boot": 200, **options})
    result = run_bias_audit(frame, label=label, sensitive=sensitive, y_pred=frame[pred].to_numpy(),
                            y_score=frame[score].to_numpy(), params=params)
    return result, scores.score_metrics(frame, result, label=label, y_score=frame[score].to_numpy(), params=params)


def rows_of(frame, sensitive_values: dict):
    mask = np.ones(len(frame), dtype=bool)
    for column, value in sensitive_values.items():
        mask &= frame[column].astype(str).to_numpy() == str(value)
    return mask


@pytest.fixture(scope="module")
def audited():
    frame = miscalibrated(12_000, seed=1)
    result, found = audit(frame, ["g", "band"], intersections=True)
    return frame, result, found


def every_group(frame, found):
    yield np.ones(len(frame), dtype=bool), found["overall"]
    for feature in found["features"]:
        for group in feature["groups"]:
            yield rows_of(frame, group["levels"]), group


def test_groups_are_the_engines_own_labels_and_levels(audited):
    _, result, found = audited
    assert [f["name"] for f in found["features"]] == [f["name"] for f in result["features"]] == ["g", "band", "g×band"]
    for ours, engine in zip(found["features"], result["features"], strict=True):
        assert [(g["group"], g["levels"], g["count"]) for g in ours["groups"]] == [
            (g["group"], g["levels"], g["count"]) for g in engine["groups"]]
        assert [g["positives"] for g in ours["groups"]] == [g["positives"] for g in engine["groups"]]
    assert json.loads(json.dumps(found, allow_nan=False)) == found


def test_ece_and_reliability_bins_equal_sklearn_calibration_curve(audited):
    frame, _, found = audited
    for mask, entry in every_group(frame, found):
        y, s = frame["y"].to_numpy()[mask], frame["score"].to_numpy()[mask]
        prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="quantile")
        edges = np.percentile(s, np.linspace(0, 100, 11))
        counts = pd.Series(pd.cut(s, edges, right=True, include_lowest=True)).value_counts(sort=False).to_numpy()
        counts = counts[counts > 0]
        bins = entry["reliability"]
        assert [b["observed"] for b in bins] == pytest.approx(prob_true, abs=1e-15)
        assert [b["mean_predicted"] for b in bins] == pytest.approx(prob_pred, abs=1e-15)
        assert [b["n"] for b in bins] == counts.tolist()
        expected = float(np.sum(counts / mask.sum() * np.abs(prob_true - prob_pred)))
        assert entry["ece"]["value"] == pytest.approx(expected, abs=1e-14)
        assert entry["ece"]["ci_low"] <= entry["ece"]["value"] + 0.01 and entry["ece"]["ci_high"] > entry["ece"]["ci_low"]


def test_calibration_slope_and_intercept_equal_statsmodels_logit(audited):
    import statsmodels.api as sm

    frame, _, found = audited
    for mask, entry in every_group(frame, found):
        y, s = frame["y"].to_numpy()[mask], frame["score"].to_numpy()[mask]
        x = logit(np.clip(s, 1e-6, 1 - 1e-6))
        fitted = sm.Logit(y, sm.add_constant(x)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
        assert entry["calibration_intercept"]["value"] == pytest.approx(fitted.params[0], abs=1e-8)
        assert entry["calibration_slope"]["value"] == pytest.approx(fitted.params[1], abs=1e-8)
    groups = {g["group"]: g for g in found["features"][0]["groups"]}
    # the known miscalibration is found, and its interval excludes perfect calibration
    assert groups["b"]["calibration_slope"]["ci_high"] < 0.8 and groups["a"]["calibration_slope"]["ci_low"] < 1
    assert groups["c"]["calibration_intercept"]["ci_high"] < -0.2
    assert groups["a"]["calibration_intercept"]["ci_low"] < 0 < groups["a"]["calibration_intercept"]["ci_high"]


def test_roc_and_pr_areas_equal_sklearn_and_points_lie_on_its_curves(audited):
    frame, _, found = audited
    for mask, entry in every_group(frame, found):
        y, s = frame["y"].to_numpy()[mask], frame["score"].to_numpy()[mask]
        assert entry["roc"]["auc"] == roc_auc_score(y, s)
        assert entry["pr"]["average_precision"] == average_precision_score(y, s)
        fpr, tpr, _ = roc_curve(y, s)
        curve = set(zip(np.round(fpr, 4).tolist(), np.round(tpr, 4).tolist(), strict=True))  # stored rounded
        points = list(zip(entry["roc"]["fpr"], entry["roc"]["tpr"], strict=True))
        assert set(points) <= curve and points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
        assert 20 <= len(points) <= scores.MAX_CURVE_POINTS + 2 and points == sorted(points)
        precision, recall, _ = precision_recall_curve(y, s)
        curve = set(zip(np.round(recall, 4).tolist(), np.round(precision, 4).tolist(), strict=True))
        points = list(zip(entry["pr"]["recall"], entry["pr"]["precision"], strict=True))
        assert set(points) <= curve and points[-1] == (0.0, 1.0) and points[0] == (1.0, round(y.mean(), 4))
        assert len(points) <= scores.MAX_CURVE_POINTS + 2


def test_threshold_sweep_equals_recounting_with_each_threshold(audited):
    frame, _, found = audited
    grid = found["thresholds"]
    assert grid[0] == 0.0 and grid[-1] == 1.0 and len(grid) == 21 and 0.5 in grid  # the default threshold
    for mask, entry in every_group(frame, found):
        y, s = frame["y"].to_numpy()[mask], frame["score"].to_numpy()[mask]
        for k, t in enumerate(grid):
            chosen = s >= t
            assert entry["sweep"]["selection_rate"][k] == np.mean(chosen)
            assert entry["sweep"]["tpr"][k] == np.mean(chosen[y == 1])
            assert entry["sweep"]["fpr"][k] == np.mean(chosen[y == 0])


def test_operating_threshold_is_in_the_grid_and_matches_the_engine():
    frame = miscalibrated(3000, seed=2)
    frame["pred"] = (frame["score"] >= 0.333).astype(int)
    result, found = audit(frame, ["g"], threshold=0.333, pred="pred")
    k = found["thresholds"].index(0.333)
    assert found["operating_threshold"] == 0.333 and len(found["thresholds"]) == 22
    assert found["overall"]["sweep"]["selection_rate"][k] == result["overall"]["metrics"]["selection_rate"]["value"]
    for ours, engine in zip(found["features"][0]["groups"], result["features"][0]["groups"], strict=True):
        assert ours["sweep"]["tpr"][k] == engine["metrics"]["tpr"]["value"]
        assert ours["sweep"]["fpr"][k] == engine["metrics"]["fpr"]["value"]


def test_sizes_are_bounded_whatever_the_number_of_rows():
    sizes = []
    for rows in (2_000, 200_000):
        frame = generate_cohort(rows, seed=3)
        _, found = audit(frame, ["sex"], label="outcome", score="risk_score", pred="prediction", n_boot=50)
        entry = found["features"][0]["groups"][0]
        sizes.append((len(found["thresholds"]), len(entry["roc"]["fpr"]), len(entry["pr"]["recall"]),
                      len(entry["reliability"]), len(entry["sweep"]["tpr"])))
        assert len(json.dumps(found)) < 15_000
    assert all(max(size) <= scores.MAX_CURVE_POINTS + 2 for size in sizes)
    assert sizes[0][0] == sizes[1][0] and sizes[0][3] == sizes[1][3] == 10


def test_no_scores_no_score_metrics():
    frame = miscalibrated(500, seed=4)
    params = BiasAuditParams(sensitive_features=["g"], n_boot=0)
    result = run_bias_audit(frame, label="y", sensitive=["g"], y_pred=frame["pred"].to_numpy(), y_score=None,
                            params=params)
    assert scores.score_metrics(frame, result, label="y", y_score=None, params=params) is None


def test_scores_that_are_not_probabilities_get_curves_and_sweep_but_no_calibration():
    frame = miscalibrated(3000, seed=5)
    frame["margin"] = logit(frame["score"]) * 3  # a decision function, not a probability
    frame["pred"] = (frame["margin"] >= 0).astype(int)
    _, found = audit(frame, ["g"], score="margin", threshold=0.0)
    assert found["calibration"]["status"] == "scores_not_probabilities"
    entry = found["features"][0]["groups"][0]
    assert entry["ece"] is entry["calibration_slope"] is entry["reliability"] is None
    grid = found["thresholds"]
    assert len(grid) <= 20 and 0.0 in grid and all(float(f"{t:.3g}") == t for t in grid)
    mask = rows_of(frame, entry["levels"])
    assert entry["roc"]["auc"] == roc_auc_score(frame["y"][mask], frame["margin"][mask])
    k = grid.index(0.0)
    assert entry["sweep"]["selection_rate"][k] == np.mean(frame["margin"][mask] >= 0.0)


def test_one_class_groups_are_undefined_not_invented():
    frame = miscalibrated(4000, seed=6)
    frame.loc[frame["g"] == "c", "y"] = 0
    _, found = audit(frame, ["g"])
    c = next(g for g in found["features"][0]["groups"] if g["group"] == "c")
    assert c["positives"] == 0 and c["roc"] is None and c["pr"] is None
    assert c["calibration_slope"] == {"value": None, "ci_low": None, "ci_high": None, "defined": False}
    assert c["calibration_intercept"]["defined"] is False
    assert c["ece"]["defined"] is True and c["ece"]["value"] > 0  # every score is too high for a group with no event
    assert c["sweep"]["tpr"] == [None] * len(found["thresholds"])
    assert c["sweep"]["fpr"] == c["sweep"]["selection_rate"]


def test_intervals_are_seeded_and_the_seed_matters():
    frame = miscalibrated(3000, seed=7)
    _, first = audit(frame, ["g"], seed=3)
    _, again = audit(frame, ["g"], seed=3)
    _, other = audit(frame, ["g"], seed=4)
    assert json.dumps(first) == json.dumps(again)
    assert first["features"][0]["groups"][0]["calibration_slope"] != other["features"][0]["groups"][0]["calibration_slope"]
    assert first["intervals"]["seed"] == 3 and first["intervals"]["n_boot"] == 200


def test_no_bootstrap_no_interval():
    _, found = audit(miscalibrated(2000, seed=8), ["g"], n_boot=0)
    slope = found["overall"]["calibration_slope"]
    assert slope["value"] is not None and slope["ci_low"] is None and slope["ci_high"] is None


def test_slope_and_intercept_intervals_cover_a_calibrated_model_by_seeded_simulation():
    # A perfectly calibrated score (y ~ Bernoulli(score)) has slope 1 and intercept 0. Groups of 150 rows
    # (resampled row by row, about 40 events) and of 3,000 rows (resampled by blocks). 200 audits give a
    # standard error of 0.016 around 0.95. Percentile intervals of a logistic fit run a little narrow in
    # small groups: 600 audits per size measured slope/intercept coverage 0.935-0.947/0.918-0.955 at 150
    # rows and 0.947/0.943 at 3,000 rows.
    rng = np.random.default_rng(11)
    covered = {"small": [0, 0], "large": [0, 0]}
    audits = 200
    for _ in range(audits):
        group = np.repeat(["small", "large"], [150, 3000])
        score = expit(rng.normal(-1, 1, group.size))
        y = (rng.random(group.size) < score).astype(int)
        frame = pd.DataFrame({"g": group, "y": y, "score": score, "pred": (score >= 0.5).astype(int)})
        result = run_bias_audit(frame, label="y", sensitive=["g"], y_pred=frame["pred"].to_numpy(), y_score=None,
                                params=BiasAuditParams(sensitive_features=["g"], n_boot=0))
        params = BiasAuditParams(sensitive_features=["g"], n_boot=200, seed=int(rng.integers(1 << 30)))
        found = scores.score_metrics(frame, result, label="y", y_score=score, params=params)
        for entry in found["features"][0]["groups"]:
            slope, intercept = entry["calibration_slope"], entry["calibration_intercept"]
            covered[entry["group"]][0] += slope["ci_low"] <= 1 <= slope["ci_high"]
            covered[entry["group"]][1] += intercept["ci_low"] <= 0 <= intercept["ci_high"]
    rates = {g: (s / audits, i / audits) for g, (s, i) in covered.items()}
    assert all(0.88 <= rate <= 0.99 for pair in rates.values() for rate in pair), rates


def test_block_resampling_of_large_groups_matches_resampling_rows():
    # One group of 20,000 rows is resampled as 200 blocks; a plain row bootstrap (rows drawn with
    # replacement, refitted with statsmodels-equal code) must give the same intervals within Monte
    # Carlo error: 400 and 500 replicates put about 5 % of a width of error on each bound.
    frame = miscalibrated(20_000, seed=12).assign(g="all")
    _, found = audit(frame, ["g"], n_boot=500, seed=5)
    entry = found["features"][0]["groups"][0]
    y, s = frame["y"].to_numpy(), frame["score"].to_numpy()
    x = logit(np.clip(s, 1e-6, 1 - 1e-6))
    rng = np.random.default_rng(0)
    slopes, intercepts, eces = [], [], []
    for _ in range(400):
        rows = rng.integers(0, y.size, y.size)
        order = np.argsort(s[rows], kind="stable")
        yy, ss, xx = y[rows][order], s[rows][order], x[rows][order]
        intercept, slope = scores.fit_recalibration(xx, yy.astype(float), np.ones(y.size))
        total, events, sums = scores.reliability_bins(yy, ss)
        slopes.append(slope)
        intercepts.append(intercept)
        eces.append(float(np.sum(np.where(total > 0, np.abs(events - sums), 0)) / y.size))
    for name, replicates in (("calibration_slope", slopes), ("calibration_intercept", intercepts), ("ece", eces)):
        low, high = np.quantile(replicates, [0.025, 0.975])
        width = high - low
        assert abs(entry[name]["ci_low"] - low) <= 0.2 * width, name
        assert abs(entry[name]["ci_high"] - high) <= 0.2 * width, name


def test_group_rows_match_typed_values_and_refuse_a_count_that_does_not_add_up():
    frame = miscalibrated(2000, seed=9)
    result, _ = audit(frame, ["band"], n_boot=0)
    feature = result["features"][0]
    rows = group_rows(frame, feature)
    for position, group in enumerate(feature["groups"]):
        assert (frame["band"].to_numpy()[rows == position] == int(group["levels"]["band"])).all()
    broken = {**feature, "groups": [{**g, "count": g["count"] + (1 if i == 0 else -1)}
                                    for i, g in enumerate(feature["groups"])]}
    with pytest.raises(GroupMismatch, match="row counts differ"):
        group_rows(frame, broken)
    typed = {**feature, "groups": [{**g, "levels": {"band": int(g["levels"]["band"])}} for g in feature["groups"]]}
    assert (group_rows(frame, typed) == rows).all()  # an engine that keeps typed levels maps the same rows


def test_a_resample_given_as_counts_has_the_ece_of_the_rows_it_stands_for():
    # Row by row (groups of at most MAX_ATOMS rows), a bootstrap replicate is a count per sorted row:
    # its ECE must be exactly the ECE of those rows repeated, binned by calibration_curve's rule.
    rng = np.random.default_rng(13)
    n = scores.MAX_ATOMS
    s = np.sort(rng.random(n))
    y = (rng.random(n) < s).astype(float)
    drawn = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1 / n), size=30)])
    replicated = scores.replicate_ece(drawn, drawn * y, s)
    for b, counts in enumerate(drawn.astype(int)):
        yy, ss = np.repeat(y, counts), np.repeat(s, counts)
        prob_true, prob_pred = calibration_curve(yy, ss, n_bins=10, strategy="quantile")
        total = scores.reliability_bins(yy, ss)[0]
        expected = np.sum(total[total > 0] / n * np.abs(prob_true - prob_pred))
        assert replicated[b] == pytest.approx(expected, abs=1e-14), b
