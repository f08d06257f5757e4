"""change generation: one counter bumped by triggers on every write that public pages can show

Revision ID: 0007g
Revises: 0006r
Create Date: 2026-11-29

Every table is watched except the ones that public pages never read (API and session tokens, the
audit log, notifications) and the job columns that move while an audit runs (progress, heartbeat, worker host) or
that a page read writes (the frozen public view). On PostgreSQL the triggers are deferred constraint
triggers: the counter row is updated at commit, the last thing a transaction does, so writers never
wait on it while holding other locks, and a reader that sees the new number sees the data with it.
On SQLite, writers are serialised anyway. ``registry_db.store.generation`` lists the same tables,
and a test checks that every table of the models has its triggers (a later migration that recreates
a table on SQLite must recreate them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007g"
down_revision = "0006r"
branch_labels = None
depends_on = None

WATCHED = ("organisation", "user_account", "algorithm", "algorithm_owner", "algorithm_version", "artifact_file",
           "reference_dataset", "prediction_set", "audit_schedule", "audit_request", "incident_report",
           "report_answer", "report_fix")
JOB_COLUMNS = ("kind", "status", "error", "error_code", "untrusted_detail", "attempts", "max_attempts", "version_id",
               "dataset_id", "current_dataset_id", "predictions_id", "params", "cache_key", "cached_from_id",
               "result", "report_sha256", "coarse_report_sha256", "provenance", "created_by_id", "created_at",
               "started_at", "finished_at", "schedule_id", "schedule_slot", "verdict_change")


def _sqlite_triggers(table: str, update_of: tuple[str, ...] = ()) -> list[str]:
    body = "BEGIN UPDATE change_generation SET n = n + 1 WHERE id = 1; END"
    update = f"UPDATE OF {', '.join(update_of)}" if update_of else "UPDATE"
    return [f"CREATE TRIGGER change_generation_{table}_{name} AFTER {event} ON {table} {body}"
            for name, event in (("insert", "INSERT"), ("update", update), ("delete", "DELETE"))]


def _postgresql_trigger(table: str, update_of: tuple[str, ...] = ()) -> str:
    update = f"UPDATE OF {', '.join(update_of)}" if update_of else "UPDATE"
    return (f"CREATE CONSTRAINT TRIGGER change_generation AFTER INSERT OR DELETE OR {update} ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_change_generation()")


def upgrade() -> None:
    op.create_table(
        "change_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_generation")),
    )
    op.execute("INSERT INTO change_generation (id, n) VALUES (1, 0)")
    tables = [(table, ()) for table in WATCHED] + [("job", JOB_COLUMNS)]
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION bump_change_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN UPDATE change_generation SET n = n + 1 WHERE id = 1; RETURN NULL; END $$")
        for table, columns in tables:
            op.execute(_postgresql_trigger(table, columns))
    else:
        for table, columns in tables:
            for statement in _sqlite_triggers(table, columns):
                op.execute(statement)


def downgrade() -> None:
    tables = [*WATCHED, "job"]
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER change_generation ON {table}")
        op.execute("DROP FUNCTION bump_change_generation()")
    else:
        for table in tables:
            for name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER change_generation_{table}_{name}")
    op.drop_table("change_generation")
