"""Incident reports over HTTP, on SQLite and PostgreSQL: screening, moderation, states, answers, fixes, privacy."""

from __future__ import annotations

from tests.audits.test_identifiers import nir
from tests.factories import create_algorithm, upload_version

CLEAN = {"kind": "performance", "title": "Calibration drifts for older patients",
         "body": "On our 2024 cohort the predicted risk is too low above 75 years (calibration slope 0.8)."}


def _published(client, headers, model_zip, version="1.0.0") -> str:
    slug = create_algorithm(client, headers)["slug"]
    assert upload_version(client, headers, slug, version, model_zip).status_code == 201
    assert client.post(f"/api/v1/algorithms/{slug}/versions/{version}/publish", headers=headers).status_code == 200
    return slug


def _file(client, headers, slug, version="1.0.0", **payload):
    return client.post(f"/api/v1/algorithms/{slug}/versions/{version}/reports", json={**CLEAN, **payload},
                       headers=headers)


def _error(response, status: int, code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"code", "status", "message", "errors"}
    if code:
        assert body["code"] == code, body
    return body


def _approve(client, admin, report_id, **extra):
    return client.post(f"/api/v1/reports/{report_id}/moderation", json={"decision": "approve", **extra},
                       headers=admin)


def test_a_report_goes_through_moderation_to_public_display_with_the_authors_answer(client, make_account, model_zip):
    _, author = make_account("author")
    _, reader = make_account("evaluator")
    _, admin = make_account("admin")
    slug = _published(client, author, model_zip)
    filed = _file(client, reader, slug)
    assert filed.status_code == 201, filed.get_json()
    body = filed.get_json()
    assert body["screening"] == {"held": False, "detected": [], "warning": None}
    report_id = body["report"]["id"]
    assert body["report"]["moderation"] == "pending" and body["report"]["title"] == CLEAN["title"]

    listing = f"/api/v1/algorithms/{slug}/versions/1.0.0/reports"
    assert client.get(listing).get_json()["items"] == []  # not public before moderation
    _error(client.get(f"/api/v1/reports/{report_id}"), 404)
    owner_view = client.get(listing, headers=author).get_json()
    assert owner_view["awaiting_moderation"] == 1
    assert owner_view["items"][0]["title"] is None and owner_view["items"][0]["text_withheld"] is True

    approved = _approve(client, admin, report_id)
    assert approved.status_code == 200 and approved.get_json()["moderation"] == "approved"
    public = client.get(listing).get_json()
    assert public["counts"] == {"open": 1, "acknowledged": 0, "resolved": 0, "declined": 0}
    assert public["items"][0]["body"] == CLEAN["body"] and public["items"][0]["detected"] == []

    answer = client.post(f"/api/v1/reports/{report_id}/answers", headers=author,
                         json={"body": "Confirmed: version 1.1.0 recalibrates above 75 years."})
    assert answer.status_code == 201 and answer.get_json()["screening"]["held"] is False
    shown = client.get(f"/api/v1/reports/{report_id}").get_json()
    assert [a["body"] for a in shown["answers"]] == ["Confirmed: version 1.1.0 recalibrates above 75 years."]

    events = client.get("/api/v1/audit-log", headers=admin).get_json()["items"]
    actions = [e["action"] for e in events if e["object_ref"].endswith(f"#report-{report_id}")]
    assert {"report.filed", "report.moderated", "report.answered"} <= set(actions)


def test_a_report_carrying_a_nir_is_held_with_a_warning_and_never_leaks(client, make_account, model_zip):
    _, author = make_account("author")
    _, reader = make_account("author")
    _, admin = make_account("admin")
    slug = _published(client, author, model_zip)
    number = nir(7)
    filed = _file(client, reader, slug, kind="safety", body=f"Patient {number} was scored as low risk and died.")
    assert filed.status_code == 201
    screening = filed.get_json()["screening"]
    assert screening["held"] is True and screening["detected"] == ["nir"]
    assert "nir" in screening["warning"] and number not in screening["warning"]
    report_id = filed.get_json()["report"]["id"]

    # The owner learns a held report exists, never its words; the public learns nothing.
    owner_view = client.get(f"/api/v1/reports/{report_id}", headers=author).get_json()
    assert owner_view["held"] is True and owner_view["body"] is None and owner_view["title"] is None
    for response in (client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/reports", headers=author),
                     client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/reports"),
                     client.get("/api/v1/audit-log", headers=admin)):
        assert number not in response.get_data(as_text=True)

    # Approving it needs an explicit override; rejecting it keeps it private for good.
    body = _error(_approve(client, admin, report_id), 409, "report_held")
    assert "nir" in body["message"] and number not in body["message"]
    rejected = client.post(f"/api/v1/reports/{report_id}/moderation", json={"decision": "reject"}, headers=admin)
    assert rejected.get_json()["moderation"] == "rejected"
    assert client.get(f"/api/v1/reports/{report_id}", headers=reader).get_json()["body"].endswith("died.")
    _error(client.get(f"/api/v1/reports/{report_id}"), 404)
    assert client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/reports").get_json()["counts"]["open"] == 0


def test_permissions_anonymous_other_authors_and_non_admins(client, make_account, model_zip):
    _, author = make_account("author")
    _, other = make_account("author")
    _, admin = make_account("admin")
    slug = _published(client, author, model_zip)
    _error(client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/reports", json=CLEAN), 401)
    report_id = _file(client, other, slug).get_json()["report"]["id"]
    _error(_approve(client, other, report_id), 403)
    _error(_approve(client, author, report_id), 403)
    assert _approve(client, admin, report_id).status_code == 200
    _error(client.post(f"/api/v1/reports/{report_id}/answers", json={"body": "not mine"}, headers=other), 403)
    _error(client.post(f"/api/v1/reports/{report_id}/state", json={"state": "acknowledged"}, headers=other), 403)
    _error(client.post(f"/api/v1/reports/{report_id}/answers", json={"body": "anonymous"}), 401)
    _error(client.get("/api/v1/reports", headers=author), 403)


def test_states_move_forward_only_and_invalid_transitions_are_conflicts(client, make_account, model_zip):
    _, author = make_account("author")
    _, reader = make_account("evaluator")
    _, admin = make_account("admin")
    slug = _published(client, author, model_zip)
    report_id = _file(client, reader, slug).get_json()["report"]["id"]

    def move(state, who=author):
        return client.post(f"/api/v1/reports/{report_id}/state", json={"state": state}, headers=who)

    _error(move("acknowledged"), 409, "not_approved")  # before moderation
    _approve(client, admin, report_id)
    body = _error(move("resolved"), 409, "invalid_transition")
    assert "open" in body["message"] and "resolved" in body["message"] and "state" in body["errors"]
    assert move("acknowledged").get_json()["state"] == "acknowledged"
    _error(move("acknowledged"), 409, "invalid_transition")
    assert move("declined", admin).get_json()["state"] == "declined"
    _error(move("open"), 409, "invalid_transition")
    _error(move("closed"), 422)
    counts = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/reports").get_json()["counts"]
    assert counts == {"open": 0, "acknowledged": 0, "resolved": 0, "declined": 1}
    events = client.get("/api/v1/audit-log?action=report.state_changed", headers=admin).get_json()["items"]
    assert [(e["details"]["from"], e["details"]["to"]) for e in events] == [("acknowledged", "declined"),
                                                                             ("open", "acknowledged")]


def test_bounds_name_the_field(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _published(client, author, model_zip)
    assert "body" in _error(_file(client, author, slug, body=""), 422)["errors"]
    assert "body" in _error(_file(client, author, slug, body="   "), 422)["errors"]
    assert "body" in _error(_file(client, author, slug, body="x" * 10_001), 422)["errors"]
    assert "title" in _error(_file(client, author, slug, title="t" * 201), 422)["errors"]
    assert "kind" in _error(_file(client, author, slug, kind="rant"), 422)["errors"]
    _error(_file(client, author, slug, "9.9.9"), 404)
    assert client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/reports", headers=author).get_json()["items"] == []


def test_reports_are_filed_on_released_versions_only(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _published(client, author, model_zip)
    assert upload_version(client, author, slug, "1.1.0", model_zip).status_code == 201
    _error(_file(client, author, slug, "1.1.0"), 409, "not_released")
    _, stranger = make_account("evaluator")
    _error(_file(client, stranger, slug, "1.1.0"), 409, "not_released")  # evaluators see drafts


def test_a_held_answer_waits_for_an_admin(client, make_account, model_zip):
    _, author = make_account("author")
    _, reader = make_account("evaluator")
    _, admin = make_account("admin")
    slug = _published(client, author, model_zip)
    report_id = _file(client, reader, slug).get_json()["report"]["id"]
    _approve(client, admin, report_id)
    answered = client.post(f"/api/v1/reports/{report_id}/answers", headers=author,
                           json={"body": "Write to me at jean.martin@example.org for details."})
    assert answered.status_code == 201
    assert answered.get_json()["screening"]["detected"] == ["email"]
    answer_id = answered.get_json()["answer_id"]
    assert client.get(f"/api/v1/reports/{report_id}").get_json()["answers"] == []
    assert "example.org" not in client.get(f"/api/v1/reports/{report_id}").get_data(as_text=True)
    assert [r["id"] for r in client.get("/api/v1/reports", headers=admin).get_json()] == [report_id]
    url = f"/api/v1/reports/{report_id}/answers/{answer_id}/moderation"
    _error(client.post(url, json={"decision": "approve"}, headers=admin), 409, "report_held")
    assert client.post(url, json={"decision": "approve", "override_screening": True}, headers=admin).status_code == 200
    assert len(client.get(f"/api/v1/reports/{report_id}").get_json()["answers"]) == 1


def test_a_version_links_the_reports_it_fixes_on_both_sides(client, make_account, model_zip):
    _, author = make_account("author")
    _, reader = make_account("evaluator")
    _, admin = make_account("admin")
    slug = _published(client, author, model_zip)
    report_id = _file(client, reader, slug).get_json()["report"]["id"]
    pending_id = _file(client, reader, slug).get_json()["report"]["id"]
    _approve(client, admin, report_id)
    refused = upload_version(client, author, slug, "1.1.0", model_zip, fixes_reports=[pending_id])
    assert "fixes_reports" in _error(refused, 422)["errors"]
    created = upload_version(client, author, slug, "1.1.0", model_zip, fixes_reports=[report_id])
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["fixes_reports"] == [report_id]
    # Draft: not shown to the public on the report's side yet
    assert client.get(f"/api/v1/reports/{report_id}").get_json()["fixed_in"] == []
    fixes = f"/api/v1/algorithms/{slug}/versions/1.1.0/fixes"
    assert "fixes_reports" in _error(client.put(fixes, json={"fixes_reports": [999999]}, headers=author),
                                     422)["errors"]
    _error(client.put(fixes, json={"fixes_reports": [report_id]}, headers=reader), 403)
    assert client.put(fixes, json={"fixes_reports": [report_id]}, headers=author).status_code == 200
    assert client.post(f"/api/v1/algorithms/{slug}/versions/1.1.0/publish", headers=author).status_code == 200
    assert client.get(f"/api/v1/reports/{report_id}").get_json()["fixed_in"] == ["1.1.0"]
    assert client.get(fixes).get_json() == {"fixes_reports": [report_id]}
    _error(client.put(fixes, json={"fixes_reports": []}, headers=author), 409, "already_published")


def test_report_ids_past_32_bits_are_field_errors_not_overflows(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _published(client, author, model_zip)
    assert upload_version(client, author, slug, "1.1.0", model_zip).status_code == 201
    response = client.put(f"/api/v1/algorithms/{slug}/versions/1.1.0/fixes", json={"fixes_reports": [2**40]},
                          headers=author)
    assert "fixes_reports.0" in _error(response, 422)["errors"]
    _error(upload_version(client, author, slug, "1.2.0", model_zip, fixes_reports=[str(2**40)]), 422)
    _error(client.get(f"/api/v1/reports/{2**40}"), 404)
