"""The public walk in Chromium: search and filter, the card with its chart, a download, the language switch."""

from __future__ import annotations

import json
import re

from tests.e2e.browser.conftest import screenshot


def test_search_filter_card_chart_download_and_language_switch(page, server):
    content = server.content
    page.goto(server.url + "/")
    page.wait_for_url("**/fr/")  # the browser asks for French
    assert page.locator("html").get_attribute("lang") == "fr"
    page.keyboard.press("Tab")  # keyboard users first meet the skip link, which moves focus to the content
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # visible focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    screenshot(page, "home-fr")

    page.fill("#home-q", "diabète")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/fr/algorithms?q=*")
    assert page.locator("p.count").inner_text().startswith("1 algorithme trouvé")
    page.fill("#q", "")
    assert not page.locator("#filter-clinical_domain").is_visible()  # the filters fold behind a button
    page.click("details.filters-fold > summary")
    page.select_option("#filter-clinical_domain", "diabetes")
    page.select_option("#filter-audited", "yes")
    page.click("text=Appliquer les filtres")
    page.wait_for_url(re.compile(r".*clinical_domain=diabetes.*"))
    results = page.locator("ul.results > li h2 a")
    assert results.count() == 1 and results.first.inner_text() == "Diabète traité (ciblage SNDS)"
    assert page.locator("ul.results .result-outcome").first.inner_text().startswith(("✗ Audit de biais", "✓ Audit de biais",
                                                                                     "? Audit de biais"))
    screenshot(page, "catalogue-fr")

    results.first.click()
    page.wait_for_url(f"**/fr/algorithms/{content.rule_slug}")
    page.click("text=Ouvrir la fiche complète de la version 1.0.0")
    page.wait_for_url(f"**/fr/algorithms/{content.rule_slug}/1.0.0")
    assert page.title().startswith("Diabète traité (ciblage SNDS), version 1.0.0")
    assert page.locator("meta[name=description]").get_attribute("content").startswith("Fiche de Diabète traité")

    chart = page.locator("svg[role=img]").first
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    labelled_by = chart.get_attribute("aria-labelledby").split()
    assert page.locator(f"#{labelled_by[0]}").text_content().startswith("Taux de sélection selon sex")
    assert "Bande de tolérance" in page.locator(f"#{labelled_by[1]}").text_content()
    assert page.locator("table.data-table caption").first.inner_text().startswith("Données du graphique")
    screenshot(page, "card-chart-fr", full_page=False)
    assert page.locator("iframe.report-frame").count() == 0  # the public reads the drift summary table
    assert "histogrammes" in page.locator("p.notice", has_text="Evidently").first.inner_text()
    screenshot(page, "card-fr")

    with page.expect_download() as download_info:
        page.click("text=Fiche au format JSON")
    download = download_info.value
    assert download.suggested_filename == f"{content.rule_slug}-1.0.0-card.json"
    document = json.loads(download.path().read_text(encoding="utf-8"))
    assert document["algorithm"]["slug"] == content.rule_slug and document["version"]["version"] == "1.0.0"

    page.click("a.lang-switch")
    page.wait_for_url(f"**/en/algorithms/{content.rule_slug}/1.0.0")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#baseline").inner_text() == "Quality baseline"
    screenshot(page, "card-en")
    page.goto(server.url + "/")
    page.wait_for_url("**/en/")  # the switch is remembered, over the browser's French
    assert page.problems.csp_violations() == []
