"""The signed-in workspace over HTTP: authors, evaluators, administrators and one's own tokens."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from html import unescape

from audits.synth import generate_cohort
from boas.pages import forms
from model_cards.examples import load_example_card
from tests.pages.conftest import csrf_of, sign_in
from tests.pages.content import PASSWORD, code_zip


def _page(response) -> str:
    return unescape(response.get_data(as_text=True))


def _form_values(page: str) -> dict[str, str]:
    """The card editor's current values, as a browser would submit them."""
    values = {}
    for name, value in re.findall(r'<input id="[^"]+" name="(card\.[^"]+)" type="[^"]+" value="([^"]*)"', page):
        values[name] = value
    for name, value in re.findall(r'<textarea id="[^"]+" name="(card\.[^"]+)" rows="\d+"[^>]*>(.*?)</textarea>', page,
                                  re.S):
        values[name] = value
    for name, body in re.findall(r'<select id="[^"]+" name="(card\.[^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = chosen.group(1) if chosen else ""
    return values


def _example_value(field: forms.CardField) -> str:
    return forms.display_value(field, load_example_card())


def test_author_creates_uploads_fixes_the_checklist_and_publishes(signed_in, site_app, model_zip):
    client = signed_in("author")
    slug = f"parcours-{uuid.uuid4().hex[:6]}"
    token = csrf_of(client.get("/en/workspace/algorithms/new"))
    created = client.post("/en/workspace/algorithms/new", data={
        "csrf_token": token, "slug": slug, "kind": "ml_model", "name": "Parcours auteur", "summary": "Un essai",
        "license": "Apache-2.0", "objective": "risk_prediction"})
    assert created.status_code == 303 and created.headers["Location"].endswith(f"/workspace/algorithms/{slug}/versions/new")
    uploaded = client.post(f"/en/workspace/algorithms/{slug}/versions/new", content_type="multipart/form-data", data={
        "csrf_token": token, "version": "1.0.0", "artifact": (io.BytesIO(model_zip), "model.zip")})
    assert uploaded.status_code == 303, _page(uploaded)[:2000]
    draft_url = f"/en/workspace/algorithms/{slug}/1.0.0"
    page = _page(client.get(draft_url))
    missing = re.findall(r'<li class="item-missing" data-path="([^"]+)">\s*<a href="#([^"]+)">', page)
    assert len(missing) >= 10 and "card.training_data.label_definition" in dict(missing)
    for _path, anchor in missing:
        assert f'id="{anchor}"' in page  # every checklist link lands on its field
    elsewhere = re.findall(rf'href="(/en/workspace/algorithms/{slug})#(algorithm-\w+)"', page)
    assert elsewhere  # the code repository and commit are fixed on the algorithm's page
    manage = _page(client.get(elsewhere[0][0]))
    assert all(f'id="{anchor}"' in manage for _url, anchor in elsewhere)
    assert "Publish version 1.0.0" not in page

    values = _form_values(page)
    for _path, anchor in missing:
        if not anchor.startswith("card-"):
            continue  # the bias audit is an evaluator's task, not a field
        field = next(f for f in forms.all_fields() if f.id == anchor)
        values[field.name] = _example_value(field)
    saved = client.post(draft_url, data={**values, "csrf_token": token})
    assert saved.status_code == 303, _page(saved)[:3000]
    page = _page(client.get(draft_url))
    assert not re.findall(r'<strong>\(mandatory\)</strong>', page.split('id="audit-help"')[0])
    assert "Publish version 1.0.0" in page
    unconfirmed = client.post(f"{draft_url}/publish", data={"csrf_token": token})
    assert unconfirmed.status_code == 303 and unconfirmed.headers["Location"].endswith("/1.0.0#publish")
    assert "Tick the confirmation to publish" in client.get(unconfirmed.headers["Location"]).get_data(as_text=True)
    assert site_app.test_client().get(f"/en/algorithms/{slug}/1.0.0").status_code == 404  # nothing published
    published = client.post(f"{draft_url}/publish", data={"csrf_token": token, "confirm": "1"})
    assert published.status_code == 303 and published.headers["Location"].endswith(f"/en/algorithms/{slug}/1.0.0")
    public = site_app.test_client().get(f"/en/algorithms/{slug}/1.0.0")
    assert public.status_code == 200 and "Published" in _page(public)


def test_invalid_card_input_is_shown_next_to_its_field_and_nothing_is_saved(signed_in, content, site_app):
    client = signed_in("author")
    url = f"/en/workspace/algorithms/{content.ml_slug}/2.0.0-rc.1"
    page = _page(client.get(url))
    values = _form_values(page)
    values.update({"card.performance_metrics": json.dumps([{"name": "AUC", "value": 0.8, "ci_low": 0.9,
                                                             "ci_high": 0.95}]),
                   "card.intended_population.age_min": "douze", "card.limitations": "Ne doit pas être enregistré"})
    response = client.post(url, data={**values, "csrf_token": csrf_of(client.get(url))})
    assert response.status_code == 422
    body = _page(response)
    assert 'id="card-intended_population-age_min-error"' in body and "Enter a whole number." in body
    assert 'aria-invalid="true"' in body
    values["card.intended_population.age_min"] = "65"
    response = client.post(url, data={**values, "csrf_token": csrf_of(client.get(url))})
    assert response.status_code == 422 and 'id="card-performance_metrics-error"' in _page(response)
    assert "ci_low must not be greater than value" in _page(response)
    card = site_app.test_client().get(f"/api/v1/algorithms/{content.ml_slug}/versions/2.0.0-rc.1")
    assert card.status_code == 404  # a draft stays private to the API's public too
    assert "Ne doit pas être enregistré" not in _page(client.get(url))


def test_yank_needs_a_reason_and_can_be_reversed(signed_in, site_app, content):
    client = signed_in("author")
    manage = f"/en/workspace/algorithms/{content.ml_slug}"
    token = csrf_of(client.get(manage))
    no_reason = client.post(f"/en/workspace/algorithms/{content.ml_slug}/1.0.0/yank", data={"csrf_token": token})
    assert no_reason.status_code == 303 and "Say why the version is withdrawn." in _page(client.get(manage))
    yanked = client.post(f"/en/workspace/algorithms/{content.ml_slug}/1.0.0/yank",
                         data={"csrf_token": token, "reason": "Données de test"})
    assert yanked.status_code == 303
    card = _page(site_app.test_client().get(f"/en/algorithms/{content.ml_slug}/1.0.0"))
    assert "This version was withdrawn" in card and "Données de test" in card
    assert client.post(f"/en/workspace/algorithms/{content.ml_slug}/1.0.0/unyank",
                       data={"csrf_token": token}).status_code == 303
    assert "This version was withdrawn" not in _page(site_app.test_client().get(f"/en/algorithms/{content.ml_slug}/1.0.0"))


def test_other_authors_cannot_edit_an_algorithm(site_app, content):
    from tests.pages.content import make_user

    with site_app.extensions["boas"].session_factory() as s:
        stranger = make_user(s, "author")
    client = site_app.test_client()
    sign_in(client, stranger.email)
    assert client.get(f"/en/workspace/algorithms/{content.ml_slug}").status_code == 403
    assert client.get(f"/en/workspace/algorithms/{content.ml_slug}/2.0.0-rc.1").status_code == 404
    token = csrf_of(client.get("/en/workspace"))
    assert client.post(f"/en/workspace/algorithms/{content.ml_slug}/1.2.0/yank",
                       data={"csrf_token": token, "reason": "sabotage"}).status_code == 403


def test_evaluator_uploads_a_dataset_predictions_and_launches_an_audit(signed_in, content):
    client = signed_in("evaluator")
    token = csrf_of(client.get("/en/workspace/datasets/new"))
    frame = generate_cohort(400, seed=11)
    sheet = {name: f"{name} of the cohort" for name in ("motivation", "source", "population", "collection_period",
                                                        "preprocessing", "coverage", "access_conditions")}
    refused = client.post("/en/workspace/datasets/new", content_type="multipart/form-data", data={
        "csrf_token": token, "name": "Sans fiche", "file": (io.BytesIO(frame.to_csv(index=False).encode()), "c.csv")})
    assert refused.status_code == 422 and "dataset-motivation-error" in _page(refused)
    uploaded = client.post("/en/workspace/datasets/new", content_type="multipart/form-data", data={
        "csrf_token": token, "name": "Cohorte page", "label_column": "outcome", "sensitive_columns": "sex, region",
        "row_key": "row_id", "synthetic": "on", "labels": "sex = sexe déclaré / declared sex", **sheet,
        "file": (io.BytesIO(frame.to_csv(index=False).encode()), "cohort.csv")})
    assert uploaded.status_code == 303, _page(uploaded)[:2000]
    dataset_id = int(re.search(r"dataset=(\d+)", uploaded.headers["Location"]).group(1))
    listing = _page(client.get("/en/workspace/datasets"))
    assert "Cohorte page" in listing and ">Stored as</th>" in listing
    # Stored as Parquet; the page gives the digest of the CSV as uploaded beside the stored one
    uploaded_digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    assert f'Parquet<br><small>uploaded as CSV, SHA-256 <span class="digest">{uploaded_digest}</span>' in listing
    listing_fr = _page(client.get("/fr/workspace/datasets"))
    assert ">Stocké en</th>" in listing_fr
    assert f'Parquet<br><small>déposé en CSV, SHA-256 <span class="digest">{uploaded_digest}</span>' in listing_fr
    predictions = frame[["row_id", "prediction"]].to_csv(index=False).encode()
    empty_form = _page(client.get("/en/workspace/predictions/new"))  # no version is chosen for the evaluator
    assert '<option value="" selected>— choose —</option>' in empty_form and "@1.0.0\" selected" not in empty_form
    unchosen = client.post("/en/workspace/predictions/new", content_type="multipart/form-data", data={
        "csrf_token": token, "target": "", "dataset": str(dataset_id), "file": (io.BytesIO(predictions), "p.csv")})
    assert unchosen.status_code == 422 and "predictions-target-error" in _page(unchosen)
    posted = client.post("/en/workspace/predictions/new", content_type="multipart/form-data", data={
        "csrf_token": token, "target": f"{content.rule_slug}@1.0.0", "dataset": str(dataset_id),
        "file": (io.BytesIO(predictions), "predictions.csv")})
    assert posted.status_code == 303, _page(posted)[:2000]
    prefilled = client.get(posted.headers["Location"])
    assert f'value="{content.rule_slug}@1.0.0" selected' in _page(prefilled)
    predictions_id = re.search(r"predictions=(\d+)", posted.headers["Location"]).group(1)
    launched = client.post("/en/workspace/audits/new", data={
        "csrf_token": token, "kind": "bias", "target": f"{content.rule_slug}@1.0.0", "dataset": str(dataset_id),
        "predictions": predictions_id, "sensitive_features": "sex", "tolerance": "0,2", "n_boot": "20", "seed": "1"})
    assert launched.status_code == 303, _page(launched)[:2000]
    job_url = launched.headers["Location"]
    job_page = _page(client.get(job_url))
    assert "Finished" in job_page and 'role="img"' in job_page and "Full results" in job_page
    assert "By declared sex (reference group" in job_page  # the dataset's own display name for its column
    assert "Selon sexe déclaré (groupe de référence" in _page(client.get(job_url.replace("/en/", "/fr/")))
    status = client.get(job_url + "/status")
    assert status.mimetype == "application/json"
    assert status.get_json()["status"] == "succeeded" and status.get_json()["done"] is True
    bad = client.post("/en/workspace/audits/new", data={"csrf_token": token, "kind": "bias", "dataset": "x"})
    assert bad.status_code == 422 and "audit-dataset-error" in _page(bad)


def test_authors_cannot_use_the_evaluator_pages(signed_in, content):
    client = signed_in("author")
    assert client.get("/en/workspace/datasets/new").status_code == 403
    assert client.get(f"/en/workspace/jobs/{content.job_id}/status").status_code == 200  # the owner may follow it
    assert client.get("/en/workspace/audits/new").status_code == 403


def test_admin_manages_accounts_and_reads_the_audit_log(signed_in, site_app):
    client = signed_in("admin")
    token = csrf_of(client.get("/en/admin/users"))
    email = f"new-{uuid.uuid4().hex[:6]}@example.org"
    created = client.post("/en/admin/users", data={"csrf_token": token, "email": email, "name": "Nouvelle",
                                                   "role": "author", "password": PASSWORD})
    assert created.status_code == 303
    assert sign_in(site_app.test_client(), email).status_code == 303
    page = _page(client.get("/en/admin/users"))
    user_id = re.search(rf'<th scope="row">{re.escape(email)}</th>.*?/admin/users/(\d+)"', page, re.S).group(1)
    assert client.post(f"/en/admin/users/{user_id}", data={"csrf_token": token, "role": "evaluator",
                                                           "active": "on"}).status_code == 303
    log = _page(client.get("/en/admin/audit-log?action=user.updated"))
    assert email in log and "evaluator" in log
    invalid = client.post("/en/admin/users", data={"csrf_token": token, "email": "not-an-email", "role": "author"})
    assert invalid.status_code == 422 and "user-email-error" in _page(invalid)
    weak = f"weak-{uuid.uuid4().hex[:6]}@example.org"
    refused = client.post("/en/admin/users", data={"csrf_token": token, "email": weak, "role": "author",
                                                   "password": "short"})
    assert refused.status_code == 422
    assert weak not in _page(client.get("/en/admin/users"))  # no half-created account without its password
    again = client.post("/en/admin/users", data={"csrf_token": token, "email": weak, "role": "author",
                                                 "password": PASSWORD})
    assert again.status_code == 303


def test_tokens_are_shown_once_work_on_the_api_and_can_be_revoked(signed_in, site_app):
    client = signed_in("author")
    token = csrf_of(client.get("/en/workspace/tokens"))
    created = client.post("/en/workspace/tokens", data={"csrf_token": token, "name": "ci"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<output id="new-token">(boas_[^<]+)</output>', _page(created)).group(1)
    api = site_app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = _page(client.get("/en/workspace/tokens"))
    assert secret not in listing and secret[:12] in listing
    token_id = re.findall(r"/workspace/tokens/(\d+)/revoke", listing)
    revoke_id = max(int(t) for t in token_id)  # the newest is the API token just made
    assert client.post(f"/en/workspace/tokens/{revoke_id}/revoke", data={"csrf_token": token}).status_code == 303
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_rule_based_upload_without_javascript_reports_errors_in_the_form(signed_in, content):
    client = signed_in("author")
    url = f"/en/workspace/algorithms/{content.rule_slug}/versions/new"
    token = csrf_of(client.get(url))
    reused = client.post(url, content_type="multipart/form-data", data={
        "csrf_token": token, "version": "1.0.0", "artifact": (io.BytesIO(code_zip()), "code.zip")})
    assert reused.status_code == 409  # a version number is never reused
    invalid = client.post(url, content_type="multipart/form-data", data={"csrf_token": token, "version": "v1"})
    assert invalid.status_code == 422 and "upload-version-error" in _page(invalid)


def test_evaluators_download_dataset_metadata_as_healthdcat_from_the_workspace(signed_in, site_app):
    from rdflib import RDF, Graph, Namespace

    dcat = Namespace("http://www.w3.org/ns/dcat#")
    client = signed_in("evaluator")
    page = _page(client.get("/fr/workspace/datasets"))
    assert "Métadonnées de tous les jeux de données en catalogue HealthDCAT-AP (JSON-LD)" in page
    assert ">Métadonnées<" in page
    links = re.findall(r'href="(/fr/workspace/datasets/(\d+)/healthdcat-ap\.jsonld)"', page)
    assert links
    for url, _dataset_id in links:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/ld+json"
        graph = Graph().parse(data=response.get_data(as_text=True), format="json-ld")
        assert len(list(graph.subjects(RDF.type, dcat.Dataset))) == 1
    catalogue = client.get("/fr/workspace/datasets/healthdcat-ap.jsonld")
    graph = Graph().parse(data=catalogue.get_data(as_text=True), format="json-ld")
    assert len(list(graph.subjects(RDF.type, dcat.Dataset))) == len(links)
    assert "Metadata of every dataset" in _page(client.get("/en/workspace/datasets"))
    author = signed_in("author")
    assert author.get(links[0][0]).status_code == 403
    assert site_app.test_client().get(links[0][0]).status_code in (302, 303, 401)  # anonymous: sign in first


XHR = {"X-Requested-With": "XMLHttpRequest"}


def _stored(app, slug: str) -> tuple[set[str], int]:
    """(the algorithm's version numbers, drafts included; how many datasets), read from the store."""
    from registry_db import store

    with app.extensions["boas"].session_factory() as s:
        return ({v.version for v in store.list_versions(s, store.get_algorithm(s, slug))},
                len(store.list_datasets(s)))


def test_the_upload_script_checks_the_fields_before_the_file_and_the_confirmation_survives(signed_in, content,
                                                                                              site_app):
    """upload.js: a dry run of the fields (204 or the form with its errors, nothing written), then the upload,
    whose success names the next page in JSON so the flashed confirmation is shown there, not spent."""
    client = signed_in("author")
    url = f"/en/workspace/algorithms/{content.rule_slug}/versions/new"
    token = csrf_of(client.get(url))
    before = _stored(site_app, content.rule_slug)
    bad = client.post(url, headers=XHR, data={"csrf_token": token, "version": "v1", "card": '{"limitations": 3}',
                                              "dry_run": "1"})
    assert bad.status_code == 422
    assert "upload-version-error" in _page(bad) and "upload-card-error" in _page(bad)  # every field at once
    assert "Known limitations" in _page(bad) and "card.limitations" not in _page(bad)  # the card field, by its label
    good = client.post(url, headers=XHR, data={"csrf_token": token, "version": "3.0.0-xhr", "dry_run": "1"})
    assert good.status_code == 204 and good.get_data() == b""
    assert _stored(site_app, content.rule_slug) == before  # a dry run writes nothing
    uploaded = client.post(url, headers=XHR, content_type="multipart/form-data", data={
        "csrf_token": token, "version": "3.0.0-xhr", "artifact": (io.BytesIO(code_zip()), "code.zip")})
    assert uploaded.status_code == 200 and uploaded.mimetype == "application/json"
    location = uploaded.get_json()["location"]
    assert location.endswith(f"/en/workspace/algorithms/{content.rule_slug}/3.0.0-xhr")
    assert "Version 3.0.0-xhr is uploaded as a draft" in _page(client.get(location))  # the flash survived
    assert "is uploaded as a draft" not in _page(client.get(location))  # and is shown once

    evaluator = signed_in("evaluator")
    token = csrf_of(evaluator.get("/en/workspace/datasets/new"))
    count = _stored(site_app, content.rule_slug)[1]
    sheet = {name: f"{name} of the cohort" for name in ("motivation", "source", "population", "collection_period",
                                                        "preprocessing", "coverage", "access_conditions")}
    unsheeted = evaluator.post("/en/workspace/datasets/new", headers=XHR, data={
        "csrf_token": token, "name": "Sans fiche", "dry_run": "1", "labels": "sex"})
    assert unsheeted.status_code == 422 and "dataset-motivation-error" in _page(unsheeted)
    assert "dataset-labels-error" in _page(unsheeted)  # a label line without its name, on its field
    checked = evaluator.post("/en/workspace/datasets/new", headers=XHR, data={
        "csrf_token": token, "name": "Avec fiche", "label_column": "outcome", "dry_run": "1", **sheet})
    assert checked.status_code == 204 and _stored(site_app, content.rule_slug)[1] == count
    frame = generate_cohort(300, seed=12)
    unknown = evaluator.post("/en/workspace/datasets/new", headers=XHR, content_type="multipart/form-data", data={
        "csrf_token": token, "name": "Avec fiche", "labels": "sexe = sexe", **sheet,
        "file": (io.BytesIO(frame.to_csv(index=False).encode()), "cohort.csv")})
    assert unknown.status_code == 422 and "column 'sexe' is not in the table" in unescape(re.sub(r"<[^>]+>", "", _page(unknown)))
    assert _stored(site_app, content.rule_slug)[1] == count
    uploaded = evaluator.post("/en/workspace/datasets/new", headers=XHR, content_type="multipart/form-data", data={
        "csrf_token": token, "name": "Avec fiche", "label_column": "outcome", "row_key": "row_id", **sheet,
        "file": (io.BytesIO(frame.to_csv(index=False).encode()), "cohort.csv")})
    assert uploaded.status_code == 200, _page(uploaded)[:2000]
    assert _stored(site_app, content.rule_slug)[1] == count + 1
    assert "Dataset “Avec fiche” is uploaded (300 rows)" in _page(evaluator.get(uploaded.get_json()["location"]))
    target = evaluator.post("/en/workspace/predictions/new", headers=XHR, data={
        "csrf_token": token, "target": f"{content.rule_slug}@9.9.9", "dataset": str(content.dataset_id),
        "dry_run": "1"})
    assert target.status_code == 404  # the version the predictions name does not exist
    fine = evaluator.post("/en/workspace/predictions/new", headers=XHR, data={
        "csrf_token": token, "target": f"{content.rule_slug}@1.0.0", "dataset": str(content.dataset_id),
        "dry_run": "1"})
    assert fine.status_code == 204


def test_measures_are_entered_as_rows_with_french_decimals_and_rows_are_added_without_javascript(signed_in,
                                                                                                  content):
    client = signed_in("author")
    upload = f"/fr/workspace/algorithms/{content.rule_slug}/versions/new"
    token = csrf_of(client.get(upload))
    assert client.post(upload, data={"csrf_token": token, "version": "5.0.0-rows"}).status_code == 303
    url = f"/fr/workspace/algorithms/{content.rule_slug}/5.0.0-rows"
    page = _page(client.get(url))
    assert 'name="card.performance_metrics.0.value"' in page and 'name="card.performance_metrics.1.value"' not in page
    assert 'name="card.performance_metrics"' not in page  # no JSON to type
    typed = {"csrf_token": token, "card.performance_metrics.0.name": "AUC", "card.performance_metrics.0.value": "0,73",
             "card.performance_metrics.0.ci_low": "0,69", "card.performance_metrics.0.ci_high": "0,78"}
    more = client.post(url, data={**typed, "add_metric_row": "1"})
    assert more.status_code == 200 and 'name="card.performance_metrics.2.value"' in _page(more)
    assert 'value="0,73"' in _page(more)  # kept as typed, nothing saved yet
    assert 'value="0,73"' not in _page(client.get(url))
    wrong = client.post(url, data={**typed, "card.performance_metrics.0.value": "0.73"})
    assert wrong.status_code == 422 and 'id="card-performance_metrics-error"' in _page(wrong)
    assert "0,73" in _page(wrong) and "virgule" in _page(wrong)
    saved = client.post(url, data=typed)
    assert saved.status_code == 303, _page(saved)[:3000]
    page = _page(client.get(url))
    assert 'value="0,73"' in page and 'value="0,69"' in page
    english = _page(client.get(url.replace("/fr/", "/en/")))
    assert 'value="0.73"' in english
    removed = client.post(url, data={**typed, "card.performance_metrics.0.remove": "1"})
    assert removed.status_code == 303 and 'value="0,73"' not in _page(client.get(url))


def test_the_dataset_form_declares_the_catalogue_fields_and_refuses_bad_ones_on_their_field(signed_in, content,
                                                                                            site_app):
    client = signed_in("evaluator")
    form = _page(client.get("/fr/workspace/datasets/new"))
    assert "Catégories de données de santé" in form and 'value="EHRS"' in form
    assert 'name="health_categories" value="EHRS" checked' not in form  # nothing that matters is prefilled
    token = csrf_of(client.get("/fr/workspace/datasets/new"))
    count = _stored(site_app, content.rule_slug)[1]
    sheet = {name: f"{name} of the cohort" for name in ("motivation", "source", "population", "collection_period",
                                                        "preprocessing", "coverage", "access_conditions")}
    frame = generate_cohort(120, seed=13)
    bad = {"health_categories": ["EHRS", "XXXX"], "health_themes": "javascript:alert(1)\n/entity/Q1",
           "coding_systems": "https://example.org/entity/Q45127", "spatial": "France",
           "min_typical_age": "70", "max_typical_age": "20", "unique_individuals": "-3",
           "publisher_homepage": "javascript:alert(1)", "contact_email": "personne"}
    for dry_run in ({"dry_run": "1"}, {"file": (io.BytesIO(frame.to_csv(index=False).encode()), "c.csv")}):
        refused = client.post("/fr/workspace/datasets/new", content_type="multipart/form-data", data={
            "csrf_token": token, "name": "Catalogue", **sheet, **bad, **dry_run})
        page = _page(refused)
        assert refused.status_code == 422, page[:2000]
        for field in ("health_categories", "health_themes", "coding_systems", "spatial", "max_typical_age",
                      "unique_individuals", "publisher_homepage", "contact_email"):
            assert f'id="dataset-{field}-error"' in page, field
        # the refused item is named, as data, before the French message
        assert '<span translate="no">javascript:alert(1)</span>\u00a0: ce n’est pas une entité Wikidata' in page
        assert 'name="health_categories" value="EHRS" checked' in page  # the evaluator's choice is kept
        assert _stored(site_app, content.rule_slug)[1] == count
    negative = client.post("/fr/workspace/datasets/new", data={"csrf_token": token, "name": "Catalogue", **sheet,
                                                                "min_typical_age": "-1", "dry_run": "1"})
    assert negative.status_code == 422 and 'id="dataset-min_typical_age-error"' in _page(negative)
    uploaded = client.post("/fr/workspace/datasets/new", content_type="multipart/form-data", data={
        "csrf_token": token, "name": "Catalogue déclaré", **sheet, "health_categories": ["EHRS", "EINS"],
        "health_themes": "https://www.wikidata.org/wiki/Q12206", "keywords": "diabète, séjours",
        "min_typical_age": "18", "max_typical_age": "90", "trusted_data_holder": "no",
        "file": (io.BytesIO(frame.to_csv(index=False).encode()), "c.csv")})
    assert uploaded.status_code == 303, _page(uploaded)[:2000]
    listing = _page(client.get("/fr/workspace/datasets"))
    row = listing[listing.index('<th scope="row">Catalogue déclaré</th>'):]
    row = row[:row.index("</tr>")]
    assert "<li>finalité <code>dpv:hasPurpose</code></li>" in row  # named in French, with its property
    assert "healthdcatap:healthCategory" not in row and "dcat:keyword" not in row
    assert "adms:sample" in row and "Organisme d’accès aux données de santé" in row
    english = _page(client.get("/en/workspace/datasets"))
    assert "Health Data Access Body (instance setting, BOAS_HDAB_*)" in english
