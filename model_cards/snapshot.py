"""The card document: a version's card with its context (algorithm, version, artifacts, audits).

A draft's document is built live; publishing freezes it into ``Version.snapshot`` with a sha256
over its canonical JSON, and every reader and export of a published version uses that snapshot.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from model_cards import semver
from model_cards.exports.common import canonical_json
from model_cards.schema import card_json_schema
from registry_db import store
from registry_db.models import AuditKind, User, Version, VersionState

DOCUMENT_VERSION = "1.0"
DOCUMENT_SCHEMA_ID = "https://boas.example/schemas/model-card-document-1.0.json"


def digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def public_name(user: User) -> str:
    """How a person appears on public cards: their name, never their e-mail address."""
    if user.name.strip():
        return user.name.strip()
    return user.organisation.name if user.organisation else "unnamed author"


def attached_audits(session: Session, version: Version) -> list[dict[str, Any]]:
    """The compact list of audits run on this version, as the baseline check and the snapshot carry it.

    Whether each audit is independent of the algorithm (who may audit is the registry's rule, not the
    card's) is added by ``boas.registry.cards.live_document``.
    """
    audits = []
    for job in store.list_jobs(session, version_id=version.id):
        result = job.result or {}
        if job.kind == AuditKind.BIAS:
            summary = {k: v for k, v in (result.get("verdicts") or {}).items() if k != "failed"}
        else:
            summary = {k: result.get(k) for k in ("drifted_count", "column_count", "share_drifted")}
        audits.append({
            "id": job.id, "kind": job.kind.value, "status": job.status.value,
            "dataset": {"name": job.dataset.name, "sha256": job.dataset.sha256},
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "evaluator": public_name(job.created_by),
            "summary": summary,
        })
    return audits


def previous_version(session: Session, version: Version) -> str | None:
    """The released version just below this one, for lineage."""
    key = semver.sort_key(version.version)
    earlier = [v.version for v in store.list_versions(session, version.algorithm)
               if v.state != VersionState.DRAFT and semver.sort_key(v.version) < key]
    return max(earlier, key=semver.sort_key, default=None)


def build_document(session: Session, version: Version, *, base_url: str) -> dict[str, Any]:
    """The live document of a version (drafts); published versions read ``version.snapshot`` instead."""
    algorithm = version.algorithm
    return {
        "boas_card_version": DOCUMENT_VERSION,
        "algorithm": {
            "slug": algorithm.slug, "name": algorithm.name, "summary": algorithm.summary,
            "description": algorithm.description, "kind": algorithm.kind.value, "license": algorithm.license,
            "code_repository_url": algorithm.code_repository_url, "code_commit": algorithm.code_commit,
            "objective": algorithm.objective, "clinical_domain": algorithm.clinical_domain,
            "data_source": algorithm.data_source, "language": algorithm.language,
            "validation_status": algorithm.validation_status, "maintenance_status": algorithm.maintenance_status,
            "organisation": ({"slug": algorithm.organisation.slug, "name": algorithm.organisation.name,
                              "kind": algorithm.organisation.kind.value} if algorithm.organisation else None),
            "owners": [public_name(o) for o in algorithm.owners],
        },
        "version": {
            "version": version.version, "state": version.state.value,
            "created_at": version.created_at.isoformat(),
            "published_at": version.published_at.isoformat() if version.published_at else None,
            "published_by": public_name(version.published_by) if version.published_by else None,
            "previous_version": previous_version(session, version),
            "url": f"{base_url.rstrip('/')}/algorithms/{algorithm.slug}/{version.version}",
        },
        "artifacts": {
            "kind": version.artifact_kind, "archive_sha256": version.archive_sha256,
            "manifest": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in version.files],
            "mlmodel": version.mlmodel,
        },
        "card": version.card or {},
        "audits": attached_audits(session, version),
    }


def document_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``card.json``: the card document, its card part generated from CardSchema."""
    card = card_json_schema()
    defs = card.pop("$defs")
    for key in ("$schema", "$id", "title"):
        card.pop(key, None)
    loose = {"type": "object"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": DOCUMENT_SCHEMA_ID,
        "title": "BOAS model card document 1.0",
        "type": "object",
        "required": ["boas_card_version", "algorithm", "version", "artifacts", "card", "audits"],
        "properties": {
            "boas_card_version": {"const": DOCUMENT_VERSION},
            "algorithm": {**loose, "required": ["slug", "name", "kind"]},
            "version": {**loose, "required": ["version", "state"]},
            "artifacts": {**loose, "required": ["manifest"]},
            "card": {"$ref": "#/$defs/Card"},
            "audits": {"type": "array", "items": {**loose, "required": ["id", "kind", "status"]}},
        },
        "$defs": {**defs, "Card": card},
    }
