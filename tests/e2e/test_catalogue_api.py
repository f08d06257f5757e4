"""The public catalogue: filters on the taxonomy, full-text search and pagination."""

from __future__ import annotations

from tests.factories import create_algorithm, upload_version


def _publish_new(client, headers, model_zip, **fields):
    algo = create_algorithm(client, headers, **fields)
    upload_version(client, headers, algo["slug"], "1.0.0", model_zip)
    assert client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/publish", headers=headers).status_code == 200
    return algo["slug"]


def test_filters_search_and_pagination(client, make_account, model_zip):
    _, author = make_account("author")
    diabetes = _publish_new(client, author, model_zip, name="Diabète traité", clinical_domain="diabetes",
                            summary="Ciblage des diabétiques traités")
    asthma = _publish_new(client, author, model_zip, name="Asthma exacerbation risk",
                          clinical_domain="respiratory_diseases", objective="risk_prediction",
                          summary="Predicts severe asthma exacerbations")
    _publish_new(client, author, model_zip, name="Sepsis alert", clinical_domain="infectious_diseases",
                 summary="Early warning of sepsis at 100% recall", language="r")

    def slugs(**params):
        body = client.get("/api/v1/algorithms", query_string=params).get_json()
        return sorted(a["slug"] for a in body["items"]), body["total"]

    assert slugs(clinical_domain="diabetes") == ([diabetes], 1)
    assert slugs(objective="risk_prediction") == ([asthma], 1)
    assert slugs(q="ASTHMA exacerbation") == ([asthma], 1)
    assert slugs(q="diabétiques") == ([diabetes], 1)
    assert slugs(q="100%")[1] == 1  # LIKE wildcards in the query are taken literally
    assert slugs(q="_")[1] == 0
    assert slugs(language="r")[1] == 1
    page1 = client.get("/api/v1/algorithms", query_string={"per_page": 2, "page": 1}).get_json()
    page2 = client.get("/api/v1/algorithms", query_string={"per_page": 2, "page": 2}).get_json()
    assert page1["total"] == page2["total"] == 3
    assert len(page1["items"]) == 2 and len(page2["items"]) == 1
    assert not {a["slug"] for a in page1["items"]} & {a["slug"] for a in page2["items"]}


def test_bad_catalogue_parameters_are_422_naming_the_field(client):
    body = client.get("/api/v1/algorithms", query_string={"clinical_domain": "astrology", "per_page": 1000}).get_json()
    assert body["status"] == 422
    assert {"clinical_domain", "per_page"} <= set(body["errors"])


def test_author_type_audited_and_sort_filters(live_client, live_account):
    from audits.synth import generate_cohort
    from tests.e2e.test_audits_api import _rule_based_version, upload_dataset, upload_predictions

    _, admin = live_account("admin")
    live_client.post("/api/v1/organisations", headers=admin,
                     json={"slug": "chu", "name": "CHU", "kind": "hospital"})
    _, author = live_account("author", organisation="chu")
    _, evaluator = live_account("evaluator")
    audited = _rule_based_version(live_client, author)
    plain = _rule_based_version(live_client, author)
    for slug in (audited, plain):
        assert live_client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/publish", headers=author).status_code == 200
    frame = generate_cohort(500, seed=1)
    dataset = upload_dataset(live_client, evaluator, frame).get_json()
    predictions = upload_predictions(live_client, evaluator, dataset["id"], audited, frame).get_json()
    live_client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": audited, "version": "1.0.0", "dataset": dataset["id"],
        "predictions": predictions["id"], "sensitive_features": ["sex"], "n_boot": 20})

    def slugs(**params):
        return {a["slug"] for a in live_client.get("/api/v1/algorithms", query_string=params).get_json()["items"]}

    assert slugs(audited="true") == {audited}
    assert slugs(audited="false") == {plain}
    assert slugs(author_type="hospital") == {audited, plain}
    assert slugs(author_type="company") == set()
    body = live_client.get("/api/v1/algorithms", query_string={"sort": "created"}).get_json()
    assert [a["slug"] for a in body["items"]] == [plain, audited] and body["audited"] == [audited]
    assert live_client.get("/api/v1/algorithms", query_string={"sort": "random"}).status_code == 422
