"""The change generation: a number that moves with every committed write public pages can show.

The triggers that bump it are created by migrations (0007g); this module says which tables they
watch, so that a test can hold the database to it, and reads the number.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from registry_db.models import ChangeGeneration

# Tables whose rows no public page shows, so writing them must not make every page new.
UNWATCHED_TABLES = {
    "api_token": "API and session tokens: signing in and out changes no public page",
    "audit_event": "the audit log is for admins; account changes also change the account row",
    "change_generation": "the counter itself",
    "notification": "in-app notifications are read by their recipient only, signed in",
    "alembic_version": "the schema's revision",
    "upload_session": "resumable uploads in progress: a page changes only when one is used to create something",
}
# Job columns that move while an audit runs, or that the first public read of an audit writes.
UNWATCHED_JOB_COLUMNS = {"progress", "heartbeat_at", "worker_host", "public_result", "public_frozen_at", "id"}


def change_generation(session: Session) -> int:
    """The current generation as this session sees it (0 if the counter row is missing)."""
    return session.execute(select(ChangeGeneration.n).where(ChangeGeneration.id == 1)).scalar() or 0


def read_change_generation(engine: Engine) -> int:
    """The committed generation, on a pooled DBAPI connection with no ORM in between.

    This runs before every anonymous public page, so it skips the Session and Connection layers
    (about 60 µs instead of 1 ms on SQLite); returning the connection to the pool ends its snapshot.
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT n FROM change_generation WHERE id = 1")
        row = cursor.fetchone()
        return int(row[0]) if row else 0
    finally:
        connection.close()
