"""The streaming engine: the in-memory engine's counts, verdicts and intervals from Parquet batches, in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame

from audits import crosscheck
from audits.crosscheck import CrossCheckFailed, fairlearn_crosscheck, fairlearn_crosscheck_counts
from audits.datasets import check_predictions
from audits.fairness import BiasAuditParams, run_bias_audit
from audits.streaming import cell_table, run_streaming_bias_audit
from audits.synth import BiasSpec, generate_cohort
from registry_db.errors import ValidationFailed
from tests.audits.test_fairness import edge_case_frame

ROOT = Path(__file__).resolve().parents[2]


def files(tmp_path: Path, frame: pd.DataFrame, *, key: str | None = "row_id", pred: str = "prediction",
          fmt: str = "parquet", shuffle: int | None = 1, row_group_size: int = 700) -> tuple[Path, Path]:
    """The dataset as Parquet (small row groups) and its predictions, shuffled, as Parquet or CSV."""
    dataset = tmp_path / "data.parquet"
    frame.drop(columns=[pred]).to_parquet(dataset, index=False, row_group_size=row_group_size)
    keys = frame[key] if key else pd.Series(range(len(frame)), name="row_number")
    predictions = pd.DataFrame({keys.name: keys.to_numpy(), "prediction": frame[pred].to_numpy()})
    if shuffle is not None:
        predictions = predictions.sample(frac=1, random_state=shuffle)
    path = tmp_path / f"predictions.{fmt}"
    if fmt == "parquet":
        predictions.to_parquet(path, index=False)
    else:
        predictions.to_csv(path, index=False)
    return dataset, path


def both(tmp_path, frame, sensitive, *, label="outcome", pred="prediction", key="row_id", fmt="parquet",
         batch_rows=500, partition_rows=1_500, **options):
    """The in-memory audit of the frame as the runner reads it back, and the streamed audit of its files."""
    params = BiasAuditParams(sensitive_features=sensitive, **options)
    dataset, predictions = files(tmp_path, frame, key=key, pred=pred, fmt=fmt)
    stored = pd.read_parquet(dataset)  # what the in-memory path reads
    expected = run_bias_audit(stored, label=label, sensitive=sensitive, y_pred=frame[pred].to_numpy(), y_score=None,
                              params=params)
    streamed, counts = run_streaming_bias_audit(dataset, predictions, predictions_format=fmt, label=label,
                                                row_key=key, params=params, workdir=tmp_path, batch_rows=batch_rows,
                                                partition_rows=partition_rows)
    return expected, streamed, counts


def canonical(result: dict) -> str:
    return json.dumps(result, sort_keys=True, allow_nan=False)


def null_cohort(n: int, seed: int) -> pd.DataFrame:
    """Outcomes and predictions drawn independently of the groups: no disparity to find."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"row_id": rng.permutation(n) + 10_000, "sex": rng.choice(["F", "M"], n),
                          "age_band": rng.choice(["18-39", "40-59", "60+"], n)})
    frame["outcome"] = (rng.random(n) < 0.2).astype(int)
    frame["prediction"] = np.where(rng.random(n) < 0.8, frame["outcome"], 1 - frame["outcome"])
    return frame


@pytest.mark.parametrize(("rows", "seed", "sensitive", "intersections", "fmt"), [
    (6_000, 1, ["sex", "age_band", "region"], True, "parquet"),  # biased, with small regions (Corse, Mayotte)
    (4_000, 2, ["deprivation_quintile", "sex"], True, "csv"),  # an integer column; predictions as CSV
    (3_000, 3, ["sex"], False, "parquet"),
])
def test_streamed_audit_of_a_biased_cohort_is_identical_to_the_in_memory_one(tmp_path, rows, seed, sensitive,
                                                                             intersections, fmt):
    frame = generate_cohort(rows, seed=seed, bias=BiasSpec("sex", "F", 0.5)).drop(columns=["risk_score"])

    expected, streamed, counts = both(tmp_path, frame, sensitive, intersections=intersections, n_boot=300, seed=seed,
                                      fmt=fmt)

    assert canonical(streamed) == canonical(expected)  # counts, intervals, extremes' bootstrap, verdicts: all of it
    assert counts.stats.partitions == -(-rows // 1_500) and counts.stats.row_groups == -(-rows // 700)
    sex = next(f for f in streamed["features"] if f["name"] == "sex")
    judged = {d["group"] for d in sex["disparities"] if d["verdict"] == "fail"}
    assert judged == ({"F"} if sex["reference_group"] == "M" else {"M"})  # the injected bias is found


def test_a_null_cohort_streams_to_the_same_passing_verdicts(tmp_path):
    frame = null_cohort(8_000, seed=4)

    expected, streamed, _ = both(tmp_path, frame, ["sex", "age_band"], intersections=True, n_boot=200, seed=9)

    assert canonical(streamed) == canonical(expected)
    assert not [d for f in streamed["features"] for d in f["disparities"] if d["verdict"] == "fail"]


def test_small_groups_empty_intersections_and_zero_denominators_stream_identically(tmp_path):
    frame = edge_case_frame(0)  # groups with no positives, no predicted positives, no negatives, and a tiny group
    frame = frame[~((frame["g"] == "a") & (frame["h"] == "z"))]  # an intersection that never occurs
    frame = frame.assign(row_id=[f"P{i:05d}" for i in range(len(frame))], flag=frame["h"] == "x").drop(columns="score")

    expected, streamed, counts = both(tmp_path, frame, ["g", "h", "flag"], label="y", pred="pred", intersections=True,
                                      n_boot=200, seed=3, reference_group={"g": "b"}, batch_rows=97,
                                      partition_rows=300)

    assert canonical(streamed) == canonical(expected)
    assert counts.stats.partitions > 1
    gxh = next(f for f in streamed["features"] if f["name"] == "g×h")
    assert "a×z" not in {g["group"] for g in gxh["groups"]}
    assert min(g["count"] for g in gxh["groups"]) < 30  # below min_group_size: judged as the engine judges it


def test_many_distinct_values_are_counted_sparsely_with_the_same_result(tmp_path):
    """170³ possible combinations: past both engines' fixed arrays, each counts only the combinations present."""
    rng = np.random.default_rng(5)
    n = 6_000
    frame = pd.DataFrame({"row_id": np.arange(n), **{c: rng.integers(0, 170, n) * 3 for c in ("a", "b", "c")}})
    frame["outcome"] = (rng.random(n) < 0.3).astype(int)
    frame["prediction"] = (rng.random(n) < 0.3).astype(int)
    assert all(frame[c].nunique() == 170 for c in ("a", "b", "c"))

    expected, streamed, _ = both(tmp_path, frame, ["a", "b", "c"], n_boot=20, min_group_size=5)

    assert canonical(streamed) == canonical(expected)


def test_a_dataset_without_a_row_key_is_joined_by_row_number(tmp_path):
    frame = generate_cohort(2_500, seed=6).drop(columns=["row_id", "risk_score"])

    expected, streamed, _ = both(tmp_path, frame, ["sex", "region"], key=None, fmt="csv", n_boot=100)

    assert canonical(streamed) == canonical(expected)


def test_a_categorical_sensitive_column_keeps_its_category_order(tmp_path):
    frame = generate_cohort(3_000, seed=8).drop(columns=["risk_score"])
    frame["age_band"] = pd.Categorical(frame["age_band"], categories=["75+", "60-74", "40-59", "18-39"])

    expected, streamed, _ = both(tmp_path, frame, ["age_band", "sex"], intersections=True, n_boot=50)

    assert canonical(streamed) == canonical(expected)
    assert [g["group"] for g in streamed["features"][0]["groups"]] == ["75+", "60-74", "40-59", "18-39"]


def test_missing_sensitive_values_and_non_binary_outcomes_are_refused_in_the_engine_s_words(tmp_path):
    frame = generate_cohort(1_000, seed=2).drop(columns=["risk_score"])
    holes = frame.assign(region=frame["region"].where(frame.index != 700))
    params = BiasAuditParams(sensitive_features=["sex", "region"])
    with pytest.raises(ValueError) as in_memory:
        run_bias_audit(holes, label="outcome", sensitive=["sex", "region"], y_pred=frame["prediction"].to_numpy(),
                       y_score=None, params=params)
    with pytest.raises(ValueError) as streamed:
        both(tmp_path, holes, ["sex", "region"])
    assert str(streamed.value) == str(in_memory.value) == "sensitive feature 'region' has missing values"

    with pytest.raises(ValueError, match="outcome must be a one-dimensional array of 0/1 values"):
        both(tmp_path, frame.assign(outcome=frame["outcome"] * 2), ["sex"])


@pytest.mark.parametrize("damage", ["duplicate", "missing", "extra", "not_binary", "all"])
def test_predictions_that_do_not_match_the_rows_are_refused_as_the_upload_check_refuses_them(tmp_path, damage):
    frame = generate_cohort(1_200, seed=3).drop(columns=["risk_score"])
    dataset, _ = files(tmp_path, frame)
    predictions = frame[["row_id", "prediction"]].copy()
    if damage in ("duplicate", "all"):
        predictions = pd.concat([predictions, predictions.iloc[[5, 900]]])
    if damage in ("missing", "all"):
        predictions = predictions[~predictions["row_id"].isin(frame["row_id"].iloc[10:13])]
    if damage in ("extra", "all"):
        predictions = pd.concat([predictions, pd.DataFrame({"row_id": [10**9], "prediction": [1]})])
    if damage in ("not_binary", "all"):
        predictions["prediction"] = predictions["prediction"].where(predictions.index != 42, 2)
    path = tmp_path / "bad.parquet"
    predictions.sample(frac=1, random_state=0).to_parquet(path, index=False)
    with pytest.raises(ValidationFailed) as upload:
        check_predictions(predictions, frame, "row_id")

    with pytest.raises(ValidationFailed) as streamed:
        run_streaming_bias_audit(dataset, path, predictions_format="parquet", label="outcome", row_key="row_id",
                                 params=BiasAuditParams(sensitive_features=["sex"]), workdir=tmp_path,
                                 batch_rows=256, partition_rows=400)

    assert streamed.value.errors == upload.value.errors
    assert len(upload.value.errors["file"]) == (4 if damage == "all" else 1)
    assert not list((tmp_path / "streaming-join").glob("**/*"))  # the partitions are gone


def test_a_predictions_file_without_its_key_column_is_refused(tmp_path):
    frame = generate_cohort(500, seed=3).drop(columns=["risk_score"])
    dataset, _ = files(tmp_path, frame)
    path = tmp_path / "nokey.csv"
    frame[["prediction"]].to_csv(path, index=False)

    with pytest.raises(ValidationFailed) as refused:
        run_streaming_bias_audit(dataset, path, predictions_format="csv", label="outcome", row_key="row_id",
                                 params=BiasAuditParams(sensitive_features=["sex"]), workdir=tmp_path)

    assert refused.value.errors == {"file": ["a 'row_id' column identifying the dataset's rows is required"]}


def test_the_count_weighted_cross_check_equals_the_row_level_one(tmp_path):
    frame = generate_cohort(6_000, seed=12, bias=BiasSpec("sex", "F", 0.5)).drop(columns=["risk_score"])
    sensitive = ["sex", "age_band", "deprivation_quintile"]
    _, streamed, counts = both(tmp_path, frame, sensitive, intersections=True, n_boot=0)
    params = BiasAuditParams(sensitive_features=sensitive, intersections=True)
    cells, y_true, y_pred, weights = cell_table(counts, sensitive)

    weighted = fairlearn_crosscheck_counts(cells, y_true=y_true, y_pred=y_pred, weights=weights, result=streamed,
                                           rows=len(frame))
    row_level = fairlearn_crosscheck(pd.read_parquet(tmp_path / "data.parquet"), label="outcome", sensitive=sensitive,
                                     y_pred=frame["prediction"].to_numpy(), params=params, seed=0)

    assert weighted["max_abs_difference"] == row_level["max_abs_difference"] == 0.0
    assert weighted["values_compared"] == row_level["values_compared"] and weighted["metrics"] == row_level["metrics"]
    assert row_level["sample_rows"] == len(frame) and weights.sum() == len(frame) and len(cells) < len(frame) / 10
    # Fairlearn's own numbers agree too: weighted cells and rows give the same MetricFrame, bit for bit
    metrics = crosscheck.fairlearn_metrics()
    del metrics["count"]
    by_rows = MetricFrame(metrics=metrics, y_true=frame["outcome"], y_pred=frame["prediction"],
                          sensitive_features=frame[["sex", "age_band"]]).by_group
    weighted_metrics = {k: v for k, v in crosscheck.weighted_fairlearn_metrics().items() if k in metrics}
    by_cells = MetricFrame(metrics=weighted_metrics, y_true=y_true, y_pred=y_pred,
                           sensitive_features=cells[["sex", "age_band"]],
                           sample_params={m: {"sample_weight": weights} for m in weighted_metrics}).by_group
    pd.testing.assert_frame_equal(by_cells, by_rows, check_exact=True, check_dtype=False)


def test_the_count_weighted_cross_check_fails_when_a_count_is_wrong(tmp_path):
    frame = generate_cohort(3_000, seed=1).drop(columns=["risk_score"])
    _, streamed, counts = both(tmp_path, frame, ["sex", "age_band"], n_boot=0)
    cells, y_true, y_pred, weights = cell_table(counts, ["sex", "age_band"])
    tampered = json.loads(json.dumps(streamed))
    tampered["features"][1]["groups"][0]["metrics"]["tpr"]["value"] += 1e-12

    with pytest.raises(CrossCheckFailed, match="age_band group 0 tpr"):
        fairlearn_crosscheck_counts(cells, y_true=y_true, y_pred=y_pred, weights=weights, result=tampered,
                                    rows=len(frame))


_PEAK = textwrap.dedent("""
    import json, resource, sys, tempfile
    from pathlib import Path
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    from audits.fairness import BiasAuditParams
    from audits.streaming import run_streaming_bias_audit

    def rss_kb():
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))

    directory, partition_rows = Path(sys.argv[1]), int(sys.argv[2])
    before = rss_kb()
    params = BiasAuditParams(sensitive_features=["sex", "age_band", "region"], intersections=True, n_boot=200)
    result, counts = run_streaming_bias_audit(directory / "data.parquet", directory / "pred.parquet",
                                              predictions_format="parquet", label="outcome", row_key="row_id",
                                              params=params, workdir=directory, partition_rows=partition_rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": result["n"], "added_mb": (peak - before) / 1024, "peak_mb": peak / 1024}))
""")

_WRITE = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    directory, n = Path(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(0)
    ages = np.array(["18-39", "40-59", "60-74", "75+"])
    regions = np.array([f"region {i:02d}" for i in range(18)])
    outcome = (rng.random(n) < 0.15).astype(np.int64)
    table = pa.table({"row_id": np.arange(n, dtype=np.int64) * 7 + 3, "sex": np.where(rng.random(n) < 0.52, "F", "M"),
                      "age_band": ages[rng.integers(0, 4, n)], "region": regions[rng.integers(0, 18, n)],
                      "outcome": outcome})
    pq.write_table(table, directory / "data.parquet", row_group_size=131_072)
    predictions = pa.table({"row_id": rng.permutation(n).astype(np.int64) * 7 + 3,
                            "prediction": (rng.random(n) < 0.2).astype(np.int64)})
    pq.write_table(predictions, directory / "pred.parquet", row_group_size=131_072)
""")


def _python(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def measure_peaks(tmp_path: Path, write: str, peak: str, sizes: tuple[int, ...]) -> dict[int, dict]:
    """For each size, ``write`` the files in one subprocess and stream them in another; what ``peak`` printed."""
    peaks = {}
    for rows in sizes:
        directory = tmp_path / str(rows)
        directory.mkdir()
        _python(write, str(directory), str(rows))
        peaks[rows] = json.loads(_python(peak, str(directory), "250000").strip().splitlines()[-1])
        assert peaks[rows]["rows"] == rows
    return peaks


def test_peak_memory_does_not_grow_with_the_number_of_rows(tmp_path):
    """Stream 750k then 3M rows (files written by another process): the peak the audit adds stays flat."""
    peaks = measure_peaks(tmp_path, _WRITE, _PEAK, (750_000, 3_000_000))
    small, large = peaks[750_000], peaks[3_000_000]
    assert large["peak_mb"] / small["peak_mb"] < 1.5, peaks
    assert large["added_mb"] / small["added_mb"] < 1.5, peaks  # measured: about 120 MB added at both sizes


def test_reading_a_file_batch_by_batch_holds_one_row_group_not_the_file(tmp_path):
    """pyarrow's pre-buffering keeps every row group's compressed chunks read so far for the reader's life
    (+1.2 GB at 100M rows); ``open_parquet`` reads without it, so what Arrow holds stays one row group's worth."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audits.tabular import open_parquet

    rng = np.random.default_rng(1)
    groups, group_rows = 40, 50_000
    table = pa.table({"key": rng.permutation(groups * group_rows).astype(np.int64),
                      "value": rng.integers(0, 2**62, groups * group_rows)})  # incompressible
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path, row_group_size=group_rows)
    one_group = table.slice(0, group_rows).nbytes
    del table

    def held_while_reading(parquet) -> int:
        start, most, rows = pa.total_allocated_bytes(), 0, 0
        for batch in parquet.iter_batches(batch_size=group_rows // 2, columns=["key", "value"]):
            rows += batch.num_rows
            most = max(most, pa.total_allocated_bytes() - start)
        assert rows == groups * group_rows
        return most

    assert held_while_reading(open_parquet(path)) < 4 * one_group
    assert held_while_reading(pq.ParquetFile(path)) > 10 * one_group  # the default this guards against
