"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]
APPEND_ONLY_POSTGRESQL = [
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
]


def _append_only() -> None:
    """The audit log is append-only in the database itself, not only by convention."""
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "research_body",
                "data_platform",
                "administration",
                "hospital",
                "company",
                "other",
                name="organisation_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisation_slug")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum("admin", "author", "evaluator", name="role", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_user_account_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "algorithm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ml_model", "rule_based", name="algorithm_kind", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("code_repository_url", sa.String(length=500), nullable=True),
        sa.Column("code_commit", sa.String(length=64), nullable=True),
        sa.Column("objective", sa.String(length=64), nullable=True),
        sa.Column("clinical_domain", sa.String(length=64), nullable=True),
        sa.Column("data_source", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=32), nullable=True),
        sa.Column("validation_status", sa.String(length=32), nullable=True),
        sa.Column("maintenance_status", sa.String(length=32), nullable=True),
        sa.Column("license", sa.String(length=64), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_algorithm_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_algorithm_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_algorithm")),
        sa.UniqueConstraint("slug", name=op.f("uq_algorithm_slug")),
    )
    with op.batch_alter_table("algorithm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_algorithm_clinical_domain"), ["clinical_domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_algorithm_data_source"), ["data_source"], unique=False)
        batch_op.create_index(batch_op.f("ix_algorithm_language"), ["language"], unique=False)
        batch_op.create_index(batch_op.f("ix_algorithm_maintenance_status"), ["maintenance_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_algorithm_objective"), ["objective"], unique=False)
        batch_op.create_index(batch_op.f("ix_algorithm_validation_status"), ["validation_status"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_api_token_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_ref", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"], name=op.f("fk_audit_event_actor_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)

    op.create_table(
        "algorithm_owner",
        sa.Column("algorithm_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["algorithm_id"],
            ["algorithm.id"],
            name=op.f("fk_algorithm_owner_algorithm_id_algorithm"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_algorithm_owner_user_id_user_account")),
        sa.PrimaryKeyConstraint("algorithm_id", "user_id", name=op.f("pk_algorithm_owner")),
    )
    op.create_table(
        "algorithm_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("algorithm_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "published",
                "yanked",
                name="version_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("card_sha256", sa.String(length=64), nullable=True),
        sa.Column("artifact_kind", sa.String(length=32), nullable=True),
        sa.Column("archive_sha256", sa.String(length=64), nullable=True),
        sa.Column("archive_size", sa.BigInteger(), nullable=True),
        sa.Column("mlmodel", sa.JSON(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("yanked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yank_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["algorithm_id"], ["algorithm.id"], name=op.f("fk_algorithm_version_algorithm_id_algorithm")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_algorithm_version_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["user_account.id"], name=op.f("fk_algorithm_version_published_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_algorithm_version")),
        sa.UniqueConstraint("algorithm_id", "version", name=op.f("uq_algorithm_version_algorithm_id_version")),
    )
    with op.batch_alter_table("algorithm_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_algorithm_version_algorithm_id"), ["algorithm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_algorithm_version_state"), ["state"], unique=False)

    op.create_table(
        "artifact_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["algorithm_version.id"], name=op.f("fk_artifact_file_version_id_algorithm_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_file")),
        sa.UniqueConstraint("version_id", "path", name=op.f("uq_artifact_file_version_id_path")),
    )
    with op.batch_alter_table("artifact_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifact_file_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_artifact_file_version_id"), ["version_id"], unique=False)

    _append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    with op.batch_alter_table("artifact_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifact_file_version_id"))
        batch_op.drop_index(batch_op.f("ix_artifact_file_sha256"))

    op.drop_table("artifact_file")
    with op.batch_alter_table("algorithm_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_algorithm_version_state"))
        batch_op.drop_index(batch_op.f("ix_algorithm_version_algorithm_id"))

    op.drop_table("algorithm_version")
    op.drop_table("algorithm_owner")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("algorithm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_algorithm_validation_status"))
        batch_op.drop_index(batch_op.f("ix_algorithm_objective"))
        batch_op.drop_index(batch_op.f("ix_algorithm_maintenance_status"))
        batch_op.drop_index(batch_op.f("ix_algorithm_language"))
        batch_op.drop_index(batch_op.f("ix_algorithm_data_source"))
        batch_op.drop_index(batch_op.f("ix_algorithm_clinical_domain"))

    op.drop_table("algorithm")
    op.drop_table("user_account")
    op.drop_table("organisation")
