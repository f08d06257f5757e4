"""A bias-audit job on the streaming engine, through the API and the real (in-process) queue, on both databases."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from audits.crosscheck import WEIGHTED_METHOD
from audits.fairness import BiasAuditParams, run_bias_audit
from audits.synth import BiasSpec, generate_cohort
from tests.e2e.test_audits_api import DATASHEET, _rule_based_version, upload_dataset, upload_predictions

ROWS = 4_000


@pytest.fixture
def unreachable_dask() -> str:
    """A scheduler address nothing listens on."""
    from tests.audits.test_distributed import _closed_port

    return f"tcp://127.0.0.1:{_closed_port()}"


@pytest.fixture
def settings(settings, request):
    """Datasets of 1,000 rows or more stream: forces the path the default keeps for 2,000,000 rows and more."""
    streaming = dataclasses.replace(settings, streaming_min_rows=1_000)
    if "unreachable_dask" in request.fixturenames:
        return dataclasses.replace(streaming, dask_scheduler=request.getfixturevalue("unreachable_dask"),
                                   dask_connect_seconds=2.0)
    return streaming


def _upload_parquet(client, headers, frame):
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, row_group_size=1_000)
    metadata = {"name": "Cohorte parquet", "label_column": "outcome", "sensitive_columns": ["sex", "region"],
                "row_key": "row_id", "datasheet": DATASHEET}
    return client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(buffer.getvalue()), "cohort.parquet"),
                             "metadata": json.dumps(metadata)})


def _without_scores(groups: list[dict]) -> list[dict]:
    return [{k: v for k, v in group.items() if k not in ("roc_auc", "calibration")} for group in groups]


def test_a_large_parquet_dataset_is_audited_streaming_with_the_in_memory_numbers(live_client, live_account):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(ROWS, seed=17, bias=BiasSpec("sex", "F", 0.5))
    streamed_ds = _upload_parquet(live_client, evaluator, frame)
    assert streamed_ds.status_code == 201, streamed_ds.get_json()
    converted_ds = upload_dataset(live_client, evaluator, frame)  # the same rows as CSV: stored as Parquet, streamed
    # The same rows as CSV with a true/false column with gaps, which Parquet would not give back as it was: the
    # dataset stays CSV, and is audited in memory (tests/e2e/test_dataset_storage.py)
    in_memory_ds = upload_dataset(live_client, evaluator,
                                  frame.assign(screened=[None if i % 3 == 0 else i % 2 == 0 for i in range(ROWS)]))
    assert in_memory_ds.get_json()["format"] == "csv" and converted_ds.get_json()["format"] == "parquet"
    jobs = {}
    for name, dataset in (("streaming", streamed_ds.get_json()), ("converted", converted_ds.get_json()),
                          ("in-memory", in_memory_ds.get_json())):
        predictions = upload_predictions(live_client, evaluator, dataset["id"], slug, frame)  # CSV, with scores
        assert predictions.status_code == 201, predictions.get_json()
        launched = live_client.post("/api/v1/audits", headers=evaluator, json={
            "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
            "predictions": predictions.get_json()["id"], "sensitive_features": ["sex", "age_band"],
            "intersections": True, "n_boot": 200, "seed": 4})
        assert launched.status_code == 202, launched.get_json()
        jobs[name] = live_client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
        assert jobs[name]["status"] == "succeeded", jobs[name]["error"]
    streamed, in_memory = jobs["streaming"], jobs["in-memory"]
    converted = jobs["converted"]["provenance"]["engine"]
    assert converted["mode"] == "streaming" and converted["row_groups"] == 1 and converted["row_group_rows"] == ROWS
    assert jobs["converted"]["result"] == streamed["result"]

    engine = streamed["provenance"]["engine"]
    assert engine["mode"] == "streaming" and in_memory["provenance"]["engine"]["mode"] == "in-memory"
    assert engine["name"] == "boas-audit-engine" and engine["row_group_rows"] == 1_000 and engine["row_groups"] == 4
    assert engine["batch_rows"] > 0 and engine["partitions"] == 1 and engine["executor"] == "local"
    assert "scheduler" not in engine and "workers" not in engine
    check = streamed["provenance"]["crosscheck"]
    assert check["method"] == WEIGHTED_METHOD and check["max_abs_difference"] == 0.0 and check["rows"] == ROWS
    assert check["weighted_rows"] < ROWS / 10
    # Scores were uploaded: the streaming engine computed the score metrics from histograms, saying so
    ours, theirs = streamed["result"]["scores"], in_memory["result"]["scores"]
    assert "scores_skipped" not in streamed["result"] and "scores_skipped" not in in_memory["result"]
    assert ours["method"] == "histogram" and ours["resolution"] == 0.001 and "method" not in theirs
    assert streamed["provenance"]["scores"] == {"method": "histogram", "resolution": 0.001,
                                                "cells": ours["histogram"]["cells"]}
    assert ours["thresholds"] == theirs["thresholds"] and ours["calibration"]["status"] == "computed"
    for mine, exact in zip([ours["overall"], *(g for f in ours["features"] for g in f["groups"])],
                           [theirs["overall"], *(g for f in theirs["features"] for g in f["groups"])], strict=True):
        assert mine.get("group") == exact.get("group")
        assert (mine["count"], mine["positives"], mine["sweep"]) == (exact["count"], exact["positives"], exact["sweep"])
        assert abs(mine["roc"]["auc"] - exact["roc"]["auc"]) <= mine["roc"]["error_bound"] + 1e-12
        assert abs(mine["ece"]["value"] - exact["ece"]["value"]) <= mine["ece"]["error_bound"] + 1e-9

    # Counts, intervals, extremes and verdicts: identical on both paths (score summaries aside)
    assert streamed["result"]["verdicts"] == in_memory["result"]["verdicts"]
    assert [f["name"] for f in streamed["result"]["features"]] == ["sex", "age_band", "sex×age_band"]
    for ours, theirs in zip(streamed["result"]["features"], in_memory["result"]["features"], strict=True):
        assert _without_scores(ours["groups"]) == _without_scores(theirs["groups"])
        assert {k: v for k, v in ours.items() if k != "groups"} == {k: v for k, v in theirs.items() if k != "groups"}
    # ... and equal to the engine run on the rows directly, without scores
    expected = run_bias_audit(frame, label="outcome", sensitive=["sex", "age_band"],
                              y_pred=frame["prediction"].to_numpy(), y_score=None,
                              params=BiasAuditParams(sensitive_features=["sex", "age_band"], intersections=True,
                                                     n_boot=200, seed=4))
    assert streamed["result"]["features"] == json.loads(json.dumps(expected["features"]))
    failed = {(f["feature"], f["group"]) for f in streamed["result"]["verdicts"]["failed"]}
    assert ("sex", "M") in failed  # F is the reference (the larger group): the injected bias shows against it



def test_an_unreachable_dask_scheduler_fails_the_job_with_a_message_naming_it(live_client, live_account,
                                                                              unreachable_dask):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(1_500, seed=3)
    dataset = _upload_parquet(live_client, evaluator, frame).get_json()
    predictions = upload_predictions(live_client, evaluator, dataset["id"], slug, frame).get_json()
    launched = live_client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
        "predictions": predictions["id"], "sensitive_features": ["sex"], "n_boot": 50})
    assert launched.status_code == 202, launched.get_json()
    job = live_client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"].startswith(f"the Dask scheduler at {unreachable_dask} did not answer within 2 s")
