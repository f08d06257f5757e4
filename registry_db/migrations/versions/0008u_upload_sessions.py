"""resumable uploads: one row per large file arriving in chunks

Revision ID: 0008u
Revises: 0008p
Create Date: 2026-11-29

Uploads in progress change no public page, so the table has no change-generation triggers
(``registry_db.store.generation.UNWATCHED_TABLES`` says so).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008u"
down_revision = "0008p"
branch_labels = None
depends_on = None


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    # Plain strings with a CHECK constraint, as the models declare them (registry_db.models._enum).
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "upload_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("purpose", _choice("upload_purpose", ("dataset", "predictions", "version")), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("state", _choice("upload_state", ("open", "complete")), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("upload_offset >= 0 AND upload_offset <= size",
                           name=op.f("ck_upload_session_offset_within_size")),
        sa.ForeignKeyConstraint(["owner_id"], ["user_account.id"], ondelete="CASCADE",
                                name=op.f("fk_upload_session_owner_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_session")),
        sa.UniqueConstraint("token", name=op.f("uq_upload_session_token")),
    )
    with op.batch_alter_table("upload_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_session_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_upload_session_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("upload_session")
