"""``boas audit-log verify`` and the published head, on a populated registry of each backend.

The log is tampered with the way a database administrator could: around the append-only triggers
(dropped on SQLite, bypassed with ``session_replication_role = replica`` on PostgreSQL). The real
command, in a subprocess, must name the row.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from registry_db.models import AuditEvent
from tests.conftest import BACKENDS
from tests.pages.conftest import committed_app
from tests.pages.content import populate

pytestmark = pytest.mark.slow

BOAS = Path(sys.executable).parent / "boas"
EVENTS = AuditEvent.__table__
SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]


class Registry:
    def __init__(self, app, tmp_path: Path):
        self.app = app
        # The app's own engine: a second engine on the same SQLite file in this process would open and
        # close the file (make_engine secures its mode), and closing any descriptor of a file drops
        # every POSIX lock this process holds on it, the app's connections' included.
        self.engine = app.extensions["boas"].engine
        self.backend = self.engine.dialect.name
        self.url = self.engine.url.render_as_string(hide_password=False)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BOAS_")}
        self.env.update(
            BOAS_DATA_DIR=str(tmp_path / "data"),
            BOAS_DATABASE_URL=self.url,
            BOAS_SECRET_KEY="verify-test-secret",
            PYTHONUNBUFFERED="1",
        )

    def verify(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BOAS), "audit-log", "verify", *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    @contextmanager
    def as_dba(self) -> Iterator[Connection]:
        """A transaction in which the append-only triggers do not fire, as the database's owner can arrange."""
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            else:
                conn.execute(sa.text("DROP TRIGGER audit_event_no_update"))
                conn.execute(sa.text("DROP TRIGGER audit_event_no_delete"))
            yield conn
            if self.backend == "sqlite":  # and put back, so the tampering leaves no trace of its own
                for statement in SQLITE_TRIGGERS:
                    conn.execute(sa.text(statement))

    def rows(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(EVENTS).order_by(EVENTS.c.seq))]


@pytest.fixture(scope="module", params=BACKENDS)
def registry(request, tmp_path_factory, model_zip) -> Iterator[Registry]:
    """A registry filled through the services (accounts, algorithms, versions published and yanked, an audit)."""
    tmp_path = tmp_path_factory.mktemp("chain")
    app, close = committed_app(tmp_path, request.param)
    populate(app, model_zip)
    yield Registry(app, tmp_path)
    close()


def _ok_line(result: subprocess.CompletedProcess) -> re.Match:
    assert result.returncode == 0, (result.stdout, result.stderr)
    match = re.fullmatch(r"OK: (\d+) events, head ([0-9a-f]{64}) at position \1 \((\S+)\)\n", result.stdout)
    assert match, result.stdout
    return match


def test_a_populated_registry_verifies_and_publishes_the_same_head(registry):
    rows = registry.rows()
    assert len(rows) >= 20 and len({r["action"] for r in rows}) >= 8  # a varied history, not a toy
    ok = _ok_line(registry.verify())
    assert (int(ok[1]), ok[2]) == (len(rows), rows[-1]["hash"])

    response = registry.app.test_client().get("/api/v1/audit-log/head")  # anonymous: it is public
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    head = response.get_json()
    assert head["count"] == len(rows) and head["head_hash"] == rows[-1]["hash"]
    assert datetime.fromisoformat(head["head_at"]) == rows[-1]["at"]
    assert ok[3] == rows[-1]["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    anchored = _ok_line(registry.verify("--expect-head", head["head_hash"], "--expect-count", str(head["count"])))
    assert anchored[2] == head["head_hash"]
    spec = registry.app.test_client().get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/audit-log/head"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditHeadOut"
    }
    assert "security" not in operation


def test_an_edited_row_is_named_by_verify(registry):
    rows = registry.rows()
    target = rows[len(rows) // 2]
    with registry.as_dba() as conn:
        changed = conn.execute(
            sa.text("UPDATE audit_event SET object_ref = 'nobody@example.org' WHERE id = :id"), {"id": target["id"]}
        )
        assert changed.rowcount == 1
    try:
        result = registry.verify()
        assert result.returncode == 3, (result.stdout, result.stderr)
        assert result.stdout.startswith(
            f"BROKEN at event {target['id']}, position {target['seq']}: content hash mismatch: "
        )
        assert f"{target['seq'] - 1} events verified before the break" in result.stdout
    finally:
        with registry.as_dba() as conn:
            conn.execute(
                sa.text("UPDATE audit_event SET object_ref = :ref WHERE id = :id"),
                {"ref": target["object_ref"], "id": target["id"]},
            )
    _ok_line(registry.verify())


def test_a_deleted_row_in_the_middle_is_missing(registry):
    rows = registry.rows()
    gone, after = rows[len(rows) // 3], rows[len(rows) // 3 + 1]
    with registry.as_dba() as conn:
        assert conn.execute(sa.delete(EVENTS).where(EVENTS.c.id == gone["id"])).rowcount == 1
    try:
        result = registry.verify()
        assert result.returncode == 3, (result.stdout, result.stderr)
        assert result.stdout.startswith(f"BROKEN at event {after['id']}, position {gone['seq']}: missing: ")
    finally:
        with registry.as_dba() as conn:
            conn.execute(sa.insert(EVENTS).values(**gone))
    _ok_line(registry.verify())


def test_a_cut_tail_is_caught_by_the_anchor_only(registry):
    rows = registry.rows()
    anchor = registry.app.test_client().get("/api/v1/audit-log/head").get_json()
    cut = rows[-3:]
    with registry.as_dba() as conn:
        conn.execute(sa.delete(EVENTS).where(EVENTS.c.id.in_([r["id"] for r in cut])))
    try:
        ok = _ok_line(registry.verify())  # a shorter chain is intact as far as it goes
        assert int(ok[1]) == len(rows) - 3
        for args in (
            ["--expect-count", str(anchor["count"])],
            ["--expect-head", anchor["head_hash"]],
            ["--expect-head", anchor["head_hash"], "--expect-count", str(anchor["count"])],
        ):
            result = registry.verify(*args)
            assert result.returncode == 3, (args, result.stdout, result.stderr)
            assert result.stdout.startswith(f"BROKEN at the tail, position {len(rows) - 2}: missing: "), result.stdout
    finally:
        with registry.as_dba() as conn:
            conn.execute(sa.insert(EVENTS), cut)
    _ok_line(registry.verify("--expect-head", anchor["head_hash"], "--expect-count", str(anchor["count"])))


def test_a_malformed_anchor_is_refused_as_input(registry):
    result = registry.verify("--expect-head", "not-a-hash", "--expect-count", "-2")
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid anchor (--expect-head: expected a SHA-256")
    assert "--expect-count: expected a count of 0 or more" in result.stderr
