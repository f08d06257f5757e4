"""Card services: edit a draft's card, check it against the baseline, compare, cover frameworks, export.

Published versions are read from their frozen snapshot; drafts from the live document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from model_cards import baseline, frameworks, permissions, render, snapshot
from model_cards import registry as registry_service
from model_cards.card_schema import card_json_schema, validate_card
from model_cards.diff import diff_documents
from model_cards.exports import export_bibtex, export_citation_cff, export_markdown
from model_cards.registry import Policy, merge_patch
from registry_db import store
from registry_db.errors import Conflict, NotFound, ValidationFailed
from registry_db.models import User, Version, VersionState, utcnow

SCHEMA_ID = "https://boas.example/schemas/model-card-document-1.0.json"


def update_card(session: Session, actor: User | None, slug: str, version: str, patch: dict[str, Any]) -> Version:
    """Apply a JSON merge patch to a draft's card; every validation error is reported at once."""
    if not isinstance(patch, dict):
        raise ValidationFailed("the patch must be a JSON object", {"_schema": ["expected a JSON object"]})
    store.begin_write(session)
    row = registry_service.get_version(session, actor, slug, version)
    user = permissions.require_manage_algorithm(actor, row.algorithm)
    if row.state != VersionState.DRAFT:
        raise Conflict(f"version '{version}' is {row.state.value}: its card is frozen; create a new version",
                       code="card_frozen")
    patch = {k: v for k, v in patch.items() if k != "derived"}  # derived facts come from the artifact only
    card = validate_card(merge_patch(row.card or {}, patch))
    if (row.card or {}).get("derived"):
        card["derived"] = row.card["derived"]
    row.card = card
    store.append_event(session, actor=user, action="card.updated", object_type="version",
                       object_ref=f"{slug}@{version}", details={"fields": sorted(patch)})
    session.commit()
    return row


def _context(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("card", "audits")}


def check_document(document: dict[str, Any], policy: Policy) -> baseline.BaselineReport:
    return baseline.check(document["card"], document["audits"], context=_context(document),
                          require_bias_audit=policy.require_bias_audit)


@dataclass(frozen=True)
class CardView:
    version: Version
    document: dict[str, Any]


def get_document(session: Session, actor: User | None, policy: Policy, slug: str, version: str) -> CardView:
    row = registry_service.get_version(session, actor, slug, version)
    return CardView(row, snapshot.document_for(session, row, base_url=policy.public_base_url))


def baseline_report(session: Session, actor: User | None, policy: Policy, slug: str, version: str) -> dict[str, Any]:
    """The baseline checklist of a version: what is satisfied, what is missing, per pillar."""
    view = get_document(session, actor, policy, slug, version)
    return check_document(view.document, policy).as_dict()


def compliance(session: Session, actor: User | None, policy: Policy, slug: str, version: str) -> dict[str, Any]:
    """Coverage of the AI Act, HTI-1, TRIPOD+AI and CHAI items by this version's card."""
    view = get_document(session, actor, policy, slug, version)
    return {"algorithm": slug, "version": version, "frameworks": frameworks.coverage(view.document)}


def diff_versions(session: Session, actor: User | None, policy: Policy, slug: str, old: str, new: str) -> dict:
    """Field-level differences between two versions' cards and artifact manifests."""
    if not old or not new:
        raise ValidationFailed("both versions are required", {"from" if not old else "to": ["required"]})
    return diff_documents(get_document(session, actor, policy, slug, old).document,
                          get_document(session, actor, policy, slug, new).document)


EXPORTS = {
    "card.json": "application/json",
    "card.md": "text/markdown; charset=utf-8",
    "card.html": "text/html; charset=utf-8",
    "citation.bib": "application/x-bibtex; charset=utf-8",
    "CITATION.cff": "application/x-yaml; charset=utf-8",
}


def export_card(session: Session, actor: User | None, policy: Policy, slug: str, version: str, name: str,
                lang: str = "fr") -> tuple[bytes, str]:
    """One export of a version's card, from its frozen snapshot (a draft's is a preview)."""
    if name not in EXPORTS:
        raise NotFound(f"unknown export '{name}'; available: {', '.join(EXPORTS)}")
    document = get_document(session, actor, policy, slug, version).document
    if name == "card.json":
        body = render.export_json(document)
    elif name == "card.md":
        body = export_markdown(document, lang=lang).encode()
    elif name == "card.html":
        body = render.export_html(document, lang=lang).encode()
    elif name == "citation.bib":
        body = export_bibtex(document).encode()
    else:
        body = export_citation_cff(document).encode()
    return body, EXPORTS[name]


def document_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``card.json``: the card document, its card part generated from CardSchema."""
    card = card_json_schema()
    defs = card.pop("$defs")
    for key in ("$schema", "$id", "title"):
        card.pop(key, None)
    loose = {"type": "object"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "BOAS model card document 1.0",
        "type": "object",
        "required": ["boas_card_version", "algorithm", "version", "artifacts", "card", "audits"],
        "properties": {
            "boas_card_version": {"const": snapshot.DOCUMENT_VERSION},
            "algorithm": {**loose, "required": ["slug", "name", "kind"]},
            "version": {**loose, "required": ["version", "state"]},
            "artifacts": {**loose, "required": ["manifest"]},
            "card": {"$ref": "#/$defs/Card"},
            "audits": {"type": "array", "items": {**loose, "required": ["id", "kind", "status"]}},
        },
        "$defs": {**defs, "Card": card},
    }


def freeze(session: Session, version: Version, policy: Policy, published_by: User) -> dict[str, Any]:
    """Check the baseline on the document as it will be published, and return the frozen snapshot."""
    document = snapshot.build_document(session, version, base_url=policy.public_base_url)
    document["version"]["state"] = VersionState.PUBLISHED.value
    document["version"]["published_by"] = snapshot.public_name(published_by)
    report = check_document(document, policy)
    if not report.publishable:
        raise ValidationFailed(
            f"the card does not meet the quality baseline: {len(report.missing)} mandatory item(s) missing",
            report.errors(), code="baseline_not_met",
        )
    document["baseline"] = {"score": report.score, "publishable": True}
    return document


def publish_version(session: Session, actor: User | None, policy: Policy, slug: str, version: str) -> Version:
    """Freeze a draft into an immutable, citable card; refused (422, every missing item) below the baseline."""
    store.begin_write(session)
    algorithm = registry_service.get_algorithm(session, actor, slug)
    user = permissions.require_manage_algorithm(actor, algorithm)
    row = store.get_version_for_update(session, algorithm, version)
    if row.state != VersionState.DRAFT:
        raise Conflict(
            f"version '{version}' is already {row.state.value}; a released version is immutable",
            code="already_published",
        )
    document = freeze(session, row, policy, user)
    row.state = VersionState.PUBLISHED
    row.published_at = utcnow()
    row.published_by_id = user.id
    document["version"]["published_at"] = row.published_at.isoformat()
    row.snapshot = document
    row.card_sha256 = snapshot.digest(document)
    store.append_event(
        session, actor=user, action="version.published", object_type="version", object_ref=f"{slug}@{version}",
        details={"card_sha256": row.card_sha256, "archive_sha256": row.archive_sha256,
                 "manifest": [[f.path, f.sha256] for f in row.files]},
    )
    session.commit()
    return row
