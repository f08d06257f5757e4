"""CITATION.cff (Citation File Format 1.2.0) for this exact version; YAML written by ``yaml.safe_dump``."""

from __future__ import annotations

from typing import Any

import yaml

from model_cards.exports.base import Format
from model_cards.exports.common import release_date, spdx_ids, web_url


def export_citation_cff(document: dict[str, Any]) -> str:
    """CITATION.cff (Citation File Format 1.2.0) for this exact version."""
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    artifacts = document.get("artifacts") or {}
    authors: list[dict[str, str]] = [_cff_person(name) for name in algorithm.get("owners") or []]
    if organisation := (algorithm.get("organisation") or {}).get("name"):
        authors.append({"name": organisation})
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this algorithm, please cite this version as below.",
        "type": "software",
        "title": algorithm.get("name") or algorithm.get("slug") or "",
        "version": version.get("version") or "",
        "date-released": release_date(document),
        "authors": authors or [{"name": "BOAS"}],
    }
    if algorithm.get("summary"):
        cff["abstract"] = algorithm["summary"]
    if url := web_url(version.get("url")):
        cff["url"] = url
    if repository := web_url(algorithm.get("code_repository_url")):
        cff["repository-code"] = repository
    if algorithm.get("code_commit"):
        cff["commit"] = algorithm["code_commit"]
    license_ids = spdx_ids(algorithm.get("license"))
    if license_ids:
        cff["license"] = license_ids[0] if len(license_ids) == 1 else license_ids
    identifiers = []
    if url:
        identifiers.append({"type": "url", "value": url, "description": "BOAS citable version page"})
    if artifacts.get("archive_sha256"):
        identifiers.append({"type": "other", "value": f"sha256:{artifacts['archive_sha256']}",
                            "description": "SHA-256 digest of the published archive"})
    if identifiers:
        cff["identifiers"] = identifiers
    keywords = [k for k in (algorithm.get("objective"), algorithm.get("clinical_domain")) if k]
    keywords += list((document.get("card") or {}).get("keywords") or [])
    if keywords:
        cff["keywords"] = list(dict.fromkeys(keywords))
    return yaml.safe_dump(cff, sort_keys=False, allow_unicode=True, width=1000)


def _cff_person(name: str) -> dict[str, str]:
    """CFF wants family and given names: "Family, Given" is split on the comma, else on the last space."""
    if "," in name:
        family, given = (p.strip() for p in name.split(",", 1))
    else:
        given, _, family = name.strip().rpartition(" ")
    person = {"family-names": family or name.strip()}
    if given:
        person["given-names"] = given
    return person


FORMAT = Format("CITATION.cff", "application/x-yaml; charset=utf-8", "CITATION.cff",
                lambda document, _lang, _release: export_citation_cff(document).encode(), citation=True)
