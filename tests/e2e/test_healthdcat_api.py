"""Reference datasets' metadata as HealthDCAT-AP JSON-LD, parsed as RDF, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef

from audits.synth import generate_cohort
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
    assert graph.value(node, DCT.identifier) == Literal(str(node))
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
    checksum = graph.value(distribution, SPDX.checksum)
    assert str(graph.value(checksum, SPDX.checksumValue)) == hashlib.sha256(table).hexdigest()
    assert graph.value(distribution, DCT["format"]) == URIRef(
        "http://publications.europa.eu/resource/authority/file-type/CSV"
    )
    assert "@" not in "".join(str(o) for o in graph.objects())  # no e-mail address anywhere


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
