"""Public audit views: no number describes fewer than 11 people, and none can be recomputed."""

from __future__ import annotations

import copy
import json

import pytest

from audits.fairness import BiasAuditParams, run_bias_audit
from audits.suppression import _NUMERATORS, _lines, cells_of, suppress_bias_result
from audits.synth import BiasSpec, generate_cohort

K = 11


@pytest.fixture(scope="module", params=[1, 2])
def audit(request):
    frame = generate_cohort(2500, seed=request.param, bias=BiasSpec("sex", "F", 0.4))
    params = BiasAuditParams(sensitive_features=["sex", "region"], intersections=True, n_boot=50, seed=1)
    result = run_bias_audit(frame, label="outcome", sensitive=params.sensitive_features,
                            y_pred=frame["prediction"].to_numpy(), y_score=frame["risk_score"].to_numpy(),
                            params=params)
    return result, suppress_bias_result(result, K)


def _pairs(full, public):
    for f_full, f_pub in zip(full["features"], public["features"], strict=True):
        for g_full, g_pub in zip(f_full["groups"], f_pub["groups"], strict=True):
            yield f_full, g_full, g_pub


def test_no_published_count_or_rate_describes_fewer_than_eleven_people(audit):
    full, public = audit
    checked = 0
    for _feature, g_full, g_pub in _pairs(full, public):
        cells = cells_of(g_full)
        assert cells == {k: v for k, v in cells.items() if v >= 0}  # consistent recovery
        assert sum(cells.values()) == g_full["count"]
        if g_pub["count"] is not None:
            assert g_pub["count"] >= K
        if g_pub["positives"] is not None:
            assert g_pub["positives"] >= K and g_pub["count"] - g_pub["positives"] >= K
        for metric, (num, den) in _NUMERATORS.items():
            if g_pub["metrics"][metric]["value"] is not None:
                numerator = sum(cells[c] for c in num)
                assert numerator >= K and sum(cells[c] for c in den) - numerator >= K, (g_full["group"], metric)
                checked += 1
        for decile in g_pub.get("calibration") or []:
            assert decile["n"] is None or decile["n"] >= K
    assert checked > 0  # the test saw published rates, not only masks


def test_small_groups_exist_and_are_masked(audit):
    full, public = audit
    small = [(g_full, g_pub) for _f, g_full, g_pub in _pairs(full, public) if g_full["count"] < K]
    assert small, "the fixture should contain groups below the threshold"
    assert all(g_pub["count"] is None and g_pub["suppressed"] == "group" for _g, g_pub in small)


def test_masked_counts_cannot_be_recomputed_from_totals(audit):
    _full, public = audit
    for key in ("count", "positives"):
        for line, total in _lines(public):
            masked = sum(1 for g in line if g[key] is None)
            assert masked != 1, f"exactly one masked {key} in line {total}: recomputable"


def test_disparities_of_masked_values_are_masked_but_verdicts_stay(audit):
    _full, public = audit
    for feature in public["features"]:
        groups = {g["group"]: g for g in feature["groups"]}
        reference = groups[feature["reference_group"]]
        for disparity in feature["disparities"]:
            group = groups[disparity["group"]]
            hidden = (group["metrics"][disparity["metric"]]["value"] is None
                      or reference["metrics"][disparity["metric"]]["value"] is None)
            if hidden:
                assert disparity["difference"]["value"] is None and disparity["ratio"]["ci_low"] is None
            assert disparity["verdict"] in {"pass", "fail", "insufficient_evidence"}


def test_suppression_leaves_the_full_result_untouched_and_stays_json(audit):
    full, public = audit
    before = copy.deepcopy(full)
    suppress_bias_result(full, K)
    assert full == before
    json.dumps(public, allow_nan=False)
    assert public["suppression"]["min_cell"] == K


def test_large_groups_are_published_unchanged():
    frame = generate_cohort(20_000, seed=3)
    params = BiasAuditParams(sensitive_features=["sex"], n_boot=20, seed=0)
    result = run_bias_audit(frame, label="outcome", sensitive=["sex"], y_pred=frame["prediction"].to_numpy(),
                            y_score=None, params=params)
    public = suppress_bias_result(result, K)
    for g_full, g_pub in zip(result["features"][0]["groups"], public["features"][0]["groups"], strict=True):
        assert g_pub["count"] == g_full["count"]
        assert g_pub["metrics"]["selection_rate"] == g_full["metrics"]["selection_rate"]
