"""Published cards are rendered once and revalidated cheaply; a new audit or a yank makes a new page."""

from __future__ import annotations

import io
import uuid

from boas.registry import accounts, algorithms, lifecycle, versions
from boas.registry.storage import Upload
from tests.pages.conftest import sign_in
from tests.pages.content import bias_audit, card_json, code_zip, make_user


def test_a_published_card_is_cacheable_and_revalidates_with_304(site_app, content):
    client = site_app.test_client()
    url = f"/fr/algorithms/{content.rule_slug}/1.0.0"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"].startswith("public, max-age=")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified
    # the only cookie a cached page may carry is the URL's language, the same for every reader
    assert [c.split(";")[0] for c in first.headers.getlist("Set-Cookie")] in ([], ["boas_lang=fr"])
    assert client.get(url).get_data() == first.get_data()  # the same bytes, from the cache
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        again = client.get(url, headers=headers)
        assert again.status_code == 304 and again.get_data() == b"", headers
        assert again.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(f"/en/algorithms/{content.rule_slug}/1.0.0").headers["ETag"] != etag  # one page per language
    assert "ETag" not in client.get(url + "?x=1").headers  # a query string is not served from the cache


def test_signed_in_readers_keep_private_pages(site_app, content):
    client = site_app.test_client()
    assert sign_in(client, content.users["evaluator"]).status_code == 303
    page = client.get(f"/fr/algorithms/{content.rule_slug}/1.0.0")
    assert page.status_code == 200 and "ETag" not in page.headers
    assert page.headers["Cache-Control"].startswith("private")


def test_an_audit_or_a_yank_changes_the_etag_and_the_page(site_app):
    runtime = site_app.extensions["boas"]
    suffix = uuid.uuid4().hex[:6]
    s = runtime.session_factory()
    author = make_user(s, "author")
    evaluator = make_user(s, "evaluator")
    slug = f"cache-{suffix}"
    algorithms.create_algorithm(s, author, {"slug": slug, "name": f"Cache {suffix}", "summary": "Cache.",
                                            "kind": "rule_based", "license": "EUPL-1.2",
                                            "code_repository_url": "https://gitlab.example.org/cache",
                                            "code_commit": "abcdef1"})
    for version in ("1.0.0", "1.0.1"):
        versions.create_version(s, author, runtime.storage, slug, version=version, card_json=card_json(),
                                code=Upload(io.BytesIO(code_zip()), "code.zip"))
        lifecycle.publish_version(s, author, runtime.policy, slug, version)
    client = site_app.test_client()
    url = f"/fr/algorithms/{slug}/1.0.0"
    before = client.get(url)
    assert "badge-outcome-not_audited" in before.get_data(as_text=True)
    bias_audit(site_app, s, evaluator, slug, "1.0.0", seed=11)
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "badge-outcome-not_audited" not in after.get_data(as_text=True)  # the audit shows at once
    lifecycle.yank_version(s, author, slug, "1.0.1", "Erreur de test")
    yanked = client.get(url, headers={"If-None-Match": after.headers["ETag"]})  # the history lists 1.0.1 withdrawn
    assert yanked.status_code == 200 and yanked.headers["ETag"] != after.headers["ETag"]
    # The evaluator of record renamed by an admin: the cached page would name them wrongly.
    admin = make_user(s, "admin")
    accounts.update_user(s, admin, evaluator.id, name=f"Renommée {suffix}")
    renamed = client.get(url, headers={"If-None-Match": yanked.headers["ETag"],
                                       "If-Modified-Since": yanked.headers["Last-Modified"]})
    assert renamed.status_code == 200 and renamed.headers["ETag"] != yanked.headers["ETag"]
    assert f"Renommée {suffix}" in renamed.get_data(as_text=True)
    s.close()


def test_a_catalogue_page_counts_its_results_in_the_query_that_lists_them(site_app, content):
    from sqlalchemy import event

    statements: list[str] = []
    engine = site_app.extensions["boas"].engine

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        page = site_app.test_client().get(f"/fr/algorithms?q={content.ml_slug[-6:]}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert page.status_code == 200 and "2 algorithmes trouvés" in page.get_data(as_text=True)
    counts = [s for s in statements if "count(" in s]
    assert len(counts) == 1 and "over (" in counts[0], counts


def test_hostile_conditional_headers_get_the_page_or_a_304_never_an_error(site_app, content):
    client = site_app.test_client()
    url = f"/en/algorithms/{content.rule_slug}/1.0.0"
    first = client.get(url)
    etag = first.headers["ETag"]
    hostile = [
        {"If-None-Match": "*"},  # any representation: a 304 is a correct answer
        {"If-None-Match": f'W/{etag}, "x", {etag}'},
        {"If-None-Match": '"' + "a" * 8000 + '"'},
        {"If-None-Match": "\x7f\x01garbage"},
        {"If-Modified-Since": "not a date"},
        {"If-Modified-Since": "Tue, 31 Feb 99999 25:61:61 GMT"},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Modified-Since": "Fri, 31 Dec 9999 23:59:59 GMT", "If-None-Match": '"other"'},
    ]
    for headers in hostile:
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 304), (headers, response.status_code)
        if response.status_code == 200:
            assert response.get_data() == first.get_data(), headers
        else:
            assert response.get_data() == b"", headers
    # A validator that does not match never gets a 304, whatever the date says (If-None-Match wins).
    stale = client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": first.headers["Last-Modified"]})
    assert stale.status_code == 200
