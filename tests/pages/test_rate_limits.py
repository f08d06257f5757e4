"""Failed sign-ins and failed API tokens are rate-limited per account and per client, and logged once per window."""

from __future__ import annotations

import os
import re
import time

import pytest

from boas.registry import accounts
from registry_db.models import AuditEvent
from tests.conftest import BACKENDS
from tests.pages.conftest import committed_app, csrf_of
from tests.pages.content import PASSWORD

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("BOAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")  # as in tests/e2e/test_jobs.py


def _events(app, action: str) -> list[AuditEvent]:
    from sqlalchemy import select

    with app.extensions["boas"].session_factory() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
                    .scalars())


def _user(app, email: str, role: str = "author"):
    with app.extensions["boas"].session_factory() as s:
        user = accounts.create_user(s, None, email=email, role=role, bootstrap=True, password=PASSWORD)
        return user.id, accounts.create_token(s, None, user_email=email, bootstrap=True).secret


def _sign_in(client, email: str, password: str, lang: str = "fr", **environ):
    token = csrf_of(client.get(f"/{lang}/login"))
    return client.post(f"/{lang}/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_overrides=environ)


@pytest.fixture(params=BACKENDS)
def limited_app(request, tmp_path):
    apps = []

    def _make(**overrides):
        app, close = committed_app(tmp_path / str(len(apps)), request.param, **overrides)
        apps.append(close)
        return app

    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    yield _make
    for close in apps:
        close()


def test_thirty_failed_sign_ins_in_a_minute_get_429s_and_one_audit_row(limited_app):
    """The issue: 30 wrong passwords were all 401 in 7.2 s, then the right password worked, with 30 rows."""
    app = limited_app()
    email = "victim@example.org"
    _user(app, email)
    client = app.test_client()
    started = time.monotonic()
    statuses = [_sign_in(client, email, "not the password!").status_code for _ in range(30)]
    assert statuses == [401] * 5 + [429] * 25  # BOAS_SIGNIN_ACCOUNT_LIMIT: 5 per minute
    assert time.monotonic() - started < 60
    assert len(_events(app, "login.failed")) == 1  # not 30: one row per account, client and window

    refused = _sign_in(client, email, PASSWORD)  # the right password, during the lockout
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert "Trop de tentatives" in page and "même avec le bon mot de passe" in page
    assert "frame-ancestors 'none'" in refused.headers["Content-Security-Policy"]
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    english = _sign_in(app.test_client(), email, PASSWORD, lang="en")
    assert english.status_code == 429 and "Too many attempts" in english.get_data(as_text=True)
    assert client.get("/fr/workspace").status_code == 302  # not signed in


def test_after_the_window_the_right_password_works_and_the_next_row_carries_the_count(limited_app):
    app = limited_app(signin_account_limit="5 per 20 seconds")
    email = "patient@example.org"
    _user(app, email)
    client = app.test_client()
    started = time.monotonic()
    statuses = [_sign_in(client, email, "wrong password!").status_code for _ in range(8)]
    last_failure = time.monotonic()
    assert last_failure - started < 20, "the machine is too slow for a 20-second window"
    assert statuses == [401] * 5 + [429] * 3
    [first] = _events(app, "login.failed")
    assert first.object_ref == email and first.details == {"client": "127.0.0.1", "count": 1, "throttled": 0,
                                                             "window_seconds": 20}
    assert _sign_in(client, email, PASSWORD).status_code == 429  # the right password waits too
    time.sleep(max(0.0, last_failure + 20.3 - time.monotonic()))
    assert _sign_in(client, email, PASSWORD).status_code == 303  # the window has passed
    assert _sign_in(app.test_client(), email, "wrong again!!").status_code == 401  # opens the next window
    rows = _events(app, "login.failed")
    assert len(rows) == 2 and rows[1].details["count"] == 5 and rows[1].details["throttled"] == 4


def test_one_client_trying_many_accounts_is_stopped_by_the_client_limit(limited_app):
    app = limited_app(auth_client_limit="10 per minute", trusted_proxies=1)
    client = app.test_client()
    statuses = [_sign_in(client, f"guess{i}@example.org", "wrong password!",
                         REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code for i in range(25)]
    assert statuses == [401] * 10 + [429] * 15
    assert len(_events(app, "login.failed")) == 10  # bounded by the limit, whatever the accounts tried
    other = _sign_in(client, "guess0@example.org", "wrong password!", REMOTE_ADDR="10.0.0.1",
                     HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert other.status_code == 401  # another client behind the same trusted proxy is not locked out
    assert _events(app, "login.failed")[-1].details["client"] == "198.51.100.9"


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(limited_app):
    app = limited_app(auth_client_limit="5 per minute")  # BOAS_TRUSTED_PROXIES=0, the default
    client = app.test_client()
    statuses = [_sign_in(client, f"a{i}@example.org", "wrong password!",
                         HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2  # a forged header does not make a new client
    assert {e.details["client"] for e in _events(app, "login.failed")} == {"127.0.0.1"}


def test_failed_api_tokens_are_limited_per_client_with_the_json_error_shape(limited_app):
    app = limited_app(auth_client_limit="20 per minute")
    _, secret = _user(app, "robot@example.org")
    api = app.test_client()
    bad = {"Authorization": "Bearer boas_not-a-real-token"}
    statuses = [api.get("/api/v1/me", headers=bad).status_code for _ in range(30)]
    assert statuses == [401] * 20 + [429] * 10
    refused = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})  # valid, same client
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["code"] == "too_many_requests" and body["status"] == 429 and body["errors"] == {}
    assert "try again in" in body["message"] and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "frame-ancestors 'none'" in refused.headers["Content-Security-Policy"]
    rows = _events(app, "token.failed")
    assert len(rows) == 1 and rows[0].object_ref == "127.0.0.1" and rows[0].details["count"] == 1
    other = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"},
                    environ_overrides={"REMOTE_ADDR": "192.0.2.44"})
    assert other.status_code == 200  # other clients keep working
    assert api.get("/api/v1/algorithms").status_code == 200  # no token, no credential check: not limited


def test_a_wrong_current_password_counts_as_a_failed_sign_in(limited_app):
    app = limited_app(auth_client_limit="3 per minute")
    _user(app, "owner@example.org")
    client = app.test_client()
    assert _sign_in(client, "owner@example.org", PASSWORD).status_code == 303
    token = csrf_of(client.get("/fr/workspace/tokens"))
    form = {"current_password": "guess guess guess", "new_password": "a brand new passphrase", "csrf_token": token}
    statuses = [client.post("/fr/workspace/password", data=form).status_code for _ in range(5)]
    assert statuses == [422] * 3 + [429] * 2
    assert len(_events(app, "login.failed")) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_counters_are_shared_through_redis_between_processes(tmp_path, backend):
    """Two app instances (two gunicorn workers) on one Redis: a lockout on one holds on the other."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, close_first = committed_app(tmp_path / "a", backend, ratelimit_storage_url=REDIS_URL)
    second, close_second = committed_app(tmp_path / "b", backend, ratelimit_storage_url=REDIS_URL)
    try:
        for app in (first, second):
            _user(app, "shared@example.org")
        statuses = [_sign_in(first.test_client(), "shared@example.org", "wrong password!").status_code
                    for _ in range(5)]
        assert statuses == [401] * 5
        assert _sign_in(second.test_client(), "shared@example.org", PASSWORD).status_code == 429
        assert any(b"signin-account" in key for key in connection.keys("*"))
    finally:
        connection.flushdb()
        close_first()
        close_second()


def test_the_limiter_storage_follows_the_queue_unless_set():
    from boas.config import SettingsError, load_settings

    assert load_settings({}).ratelimit_storage_url == "memory://"
    assert load_settings({"BOAS_QUEUE_URL": "redis://cache:6379/2"}).ratelimit_storage_url == "redis://cache:6379/2"
    assert load_settings({"BOAS_QUEUE_URL": "redis://cache:6379/2",
                          "BOAS_RATELIMIT_STORAGE_URL": "memory://"}).ratelimit_storage_url == "memory://"
    with pytest.raises(SettingsError, match="BOAS_SIGNIN_ACCOUNT_LIMIT"):
        load_settings({"BOAS_SIGNIN_ACCOUNT_LIMIT": "five a minute"})
    with pytest.raises(SettingsError, match="BOAS_RATELIMIT_STORAGE_URL"):
        load_settings({"BOAS_RATELIMIT_STORAGE_URL": "memcached://x"})


def test_ipv6_clients_are_counted_per_64_block():
    from flask import Flask

    from boas.throttle import client_address

    app = Flask(__name__)
    for remote, expected in [("2001:db8:1:2::1", "2001:db8:1:2::/64"), ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
                             ("::ffff:192.0.2.1", "192.0.2.1"), ("192.0.2.1", "192.0.2.1")]:
        with app.test_request_context(environ_base={"REMOTE_ADDR": remote}):
            assert client_address() == expected, remote
    assert re.fullmatch(r"[0-9.]+", "192.0.2.1")


def test_with_redis_down_the_limits_fall_back_to_memory_and_nothing_fails(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app, close = committed_app(tmp_path, "sqlite", ratelimit_storage_url=f"redis://127.0.0.1:{port}/0")
    try:
        _user(app, "fallback@example.org")
        client = app.test_client()
        statuses = [_sign_in(client, "fallback@example.org", "wrong password!").status_code for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2  # limited in this process's memory meanwhile
        assert len(_events(app, "login.failed")) == 5  # without the shared counters, each failure is logged
        assert app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer x"}).status_code == 401
    finally:
        close()
