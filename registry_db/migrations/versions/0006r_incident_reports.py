"""incident and feedback reports on released versions, their answers, and the versions that fix them

Revision ID: 0006r
Revises: 0006n
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006r"
down_revision = "0006n"
branch_labels = None
depends_on = None

MODERATION = ("pending", "approved", "rejected")


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    # Plain strings with a CHECK constraint, as the models declare them (registry_db.models._enum).
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "incident_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("kind", _choice("report_kind", ("performance", "bias", "safety", "documentation", "other")),
                  nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", _choice("report_state", ("open", "acknowledged", "resolved", "declined")), nullable=False),
        sa.Column("moderation", _choice("moderation", MODERATION), nullable=False),
        sa.Column("detected", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["algorithm_version.id"],
                                name=op.f("fk_incident_report_version_id_algorithm_version")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_incident_report_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["moderated_by_id"], ["user_account.id"],
                                name=op.f("fk_incident_report_moderated_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_report")),
    )
    with op.batch_alter_table("incident_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_report_version_id"), ["version_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_report_moderation"), ["moderation"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_report_created_by_id"), ["created_by_id"], unique=False)
    op.create_table(
        "report_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("moderation", _choice("moderation", MODERATION), nullable=False),
        sa.Column("detected", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["incident_report.id"], ondelete="CASCADE",
                                name=op.f("fk_report_answer_report_id_incident_report")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_report_answer_created_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_answer")),
    )
    with op.batch_alter_table("report_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_answer_report_id"), ["report_id"], unique=False)
    op.create_table(
        "report_fix",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["algorithm_version.id"], ondelete="CASCADE",
                                name=op.f("fk_report_fix_version_id_algorithm_version")),
        sa.ForeignKeyConstraint(["report_id"], ["incident_report.id"], ondelete="CASCADE",
                                name=op.f("fk_report_fix_report_id_incident_report")),
        sa.PrimaryKeyConstraint("version_id", "report_id", name=op.f("pk_report_fix")),
    )
    with op.batch_alter_table("report_fix", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_fix_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_table("report_fix")
    op.drop_table("report_answer")
    op.drop_table("incident_report")
