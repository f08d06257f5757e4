"""fhir-bundle.json: a released card as FHIR R5 resources (a collection Bundle), from the frozen snapshot.

- ``DocumentReference``: the card itself. Its attachment carries the snapshot's canonical JSON (the very
  bytes the SHA-256 recorded at publication is computed over), so ``hash`` (SHA-1, base64, as FHIR
  defines it) and the SHA-256 identifier can both be checked against ``data`` by any reader. No ``url``:
  FHIR requires a URL to serve the same bytes as ``data``, and card.json is pretty-printed.
- ``DeviceDefinition``: the algorithm at this version (software as a medical device is a device in
  FHIR); a definition, not a ``Device``, because BOAS describes a product, not one installed instance.
- ``Organization``: the owning organisation, when there is one, referenced as author and manufacturer.

Status: a yanked version is ``superseded``, not ``entered-in-error``: the card was not written in error,
the authors withdrew the version (the reason is in ``description``); ``docStatus`` stays ``final``
because the snapshot never changes. Resource ids and fullUrls are name-based UUIDs of the card digest,
so the same version always exports the same bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from model_cards.exports.base import Format, Release
from model_cards.exports.common import canonical_json, web_url

FHIR_VERSION = "5.0"
MEDIA_TYPE = f"application/fhir+json; fhirVersion={FHIR_VERSION}"
_URI = "urn:ietf:rfc:3986"  # the identifier system saying "the value is itself a URI"
_NAMESPACE = uuid.UUID("6f1d0f0e-2b1c-5b9a-9a53-0b0a5b0a5b0a")


def export_fhir(document: dict[str, Any], release: Release) -> dict[str, Any]:
    """A FHIR R5 collection Bundle: DocumentReference of the card, DeviceDefinition, owning Organization."""
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    data = canonical_json(document)
    ids = {
        kind: str(uuid.uuid5(_NAMESPACE, f"{release.sha256}/{kind}"))
        for kind in ("Bundle", "DocumentReference", "DeviceDefinition", "Organization")
    }
    organisation = algorithm.get("organisation") or None
    entries = [
        _document_reference(document, release, data, ids, organisation is not None),
        _device_definition(document, ids, organisation is not None),
    ]
    if organisation:
        entries.append(
            {
                "resourceType": "Organization",
                "id": ids["Organization"],
                "active": True,
                "identifier": [{"system": "https://boas.example/organisations", "value": organisation["slug"]}],
                "name": organisation.get("name") or organisation["slug"],
            }
        )
    published = _instant(version.get("published_at"))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": ids["Bundle"],
        "type": "collection",
        "identifier": {"system": _URI, "value": _ni_sha256(release.sha256)},
        "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource} for resource in entries],
    }
    if published:
        bundle["timestamp"] = published
    return bundle


def _document_reference(
    document: dict[str, Any], release: Release, data: bytes, ids: dict[str, str], has_org: bool
) -> dict[str, Any]:
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    name = algorithm.get("name") or algorithm.get("slug") or "algorithm"
    authors: list[dict[str, Any]] = [{"display": owner} for owner in algorithm.get("owners") or []]
    if has_org:
        authors.append(
            {
                "reference": f"urn:uuid:{ids['Organization']}",
                "display": algorithm["organisation"].get("name") or algorithm["organisation"]["slug"],
            }
        )
    yanked = release.state == "yanked"
    description = str(algorithm.get("summary") or name)
    if yanked:
        description = (
            f"Withdrawn (yanked) on {(release.yanked_at or '')[:10]}: {release.yank_reason or ''}. {description}"
        )
    identifiers = [{"system": _URI, "value": _ni_sha256(release.sha256), "type": {"text": "SHA-256 of the card"}}]
    if url := web_url(version.get("url")):
        identifiers.append({"system": _URI, "value": url, "type": {"text": "Card page"}})
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": ids["DocumentReference"],
        "identifier": identifiers,
        "version": str(version.get("version") or ""),
        "status": "superseded" if yanked else "current",
        "docStatus": "final",
        "type": {"text": "Model card (BOAS card document 1.0)"},
        "subject": {"reference": f"urn:uuid:{ids['DeviceDefinition']}", "display": name},
        "description": description,
        "content": [
            {
                "attachment": {
                    "contentType": "application/json",
                    "data": base64.b64encode(data).decode(),
                    "size": str(len(data)),  # integer64 travels as a JSON string in R5
                    "hash": base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode(),
                    "title": f"{algorithm.get('slug') or 'algorithm'}-{version.get('version') or ''}-card.json",
                }
            }
        ],
    }
    if authors:
        resource["author"] = authors
    if published := _instant(version.get("published_at")):
        resource["date"] = published
    return resource


def _device_definition(document: dict[str, Any], ids: dict[str, str], has_org: bool) -> dict[str, Any]:
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    card = document.get("card") or {}
    regulatory, details = card.get("regulatory") or {}, card.get("model_details") or {}
    resource: dict[str, Any] = {
        "resourceType": "DeviceDefinition",
        "id": ids["DeviceDefinition"],
        "identifier": [{"system": "https://boas.example/algorithms", "value": algorithm.get("slug") or ""}],
        "deviceName": [
            {"name": algorithm.get("name") or algorithm.get("slug") or "algorithm", "type": "registered-name"}
        ],
        "version": [{"value": str(version.get("version") or "")}],
    }
    if algorithm.get("summary"):
        resource["description"] = str(algorithm["summary"])
    if details.get("model_type"):
        resource["modelNumber"] = str(details["model_type"])[:200]
    if has_org:
        reference = {"reference": f"urn:uuid:{ids['Organization']}"}
        resource["manufacturer"] = reference
        resource["owner"] = reference
    if contact := details.get("contact"):
        resource["contact"] = [{"system": "email", "value": contact}]
    # What the authors declared about regulation and risk; BOAS does not certify it.
    classification = []
    if regulatory.get("status"):
        classification.append({"type": {"text": f"regulatory status: {regulatory['status']}"}})
    if regulatory.get("risk_class"):
        classification.append({"type": {"text": f"risk class: {regulatory['risk_class']}"}})
    if classification:
        resource["classification"] = classification
    if regulatory.get("standards"):
        resource["conformsTo"] = [{"specification": {"text": str(s)}} for s in regulatory["standards"]]
    notes = [
        text
        for text in (regulatory.get("notes"), card.get("security"), card.get("limitations"))
        if isinstance(text, str) and text.strip()
    ]
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return resource


def _ni_sha256(hex_digest: str) -> str:
    """The digest as an RFC 6920 named-information URI (``ni:///sha-256;`` + unpadded base64url)."""
    raw = bytes.fromhex(hex_digest)
    return "ni:///sha-256;" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _instant(value: Any) -> str | None:
    """An ISO timestamp as a FHIR instant (a time zone is mandatory; BOAS stores UTC)."""
    if not isinstance(value, str) or "T" not in value:
        return None
    tail = value[10:]
    return value if ("+" in tail or "-" in tail or tail.endswith("Z")) else value + "+00:00"


def _render(document: dict[str, Any], _lang: str, release: Release | None) -> bytes:
    if release is None:
        raise ValueError("a FHIR export describes a released version")
    bundle = export_fhir(document, release)
    # Checked against the FHIR R5 models before it is served: an invalid bundle is a bug, not a download.
    from fhir.resources.bundle import Bundle  # imported here: loading the models costs a second

    Bundle.model_validate(bundle)
    text = json.dumps(bundle, ensure_ascii=False, indent=2, allow_nan=False)
    return (text + "\n").encode()


FORMAT = Format("fhir-bundle.json", MEDIA_TYPE, "FHIR R5", _render, frozen_only=True)
