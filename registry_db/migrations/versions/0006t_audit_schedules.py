"""audit schedules: re-audits on a calendar, each run a job linked to its schedule and due slot

Revision ID: 0006t
Revises: 0005s
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op


revision = "0006t"
down_revision = "0005s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("bias", "drift", name="audit_kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_latest", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["algorithm_version.id"], name=op.f("fk_audit_schedule_version_id_algorithm_version")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_audit_schedule_created_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_schedule")),
    )
    with op.batch_alter_table("audit_schedule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_schedule_version_id"), ["version_id"], unique=False)
    # Nullable: ordinary launches have no schedule; NULLs never collide in the unique pair.
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("schedule_slot", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verdict_change", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_schedule_id"), ["schedule_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_job_schedule_id_audit_schedule"), "audit_schedule", ["schedule_id"], ["id"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_job_schedule_id_schedule_slot"), ["schedule_id", "schedule_slot"]
        )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_job_schedule_id_schedule_slot"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_job_schedule_id_audit_schedule"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_job_schedule_id"))
        batch_op.drop_column("verdict_change")
        batch_op.drop_column("schedule_slot")
        batch_op.drop_column("schedule_id")
    with op.batch_alter_table("audit_schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_schedule_version_id"))
    op.drop_table("audit_schedule")
