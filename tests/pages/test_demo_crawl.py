"""The demo registry, as a newcomer meets it: every link reachable from its home page answers."""

from __future__ import annotations

import pytest

from boas.demo import Demo, seed_demo
from tests.pages.conftest import committed_app
from tests.pages.test_crawl import _check, crawl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """The demo content computed for real: models trained, audits and a drift report run in the sandbox."""
    app, close = committed_app(tmp_path_factory.mktemp("demo"), "sqlite", require_bias_audit=True)
    runtime = app.extensions["boas"]
    messages: list[str] = []
    assert runtime.policy.require_bias_audit
    demo = Demo(runtime=runtime, log=messages.append)
    assert seed_demo(demo) is True
    assert seed_demo(demo) is False  # a registry with content is left alone
    yield app, messages
    close()


def test_demo_fills_the_registry_with_living_content(demo_app):
    app, messages = demo_app
    client = app.test_client()
    assert not [m for m in messages if "failed" in m], messages
    catalogue = client.get("/api/v1/algorithms").get_json()
    assert catalogue["total"] >= 4
    kinds = {a["kind"] for a in catalogue["items"]}
    assert kinds == {"ml_model", "rule_based"}
    versions = client.get("/api/v1/algorithms/ciblage-diabete-traite/versions").get_json()
    assert {v["state"] for v in versions} == {"published", "yanked"}
    audits = client.get("/api/v1/algorithms/readmission-30-jours/versions/0.9.0/audits").get_json()
    failed = {(f["feature"], f["group"]) for a in audits for f in a["result"]["verdicts"]["failed"]}
    assert ("sex", "F") in failed  # the known bias is flagged
    drift = client.get("/api/v1/algorithms/hospitalisation-non-programmee/versions/1.1.0/audits").get_json()
    assert any(a["kind"] == "drift" and a["has_report"] for a in drift)


def test_the_demo_history_is_an_intact_hash_chain(demo_app):
    """Issue 13: the audit log of a fresh demo verifies, and the public head names its last event."""
    from boas.registry import audit_log

    app, _messages = demo_app
    with app.extensions["boas"].session_factory() as session:
        report = audit_log.verify_audit_log(session)
    head = app.test_client().get("/api/v1/audit-log/head").get_json()
    assert report.ok, report.broken
    assert report.count > 30 and (report.count, report.head_hash) == (head["count"], head["head_hash"])


def test_no_link_reachable_from_the_demo_home_page_fails(demo_app):
    app, _messages = demo_app
    seen = crawl(app.test_client())
    _check(seen)
    assert len(seen) > 40
    assert not [url for url in seen if url.endswith("/report")]  # the detailed report is not public


def test_every_french_demo_page_reads_in_french_with_french_typography(demo_app):
    """Crawled from /fr/: no English sentinel, and no high punctuation, guillemet or apostrophe set the English way."""
    from tests.pages.french import english_in, typography_faults

    app, _messages = demo_app
    client = app.test_client()
    english, typography, pages = {}, {}, 0
    for url, (status, _referrer) in crawl(client, "/fr/").items():
        if not url.startswith("/fr/") or status != 200:
            continue
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        pages += 1
        html = response.get_data(as_text=True)
        if found := english_in(html):
            english[url] = found[:5]
        if found := typography_faults(html):
            typography[url] = found[:5]
    assert pages > 20
    assert english == {}
    assert typography == {}


def test_each_demo_card_describes_its_own_algorithm_and_its_changes_follow_the_numbers(demo_app):
    app, _messages = demo_app
    client = app.test_client()
    cards = {}
    for slug, version in (("hospitalisation-non-programmee", "1.1.0"), ("readmission-30-jours", "0.9.0"),
                          ("ciblage-diabete-traite", "1.0.1"), ("cartographie-insuffisance-renale", "0.9.0")):
        document = client.get(f"/api/v1/algorithms/{slug}/versions/{version}/exports/card.json").get_json()
        cards[slug] = document.get("card") or document
    uses = {slug: card["intended_use"]["primary_uses"] for slug, card in cards.items()}
    assert len(set(uses.values())) == 4, uses  # four algorithms, four intended uses
    assert "30 jours" in uses["readmission-30-jours"] and "DCIR" in uses["ciblage-diabete-traite"]
    assert "rénale" in uses["cartographie-insuffisance-renale"]
    assert cards["readmission-30-jours"]["intended_population"]["setting"] == "hospital"
    # the change summary's words follow the two versions' measured ROC AUC
    before = client.get("/api/v1/algorithms/hospitalisation-non-programmee/versions/1.0.0/exports/card.json").get_json()
    auc = [next(m["value"] for m in (c.get("card") or c)["performance_metrics"] if m["name"] == "ROC AUC")
           for c in (before, cards["hospitalisation-non-programmee"])]
    summary = cards["hospitalisation-non-programmee"]["model_details"]["change_summary"]
    expected = "améliorée" if auc[1] > auc[0] + 0.001 else ("en baisse" if auc[1] < auc[0] - 0.001 else "inchangée")
    assert expected in summary and f"{auc[1]:.4f}".replace(".", ",") in summary, (auc, summary)
    assert "A10A" in cards["ciblage-diabete-traite"]["model_details"]["change_summary"]


def _french_faults(client, starts: tuple[str, ...]) -> tuple[dict, dict, int]:
    from tests.pages.french import english_in, typography_faults

    english, typography, pages, seen = {}, {}, 0, set()
    for start in starts:
        for url, (status, _referrer) in crawl(client, start).items():
            if url in seen or not url.startswith("/fr/") or status != 200 or url.endswith("/logout"):
                continue
            seen.add(url)
            response = client.get(url)
            if response.mimetype != "text/html":
                continue
            pages += 1
            html = response.get_data(as_text=True)
            if found := english_in(html):
                english[url] = found[:5]
            if found := typography_faults(html):
                typography[url] = found[:5]
    return english, typography, pages


@pytest.mark.parametrize("role", ["author", "evaluator", "admin"])
def test_every_french_page_a_signed_in_role_reaches_reads_in_french(demo_app, role):
    """The workspace, the evaluator's pages and the admin pages, crawled signed in: no English sentinel and
    French typography, as for the public."""
    from boas.registry import accounts
    from registry_db import store
    from tests.pages.conftest import sign_in
    from tests.pages.content import PASSWORD, make_user

    app, _messages = demo_app
    emails = {"author": "claire.dubois@demo.boas.invalid", "evaluator": "evaluation@demo.boas.invalid"}
    with app.extensions["boas"].session_factory() as session:
        if role == "admin":
            email = make_user(session, "admin", name="Ada Administratrice").email
        else:
            email = emails[role]
            accounts.set_password(session, None, store.get_user_by_email(session, email).id, PASSWORD,
                                  bootstrap=True)
        session.commit()
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    english, typography, pages = _french_faults(client, ("/fr/workspace",))
    assert pages > 5
    assert english == {}
    assert typography == {}
