"""The audit log's hash chain in the database, on SQLite and PostgreSQL: appends, constraints, the migration."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from boas.registry import accounts
from boas.registry import audit_log as chain_service
from registry_db import store
from registry_db.chain import GENESIS, content_hash
from registry_db.engine import make_engine, make_session_factory
from registry_db.errors import ValidationFailed
from registry_db.migrate import upgrade
from registry_db.models import AuditEvent
from tests.conftest import fresh_database_url


def test_events_written_by_services_form_a_verifiable_chain(session):
    before = chain_service.get_chain_head(session).count
    for n in range(4):
        accounts.create_user(session, None, email=f"chain{n}@example.org", role="author", bootstrap=True)
        accounts.create_token(session, None, user_email=f"chain{n}@example.org", bootstrap=True)
    head = chain_service.get_chain_head(session)
    events = list(store.iter_chain(session, batch=3))  # several batches
    assert head.count == before + 8 == len(events)
    assert [e.seq for e in events] == list(range(1, head.count + 1))
    assert events[0].prev_hash == GENESIS
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(events))
    assert all(content_hash(e) == e.hash for e in events)
    report = chain_service.verify_audit_log(session)
    assert report.ok and report.count == head.count and report.head_hash == head.head_hash == events[-1].hash
    assert chain_service.verify_audit_log(session, expect_head=events[2].hash, expect_count=3).ok


def test_a_malformed_anchor_is_refused_with_its_field(session):
    with pytest.raises(ValidationFailed) as excinfo:
        chain_service.verify_audit_log(session, expect_head="abc", expect_count=-1)
    assert set(excinfo.value.errors) == {"expect_head", "expect_count"}


def _raw_event(**overrides) -> AuditEvent:
    fields = {
        "at": datetime.now(UTC),
        "action": "forged",
        "object_type": "user",
        "object_ref": "x",
        "details": {},
        "hash": "f" * 64,
    }
    return AuditEvent(**{**fields, **overrides})


def test_the_database_itself_refuses_a_fork_and_a_second_genesis(session):
    first = store.append_event(session, actor=None, action="test.one", object_type="user", object_ref="a")
    second = store.append_event(session, actor=None, action="test.two", object_type="user", object_ref="b")
    attempts = [
        _raw_event(seq=second.seq + 1, prev_hash=first.hash),  # a second successor of `first`: a fork
        _raw_event(seq=second.seq, prev_hash="e" * 64),  # a second event at the same position
        _raw_event(seq=second.seq + 1, prev_hash=GENESIS),  # a second genesis further down
        _raw_event(seq=1, prev_hash="d" * 64) if first.seq != 1 else _raw_event(seq=1, prev_hash=GENESIS),
    ]
    for row in attempts:
        nested = session.begin_nested()
        session.add(row)
        with pytest.raises(IntegrityError):
            session.flush()
        nested.rollback()
    assert chain_service.verify_audit_log(session).ok


def test_the_log_stays_append_only(session):
    store.append_event(session, actor=None, action="test.one", object_type="user", object_ref="a")
    for statement in ("UPDATE audit_event SET object_ref = 'b'", "DELETE FROM audit_event"):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(sa.text(statement))
        nested.rollback()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_chains_the_events_already_logged(backend, tmp_path):
    url, cleanup = fresh_database_url(backend, tmp_path)
    engine = make_engine(url)
    try:
        upgrade(engine, "0005s")
        old = sa.table(
            "audit_event",
            sa.column("at", sa.DateTime(timezone=True)),
            sa.column("actor_id"),
            sa.column("actor_email"),
            sa.column("action"),
            sa.column("object_type"),
            sa.column("object_ref"),
            sa.column("details", sa.JSON()),
        )
        t0 = datetime(2026, 11, 1, 8, 30, 0, 250000, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                old.insert(),
                [
                    {
                        "at": t0 + timedelta(minutes=n),
                        "actor_id": None,
                        "actor_email": None,
                        "action": f"old.{n}",
                        "object_type": "user",
                        "object_ref": f"r{n}",
                        "details": {"n": n, "name": "Zoé", "l": [1, "é"]},
                    }
                    for n in range(2500)  # more than one batch of the backfill
                ],
            )
        upgrade(engine)
        with make_session_factory(engine)() as session:
            report = chain_service.verify_audit_log(session)
            assert report.ok and report.count == 2500
            first = next(store.iter_chain(session))
            assert (first.seq, first.prev_hash, first.at, first.action) == (1, GENESIS, t0, "old.0")
            store.begin_write(session)
            new = store.append_event(session, actor=None, action="new", object_type="user", object_ref="r")
            session.commit()
            assert (new.seq, new.prev_hash) == (2501, report.head_hash)
            assert chain_service.verify_audit_log(session, expect_head=report.head_hash, expect_count=2500).ok
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(sa.text("UPDATE audit_event SET object_ref = 'x' WHERE seq = 1"))
    finally:
        engine.dispose()
        cleanup()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_appends_never_fork_the_chain(backend, tmp_path):
    url, cleanup = fresh_database_url(backend, tmp_path)
    engine = make_engine(url, pool_size=8)
    threads, per_thread = 6, 12
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        start = threading.Barrier(threads)
        failures: list[BaseException] = []

        def append_many(worker: int) -> None:
            try:
                start.wait()
                for n in range(per_thread):
                    with factory() as session:
                        store.begin_write(session)
                        store.append_event(
                            session,
                            actor=None,
                            action="test.concurrent",
                            object_type="client",
                            object_ref=f"w{worker}",
                            details={"n": n},
                        )
                        session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)

        workers = [threading.Thread(target=append_many, args=(w,)) for w in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=120)
        assert failures == []
        with factory() as session:
            report = chain_service.verify_audit_log(session)
            assert report.ok, report.broken
            assert report.count == threads * per_thread
            per_worker = session.execute(
                sa.select(AuditEvent.object_ref, sa.func.count()).group_by(AuditEvent.object_ref)
            ).all()
            assert dict(per_worker) == {f"w{w}": per_thread for w in range(threads)}  # nothing lost
    finally:
        engine.dispose()
        cleanup()
