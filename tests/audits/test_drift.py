"""Drift reports: Evidently's own per-column verdicts, validated inputs, and no row-level data in the HTML."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from audits.drift import MAX_CATEGORIES, compute_drift
from registry_db.errors import ValidationFailed

NUMERIC = ["age", "bmi", "systolic_bp"]
CATEGORICAL = ["sex", "region"]
ANALYSED = NUMERIC + CATEGORICAL


def cohort(seed: int, n: int, *, age_shift: float = 0.0, share_women: float = 0.5) -> pd.DataFrame:
    """A cohort-like frame; ``patient_ref`` holds unique sentinel strings that are never analysed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(55 + age_shift, 12, n),
            "bmi": rng.normal(27, 4, n),
            "systolic_bp": rng.normal(130, 15, n),
            "sex": rng.choice(["F", "M"], n, p=[share_women, 1 - share_women]),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "patient_ref": [f"SENTINEL-{seed}-{i:06d}" for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def shifted():
    """Reference vs current with exactly two shifts: mean age +6 years, share of women 50% -> 25%."""
    reference, current = cohort(1, 3000), cohort(2, 3000, age_shift=6, share_women=0.25)
    return reference, current, compute_drift(reference, current, columns=ANALYSED)


def evidently_directly(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, tuple[str, float, float]]:
    """Evidently's DataDriftPreset run here, parsed with minimal code: column -> (method, score, threshold)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset(columns=ANALYSED)]).run(
        Dataset.from_pandas(current[ANALYSED], data_definition=definition),
        Dataset.from_pandas(reference[ANALYSED], data_definition=definition),
    )
    return {
        m["config"]["column"]: (m["config"]["method"], float(m["value"]), float(m["config"]["threshold"]))
        for m in snapshot.dict()["metrics"]
        if "column" in m["config"]
    }


def test_exactly_the_two_shifted_columns_are_reported_as_drifted(shifted):
    _, _, result = shifted
    summary = result.summary

    assert [c["column"] for c in summary["columns"] if c["drifted"]] == ["age", "sex"]
    assert {c["column"]: c["type"] for c in summary["columns"]} == {
        "age": "num", "bmi": "num", "systolic_bp": "num", "sex": "cat", "region": "cat"
    }  # fmt: skip
    assert summary["drifted_count"] == 2 and summary["column_count"] == 5
    assert summary["share_drifted"] == pytest.approx(0.4)
    assert summary["dataset_drifted"] is False  # 40% of columns < the 50% drift share
    assert summary["drift_share_threshold"] == 0.5 and summary["evidently_version"].startswith("0.7.")


def test_scores_methods_and_verdicts_equal_evidently_run_directly(shifted):
    reference, current, result = shifted
    direct = evidently_directly(reference, current)

    for row in result.summary["columns"]:
        method, score, threshold = direct[row["column"]]
        assert (row["method"], row["threshold"]) == (method, threshold)
        assert row["score"] == pytest.approx(score, rel=1e-12)
        # p-value tests drift below their threshold, distances at or above it
        expected = score < threshold if "p_value" in method else score >= threshold
        assert row["drifted"] is expected


def test_lower_drift_share_turns_the_same_columns_into_dataset_drift(shifted):
    reference, current, _ = shifted

    result = compute_drift(reference, current, columns=ANALYSED, drift_share=0.4)

    assert result.summary["dataset_drifted"] is True and result.summary["drift_share_threshold"] == 0.4


def test_two_samples_of_one_distribution_show_no_drift():
    result = compute_drift(cohort(11, 5000), cohort(12, 5000), columns=ANALYSED)

    assert [c["column"] for c in result.summary["columns"] if c["drifted"]] == []
    assert result.summary["drifted_count"] == 0 and result.summary["dataset_drifted"] is False


def test_small_samples_use_p_value_tests_and_still_agree_with_evidently():
    reference, current = cohort(21, 300), cohort(22, 300, age_shift=8)

    result = compute_drift(reference, current, columns=ANALYSED)
    direct = evidently_directly(reference, current)

    assert {r["column"]: r["method"] for r in result.summary["columns"]} == {c: m for c, (m, _, _) in direct.items()}
    assert "K-S p_value" in {r["method"] for r in result.summary["columns"]}
    assert [c["column"] for c in result.summary["columns"] if c["drifted"]] == ["age"]


def test_missing_column_is_a_validation_failure_naming_it():
    reference, current = cohort(1, 50), cohort(2, 50).drop(columns=["bmi"])

    with pytest.raises(ValidationFailed) as failure:
        compute_drift(reference, current, columns=["age", "bmi", "heart_rate"])

    assert failure.value.errors["columns"] == [
        "missing from the reference dataset: heart_rate",
        "missing from the current dataset: bmi, heart_rate",
    ]
    assert "heart_rate" in failure.value.message


def test_empty_dataset_is_a_validation_failure():
    with pytest.raises(ValidationFailed) as failure:
        compute_drift(cohort(1, 50), cohort(2, 50).iloc[:0], columns=ANALYSED)

    assert failure.value.errors == {"current": ["has no rows"]}


def test_identifier_like_categorical_column_is_refused():
    reference, current = cohort(1, 200), cohort(2, 200)

    with pytest.raises(ValidationFailed, match=f"more than {MAX_CATEGORIES} distinct values") as failure:
        compute_drift(reference, current, columns=["age", "patient_ref"])

    assert "patient_ref" in failure.value.errors["columns"][0]


def test_report_is_a_full_document_without_row_level_values(shifted):
    reference, current, result = shifted
    html = result.html
    rng = np.random.default_rng(3)

    assert html.lstrip().lower().startswith("<!doctype html") and html.rstrip().endswith("</html>")
    # Evidently 0.7.23's report never spells its own name: recognise its dashboard instead
    assert "window.drawDashboard(" in html and "Dataset Drift" in html and "systolic_bp" in html
    assert "SENTINEL-" not in html
    for frame in (reference, current):
        for column in NUMERIC:
            values = frame[column].to_numpy()
            sample = [*rng.choice(values, 50, replace=False), values.min(), values.max()]  # extremes: histogram edges
            leaked = [v for v in sample if repr(float(v)) in html]
            assert leaked == [], f"{column} values appear in the report"


def test_importing_the_module_does_not_import_evidently():
    code = "import sys, audits.drift; print('evidently' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
