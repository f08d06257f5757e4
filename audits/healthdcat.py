"""A reference dataset's metadata as HealthDCAT-AP JSON-LD (the EHDS catalogue profile, built on DCAT-AP 3).

Pure: it reads the facts of a dataset (its datasheet, size, format, digest, publisher) and never its rows;
the distribution it describes has an access URL (this metadata) and no download URL, because BOAS never
serves a reference dataset's rows. The ``@context`` is written inline, so a JSON-LD processor reads the
document offline and no remote context is ever fetched.

Access rights are NON_PUBLIC (HealthDCAT-AP's category for data reachable only through a data permit or
the holder's agreement): evaluators upload these tables to audit algorithms, not to share them. The
number of records is omitted below the disclosure threshold (SECURITY.md item 13), as a catalogue may
republish it. Properties the datasheet does not hold (health category, health theme, age range, unique
individuals, coding systems) are left out rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audits.suppression.tiers import MIN_CELL

HEALTHDCATAP = "http://healthdataportal.eu/ns/health#"
CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dcatap": "http://data.europa.eu/r5r/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "healthdcatap": HEALTHDCATAP,
    "adms": "http://www.w3.org/ns/adms#",
    "spdx": "http://spdx.org/rdf/terms#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
EU = "http://publications.europa.eu/resource/authority/"
NON_PUBLIC = f"{EU}access-right/NON_PUBLIC"
THEME_HEALTH = f"{EU}data-theme/HEAL"
SYNTHETIC = f"{EU}dataset-type/SYNTHETIC_DATA"
FILE_TYPES = {"csv": f"{EU}file-type/CSV", "parquet": f"{EU}file-type/PARQUET"}
PROFILE = "https://healthdcat-ap.github.io/"
# HealthDCAT-AP makes applicable legislation mandatory for health datasets: the EHDS regulation.
EHDS = "http://data.europa.eu/eli/reg/2025/327/oj"


@dataclass(frozen=True)
class DatasetFacts:
    """What HealthDCAT-AP describes of one reference dataset (no row, no column value)."""

    id: int
    name: str
    datasheet: dict[str, Any]
    sha256: str
    size: int
    format: str
    row_count: int
    created_at: str
    publisher: str
    publisher_is_organisation: bool


def dataset_iri(base_url: str, dataset_id: int) -> str:
    """The dataset's IRI: the URL of its own HealthDCAT-AP description."""
    return f"{base_url.rstrip('/')}/api/v1/datasets/{dataset_id}/healthdcat-ap.jsonld"


def catalogue_iri(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/datasets/healthdcat-ap.jsonld"


def dataset_document(facts: DatasetFacts, base_url: str) -> dict[str, Any]:
    """One dataset as a standalone JSON-LD document (inline context, the dataset and its distribution)."""
    return {"@context": CONTEXT, "@graph": [_dataset(facts, base_url)]}


def catalogue_document(datasets: list[DatasetFacts], base_url: str) -> dict[str, Any]:
    """A dcat:Catalog listing every dataset given, each described in full in the same graph."""
    catalogue = {
        "@id": catalogue_iri(base_url),
        "@type": "dcat:Catalog",
        "dct:title": "BOAS reference datasets",
        "dct:description": "Reference datasets used by BOAS evaluators to audit health algorithms for bias and "
        "drift. Metadata only: the rows are never distributed.",
        "dct:publisher": {"@id": f"{base_url.rstrip('/')}/#publisher", "@type": "foaf:Agent", "foaf:name": "BOAS"},
        "foaf:homepage": {"@id": base_url.rstrip("/") + "/"},
        "dct:conformsTo": {"@id": PROFILE},
        "dcat:themeTaxonomy": {"@id": f"{EU}data-theme"},
        "dcat:dataset": [{"@id": dataset_iri(base_url, f.id)} for f in datasets],
    }
    return {"@context": CONTEXT, "@graph": [catalogue, *(_dataset(f, base_url) for f in datasets)]}


def _literal(value: Any, datatype: str) -> dict[str, str]:
    return {"@value": str(value), "@type": datatype}


def _dataset(facts: DatasetFacts, base_url: str) -> dict[str, Any]:
    iri = dataset_iri(base_url, facts.id)
    sheet = facts.datasheet or {}
    agent_type = "foaf:Organization" if facts.publisher_is_organisation else "foaf:Agent"
    contact_type = "vcard:Organization" if facts.publisher_is_organisation else "vcard:Individual"
    node: dict[str, Any] = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": iri,
        "dct:title": facts.name,
        "dct:description": sheet.get("motivation") or facts.name,
        "dct:publisher": {"@id": f"{iri}#publisher", "@type": agent_type, "foaf:name": facts.publisher},
        # No e-mail: contact goes through the registry, whose page names the publisher.
        "dcat:contactPoint": {
            "@id": f"{iri}#contact",
            "@type": contact_type,
            "vcard:fn": facts.publisher,
            "vcard:hasURL": {"@id": base_url.rstrip("/") + "/"},
        },
        "dct:accessRights": {"@id": NON_PUBLIC},
        "dcatap:applicableLegislation": {"@id": EHDS},
        "dcat:theme": {"@id": THEME_HEALTH},
        "dct:issued": _literal(facts.created_at, "xsd:dateTime"),
        "dct:modified": _literal(facts.created_at, "xsd:dateTime"),  # a stored dataset never changes
        "adms:identifier": {
            "@id": f"{iri}#sha256",
            "@type": "adms:Identifier",
            "skos:notation": f"sha256:{facts.sha256}",
        },
        "dct:provenance": {
            "@id": f"{iri}#provenance",
            "@type": "dct:ProvenanceStatement",
            "rdfs:label": _joined(
                ("Source", sheet.get("source")),
                ("Preprocessing", sheet.get("preprocessing")),
                ("Labelling", sheet.get("labelling")),
            ),
        },
        "dcat:distribution": _distribution(facts, iri),
    }
    if sheet.get("population"):
        node["healthdcatap:populationCoverage"] = sheet["population"]
    if sheet.get("collection_period"):
        node["dct:temporal"] = {
            "@id": f"{iri}#period",
            "@type": "dct:PeriodOfTime",
            "rdfs:label": sheet["collection_period"],
        }
    if sheet.get("coverage"):
        node["dct:coverage"] = sheet["coverage"]
    if sheet.get("maintenance"):
        node["adms:versionNotes"] = sheet["maintenance"]
    if sheet.get("synthetic"):
        node["dct:type"] = {"@id": SYNTHETIC}
    if facts.row_count >= MIN_CELL:
        node["healthdcatap:numberOfRecords"] = _literal(facts.row_count, "xsd:nonNegativeInteger")
    return node


def _distribution(facts: DatasetFacts, iri: str) -> dict[str, Any]:
    """The stored table as metadata: an access URL (this description), no download URL, its digest."""
    distribution: dict[str, Any] = {
        "@id": f"{iri}#distribution",
        "@type": "dcat:Distribution",
        "dct:description": "The table the evaluator uploaded. Its rows are never downloadable from BOAS; "
        "access follows the conditions stated in dct:rights.",
        "dcat:accessURL": {"@id": iri},
        "dcat:byteSize": _literal(facts.size, "xsd:nonNegativeInteger"),
        "spdx:checksum": {
            "@id": f"{iri}#checksum",
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"},
            "spdx:checksumValue": _literal(facts.sha256, "xsd:hexBinary"),
        },
        "dct:rights": {
            "@id": f"{iri}#rights",
            "@type": "dct:RightsStatement",
            "rdfs:label": (facts.datasheet or {}).get("access_conditions") or "Not public",
        },
    }
    if facts.format in FILE_TYPES:
        distribution["dct:format"] = {"@id": FILE_TYPES[facts.format]}
    return distribution


def _joined(*parts: tuple[str, Any]) -> str:
    return "\n\n".join(f"{label}: {text}" for label, text in parts if isinstance(text, str) and text.strip())
