"""The hash chain's canonical form and its verifier, on plain values (no database)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from registry_db.chain import GENESIS, ChainedEvent, Problem, canonical_bytes, content_hash, event_hash, verify_chain

T0 = datetime(2026, 11, 29, 15, 0, 0, 123456, tzinfo=UTC)


def _chain(n: int) -> list[ChainedEvent]:
    events, prev = [], GENESIS
    for seq in range(1, n + 1):
        fields = {
            "id": 100 + 3 * seq,
            "seq": seq,
            "at": T0 + timedelta(seconds=seq),
            "actor_id": seq % 2 or None,
            "actor_email": "a@example.org" if seq % 2 else None,
            "action": "user.created",
            "object_type": "user",
            "object_ref": f"u{seq}@example.org",
            "details": {"role": "author", "n": seq},
            "prev_hash": prev,
        }
        prev = event_hash(**fields)
        events.append(ChainedEvent(**fields, hash=prev))
    return events


def test_the_canonical_form_is_the_documented_byte_string():
    # Written out by hand from the README's rules, so a change of format cannot pass unnoticed.
    expected = (
        b'{"action":"card.updated","actor_email":"\\u00e9ve@example.org","actor_id":7,'
        b'"at":"2026-11-29T15:00:00.123456Z","details":{"a":[1,2.5,null],"z":"\\u00e0"},"id":42,'
        b'"object_ref":"algo@1.0.0","object_type":"version","prev_hash":"' + GENESIS.encode() + b'","seq":1}'
    )
    paris = T0.astimezone(ZoneInfo("Europe/Paris"))  # any offset: written in UTC
    fields = {
        "id": 42,
        "seq": 1,
        "at": paris,
        "actor_id": 7,
        "actor_email": "\u00e9ve@example.org",
        "action": "card.updated",
        "object_type": "version",
        "object_ref": "algo@1.0.0",
        "details": {"z": "\u00e0", "a": [1, 2.5, None]},
        "prev_hash": GENESIS,
    }
    assert canonical_bytes(**fields) == expected
    assert event_hash(**fields) == hashlib.sha256(expected).hexdigest()


def test_a_naive_time_or_a_nan_cannot_be_hashed():
    fields = dataclasses.asdict(_chain(1)[0])
    del fields["hash"]
    with pytest.raises(ValueError):
        event_hash(**{**fields, "at": T0.replace(tzinfo=None)})
    with pytest.raises(ValueError):
        event_hash(**{**fields, "details": {"x": float("nan")}})


def test_an_intact_chain_verifies_with_its_count_and_head():
    events = _chain(5)
    report = verify_chain(events)
    assert report.ok and report.count == 5 and report.head_hash == events[-1].hash and report.head_at == events[-1].at
    assert verify_chain([]).ok and verify_chain([]).count == 0 and verify_chain([]).head_hash is None


def test_an_edited_event_is_a_content_hash_mismatch_named_by_its_id():
    events = _chain(5)
    events[2] = dataclasses.replace(events[2], actor_email="someone-else@example.org")
    report = verify_chain(events)
    assert report.broken is not None
    assert (report.broken.problem, report.broken.event_id, report.broken.seq) == (Problem.CONTENT, events[2].id, 3)
    assert report.count == 2 and report.head_hash == events[1].hash


def test_an_edited_event_whose_hash_was_recomputed_breaks_the_next_link():
    events = _chain(5)
    forged = dataclasses.replace(events[2], details={"role": "admin", "n": 3})
    events[2] = dataclasses.replace(forged, hash=content_hash(forged))
    report = verify_chain(events)
    assert report.broken is not None
    assert (report.broken.problem, report.broken.event_id) == (Problem.PREV, events[3].id)


def test_a_deleted_event_in_the_middle_is_missing():
    events = _chain(6)
    del events[3]
    report = verify_chain(events)
    assert report.broken is not None
    assert (report.broken.problem, report.broken.seq, report.broken.event_id) == (Problem.MISSING, 4, events[3].id)
    genesis_gone = verify_chain(_chain(3)[1:])
    assert genesis_gone.broken is not None and genesis_gone.broken.problem is Problem.MISSING
    assert genesis_gone.broken.seq == 1


def test_a_cut_tail_passes_alone_and_fails_against_an_anchor():
    events = _chain(6)
    anchor_count, anchor_head = 6, events[-1].hash
    cut = events[:4]
    assert verify_chain(cut).ok
    by_count = verify_chain(cut, expect_count=anchor_count)
    assert by_count.broken is not None
    assert (by_count.broken.problem, by_count.broken.seq, by_count.broken.event_id) == (Problem.MISSING, 5, None)
    by_head = verify_chain(cut, expect_head=anchor_head)
    assert by_head.broken is not None and by_head.broken.problem is Problem.MISSING
    assert verify_chain(cut, expect_head=anchor_head, expect_count=anchor_count).broken is not None


def test_an_anchor_taken_earlier_still_verifies_after_the_log_grew():
    events = _chain(8)
    assert verify_chain(events, expect_head=events[4].hash.upper(), expect_count=5).ok
    assert verify_chain(events, expect_head=events[4].hash).ok
    assert verify_chain(events, expect_count=5).ok


def test_an_anchored_head_at_another_position_is_an_anchor_mismatch():
    events = _chain(8)
    report = verify_chain(events, expect_head=events[4].hash, expect_count=4)
    assert report.broken is not None and report.broken.problem is Problem.ANCHOR and report.broken.seq == 4
    report = verify_chain(events, expect_head=events[4].hash, expect_count=6)
    assert report.broken is not None and report.broken.problem is Problem.ANCHOR


def test_a_rewritten_history_is_caught_only_through_the_anchor():
    # Someone with database access re-hashes every event after an edit: the chain is consistent again.
    events = _chain(5)
    anchor = events[-1].hash
    rewritten, prev = [], GENESIS
    for event in events:
        changed = dataclasses.replace(
            event, prev_hash=prev, object_ref="x@example.org" if event.seq == 2 else event.object_ref
        )
        prev = content_hash(changed)
        rewritten.append(dataclasses.replace(changed, hash=prev))
    assert verify_chain(rewritten).ok
    report = verify_chain(rewritten, expect_head=anchor)
    assert report.broken is not None and report.broken.problem is Problem.MISSING


def test_a_row_that_cannot_be_canonicalised_is_a_content_mismatch_not_a_crash():
    events = _chain(3)
    events[1] = dataclasses.replace(events[1], details={"x": float("nan")})
    report = verify_chain(events)
    assert report.broken is not None
    assert (report.broken.problem, report.broken.event_id) == (Problem.CONTENT, events[1].id)
