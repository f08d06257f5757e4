"""Datasets stored as Parquet in bounded row groups whatever the upload format, through the API, on both databases."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from audits import tabular
from audits.synth import BiasSpec, generate_cohort
from registry_db.blobs import sha256_file
from tests.e2e.test_audits_api import DATASHEET, _csv, _rule_based_version, upload_dataset, upload_predictions
from tests.e2e.test_versions_api import assert_error

BOUND = tabular.ROW_GROUP_ROWS


@pytest.fixture
def settings(settings):
    """Room for a table one row group past the bound (about 20 MB of CSV)."""
    return dataclasses.replace(settings, max_upload_bytes=64 * 1024 * 1024)


def _post(client, headers, payload: bytes, filename: str, **meta):
    metadata = {"name": "Cohorte", "label_column": "outcome", "sensitive_columns": ["sex", "region"],
                "row_key": "row_id", "datasheet": DATASHEET, **meta}
    return client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(payload), filename), "metadata": json.dumps(metadata)})


def _parquet(frame, row_group_size: int) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, row_group_size=row_group_size)
    return buffer.getvalue()


def _stored(live, body):
    """The stored file of a dataset, checked against the digest and size the API gave."""
    path = live.extensions["boas"].storage.blobs.verified_path(body["sha256"], body["size"])
    assert sha256_file(path) == (body["sha256"], body["size"])
    return path


def _row_groups(path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def _blob_files(live) -> list:
    return [p for p in (live.extensions["boas"].settings.data_dir / "blobs").rglob("*") if p.is_file()]


def _staged(live) -> list:
    return list(live.extensions["boas"].storage.blobs.tmp_root.iterdir())


def _varied_cohort(rows: int, seed: int) -> pd.DataFrame:
    """The synthetic cohort with more of what a CSV reader types: awkward floats, true/false, unsigned 64-bit."""
    rng = np.random.default_rng(seed)
    frame = generate_cohort(rows, seed=seed)
    frame["weight"] = rng.normal(70, 12, rows) / 3  # floats whose decimal form is long
    frame["insured"] = rng.random(rows) < 0.8  # read back as bool
    frame["tariff"] = np.where(rng.random(rows) < 0.5, 2**63 + 11, 7).astype("uint64")  # past int64: uint64
    frame.loc[frame.index % 97 == 0, "weight"] = np.nan
    return frame


def test_a_csv_upload_is_stored_as_parquet_in_bounded_row_groups_with_its_original_digest(live_client, live_account,
                                                                                        live, tmp_path):
    _, evaluator = live_account("evaluator")
    frame = _varied_cohort(BOUND + 1_000, seed=3)
    payload = frame.to_csv(index=False, sep=";").encode()
    response = _post(live_client, evaluator, payload, "cohort.csv")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["format"] == "parquet" and body["original_format"] == "csv"
    assert body["original_sha256"] == hashlib.sha256(payload).hexdigest() and body["original_size"] == len(payload)
    assert body["sha256"] != body["original_sha256"] and body["row_count"] == BOUND + 1_000
    assert live_client.get(f"/api/v1/datasets/{body['id']}", headers=evaluator).get_json() == body
    stored = _stored(live, body)
    assert stored.read_bytes()[:4] == b"PAR1"
    assert _row_groups(stored) == [BOUND, 1_000]
    assert _blob_files(live) == [stored] and not _staged(live)  # the CSV itself is not kept

    # Read back, the stored file is the table the CSV reader gave: same columns, dtypes and values
    uploaded = tmp_path / "cohort.csv"
    uploaded.write_bytes(payload)
    as_csv, as_stored = tabular.read_table(uploaded, "csv"), tabular.read_table(stored, "parquet")
    assert str(as_csv["tariff"].dtype) == "uint64" and str(as_csv["insured"].dtype) == "bool"
    pd.testing.assert_frame_equal(as_stored, as_csv, check_exact=True)
    assert tabular.describe_table(as_stored, "parquet").columns == body["columns"]


def test_a_parquet_upload_with_an_oversized_row_group_is_rewritten(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    frame = generate_cohort(BOUND + 1_000, seed=4)
    frame["sex"] = frame["sex"].astype("category")
    payload = _parquet(frame, row_group_size=len(frame))
    response = _post(live_client, evaluator, payload, "cohort.parquet")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["format"] == body["original_format"] == "parquet"
    assert body["original_sha256"] == hashlib.sha256(payload).hexdigest() != body["sha256"]
    stored = _stored(live, body)
    assert max(_row_groups(stored)) <= BOUND and sum(_row_groups(stored)) == len(frame)
    original = live.extensions["boas"].settings.data_dir / "original.parquet"
    original.write_bytes(payload)
    pd.testing.assert_frame_equal(tabular.read_table(stored, "parquet"), tabular.read_table(original, "parquet"),
                                  check_exact=True)


def test_a_conforming_parquet_upload_is_stored_as_it_is(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    payload = _parquet(generate_cohort(5_000, seed=5), row_group_size=2_000)
    response = _post(live_client, evaluator, payload, "cohort.parquet")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["sha256"] == body["original_sha256"] == hashlib.sha256(payload).hexdigest()
    assert body["size"] == body["original_size"] == len(payload) and body["format"] == "parquet"
    assert _stored(live, body).read_bytes() == payload


def test_a_csv_whose_columns_parquet_cannot_hold_exactly_is_stored_as_uploaded(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    frame = generate_cohort(500, seed=6)
    frame["screened"] = np.where(frame.index % 3 == 0, None, frame.index % 2 == 0)  # true/false with gaps: object
    payload = _csv(frame)
    response = _post(live_client, evaluator, payload, "cohort.csv")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["format"] == body["original_format"] == "csv"
    assert body["sha256"] == body["original_sha256"] == hashlib.sha256(payload).hexdigest()
    assert _stored(live, body).read_bytes() == payload


def test_an_audit_gives_the_same_numbers_from_the_csv_and_from_the_parquet_it_was_stored_as(live_client,
                                                                                           live_account):
    """The same cohort audited from a dataset kept as CSV (the path every CSV took before) and from one stored
    as Parquet: the CSV one carries an extra column Parquet cannot hold exactly, so it stays CSV."""
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(3_000, seed=8, bias=BiasSpec("sex", "F", 0.5))
    frame["risk_score"] = frame["risk_score"] / 3  # scores whose decimal form is long
    kept_csv = frame.assign(screened=np.where(frame.index % 3 == 0, None, frame.index % 2 == 0))
    jobs = {}
    for name, table in (("csv", kept_csv), ("parquet", frame)):
        dataset = upload_dataset(live_client, evaluator, table).get_json()
        assert dataset["format"] == name and dataset["original_format"] == "csv"
        predictions = upload_predictions(live_client, evaluator, dataset["id"], slug, frame)
        assert predictions.status_code == 201, predictions.get_json()
        launched = live_client.post("/api/v1/audits", headers=evaluator, json={
            "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
            "predictions": predictions.get_json()["id"], "sensitive_features": ["sex", "deprivation_quintile"],
            "intersections": True, "n_boot": 100, "seed": 3})
        assert launched.status_code == 202, launched.get_json()
        job = live_client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
        assert job["status"] == "succeeded", job["error"]
        assert job["provenance"]["engine"]["mode"] == "in-memory" and job["cached_from"] is None
        jobs[name] = job
    assert jobs["csv"]["result"] == jobs["parquet"]["result"]
    assert jobs["parquet"]["result"]["scores"]["calibration"]["status"] == "computed"
    assert ("sex", "M") in {(f["feature"], f["group"]) for f in jobs["parquet"]["result"]["verdicts"]["failed"]}


def test_a_refused_csv_leaves_nothing_behind(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    frame = generate_cohort(BOUND + 1_000, seed=9).assign(nom=["Martin"] * (BOUND + 1_000))
    body = assert_error(_post(live_client, evaluator, _csv(frame), "cohort.csv"), 422)
    assert any("'nom'" in message for message in body["errors"]["file"])
    assert live_client.get("/api/v1/datasets", headers=evaluator).get_json() == []
    assert not _blob_files(live) and not _staged(live)
