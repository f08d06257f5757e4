"""The demo registry in Chromium, as a patient meets it: the truth at the top of the card, on any screen."""

from __future__ import annotations

import pytest

from tests.e2e.browser.conftest import screenshot

pytestmark = pytest.mark.slow

VIEWPORTS = {"desktop": (1366, 900), "mobile": (390, 844)}
BIASED_CARD = "/{lang}/algorithms/readmission-30-jours/0.9.0"


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


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_card_sidebar_stands_beside_the_card_on_a_desktop_and_below_the_summary_on_a_phone(browser, demo_url,
                                                                                                lang):
    """One <aside>, named: beside the main column at 1366 and 1024 px, after the summary at 390 px; no sideways
    scroll, chart labels of 12 px or more, and axe finds no serious or critical violation with it in any layout."""
    from axe_playwright_python.sync_playwright import Axe

    from tests.e2e.browser.test_accessibility import RULES

    url, _app = demo_url
    # 1024 px: the narrowest screen with the sidebar beside the card, where the main column is narrowest too
    for viewport, (width, height) in (*VIEWPORTS.items(), ("laptop", (1024, 768))):
        context = browser.new_context(locale=f"{lang}-FR", viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            page.goto(url + BIASED_CARD.format(lang=lang))
            aside = page.get_by_role("complementary", name="À propos de cette version" if lang == "fr"
                                     else "About this version")
            assert aside.count() == 1 and page.locator("aside").count() == 1
            box, summary = aside.bounding_box(), page.locator("section.summary").bounding_box()
            body, audits = page.locator(".card-body").bounding_box(), page.locator("#audits").bounding_box()
            if viewport != "mobile":
                assert box["x"] >= body["x"] + body["width"], (box, body)  # to the right of the main column
                assert box["y"] < summary["y"] + summary["height"]  # beside the head of the card, not under it
                assert box["width"] >= 280 and box["x"] + box["width"] <= width
            else:
                assert box["y"] >= summary["y"] + summary["height"], (box, summary)  # folded below the summary
                assert box["y"] + box["height"] <= audits["y"]  # and before the body of the card
                assert abs(box["x"] - summary["x"]) < 2 and box["width"] <= width
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
            assert page.evaluate(SMALLEST_LABEL) >= 12  # charts keep their 12 px labels beside the sidebar too
            assert aside.locator("[aria-current=page]").inner_text() == "0.9.0"
            citation = aside.locator("#citation-text").inner_text()
            assert "(20" in citation and "0.9.0" in citation and "/algorithms/readmission-30-jours/0.9.0" in citation
            results = Axe().run(page, options=RULES)
            blocking = [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in results.response["violations"]
                        if v["impact"] in ("serious", "critical")]
            assert blocking == [], blocking
            screenshot(page, f"demo-card-sidebar-{lang}-{viewport}")
        finally:
            context.close()
