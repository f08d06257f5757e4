"""A version's life after its draft: publication (a frozen, citable card), yanking and unyanking."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from boas.registry import permissions, schemas
from boas.registry.algorithms import get_algorithm
from boas.registry.cards import check_document, live_document
from boas.registry.policy import Policy
from model_cards import snapshot
from registry_db import store
from registry_db.errors import Conflict, ValidationFailed
from registry_db.models import User, Version, VersionState, utcnow


def yank_version(session: Session, actor: User | None, slug: str, version: str, reason: str) -> Version:
    """Withdraw a published version, reversibly; the reason is shown on its card."""
    store.begin_write(session)
    algorithm = get_algorithm(session, actor, slug)
    user = permissions.require_manage_algorithm(actor, algorithm)
    reason = schemas.load(schemas.YankSchema(), {"reason": reason}, "say why users should not rely on this version")[
        "reason"]
    row = store.get_version_for_update(session, algorithm, version)
    if row.state != VersionState.PUBLISHED:
        raise Conflict(f"only a published version can be yanked; this one is {row.state.value}", code="not_published")
    row.state = VersionState.YANKED
    row.yanked_at = utcnow()
    row.yank_reason = reason.strip()
    store.append_event(
        session, actor=user, action="version.yanked", object_type="version", object_ref=f"{slug}@{version}",
        details={"reason": row.yank_reason},
    )
    session.commit()
    return row


def unyank_version(session: Session, actor: User | None, slug: str, version: str) -> Version:
    """Reverse a yank; the version is published again, unchanged."""
    store.begin_write(session)
    algorithm = get_algorithm(session, actor, slug)
    user = permissions.require_manage_algorithm(actor, algorithm)
    row = store.get_version_for_update(session, algorithm, version)
    if row.state != VersionState.YANKED:
        raise Conflict(f"version '{version}' is not yanked; it is {row.state.value}", code="not_yanked")
    row.state = VersionState.PUBLISHED
    row.yanked_at = None
    row.yank_reason = None
    store.append_event(
        session, actor=user, action="version.unyanked", object_type="version", object_ref=f"{slug}@{version}"
    )
    session.commit()
    return row


def freeze(session: Session, version: Version, policy: Policy, published_by: User) -> dict[str, Any]:
    """Check the baseline on the document as it will be published, and return the frozen snapshot."""
    document = live_document(session, version, policy)
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
    algorithm = get_algorithm(session, actor, slug)
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
