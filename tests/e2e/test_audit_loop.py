"""The author-evaluator loop end to end: request, queue, claim, linked audit, decline, notifications, e-mail.

Runs on SQLite and PostgreSQL (the ``live`` fixture, jobs in-process). E-mail goes to a real SMTP
server (aiosmtpd) listening on 127.0.0.1, or to the log when none is configured.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import json
import logging
import re
import socket
import uuid

import pytest
from aiosmtpd.controller import Controller

from audits.synth import generate_cohort
from boas.registry import accounts
from tests.e2e.test_audits_api import upload_dataset
from tests.e2e.test_separation_of_duties import _page_text, _sign_in
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version

PASSWORD = "correct horse battery staple"
NNBSP = "\u202f"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def settings(settings, request):
    """SMTP settings for the tests that ask for the ``smtp`` server (before the app is built)."""
    if "smtp" in request.fixturenames:
        controller, _inbox = request.getfixturevalue("smtp")
        return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False,
                                   smtp_from="boas@example.org")
    return settings


@pytest.fixture
def world(live, live_client, live_account, model_zip):
    """An author in an organisation owning an ML version, a colleague evaluator, an independent evaluator."""
    org = f"labo-{uuid.uuid4().hex[:6]}"
    _, admin = live_account("admin")
    assert live_client.post("/api/v1/organisations", headers=admin, json={
        "slug": org, "name": "Laboratoire Auteur", "kind": "research_body"}).status_code == 201
    author_user, author = live_account("author", organisation=org)
    evaluator_user, evaluator = live_account("evaluator")
    _colleague_user, colleague = live_account("evaluator", organisation=org)
    with live.extensions["boas"].session_factory() as s:
        for user in (author_user, evaluator_user):
            accounts.set_password(s, None, user.id, PASSWORD, bootstrap=True)
    slug = create_algorithm(live_client, author)["slug"]
    assert upload_version(live_client, author, slug, "1.0.0", model_zip).status_code == 201
    return {"author": author, "author_user": author_user, "evaluator": evaluator, "evaluator_user": evaluator_user,
            "colleague": colleague, "slug": slug}


def _request_url(slug: str) -> str:
    return f"/api/v1/algorithms/{slug}/versions/1.0.0/audit-requests"


def _notes(client, headers) -> dict:
    response = client.get("/api/v1/notifications", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _honest_predictions(client, headers, dataset_id, slug, frame) -> int:
    content = frame[["row_id", "prediction"]].assign(score=frame["risk_score"]).to_csv(index=False).encode()
    response = client.post("/api/v1/predictions", headers=headers, content_type="multipart/form-data", data={
        "file": (io.BytesIO(content), "predictions.csv"),
        "metadata": json.dumps({"dataset": dataset_id, "algorithm": slug, "version": "1.0.0"})})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_request_claim_audit_closes_the_request_and_tells_each_side(live_client, world):
    client, slug = live_client, world["slug"]
    author, evaluator, colleague = world["author"], world["evaluator"], world["colleague"]

    # who may ask: not the public (401), not an evaluator who owns nothing (403), not with identifiers (422)
    assert_error(client.post(_request_url(slug), json={"message": "hi"}), 401)
    refused = assert_error(client.post(_request_url(slug), headers=evaluator, json={"message": "hi"}), 403)
    assert "not an owner" in refused["message"]
    body = assert_error(client.post(_request_url(slug), headers=author, json={
        "message": "Le patient joignable au 06 12 34 56 78 a été exclu."}), 422, "identifier_in_text")
    assert "[phone]" in body["errors"]["message"][0] and "06 12" not in json.dumps(body)
    body = assert_error(client.post(_request_url(slug), headers=author, json={"message": "x" * 2001}), 422)
    assert set(body["errors"]) == {"message"}
    assert_error(client.post(_request_url(slug), headers=author, json={"message": 3}), 422)
    assert _notes(client, evaluator)["unread"] == 0  # nothing was written by the refusals

    created = client.post(_request_url(slug), headers=author, json={"message": "Merci de regarder le sexe."})
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert request["status"] == "open" and request["message"] == "Merci de regarder le sexe."
    assert_error(client.post(_request_url(slug), headers=author, json={}), 409, "audit_already_requested")
    status = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/audit-status", headers=author).get_json()
    assert status["state"] == "requested" and status["outcome"] is None

    # the independent evaluator is told and sees it; the author's colleague neither
    notes = _notes(client, evaluator)
    assert notes["unread"] == 1 and notes["items"][0]["kind"] == "audit_requested"
    assert notes["items"][0]["params"]["version"] == "1.0.0" and "1.0.0" in notes["items"][0]["title"]
    assert _notes(client, colleague)["unread"] == 0
    assert [r["id"] for r in client.get("/api/v1/audit-requests", headers=evaluator).get_json()] == [request["id"]]
    assert client.get("/api/v1/audit-requests", headers=colleague).get_json() == []
    assert_error(client.get("/api/v1/audit-requests", headers=author), 403)
    assert_error(client.get("/api/v1/audit-requests"), 401)
    conflict = assert_error(client.post(f"/api/v1/audit-requests/{request['id']}/claim", headers=colleague), 403,
                            "conflict_of_interest")
    assert "Laboratoire Auteur" in conflict["message"]

    claimed = client.post(f"/api/v1/audit-requests/{request['id']}/claim", headers=evaluator)
    assert claimed.status_code == 200 and claimed.get_json()["status"] == "claimed"
    assert_error(client.post(f"/api/v1/audit-requests/{request['id']}/claim", headers=evaluator), 409,
                 "request_not_open")
    assert_error(client.post("/api/v1/audit-requests/999999/claim", headers=evaluator), 404)
    author_notes = _notes(client, author)
    assert [n["kind"] for n in author_notes["items"]] == ["request_claimed"]
    status = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/audit-status", headers=author).get_json()
    assert status["state"] == "in_progress"

    # the claimer's bias audit of the version is linked to the request and closes it when it succeeds
    frame = generate_cohort(600, seed=81)
    dataset = upload_dataset(client, evaluator, frame).get_json()
    predictions = _honest_predictions(client, evaluator, dataset["id"], slug, frame)
    launched = client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"], "predictions": predictions,
        "sensitive_features": ["sex"], "n_boot": 20, "seed": 1})
    assert launched.status_code == 202, launched.get_json()
    job = client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
    assert job["status"] == "succeeded"
    status = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/audit-status", headers=author).get_json()
    assert status["state"] == "audited" and status["outcome"] in ("passed", "failed", "insufficient")
    assert status["request"]["status"] == "done" and status["request"]["job"] == job["id"]
    finished = _notes(client, author)["items"][0]
    assert finished["kind"] == "audit_finished" and finished["params"]["job"] == job["id"]
    assert finished["params"]["status"] == "succeeded" and finished["params"]["outcome"] == status["outcome"]
    assert client.get("/api/v1/audit-requests", headers=evaluator).get_json() == []

    # the next audit form starts from the dataset's declared columns and this audit's reference groups
    prefill = client.get("/api/v1/audit-prefill", headers=evaluator, query_string={
        "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"]}).get_json()
    assert prefill["sensitive_features"] == ["sex", "region"]
    reference = next(f["reference_group"] for f in job["result"]["features"] if f["name"] == "sex")
    assert prefill["reference_group"] == {"sex": reference}
    assert prefill["reference_sources"]["sex"]["job"] == job["id"]
    assert_error(client.get("/api/v1/audit-prefill", headers=author), 403)
    assert_error(client.get("/api/v1/audit-prefill", headers=evaluator, query_string={"dataset": "x"}), 422)

    # reading: one, then all; someone else's notification is not found
    unread = _notes(client, author)["unread"]
    first = _notes(client, author)["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/{first}/read", headers=author).get_json() == {"marked": 1}
    assert _notes(client, author)["unread"] == unread - 1
    assert_error(client.post(f"/api/v1/notifications/{first}/read", headers=evaluator), 404)
    assert client.post("/api/v1/notifications/read", headers=author).get_json()["marked"] == unread - 1
    assert _notes(client, author)["unread"] == 0
    assert_error(client.get("/api/v1/notifications"), 401)


def test_a_declined_request_says_why_to_the_owners(live_client, world):
    client, slug, author, evaluator = live_client, world["slug"], world["author"], world["evaluator"]
    request = client.post(_request_url(slug), headers=author, json={}).get_json()
    url = f"/api/v1/audit-requests/{request['id']}/decline"
    assert set(assert_error(client.post(url, headers=evaluator, json={}), 422)["errors"]) == {"reason"}
    assert_error(client.post(url, headers=evaluator, json={"reason": "écrire à jean.dupont@chu-exemple.fr"}), 422,
                 "identifier_in_text")
    assert_error(client.post(url, headers=world["colleague"], json={"reason": "non"}), 403, "conflict_of_interest")
    declined = client.post(url, headers=evaluator, json={"reason": "Pas de jeu de données adapté."})
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    assert_error(client.post(url, headers=evaluator, json={"reason": "encore"}), 409)
    note = _notes(client, author)["items"][0]
    assert note["kind"] == "request_declined" and note["params"]["reason"] == "Pas de jeu de données adapté."
    status = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/audit-status", headers=author).get_json()
    assert status["state"] == "declined"
    # declined is closed: the owner may ask again
    assert client.post(_request_url(slug), headers=author, json={}).status_code == 201


def test_notification_mail_goes_through_a_real_smtp_server_after_commit(live_client, world, smtp):
    _controller, inbox = smtp
    response = live_client.post(_request_url(world["slug"]), headers=world["author"], json={"message": "Merci"})
    assert response.status_code == 201, response.get_json()
    to_evaluator = [m for m in inbox.messages if m["To"] == world["evaluator_user"].email]
    assert len(to_evaluator) == 1
    mail = to_evaluator[0]
    assert mail["From"] == "boas@example.org"
    assert "Audit demandé" in mail["Subject"] and "Audit requested" in mail["Subject"]
    body = mail.get_payload(decode=True).decode()
    assert "Les propriétaires de" in body and "The owners of" in body and "/workspace/requests" in body
    # a refused request mails nobody
    before = len(inbox.messages)
    assert live_client.post(_request_url(world["slug"]), headers=world["author"], json={}).status_code == 409
    assert len(inbox.messages) == before


def test_without_smtp_the_mail_is_logged_without_personal_data(live_client, world, caplog):
    with caplog.at_level(logging.INFO, logger="boas.registry.mail"):
        assert live_client.post(_request_url(world["slug"]), headers=world["author"], json={}).status_code == 201
    lines = [r.getMessage() for r in caplog.records if r.name == "boas.registry.mail"]
    assert any(f"recipient_id={world['evaluator_user'].id}" in line and "audit_requested" in line for line in lines)
    assert not any("@" in line for line in lines)


def test_an_unreachable_smtp_server_is_logged_not_raised(live, live_client, world, caplog):
    from boas.registry.mail import Mail, Mailer, MailSettings

    closed = _free_port()
    with caplog.at_level(logging.WARNING, logger="boas.registry.mail"):
        sent = Mailer(MailSettings(host="127.0.0.1", port=closed, sender="b@example.org", starttls=False)).send(
            [Mail(recipient_id=1, to="x@example.org", subject="s", body="b", kind="audit_requested")])
    assert sent == 0 and any("unavailable" in r.getMessage() for r in caplog.records)


def test_the_pages_close_the_loop_in_french(live, world):
    slug = world["slug"]
    author = live.test_client()
    token = _sign_in(author, world["author_user"].email, "fr")
    draft = author.get(f"/fr/workspace/algorithms/{slug}/1.0.0")
    assert draft.status_code == 200 and 'id="request-audit"' in draft.get_data(as_text=True)
    assert "Audit non demandé" in _page_text(draft)
    no_csrf = author.post(f"/fr/workspace/algorithms/{slug}/1.0.0/request-audit", data={"message": "x"})
    assert no_csrf.status_code in (400, 403)
    refused = author.post(f"/fr/workspace/algorithms/{slug}/1.0.0/request-audit", follow_redirects=True,
                          data={"csrf_token": token, "message": "IBAN FR76 3000 6000 0112 3456 7890 189"})
    # the refusal names its detector, in a French sentence
    assert re.search(r"un identifiant direct \[\s*iban\s*\]", _page_text(refused)), _page_text(refused)
    assert "Audit non demandé" in _page_text(refused)
    sent = author.post(f"/fr/workspace/algorithms/{slug}/1.0.0/request-audit", follow_redirects=True,
                       data={"csrf_token": token, "message": "Merci"})
    text = _page_text(sent)
    assert "Audit demandé" in text and 'id="request-audit"' not in sent.get_data(as_text=True)
    assert "Audit demandé" in _page_text(author.get("/fr/workspace"))

    evaluator = live.test_client()
    token = _sign_in(evaluator, world["evaluator_user"].email, "fr")
    home = evaluator.get("/fr/workspace").get_data(as_text=True)
    assert 'id="nav-notifications"' in home and "badge-count" in home
    page = evaluator.get("/fr/notifications")
    assert f"Audit demandé{NNBSP}:" in _page_text(page)
    queue = evaluator.get("/fr/workspace/requests")
    assert "Merci" in _page_text(queue)
    request_id = evaluator.get("/api/v1/audit-requests", headers=world["evaluator"]).get_json()[0]["id"]
    claimed = evaluator.post(f"/fr/workspace/requests/{request_id}/claim", data={"csrf_token": token},
                             follow_redirects=True)
    assert claimed.status_code == 200 and "Lancer l’audit" in _page_text(claimed)
    assert evaluator.post("/fr/notifications/read", data={"csrf_token": token}).status_code == 303
    assert "badge-count" not in evaluator.get("/fr/workspace").get_data(as_text=True)
    english = author.get("/en/notifications")
    assert "Audit request taken:" in _page_text(english)

    # the audit form is prefilled from the dataset's declaration, and says so
    frame = generate_cohort(300, seed=3)
    dataset = upload_dataset(evaluator, world["evaluator"], frame).get_json()
    form = evaluator.get(f"/fr/workspace/audits/new?target={slug}@1.0.0&dataset={dataset['id']}")
    html = form.get_data(as_text=True)
    assert 'id="prefill-sensitive"' in html and "value=\"sex, region\"" in html
    assert "Cohorte synthétique" in _page_text(form)
    empty = evaluator.get("/fr/workspace/audits/new").get_data(as_text=True)
    assert 'id="prefill-sensitive"' not in empty


def test_a_published_version_is_requested_from_its_algorithm_page_and_a_withdrawn_one_is_not(live, world):
    slug = world["slug"]
    api = live.test_client()
    assert api.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/publish", headers=world["author"]).status_code == 200
    author = live.test_client()
    token = _sign_in(author, world["author_user"].email, "en")
    page = author.get(f"/en/workspace/algorithms/{slug}")
    assert 'id="request-audit-1.0.0"' in page.get_data(as_text=True) and "Audit not requested" in _page_text(page)
    sent = author.post(f"/en/workspace/algorithms/{slug}/1.0.0/request-audit",
                       data={"csrf_token": token, "message": "Please"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith(f"/workspace/algorithms/{slug}#audit-status-1.0.0")
    page = author.get(f"/en/workspace/algorithms/{slug}")
    assert "Audit requested" in _page_text(page) and 'id="request-audit-1.0.0"' not in page.get_data(as_text=True)

    request_id = api.get("/api/v1/audit-requests", headers=world["evaluator"]).get_json()[0]["id"]
    assert api.post(f"/api/v1/audit-requests/{request_id}/decline", headers=world["evaluator"],
                    json={"reason": "No suitable dataset."}).status_code == 200
    assert api.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", headers=world["author"],
                    json={"reason": "wrong cohort"}).status_code == 200
    body = assert_error(api.post(_request_url(slug), headers=world["author"], json={}), 422)
    assert set(body["errors"]) == {"version"} and "withdrawn" in body["errors"]["version"][0]
