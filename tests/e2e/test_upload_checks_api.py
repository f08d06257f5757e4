"""The column-wise dataset check and the array key comparison through the API: the former refusals, word for word."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from audits import tabular
from audits.synth import generate_cohort
from registry_db.errors import ValidationFailed
from tests.audits.test_identifiers import nir
from tests.audits.test_upload_checks import old_check_predictions
from tests.e2e.test_audits_api import DATASHEET, _rule_based_version
from tests.e2e.test_versions_api import assert_error

N = 300


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _dataset(client, headers, payload: bytes, filename: str):
    return client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data", data={
        "file": (io.BytesIO(payload), filename),
        "metadata": json.dumps({"name": "Cohorte", "label_column": "outcome", "sensitive_columns": ["sex", "region"],
                                "row_key": "row_id", "datasheet": DATASHEET})})


def test_a_parquet_dataset_checked_by_columns_refuses_a_hidden_identifier_and_is_then_accepted(live_client,
                                                                                             live_account):
    _, evaluator = live_account("evaluator")
    rng = np.random.default_rng(4)
    wide = generate_cohort(N, seed=30).assign(**{f"v{i:02d}": rng.integers(0, 9, N) for i in range(60)})
    hidden = wide.assign(v31=[nir(i, sep=" ") for i in range(N)])
    body = assert_error(_dataset(live_client, evaluator, _parquet(hidden), "c.parquet"), 422)
    assert len(body["errors"]["file"]) == 1 and body["errors"]["file"][0].startswith("column 'v31' ")
    assert "[nir]" in body["errors"]["file"][0]
    accepted = _dataset(live_client, evaluator, _parquet(wide), "c.parquet")
    assert accepted.status_code == 201, accepted.get_json()
    described = {c["name"]: c for c in accepted.get_json()["columns"]}
    assert accepted.get_json()["row_count"] == N and len(described) == len(wide.columns)
    assert described["row_id"]["distinct"] == N and described["sex"]["distinct"] == 2


def test_hostile_predictions_get_the_former_refusals_on_parquet_and_csv(live_client, live_account, tmp_path):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(N, seed=31)
    created = _dataset(live_client, evaluator, _parquet(frame), "c.parquet")
    assert created.status_code == 201, created.get_json()
    good = frame[["row_id", "prediction"]].assign(score=frame["risk_score"]).iloc[::-1]
    cases = {
        "missing and duplicated": pd.concat([good.iloc[4:], good.iloc[4:6]]),
        "keys as text": good.assign(row_id=[f"k{k}" for k in good["row_id"]]),
        "NaN keys": good.assign(row_id=[np.nan, np.nan, *list(good["row_id"].iloc[2:])]),
        "extra rows": pd.concat([good, good.iloc[:3].assign(row_id=[N, N + 1, N + 2])]),
        "predictions 2, -1, NaN": good.assign(prediction=[2, -1, np.nan] + [0] * (N - 3)),
        "scores out of range": good.assign(score=[1.5, -0.1, np.nan] + [0.5] * (N - 3)),
    }
    checked = 0
    for name, table in cases.items():
        for fmt, payload in (("parquet", _parquet(table)), ("csv", table.to_csv(index=False).encode())):
            (tmp_path / f"p.{fmt}").write_bytes(payload)
            uploaded = tabular.read_table(tmp_path / f"p.{fmt}", fmt)
            try:
                old_check_predictions(uploaded, frame, "row_id")
                raise AssertionError(f"{name} was accepted by the former check")
            except ValidationFailed as former:
                expected = former.errors
            response = live_client.post("/api/v1/predictions", headers=evaluator, content_type="multipart/form-data",
                                        data={"file": (io.BytesIO(payload), f"p.{fmt}"), "metadata": json.dumps({
                                            "dataset": created.get_json()["id"], "algorithm": slug,
                                            "version": "1.0.0"})})
            assert assert_error(response, 422)["errors"] == expected, (name, fmt)
            checked += 1
    assert checked == 12
    accepted = live_client.post("/api/v1/predictions", headers=evaluator, content_type="multipart/form-data", data={
        "file": (io.BytesIO(_parquet(good)), "p.parquet"),
        "metadata": json.dumps({"dataset": created.get_json()["id"], "algorithm": slug, "version": "1.0.0"})})
    assert accepted.status_code == 201, accepted.get_json()
