"""The signed-in walks in Chromium: an author publishes through the checklist; an evaluator audits and follows the job."""

from __future__ import annotations

import re
import threading
import uuid

from audits.synth import generate_cohort
from boas.pages import forms
from model_cards.examples import load_example_card
from tests.e2e.browser.conftest import screenshot, sign_in
from tests.pages.content import run_job


def _fill_control(page, field: forms.CardField, value: str) -> None:
    if field.kind == "metrics":  # rows of controls: the example's first measure, decimals written the French way
        row = forms.metric_rows(load_example_card(), "fr")[0]
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
    sign_in(page, server, "author")
    page.click("text=Enregistrer un algorithme")
    slug = f"navigateur-{uuid.uuid4().hex[:6]}"
    page.fill("#algorithm-slug", slug)
    page.check("#algorithm-kind-ml_model")
    page.fill("#algorithm-name", "Parcours navigateur")
    page.fill("#algorithm-summary", "Publié depuis Chromium")
    page.fill("#algorithm-license", "Apache-2.0")
    page.select_option("#algorithm-clinical_domain", "cardiovascular")
    page.click("text=Enregistrer l’algorithme")
    page.wait_for_url(f"**/workspace/algorithms/{slug}/versions/new")

    page.fill("#upload-version", "1.0.0")
    page.set_input_files("#upload-artifact", files=[{"name": "model.zip", "mimeType": "application/zip",
                                                      "buffer": model_zip}])
    screenshot(page, "upload-fr")
    with page.expect_request(lambda r: r.method == "POST" and "/versions/new" in r.url) as posted:
        page.click("text=Déposer la version")
    assert posted.value.headers.get("x-requested-with") == "XMLHttpRequest"  # sent by upload.js, with progress
    page.wait_for_url(f"**/workspace/algorithms/{slug}/1.0.0")
    assert page.locator("#upload-progress-bar").count() == 0  # we left the upload page for the draft

    missing = page.locator("#missing-items li.item-missing a[href^='#card-']")
    assert missing.count() >= 10
    screenshot(page, "draft-checklist-fr")
    example = load_example_card()
    by_id = {f.id: f for f in forms.all_fields()}
    for anchor in [missing.nth(i).get_attribute("href")[1:] for i in range(missing.count())]:
        page.click(f"#missing-items a[href='#{anchor}']")
        page.wait_for_url(re.compile(f".*#{anchor}$"))
        assert page.locator(f"#{anchor}").is_visible()
        _fill_control(page, by_id[anchor], forms.display_value(by_id[anchor], example))
    page.locator("fieldset button[type=submit]").first.click()
    page.wait_for_url("**/1.0.0#checklist")
    assert page.locator("text=Tous les éléments obligatoires sont documentés").is_visible()
    page.check("#publish-confirm")  # publishing cannot be undone: the form asks for a confirmation
    page.click("text=Publier la version 1.0.0")
    page.wait_for_url(f"**/fr/algorithms/{slug}/1.0.0")
    assert page.locator("main .badge-published").first.inner_text().startswith("Publiée le ")  # the state and its date, said once
    screenshot(page, "published-card-fr")
    assert page.problems.csp_violations() == []


def test_evaluator_uploads_a_dataset_launches_an_audit_and_follows_it(page, server):
    content = server.content
    sign_in(page, server, "evaluator")
    page.goto(f"{server.url}/fr/workspace/datasets/new")
    frame = generate_cohort(1200, seed=21)
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
    page.click("text=Déposer le jeu de données")
    page.wait_for_url("**/workspace/audits/new?dataset=*")
    dataset_id = re.search(r"dataset=(\d+)", page.url).group(1)

    page.goto(f"{server.url}/fr/workspace/predictions/new")
    page.select_option("#predictions-target", f"{content.rule_slug}@1.0.0")
    page.select_option("#predictions-dataset", dataset_id)
    page.set_input_files("#predictions-file", files=[{"name": "predictions.csv", "mimeType": "text/csv",
                                                      "buffer": frame[["row_id", "prediction"]].assign(
                                                          score=frame["risk_score"]).to_csv(index=False).encode()}])
    page.click("text=Déposer les prédictions")
    page.wait_for_url("**/workspace/audits/new?*predictions=*")
    assert page.locator("#audit-target").input_value() == f"{content.rule_slug}@1.0.0"
    page.fill("#audit-sensitive_features", "sex, region")
    page.fill("#audit-n_boot", "100")
    page.click("text=Lancer l’audit")
    page.wait_for_url(re.compile(r".*/workspace/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("[data-job-status]").inner_text() == "En attente"
    screenshot(page, "job-queued-fr")

    worker = threading.Thread(target=run_job, args=(server.app, job_id))  # a worker picks the job up
    worker.start()
    page.wait_for_selector("svg[role=img]", timeout=60_000)  # job.js polls, then reloads with the results
    worker.join(timeout=60)
    assert page.locator("[data-job-status]").inner_text() == "Terminé"
    assert page.locator("progress#job-progress-bar").get_attribute("value") == "100"
    assert "Résultats complets" in page.locator("main").inner_text()
    small = page.locator("table.data-table tbody tr", has=page.locator("th", has_text="Corse")).first
    assert re.fullmatch(r"\d+", small.locator("td").first.inner_text().strip())  # evaluators see small cells
    screenshot(page, "job-results-fr")
    assert page.problems.csp_violations() == []
