"""HealthDCAT-AP documents built from a dataset's facts alone (no database), parsed as RDF."""

from __future__ import annotations

import json

import pytest
from rdflib import XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, FOAF, SKOS

from audits.healthdcat import (
    HEALTH_CATEGORIES,
    HEALTH_CATEGORY_BASE,
    MANDATORY,
    MIN_CELL,
    PERSONAL_DATA,
    SYNTHETIC,
    Agent,
    DatasetFacts,
    catalogue_document,
    catalogue_iri,
    dataset_document,
    dataset_iri,
    missing_properties,
    wikidata_entity,
)
from tests.audits.healthdcat_shapes import messages, violations

HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
DCT = Namespace("http://purl.org/dc/terms/")
BASE = "https://boas.example.org/"


def _facts(rows: int, **changes) -> DatasetFacts:
    sheet = {
        "motivation": "Audit cohort",
        "source": "EDS",
        "population": "Adults",
        "collection_period": "2019",
        "preprocessing": "none",
        "coverage": "Bretagne",
        "access_conditions": "Evaluators only",
    }
    values = {
        "id": 7,
        "name": "Cohorte",
        "datasheet": sheet,
        "sha256": "ab" * 32,
        "size": 1234,
        "format": "csv",
        "row_count": rows,
        "created_at": "2026-11-29T10:00:00+00:00",
        "publisher": "CHU",
        "publisher_is_organisation": True,
        **changes,
    }
    return DatasetFacts(**values)


def _graph(document: dict) -> Graph:
    return Graph().parse(data=json.dumps(document), format="json-ld")


@pytest.mark.parametrize(("rows", "shown"), [(MIN_CELL - 1, False), (MIN_CELL, True), (0, False)])
def test_the_record_count_is_published_only_from_the_disclosure_threshold(rows, shown):
    graph = _graph(dataset_document(_facts(rows), BASE))
    count = graph.value(URIRef(dataset_iri(BASE, 7)), HEALTH.numberOfRecords)
    assert (count is not None) == shown
    if shown:
        assert count.toPython() == rows


def test_no_remote_context_and_no_row_level_field():
    document = dataset_document(_facts(500), BASE)
    assert isinstance(document["@context"], dict)
    text = json.dumps(document)
    assert "downloadURL" not in text and "@vocab" not in document["@context"]
    assert _graph(document).value(URIRef(dataset_iri(BASE, 7)), DCT.spatial) is None  # coverage is text, not a place


def test_an_empty_catalogue_is_still_a_catalogue():
    graph = _graph(catalogue_document([], BASE))
    root = URIRef("https://boas.example.org/api/v1/datasets/healthdcat-ap.jsonld")
    assert graph.value(root, DCT.title) == Literal("BOAS reference datasets", lang="en")


# -- against the profile's own SHACL shapes (sensitive data) ----------------------------------------------

HDAB = Agent(name="Health Data Hub", homepage="https://www.health-data-hub.fr/", email="contact@hdab.example.org")
DECLARED = {
    "health_categories": ["EHRS", "HRAD"],
    "health_themes": ["http://www.wikidata.org/entity/Q12206"],
    "coding_systems": ["http://www.wikidata.org/entity/Q45127"],
    "keywords": ["diabetes", "hospital stays"],
    "purpose": "Auditing hospitalisation risk models for bias",
    "provenance": "Extracted from the hospital's data warehouse",
    "spatial": ["http://publications.europa.eu/resource/authority/country/FRA"],
    "min_typical_age": 18,
    "max_typical_age": 95,
    "unique_individuals": 480,
    "publisher_homepage": "https://chu.example.org/",
    "contact_email": "donnees@chu.example.org",
    "publisher_note": "University hospital",
    "publisher_type": "inpatient-institute",
    "trusted_data_holder": False,
}
NODE = dataset_iri(BASE, 7)
PUBLISHER = f"{NODE}#publisher"


def _declared(**changes) -> DatasetFacts:
    facts = _facts(500)
    sheet = {**facts.datasheet, **DECLARED, **changes}
    return DatasetFacts(**{**facts.__dict__, "datasheet": {k: v for k, v in sheet.items() if v is not None}})


def test_a_fully_declared_dataset_fails_only_the_shape_boas_cannot_truthfully_meet():
    document = dataset_document(_declared(), BASE, HDAB)
    # adms:sample would distribute rows, which BOAS never does.
    assert violations(document) == {(NODE, "adms:sample", "MinCountConstraintComponent")}
    assert missing_properties(_declared(), HDAB) == ["adms:sample"]
    publisher = _graph(document).value(URIRef(PUBLISHER), HEALTH.publisherType)
    assert str(publisher) == "http://13.81.34.152:1101/resource/authority/publisher-type/inpatient-institute"


def test_without_its_type_the_publisher_fails_its_shape_and_the_report_names_it():
    document = dataset_document(_declared(publisher_type=None), BASE, HDAB)
    assert violations(document) == {(NODE, "adms:sample", "MinCountConstraintComponent"),
                                     (NODE, "dct:publisher", "NodeConstraintComponent"),
                                     (PUBLISHER, "healthdcatap:publisherType", "MinCountConstraintComponent")}
    assert missing_properties(_declared(publisher_type=None), HDAB) == [
        "dct:publisher/healthdcatap:publisherType", "adms:sample"]


def test_a_datasheet_without_health_category_is_the_shapes_violation_and_the_report_names_it():
    facts = _declared(health_categories=None)
    document = dataset_document(facts, BASE, HDAB)
    assert (NODE, "healthdcatap:healthCategory", "MinCountConstraintComponent") in violations(document)
    assert "Each dcat:Dataset must have at least one healthdcatap:healthCategory." in messages(document)
    assert missing_properties(facts, HDAB)[0] == "healthdcatap:healthCategory"


def test_without_a_configured_access_body_the_hdab_is_left_out_and_reported():
    document = dataset_document(_declared(), BASE, None)
    assert (NODE, "healthdcatap:hdab", "MinCountConstraintComponent") in violations(document)
    assert "healthdcatap:hdab" in missing_properties(_declared(), None)
    assert "hdab" not in json.dumps(document)


def test_an_undeclared_datasheet_is_reported_missing_everything_boas_cannot_state_itself():
    found = violations(dataset_document(_facts(500), BASE), also_check={"HealthAgent_Shape": PUBLISHER})
    minimum = "MinCountConstraintComponent"
    assert {(focus.rpartition("#")[2] if "#" in focus else "", path) for focus, path, component in found
            if component == minimum} == {
        *(("", path) for path in ("healthdcatap:healthCategory", "healthdcatap:healthTheme", "dcat:keyword",
                                  "dpv:hasPurpose", "dct:spatial", "healthdcatap:hdab", "adms:sample")),
        *(("publisher", path) for path in ("foaf:homepage", "foaf:mbox", "healthdcatap:publisherNote",
                                           "healthdcatap:trustedDataHolder", "healthdcatap:publisherType")),
        ("contact", "vcard:hasEmail"),
    }
    # The report names the same properties, in the same terms.
    assert missing_properties(_facts(500), None) == [path for path, _check in MANDATORY]
    assert len(MANDATORY) == 13


def test_the_declared_properties_have_their_node_kinds_and_datatypes():
    graph = _graph(dataset_document(_declared(synthetic=True), BASE, HDAB))
    node = URIRef(NODE)
    category = URIRef(f"{HEALTH_CATEGORY_BASE}EHRS")
    assert category in set(graph.objects(node, HEALTH.healthCategory))
    assert graph.value(category, SKOS.prefLabel).language == "en"
    assert set(graph.objects(node, HEALTH.healthTheme)) == {URIRef("http://www.wikidata.org/entity/Q12206")}
    assert graph.value(node, HEALTH.hasCodingSystem) == URIRef("http://www.wikidata.org/entity/Q45127")
    assert graph.value(node, HEALTH.minTypicalAge) == Literal(18, datatype=XSD.nonNegativeInteger)
    assert graph.value(node, HEALTH.maxTypicalAge) == Literal(95, datatype=XSD.nonNegativeInteger)
    assert graph.value(node, HEALTH.numberOfUniqueIndividuals) == Literal(480, datatype=XSD.nonNegativeInteger)
    assert graph.value(node, DCT.identifier) == Literal(NODE, datatype=XSD.anyURI)
    assert graph.value(node, DCT.spatial) == URIRef("http://publications.europa.eu/resource/authority/country/FRA")
    assert {str(k) for k in graph.objects(node, DCAT.keyword)} == {"diabetes", "hospital stays"}
    publisher = URIRef(PUBLISHER)
    assert graph.value(publisher, FOAF.mbox) == URIRef("mailto:donnees@chu.example.org")
    assert graph.value(publisher, HEALTH.trustedDataHolder) == Literal(False)
    hdab = graph.value(node, HEALTH.hdab)
    assert graph.value(hdab, FOAF.homepage) == URIRef("https://www.health-data-hub.fr/")
    purpose = graph.value(node, URIRef("https://w3id.org/dpv#hasPurpose"))
    assert isinstance(purpose, URIRef) and graph.value(purpose, DCT.description) is not None
    # Synthetic here; a table of real patients is personal data (pseudonymised rows).
    assert graph.value(node, DCT.type) == URIRef(SYNTHETIC)
    real = _graph(dataset_document(_declared(synthetic=False), BASE, HDAB))
    assert real.value(node, DCT.type) == URIRef(PERSONAL_DATA)


@pytest.mark.parametrize(("people", "shown"), [(MIN_CELL - 1, False), (MIN_CELL, True), (0, False)])
def test_unique_individuals_are_published_only_from_the_disclosure_threshold(people, shown):
    graph = _graph(dataset_document(_declared(unique_individuals=people), BASE, HDAB))
    assert (graph.value(URIRef(NODE), HEALTH.numberOfUniqueIndividuals) is not None) == shown


def test_the_catalogue_meets_the_catalog_shape():
    document = catalogue_document([_declared()], BASE, HDAB)
    root = catalogue_iri(BASE)
    assert {v[0] for v in violations(document)} == {NODE}  # the dataset's sample, above; none on the root
    assert root not in json.dumps([v[0] for v in violations(document)])


def test_wikidata_entities_are_recognised_in_their_usual_spellings_only():
    assert wikidata_entity("https://www.wikidata.org/wiki/Q12206") == "http://www.wikidata.org/entity/Q12206"
    assert wikidata_entity("http://www.wikidata.org/entity/Q45127") == "http://www.wikidata.org/entity/Q45127"
    for bad in ("javascript:alert(1)", "/entity/Q1", "http://www.wikidata.org/entity/P31",
                "http://evil.example/www.wikidata.org/entity/Q1", "http://www.wikidata.org/entity/Q0"):
        assert wikidata_entity(bad) is None
    # the seventeen categories of Art. 51(1) of the EHDS regulation, (a) to (q)
    assert set(HEALTH_CATEGORIES) == {"EHRS", "HRAD", "HGPD", "HPML", "PGEH", "WELA", "IDHP", "PHDR", "MRMR",
                                      "EHCT", "EMRD", "RMMD", "RQSH", "EINS", "DIOH", "RPDG", "NRPE"}
