"""HealthDCAT-AP documents built from a dataset's facts alone (no database), parsed as RDF."""

from __future__ import annotations

import json

import pytest
from rdflib import Graph, Literal, Namespace, URIRef

from audits.healthdcat import MIN_CELL, DatasetFacts, catalogue_document, dataset_document, dataset_iri

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
    assert graph.value(root, DCT.title) == Literal("BOAS reference datasets")
