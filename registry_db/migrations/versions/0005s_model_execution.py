"""model execution: how each MLflow model may be audited, and sandbox failures as fixed reasons

Revision ID: 0005s
Revises: 0004d
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005s"
down_revision = "0004d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: versions uploaded before this revision have no decision, and are not executed until
    # they are uploaded again (the worker decides again from the files before any run anyway).
    with op.batch_alter_table("algorithm_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("execution", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("execution_detail", sa.JSON(), nullable=True))
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("untrusted_detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("untrusted_detail")
        batch_op.drop_column("error_code")
    with op.batch_alter_table("algorithm_version", schema=None) as batch_op:
        batch_op.drop_column("execution_detail")
        batch_op.drop_column("execution")
