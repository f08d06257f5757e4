"""audit requests (the author-evaluator loop) and in-app notifications

Revision ID: 0006n
Revises: 0006h
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006n"
down_revision = "0006h"
branch_labels = None
depends_on = None

_ACTIVE = "status IN ('open', 'claimed')"


def upgrade() -> None:
    op.create_table(
        "audit_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("open", "claimed", "done", "declined", name="audit_request_status",
                                    native_enum=False, create_constraint=True, length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["algorithm_version.id"],
                                name=op.f("fk_audit_request_version_id_algorithm_version")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["user_account.id"],
                                name=op.f("fk_audit_request_requested_by_id_user_account")),
        sa.ForeignKeyConstraint(["claimed_by_id"], ["user_account.id"],
                                name=op.f("fk_audit_request_claimed_by_id_user_account")),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_audit_request_job_id_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_request")),
    )
    op.create_index(op.f("ix_audit_request_version_id"), "audit_request", ["version_id"])
    op.create_index(op.f("ix_audit_request_status"), "audit_request", ["status"])
    # At most one active (open or claimed) request per version, enforced by the database.
    op.create_index("uq_audit_request_active_version", "audit_request", ["version_id"], unique=True,
                    sqlite_where=sa.text(_ACTIVE), postgresql_where=sa.text(_ACTIVE))
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE",
                                name=op.f("fk_notification_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(op.f("ix_notification_user_id"), "notification", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_user_id"), table_name="notification")
    op.drop_table("notification")
    op.drop_index("uq_audit_request_active_version", table_name="audit_request")
    op.drop_index(op.f("ix_audit_request_status"), table_name="audit_request")
    op.drop_index(op.f("ix_audit_request_version_id"), table_name="audit_request")
    op.drop_table("audit_request")
