"""Resumable upload sessions: rows that count the bytes received; the files are ``LocalStaging``'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from registry_db.errors import NotFound
from registry_db.models import UploadSession, UploadState


def add_upload_session(session: Session, row: UploadSession) -> UploadSession:
    session.add(row)
    session.flush()
    return row


def get_upload_session(session: Session, token: str, *, for_update: bool = False) -> UploadSession:
    """The session with this token, or NotFound (the same answer whether it never existed, expired or went)."""
    query = select(UploadSession).where(UploadSession.token == token)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFound("no such upload (it may have expired, been aborted or already been used)",
                       code="upload_not_found")
    return row


def delete_upload_session(session: Session, row_id: int, *, only_complete: bool = False) -> bool:
    """Delete a session row; with ``only_complete``, only if it is still complete. True if this call deleted it.

    Using an upload deletes its row with ``only_complete`` inside the creating transaction: of two
    requests using the same upload, the second deletes nothing (PostgreSQL makes it wait for the
    first's row lock; SQLite's write lock serialises them) and is refused.
    """
    query = delete(UploadSession).where(UploadSession.id == row_id)
    if only_complete:
        query = query.where(UploadSession.state == UploadState.COMPLETE)
    result = session.execute(query, execution_options={"synchronize_session": False})
    return result.rowcount == 1  # type: ignore[attr-defined]  # a DELETE returns a cursor result


def count_live_upload_sessions(session: Session, owner_id: int, now: datetime) -> int:
    """How many unexpired sessions (in progress or complete, not yet used) an account holds."""
    return session.execute(select(func.count()).select_from(UploadSession).where(
        UploadSession.owner_id == owner_id, UploadSession.expires_at > now)).scalar_one()


def list_expired_upload_sessions(session: Session, now: datetime) -> Sequence[UploadSession]:
    return session.execute(select(UploadSession).where(UploadSession.expires_at <= now)
                           .order_by(UploadSession.id)).scalars().all()


def upload_session_tokens(session: Session) -> set[str]:
    return set(session.execute(select(UploadSession.token)).scalars())
