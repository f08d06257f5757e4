"""Public audit views: no number describes fewer than 11 people, and no hidden cell can be reconstructed.

The attacker (tests/audits/attack.py) is written independently of audits.suppression: it reads only the
public JSON and solves the linear system of every published count and rate, with non-negativity, a
row-space (least-squares) analysis and, on a sample, an integer programme.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from audits import suppression
from audits.fairness import BiasAuditParams, run_bias_audit
from audits.suppression import (
    FULL,
    HIDDEN,
    RATES,
    AuditRecord,
    freeze_public_view,
    primary_tier,
    suppress_bias_result,
)
from audits.synth import BiasSpec, generate_cohort
from tests.audits.attack import RATES as RATE_CELLS
from tests.audits.attack import Attack, View, masked_numbers_in_text, per_group_attack, recovered

K = 11


def run_audit(frame, features, *, score="risk_score", threshold=0.2, intersections=True):
    params = BiasAuditParams(sensitive_features=features, intersections=intersections, n_boot=20, seed=1,
                             threshold=threshold)
    scores = frame[score].to_numpy()
    return run_bias_audit(frame, label="outcome", sensitive=features, y_pred=(scores >= threshold).astype(int),
                          y_score=scores, params=params)


def cohort(seed: int, rows: int | None = None):
    """A synthetic cohort with small regions, a rare category (2 to 15 people) and a second model's scores."""
    rng = np.random.default_rng(seed)
    rows = rows or int(rng.integers(400, 3500))
    frame = generate_cohort(rows, seed=seed, bias=BiasSpec("sex", "F", 0.3))
    rare = np.zeros(rows, dtype=bool)
    rare[rng.choice(rows, int(rng.integers(2, 16)), replace=False)] = True
    frame["cmu"] = np.where(rare, "oui", "non")
    frame["score_v2"] = np.clip(frame["risk_score"].to_numpy() * np.exp(rng.normal(0, 0.5, rows)), 0, 1)
    return frame


def freeze_in_order(frame, plan):
    """Freeze each audit of ``plan`` in turn, each jointly with the views frozen before it (as the service does)."""
    records, results, views, outcomes = [], [], [], []
    for i, (features, score, threshold, intersections) in enumerate(plan):
        result = run_audit(frame, features, score=score, threshold=threshold, intersections=intersections)
        key = f"{score}@{threshold}"
        frozen = freeze_public_view(AuditRecord(str(i), result, key, score, threshold), records, K)
        assert frozen.outcome.accepted == [] and frozen.fallback is None
        records.append(AuditRecord(str(i), result, key, score, threshold, frozen.view))
        results.append(result)
        views.append(View(json.loads(json.dumps(frozen.view, allow_nan=False)), key, score, threshold))
        outcomes.append(frozen)
    return results, views, outcomes


def assert_attack_fails(views, results, integer_sample=0):
    findings = Attack(views).run(results, K, integer_sample=integer_sample)
    assert findings, "the cohorts must contain hidden small cells for the attack to try"
    assert recovered(findings) == []
    narrow = [f for f in findings if f.high < K - 1e-6 or f.low > 1e-6]
    assert narrow == [], f"hidden small cells bounded away from 0 or below {K}: {narrow[:5]}"
    for view, result in zip(views, results, strict=True):
        assert masked_numbers_in_text(view.public, result, K) == []
        assert per_group_attack(view.public, K) == []
    return findings


# -- one audit on its own ------------------------------------------------------------------


@pytest.fixture(scope="module", params=[1, 2])
def audit(request):
    frame = generate_cohort(2500, seed=request.param, bias=BiasSpec("sex", "F", 0.4))
    result = run_audit(frame, ["sex", "region"])
    return result, suppress_bias_result(result, K)


def _pairs(full, public):
    for f_full, f_pub in zip(full["features"], public["features"], strict=True):
        real = {json.dumps(g["levels"]): g for g in f_full["groups"]}
        for g_pub in f_pub["groups"]:
            yield f_full, real.get(json.dumps(g_pub["levels"])), g_pub


def test_no_published_count_or_rate_describes_fewer_than_eleven_people(audit):
    full, public = audit
    checked = 0
    for _feature, g_full, g_pub in _pairs(full, public):
        if g_full is None:
            assert g_pub["count"] is None  # an absent combination is shown as a masked group
            continue
        cells = g_full["cells"]
        if g_pub["count"] is not None:
            assert g_pub["count"] >= K
        if g_pub["positives"] is not None:
            assert g_pub["positives"] >= K and g_pub["count"] - g_pub["positives"] >= K
        for metric, (num, den) in RATE_CELLS.items():
            if metric in g_pub["metrics"] and g_pub["metrics"][metric]["value"] is not None:
                numerator = sum(cells[c] for c in num)
                assert numerator >= K and sum(cells[c] for c in den) - numerator >= K, (g_full["group"], metric)
                checked += 1
        for decile in g_pub.get("calibration") or []:
            assert decile["n"] >= K
    assert checked > 0  # the test saw published rates, not only masks


def test_small_groups_exist_and_are_masked(audit):
    full, public = audit
    small = [(g_full, g_pub) for _f, g_full, g_pub in _pairs(full, public) if g_full and g_full["count"] < K]
    assert small, "the fixture should contain groups below the threshold"
    assert all(g_pub["count"] is None and g_pub["suppressed"] == "group" for _g, g_pub in small)


def test_a_group_with_any_cell_under_eleven_shows_no_rate_beyond_its_margins(audit):
    full, public = audit
    partial = 0
    for _f, g_full, g_pub in _pairs(full, public):
        if g_full is None or min(g_full["cells"].values()) >= K:
            continue
        assert all(t["value"] is None for m, t in g_pub["metrics"].items() if m not in ("prevalence", "selection_rate"))
        assert g_pub["roc_auc"] is None and g_pub["calibration"] is None
        partial += g_pub["count"] is not None
    assert partial > 0, "some masked groups should still show their size"


def test_masked_counts_cannot_be_recomputed_from_totals(audit):
    _full, public = audit
    if public["overall"]["count"] is None:
        return
    for feature in public["features"]:
        if len(feature["columns"]) == 1:
            masked = [g for g in feature["groups"] if g["count"] is None]
            assert len(masked) != 1, f"exactly one masked count in {feature['name']}: recomputable"
    margins = {(c, json.dumps(g["levels"][c])): g for f in public["features"] if len(f["columns"]) == 1
               for c in f["columns"] for g in f["groups"]}
    for feature in public["features"]:
        if len(feature["columns"]) < 2:
            continue
        for column in feature["columns"]:
            lines: dict[str, list] = {}
            for g in feature["groups"]:
                lines.setdefault(json.dumps(g["levels"][column]), []).append(g)
            for value, line in lines.items():
                if margins[(column, value)]["count"] is not None:
                    assert sum(g["count"] is None for g in line) != 1, (feature["name"], column, value)


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
                assert disparity["reason"] == {"code": "masked", "min_cell": K} and disparity["suppressed"] is True
            assert disparity["verdict"] in {"pass", "fail", "insufficient_evidence"}


def test_suppression_leaves_the_full_result_untouched_and_stays_json(audit):
    full, public = audit
    before = copy.deepcopy(full)
    suppress_bias_result(full, K)
    assert full == before
    json.dumps(public, allow_nan=False)
    assert public["suppression"]["min_cell"] == K
    assert "cells" not in public["overall"] and not any("cells" in g for f in public["features"] for g in f["groups"])
    assert public["rule"] == full["rule"]  # the method, written from parameters only


def test_results_older_than_the_cells_field_are_suppressed_from_their_rates(audit):
    full, public = audit
    legacy = copy.deepcopy(full)
    for group in [legacy["overall"], *(g for f in legacy["features"] for g in f["groups"])]:
        del group["cells"]
    assert suppress_bias_result(legacy, K) == public


def test_large_groups_are_published_unchanged():
    frame = generate_cohort(20_000, seed=3)
    params = BiasAuditParams(sensitive_features=["sex"], n_boot=20, seed=0)
    result = run_bias_audit(frame, label="outcome", sensitive=["sex"], y_pred=frame["prediction"].to_numpy(),
                            y_score=None, params=params)
    public = suppress_bias_result(result, K)
    for g_full, g_pub in zip(result["features"][0]["groups"], public["features"][0]["groups"], strict=True):
        assert g_pub["count"] == g_full["count"] and g_pub["suppressed"] is None
        assert g_pub["metrics"]["selection_rate"] == g_full["metrics"]["selection_rate"]
        assert g_pub["metrics"]["tpr"] == g_full["metrics"]["tpr"]


def test_freezing_is_deterministic(audit):
    full, public = audit
    assert json.dumps(suppress_bias_result(copy.deepcopy(full), K), sort_keys=True) == json.dumps(public, sort_keys=True)


# -- the primary rule and the allow-list -----------------------------------------------------


@pytest.mark.parametrize(("cells", "tier"), [
    ({"tn": 11, "fp": 11, "fn": 11, "tp": 11}, FULL),
    ({"tn": 500, "fp": 10, "fn": 40, "tp": 60}, RATES),  # fp small: size, positives and selection rate
    ({"tn": 500, "fp": 2, "fn": 40, "tp": 3}, suppression.MARGINS),  # 5 predicted positives: no selection rate
    ({"tn": 500, "fp": 30, "fn": 4, "tp": 5}, suppression.COUNT),  # 9 positives: no prevalence
    ({"tn": 500, "fp": 2, "fn": 10, "tp": 100}, suppression.MARGINS),  # 102 predicted, 110 positives: fn >= 8
    ({"tn": 6, "fp": 1, "fn": 1, "tp": 2}, HIDDEN),
])
def test_primary_tier_publishes_only_sums_of_at_least_eleven(cells, tier):
    assert primary_tier(cells, K) == tier


def test_unknown_fields_of_a_newer_engine_are_never_published(audit):
    full, _ = audit
    tampered = copy.deepcopy(full)
    tampered["scores"] = {"calibration": [{"ece": 0.03, "n": 7}], "sweep": [[0.1, 3, 4]]}
    tampered["multiplicity"] = {"method": "holm", "alpha": 0.05, "comparisons": 212, "smallest_group": 7}
    tampered["rule"] = {"code": "ratio_band_holm", "band": [0.8, 1.25], "alpha": 0.05, "note": "group of 7",
                        "largest_masked": 9}
    for group in [tampered["overall"], *(g for f in tampered["features"] for g in f["groups"])]:
        group["ece"] = 0.042
        group["curve"] = [[0.0, 0.0], [0.5, 0.7]]
        group["metrics"]["fnr"] = {"value": 0.25, "ci_low": 0.1, "ci_high": 0.4, "defined": True,
                                   "method": "wilson", "events": 3, "note": "3 of 12"}
    for feature in tampered["features"]:
        feature["disparities_to_overall"] = [{"group": g["group"], "metric": "tpr",
                                              "difference": {"value": 0.1, "ci_low": 0.0, "ci_high": 0.2},
                                              "ratio": {"value": 1.1, "ci_low": 0.9, "ci_high": 1.3}}
                                             for g in feature["groups"]]
        for row in feature["disparities"]:
            row.update(p_value=0.2, p_adjusted=0.031, secret=7,
                       base_rate_note={"code": "selection_follows_prevalence", "prevalence_ratio": 1.2},
                       reason={"code": "small_group", "group_n": 7, "p_value": 0.2, "text": "group has 7 people"})
    public = suppress_bias_result(tampered, K)
    assert "scores" not in public
    assert public["multiplicity"] == {"method": "holm", "alpha": 0.05, "comparisons": 212}
    assert public["rule"] == {"code": "ratio_band_holm", "band": [0.8, 1.25], "alpha": 0.05}
    for group in [public["overall"], *(g for f in public["features"] for g in f["groups"])]:
        assert "ece" not in group and "curve" not in group and "cells" not in group
        fnr = group["metrics"]["fnr"]
        assert "events" not in fnr and "note" not in fnr  # unknown numbers and free text: dropped
        if fnr["value"] is None:
            assert "method" not in fnr and fnr["defined"] is None
    published = masked = 0
    for feature in public["features"]:
        groups = {g["group"]: g for g in feature["groups"]}
        for row in feature["disparities"]:
            assert "secret" not in row and row["p_adjusted"] is None  # Holm reads the masked comparisons too
            if row["ratio"]["value"] is None:
                assert row["reason"] == {"code": "masked", "min_cell": K} and row["suppressed"] is True
                assert row["p_value"] is None and row["base_rate_note"] is None
                masked += 1
            else:
                assert row["reason"] == {"code": "small_group", "group_n": 7} and row["p_value"] == 0.2
                assert row["suppressed"] is False
                published += 1
        for row in feature["disparities_to_overall"]:
            hidden = groups[row["group"]]["metrics"]["tpr"]["value"] is None
            assert (row["difference"]["value"] is None) == hidden and (row["ratio"]["ci_low"] is None) == hidden
    assert published and masked


def test_intersections_list_every_combination_and_absent_ones_look_like_small_ones():
    frame = cohort(5, rows=600)
    result = run_audit(frame, ["sex", "region", "cmu"])
    public = suppress_bias_result(result, K)
    for f_full, f_pub in zip(result["features"], public["features"], strict=True):
        if len(f_full["columns"]) < 2:
            continue
        sizes = [len(next(f for f in result["features"] if f["columns"] == [c])["groups"]) for c in f_full["columns"]]
        assert len(f_pub["groups"]) == int(np.prod(sizes))
        shapes = {json.dumps({k: type(v).__name__ for k, v in g.items() if k not in ("group", "levels")}, sort_keys=True)
                  for g in f_pub["groups"] if g["count"] is None}
        assert len(shapes) == 1, "absent and small combinations must look alike"
        rows = {}
        for row in f_pub["disparities"]:
            rows.setdefault(row["group"], []).append(row)
        assert {len(r) for label, r in rows.items()} == {len(public["disparity_metrics"])}
    absent = sum(len(f["groups"]) for f in public["features"]) - sum(len(f["groups"]) for f in result["features"])
    assert absent > 0, "the fixture should have empty combinations (cmu=oui is rare)"

    keyed = copy.deepcopy(result)  # a newer engine keys groups by their typed levels: absent ones get keys alike
    for feature in keyed["features"]:
        for group in feature["groups"]:
            group["key"] = json.dumps(group["levels"], ensure_ascii=False, separators=(",", ":"))
    for feature in suppress_bias_result(keyed, K)["features"]:
        for group in feature["groups"]:
            assert group["key"] == json.dumps(group["levels"], ensure_ascii=False, separators=(",", ":"))
            assert group["group"] == "×".join(str(v) for v in group["levels"].values())


def test_calibration_is_published_whole_or_not_at_all(audit):
    full, public = audit
    seen = 0
    for _f, g_full, g_pub in _pairs(full, public):
        if g_pub["calibration"] is not None:
            seen += 1
            assert g_pub["calibration"] == g_full["calibration"]
            assert all(round(d["observed"] * d["n"]) >= K and d["n"] - round(d["observed"] * d["n"]) >= K
                       for d in g_pub["calibration"])
    assert seen > 0 or all(g["calibration"] is None for _f, _g, g in _pairs(full, public))


def test_an_audit_too_large_to_check_publishes_no_number(monkeypatch, audit):
    full, _ = audit
    monkeypatch.setattr(suppression.protect, "MAX_VARIABLES", 10)
    frozen = freeze_public_view(AuditRecord("x", full, "p"))
    assert frozen.fallback == "too_large"
    public = frozen.view
    assert public["n"] is None and public["overall"]["count"] is None
    assert all(g["count"] is None for f in public["features"] for g in f["groups"])
    assert all(r["ratio"]["value"] is None for f in public["features"] for r in f["disparities"])


# -- the reconstruction attack ---------------------------------------------------------------


SAME_VERSION = [  # several audits of one version on one dataset, with different feature sets
    (["sex", "region"], "risk_score", 0.2, True),
    (["age_band", "cmu", "sex"], "risk_score", 0.2, True),
    (["region"], "risk_score", 0.2, False),
]


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_reconstruction_attack_recovers_no_small_cell_across_audits_of_one_version(seed):
    frame = cohort(seed)
    results, views, outcomes = freeze_in_order(frame, SAME_VERSION)
    assert all(o.fallback is None for o in outcomes)
    assert_attack_fails(views, results)


ACROSS_VERSIONS = [  # two models, and two thresholds on the first model's scores, on one dataset
    (["sex", "region"], "risk_score", 0.2, True),
    (["region", "sex"], "score_v2", 0.2, True),
    (["sex", "age_band"], "risk_score", 0.3, True),
]


@pytest.mark.parametrize("seed", [21, 22])
def test_reconstruction_attack_recovers_no_small_cell_across_versions_on_one_dataset(seed):
    frame = cohort(seed)
    results, views, _ = freeze_in_order(frame, ACROSS_VERSIONS)
    assert_attack_fails(views, results)


def test_integer_programming_recovers_no_small_cell_either():
    frame = cohort(31, rows=900)
    results, views, _ = freeze_in_order(frame, SAME_VERSION[:2])
    findings = Attack(views).run(results, K, integer_sample=8)
    sampled = findings[:8]
    assert len(sampled) == 8
    assert all(f.high >= K and f.low <= 0 for f in sampled), sampled


def test_the_issue_attack_recovers_cells_of_count_only_masking_but_none_now():
    frame = generate_cohort(3000, seed=3)
    result = run_audit(frame, ["sex", "region"])
    naive = copy.deepcopy(result)  # the old rule's core: mask groups under 11 people, publish every rate of the rest
    for group in [naive["overall"], *(g for f in naive["features"] for g in f["groups"])]:
        group.pop("cells")
        if group["count"] < K:
            group["count"] = group["positives"] = None
            for triple in group["metrics"].values():
                triple["value"] = None
    leaked = per_group_attack(naive, K)
    assert leaked, "the per-group linear solve should recover small cells of groups of 11 or more"
    truth = {json.dumps(g["levels"], sort_keys=True): g["cells"] for f in result["features"] for g in f["groups"]}
    assert all(truth[json.dumps(levels, sort_keys=True)] == cells for levels, cells in leaked)  # exact recovery
    assert per_group_attack(suppress_bias_result(result, K), K) == []


def test_primary_suppression_alone_is_reconstructible_so_the_linear_audit_is_needed():
    frame = generate_cohort(2000, seed=7)
    result = run_audit(frame, ["sex", "region"])
    overall, features = suppression._slots(result, None, K)  # primary tiers, no complementary suppression
    primary_only = suppression.public_result(result, overall, features, K)
    findings = Attack([View(primary_only, "p")]).run([result], K)
    assert [f for f in findings if f.high < K - 1e-6 or f.low > 1e-6 or f.determined is not None]
    assert_attack_fails([View(suppress_bias_result(result, K), "p")], [result])


def test_views_frozen_apart_can_leak_together_but_not_when_frozen_jointly():
    """Two versions audited on one dataset share its positives: each view must be checked with the other's."""
    plan = [(["sex", "region"], "risk_score", 0.2, True), (["sex", "region"], "score_v2", 0.2, True)]
    leaking = 0
    for seed in (42, 43):
        frame = cohort(seed, rows=1500)
        results = [run_audit(frame, f, score=sc, threshold=t, intersections=i) for f, sc, t, i in plan]
        apart = [View(suppress_bias_result(r, K), f"{p[1]}@{p[2]}") for r, p in zip(results, plan, strict=True)]
        findings = Attack(apart).run(results, K)
        leaking += any(f.high < K - 1e-6 or f.low > 1e-6 for f in findings)
        joint_results, joint_views, _ = freeze_in_order(frame, plan)
        assert_attack_fails(joint_views, joint_results)
    assert leaking, "views suppressed one by one should be attackable together in at least one cohort"


def test_frozen_views_are_constraints_not_rewritten():
    frame = cohort(51, rows=1500)
    results, views, _ = freeze_in_order(frame, SAME_VERSION[:2])
    again = freeze_public_view(AuditRecord("0", results[0], "risk_score@0.2", "risk_score", 0.2))
    assert json.loads(json.dumps(again.view)) == views[0].public  # it did not depend on the later audits
    replay = freeze_in_order(frame, SAME_VERSION[:2])[1]
    assert [v.public for v in replay] == [v.public for v in views]  # deterministic in freezing order


def test_no_masked_number_appears_in_any_public_text():
    frame = cohort(61, rows=800)
    results, views, _ = freeze_in_order(frame, SAME_VERSION)
    for view, result in zip(views, results, strict=True):
        hidden_counts = {g["count"] for f in result["features"] for g in f["groups"] if g["count"] < K}
        assert hidden_counts, "the fixture should have hidden small groups"
        assert masked_numbers_in_text(view.public, result, K) == []
        text = json.dumps([s for f in view.public["features"] for r in f["disparities"] for s in
                           [r.get("reason")] if isinstance(s, str)])
        for count in hidden_counts:
            assert f"has {count} " not in text

