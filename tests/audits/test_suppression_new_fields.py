"""The public view masks the fields this audit format added: FNR, to-overall comparisons, p-values, reason figures."""

from __future__ import annotations

from audits.fairness import BiasAuditParams, run_bias_audit
from audits.suppression import cells_of, suppress_bias_result
from audits.synth import generate_cohort

K = 11


def test_figures_of_masked_groups_are_masked_in_every_new_field():
    frame = generate_cohort(2500, seed=4)
    params = BiasAuditParams(sensitive_features=["sex", "region"], intersections=True, n_boot=30, seed=1)
    full = run_bias_audit(frame, label="outcome", sensitive=params.sensitive_features,
                          y_pred=frame["prediction"].to_numpy(), y_score=None, params=params)
    public = suppress_bias_result(full, K)
    masked_overall = masked_reasons = 0
    for f_full, f_pub in zip(full["features"], public["features"], strict=True):
        groups = {g["key"]: g for g in f_pub["groups"]}
        full_groups = {g["key"]: g for g in f_full["groups"]}
        for group_key, group in groups.items():
            if group_key not in full_groups:
                continue  # an intersection padded in by the public view: an absent combination, nothing to reveal
            cells = cells_of(full_groups[group_key])
            if group["metrics"]["fnr"]["value"] is not None:  # FNR reveals misses among positives like TPR
                assert cells["fn"] >= K and cells["tp"] >= K
        for comparison in f_pub["disparities_to_overall"]:
            if groups[comparison["key"]]["metrics"][comparison["metric"]]["value"] is None:
                assert comparison["difference"]["value"] is None and comparison["ratio"]["ci_low"] is None
                masked_overall += 1
        for disparity in f_pub["disparities"]:
            if disparity.get("suppressed"):
                assert disparity.get("p_value") is None and disparity.get("p_adjusted") is None
                assert disparity["reason"] == {"code": "masked", "min_cell": K}  # even the code would tell a zero or a size
                masked_reasons += 1
        for extreme in f_pub["extremes"]:
            if extreme.get("suppressed"):
                assert extreme["difference_to_overall"]["value"] is None and extreme["max_key"] is None
    assert masked_overall > 0 and masked_reasons > 0
