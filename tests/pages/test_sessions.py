"""A password change ends the account's other sessions; a role change ends its sessions and tokens unless kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from boas.registry import accounts
from registry_db.models import AuditEvent
from tests.conftest import BACKENDS
from tests.pages.conftest import committed_app, csrf_of
from tests.pages.content import PASSWORD

NEW_PASSWORD = "an entirely new passphrase"


@pytest.fixture(params=BACKENDS, scope="module")
def app(request, tmp_path_factory):
    application, close = committed_app(tmp_path_factory.mktemp("sessions"), request.param)
    yield application
    close()


_counter = iter(range(10_000))


def _account(app, role: str = "author") -> tuple[str, str]:
    """(e-mail, API token secret) of a new account with the test password."""
    email = f"{role}{next(_counter)}@example.org"
    with app.extensions["boas"].session_factory() as s:
        accounts.create_user(s, None, email=email, role=role, bootstrap=True, password=PASSWORD)
        return email, accounts.create_token(s, None, user_email=email, bootstrap=True).secret


def _browser(app, email: str, password: str = PASSWORD):
    client = app.test_client()
    token = csrf_of(client.get("/en/login"))
    response = client.post("/en/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303
    return client


def _signed_in(client) -> bool:
    return client.get("/en/workspace").status_code == 200


def _bearer(app, secret: str) -> int:
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def _revocations(app, email: str) -> list[dict]:
    with app.extensions["boas"].session_factory() as s:
        return [e.details for e in s.execute(select(AuditEvent).where(
            AuditEvent.action == "user.credentials_revoked", AuditEvent.object_ref == email).order_by(AuditEvent.id))
            .scalars()]


def _user_id(app, email: str) -> int:
    with app.extensions["boas"].session_factory() as s:
        from registry_db.models import User

        return s.execute(select(User.id).where(User.email == email)).scalar_one()


def test_changing_ones_password_signs_out_the_other_browsers_and_keeps_this_one(app):
    """The issue: a password change did not end the account's other browser sessions."""
    email, secret = _account(app)
    laptop, phone, stolen = _browser(app, email), _browser(app, email), _browser(app, email)
    token = csrf_of(laptop.get("/en/workspace/tokens"))
    response = laptop.post("/en/workspace/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                           "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200 and "other browser sessions are signed out" in response.get_data(as_text=True)
    assert _signed_in(laptop)  # the browser that changed it stays signed in
    assert not _signed_in(phone) and not _signed_in(stolen)
    assert _bearer(app, secret) == 200  # API tokens are separate credentials
    assert _revocations(app, email) == [{"reason": "password_changed", "sessions": 2, "tokens": 0}]
    assert _signed_in(_browser(app, email, NEW_PASSWORD))


def test_a_password_set_from_the_command_line_ends_every_session(app):
    email, _secret = _account(app)
    browser = _browser(app, email)
    with app.extensions["boas"].session_factory() as s:
        accounts.set_password_by_email(s, email, NEW_PASSWORD)
    assert not _signed_in(browser)
    assert _revocations(app, email) == [{"reason": "password_changed", "sessions": 1, "tokens": 0}]


def _admin_update(admin_client, user_id: int, role: str, **extra):
    token = csrf_of(admin_client.get("/en/admin/users"))
    return admin_client.post(f"/en/admin/users/{user_id}", data={"role": role, "active": "on", "csrf_token": token,
                                                                 **extra})


def test_a_role_change_on_the_admin_page_ends_sessions_and_tokens_by_default(app):
    admin_email, _ = _account(app, "admin")
    admin = _browser(app, admin_email)
    email, secret = _account(app, "admin")
    browser = _browser(app, email)
    assert "keep_credentials" in admin.get("/en/admin/users").get_data(as_text=True)  # the opt-out checkbox
    assert _admin_update(admin, _user_id(app, email), "author").status_code == 303
    assert not _signed_in(browser) and _bearer(app, secret) == 401  # a demoted admin keeps nothing
    assert _revocations(app, email) == [{"reason": "role_changed", "sessions": 1, "tokens": 1}]
    assert _signed_in(admin)


def test_the_admin_may_keep_them_and_an_unchanged_role_revokes_nothing(app):
    admin = _browser(app, _account(app, "admin")[0])
    email, secret = _account(app, "author")
    browser = _browser(app, email)
    assert _admin_update(admin, _user_id(app, email), "evaluator", keep_credentials="on").status_code == 303
    assert _signed_in(browser) and _bearer(app, secret) == 200
    assert _admin_update(admin, _user_id(app, email), "evaluator").status_code == 303  # same role: no change
    assert _signed_in(browser) and _revocations(app, email) == []


def test_the_api_ends_them_unless_end_sessions_is_false(app):
    _admin_email, admin_secret = _account(app, "admin")
    admin = {"Authorization": f"Bearer {admin_secret}"}
    api = app.test_client()
    kept_email, kept_secret = _account(app, "author")
    kept_browser = _browser(app, kept_email)
    response = api.patch(f"/api/v1/users/{_user_id(app, kept_email)}", json={"role": "evaluator",
                                                                           "end_sessions": False}, headers=admin)
    assert response.status_code == 200 and response.get_json()["role"] == "evaluator"
    assert _signed_in(kept_browser) and _bearer(app, kept_secret) == 200
    email, secret = _account(app, "author")
    browser = _browser(app, email)
    assert api.patch(f"/api/v1/users/{_user_id(app, email)}", json={"role": "evaluator"},
                     headers=admin).status_code == 200
    assert not _signed_in(browser) and _bearer(app, secret) == 401
    assert _revocations(app, email) == [{"reason": "role_changed", "sessions": 1, "tokens": 1}]
    refused = api.patch(f"/api/v1/users/{_user_id(app, email)}", json={"end_sessions": "maybe"}, headers=admin)
    assert refused.status_code == 422 and "end_sessions" in refused.get_json()["errors"]
