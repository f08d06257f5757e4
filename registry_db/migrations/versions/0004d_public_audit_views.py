"""public audit views: the frozen public result of a bias audit and when it was frozen

Revision ID: 0004d
Revises: 0004b
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004d"
down_revision = "0004b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: audits finished before this revision are frozen on their first public read.
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_result", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("public_frozen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("public_frozen_at")
        batch_op.drop_column("public_result")
