"""A drift job on large Parquet datasets: verdicts from every row, Evidently's report from a sample that it states.

Through the API and the real (in-process) queue, on both databases; the job page read in French and English.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import uuid

import pandas as pd
import pytest

from audits import drift_stream
from audits.drift_stream import stream_drift
from audits.synth import generate_cohort
from boas.registry import accounts
from tests.e2e.test_audits_api import DATASHEET, upload_dataset
from tests.pages.conftest import sign_in
from tests.pages.content import PASSWORD

ROWS = 24_000
SAMPLE = 6_000
COLUMNS = ["age", "deprivation_quintile", "diabetes", "hypertension", "sex", "region"]


@pytest.fixture
def settings(settings):
    """Datasets of 1,000 rows or more stream: forces the path the default keeps for 2,000,000 rows and more."""
    return dataclasses.replace(settings, streaming_min_rows=1_000)


@pytest.fixture
def small_sample(monkeypatch):
    """Evidently's sample at 6,000 rows, so that 24,000-row datasets are sampled as a large one would be."""
    monkeypatch.setattr(drift_stream, "SAMPLE_ROWS", SAMPLE)


def _upload_parquet(client, headers, frame, name):
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, row_group_size=4_000)
    metadata = {"name": name, "label_column": "outcome", "sensitive_columns": ["sex", "region"],
                "row_key": "row_id", "datasheet": DATASHEET}
    return client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(buffer.getvalue()), "cohort.parquet"),
                             "metadata": json.dumps(metadata)})


def _cohorts() -> tuple[pd.DataFrame, pd.DataFrame]:
    reference, current = generate_cohort(ROWS, seed=51), generate_cohort(ROWS, seed=52)
    current["age"] = (current["age"] + 12).clip(upper=99)
    return reference, current


def test_a_large_drift_job_streams_and_its_report_states_the_sample(live, live_client, live_account, small_sample,
                                                                    tmp_path):
    email = f"evaluator-{uuid.uuid4().hex[:8]}@example.org"
    with live.extensions["boas"].session_factory() as s:
        accounts.create_user(s, None, email=email, role="evaluator", name="evaluateur", bootstrap=True,
                             password=PASSWORD)
        evaluator = {"Authorization": f"Bearer {accounts.create_token(s, None, user_email=email, bootstrap=True).secret}"}
    reference, current = _cohorts()
    ref = _upload_parquet(live_client, evaluator, reference, "Référence").get_json()
    cur = _upload_parquet(live_client, evaluator, current, "Nouveau site").get_json()
    assert ref["format"] == cur["format"] == "parquet" and ref["row_count"] == ROWS

    launched = live_client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "drift", "dataset": ref["id"], "current_dataset": cur["id"]})
    assert launched.status_code == 202, launched.get_json()
    job = live_client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
    assert job["status"] == "succeeded", job["error"]

    result, engine = job["result"], job["provenance"]["engine"]
    assert result["mode"] == "streaming" and engine["mode"] == "streaming"
    assert engine["sample"] == {"reference_rows": SAMPLE, "current_rows": SAMPLE, "strata": "row groups",
                                "seed": drift_stream.SAMPLE_SEED}
    assert result["sample"]["reference_total"] == result["sample"]["current_total"] == ROWS
    # the columns the runner chose: every shared one but the row key and the label
    assert job["provenance"]["skipped_columns"] == {"outcome": "row key or label", "row_id": "row key or label"}
    names = [c["column"] for c in result["columns"]]
    assert "age" in names and "outcome" not in names
    # the verdicts are those of the streaming tests on the same rows, every one of them
    paths = [tmp_path / "r.parquet", tmp_path / "c.parquet"]
    for frame, path in zip((reference, current), paths, strict=True):
        frame.to_parquet(path, index=False)
    direct = stream_drift(*paths, columns=names).summary
    assert [(c["column"], c["method"], c["drifted"], c["drifted_any"]) for c in result["columns"]] == [
        (c["column"], c["method"], c["drifted"], c["drifted_any"]) for c in direct["columns"]]
    assert {c["column"] for c in result["columns"] if c["drifted_any"]} == {"age"}
    assert result["dataset_drifted"] is False
    # Evidently's decisions on the sample, beside: they agree here
    assert all(c["sample"]["drifted_any"] == c["drifted_any"] for c in result["columns"])
    assert result["sample"]["columns_agreeing"] == result["sample"]["columns_compared"] == len(names)

    report = live_client.get(f"/api/v1/audits/{job['id']}/report", headers=evaluator).get_data(as_text=True)
    assert "6,000 of the 24,000 reference rows and 6,000 of the 24,000 current rows" in report
    assert "6\u202f000 des 24\u202f000 lignes de référence" in report
    assert "window.drawDashboard(" in report

    browser = live.test_client()
    assert sign_in(browser, email).status_code == 303
    english = html.unescape(browser.get(f"/en/workspace/jobs/{job['id']}").get_data(as_text=True))
    french = html.unescape(browser.get(f"/fr/workspace/jobs/{job['id']}").get_data(as_text=True))
    assert "computed on all rows: 24,000 reference and 24,000 current rows" in english
    assert "stratified random sample of 6,000 and 6,000 rows" in english
    assert f"agree with the full data on {len(names)} of {len(names)} columns" in english
    assert "calculé sur toutes les lignes\u00a0: 24\u202f000 lignes de référence" in french
    assert f"pour {len(names)} colonnes sur {len(names)}" in french
    assert "within its error bound" not in english  # every decision here is far from its threshold

    # a decision left within its bound after the refinements is named on the page (the stored result edited)
    from registry_db import store

    with live.extensions["boas"].session_factory() as s:
        stored = store.get_job(s, job["id"])
        edited = json.loads(json.dumps(stored.result))
        next(c for c in edited["columns"] if c["column"] == "age")["decision_certain"] = False
        stored.result = edited
        s.commit()
    english = html.unescape(browser.get(f"/en/workspace/jobs/{job['id']}").get_data(as_text=True))
    french = html.unescape(browser.get(f"/fr/workspace/jobs/{job['id']}").get_data(as_text=True))
    assert "The score of age, computed from fine histograms, is within its error bound" in english
    assert "Le score de âge, calculé à partir d’histogrammes fins" in french  # the column's French label
    assert "pourrait aller dans un sens comme dans l’autre" in french


def test_a_small_drift_job_stays_in_memory_with_no_sample(live_client, live_account):
    _, evaluator = live_account("evaluator")
    reference, current = generate_cohort(600, seed=1), generate_cohort(600, seed=2)
    ref = upload_dataset(live_client, evaluator, reference).get_json()
    cur = upload_dataset(live_client, evaluator, current, name="Nouveau site").get_json()
    job = live_client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "drift", "dataset": ref["id"], "current_dataset": cur["id"], "columns": COLUMNS}).get_json()
    job = live_client.get(f"/api/v1/audits/{job['id']}", headers=evaluator).get_json()

    assert job["status"] == "succeeded", job["error"]
    assert "sample" not in job["result"] and "mode" not in job["result"]
    assert job["provenance"]["engine"] == {"name": "evidently", "version": job["result"]["evidently_version"]}
