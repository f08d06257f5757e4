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
