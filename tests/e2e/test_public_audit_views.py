"""Public audit views over HTTP: frozen once, consistent across audits and versions of one dataset, attack-proof.

The attack (tests/audits/attack.py) runs on the JSON an anonymous client receives; which audits share
predictions it learns from the public provenance, exactly as a reader would.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile

import numpy as np

from audits import service as audit_service
from audits.synth import generate_cohort
from registry_db import store
from tests.audits.attack import Attack, View, masked_numbers_in_text, per_group_attack, recovered
from tests.e2e.test_audits_api import upload_dataset, upload_predictions
from tests.factories import create_algorithm, upload_version

K = 11


def _cohort(rows: int, seed: int):
    rng = np.random.default_rng(seed)
    frame = generate_cohort(rows, seed=seed)
    rare = np.zeros(rows, dtype=bool)
    rare[rng.choice(rows, 7, replace=False)] = True
    frame["cmu"] = np.where(rare, "oui", "non")
    second = np.clip(frame["risk_score"].to_numpy() * np.exp(rng.normal(0, 0.5, rows)), 0, 1)
    return frame, frame.assign(prediction=(second >= 0.2).astype(int), risk_score=second)


def _two_versions(client, author):
    algo = create_algorithm(client, author, kind="rule_based", language="sas",
                            code_repository_url="https://gitlab.example.org/snds/hosp", code_commit="abcdef1")
    for version in ("1.0.0", "1.1.0"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("ciblage.sas", f"/* {version} */ data cible; set cohort; run;")
        response = upload_version(client, author, algo["slug"], version, buf.getvalue(), field="code",
                                  filename="code.zip")
        assert response.status_code == 201, response.get_json()
    return algo["slug"]


def _launch(client, evaluator, slug, version, dataset, predictions, features, intersections=True):
    response = client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": slug, "version": version, "dataset": dataset, "predictions": predictions,
        "sensitive_features": features, "intersections": intersections, "n_boot": 20, "seed": 3})
    assert response.status_code == 202, response.get_json()
    job = client.get(f"/api/v1/audits/{response.get_json()['id']}", headers=evaluator).get_json()
    assert job["status"] == "succeeded", job
    return job


def _publish(client, author, slug, version):
    response = client.post(f"/api/v1/algorithms/{slug}/versions/{version}/publish", headers=author)
    assert response.status_code == 200, response.get_json()


def test_public_views_of_one_dataset_resist_the_attack_over_http(live_client, live_account):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    _, admin = live_account("admin")
    slug = _two_versions(live_client, author)
    frame, frame_v2 = _cohort(1800, seed=8)
    dataset = upload_dataset(live_client, evaluator, frame).get_json()
    pred_v1 = upload_predictions(live_client, evaluator, dataset["id"], slug, frame, "1.0.0").get_json()
    pred_v2 = upload_predictions(live_client, evaluator, dataset["id"], slug, frame_v2, "1.1.0").get_json()

    _publish(live_client, author, slug, "1.0.0")  # released first: its audits are frozen by the worker
    jobs = [_launch(live_client, evaluator, slug, "1.0.0", dataset["id"], pred_v1["id"], ["sex", "region"]),
            _launch(live_client, evaluator, slug, "1.0.0", dataset["id"], pred_v1["id"], ["age_band", "cmu", "sex"]),
            _launch(live_client, evaluator, slug, "1.0.0", dataset["id"], pred_v1["id"], ["region"], False),
            _launch(live_client, evaluator, slug, "1.1.0", dataset["id"], pred_v2["id"], ["region", "sex"])]
    assert live_client.get(f"/api/v1/audits/{jobs[3]['id']}").status_code == 404  # 1.1.0 is still a draft
    first_views = {j["id"]: live_client.get(f"/api/v1/audits/{j['id']}").get_json() for j in jobs[:3]}
    _publish(live_client, author, slug, "1.1.0")  # its audit is frozen on its first public read, after the others

    public = [live_client.get(f"/api/v1/audits/{j['id']}").get_json() for j in jobs]
    full = [live_client.get(f"/api/v1/audits/{j['id']}", headers=evaluator).get_json() for j in jobs]
    assert all(p["view"] == "public" for p in public) and all(f["view"] == "full" for f in full)
    assert all("cells" in f["result"]["overall"] and "cells" not in p["result"]["overall"]
               for p, f in zip(public, full, strict=True))
    for job_id, view in first_views.items():  # frozen: later public audits of the dataset change nothing
        assert live_client.get(f"/api/v1/audits/{job_id}").get_json()["result"] == view["result"]

    views = [View(p["result"], p["provenance"]["predictions"]["sha256"]) for p in public]
    assert len({v.predictions for v in views}) == 2  # two versions: two prediction vectors
    findings = Attack(views).run([f["result"] for f in full], K)
    assert findings and recovered(findings) == []
    assert [f for f in findings if f.high < K - 1e-6 or f.low > 1e-6] == []
    for view, truth in zip(views, full, strict=True):
        assert masked_numbers_in_text(view.public, truth["result"], K) == []
        assert per_group_attack(view.public, K) == []

    listed = live_client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/audits").get_json()
    assert {a["id"]: a["result"] for a in listed} == {p["id"]: p["result"] for p in public[:3]}

    again = live_client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
        "predictions": pred_v1["id"], "sensitive_features": ["sex", "region"], "intersections": True, "n_boot": 20,
        "seed": 3}).get_json()
    assert again["cached_from"] == jobs[0]["id"]
    assert live_client.get(f"/api/v1/audits/{again['id']}").get_json()["result"] == public[0]["result"]

    events = live_client.get("/api/v1/audit-log?action=audit.public_view_frozen&per_page=50", headers=admin).get_json()
    frozen = {int(e["object_ref"]): e["details"] for e in events["items"]}
    assert set(frozen) == {j["id"] for j in jobs}  # the cached audit froze nothing of its own
    assert set(frozen[jobs[3]["id"]]["with_views"]) == {j["id"] for j in jobs[:3]}
    assert frozen[jobs[0]["id"]]["with_views"] == []


def test_concurrent_freezes_of_one_dataset_never_miss_each_other(live, live_client, live_account):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _two_versions(live_client, author)
    frame, frame_v2 = _cohort(1500, seed=9)
    dataset = upload_dataset(live_client, evaluator, frame).get_json()
    pred_v1 = upload_predictions(live_client, evaluator, dataset["id"], slug, frame, "1.0.0").get_json()
    pred_v2 = upload_predictions(live_client, evaluator, dataset["id"], slug, frame_v2, "1.1.0").get_json()
    jobs = [_launch(live_client, evaluator, slug, "1.0.0", dataset["id"], pred_v1["id"], ["sex", "age_band", "region"]),
            _launch(live_client, evaluator, slug, "1.1.0", dataset["id"], pred_v2["id"], ["sex", "age_band", "region"])]
    factory = live.extensions["boas"].session_factory
    start, errors = threading.Barrier(2), []

    def freeze(job_id: int) -> None:
        try:
            with factory() as session:
                start.wait()
                audit_service.freeze_public_views(session, [job_id])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=freeze, args=(j["id"],)) for j in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    with factory() as session:
        rows = sorted((store.get_job(session, j["id"]) for j in jobs), key=lambda r: (r.public_frozen_at, r.id))
        assert all(r.public_frozen_at is not None for r in rows)
        later = next(e for e in store.list_events(session, action="audit.public_view_frozen", object_ref=str(rows[1].id),
                                                  page=1, per_page=5)[0])
        assert later.details["with_views"] == [rows[0].id]  # the second freeze saw the first
        views = [View(r.public_result, (r.provenance or {})["predictions"]["sha256"]) for r in rows]
        truth = [r.result for r in rows]
    findings = Attack(views).run(truth, K)
    assert recovered(findings) == [] and [f for f in findings if f.high < K - 1e-6 or f.low > 1e-6] == []


def test_public_card_page_shows_the_size_of_partly_published_groups_and_masks_their_rates(live_client, live_account):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _two_versions(live_client, author)
    frame, _ = _cohort(3000, seed=10)
    dataset = upload_dataset(live_client, evaluator, frame).get_json()
    pred = upload_predictions(live_client, evaluator, dataset["id"], slug, frame, "1.0.0").get_json()
    job = _launch(live_client, evaluator, slug, "1.0.0", dataset["id"], pred["id"], ["region"], False)
    _publish(live_client, author, slug, "1.0.0")
    public = live_client.get(f"/api/v1/audits/{job['id']}").get_json()["result"]
    partial = [g for g in public["features"][0]["groups"]
               if g["count"] is not None and g["metrics"]["tpr"]["value"] is None]
    hidden = [g for g in public["features"][0]["groups"] if g["count"] is None]
    assert partial and hidden, "the fixture should have partly published and hidden regions"
    page = live_client.get(f"/en/algorithms/{slug}/1.0.0").get_data(as_text=True)
    for group in partial:
        rows = re.findall(rf'<th scope="row"[^>]*>{re.escape(group["group"])}</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>',
                          page, re.S)
        assert rows, group["group"]
        assert all(re.sub(r"\D", "", count) == str(group["count"]) for count, _ in rows)
        assert any("masked" in value for _, value in rows)  # its true positive rate is masked
    for group in hidden:
        rows = re.findall(rf'<th scope="row"[^>]*>{re.escape(group["group"])}</th>\s*<td>(.*?)</td>', page, re.S)
        assert rows and all("masked" in cell and not re.search(r"\d", cell) for cell in rows)
