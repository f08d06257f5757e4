"""Separation of duties: an algorithm's own side never audits it, whatever roles it is given.

The attack of issue 8: an author demoted to evaluator keeps ownership, uploads "perfect" predictions
for their own version and launches the audit that gates its publication. Every step is refused with
a 403 that says why, on the API and on the pages; a member of the owning organisation is refused the
same way; an independent evaluator succeeds and is shown as the evaluator of record; the demotion is
in the audit log with the old and new roles. Runs on SQLite and PostgreSQL (the ``live`` fixture).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import uuid
from html import unescape

import pytest

from audits.synth import generate_cohort
from boas.registry import accounts
from tests.e2e.test_audits_api import upload_dataset
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version

PASSWORD = "correct horse battery staple"
NBSP = "\u00a0"


@pytest.fixture
def settings(settings):
    """The publication gate on: a completed, independent bias audit is required to publish."""
    return dataclasses.replace(settings, require_bias_audit=True)


@pytest.fixture
def world(live, live_client, live_account):
    """An organisation, its author (with a password) owning an ML version, an admin, an independent evaluator."""
    org = f"labo-{uuid.uuid4().hex[:6]}"
    admin_user, admin = live_account("admin")
    created = live_client.post("/api/v1/organisations", headers=admin,
                               json={"slug": org, "name": "Laboratoire Auteur", "kind": "research_body"})
    assert created.status_code == 201, created.get_json()
    author_user, author = live_account("author", organisation=org)
    _, independent = live_account("evaluator")
    colleague_user, colleague = live_account("evaluator", organisation=org)
    with live.extensions["boas"].session_factory() as s:
        for user in (author_user, colleague_user):
            accounts.set_password(s, None, user.id, PASSWORD, bootstrap=True)
    return {"org": org, "admin": admin, "admin_user": admin_user, "author": author, "author_user": author_user,
            "independent": independent, "colleague": colleague, "colleague_user": colleague_user}


def _ml_version(client, headers, model_zip) -> str:
    slug = create_algorithm(client, headers)["slug"]
    response = upload_version(client, headers, slug, "1.0.0", model_zip)
    assert response.status_code == 201, response.get_json()
    return slug


def _cohort():
    frame = generate_cohort(600, seed=81)
    frame["deprivation"] = frame["deprivation_quintile"].astype(float)
    return frame


def _perfect_predictions(frame) -> bytes:
    """The fabricated file: every prediction equal to the observed outcome."""
    return frame[["row_id"]].assign(prediction=frame["outcome"], score=frame["outcome"].astype(float)) \
        .to_csv(index=False).encode()


def _post_predictions(client, headers, dataset_id, slug, content: bytes):
    return client.post("/api/v1/predictions", headers=headers, content_type="multipart/form-data", data={
        "file": (io.BytesIO(content), "predictions.csv"),
        "metadata": json.dumps({"dataset": dataset_id, "algorithm": slug, "version": "1.0.0"})})


def _bias_request(slug, dataset_id, predictions_id=None) -> dict:
    request = {"kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset_id,
               "sensitive_features": ["sex"], "n_boot": 20, "seed": 1}
    if predictions_id is not None:
        request["predictions"] = predictions_id
    return request


def _refused(response, why: str) -> dict:
    body = assert_error(response, 403, "conflict_of_interest")
    assert why in body["message"] and "independent evaluator" in body["message"], body["message"]
    return body


def _sign_in(client, email: str, lang: str):
    page = client.get(f"/{lang}/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/{lang}/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    page = client.get(f"/{lang}/workspace/tokens").get_data(as_text=True)  # the token is renewed at sign-in
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _page_text(response) -> str:
    """The page's text, ASCII white space collapsed (no-break spaces kept: they are French typography)."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def _pages_refuse(live, email: str, slug: str, dataset_id: int, predictions_id: int, frame) -> dict[str, str]:
    """The same attack through the workspace forms, in French and English: the refusal text of each."""
    texts = {}
    for lang in ("fr", "en"):
        client = live.test_client()
        token = _sign_in(client, email, lang)
        uploaded = client.post(f"/{lang}/workspace/predictions/new", content_type="multipart/form-data", data={
            "csrf_token": token, "target": f"{slug}@1.0.0", "dataset": str(dataset_id),
            "file": (io.BytesIO(_perfect_predictions(frame)), "predictions.csv")})
        assert uploaded.status_code == 403, _page_text(uploaded)[:2000]
        assert 'id="refusal"' in uploaded.get_data(as_text=True)
        launched = client.post(f"/{lang}/workspace/audits/new", data={
            "csrf_token": token, "kind": "bias", "target": f"{slug}@1.0.0", "dataset": str(dataset_id),
            "predictions": str(predictions_id), "sensitive_features": "sex", "n_boot": "20", "seed": "1"})
        assert launched.status_code == 403, _page_text(launched)[:2000]
        assert 'id="refusal"' in launched.get_data(as_text=True)
        texts[lang] = _page_text(launched)
        texts[lang + "-upload"] = _page_text(uploaded)
    return texts


def test_a_demoted_author_cannot_audit_their_own_algorithm_at_any_step(live, live_client, world, model_zip):
    admin, author, independent = world["admin"], world["author"], world["independent"]
    slug = _ml_version(live_client, author, model_zip)
    frame = _cohort()
    dataset = upload_dataset(live_client, independent, frame).get_json()
    honest = live_client.post("/api/v1/predictions", headers=independent, content_type="multipart/form-data", data={
        "file": (io.BytesIO(frame[["row_id", "prediction"]].assign(score=frame["risk_score"]).to_csv(index=False)
                            .encode()), "predictions.csv"),
        "metadata": json.dumps({"dataset": dataset["id"], "algorithm": slug, "version": "1.0.0"})})
    assert honest.status_code == 201, honest.get_json()

    demoted = live_client.patch(f"/api/v1/users/{world['author_user'].id}", headers=admin, json={"role": "evaluator"})
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "evaluator"
    # the demotion ended the author's tokens; the attacker asks for a new one, now as an evaluator
    assert live_client.get("/api/v1/me", headers=author).status_code == 401
    with live.extensions["boas"].session_factory() as s:
        author = {"Authorization": "Bearer " + accounts.create_token(
            s, None, user_email=world["author_user"].email, bootstrap=True).secret}
    assert live_client.get("/api/v1/me", headers=author).get_json()["role"] == "evaluator"

    # the API: fabricated predictions, someone else's predictions, the model itself
    _refused(_post_predictions(live_client, author, dataset["id"], slug, _perfect_predictions(frame)),
             f"you own algorithm '{slug}'")
    _refused(live_client.post("/api/v1/audits", headers=author,
                              json=_bias_request(slug, dataset["id"], honest.get_json()["id"])), "you own algorithm")
    _refused(live_client.post("/api/v1/audits", headers=author, json=_bias_request(slug, dataset["id"])),
             "you own algorithm")
    _refused(live_client.post("/api/v1/audits", headers=author, json={
        "kind": "drift", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
        "current_dataset": dataset["id"], "columns": ["age"]}), "you own algorithm")

    # a member of the owning organisation, evaluator all along, is refused the same way
    org_refusal = f"your organisation 'Laboratoire Auteur' owns algorithm '{slug}'"
    _refused(_post_predictions(live_client, world["colleague"], dataset["id"], slug, _perfect_predictions(frame)),
             org_refusal)
    _refused(live_client.post("/api/v1/audits", headers=world["colleague"],
                              json=_bias_request(slug, dataset["id"], honest.get_json()["id"])), org_refusal)

    # the pages: the form says why, in the page's language and typography
    for email, fr, en in (
            (world["author_user"].email, f"Vous êtes propriétaire de cet algorithme{NBSP}:",
             "You own this algorithm: its audits and its predictions must come from an independent evaluator."),
            (world["colleague_user"].email, f"Votre organisation «{NBSP}Laboratoire Auteur{NBSP}» est propriétaire",
             "Your organisation “Laboratoire Auteur” owns this algorithm")):
        texts = _pages_refuse(live, email, slug, dataset["id"], honest.get_json()["id"], frame)
        for form in ("", "-upload"):
            assert fr in texts["fr" + form] and "évaluateur·rice indépendant·e" in texts["fr" + form], texts["fr"][:1500]
            assert en in texts["en" + form], texts["en" + form][:1500]

    # nothing was recorded for them: no prediction set, no job
    evaluator_view = live_client.get("/api/v1/audits", headers=independent).get_json()
    assert evaluator_view == []

    # an independent evaluator succeeds and is the evaluator of record (a public name, never an e-mail)
    launched = live_client.post("/api/v1/audits", headers=independent,
                                json=_bias_request(slug, dataset["id"], honest.get_json()["id"]))
    assert launched.status_code == 202, launched.get_json()
    job = live_client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=independent).get_json()
    me = live_client.get("/api/v1/me", headers=independent).get_json()
    assert job["status"] == "succeeded" and job["evaluator"] == me["name"] and job["independent"] is True
    assert me["email"] not in json.dumps(job)

    # the reused result cannot be attached by the owner either (the check comes before the cache)
    _refused(live_client.post("/api/v1/audits", headers=author,
                              json=_bias_request(slug, dataset["id"], honest.get_json()["id"])), "you own algorithm")
    assert [a["id"] for a in live_client.get("/api/v1/audits", headers=independent).get_json()] == [job["id"]]

    # the audit log shows the demotion: actor, time, old and new roles
    log = live_client.get("/api/v1/audit-log", headers=admin, query_string={
        "action": "user.updated", "object_ref": world["author_user"].email}).get_json()
    assert log["total"] == 1
    event = log["items"][0]
    assert event["details"]["role"] == {"old": "author", "new": "evaluator"}
    assert event["actor_email"] == world["admin_user"].email and event["at"]


def test_the_job_page_shows_the_evaluator_of_record_in_both_languages(live, live_client, world, model_zip):
    slug = _ml_version(live_client, world["author"], model_zip)
    frame = _cohort()
    dataset = upload_dataset(live_client, world["independent"], frame).get_json()
    predictions = _post_predictions(live_client, world["independent"], dataset["id"], slug,
                                    frame[["row_id", "prediction"]].to_csv(index=False).encode()).get_json()
    job = live_client.post("/api/v1/audits", headers=world["independent"],
                           json=_bias_request(slug, dataset["id"], predictions["id"])).get_json()
    name = job["evaluator"]
    assert name and "@" not in name
    client = live.test_client()
    _sign_in(client, world["author_user"].email, "fr")  # the owner follows the audit of their version
    for lang, label in (("fr", "Évaluateur·rice en titre"), ("en", "Evaluator of record")):
        text = _page_text(client.get(f"/{lang}/workspace/jobs/{job['id']}"))
        assert f"{label} {name}" in text, text[:3000]


def test_an_evaluator_who_joins_the_owning_side_no_longer_counts_for_publication(live, live_client, world, model_zip):
    admin, independent = world["admin"], world["independent"]
    slug = _ml_version(live_client, world["author"], model_zip)
    frame = _cohort()
    dataset = upload_dataset(live_client, independent, frame).get_json()
    predictions = _post_predictions(live_client, independent, dataset["id"], slug,
                                    frame[["row_id", "prediction"]].to_csv(index=False).encode()).get_json()
    job = live_client.post("/api/v1/audits", headers=independent,
                           json=_bias_request(slug, dataset["id"], predictions["id"])).get_json()
    baseline = f"/api/v1/algorithms/{slug}/versions/1.0.0/baseline"

    def bias_item():
        report = live_client.get(baseline, headers=world["author"]).get_json()
        return next(i for i in report["pillars"]["auditability_of_bias"]["items"] if i["id"] == "bias_audit")

    assert bias_item()["satisfied"] is True
    independent_id = live_client.get("/api/v1/me", headers=independent).get_json()["id"]
    moved = live_client.patch(f"/api/v1/users/{independent_id}", headers=admin, json={"organisation": world["org"]})
    assert moved.status_code == 200
    after = live_client.get(f"/api/v1/audits/{job['id']}", headers=independent).get_json()
    assert after["independent"] is False and after["evaluator"] == job["evaluator"]  # still attributed to them
    assert bias_item()["satisfied"] is False
    refused = assert_error(live_client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/publish",
                                            headers=world["author"]), 422, "baseline_not_met")
    assert "audits" in json.dumps(refused["errors"])
    event = live_client.get("/api/v1/audit-log", headers=admin, query_string={"action": "user.updated"}).get_json()
    assert any(e["details"].get("organisation") == {"old": None, "new": world["org"]} for e in event["items"])
    # and they cannot launch a new one now
    _refused(live_client.post("/api/v1/audits", headers=independent,
                              json=_bias_request(slug, dataset["id"], predictions["id"])), "your organisation")


def test_inputs_uploaded_by_the_owning_side_are_refused_at_launch(live, live_client, world, model_zip):
    slug = _ml_version(live_client, world["author"], model_zip)
    frame = _cohort()
    planted = upload_dataset(live_client, world["colleague"], frame, name="Jeu choisi par l'équipe").get_json()
    body = assert_error(live_client.post("/api/v1/audits", headers=world["independent"],
                                         json=_bias_request(slug, planted["id"])), 422)
    assert "independent inputs" in body["errors"]["dataset"][0]


def test_role_organisation_name_and_owner_changes_are_in_the_audit_log(live, live_client, world, live_account,
                                                                        model_zip):
    admin = world["admin"]
    author_id = world["author_user"].id
    other_org = f"autre-{uuid.uuid4().hex[:6]}"
    assert live_client.post("/api/v1/organisations", headers=admin,
                            json={"slug": other_org, "name": "Autre", "kind": "hospital"}).status_code == 201
    changed = live_client.patch(f"/api/v1/users/{author_id}", headers=admin,
                                json={"name": "Nouveau Nom", "organisation": other_org, "active": False})
    assert changed.status_code == 200, changed.get_json()
    items = live_client.get("/api/v1/audit-log", headers=admin, query_string={
        "action": "user.updated", "object_ref": world["author_user"].email}).get_json()["items"]
    assert items[0]["details"] == {
        "name": {"old": world["author_user"].name, "new": "Nouveau Nom"},
        "organisation": {"old": world["org"], "new": other_org},
        "active": {"old": True, "new": False},
    }
    assert live_client.patch(f"/api/v1/users/{author_id}", headers=admin, json={"active": True}).status_code == 200

    co_owner_user, co_owner = live_account("admin")  # an admin may own an algorithm, and then not audit it
    slug = _ml_version(live_client, world["author"], model_zip)
    patched = live_client.patch(f"/api/v1/algorithms/{slug}", headers=world["author"],
                                json={"owners": [world["author_user"].email, co_owner_user.email]})
    assert patched.status_code == 200, patched.get_json()
    event = live_client.get("/api/v1/audit-log", headers=admin, query_string={
        "action": "algorithm.updated", "object_ref": slug}).get_json()["items"][0]
    assert event["details"]["owners"] == {"old": [world["author_user"].email],
                                          "new": sorted([world["author_user"].email, co_owner_user.email])}
    assert event["actor_email"] == world["author_user"].email and event["at"]
    # the new co-owner is on the algorithm's side from now on, admin or not
    frame = _cohort()
    dataset = upload_dataset(live_client, world["independent"], frame).get_json()
    _refused(_post_predictions(live_client, co_owner, dataset["id"], slug, _perfect_predictions(frame)),
             f"you own algorithm '{slug}'")
    _refused(live_client.post("/api/v1/audits", headers=co_owner, json=_bias_request(slug, dataset["id"])),
             "you own algorithm")
