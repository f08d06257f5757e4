"""The signed-in walks in Chromium: an author publishes through the checklist; an evaluator audits and follows the job.

Each walk runs on a desktop (1366 px) and a phone (390 px), in French and in English: at every step the page
fits its width (nothing scrolls sideways) and a screenshot is saved.
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest

from audits.synth import generate_cohort
from boas.pages import forms
from model_cards.examples import load_example_card
from tests.e2e.browser.conftest import OVERFLOWING, PageProblems, screenshot, sign_in
from tests.pages.content import run_job

VIEWPORTS = {"desktop": (1366, 900), "mobile": (390, 844)}
# What the walks click and read, as each language says it.
WORDS = {
    "fr": {"register": "Enregistrer un algorithme", "save": "Enregistrer l’algorithme", "upload": "Déposer la version",
           "ready": "Tous les éléments obligatoires sont documentés", "publish": "Publier la version 1.0.0",
           "published": "Publiée le ", "dataset": "Déposer le jeu de données", "predictions": "Déposer les prédictions",
           "launch": "Lancer l’audit", "queued": "En attente", "finished": "Terminé", "full": "Résultats complets"},
    "en": {"register": "Register an algorithm", "save": "Register the algorithm", "upload": "Upload the version",
           "ready": "Every mandatory item is documented", "publish": "Publish version 1.0.0",
           "published": "Published on ", "dataset": "Upload the dataset", "predictions": "Upload the predictions",
           "launch": "Launch the audit", "queued": "Queued", "finished": "Finished", "full": "Full results"},
}


WALKS = [(viewport, lang) for viewport in sorted(VIEWPORTS) for lang in ("fr", "en")]


@pytest.fixture(params=WALKS, ids="-".join)
def page(request, browser):
    """A tab at a desktop's or a phone's width, in one language (overrides the conftest's 1280 px French tab)."""
    viewport, lang = request.param
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(locale=f"{lang}-FR", viewport={"width": width, "height": height},
                                  accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.problems = PageProblems(tab)
    tab.lang, tab.words, tab.label = lang, WORDS[lang], f"{lang}-{viewport}"
    tab.seed = 21 + WALKS.index(request.param)  # each walk its own cohort: a new dataset, a new audit, not a reuse
    yield tab
    context.close()


def snap(page, name: str, *, full_page: bool = True) -> None:
    """The page fits its width (no sideways scroll), and its screenshot is saved."""
    sizes = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert sizes[0] <= sizes[1], (name, page.url, sizes, page.evaluate(OVERFLOWING))
    screenshot(page, f"{name}-{page.label}", full_page=full_page)


def _fill_control(page, field: forms.CardField, value: str) -> None:
    if field.kind == "metrics":  # rows of controls: the example's first measure, decimals written the page's way
        row = forms.metric_rows(load_example_card(), page.lang)[0]
        for key, kind, _label in forms.METRIC_COLUMNS:
            cell = page.locator(f"#{field.id}-0-{key}")
            if kind.startswith("vocab:"):
                cell.select_option(row[key] or "")
            else:
                cell.fill(row[key])
        return
    control = page.locator(f"#{field.id}")
    if field.kind == "choice":
        control.select_option(value)
    else:
        control.fill(value)


def test_author_creates_uploads_fixes_the_checklist_and_publishes(page, server, model_zip):
    lang, words = page.lang, page.words
    sign_in(page, server, "author", lang)
    page.click(f"text={words['register']}")
    slug = f"navigateur-{uuid.uuid4().hex[:6]}"
    page.fill("#algorithm-slug", slug)
    page.check("#algorithm-kind-ml_model")
    page.fill("#algorithm-name", "Parcours navigateur")
    page.fill("#algorithm-summary", "Publié depuis Chromium")
    page.fill("#algorithm-license", "Apache-2.0")
    page.select_option("#algorithm-clinical_domain", "cardiovascular")
    snap(page, "algorithm-form")
    page.click(f"text={words['save']}")
    page.wait_for_url(f"**/{lang}/workspace/algorithms/{slug}/versions/new")

    page.fill("#upload-version", "1.0.0")
    page.set_input_files("#upload-artifact", files=[{"name": "model.zip", "mimeType": "application/zip",
                                                      "buffer": model_zip}])
    snap(page, "upload")
    with page.expect_request(lambda r: r.method == "POST" and "/versions/new" in r.url) as posted:
        page.click(f"text={words['upload']}")
    assert posted.value.headers.get("x-requested-with") == "XMLHttpRequest"  # sent by upload.js, with progress
    page.wait_for_url(f"**/workspace/algorithms/{slug}/1.0.0")
    assert page.locator("#upload-progress-bar").count() == 0  # we left the upload page for the draft

    missing = page.locator("#missing-items li.item-missing a[href^='#card-']")
    assert missing.count() >= 10
    snap(page, "draft-checklist")
    example = load_example_card()
    by_id = {f.id: f for f in forms.all_fields()}
    for anchor in [missing.nth(i).get_attribute("href")[1:] for i in range(missing.count())]:
        page.click(f"#missing-items a[href='#{anchor}']")
        page.wait_for_url(re.compile(f".*#{anchor}$"))
        assert page.locator(f"#{anchor}").is_visible()
        _fill_control(page, by_id[anchor], forms.display_value(by_id[anchor], example))
    page.locator("fieldset button[type=submit]").first.click()
    page.wait_for_url("**/1.0.0#checklist")
    assert page.locator(f"text={words['ready']}").is_visible()
    snap(page, "draft-ready")
    page.check("#publish-confirm")  # publishing cannot be undone: the form asks for a confirmation
    page.click(f"text={words['publish']}")
    page.wait_for_url(f"**/{lang}/algorithms/{slug}/1.0.0")
    # the state and its date, said once
    assert page.locator("main .badge-published").first.inner_text().startswith(words["published"])
    snap(page, "published-card")
    assert page.problems.csp_violations() == []


def test_evaluator_uploads_a_dataset_launches_an_audit_and_follows_it(page, server):
    content = server.content
    lang, words = page.lang, page.words
    sign_in(page, server, "evaluator", lang)
    page.goto(f"{server.url}/{lang}/workspace/datasets/new")
    frame = generate_cohort(1200, seed=page.seed)
    page.set_input_files("#dataset-file", files=[{"name": "cohorte.csv", "mimeType": "text/csv",
                                                  "buffer": frame.to_csv(index=False).encode()}])
    page.fill("#dataset-name", "Cohorte navigateur")
    page.fill("#dataset-label_column", "outcome")
    page.fill("#dataset-sensitive_columns", "sex, region")
    page.fill("#dataset-row_key", "row_id")
    for name in ("motivation", "source", "population", "collection_period", "preprocessing", "coverage",
                 "access_conditions"):
        page.fill(f"#dataset-{name}", f"{name} : cohorte synthétique")
    page.check("#dataset-synthetic")
    snap(page, "dataset-form")
    page.click(f"text={words['dataset']}")
    page.wait_for_url("**/workspace/audits/new?dataset=*")
    dataset_id = re.search(r"dataset=(\d+)", page.url).group(1)

    page.goto(f"{server.url}/{lang}/workspace/predictions/new")
    page.select_option("#predictions-target", f"{content.rule_slug}@1.0.0")
    page.select_option("#predictions-dataset", dataset_id)
    page.set_input_files("#predictions-file", files=[{"name": "predictions.csv", "mimeType": "text/csv",
                                                      "buffer": frame[["row_id", "prediction"]].assign(
                                                          score=frame["risk_score"]).to_csv(index=False).encode()}])
    snap(page, "predictions-form")
    page.click(f"text={words['predictions']}")
    page.wait_for_url("**/workspace/audits/new?*predictions=*")
    assert page.locator("#audit-target").input_value() == f"{content.rule_slug}@1.0.0"
    page.fill("#audit-sensitive_features", "sex, region")
    page.fill("#audit-n_boot", "100")
    snap(page, "audit-form", full_page=False)  # after a full-page capture of this form, Chromium drops the next click
    page.click(f"text={words['launch']}")
    page.wait_for_url(re.compile(r".*/workspace/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("[data-job-status]").inner_text() == words["queued"]
    snap(page, "job-queued")

    worker = threading.Thread(target=run_job, args=(server.app, job_id))  # a worker picks the job up
    worker.start()
    page.wait_for_selector("svg[role=img]", timeout=60_000)  # job.js polls, then reloads with the results
    worker.join(timeout=60)
    assert page.locator("[data-job-status]").inner_text() == words["finished"]
    assert page.locator("progress#job-progress-bar").get_attribute("value") == "100"
    assert words["full"] in page.locator("main").inner_text()
    small = page.locator("table.data-table tbody tr", has=page.locator("th", has_text="Corse")).first
    assert re.fullmatch(r"\d+", small.locator("td").first.inner_text().strip())  # evaluators see small cells
    snap(page, "job-results")
    assert page.problems.csp_violations() == []
