"""Drift over every row, from summaries read batch by batch: Evidently's decisions, its numbers within the stated bound.

Real Parquet files, real Evidently on the whole frames and on the stratified sample, scipy on the whole frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from audits import drift_stream
from audits.drift import compute_drift
from audits.drift_stream import stratified_sample, stream_drift
from registry_db.errors import ValidationFailed

ROWS = 200_000
COLUMNS = ["age", "bmi", "creatinine", "sex", "region", "stage"]
CATEGORICAL = ["sex", "region"]


def cohort(seed: int, n: int, *, age_shift: float = 0.0, share_women: float = 0.5,
           bmi_missing: float = 0.05) -> pd.DataFrame:
    """A cohort: two normal columns, a heavy-tailed one (lognormal), two categories, a three-level integer."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(55 + age_shift, 12, n),
        "bmi": rng.normal(27, 4, n),
        "creatinine": rng.lognormal(4.4, 0.5, n),
        "sex": rng.choice(["F", "M"], n, p=[share_women, 1 - share_women]),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "stage": rng.integers(1, 4, n),
    })
    frame.loc[rng.random(n) < bmi_missing, "bmi"] = np.nan
    return frame


SCENARIOS = {  # name -> (current cohort's changes, the columns that drift by either test)
    "none": ({}, set()),
    "numeric shift": ({"age_shift": 3.0}, {"age"}),
    "categorical mix": ({"share_women": 0.3}, {"sex"}),
    "missingness": ({"bmi_missing": 0.4}, {"bmi"}),
}


def write(frame: pd.DataFrame, path: Path, row_group_rows: int = 50_000) -> Path:
    frame.to_parquet(path, index=False, row_group_size=row_group_rows)
    return path


def exact(reference: pd.DataFrame, current: pd.DataFrame, column: str) -> tuple[str, float]:
    """Evidently's test for a column of more than 1,000 values, computed by scipy on the whole columns."""
    r, c = reference[column].dropna(), current[column].dropna()
    if column in CATEGORICAL or pd.concat([r, c]).nunique() <= 5:
        keys = sorted(set(r) | set(c))
        p = np.array([(r == k).sum() for k in keys]) / len(r)
        q = np.array([(c == k).sum() for k in keys]) / len(c)
        return "Jensen-Shannon distance", float(distance.jensenshannon(p, q))
    return "Wasserstein distance (normed)", float(stats.wasserstein_distance(r, c) / max(np.std(r), 0.001))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each scenario's two files, whole frames, streaming result and Evidently's result on the samples."""
    root = tmp_path_factory.mktemp("drift")
    out = {}
    for i, (name, (changes, _)) in enumerate(SCENARIOS.items()):
        reference, current = cohort(100 + i, ROWS), cohort(200 + i, ROWS, **changes)
        paths = write(reference, root / f"{i}-ref.parquet"), write(current, root / f"{i}-cur.parquet")
        streamed = stream_drift(*paths, columns=COLUMNS, categorical=CATEGORICAL)
        samples = [stratified_sample(p, COLUMNS, seed=7 + j)[0] for j, p in enumerate(paths)]
        sampled = compute_drift(*samples, columns=COLUMNS, categorical=CATEGORICAL).summary
        out[name] = (reference, current, paths, streamed, sampled)
    return out


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_full_data_decisions_equal_the_exact_computation_and_find_the_injected_drift(runs, name):
    reference, current, _, streamed, _ = runs[name]

    for row in streamed.summary["columns"]:
        method, score = exact(reference, current, row["column"])
        assert row["method"] == method
        assert row["drifted"] is (score >= 0.1)
        missing = reference[row["column"]].isna().mean(), current[row["column"]].isna().mean()
        assert (row["missing_reference"], row["missing_current"]) == pytest.approx(missing, abs=1e-15)
    assert {r["column"] for r in streamed.summary["columns"] if r["drifted_any"]} == SCENARIOS[name][1]
    assert streamed.summary["dataset_drifted"] is False  # one column of six at most: under the 50 % share


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_sample_evidently_decisions_agree_with_the_full_data(runs, name):
    _, _, _, streamed, sampled = runs[name]

    full = {r["column"]: (r["method"], r["drifted"], r["drifted_any"]) for r in streamed.summary["columns"]}
    sample = {r["column"]: (r["method"], r["drifted"], r["drifted_any"]) for r in sampled["columns"]}
    assert sample == full
    assert sampled["dataset_drifted"] is streamed.summary["dataset_drifted"]


def test_the_whole_frame_through_evidently_gives_the_streaming_numbers(runs):
    reference, current, _, streamed, _ = runs["numeric shift"]

    whole = compute_drift(reference, current, columns=COLUMNS, categorical=CATEGORICAL).summary
    for ours, theirs in zip(streamed.summary["columns"], whole["columns"], strict=True):
        assert (ours["column"], ours["method"], ours["threshold"]) == (theirs["column"], theirs["method"],
                                                                       theirs["threshold"])
        assert ours["drifted"] is theirs["drifted"] and ours["drifted_any"] is theirs["drifted_any"]
        bound = ours.get("score_bound") or 1e-12
        assert abs(ours["score"] - theirs["score"]) <= bound
        assert ours["missing_test"] == theirs["missing_test"]
    keys = ("drifted_count", "column_count", "share_drifted", "dataset_drifted", "dataset_drifted_evidently",
            "missing_drifted_count", "drifted_any_count", "share_drifted_any", "dataset_drift_rule")
    assert {k: streamed.summary[k] for k in keys} == {k: whole[k] for k in keys}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_distances_from_summaries_are_within_the_stated_bound_of_exact(runs, name):
    reference, current, _, streamed, _ = runs[name]

    for row in streamed.summary["columns"]:
        _, score = exact(reference, current, row["column"])
        if row["method"].startswith("Wasserstein"):
            # the bound: 2 x bin width / reference std; the heavy-tailed column's range makes it the widest
            assert 0 < row["score_bound"] < 0.02
            assert abs(row["score"] - score) <= row["score_bound"]
            assert row["decision_certain"] is True
        else:
            assert row["score"] == pytest.approx(score, abs=1e-12)


def test_with_no_drift_the_full_data_decision_is_no_drift_for_every_seed(tmp_path):
    """False alarms by simulation: 30 pairs of samples of one distribution, 20,000 rows each, 10 % bmi missing."""
    alarms = []
    for seed in range(30):
        paths = (write(cohort(1000 + seed, 20_000, bmi_missing=0.1), tmp_path / "r.parquet"),
                 write(cohort(2000 + seed, 20_000, bmi_missing=0.1), tmp_path / "c.parquet"))
        summary = stream_drift(*paths, columns=COLUMNS, categorical=CATEGORICAL).summary
        alarms += [(seed, r["column"]) for r in summary["columns"] if r["drifted_any"]]
        assert summary["dataset_drifted"] is False
    assert alarms == []


def test_summaries_hold_the_same_bytes_whatever_the_number_of_rows(tmp_path):
    sizes = []
    for n in (20_000, 400_000):
        paths = (write(cohort(1, n), tmp_path / f"r{n}.parquet"), write(cohort(2, n), tmp_path / f"c{n}.parquet"))
        streamed = stream_drift(*paths, columns=COLUMNS, categorical=CATEGORICAL, batch_rows=8_192)
        sizes.append(sum(s.nbytes() for s in (*streamed.reference.values(), *streamed.current.values())))
    assert sizes[0] == sizes[1]
    # three histogrammed numeric columns per dataset, then a few counts: no row-sized array
    assert sizes[0] <= 2 * 3 * (2 * drift_stream.FINE_BINS + 1) * 8 + 2_000  # counts and edges


def test_small_columns_get_evidentlys_p_value_tests_with_its_numbers(tmp_path):
    """Columns with at most 1,000 reference values: K-S (both exact and asymptotic p-values), chi-square, Z."""
    rng = np.random.default_rng(5)
    n = 30_000

    def frame(shift: float, kept: int) -> pd.DataFrame:
        rare = np.full(n, np.nan)
        rare[rng.choice(n, kept, replace=False)] = rng.normal(shift, 1, kept)
        sparse_cat = np.full(n, None, dtype=object)
        sparse_cat[rng.choice(n, 800, replace=False)] = rng.choice(["a", "b", "c"], 800, p=[0.2 + shift / 10, 0.3,
                                                                                             0.5 - shift / 10])
        flag = np.full(n, np.nan)
        flag[rng.choice(n, 900, replace=False)] = rng.random(900) < 0.3 + shift / 10
        return pd.DataFrame({"rare": rare, "rarer": np.where(np.arange(n) < 700, rare, np.nan),
                             "sparse_cat": sparse_cat, "flag": flag})

    reference, current = frame(0.0, 900), frame(0.6, 20_000)
    current["rarer"] = np.where(np.arange(n) < 800, rng.normal(0.6, 1, n), np.nan)  # both sides under 10,000
    columns = ["rare", "rarer", "sparse_cat", "flag"]
    paths = write(reference, tmp_path / "r.parquet"), write(current, tmp_path / "c.parquet")

    ours = {r["column"]: r for r in stream_drift(*paths, columns=columns).summary["columns"]}
    theirs = {r["column"]: r for r in compute_drift(reference, current, columns=columns).summary["columns"]}

    assert {c: ours[c]["method"] for c in columns} == {c: theirs[c]["method"] for c in columns} == {
        "rare": "K-S p_value", "rarer": "K-S p_value", "sparse_cat": "chi-square p_value", "flag": "Z-test p_value"}
    for c in columns:
        assert ours[c]["score"] == pytest.approx(theirs[c]["score"], rel=1e-9, abs=1e-300)
        assert ours[c]["drifted"] is theirs[c]["drifted"]
    assert ours["rare"]["drifted"] is True


def test_stratified_sample_is_reproducible_bounded_and_spread_over_row_groups(tmp_path):
    frame = cohort(3, 120_000).assign(position=np.arange(120_000))
    path = write(frame, tmp_path / "d.parquet", row_group_rows=10_000)

    first, total = stratified_sample(path, ["position", "age"], size=6_000, seed=1)
    again, _ = stratified_sample(path, ["position", "age"], size=6_000, seed=1)
    other, _ = stratified_sample(path, ["position", "age"], size=6_000, seed=2)

    assert total == 120_000 and len(first) == 6_000 and first.equals(again) and not first.equals(other)
    assert first["position"].is_unique
    assert (np.bincount(first["position"] // 10_000) == 500).all()  # each row group gives its share
    assert np.array_equal(first["age"].to_numpy(), frame["age"].to_numpy()[first["position"]])
    whole, total = stratified_sample(path, ["age"], size=500_000)
    assert len(whole) == total == 120_000


def test_a_wide_categorical_column_is_refused_or_skipped_as_compute_drift_does(tmp_path):
    reference, current = cohort(1, 5_000), cohort(2, 5_000)
    reference["ref"] = [f"P{i}" for i in range(5_000)]
    current["ref"] = [f"Q{i}" for i in range(5_000)]
    paths = write(reference, tmp_path / "r.parquet"), write(current, tmp_path / "c.parquet")

    with pytest.raises(ValidationFailed, match="more than 50 distinct values") as failure:
        stream_drift(*paths, columns=["age", "ref"])
    assert "ref" in failure.value.errors["columns"][0]
    skipped = stream_drift(*paths, columns=["age", "ref"], skip_wide=True)
    assert skipped.skipped == {"ref": "more than 50 categories"}
    assert [r["column"] for r in skipped.summary["columns"]] == ["age"]
    with pytest.raises(ValidationFailed, match="no column to compare"):
        stream_drift(*paths, columns=["ref"], skip_wide=True)
    with pytest.raises(ValidationFailed) as failure:
        stream_drift(*paths, columns=["age", "heart_rate"])
    assert failure.value.errors["columns"] == ["missing from the reference dataset: heart_rate",
                                               "missing from the current dataset: heart_rate"]


def test_an_outlier_stretching_the_range_is_refined_until_the_decision_is_certain(tmp_path):
    """One weight typed in grams (70,000 for 70 kg) makes 8,192 bins 8.5 kg wide: the bulk needs refining."""
    rng = np.random.default_rng(9)
    reference = pd.DataFrame({"weight": rng.normal(75, 14, 100_000)})
    current = pd.DataFrame({"weight": rng.normal(75 + 1.4, 14, 100_000)})  # W / std close to 0.1
    current.loc[17, "weight"] = 70_000.0
    paths = write(reference, tmp_path / "r.parquet"), write(current, tmp_path / "c.parquet")

    summary = stream_drift(*paths, columns=["weight"]).summary
    row = summary["columns"][0]
    r, c = reference["weight"], current["weight"]
    exact_score = stats.wasserstein_distance(r, c) / np.std(r)

    assert 70_000 / drift_stream.FINE_BINS / np.std(r) > 0.5  # the uniform grid alone could decide nothing
    assert summary["refinement_passes"] >= 1 and row["decision_certain"] is True
    assert abs(row["score"] - exact_score) <= row["score_bound"] < abs(exact_score - 0.1)
    whole = compute_drift(reference, current, columns=["weight"]).summary["columns"][0]
    assert row["drifted"] is whole["drifted"]


def test_a_column_typed_otherwise_in_each_file_and_values_near_the_float_limit_are_compared_not_crashed(tmp_path):
    """Text in one file and numbers in the other (a Z test on levels that do not sort together), and a column
    spanning -1.7e308 to 1.7e308 (whose range overflows a float): decisions, not exceptions."""
    rng = np.random.default_rng(11)
    mixed = stream_drift(write(pd.DataFrame({"code": ["A"] * 50}), tmp_path / "r1.parquet"),
                         write(pd.DataFrame({"code": [1] * 5000}), tmp_path / "c1.parquet"),
                         columns=["code"]).summary["columns"]
    assert [(c["column"], c["drifted"]) for c in mixed] == [("code", True)]  # no level in common: drifted
    wide = pd.DataFrame({"x": np.r_[rng.normal(size=3000), -1.7e308, 1.7e308]})
    same = stream_drift(write(wide, tmp_path / "r2.parquet"), write(wide, tmp_path / "c2.parquet"),
                        columns=["x"]).summary["columns"]
    assert [(c["column"], c["drifted"]) for c in same] == [("x", False)]
