"""audit hash chain: every audit event carries its position, the previous event's hash and its own

Revision ID: 0006h
Revises: 0006t
Create Date: 2026-11-29
"""

from datetime import UTC

import sqlalchemy as sa
from alembic import op

# The published canonical form itself, not a copy: a copy that drifted would chain the existing
# events in a way the verifier then calls broken.
from registry_db.chain import GENESIS, event_hash

revision = "0006h"
down_revision = "0006t"
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]
# The function audit_event_append_only() from 0001 stays; only the trigger calling it is lifted.
APPEND_ONLY_POSTGRESQL = [
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
]
GENESIS_CHECK = f"(seq = 1 AND prev_hash = '{GENESIS}') OR (seq > 1 AND prev_hash <> '{GENESIS}')"
BATCH = 2000


def _lift_append_only() -> None:
    # The backfill has to UPDATE existing events, which the triggers exist to refuse; on SQLite the table
    # is also rebuilt (NOT NULL, constraints), which would drop them anyway. Both are recreated below,
    # in the same transaction, so no write from outside ever meets an unguarded table.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")


def _restore_append_only() -> None:
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def _chain_existing_events() -> None:
    """Chain the events already logged in id order, the order they were appended in."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # the lock appenders take (registry_db.store.audit_log)
        bind.execute(sa.text("SELECT pg_advisory_xact_lock(:k1, :k2)"), {"k1": int.from_bytes(b"boas", "big"), "k2": 1})
    event = sa.table(
        "audit_event",
        sa.column("id", sa.Integer()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor_id", sa.Integer()),
        sa.column("actor_email", sa.String()),
        sa.column("action", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_ref", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    update = (
        event.update()
        .where(event.c.id == sa.bindparam("_id"))
        .values(seq=sa.bindparam("_seq"), prev_hash=sa.bindparam("_prev"), hash=sa.bindparam("_hash"))
    )
    last_id, seq, prev = None, 0, GENESIS
    while True:
        query = (
            sa.select(
                event.c.id,
                event.c.at,
                event.c.actor_id,
                event.c.actor_email,
                event.c.action,
                event.c.object_type,
                event.c.object_ref,
                event.c.details,
            )
            .order_by(event.c.id)
            .limit(BATCH)
        )
        if last_id is not None:
            query = query.where(event.c.id > last_id)
        rows = bind.execute(query).all()
        if not rows:
            return
        updates = []
        for row in rows:
            seq += 1
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # SQLite keeps no offset: it is UTC
            digest = event_hash(
                id=row.id,
                seq=seq,
                at=at,
                actor_id=row.actor_id,
                actor_email=row.actor_email,
                action=row.action,
                object_type=row.object_type,
                object_ref=row.object_ref,
                details=row.details if row.details is not None else {},
                prev_hash=prev,
            )
            updates.append({"_id": row.id, "_seq": seq, "_prev": prev, "_hash": digest})
            prev = digest
        bind.execute(update, updates)
        last_id = rows[-1].id


def upgrade() -> None:
    _lift_append_only()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_events()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_seq"), ["seq"])
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_prev_hash"), ["prev_hash"])
        batch_op.create_check_constraint(batch_op.f("ck_audit_event_genesis"), sa.text(GENESIS_CHECK))
    _restore_append_only()


def downgrade() -> None:
    _lift_append_only()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_event_genesis"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_audit_event_prev_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_audit_event_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    _restore_append_only()
