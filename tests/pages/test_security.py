"""Browser-session security: CSRF, cookie flags, session rotation, no cookie on /api/, headers, error pages."""

from __future__ import annotations

import re

from boas.registry import algorithms
from tests.pages.conftest import committed_app, csrf_of, sign_in
from tests.pages.content import PASSWORD, make_user

SESSION_COOKIE = "session"


def _cookie_header(response, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set"
    return headers[-1]


def _cookie_value(client, name: str = SESSION_COOKIE) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def _algorithm_count(app, user_email: str) -> int:
    from registry_db import store

    with app.extensions["boas"].session_factory() as s:
        user = store.get_user_by_email(s, user_email)
        return algorithms.list_algorithms(s, user, filters={}, q=None, page=1, per_page=1, mine=True).total


def test_a_post_without_a_valid_csrf_token_is_a_400_and_changes_nothing(signed_in, site_app, content):
    client = signed_in("author")
    before = _algorithm_count(site_app, content.users["author"])
    form = {"slug": "csrf-victim", "name": "CSRF", "summary": "should not exist", "kind": "rule_based"}
    missing = client.post("/en/workspace/algorithms/new", data=form)
    wrong = client.post("/en/workspace/algorithms/new", data={**form, "csrf_token": "forged"})
    for response in (missing, wrong):
        assert response.status_code == 400
        assert response.mimetype == "text/html" and "Request refused" in response.get_data(as_text=True)
    assert _algorithm_count(site_app, content.users["author"]) == before
    token = csrf_of(client.get("/en/workspace/algorithms/new"))
    accepted = client.post("/en/workspace/algorithms/new", data={**form, "csrf_token": token})
    assert accepted.status_code == 303
    assert _algorithm_count(site_app, content.users["author"]) == before + 1


def test_login_and_logout_forms_need_the_token_too(site_app, content):
    client = site_app.test_client()
    refused = client.post("/en/login", data={"email": content.users["author"], "password": PASSWORD})
    assert refused.status_code == 400
    assert client.get("/en/workspace").status_code == 302  # not signed in
    assert sign_in(client, content.users["author"]).status_code == 303
    assert client.post("/en/logout").status_code == 400
    assert client.get("/en/workspace").status_code == 200  # still signed in


def test_session_cookie_flags(site_app, content):
    client = site_app.test_client()
    response = sign_in(client, content.users["author"])
    header = _cookie_header(response, SESSION_COOKIE)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    lang = _cookie_header(client.get("/en/"), "boas_lang")
    assert "SameSite=Lax" in lang and "HttpOnly" in lang


def test_cookies_are_secure_when_served_over_tls(tmp_path, model_zip):
    app, close = committed_app(tmp_path, "sqlite", secure_cookies=True)
    try:
        with app.extensions["boas"].session_factory() as s:
            user = make_user(s, "author")
        client = app.test_client()
        token = csrf_of(client.get("/en/login", base_url="https://localhost"))
        response = client.post("/en/login", base_url="https://localhost",
                               data={"email": user.email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303
        assert "Secure" in _cookie_header(response, SESSION_COOKIE)
        assert "Secure" in _cookie_header(client.get("/fr/", base_url="https://localhost"), "boas_lang")
    finally:
        close()


def test_signing_in_rotates_the_session(site_app, content):
    client = site_app.test_client()
    before_token = csrf_of(client.get("/en/login"))
    before_cookie = _cookie_value(client)
    assert before_cookie
    response = client.post("/en/login", data={"email": content.users["author"], "password": PASSWORD,
                                              "csrf_token": before_token})
    assert response.status_code == 303
    after_cookie = _cookie_value(client)
    after_token = csrf_of(client.get("/en/workspace"))
    assert after_cookie != before_cookie and after_token != before_token
    stale = client.post("/en/workspace/tokens", data={"name": "x", "csrf_token": before_token})
    assert stale.status_code == 400  # the pre-login token died with the old session


def test_signing_out_revokes_the_session_server_side(site_app, content):
    client = site_app.test_client()
    sign_in(client, content.users["evaluator"])
    stolen = _cookie_value(client)
    token = csrf_of(client.get("/en/workspace"))
    assert client.post("/en/logout", data={"csrf_token": token}).status_code == 303
    replay = site_app.test_client()
    replay.set_cookie(SESSION_COOKIE, stolen)
    response = replay.get("/en/workspace")
    assert response.status_code == 302 and "/en/login" in response.headers["Location"]


def test_failed_logins_do_not_reveal_whether_the_account_exists(site_app, content):
    bodies = []
    for email in (content.users["author"], "nobody-at-all@example.org"):
        client = site_app.test_client()
        token = csrf_of(client.get("/en/login"))
        response = client.post("/en/login", data={"email": email, "password": "wrong password!", "csrf_token": token})
        assert response.status_code == 401
        bodies.append(re.sub(r'value="[^"]*"', "", response.get_data(as_text=True)))
    assert bodies[0] == bodies[1]
    assert "Wrong e-mail address or password." in bodies[0]


def test_the_api_never_accepts_the_session_cookie(signed_in, site_app, content):
    client = signed_in("author")
    assert client.get("/en/workspace").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    before = _algorithm_count(site_app, content.users["author"])
    response = client.post("/api/v1/algorithms", json={"slug": "via-cookie", "name": "x", "summary": "x",
                                                       "kind": "rule_based"})
    assert response.status_code == 401 and response.get_json()["code"] == "unauthenticated"
    assert _algorithm_count(site_app, content.users["author"]) == before


def test_next_parameter_is_not_an_open_redirect(site_app, content):
    client = site_app.test_client()
    token = csrf_of(client.get("/en/login"))
    response = client.post("/en/login?next=//evil.example/x", data={
        "email": content.users["author"], "password": PASSWORD, "csrf_token": token, "next": "https://evil.example"})
    assert response.status_code == 303 and response.headers["Location"] == "/en/workspace"


def _fill(rule, content) -> str | None:
    values = {"lang": "en", "slug": content.ml_slug, "version": "1.2.0", "job_id": str(content.job_id),
              "token_id": "1", "user_id": "1", "filename": "boas.css", "path": "MLmodel", "name": "card.json",
              "dataset_id": str(content.dataset_id)}
    if rule.endpoint in ("audits.drift_report", "pages.job_report"):
        values["job_id"] = str(content.drift_job_id)
    url = rule.rule
    for argument in rule.arguments:
        if argument not in values:
            return None
        url = re.sub(rf"<(?:[^:<>]+:)?{argument}>", values[argument], url)
    return url


def test_every_page_sends_the_security_headers(signed_in, site_app, content):
    client = signed_in("admin")
    checked = 0
    for rule in site_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = _fill(rule, content)
        if url is None:
            continue
        response = client.get(url)
        assert response.status_code < 500, url
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", url
        assert headers.get("Referrer-Policy"), url
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src" in csp or "sandbox" in csp, url
        if rule.endpoint == "audits.drift_report":  # bearer tokens only: the cookie does not open it
            assert response.status_code == 404, url
        elif rule.endpoint == "pages.job_report":  # the only page that may be framed, same-origin and sandboxed
            assert response.status_code == 200 and "frame-ancestors 'self'" in csp and "sandbox" in csp
        else:
            assert "frame-ancestors 'none'" in csp, url
            assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, url
        checked += 1
    assert checked >= 40


def test_page_posts_all_require_csrf_and_a_session(site_app):
    anonymous = site_app.test_client()
    token = csrf_of(anonymous.get("/en/login"))
    posts = [r for r in site_app.url_map.iter_rules() if "POST" in r.methods and r.endpoint.startswith("pages.")]
    assert len(posts) >= 15
    for rule in posts:
        url = re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: {"lang": "en", "slug": "x", "version": "1.0.0"}.get(
            m.group(1), "1"), rule.rule)
        assert anonymous.post(url, data={}).status_code == 400, url
        if rule.endpoint not in ("pages.login", "pages.logout"):
            with_token = anonymous.post(url, data={"csrf_token": token})
            assert with_token.status_code == 302 and "/login" in with_token.headers["Location"], url


def test_error_pages_are_html_for_pages_and_json_for_the_api(signed_in, site_app):
    client = site_app.test_client()
    missing = client.get("/fr/nulle-part")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert '<html lang="fr">' in missing.get_data(as_text=True) and "Page introuvable" in missing.get_data(as_text=True)
    api = client.get("/api/v1/algorithms/nulle-part")
    assert api.status_code == 404 and api.get_json()["code"] == "not_found"
    forbidden = signed_in("author").get("/en/admin/users")
    assert forbidden.status_code == 403 and "Access refused" in forbidden.get_data(as_text=True)
    assert client.post("/api/v1/algorithms", json={}).get_json()["code"] == "unauthenticated"


def test_a_session_expires_server_side_and_is_never_an_api_token(site_app, content):
    from datetime import timedelta

    from sqlalchemy import update

    from boas.registry.accounts import hash_token
    from registry_db.models import ApiToken, utcnow

    client = site_app.test_client()
    sign_in(client, content.users["author"])
    with client.session_transaction() as stored:
        secret = stored["tok"]
    assert client.get("/en/workspace").status_code == 200
    api = site_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401  # a stolen session cookie does not open the API
    with site_app.extensions["boas"].session_factory() as s:
        s.execute(update(ApiToken).where(ApiToken.token_hash == hash_token(secret))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert client.get("/en/workspace").status_code == 302  # expired: back to the sign-in page
