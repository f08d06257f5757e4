"""The missing-share test beside Evidently's: missingness drift is seen, Evidently's own decisions are untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audits.drift import MISSING_ALPHA, MISSING_MIN_EFFECT, compute_drift, missing_share_test
from tests.audits.test_drift import ANALYSED, CATEGORICAL, NUMERIC, cohort


def with_missing(frame: pd.DataFrame, column: str, share: float, seed: int) -> pd.DataFrame:
    """The same rows with ``share`` of ``column`` blanked at random (missing completely at random)."""
    frame = frame.copy()
    frame.loc[np.random.default_rng(seed).random(len(frame)) < share, column] = np.nan
    return frame


def evidently_directly(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict, bool, int]:
    """Evidently's DataDriftPreset run here: per column (method, score, threshold, drifted), dataset verdict, count."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset(columns=ANALYSED)], include_tests=True).run(
        Dataset.from_pandas(current[ANALYSED], data_definition=definition),
        Dataset.from_pandas(reference[ANALYSED], data_definition=definition),
    ).dict()
    status = {t["metric_config"]["metric_id"]: t["status"] for t in snapshot["tests"]}
    columns, dataset, count = {}, None, None
    for metric in snapshot["metrics"]:
        if "column" in metric["config"]:
            columns[metric["config"]["column"]] = (metric["config"]["method"], float(metric["value"]),
                                                   float(metric["config"]["threshold"]),
                                                   status[metric["id"]] == "FAIL")
        elif metric["config"]["type"].endswith(":DriftedColumnsCount"):
            dataset, count = status[metric["id"]] == "FAIL", int(metric["value"]["count"])
    return columns, dataset, count


@pytest.fixture(scope="module")
def missingness_shift():
    """bmi goes from 85 % to 5 % missing with the same distribution otherwise; age and sex also shift."""
    reference = with_missing(cohort(1, 3000), "bmi", 0.85, seed=20)
    current = with_missing(cohort(2, 3000, age_shift=6, share_women=0.25), "bmi", 0.05, seed=21)
    return reference, current, compute_drift(reference, current, columns=ANALYSED).summary


def test_missing_share_going_from_85_to_5_percent_is_detected_where_evidently_sees_nothing(missingness_shift):
    _, _, summary = missingness_shift
    rows = {row["column"]: row for row in summary["columns"]}

    bmi = rows["bmi"]
    assert bmi["drifted"] is False  # Evidently compares the values left after dropping NaN: same distribution
    assert bmi["missing_reference"] == pytest.approx(0.85, abs=0.02)
    assert bmi["missing_current"] == pytest.approx(0.05, abs=0.01)
    assert bmi["missing_test"]["drifted"] is True and bmi["drifted_any"] is True
    assert bmi["missing_test"]["p_value"] < 1e-100 and bmi["missing_test"]["effect_size"] < -1.8
    assert bmi["missing_test"]["alpha"] == MISSING_ALPHA and bmi["missing_test"]["min_effect_size"] == MISSING_MIN_EFFECT
    for name in ("age", "systolic_bp", "sex", "region"):
        assert rows[name]["missing_reference"] == rows[name]["missing_current"] == 0.0
        assert rows[name]["missing_test"]["drifted"] is False and rows[name]["missing_test"]["p_value"] == 1.0
    assert summary["missing_drifted_count"] == 1
    assert [r["column"] for r in summary["columns"] if r["drifted_any"]] == ["age", "bmi", "sex"]
    assert summary["drifted_any_count"] == 3 and summary["share_drifted_any"] == pytest.approx(0.6)
    # 2 of 5 columns by Evidently alone stay under the 50 % drift share; 3 of 5 with missingness reach it
    assert summary["dataset_drifted_evidently"] is False and summary["dataset_drifted"] is True
    assert "missing-share test" in summary["dataset_drift_rule"]


def test_evidently_decisions_are_exactly_those_of_evidently_run_directly(missingness_shift):
    reference, current, summary = missingness_shift
    direct, dataset, count = evidently_directly(reference, current)

    for row in summary["columns"]:
        assert (row["method"], row["score"], row["threshold"], row["drifted"]) == direct[row["column"]]
    assert [r["column"] for r in summary["columns"] if r["drifted"]] == ["age", "sex"]
    assert summary["drifted_count"] == count == 2
    assert summary["dataset_drifted_evidently"] is dataset is False


def test_the_same_missing_share_on_both_sides_is_not_drift():
    reference = with_missing(cohort(3, 4000), "bmi", 0.3, seed=12)
    current = with_missing(cohort(4, 4000), "bmi", 0.3, seed=13)

    summary = compute_drift(reference, current, columns=ANALYSED).summary

    assert [r["column"] for r in summary["columns"] if r["drifted_any"]] == []
    bmi = next(r for r in summary["columns"] if r["column"] == "bmi")
    assert 0.28 < bmi["missing_reference"] < 0.32 and 0.28 < bmi["missing_current"] < 0.32
    assert bmi["missing_test"]["drifted"] is False and bmi["missing_test"]["p_value"] > MISSING_ALPHA
    assert summary["dataset_drifted"] is False and summary["missing_drifted_count"] == 0


def test_missingness_alone_can_make_the_dataset_drift_by_the_stated_rule():
    reference = with_missing(cohort(5, 2000), "bmi", 0.6, seed=14)
    current = with_missing(cohort(6, 2000), "bmi", 0.0, seed=15)

    summary = compute_drift(reference, current, columns=["age", "bmi"], drift_share=0.5).summary

    assert summary["drifted_count"] == 0 and summary["dataset_drifted_evidently"] is False
    assert summary["drifted_any_count"] == 1 and summary["dataset_drifted"] is True


def test_effect_size_keeps_trivial_changes_in_huge_samples_from_counting_as_drift():
    # 5.0 % -> 5.3 % over a million rows: "significant", but Cohen's h is 0.014
    trivial = missing_share_test(50_000, 1_000_000, 53_000, 1_000_000)
    assert trivial["p_value"] < 1e-10 and abs(trivial["effect_size"]) < 0.02 and not trivial["drifted"]
    # a complete column that starts having 3 % missing values is a change of pipeline: h = 0.35
    appearing = missing_share_test(0, 10_000, 300, 10_000)
    assert appearing["drifted"] and appearing["effect_size"] == pytest.approx(2 * np.arcsin(np.sqrt(0.03)))
    # nothing missing on either side: no evidence at all
    none = missing_share_test(0, 500, 0, 700)
    assert none["p_value"] == 1.0 and none["effect_size"] == 0.0 and not none["drifted"]
    # the z statistic is the 2 x 2 chi-square without continuity correction
    from scipy.stats import chi2_contingency

    chi2, p_value, _, _ = chi2_contingency([[30, 270], [55, 245]], correction=False)
    test = missing_share_test(30, 300, 55, 300)
    assert test["z"] ** 2 == pytest.approx(chi2, rel=1e-12) and test["p_value"] == pytest.approx(p_value, rel=1e-9)


# Measured by the simulation below (seed 2024, 20,000 pairs of samples per cell, same missing share on
# both sides, n rows per side): false alarms of the missing-share test
#   n \\ share    0.01     0.05     0.2      0.5      0.85
#   20         0.0001   0.0109   0.0510   0.0414   0.0485
#   50         0.0022   0.0435   0.0510   0.0566   0.0597
#   100        0.0144   0.0435   0.0502   0.0546   0.0508
#   300        0.0485   0.0498   0.0490   0.0515   0.0505
#   1,000      0.0299   0.0280   0.0261   0.0243   0.0246
#   10,000     0        0        0        0        0
#   100,000    0        0        0        0        0
# The uncorrected z-test is slightly liberal in small samples (up to about 6 % at n = 50); from about
# 800 rows per side the effect-size floor takes over and false alarms vanish as n grows.
FALSE_ALARM_N = (20, 50, 100, 300, 1_000, 10_000, 100_000)
FALSE_ALARM_SHARES = (0.01, 0.05, 0.2, 0.5, 0.85)


def test_false_alarm_rate_by_seeded_simulation_and_power_on_85_to_5_percent():
    rng = np.random.default_rng(2024)
    replicates = 20_000
    rates = {}
    for n in FALSE_ALARM_N:
        for share in FALSE_ALARM_SHARES:
            reference, current = rng.binomial(n, share, replicates), rng.binomial(n, share, replicates)
            rates[n, share] = missing_share_test(reference, n, current, n)["drifted"].mean()
        detected = missing_share_test(rng.binomial(n, 0.85, replicates), n, rng.binomial(n, 0.05, replicates), n)
        assert detected["drifted"].mean() == 1.0, n

    # 20,000 replicates: a standard error of 0.0016 around 5 %
    assert max(rates.values()) <= 0.065, rates
    assert all(rate <= 0.03 for (n, _), rate in rates.items() if n >= 1_000), rates
    assert all(rate == 0.0 for (n, _), rate in rates.items() if n >= 10_000), rates
    assert 0.04 <= np.mean([rate for (n, _), rate in rates.items() if n == 300]) <= 0.06  # the test is not inert
