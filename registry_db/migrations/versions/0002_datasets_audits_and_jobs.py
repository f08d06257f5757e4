"""datasets audits and jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("label_column", sa.String(length=200), nullable=True),
        sa.Column("sensitive_columns", sa.JSON(), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=True),
        sa.Column("datasheet", sa.JSON(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["user_account.id"], name=op.f("fk_reference_dataset_uploaded_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_dataset")),
    )
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reference_dataset_sha256"), ["sha256"], unique=False)

    op.create_table(
        "prediction_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("has_score", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["reference_dataset.id"], name=op.f("fk_prediction_set_dataset_id_reference_dataset")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["user_account.id"], name=op.f("fk_prediction_set_uploaded_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["algorithm_version.id"], name=op.f("fk_prediction_set_version_id_algorithm_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_set")),
    )
    with op.batch_alter_table("prediction_set", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prediction_set_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prediction_set_version_id"), ["version_id"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("bias", "drift", name="audit_kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                name="job_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("worker_host", sa.String(length=255), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("current_dataset_id", sa.Integer(), nullable=True),
        sa.Column("predictions_id", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("cached_from_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("report_sha256", sa.String(length=64), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cached_from_id"], ["job.id"], name=op.f("fk_job_cached_from_id_job")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], name=op.f("fk_job_created_by_id_user_account")),
        sa.ForeignKeyConstraint(
            ["current_dataset_id"], ["reference_dataset.id"], name=op.f("fk_job_current_dataset_id_reference_dataset")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["reference_dataset.id"], name=op.f("fk_job_dataset_id_reference_dataset")
        ),
        sa.ForeignKeyConstraint(
            ["predictions_id"], ["prediction_set.id"], name=op.f("fk_job_predictions_id_prediction_set")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["algorithm_version.id"], name=op.f("fk_job_version_id_algorithm_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_cache_key"), ["cache_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_version_id"), ["version_id"], unique=False)

    with op.batch_alter_table("algorithm_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("algorithm_version", schema=None) as batch_op:
        batch_op.drop_column("snapshot")

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_version_id"))
        batch_op.drop_index(batch_op.f("ix_job_status"))
        batch_op.drop_index(batch_op.f("ix_job_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_job_cache_key"))

    op.drop_table("job")
    with op.batch_alter_table("prediction_set", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_set_version_id"))
        batch_op.drop_index(batch_op.f("ix_prediction_set_dataset_id"))

    op.drop_table("prediction_set")
    with op.batch_alter_table("reference_dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reference_dataset_sha256"))

    op.drop_table("reference_dataset")
