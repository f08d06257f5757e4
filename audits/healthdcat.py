"""A reference dataset's metadata as HealthDCAT-AP JSON-LD (the EHDS catalogue profile, built on DCAT-AP 3).

Pure: it reads the facts of a dataset (its datasheet, size, format, digest, publisher) and never its rows;
the distribution it describes has an access URL (this metadata) and no download URL, because BOAS never
serves a reference dataset's rows. The ``@context`` is written inline, so a JSON-LD processor reads the
document offline and no remote context is ever fetched.

Access rights are NON_PUBLIC (HealthDCAT-AP's category for data reachable only through a data permit or
the holder's agreement): evaluators upload these tables to audit algorithms, not to share them, so the
document aims at the profile's shapes for sensitive data. Counts a catalogue may republish (records,
unique individuals) are omitted below the disclosure threshold (SECURITY.md item 13). A property BOAS
does not know — the evaluator did not declare it, the instance has no Health Data Access Body configured,
or no vocabulary exists for it yet — is left out, never guessed; ``missing_properties`` names the
mandatory ones still absent, so the export says how complete it is.
"""

from __future__ import annotations

import re
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
    "dpv": "https://w3id.org/dpv#",
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
PERSONAL_DATA = f"{EU}dataset-type/PERSONAL_DATA"
FILE_TYPES = {"csv": f"{EU}file-type/CSV", "parquet": f"{EU}file-type/PARQUET"}
FILE_LABELS = {"csv": "CSV", "parquet": "Parquet"}
PROFILE = "https://healthdcat-ap.github.io/"
# HealthDCAT-AP makes applicable legislation mandatory for health datasets: the EHDS regulation.
EHDS = "http://data.europa.eu/eli/reg/2025/327/oj"

HEALTH_CATEGORY_BASE = "http://13.81.34.152:1101/resource/authority/healthcategories/"
"""Base IRI of the health categories (EHDS Regulation 2025/327, Art. 51), provisional.

The Publications Office has not yet published the health-category Named Authority List; HealthDCAT-AP
Release 6 names this provisional server in the meantime, and current implementations use it. When the NAL
appears under http://publications.europa.eu/resource/authority/, this one constant changes (stored
datasheets keep the codes only, so nothing stored needs rewriting)."""

# The categories' codes, with an English label of each: the seventeen of Art. 51(1) of the EHDS regulation. Only
# these codes exist: a datasheet naming another one is refused.
HEALTH_CATEGORIES: dict[str, str] = {
    "EHRS": "Electronic health data from electronic health records",
    "HRAD": "Healthcare-related administrative data (dispensations, reimbursement claims, reimbursements)",
    "HGPD": "Human genetic, epigenomic and genomic data",
    "HPML": "Other human molecular data (proteomic, transcriptomic, metabolomic, lipidomic, other omic data)",
    "PGEH": "Personal electronic health data automatically generated through medical devices",
    "WELA": "Data from wellness applications",
    "IDHP": "Data on the professional status, specialisation and institution of health professionals",
    "PHDR": "Population-based health data registries (public health registries)",
    "MRMR": "Medical registries and mortality registries",
    "EHCT": "Clinical trials, clinical studies, clinical investigations and performance studies",
    "EMRD": "Other health data from medical devices",
    "RMMD": "Registries for medicinal products and medical devices",
    "RQSH": "Research cohorts, questionnaires and surveys related to health, after first publication of results",
    "EINS": "Biobanks and associated databases",
    "DIOH": "Factors impacting health (socio-economic, environmental and behavioural determinants)",
    "NRPE": "Aggregated data on healthcare needs, resources, provision of and access to care, expenditure and "
            "financing",
    "RPDG": "Data on pathogens that impact human health",
}

PUBLISHER_TYPE_BASE = "http://13.81.34.152:1101/resource/authority/publisher-type/"
"""Base IRI of HealthDCAT-AP's publisher types, provisional for the same reason as ``HEALTH_CATEGORY_BASE``:
the profile's shapes require one type per publisher, from a vocabulary served, until the Publications Office
publishes it, by the same provisional server. Stored datasheets keep the codes only."""

# The publisher types' codes, with an English label of each. Only these codes exist.
PUBLISHER_TYPES: dict[str, str] = {
    "public-health-institute": "Public health institute",
    "research-institute-org": "Research institute or organisation",
    "national-authority": "National authority",
    "regional-authority": "Regional authority",
    "university": "University",
    "public-health-registry": "Public health registry",
    "public-health-org": "Public health organisation",
    "stat-agency": "Statistics agency",
    "biobank": "Biobank",
    "inpatient-institute": "Inpatient institution or hospital",
    "laboratory": "Laboratory",
    "private-company": "Private company",
    "gov-public-sector-org": "Government or public-sector organisation",
    "healthcare-providers": "Healthcare provider",
    "health-insurance-company-org": "Health insurance company or organisation",
    "pharma-company": "Pharmaceutical company",
    "private-sector-entities": "Private-sector entity",
    "health-technology-manufacturer": "Manufacturer of health applications or technology",
    "software-manufacturer": "Software manufacturer",
    "pharmacy": "Pharmacy",
    "research-infra": "Research infrastructure",
    "administrative-institution": "Administrative institution",
    "outpatient-institute": "Outpatient institution",
    "national-cancer-institute": "National cancer institute",
    "municipality-or-other-area": "Municipality or other area",
    "research-academic-org": "Research or academic organisation",
    "non-gov-org": "Non-governmental organisation",
    "primary-care-org": "Primary care organisation",
    "mental-health-org": "Mental health organisation",
    "not-for-profit-org": "Not-for-profit organisation",
    "other-government-agency": "Other government agency",
    "other-company": "Other company collecting health data",
    "other-public-institute": "Other public institute collecting health data",
    "quality-registry": "Quality registry",
    "pathology-registry": "Pathology registry",
    "private-health-insurance": "Private health insurance",
}

# Health themes and coding systems are Wikidata entities in HealthDCAT-AP (its shapes check the prefix
# http://www.wikidata.org/entity/). Any entity is accepted; the browser's https and /wiki/ spellings are
# written in the canonical form.
WIKIDATA_ENTITY = "http://www.wikidata.org/entity/"
_WIKIDATA = re.compile(r"https?://www\.wikidata\.org/(?:entity|wiki)/(Q[1-9][0-9]{0,11})")
# Suggestions only, each checked against published HealthDCAT-AP material: ICD-10 (the example the
# profile's own shapes give for hasCodingSystem) and Orphanet's ORDO (its RDF template).
CODING_SYSTEM_SUGGESTIONS: dict[str, str] = {
    f"{WIKIDATA_ENTITY}Q45127": "ICD-10",
    f"{WIKIDATA_ENTITY}Q24254958": "ORDO (Orphanet)",
}
# dct:spatial: a country, place or continent of the EU authority tables, or a GeoNames feature (the
# sources HealthDCAT-AP's vocabulary shapes accept).
_SPATIAL = re.compile(
    r"http://publications\.europa\.eu/resource/authority/(?:country|place|continent)/[A-Z][A-Z0-9_]{1,30}"
    r"|https://sws\.geonames\.org/[1-9][0-9]{0,11}/?"
)
MAX_AGE = 150


def wikidata_entity(text: str) -> str | None:
    """The canonical IRI of a Wikidata entity (``http://www.wikidata.org/entity/Q…``), or None if it is not one."""
    match = _WIKIDATA.fullmatch(text.strip())
    return f"{WIKIDATA_ENTITY}{match.group(1)}" if match else None


def is_spatial(text: str) -> bool:
    """Whether ``text`` is a place IRI HealthDCAT-AP accepts for dct:spatial (EU authority table or GeoNames)."""
    return _SPATIAL.fullmatch(text) is not None


@dataclass(frozen=True)
class Agent:
    """An organisation as HealthDCAT-AP's Health Agent names it: name, homepage and functional mailbox."""

    name: str
    homepage: str
    email: str


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
    original_format: str | None = None  # the format it was uploaded in, when it is stored in another one


# The mandatory properties of the sensitive-data shapes that depend on what BOAS is told, in the order a
# reader fills them; each with the test of whether a dataset has it. Everything else mandatory BOAS states
# itself (title, description, identifier, access rights, legislation, theme, type, distribution, provenance).
def _has(key: str):
    return lambda sheet, hdab: bool(sheet.get(key))


MANDATORY: tuple[tuple[str, Any], ...] = (
    ("healthdcatap:healthCategory", _has("health_categories")),
    ("healthdcatap:healthTheme", _has("health_themes")),
    ("dcat:keyword", _has("keywords")),
    ("dpv:hasPurpose", _has("purpose")),
    ("dct:spatial", _has("spatial")),
    ("dct:publisher/foaf:homepage", _has("publisher_homepage")),
    ("dct:publisher/foaf:mbox", _has("contact_email")),
    ("dct:publisher/healthdcatap:publisherNote", _has("publisher_note")),
    ("dct:publisher/healthdcatap:trustedDataHolder", lambda sheet, hdab: sheet.get("trusted_data_holder") is not None),
    ("dct:publisher/healthdcatap:publisherType", _has("publisher_type")),
    ("dcat:contactPoint/vcard:hasEmail", _has("contact_email")),
    ("healthdcatap:hdab", lambda sheet, hdab: hdab is not None),
    # A sample distribution would distribute rows, which BOAS never does.
    ("adms:sample", lambda sheet, hdab: False),
)


def missing_properties(facts: DatasetFacts, hdab: Agent | None) -> list[str]:
    """The mandatory HealthDCAT-AP properties (sensitive data) this dataset's export still lacks, as paths."""
    sheet = facts.datasheet or {}
    return [path for path, present in MANDATORY if not present(sheet, hdab)]


def dataset_iri(base_url: str, dataset_id: int) -> str:
    """The dataset's IRI: the URL of its own HealthDCAT-AP description."""
    return f"{base_url.rstrip('/')}/api/v1/datasets/{dataset_id}/healthdcat-ap.jsonld"


def catalogue_iri(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/datasets/healthdcat-ap.jsonld"


def dataset_document(facts: DatasetFacts, base_url: str, hdab: Agent | None = None) -> dict[str, Any]:
    """One dataset as a standalone JSON-LD document (inline context, the dataset and its distribution)."""
    return {"@context": CONTEXT, "@graph": [_dataset(facts, base_url, hdab)]}


def catalogue_document(datasets: list[DatasetFacts], base_url: str, hdab: Agent | None = None) -> dict[str, Any]:
    """A dcat:Catalog listing every dataset given, each described in full in the same graph."""
    catalogue = {
        "@id": catalogue_iri(base_url),
        "@type": "dcat:Catalog",
        "dct:title": _en("BOAS reference datasets"),
        "dct:description": _en("Reference datasets used by BOAS evaluators to audit health algorithms for bias "
                               "and drift. Metadata only: the rows are never distributed."),
        "dct:publisher": {"@id": f"{base_url.rstrip('/')}/#publisher", "@type": "foaf:Agent", "foaf:name": "BOAS"},
        "foaf:homepage": {"@id": base_url.rstrip("/") + "/"},
        "dct:conformsTo": {"@id": PROFILE},
        "dcatap:applicableLegislation": {"@id": EHDS},
        "dcat:themeTaxonomy": {"@id": f"{EU}data-theme"},
        "dcat:dataset": [{"@id": dataset_iri(base_url, f.id)} for f in datasets],
    }
    return {"@context": CONTEXT, "@graph": [catalogue, *(_dataset(f, base_url, hdab) for f in datasets)]}


def _literal(value: Any, datatype: str) -> dict[str, str]:
    return {"@value": str(value), "@type": datatype}


def _en(text: str) -> dict[str, str]:
    """Text BOAS writes itself, in English (the datasheet's own text carries no tag: its language is not declared)."""
    return {"@value": text, "@language": "en"}


def _mailbox(email: str) -> dict[str, str]:
    return {"@id": f"mailto:{email}"}


def _agent(node_id: str, agent: Agent) -> dict[str, Any]:
    return {"@id": node_id, "@type": "foaf:Agent", "foaf:name": agent.name,
            "foaf:homepage": {"@id": agent.homepage}, "foaf:mbox": _mailbox(agent.email)}


def _publisher(facts: DatasetFacts, iri: str) -> dict[str, Any]:
    """The uploader's organisation (or public name), with what the datasheet declares of it; never an account's
    e-mail: the mailbox is the functional address the evaluator chose to publish."""
    sheet = facts.datasheet or {}
    node: dict[str, Any] = {
        "@id": f"{iri}#publisher",
        "@type": ["foaf:Agent", "foaf:Organization"] if facts.publisher_is_organisation else "foaf:Agent",
        "foaf:name": facts.publisher,
    }
    if sheet.get("publisher_homepage"):
        node["foaf:homepage"] = {"@id": sheet["publisher_homepage"]}
    if sheet.get("contact_email"):
        node["foaf:mbox"] = _mailbox(sheet["contact_email"])
    if sheet.get("publisher_note"):
        node["healthdcatap:publisherNote"] = sheet["publisher_note"]
    if sheet.get("publisher_type") in PUBLISHER_TYPES:
        node["healthdcatap:publisherType"] = {"@id": f"{PUBLISHER_TYPE_BASE}{sheet['publisher_type']}"}
    if sheet.get("trusted_data_holder") is not None:
        node["healthdcatap:trustedDataHolder"] = _literal(str(bool(sheet["trusted_data_holder"])).lower(),
                                                          "xsd:boolean")
    return node


def _contact(facts: DatasetFacts, iri: str, base_url: str) -> dict[str, Any]:
    """The publisher as a vcard:Kind: the registry's page (which names the publisher) and, when declared, the
    functional mailbox."""
    kind = "vcard:Organization" if facts.publisher_is_organisation else "vcard:Individual"
    node: dict[str, Any] = {"@id": f"{iri}#contact", "@type": ["vcard:Kind", kind], "vcard:fn": facts.publisher,
                            "vcard:hasURL": {"@id": base_url.rstrip("/") + "/"}}
    if (facts.datasheet or {}).get("contact_email"):
        node["vcard:hasEmail"] = _mailbox(facts.datasheet["contact_email"])
    return node


def _category(code: str) -> dict[str, Any]:
    return {"@id": f"{HEALTH_CATEGORY_BASE}{code}", "@type": "skos:Concept",
            "skos:prefLabel": _en(HEALTH_CATEGORIES[code])}


def _dataset(facts: DatasetFacts, base_url: str, hdab: Agent | None) -> dict[str, Any]:
    iri = dataset_iri(base_url, facts.id)
    sheet = facts.datasheet or {}
    node: dict[str, Any] = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": _literal(iri, "xsd:anyURI"),
        "dct:title": facts.name,
        "dct:description": sheet.get("motivation") or facts.name,
        "dct:publisher": _publisher(facts, iri),
        "dcat:contactPoint": _contact(facts, iri, base_url),
        "dct:accessRights": {"@id": NON_PUBLIC},
        "dcatap:applicableLegislation": {"@id": EHDS},
        "dcat:theme": {"@id": THEME_HEALTH},
        # Rows about real patients stay personal data once identifiers are refused (pseudonymised data is
        # personal data, GDPR recital 26); only a table declared synthetic is not.
        "dct:type": {"@id": SYNTHETIC if sheet.get("synthetic") else PERSONAL_DATA},
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
                ("Provenance", sheet.get("provenance")),
                ("Source", sheet.get("source")),
                ("Preprocessing", sheet.get("preprocessing")),
                ("Labelling", sheet.get("labelling")),
            ),
        },
        "dcat:distribution": _distribution(facts, iri),
    }
    if sheet.get("health_categories"):
        node["healthdcatap:healthCategory"] = [_category(code) for code in sheet["health_categories"]]
    if sheet.get("health_themes"):
        node["healthdcatap:healthTheme"] = [{"@id": theme} for theme in sheet["health_themes"]]
    if sheet.get("coding_systems"):
        node["healthdcatap:hasCodingSystem"] = [{"@id": system} for system in sheet["coding_systems"]]
    if sheet.get("keywords"):
        node["dcat:keyword"] = list(sheet["keywords"])
    if sheet.get("purpose"):
        node["dpv:hasPurpose"] = {"@id": f"{iri}#purpose", "@type": "dpv:Purpose", "dct:description": sheet["purpose"]}
    if sheet.get("spatial"):
        node["dct:spatial"] = [{"@id": place} for place in sheet["spatial"]]
    for key, prop in (("min_typical_age", "minTypicalAge"), ("max_typical_age", "maxTypicalAge")):
        if sheet.get(key) is not None:
            node[f"healthdcatap:{prop}"] = _literal(int(sheet[key]), "xsd:nonNegativeInteger")
    if hdab is not None:
        node["healthdcatap:hdab"] = _agent(f"{base_url.rstrip('/')}/#hdab", hdab)
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
    if facts.row_count >= MIN_CELL:
        node["healthdcatap:numberOfRecords"] = _literal(facts.row_count, "xsd:nonNegativeInteger")
    # Declared by the evaluator, and a count of people a catalogue may republish: the same threshold.
    individuals = sheet.get("unique_individuals")
    if isinstance(individuals, int) and individuals >= MIN_CELL:
        node["healthdcatap:numberOfUniqueIndividuals"] = _literal(individuals, "xsd:nonNegativeInteger")
    return node


def _distribution(facts: DatasetFacts, iri: str) -> dict[str, Any]:
    """The stored table as metadata: an access URL (this description), no download URL, its digest.

    Size, digest and format are the stored file's (the one an audit reads); a table uploaded in another
    format says so in the description.
    """
    converted = (f" It was uploaded as {FILE_LABELS.get(facts.original_format, facts.original_format)} and is "
                 f"stored as {FILE_LABELS.get(facts.format, facts.format)}."
                 if facts.original_format and facts.original_format != facts.format else "")
    distribution: dict[str, Any] = {
        "@id": f"{iri}#distribution",
        "@type": "dcat:Distribution",
        "dct:description": _en(f"The table the evaluator uploaded.{converted} Its rows are never downloadable "
                               "from BOAS; access follows the conditions stated in dct:rights."),
        "dcat:accessURL": {"@id": iri},
        "dcatap:applicableLegislation": {"@id": EHDS},
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
            "rdfs:label": (facts.datasheet or {}).get("access_conditions") or _en("Not public"),
        },
    }
    if facts.format in FILE_TYPES:
        distribution["dct:format"] = {"@id": FILE_TYPES[facts.format]}
    return distribution


def _joined(*parts: tuple[str, Any]) -> str:
    return "\n\n".join(f"{label}: {text}" for label, text in parts if isinstance(text, str) and text.strip())
