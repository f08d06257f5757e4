"""Links are built from known parameters only, hosts can be pinned, and every error carries the security headers."""

from __future__ import annotations

import re

import pytest

from tests.pages.conftest import committed_app

RESERVED = ["_anchor=x", "_method=POST", "_scheme=https&_external=1", "_external=1", "_scheme=javascript",
            "_anchor=%00", "lang=de", "endpoint=pages.users", "values=1"]
EVIL_HOST = "evil.example"


def _assert_security_headers(response, where: str) -> None:
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert response.headers.get("X-Frame-Options") == "DENY", where


def _public_pages(content) -> list[str]:
    pages = ["/", "/fr/", "/en/", "/fr/algorithms", "/en/algorithms?q=risque&sort=recent", "/fr/login",
             f"/fr/algorithms/{content.ml_slug}", f"/en/algorithms/{content.ml_slug}/1.0.0",
             f"/fr/algorithms/{content.ml_slug}/diff", "/fr/feed.atom", "/sitemap.xml", "/robots.txt",
             f"/algorithms/{content.ml_slug}/1.0.0"]
    return pages


def test_reserved_query_parameters_never_reach_url_building(site_app, content):
    """``?_anchor``, ``?_method``, ``?_scheme&_external`` answered 500 on every page, without any header."""
    client = site_app.test_client()
    checked = 0
    for page in _public_pages(content):
        for query in RESERVED:
            url = f"{page}{'&' if '?' in page else '?'}{query}"
            response = client.get(url, headers={"Host": EVIL_HOST})
            assert response.status_code < 500, url
            _assert_security_headers(response, url)
            body = response.get_data(as_text=True)
            assert EVIL_HOST not in body and EVIL_HOST not in response.headers.get("Location", ""), url
            checked += 1
    assert checked == len(_public_pages(content)) * len(RESERVED)


def test_the_language_switch_keeps_the_query_as_text_and_the_route_as_it_is(site_app):
    body = site_app.test_client().get("/fr/algorithms?q=diab%C3%A8te&_external=1&_anchor=top",
                                      headers={"Host": EVIL_HOST}).get_data(as_text=True)
    links = re.findall(r'hreflang="en" href="([^"]+)"', body)
    assert links, "no alternate link"
    for link in links:
        assert link.startswith("/en/algorithms?"), link  # relative: the Host header is not in it
        assert "q=diab%C3%A8te" in link and "_external=1" in link.replace("&amp;", "&") and "#" not in link


def test_catalogue_pagination_links_carry_only_the_understood_filters(site_app, content):
    from boas.pages import public

    response = site_app.test_client().get("/en/algorithms?per_page=1&_method=POST&kind=nonsense&sort=recent&q=a")
    assert response.status_code == 200
    query = public.catalogue_query({"kind": "rule_based", "q": " x ", "audited": "no", "sort": "recent",
                                    "author_type": "hospital", "_anchor": "x", "page": "3"})
    assert public.catalogue_args(query) == {"kind": "rule_based", "q": "x", "author_type": "hospital",
                                            "audited": "no", "sort": "recent"}


def test_feed_sitemap_and_robots_use_the_public_base_url_not_the_host_header(site_app, content):
    client = site_app.test_client()
    for url in ("/fr/feed.atom", "/sitemap.xml", "/robots.txt"):
        body = client.get(url, headers={"Host": EVIL_HOST}).get_data(as_text=True)
        assert EVIL_HOST not in body, url
        assert "http://127.0.0.1:8000/" in body, url  # BOAS_PUBLIC_BASE_URL's default


def test_trusted_hosts_refuse_other_hosts_with_a_400_that_carries_the_headers(tmp_path):
    app, close = committed_app(tmp_path, "sqlite", trusted_hosts=("boas.example.org", ".boas.test"))
    try:
        client = app.test_client()
        for url in ("/fr/", "/api/v1/algorithms", "/sitemap.xml", "/nowhere"):
            refused = client.get(url, headers={"Host": EVIL_HOST})
            assert refused.status_code == 400, url
            _assert_security_headers(refused, url)
            assert EVIL_HOST not in refused.get_data(as_text=True) or url.startswith("/api/")
        assert client.get("/api/v1/algorithms", headers={"Host": EVIL_HOST}).get_json()["code"] == "bad_request"
        assert client.get("/fr/", headers={"Host": "boas.example.org"}).status_code == 200
        assert client.get("/fr/", headers={"Host": "www.boas.test:8443"}).status_code == 200
    finally:
        close()
    (tmp_path / "open").mkdir()
    open_app, close = committed_app(tmp_path / "open", "sqlite")  # the default: not enforced
    try:
        assert open_app.config["TRUSTED_HOSTS"] is None
        assert open_app.test_client().get("/fr/", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    finally:
        close()


def test_trusted_hosts_setting_is_validated():
    from boas.config import SettingsError, load_settings

    assert load_settings({"BOAS_TRUSTED_HOSTS": " Boas.Example.org , .example.net "}).trusted_hosts == (
        "boas.example.org", ".example.net")
    assert load_settings({}).trusted_hosts == ()
    with pytest.raises(SettingsError, match="BOAS_TRUSTED_HOSTS"):
        load_settings({"BOAS_TRUSTED_HOSTS": "https://boas.example.org/"})


def test_every_kind_of_error_carries_the_security_headers(tmp_path):
    """404 and 405 from Werkzeug, the API's JSON errors, a 500, and a 500 whose own error page fails."""
    app, close = committed_app(tmp_path, "sqlite")

    def boom():
        raise RuntimeError("a bug")

    app.add_url_rule("/fr/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        client = app.test_client()
        cases = {
            "page 404": client.get("/fr/nulle-part"), "bare 404": client.get("/nowhere/at/all"),
            "api 404": client.get("/api/v1/algorithms/nope"), "api 405": client.delete("/api/v1/algorithms"),
            "page 405": client.put("/fr/"), "api 401": client.post("/api/v1/algorithms", json={}),
            "page 500": client.get("/fr/boom"), "api 500": client.get("/api/v1/boom"),
        }
        expected = {"page 404": 404, "bare 404": 404, "api 404": 404, "api 405": 405, "page 405": 405,
                    "api 401": 401, "page 500": 500, "api 500": 500}
        for name, response in cases.items():
            assert response.status_code == expected[name], name
            _assert_security_headers(response, name)
        assert cases["api 500"].get_json()["code"] == "internal_error"

        # The error page itself cannot render (here: its language switch breaks): still a 500 with headers.
        def broken(_lang):
            raise RuntimeError("the template helper fails too")

        app.jinja_env.globals["switch_url"] = broken
        for url in ("/fr/boom", "/fr/nulle-part", "/fr/"):
            response = client.get(url)
            assert response.status_code in (404, 500), url
            _assert_security_headers(response, url)
    finally:
        close()


def test_an_exception_escaping_flask_still_leaves_with_the_headers():
    from boas.security import SecurityHeaders

    def crashing_app(_environ, _start_response):
        raise RuntimeError("outside every handler")

    captured = {}

    def start_response(status, headers, exc_info=None):
        captured.update(status=status, headers=dict(headers))

    body = b"".join(SecurityHeaders(crashing_app)({}, start_response))
    assert captured["status"].startswith("500") and body.startswith(b"500")
    assert captured["headers"]["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in captured["headers"]["Content-Security-Policy"]
