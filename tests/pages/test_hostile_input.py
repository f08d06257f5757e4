"""Every page under hostile query strings and form fields: a 4xx or the page, never a 5xx, always the headers.

The URLs come from crawling the site (public, and signed in as each role), one per route; the forms are every
POST route of the pages, submitted with a valid CSRF token and hostile values in every field it reads.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.pages.conftest import csrf_of

HUGE = "9" * 5000
LONG = "é" * 5_000  # past every column and form limit but one
# Query strings, already encoded, that reached url_for, int() or PostgreSQL in earlier versions.
HOSTILE_QUERIES = {
    "huge page": f"page={HUGE}",  # past Python's 4,300-digit int() limit: a ValueError
    "page past 64 bits": "page=99999999999999999999",  # parses, then overflows an SQL OFFSET
    "negative page": "page=-1",
    "NUL": "q=%00&action=%00&from=%00",
    "NUL in a name": "%00=1",
    "invalid UTF-8": "q=%FF%FE%C3&sort=%C3%28",
    "invalid UTF-8 name": "%FF%FE=1",
    "very long value": "q=" + quote(LONG),
    "repeated parameters": "&".join(["kind=ml_model"] * 200),
    "unknown choices": "kind=__class__&sort=__init__&author_type=x&audited=maybe&lang=../../etc",
    "array syntax": "kind[]=ml_model&page[$gt]=1",
}
# Names url_for reserves for itself: reading them from request.args is the bug the edge session fixes.
RESERVED_QUERIES = {
    "_anchor": "_anchor=x",
    "_method": "_method=POST",
    "_scheme": "_scheme=javascript&_external=1",
    "_external": "_external=1",
}
HOSTILE_VALUES = {"NUL": "a\x00b", "huge number": HUGE, "very long": LONG, "negative": "-1", "blank": " ",
                  "markup": "<script>alert(1)</script>", "non-number": "1e999"}
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")


RULE_ARGUMENT = re.compile(r"<(?:[^:>]+:)?([a-z_]+)>")


def _page_urls(app, content) -> list[str]:
    """French URLs of every GET page route, filled with the seeded content's identifiers (both versions)."""
    urls = set()
    for version in ("1.2.0", "2.0.0-rc.1"):  # a published card and a draft
        values = {"lang": "fr", "slug": content.ml_slug, "version": version, "job_id": str(content.job_id),
                  "user_id": "1"}
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or set()) or rule.rule.startswith(("/api/", "/static")):
                continue
            if rule.rule.endswith(("/report", "/logout")) or "<path:" in rule.rule:
                continue
            urls.add(RULE_ARGUMENT.sub(lambda m, values=values: values.get(m.group(1), "x"), rule.rule))
    return sorted(urls)


def _assert_answered(response, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code}"
    for header in SECURITY_HEADERS:
        assert header in response.headers, f"{what}: no {header}"


def _pages(site_app, signed_in, content) -> list[tuple[object, str, str]]:
    # the admin reaches every workspace page an author or an evaluator reaches, and the admin pages
    clients = [("public", site_app.test_client()), ("admin", signed_in("admin"))]
    urls = _page_urls(site_app, content)
    return [(client, f"{role} {url}", url) for role, client in clients for url in urls]


def test_every_page_answers_hostile_query_strings_without_a_server_error(site_app, signed_in, content):
    pages = _pages(site_app, signed_in, content)
    assert len(pages) > 2 * 25
    for client, label, url in pages:
        for name, query in HOSTILE_QUERIES.items():
            _assert_answered(client.get(f"{url}?{query}"), f"{label} ?{name}")


def test_every_page_ignores_the_names_url_for_reserves(site_app, signed_in, content):
    """Left to the edge session's fix (links built from known parameters only): fails until it is merged."""
    for client, label, url in _pages(site_app, signed_in, content):
        for name, query in RESERVED_QUERIES.items():
            response = client.get(f"{url}?{query}")
            _assert_answered(response, f"{label} ?{name}")
            assert "javascript:" not in response.get_data(as_text=True), f"{label} ?{name}"


def _form_routes(app) -> list[str]:
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if "POST" in (rule.methods or set()) and "lang" in rule.arguments})


def _fill(rule: str, content) -> str:
    values = {"lang": "fr", "slug": content.ml_slug, "version": "2.0.0-rc.1", "user_id": "1", "job_id": "1",
              "token_id": "999999"}
    return RULE_ARGUMENT.sub(lambda m: values.get(m.group(1), "x"), rule)


def test_every_form_answers_hostile_fields_without_a_server_error(site_app, signed_in, content):
    from boas.pages.evaluate import DATASHEET_OPTIONAL, DATASHEET_REQUIRED
    from boas.pages.forms import all_fields

    names = {"email", "password", "name", "role", "organisation", "active", "slug", "org_name", "kind", "summary",
             "description", "license", "code_repository_url", "code_commit", "owners", "version", "card",
             "card_from", "reason", "target", "dataset", "current_dataset", "predictions", "threshold", "tolerance",
             "min_group_size", "n_boot", "seed", "sensitive_features", "reference_group", "columns", "label_column",
             "row_key", "sensitive_columns", "intersections", "synthetic", "next", "current_password",
             "new_password", *DATASHEET_REQUIRED, *DATASHEET_OPTIONAL, *(field.name for field in all_fields())}
    routes = _form_routes(site_app)
    assert len(routes) >= 10, routes
    for role in ("admin",):  # every form accepts an admin, so every form reads its fields
        client = signed_in(role)
        token = csrf_of(client.get("/fr/workspace"))
        for rule in routes:
            if rule.endswith(("/logout", "/login")):
                continue  # sign-out ends this client's session; sign-in is crawled anonymously below
            path = _fill(rule, content)
            for label, value in HOSTILE_VALUES.items():
                form = dict.fromkeys(names, value) | {"csrf_token": token}
                _assert_answered(client.post(path, data=form), f"{role} POST {rule} {label}")
    anonymous = site_app.test_client()
    for label, value in HOSTILE_VALUES.items():
        token = csrf_of(anonymous.get("/fr/login"))
        response = anonymous.post("/fr/login", data={"email": value, "password": value, "next": value,
                                                     "csrf_token": token})
        _assert_answered(response, f"POST /fr/login {label}")
