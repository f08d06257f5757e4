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


def upgrade() -> None:
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("original_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("original_format", sa.String(length=16), nullable=True))
    # Datasets uploaded before this revision were stored as they arrived: the upload is the stored file.
    op.execute("UPDATE reference_dataset SET original_sha256 = sha256, original_size = size, "
               "original_format = format")
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.alter_column("original_sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("original_size", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("original_format", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.drop_column("original_format")
        batch_op.drop_column("original_size")
        batch_op.drop_column("original_sha256")
