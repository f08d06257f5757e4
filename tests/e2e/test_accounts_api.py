"""Accounts, tokens, the audit log, and the rule that every mutating route needs authentication."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter

from registry_db.models import ApiToken, AuditEvent
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _example_path(rule) -> str:
    values = {arg: "1" if isinstance(rule._converters[arg], IntegerConverter) else "x" for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def test_every_mutating_route_requires_authentication(app, client):
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue  # pages: session + CSRF, walked by tests/pages/test_security.py
        for method in sorted((rule.methods or set()) & MUTATING):
            path = _example_path(rule)
            response = client.open(path, method=method, json={})
            assert response.status_code == 401, f"{method} {rule.rule} answered {response.status_code}"
            checked.append(f"{method} {rule.rule}")
    # the walk must actually have covered the write API
    assert {"POST /api/v1/algorithms", "PATCH /api/v1/algorithms/<slug>", "POST /api/v1/users",
            "POST /api/v1/algorithms/<slug>/versions/<version>/publish", "DELETE /api/v1/tokens/<int:token_id>"
            } <= set(checked)


def test_no_state_change_on_get(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "_login_required", False) and "GET" in (rule.methods or set()):
            assert not (rule.methods or set()) & MUTATING, rule.rule


def test_tokens_are_shown_once_stored_hashed_and_revocable(client, make_account, session):
    _, headers = make_account("author")
    created = client.post("/api/v1/tokens", json={"name": "laptop"}, headers=headers)
    assert created.status_code == 201
    secret = created.get_json()["secret"]
    assert re.fullmatch(r"boas_[A-Za-z0-9_-]{43}", secret)
    row = session.execute(select(ApiToken).where(ApiToken.id == created.get_json()["token"]["id"])).scalar_one()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    listed = client.get("/api/v1/tokens", headers=headers).get_json()
    assert all("secret" not in t for t in listed) and secret not in str(listed)
    new_headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=new_headers).status_code == 200
    assert client.delete(f"/api/v1/tokens/{row.id}", headers=new_headers).status_code == 200
    assert_error(client.get("/api/v1/me", headers=new_headers), 401)
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # other tokens keep working


def test_users_cannot_revoke_someone_elses_token(client, make_account):
    _, alice = make_account("author")
    _, bob = make_account("author")
    token_id = client.post("/api/v1/tokens", json={}, headers=alice).get_json()["token"]["id"]
    assert_error(client.delete(f"/api/v1/tokens/{token_id}", headers=bob), 404)


def test_admin_manages_users_and_roles_through_the_api(client, make_account):
    admin, admin_h = make_account("admin")
    _, author_h = make_account("author")
    assert_error(client.post("/api/v1/users", json={"email": "x@example.org", "role": "admin"}, headers=author_h), 403)
    assert_error(client.get("/api/v1/users", headers=author_h), 403)
    created = client.post("/api/v1/users", json={"email": "Eva@Example.org", "role": "evaluator"}, headers=admin_h)
    assert created.status_code == 201, created.get_json()
    user = created.get_json()
    assert user["email"] == "eva@example.org" and user["role"] == "evaluator"
    assert_error(client.post("/api/v1/users", json={"email": "eva@example.org", "role": "author"}, headers=admin_h),
                 409)
    body = assert_error(client.post("/api/v1/users", json={"email": "nope", "role": "god"}, headers=admin_h), 422)
    assert {"email", "role"} <= set(body["errors"])
    promoted = client.patch(f"/api/v1/users/{user['id']}", json={"role": "author"}, headers=admin_h)
    assert promoted.get_json()["role"] == "author"
    assert_error(client.patch(f"/api/v1/users/{admin.id}", json={"active": False}, headers=admin_h), 422)
    emails = [u["email"] for u in client.get("/api/v1/users", headers=admin_h).get_json()]
    assert "eva@example.org" in emails


def test_deactivated_users_lose_access(client, make_account):
    _, admin_h = make_account("admin")
    user, user_h = make_account("author")
    assert client.patch(f"/api/v1/users/{user.id}", json={"active": False}, headers=admin_h).status_code == 200
    assert_error(client.get("/api/v1/me", headers=user_h), 401)


def test_organisations_and_author_membership(client, make_account):
    _, admin_h = make_account("admin")
    created = client.post("/api/v1/organisations", headers=admin_h,
                          json={"slug": "hdh", "name": "Health Data Hub", "kind": "data_platform"})
    assert created.status_code == 201
    assert_error(client.post("/api/v1/organisations", headers=admin_h,
                             json={"slug": "x", "name": "X", "kind": "guild"}), 422)
    _, author_h = make_account("author", organisation="hdh")
    algo = create_algorithm(client, author_h)
    assert algo["organisation"] == {"slug": "hdh", "name": "Health Data Hub", "kind": "data_platform"}
    assert [o["slug"] for o in client.get("/api/v1/organisations").get_json()] == ["hdh"]


def test_audit_log_records_state_changes_and_is_admin_only(client, make_account, model_zip):
    _, admin_h = make_account("admin")
    _, author_h = make_account("author")
    algo = create_algorithm(client, author_h)
    upload_version(client, author_h, algo["slug"], "1.0.0", model_zip)
    client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/publish", headers=author_h)
    client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/yank", json={"reason": "bug"}, headers=author_h)
    assert_error(client.get("/api/v1/audit-log", headers=author_h), 403)
    log = client.get("/api/v1/audit-log", query_string={"object_ref": f"{algo['slug']}@1.0.0"}, headers=admin_h)
    events = log.get_json()["items"]
    assert [e["action"] for e in events] == ["version.yanked", "version.published", "version.created"]
    published = events[1]
    assert len(published["details"]["card_sha256"]) == 64
    assert published["details"]["manifest"] and all(len(d) == 64 for _, d in published["details"]["manifest"])


def test_audit_log_is_append_only_in_the_database(session, make_account):
    make_account("author")
    event_id = session.execute(select(AuditEvent.id).limit(1)).scalar_one()
    for statement in ("UPDATE audit_event SET action = 'forged' WHERE id = :id", "DELETE FROM audit_event WHERE id = :id"):
        nested = session.begin_nested()
        try:
            session.execute(text(statement), {"id": event_id})
        except Exception as exc:  # noqa: BLE001 - driver-specific error classes
            assert "append-only" in str(exc)
            nested.rollback()
        else:
            raise AssertionError(f"{statement!r} was accepted")
    assert session.execute(select(AuditEvent.action).where(AuditEvent.id == event_id)).scalar_one() == "user.created"
