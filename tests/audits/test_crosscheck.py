"""The Fairlearn cross-check: exact agreement on real cohorts, a stratified seeded sample, and a failure that fails."""

from __future__ import annotations

import fairlearn
import numpy as np
import pandas as pd
import pytest

from audits import crosscheck, engine_adapter
from audits.crosscheck import CrossCheckFailed, fairlearn_crosscheck, stratified_sample
from audits.fairness import BiasAuditParams
from audits.synth import BiasSpec, generate_cohort
from tests.audits.test_fairness import edge_case_frame


def check(frame, sensitive, *, label="outcome", pred="prediction", seed=0, max_rows=crosscheck.MAX_ROWS, **options):
    params = BiasAuditParams(sensitive_features=sensitive, **options)
    return fairlearn_crosscheck(frame, label=label, sensitive=sensitive, y_pred=frame[pred].to_numpy(),
                                params=params, seed=seed, max_rows=max_rows)


@pytest.mark.parametrize(("rows", "seed", "sensitive", "intersections"), [
    (3_000, 1, ["sex"], False),
    (8_000, 2, ["sex", "age_band", "region"], True),
    (20_000, 3, ["region", "deprivation_quintile"], True),  # an integer-valued sensitive column
])
def test_engine_equals_fairlearn_exactly_on_synthetic_cohorts(rows, seed, sensitive, intersections):
    frame = generate_cohort(rows, seed=seed, bias=BiasSpec("sex", "F", 0.5))

    record = check(frame, sensitive, intersections=intersections, seed=seed)

    assert record["max_abs_difference"] == 0.0
    assert record["sample_rows"] == rows == record["rows"]  # under 50,000 rows: every row
    assert record["fairlearn_version"] == fairlearn.__version__ and record["seed"] == seed
    assert set(crosscheck.REQUIRED_METRICS) | {"count"} <= set(record["metrics"])
    groups = sum(frame[c].nunique() for c in sensitive)
    assert record["values_compared"] >= (1 + groups) * len(record["metrics"])


@pytest.mark.parametrize("seed", range(3))
def test_zero_denominators_agree_too(seed):
    frame = edge_case_frame(seed)  # groups without positives, without predicted positives, without negatives

    record = check(frame, ["g", "h"], label="y", pred="pred", intersections=True)

    assert record["max_abs_difference"] == 0.0


def test_large_cohorts_are_sampled_seeded_and_stratified_keeping_every_group():
    frame = generate_cohort(60_000, seed=5)
    sensitive = ["sex", "region"]

    first = check(frame, sensitive, intersections=True, seed=7, max_rows=12_000)
    again = check(frame, sensitive, intersections=True, seed=7, max_rows=12_000)

    assert first == again and first["sample_rows"] == 12_000 and first["max_abs_difference"] == 0.0
    assert first["rows"] == 60_000 and first["max_rows"] == 12_000


def test_the_stratified_sample_is_proportional_keeps_tiny_strata_and_depends_on_the_seed():
    rng = np.random.default_rng(0)
    strata = np.concatenate([np.zeros(90_000), np.ones(9_000), np.full(990, 2), np.full(7, 3), [4, 5, 6]])
    strata = rng.permutation(strata.astype(np.int64))

    rows = stratified_sample(strata, 10_000, seed=1)

    assert rows.size == 10_000 and np.all(np.diff(rows) > 0)
    taken = np.bincount(strata[rows], minlength=7)
    assert abs(taken[0] - 9_000) <= 6 and abs(taken[1] - 900) <= 2 and abs(taken[2] - 99) <= 2
    assert taken[3] >= 1 and list(taken[4:]) == [1, 1, 1]  # every stratum is represented
    assert not np.array_equal(rows, stratified_sample(strata, 10_000, seed=2))
    assert np.array_equal(rows, stratified_sample(strata, 10_000, seed=1))
    assert np.array_equal(stratified_sample(strata[:5_000], 10_000, seed=1), np.arange(5_000))


def test_sampled_engine_result_keeps_every_group_and_intersection_of_the_full_data():
    frame = generate_cohort(40_000, seed=6)
    seen = {}

    def engine(sample, **kwargs):
        seen["sample"] = sample
        return engine_adapter.point_audit(sample, **kwargs)

    params = BiasAuditParams(sensitive_features=["sex", "region"], intersections=True)
    fairlearn_crosscheck(frame, label="outcome", sensitive=["sex", "region"], y_pred=frame["prediction"].to_numpy(),
                         params=params, seed=0, max_rows=2_000, engine=engine)

    sample = seen["sample"]
    assert len(sample) == 2_000
    full = frame.groupby(["sex", "region"]).size()
    assert set(sample.groupby(["sex", "region"]).size().index) == set(full.index)  # Corse, Mayotte included
    cells = lambda f: set(zip(f["sex"], f["region"], f["outcome"], f["prediction"], strict=True))  # noqa: E731
    assert cells(sample) == cells(frame)  # every non-empty confusion cell of every intersection


def test_any_difference_fails_with_a_fixed_reason():
    frame = generate_cohort(3_000, seed=8)

    def off_by_a_hair(sample, **kwargs):
        result = engine_adapter.point_audit(sample, **kwargs)
        result["features"][0]["groups"][1]["metrics"]["tpr"]["value"] += 1e-15
        return result

    params = BiasAuditParams(sensitive_features=["sex"])
    with pytest.raises(CrossCheckFailed) as failure:
        fairlearn_crosscheck(frame, label="outcome", sensitive=["sex"], y_pred=frame["prediction"].to_numpy(),
                             params=params, seed=0, engine=off_by_a_hair)

    assert failure.value.reason == CrossCheckFailed.reason
    assert not any(ch.isdigit() for ch in failure.value.reason)  # no number reaches the job's public error
    assert "sex group 1 tpr" in str(failure.value)  # the detail is for admins (traceback)


def test_a_group_missing_from_the_engine_fails_the_check():
    frame = generate_cohort(3_000, seed=9)

    def lost_a_group(sample, **kwargs):
        result = engine_adapter.point_audit(sample, **kwargs)
        result["features"][0]["groups"].pop()
        return result

    params = BiasAuditParams(sensitive_features=["age_band"])
    with pytest.raises((CrossCheckFailed, engine_adapter.GroupMismatch)):
        fairlearn_crosscheck(frame, label="outcome", sensitive=["age_band"], y_pred=frame["prediction"].to_numpy(),
                             params=params, seed=0, engine=lost_a_group)


def test_point_audit_skips_the_bootstrap():
    frame = pd.DataFrame({"s": ["a", "b"] * 50, "y": [0, 1] * 50, "p": [1, 1, 0, 0] * 25})
    params = BiasAuditParams(sensitive_features=["s"], n_boot=1000)

    result = engine_adapter.point_audit(frame, label="y", sensitive=["s"], y_pred=frame["p"].to_numpy(), params=params)

    assert result["n_boot"] == 0 and result["n"] == 100
    assert engine_adapter.engine_identity()["name"] == "boas-audit-engine"
