"""Validation of HealthDCAT-AP JSON-LD against the vendored sensitive-data shapes (pyshacl), for the tests."""

from __future__ import annotations

import json
from pathlib import Path

from pyshacl import validate
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF

SH = Namespace("http://www.w3.org/ns/shacl#")
SHAPES = Path(__file__).parent / "data" / "healthdcat" / "HealthDCAT-AP_sensitive-shapes.ttl"
SHAPE = Namespace("https://semiceu.github.io/DCAT-AP/releases/3.0.0/html/shacl/shapes.ttl#")


def shapes(*, also_check: dict[str, str] | None = None) -> Graph:
    """The sensitive-data shapes; ``also_check`` = {shape name: node IRI} makes a shape that the profile only
    reaches through sh:node (the publisher's, say) report its own results on that node."""
    graph = Graph().parse(SHAPES, format="turtle")
    for name, node in (also_check or {}).items():
        graph.add((SHAPE[name], SH.targetNode, URIRef(node)))
    return graph


def violations(document: dict, **kwargs) -> set[tuple[str, str, str]]:
    """Every result as (focus node, property path, constraint component), local names for the last two."""
    data = Graph().parse(data=json.dumps(document), format="json-ld")
    conforms, report, _text = validate(data, shacl_graph=shapes(**kwargs), advanced=False, inference="none")
    found = set()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        path = report.value(result, SH.resultPath)
        component = report.value(result, SH.sourceConstraintComponent)
        found.add((str(report.value(result, SH.focusNode)), _curie(path), str(component).rsplit("#", 1)[-1]))
    assert conforms == (not found)
    return found


def messages(document: dict) -> set[str]:
    data = Graph().parse(data=json.dumps(document), format="json-ld")
    _conforms, report, _text = validate(data, shacl_graph=shapes(), inference="none")
    return {str(m) for m in report.objects(None, SH.resultMessage)}


PREFIXES = {
    "http://healthdataportal.eu/ns/health#": "healthdcatap:",
    "http://www.w3.org/ns/adms#": "adms:",
    "http://purl.org/dc/terms/": "dct:",
    "http://www.w3.org/ns/dcat#": "dcat:",
    "https://w3id.org/dpv#": "dpv:",
    "http://xmlns.com/foaf/0.1/": "foaf:",
    "http://www.w3.org/2006/vcard/ns#": "vcard:",
}


def _curie(iri) -> str:
    text = str(iri)
    for base, prefix in PREFIXES.items():
        if text.startswith(base):
            return prefix + text[len(base):]
    return text
