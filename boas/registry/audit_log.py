"""The audit log's hash chain: its public head, and the walk that verifies it.

The chain itself is written by ``store.append_event``; its format and the walk are
``registry_db.chain`` (pure). These services only feed the store's events to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from registry_db import store
from registry_db.chain import ChainReport, verify_chain
from registry_db.errors import ValidationFailed

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class ChainHead:
    """What outsiders anchor: the head's hash, its position (the event count of an intact log) and time."""

    count: int
    head_hash: str | None
    head_at: datetime | None


def get_chain_head(session: Session) -> ChainHead:
    """The chain's head, public to anyone: one indexed row, never a count over the whole table.

    ``count`` is the head's position: in an intact chain positions run 1..N without gaps, so it is the
    number of events, and an outsider who anchors it can later detect a truncated tail.
    """
    head = store.chain_head(session)
    if head is None:
        return ChainHead(count=0, head_hash=None, head_at=None)
    return ChainHead(count=head.seq, head_hash=head.hash, head_at=head.at)


def verify_audit_log(
    session: Session, *, expect_head: str | None = None, expect_count: int | None = None
) -> ChainReport:
    """Walk the whole chain from the database and report the first broken link, if any.

    ``expect_head`` and ``expect_count`` are an anchor taken earlier (``GET /api/v1/audit-log/head``):
    without one a cut tail looks like a shorter, intact chain.
    """
    errors: dict[str, list[str]] = {}
    if expect_head is not None and not _SHA256.fullmatch(expect_head):
        errors["expect_head"] = ["expected a SHA-256 in hex (64 characters 0-9, a-f)"]
    if expect_count is not None and expect_count < 0:
        errors["expect_count"] = ["expected a count of 0 or more"]
    if errors:
        raise ValidationFailed("invalid anchor", errors)
    return verify_chain(store.iter_chain(session), expect_head=expect_head, expect_count=expect_count)
