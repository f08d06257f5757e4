"""The demo registry in Chromium, as a patient meets it: the truth at the top of the card, on any screen."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from boas.demo import Demo, seed_demo
from tests.e2e.browser.conftest import screenshot
from tests.pages.conftest import committed_app

pytestmark = pytest.mark.slow

VIEWPORTS = {"desktop": (1366, 900), "mobile": (390, 844)}
BIASED_CARD = "/{lang}/algorithms/readmission-30-jours/0.9.0"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """The demo content computed for real, served by werkzeug on a free localhost port."""
    app, close = committed_app(tmp_path_factory.mktemp("demo-browser"), "sqlite", require_bias_audit=True)
    assert seed_demo(Demo(runtime=app.extensions["boas"], log=lambda _message: None))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="boas-demo-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", app
    httpd.shutdown()
    thread.join(timeout=10)
    close()


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_biased_model_shows_its_failed_audit_above_the_fold(browser, demo_url, viewport, lang):
    url, _app = demo_url
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(locale=f"{lang}-FR", viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(url + BIASED_CARD.format(lang=lang))
        summary = page.locator("#audit-summary")
        box = summary.bounding_box()
        assert box is not None and box["y"] < page.evaluate("innerHeight"), box  # read without scrolling
        text = summary.inner_text()
        assert "✗" in text
        if lang == "fr":
            assert "Audit de biais\u202f: écart hors tolérance" in text
            assert "la sensibilité chez les femmes vaut 0,27 fois celle observée chez les hommes (IC 95\u202f% " in text
        else:
            assert "sensitivity among women is 0.27 times that among men (95% CI " in text
        badge = page.locator("#audit-summary .badge-outcome")
        assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(206, 5, 0)"  # red, with icon and words
        assert page.locator("#documentation-summary").is_visible()  # the other signal, apart
        screenshot(page, f"demo-biased-card-{lang}-{viewport}", full_page=False)
    finally:
        context.close()


SMALLEST_LABEL = """() => Math.min(1e9, ...[...document.querySelectorAll('svg text')].filter(t => t.getClientRects().length)
    .map(t => parseFloat(getComputedStyle(t).fontSize) * t.closest('svg').getScreenCTM().a))"""


def test_no_page_scrolls_sideways_on_a_phone(browser, demo_url):
    """Every page crawled from the home page, in both languages, at 390 px: no horizontal scroll, chart labels
    of at least 12 px, and the catalogue's filters folded away."""
    from tests.pages.test_crawl import crawl

    url, app = demo_url
    pages = [u for u, (status, _r) in crawl(app.test_client(), "/").items()
             if status == 200 and u.startswith(("/fr/", "/en/")) and "/exports/" not in u and "feed" not in u]
    assert len(pages) > 40
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    page = context.new_page()
    wide, small = {}, {}
    try:
        for path in pages:
            response = page.goto(url + path)
            if not response or "text/html" not in (response.headers.get("content-type") or ""):
                continue
            sizes = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            if sizes[0] > sizes[1]:
                wide[path] = sizes
            if page.locator("svg text").count():
                smallest = page.evaluate(SMALLEST_LABEL)
                if smallest < 12:
                    small[path] = smallest
        page.goto(url + "/fr/algorithms")
        assert not page.locator("#filter-objective").is_visible()
        assert page.locator("ul.results").bounding_box()["y"] < 844  # results before the fold, filters folded
        screenshot(page, "demo-catalogue-fr-mobile", full_page=False)
    finally:
        context.close()
    assert wide == {}
    assert small == {}
