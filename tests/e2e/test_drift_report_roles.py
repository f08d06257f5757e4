"""Who sees which drift report: admins the report as computed, evaluators and owners its coarsened copy.

Each served report is parsed (``disclosures``): for evaluators and the algorithm's owners no number
equals a minimum or maximum of a numeric column and no bin or category counts fewer than 11 people;
the admin's report still shows them (so the check has teeth). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd

from audits.synth import generate_cohort
from boas.registry import accounts
from tests.audits.test_drift_report import disclosures, report_data
from tests.e2e.test_audits_api import _csv, _rule_based_version, upload_dataset
from tests.e2e.test_versions_api import assert_error

NUMERIC = ["age", "deprivation_quintile"]
PASSWORD = "correct horse battery staple"


def test_each_role_gets_its_report_and_only_admins_see_extremes_or_small_bins(live, live_client, live_account):
    _, admin = live_account("admin")
    _, evaluator = live_account("evaluator")
    author_user, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    reference = generate_cohort(400, seed=71)
    current = generate_cohort(250, seed=72)
    current["age"] = (current["age"] + 9).clip(upper=99)
    ref = upload_dataset(live_client, evaluator, reference).get_json()
    cur = upload_dataset(live_client, evaluator, current, name="Nouveau site").get_json()
    predictions = live_client.post("/api/v1/predictions", headers=evaluator, content_type="multipart/form-data",
                                   data={"file": (io.BytesIO(reference[["row_id", "prediction"]].to_csv(index=False)
                                                             .encode()), "predictions.csv"),
                                         "metadata": json.dumps({"dataset": ref["id"], "algorithm": slug,
                                                                 "version": "1.0.0"})}).get_json()
    columns = ["age", "deprivation_quintile", "sex", "region"]
    job = live_client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "drift", "algorithm": slug, "version": "1.0.0", "dataset": ref["id"], "current_dataset": cur["id"],
        "predictions": predictions["id"], "columns": columns}).get_json()
    job = live_client.get(f"/api/v1/audits/{job['id']}", headers=evaluator).get_json()
    assert job["status"] == "succeeded", job["error"]
    frames = [pd.read_csv(io.BytesIO(_csv(f))) for f in (reference, current)]  # the data as the job read it

    served = {}
    for role, headers in (("admin", admin), ("evaluator", evaluator), ("owner", author)):
        response = live_client.get(f"/api/v1/audits/{job['id']}/report", headers=headers)
        assert response.status_code == 200 and response.mimetype == "text/html", role
        assert "sandbox" in response.headers["Content-Security-Policy"]
        served[role] = response.get_data(as_text=True)
    raw = disclosures(served["admin"], frames, NUMERIC)
    assert {float(frames[0]["age"].min()), float(frames[0]["age"].max())} <= {v for _w, v in raw["extremes"]}
    assert raw["small_counts"], "400 people over 18 regions: some regions hold fewer than 11"
    for role in ("evaluator", "owner"):
        found = disclosures(served[role], frames, NUMERIC)
        assert found["extremes"] == [] and found["small_counts"] == [], (role, found)
        assert len(found["distributions"]) == 2 * len(columns) and report_data(served[role])[1] == {}
    assert served["evaluator"] == served["owner"]

    # the public never gets a report; a stranger neither
    assert_error(live_client.get(f"/api/v1/audits/{job['id']}/report"), 404)
    _, stranger = live_account("author")
    assert_error(live_client.get(f"/api/v1/audits/{job['id']}/report", headers=stranger), 404)

    # the pages serve the same: the owner's frame is the coarsened report, with a note saying so
    with live.extensions["boas"].session_factory() as s:
        accounts.set_password(s, None, author_user.id, PASSWORD, bootstrap=True)
    client = live.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/en/login").get_data(as_text=True)).group(1)
    assert client.post("/en/login", data={"email": author_user.email, "password": PASSWORD,
                                          "csrf_token": token}).status_code == 303
    page = client.get(f"/en/workspace/jobs/{job['id']}").get_data(as_text=True)
    assert "Coarsened report" in page and f"/workspace/jobs/{job['id']}/report" in page
    framed = client.get(f"/en/workspace/jobs/{job['id']}/report").get_data(as_text=True)
    assert framed == served["owner"]
