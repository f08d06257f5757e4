"""The append-only audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from registry_db import chain
from registry_db.models import (
    AuditEvent,
    User,
    utcnow,
)

# The chain's advisory lock on PostgreSQL, in the two-int key space so that it can never collide with
# the one-bigint keys of the blob and public-view locks (``staging``, ``audits``): b"boas" and 1.
CHAIN_LOCK_KEYS = (int.from_bytes(b"boas", "big"), 1)

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
    """Append an event at the head of the hash chain (see ``registry_db.chain``).

    Appends are serialised, or two transactions would read the same head and fork the chain: on
    PostgreSQL by a transaction-scoped advisory lock, held until commit so the next appender's read
    of the head sees this event; on SQLite by the database write lock that the service's
    ``begin_write`` (BEGIN IMMEDIATE) already holds. Should a writer ever skip both, the unique
    constraints on ``seq`` and ``prev_hash`` refuse the second event instead of forking. The lock is
    the last one a transaction takes (services append right before their commit, after any blob or
    dataset lock), so it cannot close a deadlock cycle, and it is held only for the commit.

    The id is drawn before the insert because it is part of the hashed content, and the triggers make
    the row unchangeable once inserted.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k1, :k2)"), {"k1": CHAIN_LOCK_KEYS[0], "k2": CHAIN_LOCK_KEYS[1]}
        )
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, chain.GENESIS)
    event_id: int
    if dialect == "postgresql":
        event_id = session.execute(text("SELECT nextval(pg_get_serial_sequence('audit_event', 'id'))")).scalar_one()
    else:  # under the write lock; SQLite's own choice for a rowid without AUTOINCREMENT is the same
        event_id = session.execute(select(func.coalesce(func.max(AuditEvent.id), 0) + 1)).scalar_one()
    # Hash what will be read back: JSON turns tuples into lists and keys into strings.
    stored_details = json.loads(chain.canonical_json(details or {}))
    fields = {
        "id": event_id,
        "seq": seq,
        "at": at or utcnow(),
        "actor_id": actor.id if actor else None,
        "actor_email": actor.email if actor else None,
        "action": action,
        "object_type": object_type,
        "object_ref": object_ref,
        "details": stored_details,
        "prev_hash": prev_hash,
    }
    event = AuditEvent(**fields, hash=chain.event_hash(**fields))
    session.add(event)
    session.flush()
    return event


def chain_head(session: Session) -> AuditEvent | None:
    """The last event of the chain (highest ``seq``), or None for an empty log; one indexed row."""
    return session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one_or_none()


def iter_chain(session: Session, batch: int = 1000) -> Iterator[chain.ChainedEvent]:
    """Every event in chain order as plain values, read in batches (keyset on ``seq``), for the verifier.

    Events appended during the walk are read too: they only extend the tail.
    """
    last = 0
    while True:
        rows = session.execute(
            select(
                AuditEvent.id,
                AuditEvent.seq,
                AuditEvent.at,
                AuditEvent.actor_id,
                AuditEvent.actor_email,
                AuditEvent.action,
                AuditEvent.object_type,
                AuditEvent.object_ref,
                AuditEvent.details,
                AuditEvent.prev_hash,
                AuditEvent.hash,
            )
            .where(AuditEvent.seq > last)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        for row in rows:
            yield chain.ChainedEvent(**row._asdict())
        if len(rows) < batch:
            return
        last = rows[-1].seq


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
