"""reference datasets: the upload as it arrived (digest, size, format) beside the stored Parquet

Revision ID: 0008p
Revises: 0007g
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op


revision = "0008p"
down_revision = "0007g"
branch_labels = None
depends_on = None


def _restore_sqlite_triggers() -> None:
    """SQLite's batch mode recreates the table, which drops its change-generation triggers (0007g): put them back."""
    if op.get_bind().dialect.name != "sqlite":
        return
    body = "BEGIN UPDATE change_generation SET n = n + 1 WHERE id = 1; END"
    for name, event in (("insert", "INSERT"), ("update", "UPDATE"), ("delete", "DELETE")):
        op.execute(f"DROP TRIGGER IF EXISTS change_generation_reference_dataset_{name}")
        op.execute(f"CREATE TRIGGER change_generation_reference_dataset_{name} AFTER {event} ON reference_dataset "
                   f"{body}")


def upgrade() -> None:
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("original_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("original_format", sa.String(length=16), nullable=True))
    # Datasets uploaded before this revision were stored as they arrived: the upload is the stored file.
    op.execute("UPDATE reference_dataset SET original_sha256 = sha256, original_size = size, "
               "original_format = format")
    if op.get_bind().dialect.name == "postgresql":
        # The update queued the deferred change-generation triggers (0007g), and PostgreSQL refuses to alter a
        # table with trigger events pending: fire them now.
        op.execute("SET CONSTRAINTS change_generation IMMEDIATE")
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.alter_column("original_sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("original_size", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("original_format", existing_type=sa.String(length=16), nullable=False)
    _restore_sqlite_triggers()


def downgrade() -> None:
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.drop_column("original_format")
        batch_op.drop_column("original_size")
        batch_op.drop_column("original_sha256")
    _restore_sqlite_triggers()
