"""The audit log's hash chain: the canonical form of an event, its hash, and the walk that verifies a chain.

Pure computation: no database, no Flask. The store feeds it events in chain order; tests feed it plain
values. The format is public (README, "Verifying the audit log") so that anyone holding a copy of the log
can recompute every hash without BOAS; changing it would break every anchor ever taken, so don't.

Canonical form of an event (``canonical_bytes``): the JSON object with exactly these ten members ::

    {"action": str, "actor_email": str | null, "actor_id": int | null, "at": str, "details": object,
     "id": int, "object_ref": str, "object_type": str, "prev_hash": str, "seq": int}

serialised with keys sorted by Unicode code point at every depth, no whitespace (``,`` and ``:``
separators), every non-ASCII character escaped as ``\\uXXXX`` (lowercase hex; UTF-16 surrogate pairs
beyond U+FFFF), so the bytes are pure ASCII; integers in decimal, floats as their shortest round-trip
decimal (Python's ``repr``), NaN and infinities refused. This is Python's
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)``.
``at`` is the event time in UTC with microseconds: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. ``seq`` is the
event's position in the chain (1, 2, 3, ... without gaps); ``prev_hash`` is the ``hash`` of the event at
``seq - 1``, or ``GENESIS`` (64 zeros) for the first event. An event's ``hash`` is the lowercase hex
SHA-256 of its canonical bytes, so each hash covers, through ``prev_hash``, the whole history before it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event: a value, not NULL, so that the database's unique constraint on
``prev_hash`` also forbids a second first event (NULLs never collide in a unique index)."""


@dataclass(frozen=True)
class ChainedEvent:
    """The immutable fields of one audit event, as stored, plus its stored hash."""

    id: int
    seq: int
    at: datetime
    actor_id: int | None
    actor_email: str | None
    action: str
    object_type: str
    object_ref: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def format_time(at: datetime) -> str:
    """The event time as the canonical form writes it: UTC, microseconds, a ``Z`` suffix."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in the audit chain")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted-key, compact, ASCII-only JSON: the one serialisation the chain hashes (see the module doc)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_bytes(
    *,
    id: int,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_email: str | None,
    action: str,
    object_type: str,
    object_ref: str,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over: its immutable fields, including the previous hash."""
    return canonical_json(
        {
            "action": action,
            "actor_email": actor_email,
            "actor_id": actor_id,
            "at": format_time(at),
            "details": details,
            "id": id,
            "object_ref": object_ref,
            "object_type": object_type,
            "prev_hash": prev_hash,
            "seq": seq,
        }
    ).encode("ascii")


def event_hash(**fields: Any) -> str:
    """Lowercase hex SHA-256 of ``canonical_bytes(**fields)``."""
    return hashlib.sha256(canonical_bytes(**fields)).hexdigest()


def content_hash(event: ChainedEvent) -> str:
    """What ``event.hash`` must be, recomputed from the event's other fields."""
    return event_hash(
        id=event.id,
        seq=event.seq,
        at=event.at,
        actor_id=event.actor_id,
        actor_email=event.actor_email,
        action=event.action,
        object_type=event.object_type,
        object_ref=event.object_ref,
        details=event.details,
        prev_hash=event.prev_hash,
    )


class Problem(enum.StrEnum):
    """What is wrong at the first broken link."""

    CONTENT = "content hash mismatch"  # the row's fields no longer hash to its stored hash: edited
    PREV = "prev mismatch"  # the row does not point at the hash of the event before it: re-linked
    MISSING = "missing"  # a position of the chain, or the anchored head, is absent: deleted or truncated
    ANCHOR = "anchor mismatch"  # intact, but the anchored head is not at the anchored count: rewritten


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: which event (None when what is missing is the tail), where, and what."""

    problem: Problem
    seq: int
    event_id: int | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a walk: how many events were verified, the last verified head, the first break if any."""

    count: int
    head_hash: str | None
    head_at: datetime | None
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(
    events: Iterable[ChainedEvent], *, expect_head: str | None = None, expect_count: int | None = None
) -> ChainReport:
    """Walk events in ``seq`` order and return the first broken link, or the verified count and head.

    Each event must hash to its stored hash (else CONTENT), sit at the next position (else MISSING:
    the events in between were deleted) and name the previous event's hash (else PREV). A chain cut
    at its tail is intact as far as it goes, so only an anchor taken earlier reveals it:
    ``expect_count`` N means the chain must hold at least N events; ``expect_head`` H means some
    event's hash must be H (the log may have grown since); both together mean event N's hash is H.
    """
    if expect_count is not None and expect_count < 0:
        raise ValueError("expect_count must be >= 0")
    expect_head = expect_head.lower() if expect_head is not None else None
    count, head, head_at = 0, GENESIS, None
    seen_anchor = expect_head is None
    for event in events:
        expected_seq = count + 1
        try:
            recomputed = content_hash(event)
        except (ValueError, TypeError):  # a NaN or a naive time written around the store: not ours either
            recomputed = None
        if recomputed != event.hash:
            broken = ChainBreak(
                Problem.CONTENT,
                event.seq,
                event.id,
                f"event {event.id} does not hash to its stored hash {event.hash}: "
                "its fields were changed after it was written",
            )
            return ChainReport(count, _head(count, head), head_at, broken)
        if event.seq != expected_seq:
            detail = (
                f"no event at position {expected_seq}: the chain jumps to event {event.id} at position {event.seq}"
                if event.seq > expected_seq
                else f"event {event.id} claims position {event.seq}, expected {expected_seq}"
            )
            problem = Problem.MISSING if event.seq > expected_seq else Problem.PREV
            return ChainReport(count, _head(count, head), head_at, ChainBreak(problem, expected_seq, event.id, detail))
        if event.prev_hash != head:
            broken = ChainBreak(
                Problem.PREV,
                event.seq,
                event.id,
                f"event {event.id} names {event.prev_hash} as the previous hash, but the event "
                f"before it hashes to {head}",
            )
            return ChainReport(count, _head(count, head), head_at, broken)
        count, head, head_at = event.seq, event.hash, event.at
        if expect_head is not None and head == expect_head:
            if expect_count is not None and count != expect_count:
                broken = ChainBreak(
                    Problem.ANCHOR,
                    count,
                    event.id,
                    f"the anchored head {expect_head} is event {event.id} at position {count}, "
                    f"not at the anchored count {expect_count}",
                )
                return ChainReport(count, head, head_at, broken)
            seen_anchor = True
        elif expect_head is not None and expect_count is not None and count == expect_count:
            broken = ChainBreak(
                Problem.ANCHOR,
                count,
                event.id,
                f"event {event.id} at the anchored position {count} hashes to {head}, "
                f"not to the anchored head {expect_head}",
            )
            return ChainReport(count, head, head_at, broken)
    if expect_count is not None and count < expect_count:
        broken = ChainBreak(
            Problem.MISSING,
            count + 1,
            None,
            f"the chain ends at position {count} but {expect_count} events were anchored: "
            f"positions {count + 1} to {expect_count} are missing",
        )
        return ChainReport(count, _head(count, head), head_at, broken)
    if not seen_anchor:
        broken = ChainBreak(
            Problem.MISSING,
            count + 1,
            None,
            f"the anchored head {expect_head} is not in the chain: the events up to it were removed or rewritten",
        )
        return ChainReport(count, _head(count, head), head_at, broken)
    return ChainReport(count, _head(count, head), head_at)


def _head(count: int, head: str) -> str | None:
    return head if count else None
