"""The append-only audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry_db.models import (
    AuditEvent,
    User,
    utcnow,
)

# -- audit log -----------------------------------------------------------------------------


def append_event(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_ref: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at or utcnow(),
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        action=action,
        object_type=object_type,
        object_ref=object_ref,
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session, *, action: str | None, object_ref: str | None, page: int, per_page: int
) -> tuple[Sequence[AuditEvent], int]:
    stmt = select(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if object_ref:
        stmt = stmt.where(AuditEvent.object_ref == object_ref)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return rows.scalars().all(), total
