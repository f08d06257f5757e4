"""Reference datasets' metadata as HealthDCAT-AP JSON-LD, parsed as RDF, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid

import pytest
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef

from audits.synth import generate_cohort
from tests.audits.healthdcat_shapes import violations
from tests.e2e.test_audits_api import DATASHEET, _csv, upload_dataset
from tests.e2e.test_versions_api import assert_error

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
NON_PUBLIC = URIRef("http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC")
HEAL = URIRef("http://publications.europa.eu/resource/authority/data-theme/HEAL")
CATALOGUE = "/api/v1/datasets/healthdcat-ap.jsonld"
BASE = "http://127.0.0.1:8000"  # the settings' public base URL: IRIs are absolute


def _evaluator_in_organisation(client, make_account):
    _, admin = make_account("admin")
    org = f"org-{uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/organisations", headers=admin, json={"slug": org, "name": "Plateforme Test", "kind": "data_platform"}
    )
    assert created.status_code == 201, created.get_json()
    return make_account("evaluator", organisation=org)[1]


def _upload(client, headers, rows: int, seed: int) -> tuple[dict, bytes]:
    frame = generate_cohort(rows, seed=seed)
    response = upload_dataset(client, headers, frame)
    assert response.status_code == 201, response.get_json()
    return response.get_json(), _csv(frame)


def _graph(response) -> Graph:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/ld+json"
    assert response.headers["Content-Disposition"].startswith("attachment; ")
    assert isinstance(response.get_json(force=True)["@context"], dict)  # inline: nothing to fetch
    return Graph().parse(data=response.data.decode(), format="json-ld")


def test_a_dataset_is_described_with_the_required_healthdcat_properties(client, make_account):
    evaluator = _evaluator_in_organisation(client, make_account)
    dataset, table = _upload(client, evaluator, 500, seed=3)
    graph = _graph(client.get(f"/api/v1/datasets/{dataset['id']}/healthdcat-ap.jsonld", headers=evaluator))
    node = URIRef(f"{BASE}/api/v1/datasets/{dataset['id']}/healthdcat-ap.jsonld")
    assert (node, RDF.type, DCAT.Dataset) in graph
    assert graph.value(node, DCT.title) == Literal("Cohorte synthétique")
    assert graph.value(node, DCT.description) == Literal(DATASHEET["motivation"])
    assert graph.value(node, DCT.identifier) == Literal(str(node), datatype=XSD.anyURI)
    assert graph.value(node, DCT.accessRights) == NON_PUBLIC
    assert graph.value(node, DCAT.theme) == HEAL
    assert graph.value(node, URIRef("http://data.europa.eu/r5r/applicableLegislation")) == URIRef(
        "http://data.europa.eu/eli/reg/2025/327/oj"
    )
    assert graph.value(node, HEALTH.populationCoverage) == Literal(DATASHEET["population"])
    assert graph.value(node, DCT.issued).datatype == XSD.dateTime
    assert graph.value(node, DCT.modified) is not None
    assert graph.value(node, HEALTH.numberOfRecords) == Literal(500, datatype=XSD.nonNegativeInteger)
    assert graph.value(node, DCT.type) == URIRef(
        "http://publications.europa.eu/resource/authority/dataset-type/SYNTHETIC_DATA"
    )
    publisher = graph.value(node, DCT.publisher)
    assert (publisher, RDF.type, FOAF.Organization) in graph
    assert graph.value(publisher, FOAF.name) == Literal("Plateforme Test")
    contact = graph.value(node, DCAT.contactPoint)
    assert graph.value(contact, VCARD.fn) == Literal("Plateforme Test")
    distribution = graph.value(node, DCAT.distribution)
    assert (distribution, RDF.type, DCAT.Distribution) in graph
    assert graph.value(distribution, DCAT.accessURL) == node
    assert not list(graph.triples((None, DCAT.downloadURL, None)))  # the rows are never distributed
    # The distribution is the stored file (the CSV converted to Parquet at upload), and says it was uploaded as CSV
    checksum = graph.value(distribution, SPDX.checksum)
    assert str(graph.value(checksum, SPDX.checksumValue)) == dataset["sha256"] != hashlib.sha256(table).hexdigest()
    assert graph.value(distribution, DCAT.byteSize) == Literal(dataset["size"], datatype=XSD.nonNegativeInteger)
    assert graph.value(distribution, DCT["format"]) == URIRef(
        "http://publications.europa.eu/resource/authority/file-type/PARQUET"
    )
    assert "It was uploaded as CSV and is stored as Parquet." in str(graph.value(distribution, DCT.description))
    assert "@" not in "".join(str(o) for o in graph.objects())  # no e-mail address: none was declared


def test_small_datasets_hide_their_record_count_and_the_catalogue_lists_every_dataset(client, make_account):
    evaluator = _evaluator_in_organisation(client, make_account)
    big, _ = _upload(client, evaluator, 200, seed=4)
    small, _ = _upload(client, evaluator, 8, seed=5)
    graph = _graph(client.get(f"/api/v1/datasets/{small['id']}/healthdcat-ap.jsonld", headers=evaluator))
    node = URIRef(f"{BASE}/api/v1/datasets/{small['id']}/healthdcat-ap.jsonld")
    assert (node, RDF.type, DCAT.Dataset) in graph
    assert graph.value(node, HEALTH.numberOfRecords) is None  # 8 < 11: a catalogue may republish it
    catalogue = _graph(client.get(CATALOGUE, headers=evaluator))
    root = URIRef(f"{BASE}{CATALOGUE}")
    assert (root, RDF.type, DCAT.Catalog) in catalogue
    assert catalogue.value(root, DCT.title) is not None and catalogue.value(root, DCT.publisher) is not None
    listed = set(catalogue.objects(root, DCAT.dataset))
    for row in (big, small):
        iri = URIRef(f"{BASE}/api/v1/datasets/{row['id']}/healthdcat-ap.jsonld")
        assert iri in listed and (iri, RDF.type, DCAT.Dataset) in catalogue
        assert catalogue.value(iri, DCT.accessRights) == NON_PUBLIC
    assert catalogue.value(URIRef(f"{BASE}/api/v1/datasets/{big['id']}/healthdcat-ap.jsonld"), HEALTH.numberOfRecords)


def test_dataset_metadata_is_for_evaluators_as_the_dataset_record_is(client, make_account):
    _, evaluator = make_account("evaluator")
    _, author = make_account("author")
    dataset, _ = _upload(client, evaluator, 50, seed=6)
    for url in (CATALOGUE, f"/api/v1/datasets/{dataset['id']}/healthdcat-ap.jsonld"):
        assert_error(client.get(url), 401)
        assert_error(client.get(url, headers=author), 403)
    assert_error(client.get("/api/v1/datasets/999999/healthdcat-ap.jsonld", headers=evaluator), 404)
    graph = _graph(client.get(f"/api/v1/datasets/{dataset['id']}/healthdcat-ap.jsonld", headers=evaluator))
    publisher = graph.value(URIRef(f"{BASE}/api/v1/datasets/{dataset['id']}/healthdcat-ap.jsonld"), DCT.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in graph  # no organisation: the evaluator's public name


HEALTH_SHEET = {
    **DATASHEET,
    "health_categories": ["EHRS"],
    "health_themes": ["https://www.wikidata.org/wiki/Q12206"],
    "coding_systems": ["http://www.wikidata.org/entity/Q45127"],
    "keywords": ["diabetes"],
    "purpose": "Auditing risk models",
    "provenance": "Generated by BOAS",
    "spatial": ["http://publications.europa.eu/resource/authority/country/FRA"],
    "min_typical_age": 18,
    "max_typical_age": 90,
    "unique_individuals": 200,
    "publisher_homepage": "https://plateforme.example.org/",
    "contact_email": "donnees@plateforme.example.org",
    "publisher_note": "Regional health data platform",
    "publisher_type": "research-infra",
    "trusted_data_holder": True,
}


def _with_hdab(app):
    runtime = app.extensions["boas"]
    app.extensions["boas"] = dataclasses.replace(runtime, policy=dataclasses.replace(
        runtime.policy, hdab_name="Health Data Hub", hdab_url="https://www.health-data-hub.fr/",
        hdab_email="contact@hdab.example.org"))


def test_a_declared_dataset_exports_what_the_sensitive_shapes_ask_but_a_sample_and_says_so(app, client,
                                                                                             make_account):
    _with_hdab(app)
    evaluator = _evaluator_in_organisation(client, make_account)
    created = upload_dataset(client, evaluator, generate_cohort(300, seed=7), datasheet=HEALTH_SHEET)
    assert created.status_code == 201, created.get_json()
    dataset_id = created.get_json()["id"]
    # Stored canonically: the Wikidata page's address became the entity's IRI.
    assert created.get_json()["datasheet"]["health_themes"] == ["http://www.wikidata.org/entity/Q12206"]
    url = f"/api/v1/datasets/{dataset_id}/healthdcat-ap.jsonld"
    response = client.get(url, headers=evaluator)
    _graph(response)
    node = f"{BASE}{url}"
    assert violations(response.get_json(force=True)) == {(node, "adms:sample", "MinCountConstraintComponent")}
    completeness = client.get(f"/api/v1/datasets/{dataset_id}/healthdcat-ap/completeness", headers=evaluator)
    assert completeness.status_code == 200
    assert completeness.get_json() == {"complete": False,
                                       "missing": ["adms:sample"]}


def test_a_dataset_without_health_category_is_reported_missing_it(client, make_account):
    _, evaluator = make_account("evaluator")
    created = upload_dataset(client, evaluator, generate_cohort(250, seed=8),
                             datasheet={k: v for k, v in HEALTH_SHEET.items() if k != "health_categories"})
    assert created.status_code == 201, created.get_json()
    dataset_id = created.get_json()["id"]
    document = client.get(f"/api/v1/datasets/{dataset_id}/healthdcat-ap.jsonld", headers=evaluator).get_json(force=True)
    node = f"{BASE}/api/v1/datasets/{dataset_id}/healthdcat-ap.jsonld"
    assert (node, "healthdcatap:healthCategory", "MinCountConstraintComponent") in violations(document)
    missing = client.get(f"/api/v1/datasets/{dataset_id}/healthdcat-ap/completeness", headers=evaluator).get_json()
    assert missing["missing"][0] == "healthdcatap:healthCategory"
    assert "healthdcatap:hdab" in missing["missing"]  # no access body configured on this instance
    assert_error(client.get("/api/v1/datasets/999999/healthdcat-ap/completeness", headers=evaluator), 404)
    assert_error(client.get(f"/api/v1/datasets/{dataset_id}/healthdcat-ap/completeness",
                            headers=make_account("author")[1]), 403)


@pytest.mark.parametrize(("change", "field"), [
    ({"health_categories": ["EHRS", "XXXX"]}, "datasheet.health_categories.1"),
    ({"health_themes": ["https://example.org/entity/Q1"]}, "datasheet.health_themes.0"),
    ({"health_themes": ["/entity/Q12206"]}, "datasheet.health_themes.0"),
    ({"coding_systems": ["javascript:alert(1)"]}, "datasheet.coding_systems.0"),
    ({"spatial": ["javascript:alert(1)"]}, "datasheet.spatial.0"),
    ({"publisher_homepage": "javascript:alert(1)"}, "datasheet.publisher_homepage"),
    ({"publisher_homepage": "/about"}, "datasheet.publisher_homepage"),
    ({"min_typical_age": 70, "max_typical_age": 20}, "datasheet.max_typical_age"),
    ({"min_typical_age": -1}, "datasheet.min_typical_age"),
    ({"max_typical_age": 12.5}, "datasheet.max_typical_age"),
    ({"unique_individuals": 5000}, "datasheet.unique_individuals"),  # more people than rows
    ({"contact_email": "not an address"}, "datasheet.contact_email"),
    ({"publisher_type": "hospital"}, "datasheet.publisher_type"),  # not a code of the vocabulary
    ({"publisher_type": "http://13.81.34.152:1101/resource/authority/publisher-type/university"},
     "datasheet.publisher_type"),  # the code, not its IRI
])
def test_bad_catalogue_fields_are_refused_on_their_field_and_nothing_is_stored(client, make_account, change, field):
    _, evaluator = make_account("evaluator")
    before = len(client.get("/api/v1/datasets", headers=evaluator).get_json())
    refused = upload_dataset(client, evaluator, generate_cohort(40, seed=9), datasheet={**HEALTH_SHEET, **change})
    body = assert_error(refused, 422)
    assert field in body["errors"], body
    assert len(client.get("/api/v1/datasets", headers=evaluator).get_json()) == before
    assert "javascript" not in json.dumps(client.get("/api/v1/datasets", headers=evaluator).get_json())


def test_the_access_body_setting_is_all_three_or_none_and_well_formed():
    from boas.config import SettingsError, load_settings

    full = {"BOAS_HDAB_NAME": "HDH", "BOAS_HDAB_URL": "https://www.health-data-hub.fr/",
            "BOAS_HDAB_EMAIL": "contact@hdab.example.org"}
    assert load_settings(full).hdab_email == "contact@hdab.example.org"
    with pytest.raises(SettingsError, match="BOAS_HDAB_URL, BOAS_HDAB_EMAIL"):
        load_settings({"BOAS_HDAB_NAME": "HDH"})
    with pytest.raises(SettingsError, match="BOAS_HDAB_URL"):
        load_settings({**full, "BOAS_HDAB_URL": "javascript:alert(1)"})
    with pytest.raises(SettingsError, match="BOAS_HDAB_EMAIL"):
        load_settings({**full, "BOAS_HDAB_EMAIL": "nobody"})
