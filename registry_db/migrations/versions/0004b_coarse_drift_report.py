"""job.coarse_report_sha256: the drift report evaluators and owners see (no small bins, no extremes)

Revision ID: 0004b
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004b"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reports made before this revision have no coarsened copy: only admins can open them, and an
    # identical request computes a new report instead of reusing the old one.
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coarse_report_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("coarse_report_sha256")
