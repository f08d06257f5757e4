"""Public pages over HTTP: catalogue, algorithm and card pages, suppression, sanitisation, feed, sitemap."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser

from boas.registry import algorithms, lifecycle, versions
from tests.pages.content import card_json, make_user

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def result_names(response) -> list[str]:
    return re.findall(r'<h2><a href="/\w\w/algorithms/[^"]+">([^<]+)</a></h2>', text_of(response))


def test_catalogue_searches_filters_and_counts(site_app, content):
    client = site_app.test_client()
    everything = client.get("/en/algorithms")
    assert everything.status_code == 200
    assert "Diabète traité (ciblage SNDS)" in result_names(everything)
    assert "Risque d'hospitalisation à un an" in result_names(everything)
    searched = client.get("/en/algorithms?q=antidiab%C3%A9tiques")
    assert result_names(searched) == ["Diabète traité (ciblage SNDS)"]
    assert "1 algorithm found" in text_of(searched)
    filters = {"objective=risk_prediction": "Risque", "clinical_domain=diabetes": "Diabète", "language=sas": "Diabète",
               "validation_status=validated": "Risque", "maintenance_status=ad_hoc": "Diabète",
               "audited=yes": "Diabète", "audited=no": "Risque", "kind=ml_model": "Risque",
               "data_source=snds_base_principale": None, "author_type=research_body": None}
    for query, expected in filters.items():
        names = result_names(client.get(f"/en/algorithms?{query}&q={content.ml_slug[-6:]}"))
        if expected is None:
            assert len(names) == 2, query
        else:
            assert len(names) == 1 and names[0].startswith(expected), (query, names)
    assert result_names(client.get(f"/en/algorithms?author_type=hospital&q={content.ml_slug[-6:]}")) == []


def test_catalogue_results_show_version_and_badges_and_sort(site_app, content):
    client = site_app.test_client()
    page = text_of(client.get(f"/en/algorithms?q={content.ml_slug[-6:]}&sort=name"))
    assert "Latest version 1.2.0" in page and "Latest version 1.0.0" in page
    assert "Bias audit: " in page and "No published bias audit" in page  # the outcome, never just "audited"
    assert "Validated" in page and "Being validated" in page
    by_name = result_names(client.get(f"/en/algorithms?q={content.ml_slug[-6:]}&sort=name"))
    assert by_name == sorted(by_name)
    recent = result_names(client.get(f"/en/algorithms?q={content.ml_slug[-6:]}&sort=recent"))
    assert recent[0] == "Diabète traité (ciblage SNDS)"  # published last
    assert client.get("/en/algorithms?page=oops&sort=nonsense&objective=bogus").status_code == 200


def test_catalogue_paginates(site_app, content):
    runtime = site_app.extensions["boas"]
    with runtime.session_factory() as s:
        author = make_user(s, "author")
        for i in range(21):
            algorithms.create_algorithm(s, author, {"slug": f"pagination-{i:02d}-{content.ml_slug[-6:]}",
                                                  "name": f"Pagination {i:02d}", "summary": "paged",
                                                  "kind": "rule_based"})
    client = site_app.test_client()
    # Drafts only: invisible to the public, so the public count does not move.
    assert result_names(client.get("/en/algorithms?q=pagination")) == []
    from tests.pages.conftest import sign_in

    sign_in(client, author.email)
    first = client.get("/en/algorithms?q=pagination&sort=name")
    assert "21 algorithms found" in text_of(first) and "page 1 of 2" in text_of(first)
    assert len(result_names(first)) == 20
    second = client.get("/en/algorithms?q=pagination&sort=name&page=2")
    assert result_names(second) == ["Pagination 20"]
    assert 'rel="prev"' in text_of(second)


def test_algorithm_page_shows_owners_organisation_versions_and_yank_reason(site_app, content):
    page = text_of(site_app.test_client().get(f"/fr/algorithms/{content.ml_slug}"))
    assert "Laboratoire Données de Santé" in page and "Claire Dubois" in page
    assert "Erreur de calibration chez les plus de 85 ans" in page
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        assert f"/fr/algorithms/{content.ml_slug}/{version}" in page
    assert "2.0.0-rc.1" not in page  # the draft stays private
    assert "Dernière fiche\u202f: version 1.2.0" in page
    assert "Recalibrée sur 2022." in page  # the latest card's sections


def test_card_page_has_every_part(site_app, content):
    client = site_app.test_client()
    response = client.get(f"/en/algorithms/{content.ml_slug}/1.2.0")
    assert response.status_code == 200
    page = text_of(response)
    for heading in ("Quality baseline", "Framework coverage", "Intended use", "Training data", "Performance",
                    "Bias and fairness", "Artifacts and digests", "Downloads", "Versions and changes"):
        assert f">{heading}<" in page, heading
    for framework in ("EU AI Act, Annex IV", "ONC HTI-1", "TRIPOD+AI", "CHAI Applied Model Card"):
        assert framework in page
    assert re.search(r"Score: \d+% of the items", page)
    for name in ("card.json", "card.md", "citation.bib", "CITATION.cff"):
        link = f"/api/v1/algorithms/{content.ml_slug}/versions/1.2.0/exports/{name}?lang=en"
        assert link in page
        assert client.get(link).status_code == 200
    digest = re.search(r'<td class="digest">([0-9a-f]{64})</td>', page).group(1)
    assert len(digest) == 64
    assert f"/api/v1/algorithms/{content.ml_slug}/versions/1.2.0/artifacts/MLmodel" in page
    assert f"/en/algorithms/{content.ml_slug}/1.2.0/diff" in page
    assert "0.79 – 0.83" in page or re.search(r"\d\.\d+ – \d\.\d+", page)  # performance with its interval


def test_yanked_card_states_the_reason_and_diff_lists_changes(site_app, content):
    client = site_app.test_client()
    yanked = text_of(client.get(f"/en/algorithms/{content.ml_slug}/1.1.0"))
    assert "This version was withdrawn" in yanked and "Erreur de calibration" in yanked
    diff = text_of(client.get(f"/en/algorithms/{content.ml_slug}/1.2.0/diff"))
    assert "What changed in version 1.2.0" in diff
    assert "limitations" in diff and "Recalibrée sur 2022." in diff and "Calibration à revoir." in diff
    assert client.get(f"/en/algorithms/{content.ml_slug}/1.2.0/diff?from=9.9.9").status_code == 404


def test_public_card_page_suppresses_small_groups(site_app, content, signed_in):
    page = text_of(site_app.test_client().get(f"/en/algorithms/{content.rule_slug}/1.0.0"))
    assert 'role="img"' in page and "<title id=" in page and "<desc id=" in page
    assert "tolerance band" in page
    for region, count in content.small_groups.items():
        rows = re.findall(rf"<th scope=\"row\"[^>]*>{re.escape(region)}</th>\s*<td>(.*?)</td>", page, re.S)
        assert rows, region
        assert all("masked" in cell and not re.search(r"\d", cell) for cell in rows), (region, rows[:1])
        assert f">{count}<" not in "".join(rows)
    evaluator_view = text_of(signed_in("evaluator").get(f"/en/workspace/jobs/{content.job_id}"))
    region, count = next(iter(content.small_groups.items()))
    full_rows = re.findall(rf"<th scope=\"row\"[^>]*>{re.escape(region)}</th>\s*<td>(.*?)</td>", evaluator_view, re.S)
    assert full_rows and full_rows[0].strip() == str(count)


def test_card_states_the_verdict_rule_and_each_reason_in_both_languages(site_app, content, signed_in):
    client = site_app.test_client()
    en = text_of(client.get(f"/en/algorithms/{content.rule_slug}/1.0.0"))
    fr = text_of(client.get(f"/fr/algorithms/{content.rule_slug}/1.0.0"))
    assert "Koopman's score interval" in en and "intervalle de score de Koopman" in fr
    assert re.search(r"after Holm's adjustment over the \d+ judged comparisons", en)
    assert re.search(r"après l’ajustement de Holm sur les \d+ comparaisons jugées", fr)
    assert "The interval overlaps a boundary of the tolerance band." in en
    assert "L’intervalle chevauche une limite de la bande de tolérance." in fr
    # A small group's comparison is masked on the public card (its reason would bound a hidden cell) ...
    assert "describe fewer than 11 people: they are not published." in en
    assert "décrivent moins de 11\u00a0personnes\u00a0: ils ne sont pas publiés." in fr
    # ... and its full reason, sizes included, is the evaluator's to read.
    evaluator = signed_in("evaluator")
    own_en = text_of(evaluator.get(f"/en/workspace/jobs/{content.job_id}"))
    own_fr = text_of(evaluator.get(f"/fr/workspace/jobs/{content.job_id}"))
    assert re.search(r"Too few people to judge: \d+ in the group and [\d,]+ in the reference group", own_en)
    assert "Trop peu de personnes pour juger\u00a0:" in own_fr
    assert "{'code'" not in en and "interval_straddles" not in en  # data rendered, never dumped
    # A masked row's reason writes out no figure computed from its cells.
    for region in content.small_groups:
        for row in re.findall(rf"<th scope=\"row\"[^>]*>{re.escape(region)}</th>(.*?)</tr>", en, re.S):
            why = re.findall(r"<td>(.*?)</td>", row, re.S)[-1]
            assert not re.search(r"\d", why.replace("30 people", "").replace("11 people", "")), why  # thresholds only


def test_reasons_render_every_code_and_old_results(site_app):
    from boas.pages import charts, verdict_text

    reasons = [
        ({"code": "small_group", "group_n": 12, "reference_n": 400, "needed": 30}, "12 in the group and 400"),
        ({"code": "small_group", "needed": 30}, "fewer than 30 people"),  # numbers dropped by suppression
        ({"code": "metric_undefined", "where": "reference"}, "undefined in the reference group"),
        ({"code": "interval_within"}, "lies within"),
        ({"code": "interval_outside", "side": "above"}, "above the tolerance band, even after adjustment for the 7 "),
        ({"code": "not_significant_after_adjustment", "side": "below", "detectable_below": 0.61,
          "detectable_above": None, "power": 0.8, "group_n_needed": 640}, "About 640 people"),
        ({"code": "interval_straddles", "detectable_below": 0.55, "detectable_above": 1.8, "power": 0.8,
          "group_n_needed": None, "scale_needed": 3.2}, "about 3.2 times larger"),
        ("group has 7 and reference 90 individuals", "group has 7"),  # a result stored before this format
    ]
    with site_app.test_request_context("/en/"):
        site_app.preprocess_request()
        for reason, expected in reasons:
            assert expected in verdict_text.reason_text(reason, comparisons=7), reason
        assert "640" not in verdict_text.reason_text(reasons[5][0], sizes_masked=True)
        assert "0.61" not in verdict_text.reason_text(reasons[5][0], values_masked=True)
        assert verdict_text.rule_paragraphs({"rule": "old free text"}) == ["old free text"]
        feature = {
            "name": "g", "reference_group": "a", "reference_key": '{"g":"a"}',
            "groups": [{"group": "a", "key": '{"g":"a"}', "count": 500, "metrics": {"fpr": {"value": 0.0}}},
                       {"group": "1", "key": '{"g":1}', "count": 400, "metrics": {"fpr": {"value": 0.1}}}],
            "disparities": [{"group": "1", "key": '{"g":1}', "metric": "fpr", "verdict": "fail",
                             "verdict_unadjusted": "fail", "p_value": 0.0001, "p_adjusted": 0.0002,
                             "ratio": {"value": None, "ci_low": 3.5, "ci_high": None, "ci_high_unbounded": True},
                             "reason": {"code": "interval_outside", "side": "above"}}],
        }
        row = charts.metric_chart(feature, "fpr", (0.8, 1.25), 0.95, comparisons=3)["rows"][1]
        assert row["ratio_text"] == "[3.5 – ∞]" and row["undefined"] and row["verdict"] == "fail"
        assert row["p_text"] == "p < 0.001, after adjustment p < 0.001"
    with site_app.test_request_context("/fr/"):
        site_app.preprocess_request()
        assert "12 dans le groupe" in verdict_text.reason_text(reasons[0][0])


def test_markdown_on_the_card_page_is_sanitised(site_app, content):
    runtime = site_app.extensions["boas"]
    hostile = ("<script>alert('x')</script> [clic](javascript:alert(1)) <img src=x onerror=alert(2)> "
               "<a href=\"https://example.org\" onclick=\"steal()\">lien</a>\n\n[doc](https://example.org/doc)")
    with runtime.session_factory() as s:
        author = make_user(s, "author")
        slug = f"hostile-{content.rule_slug[-6:]}"
        algorithms.create_algorithm(s, author, {"slug": slug, "name": "Hostile", "summary": "x", "kind": "rule_based",
                                              "description": hostile, "license": "MIT",
                                              "code_repository_url": "https://example.org/x", "code_commit": "abcdef1"})
        versions.create_version(s, author, runtime.storage, slug, version="1.0.0",
                                card_json=card_json(limitations=hostile))

        lifecycle.publish_version(s, author, runtime.policy, slug, "1.0.0")
    page = site_app.test_client().get(f"/en/algorithms/{slug}/1.0.0").get_data(as_text=True)
    audit = TagAudit()
    audit.feed(page)
    assert audit.scripts == [], audit.scripts  # this page loads no script at all
    assert audit.handlers == [] and audit.bad_urls == []
    assert "&lt;script&gt;alert(" in page  # the author's raw HTML is shown as text, not run
    assert '<a href="https://example.org/doc" rel="noopener noreferrer nofollow">doc</a>' in page  # safe links stay


class TagAudit(HTMLParser):
    """Collects what would execute: script elements, event-handler attributes, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.bad_urls, self.texts = [], [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(("javascript:", "data:")):
                self.bad_urls.append((tag, value))

    def handle_data(self, data):
        self.texts.append(data)


def test_atom_feed_parses_and_lists_published_versions(site_app, content):
    response = site_app.test_client().get("/en/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)  # noqa: S314 - our own server's output
    assert feed.tag == f"{ATOM}feed" and feed.find(f"{ATOM}updated") is not None
    links = {e.find(f"{ATOM}link").get("href") for e in feed.findall(f"{ATOM}entry")}
    expected = {f"/en/algorithms/{content.ml_slug}/1.0.0", f"/en/algorithms/{content.ml_slug}/1.2.0",
                f"/en/algorithms/{content.rule_slug}/1.0.0"}
    paths = {re.sub(r"^https?://[^/]+", "", link) for link in links}
    assert expected <= paths
    assert f"/en/algorithms/{content.ml_slug}/1.1.0" not in paths  # yanked
    assert not [p for p in paths if "2.0.0-rc.1" in p]  # draft
    for entry in feed.findall(f"{ATOM}entry"):
        assert entry.find(f"{ATOM}id").text and entry.find(f"{ATOM}published").text


def test_sitemap_lists_algorithm_and_card_urls_in_both_languages(site_app, content):
    response = site_app.test_client().get("/sitemap.xml")
    assert response.status_code == 200
    sitemap = ET.fromstring(response.data)  # noqa: S314 - our own server's output
    locs = {re.sub(r"^https?://[^/]+", "", loc.text) for loc in sitemap.iter(f"{SITEMAP}loc")}
    for lang in ("fr", "en"):
        assert f"/{lang}/algorithms/{content.ml_slug}" in locs
        assert f"/{lang}/algorithms/{content.ml_slug}/1.2.0" in locs
        assert f"/{lang}/algorithms/{content.ml_slug}/1.1.0" in locs  # yanked cards stay readable
        assert f"/{lang}/algorithms/{content.rule_slug}/1.0.0" in locs
    assert not [loc for loc in locs if "2.0.0-rc.1" in loc]
    robots = site_app.test_client().get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: http" in robots and "Disallow: /fr/workspace" in robots


def test_citable_urls_resolve_to_the_readers_language(site_app, content):
    client = site_app.test_client()
    response = client.get(f"/algorithms/{content.ml_slug}/1.2.0", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/en/algorithms/{content.ml_slug}/1.2.0")
    assert client.get(f"/algorithms/{content.ml_slug}").headers["Location"].endswith(f"/algorithms/{content.ml_slug}")


def test_drafts_are_not_public(site_app, content):
    client = site_app.test_client()
    assert client.get(f"/en/algorithms/{content.ml_slug}/2.0.0-rc.1").status_code == 404
    assert client.get("/en/algorithms/no-such-algorithm").status_code == 404


def test_the_card_page_builds_the_card_document_once_per_request(site_app, content, signed_in, monkeypatch):
    from boas.registry import cards

    built = []
    original = cards.get_document

    def counted(*args, **kwargs):
        view = original(*args, **kwargs)
        built.append(view.version.version)
        return view

    monkeypatch.setattr(cards, "get_document", counted)
    assert site_app.test_client().get(f"/fr/algorithms/{content.ml_slug}/1.2.0").status_code == 200
    assert built == ["1.2.0"]  # published: the frozen snapshot, read once
    built.clear()
    author = signed_in("author")
    assert author.get(f"/en/algorithms/{content.ml_slug}/2.0.0-rc.1").status_code == 200
    assert built == ["2.0.0-rc.1"]  # a draft: the live document, built once for the card, checklist and coverage


def test_the_card_opens_on_a_summary_with_separate_signals_and_the_audits_first(site_app, content):
    client = site_app.test_client()
    page = text_of(client.get(f"/en/algorithms/{content.rule_slug}/1.0.0"))
    summary = page[page.index('<section class="summary"'):page.index("</section>", page.index('<section class="summary"'))]
    assert "Identifie les personnes traitées pour un diabète" in summary  # what it does
    assert "Status" in summary and "Published on" in summary
    assert 'id="audit-summary"' in summary and 'id="documentation-summary"' in summary  # two signals
    assert re.search(r'badge-outcome-(failed|insufficient|passed)"><span class="badge-icon" aria-hidden="true">'
                     r"[✗?✓]</span> Bias audit: ", summary)  # colour, icon and text
    assert "Documentation: " in summary and "quality baseline items are filled in" in summary
    # the sidebar (identity, versions, downloads, citation) follows the summary once, then the audits come first
    assert page.index('<section class="summary"') < page.index('<aside class="card-aside"') < page.index('id="facts"') \
        < page.index('id="audits"') < page.index('id="baseline"')
    baseline = page[page.index('id="baseline"'):page.index('id="artifacts"')]
    assert baseline.count("<details") >= 2  # pillars and frameworks fold away
    never = client.get(f"/en/algorithms/{content.ml_slug}/1.2.0").get_data(as_text=True)
    assert "badge-outcome-not_audited" in never and "No published bias audit" in never


def test_result_badges_follow_the_public_outcome(site_app, content):
    client = site_app.test_client()
    audit = client.get(f"/api/v1/algorithms/{content.rule_slug}/versions/1.0.0/audits").get_json()
    failed = [a for a in audit if a["kind"] == "bias" and a["result"]["verdicts"]["fail"]]
    for url in (f"/en/algorithms?q={content.ml_slug[-6:]}", "/en/"):
        page = text_of(client.get(url))
        item = page[page.index(f"/en/algorithms/{content.rule_slug}\""):]
        item = item[:item.index("</li>\n", item.index('class="result-outcome"'))]
        expected = "badge-outcome-failed" if failed else "badge-outcome-"
        assert expected in item and "badge-audited" not in item, url
        assert "(version 1.0.0)" in item
        if failed:
            assert "badge-outcome-passed" not in item  # a failed audit is never green


def test_card_downloads_list_the_exchange_formats_in_both_languages(site_app, content):
    client = site_app.test_client()
    for lang, label in (("fr", "Fiche au format {}"), ("en", "Card as {}")):
        for version, status in (("1.2.0", "current"), ("1.1.0", "superseded")):  # 1.1.0 is yanked
            page = client.get(f"/{lang}/algorithms/{content.ml_slug}/{version}").get_data(as_text=True)
            for name, shown in (("fhir-bundle.json", "FHIR R5"), ("chai-model-card.json", "CHAI")):
                link = f"/api/v1/algorithms/{content.ml_slug}/versions/{version}/exports/{name}?lang={lang}"
                assert link in page and label.format(shown) in page, (lang, version, name)
                response = client.get(link)
                assert response.status_code == 200, (link, response.get_json())
            bundle = client.get(f"/api/v1/algorithms/{content.ml_slug}/versions/{version}/exports/fhir-bundle.json")
            statuses = [e["resource"].get("status") for e in bundle.get_json(force=True)["entry"]
                        if e["resource"]["resourceType"] == "DocumentReference"]
            assert statuses == [status]


def _aside(page: str) -> str:
    start = page.index('<aside class="card-aside"')
    return page[start:page.index("</aside>", start)]


def test_the_card_sidebar_holds_identity_versions_downloads_and_citation_once(site_app, content):
    """One sidebar, named, after the summary: what the version is, its siblings, every download and a citation."""
    from tests.pages.french import english_in, typography_faults

    client = site_app.test_client()
    base = f"/api/v1/algorithms/{content.ml_slug}/versions/1.2.0/exports"
    for lang, words in (("en", ("About this version", "Identity", "Published", "Organisation", "Owners", "License",
                                "Cite this version", "Digest of the published card (SHA-256):", "[health algorithm]",
                                "Citation as BibTeX", "The model archive, as uploaded")),
                        ("fr", ("À propos de cette version", "Identité", "Publiée", "Organisme", "Responsables",
                                "Licence", "Citer cette version", "Empreinte de la fiche publiée (SHA-256)\u00a0:",
                                "[algorithme de santé]", "Citation au format BibTeX", "L’archive du modèle, telle que"
                                " déposée"))):
        response = client.get(f"/{lang}/algorithms/{content.ml_slug}/1.2.0")
        html = response.get_data(as_text=True)
        assert html.count("<aside") == 1 and 'aria-labelledby="aside-title"' in html  # moved, not copied
        for anchor in ('id="facts"', 'id="history"', 'id="downloads"', 'id="citation"'):
            assert html.count(anchor) == 1, anchor
        aside = unescape(_aside(html))
        for word in words:
            assert word in aside, (lang, word)
        assert "Laboratoire Données de Santé" in aside and "Claire Dubois" in aside and "Apache-2.0" in aside
        # versions: the current one marked, the others linked, and the diff with the previous one
        current = re.search(r'<a href="([^"]+)" aria-current="page"><strong>1\.2\.0</strong></a>', aside)
        assert current and current.group(1) == f"/{lang}/algorithms/{content.ml_slug}/1.2.0"
        for other in ("1.1.0", "1.0.0"):
            assert f'<a href="/{lang}/algorithms/{content.ml_slug}/{other}">{other}</a>' in aside
        assert "Erreur de calibration chez les plus de 85 ans" in aside  # the yanked one says why
        assert f"/{lang}/algorithms/{content.ml_slug}/1.2.0/diff" in aside
        assert "2.0.0-rc.1" not in aside  # the public never sees the draft
        # downloads: every card format and the archive, each of which answers; citation files beside the citation
        downloads = aside[aside.index('id="downloads"'):aside.index('id="citation"')]
        citing = aside[aside.index('id="citation"'):]
        for name in ("card.json", "card.md", "card.html", "fhir-bundle.json", "chai-model-card.json"):
            assert f"{base}/{name}?lang={lang}" in downloads and name not in citing, name
        for name in ("citation.bib", "CITATION.cff"):
            assert f"{base}/{name}?lang={lang}" in citing and name not in downloads, name
        archive = f"/api/v1/algorithms/{content.ml_slug}/versions/1.2.0/archive"
        assert archive in downloads and html.count(archive) == 1
        for link in re.findall(r'href="(/api/[^"]+)"', aside):
            assert client.get(unescape(link)).status_code == 200, link
        # the citation: authors, year, title, version, citable URL and the digest recorded at publication
        digest = client.get(f"/api/v1/algorithms/{content.ml_slug}/versions/1.2.0").get_json()["card_sha256"]
        text = re.sub(r"<[^>]+>", "", aside[aside.index('id="citation-text"'):].split("</p>", 1)[0])
        year = re.search(r"\((\d{4})\)", text)
        assert text.startswith('id="citation-text">Claire Dubois, Laboratoire Données de Santé (') and year
        assert "Risque d&#39;hospitalisation à un an, version 1.2.0" in text or \
            "Risque d'hospitalisation à un an, version 1.2.0" in unescape(text)
        assert f"/algorithms/{content.ml_slug}/1.2.0" in text and digest in text and len(digest) == 64
        if lang == "fr":  # the test algorithm's own name is typed with a straight apostrophe: data, not ours
            own = _aside(html).replace("Risque d&#39;hospitalisation", "Risque d’hospitalisation")
            assert typography_faults(own) == [] and english_in(own) == []
    # a yanked version says when in its identity; a draft has no download and no citation yet
    yanked = unescape(_aside(client.get(f"/fr/algorithms/{content.ml_slug}/1.1.0").get_data(as_text=True)))
    assert "Retirée le" in yanked and "Retirée" in yanked


def test_a_draft_preview_has_a_sidebar_without_downloads_or_citation(site_app, content, signed_in):
    author = signed_in("author")
    html = author.get(f"/en/algorithms/{content.ml_slug}/2.0.0-rc.1").get_data(as_text=True)
    aside = _aside(html)
    assert 'id="facts"' in aside and 'id="history"' in aside and "2.0.0-rc.1" in aside
    assert 'id="downloads"' not in html and 'id="citation"' not in html and "/exports/" not in html
