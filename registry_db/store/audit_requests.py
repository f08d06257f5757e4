"""Audit requests and notifications: the rows of the author-evaluator loop."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from registry_db.models import (
    ACTIVE_REQUEST_STATUSES,
    AuditRequest,
    AuditRequestStatus,
    Notification,
    Role,
    User,
    Version,
    utcnow,
)
from registry_db.store.base import _add_or_conflict, get_or_not_found


def get_audit_request(session: Session, request_id: int) -> AuditRequest:
    return get_or_not_found(session, AuditRequest, request_id, "audit request")


def add_audit_request(session: Session, row: AuditRequest) -> AuditRequest:
    """Add a request; a second active request for the same version is a Conflict (the partial unique index)."""
    _add_or_conflict(session, row, "this version already has an open audit request", "version",
                     code="audit_already_requested")
    return row


def active_request_for(session: Session, version_id: int) -> AuditRequest | None:
    return session.execute(
        select(AuditRequest).where(AuditRequest.version_id == version_id,
                                   AuditRequest.status.in_(ACTIVE_REQUEST_STATUSES))
    ).scalar_one_or_none()


def latest_request_for(session: Session, version_id: int) -> AuditRequest | None:
    return session.execute(
        select(AuditRequest).where(AuditRequest.version_id == version_id).order_by(AuditRequest.id.desc()).limit(1)
    ).scalar_one_or_none()


def latest_requests_for(session: Session, version_ids: Sequence[int]) -> dict[int, AuditRequest]:
    """The newest request of each of these versions (absent: never requested), in one query."""
    if not version_ids:
        return {}
    newest = (select(func.max(AuditRequest.id)).where(AuditRequest.version_id.in_(version_ids))
              .group_by(AuditRequest.version_id))
    rows = session.execute(select(AuditRequest).where(AuditRequest.id.in_(newest))).scalars().all()
    return {row.version_id: row for row in rows}


def list_audit_requests(session: Session, *, statuses: Sequence[str]) -> Sequence[AuditRequest]:
    return session.execute(
        select(AuditRequest).where(AuditRequest.status.in_(statuses)).order_by(AuditRequest.id)
    ).scalars().all()


def claimed_request_for(session: Session, version_id: int, evaluator_id: int) -> AuditRequest | None:
    return session.execute(
        select(AuditRequest).where(AuditRequest.version_id == version_id,
                                   AuditRequest.status == AuditRequestStatus.CLAIMED,
                                   AuditRequest.claimed_by_id == evaluator_id)
    ).scalar_one_or_none()


def request_of_job(session: Session, job_id: int) -> AuditRequest | None:
    return session.execute(select(AuditRequest).where(AuditRequest.job_id == job_id)).scalar_one_or_none()


def list_active_users(session: Session, roles: Sequence[Role]) -> Sequence[User]:
    return session.execute(
        select(User).where(User.role.in_(roles), User.active.is_(True)).order_by(User.id)
    ).scalars().all()


def version_ids_of(session: Session, algorithm_id: int) -> list[int]:
    return list(session.execute(select(Version.id).where(Version.algorithm_id == algorithm_id)).scalars())


# -- notifications ---------------------------------------------------------------------------


def add_notifications(session: Session, rows: Sequence[Notification]) -> None:
    session.add_all(rows)
    session.flush()


def list_notifications(session: Session, user_id: int, *, limit: int, unread_only: bool = False
                       ) -> Sequence[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars().all()


def count_unread(session: Session, user_id: int) -> int:
    return session.execute(
        select(func.count()).select_from(Notification).where(Notification.user_id == user_id,
                                                            Notification.read_at.is_(None))
    ).scalar_one()


def mark_read(session: Session, user_id: int, notification_id: int | None) -> int:
    """Mark one (or, with None, every) unread notification of the user read; returns how many changed."""
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return session.execute(stmt.values(read_at=utcnow())).rowcount  # type: ignore[attr-defined]


def get_notification(session: Session, notification_id: int) -> Notification:
    return get_or_not_found(session, Notification, notification_id, "notification")
