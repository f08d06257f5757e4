"""Card services: edit a draft's card, check it against the baseline, compare, cover frameworks, export.

Published versions are read from their frozen snapshot; drafts from the live document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from boas.registry import permissions, versions
from boas.registry.policy import Policy
from model_cards import baseline, exports, frameworks, snapshot
from model_cards.diff import diff_documents
from model_cards.patch import merge_patch
from model_cards.schema import validate_card
from registry_db import store
from registry_db.errors import Conflict, NotFound, ValidationFailed
from registry_db.models import User, Version, VersionState


def update_card(session: Session, actor: User | None, slug: str, version: str, patch: dict[str, Any]) -> Version:
    """Apply a JSON merge patch to a draft's card; every validation error is reported at once."""
    if not isinstance(patch, dict):
        raise ValidationFailed("the patch must be a JSON object", {"_schema": ["expected a JSON object"]})
    store.begin_write(session)
    row = versions.get_version(session, actor, slug, version)
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


def live_document(session: Session, version: Version, policy: Policy) -> dict[str, Any]:
    """A version's document built now, each audit marked ``independent`` or not.

    Only independent audits satisfy the bias-audit item of the baseline: an audit whose evaluator of
    record (or the uploader of its predictions or datasets) has since become an owner of the algorithm,
    or joined an organisation that owns it, stays attributed to them but no longer counts for
    publication. A published snapshot freezes the judgement made when it was published.
    """
    document = snapshot.build_document(session, version, base_url=policy.public_base_url)
    for audit in document["audits"]:
        audit["independent"] = permissions.audit_is_independent(store.get_job(session, audit["id"])) is not False
    return document


def get_document(session: Session, actor: User | None, policy: Policy, slug: str, version: str) -> CardView:
    """What readers see: the frozen snapshot once released, the live document for a draft."""
    row = versions.get_version(session, actor, slug, version)
    if row.state != VersionState.DRAFT and row.snapshot is not None:
        return CardView(row, row.snapshot)
    return CardView(row, live_document(session, row, policy))


def baseline_report(session: Session, actor: User | None, policy: Policy, slug: str, version: str, *,
                    view: CardView | None = None) -> dict[str, Any]:
    """The baseline checklist of a version: what is satisfied, what is missing, per pillar.

    ``view``: the document the caller already built for this actor (a page shows it, its checklist and
    its coverage), so one request builds it once.
    """
    view = view or get_document(session, actor, policy, slug, version)
    return check_document(view.document, policy).as_dict()


def compliance(session: Session, actor: User | None, policy: Policy, slug: str, version: str, *,
               view: CardView | None = None) -> dict[str, Any]:
    """Coverage of the AI Act, HTI-1, TRIPOD+AI and CHAI items by this version's card (``view``: as above)."""
    view = view or get_document(session, actor, policy, slug, version)
    return {"algorithm": slug, "version": version, "frameworks": frameworks.coverage(view.document)}


def diff_versions(session: Session, actor: User | None, policy: Policy, slug: str, old: str, new: str) -> dict:
    """Field-level differences between two versions' cards and artifact manifests."""
    if not old or not new:
        raise ValidationFailed("both versions are required", {"from" if not old else "to": ["required"]})
    return diff_documents(get_document(session, actor, policy, slug, old).document,
                          get_document(session, actor, policy, slug, new).document)


def export_card(session: Session, actor: User | None, policy: Policy, slug: str, version: str, name: str,
                lang: str = "fr") -> tuple[bytes, str]:
    """One export of a version's card, from its frozen snapshot (a draft's is a preview).

    Exchange formats that describe a release (FHIR, CHAI: a status, a digest) exist only once the
    version is published: a draft is a conflict for whoever may see it, and stays a 404 for others.
    """
    fmt = exports.FORMATS.get(name)
    if fmt is None:
        raise NotFound(f"unknown export '{name}'; available: {', '.join(exports.FORMATS)}")
    shown = get_document(session, actor, policy, slug, version)
    release = _release(shown.version)
    if fmt.frozen_only and release is None:
        raise Conflict(f"version '{version}' is a draft: {name} describes a published version only",
                       code="not_published")
    return fmt.render(shown.document, lang, release), fmt.media_type


def _release(row: Version) -> exports.Release | None:
    """The released version's current state and recorded digest; None for a draft."""
    if row.state == VersionState.DRAFT or row.snapshot is None or not row.card_sha256:
        return None
    return exports.Release(state=row.state.value, sha256=row.card_sha256,
                           yanked_at=row.yanked_at.isoformat() if row.yanked_at else None,
                           yank_reason=row.yank_reason if row.state == VersionState.YANKED else None)
