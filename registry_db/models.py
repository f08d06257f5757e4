"""Typed SQLAlchemy 2 models of the registry. Schema changes go through Alembic migrations."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from registry_db.chain import GENESIS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores none, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable across SQLite and PostgreSQL
    # and cheap to extend in a migration.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Role(enum.StrEnum):
    ADMIN = "admin"
    AUTHOR = "author"
    EVALUATOR = "evaluator"


class OrganisationKind(enum.StrEnum):
    RESEARCH_BODY = "research_body"
    DATA_PLATFORM = "data_platform"
    ADMINISTRATION = "administration"
    HOSPITAL = "hospital"
    COMPANY = "company"
    OTHER = "other"


class AlgorithmKind(enum.StrEnum):
    ML_MODEL = "ml_model"
    RULE_BASED = "rule_based"


class VersionState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    YANKED = "yanked"


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind, "organisation_kind"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")


class ApiToken(Base):
    """An API token; only its sha256 is stored, the secret is shown once at creation."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    # "api" tokens authenticate the JSON API; "session" tokens back a browser sign-in and expire.
    kind: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined")


algorithm_owner = Table(
    "algorithm_owner",
    Base.metadata,
    Column("algorithm_id", ForeignKey("algorithm.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id"), primary_key=True),
)


class Algorithm(Base):
    __tablename__ = "algorithm"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[AlgorithmKind] = mapped_column(_enum(AlgorithmKind, "algorithm_kind"))
    code_repository_url: Mapped[str | None] = mapped_column(String(500))
    code_commit: Mapped[str | None] = mapped_column(String(64))
    objective: Mapped[str | None] = mapped_column(String(64), index=True)
    clinical_domain: Mapped[str | None] = mapped_column(String(64), index=True)
    data_source: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(32), index=True)
    validation_status: Mapped[str | None] = mapped_column(String(32), index=True)
    maintenance_status: Mapped[str | None] = mapped_column(String(32), index=True)
    license: Mapped[str | None] = mapped_column(String(64))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owners: Mapped[list[User]] = relationship(secondary=algorithm_owner, lazy="selectin", order_by=User.id)
    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    # selectin: the catalogue shows each algorithm's latest version; cards stay deferred.
    versions: Mapped[list[Version]] = relationship(back_populates="algorithm", lazy="selectin")


class Version(Base):
    __tablename__ = "algorithm_version"
    __table_args__ = (UniqueConstraint("algorithm_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    algorithm_id: Mapped[int] = mapped_column(ForeignKey("algorithm.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    state: Mapped[VersionState] = mapped_column(_enum(VersionState, "version_state"), index=True)
    card: Mapped[dict[str, Any]] = mapped_column(default=dict, deferred=True)
    card_sha256: Mapped[str | None] = mapped_column(String(64))
    # The frozen document every reader and export sees once published (card + context + audits).
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    artifact_kind: Mapped[str | None] = mapped_column(String(32))
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    archive_size: Mapped[int | None] = mapped_column(BigInteger)
    mlmodel: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # How an MLflow model may be audited, decided at upload from its files: "execute" (skops, ONNX, native XGBoost or
    # LightGBM) or "predictions_only" (it carries code); the detail holds the format and the reasons.
    execution: Mapped[str | None] = mapped_column(String(32))
    execution_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    yanked_at: Mapped[datetime | None] = mapped_column()
    yank_reason: Mapped[str | None] = mapped_column(Text)

    algorithm: Mapped[Algorithm] = relationship(back_populates="versions", lazy="joined", innerjoin=True)
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id], lazy="joined")
    files: Mapped[list[ArtifactFile]] = relationship(
        back_populates="version", lazy="select", order_by="ArtifactFile.path"
    )
    # The reports this version says it fixes (approved reports on the algorithm's other versions).
    fixes: Mapped[list[IncidentReport]] = relationship(
        secondary="report_fix", viewonly=True, lazy="select", order_by="IncidentReport.id"
    )


class ArtifactFile(Base):
    """One file of a version's artifact; its bytes live in the blob store under ``sha256``."""

    __tablename__ = "artifact_file"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("algorithm_version.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)

    version: Mapped[Version] = relationship(back_populates="files")


class AuditEvent(Base):
    """Append-only log of state changes; UPDATE and DELETE are refused by database triggers.

    The events form a hash chain (``registry_db.chain``): ``seq`` is the position, ``prev_hash`` the
    hash of the event before, ``hash`` the SHA-256 of this event's canonical form. Unique ``seq`` and
    ``prev_hash`` make a fork impossible in the database itself; the genesis check pins the first event
    (and only it) to the GENESIS sentinel, which, being a value and not NULL, is unique as well.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("seq"),
        UniqueConstraint("prev_hash"),
        CheckConstraint(f"(seq = 1 AND prev_hash = '{GENESIS}') OR (seq > 1 AND prev_hash <> '{GENESIS}')",
                        name="genesis"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_ref: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AuditKind(enum.StrEnum):
    BIAS = "bias"
    DRIFT = "drift"


class ReferenceDataset(Base):
    """An evaluator's reference dataset: stored content-addressed, never publicly downloadable."""

    __tablename__ = "reference_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    # The file as the evaluator uploaded it, which the stored one (sha256, size, format) may differ from:
    # a CSV, or a Parquet file with oversized row groups, is stored as bounded-row-group Parquet.
    original_sha256: Mapped[str] = mapped_column(String(64))
    original_size: Mapped[int] = mapped_column(BigInteger)
    original_format: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[Any]] = mapped_column(JSON)
    label_column: Mapped[str | None] = mapped_column(String(200))
    sensitive_columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    row_key: Mapped[str | None] = mapped_column(String(200))
    datasheet: Mapped[dict[str, Any]] = mapped_column(default=dict)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[User] = relationship(lazy="joined")


class PredictionSet(Base):
    """Predictions uploaded for a dataset (rule-based or black-box algorithms), keyed to its rows."""

    __tablename__ = "prediction_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("reference_dataset.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("algorithm_version.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    has_score: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[User] = relationship(lazy="joined")


class AuditSchedule(Base):
    """A re-audit on a calendar: the audit request an evaluator launches again at every due slot.

    ``request`` is the audit request as the launch service validates it (``AuditRequestSchema``); each
    run re-submits it, as the schedule's creator, through that same service.
    """

    __tablename__ = "audit_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AuditKind] = mapped_column(_enum(AuditKind, "audit_kind"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("algorithm_version.id"), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    period: Mapped[str] = mapped_column(String(16))  # monthly | quarterly | days
    every_days: Mapped[int | None] = mapped_column()
    grace_days: Mapped[int] = mapped_column(default=7)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    # Each run audits the newest upload of the request's datasets' names (a refreshed extraction is
    # uploaded under the same name), with the predictions uploaded for it; otherwise the same rows again.
    follow_latest: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[Version | None] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship(lazy="joined")


class Job(Base):
    """An audit run as a job. This row, not the queue, is the source of truth for its state."""

    __tablename__ = "job"
    __table_args__ = (UniqueConstraint("schedule_id", "schedule_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AuditKind] = mapped_column(_enum(AuditKind, "audit_kind"))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), index=True)
    progress: Mapped[int] = mapped_column(default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    # A sandbox failure is one of a fixed set of reasons; what the model itself said goes to admins only.
    error_code: Mapped[str | None] = mapped_column(String(32))
    untrusted_detail: Mapped[str | None] = mapped_column(Text, deferred=True)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=2)
    worker_host: Mapped[str | None] = mapped_column(String(255))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("algorithm_version.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("reference_dataset.id"), index=True)
    current_dataset_id: Mapped[int | None] = mapped_column(ForeignKey("reference_dataset.id"))
    predictions_id: Mapped[int | None] = mapped_column(ForeignKey("prediction_set.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    cached_from_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # What the public sees of a bias audit, frozen once (audits.suppression): later public audits of the
    # same dataset are suppressed around it, so it must never change. Cached audits read their source's.
    public_result: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    public_frozen_at: Mapped[datetime | None] = mapped_column()
    # The Evidently report as computed (admins), and its coarsened copy (evaluators, owners): no bin of
    # fewer than 11 people, no exact extreme value.
    report_sha256: Mapped[str | None] = mapped_column(String(64))
    coarse_report_sha256: Mapped[str | None] = mapped_column(String(64))
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # A scheduled re-audit: its schedule and the due slot it runs for. The pair is unique, so two
    # workers ticking at once can never enqueue the same slot twice (NULLs: ordinary launches).
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("audit_schedule.id"), index=True)
    schedule_slot: Mapped[datetime | None] = mapped_column()
    # What changed in the verdicts since the schedule's previous run (audits.schedules.verdict_changes).
    verdict_change: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    version: Mapped[Version | None] = relationship(lazy="joined")
    dataset: Mapped[ReferenceDataset] = relationship(foreign_keys=[dataset_id], lazy="joined")
    current_dataset: Mapped[ReferenceDataset | None] = relationship(foreign_keys=[current_dataset_id], lazy="joined")
    predictions: Mapped[PredictionSet | None] = relationship(lazy="joined")
    # The evaluator of record: whoever launched the audit (a reused result gets its own launcher).
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")


class AuditRequestStatus(enum.StrEnum):
    OPEN = "open"  # waiting in the evaluators' queue
    CLAIMED = "claimed"  # an evaluator took it; their audits of the version are linked to it
    DONE = "done"  # a bias audit of the version launched by the claimer succeeded
    DECLINED = "declined"  # an evaluator declined it, with a reason


ACTIVE_REQUEST_STATUSES = (AuditRequestStatus.OPEN.value, AuditRequestStatus.CLAIMED.value)


class AuditRequest(Base):
    """An owner's request that an independent evaluator audit one version; at most one active per version.

    The partial unique index (open or claimed) lets the database, not a check-then-insert, refuse a second
    active request for a version.
    """

    __tablename__ = "audit_request"
    __table_args__ = (
        Index("uq_audit_request_active_version", "version_id", unique=True,
              sqlite_where=text("status IN ('open', 'claimed')"),
              postgresql_where=text("status IN ('open', 'claimed')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("algorithm_version.id"), index=True)
    status: Mapped[AuditRequestStatus] = mapped_column(_enum(AuditRequestStatus, "audit_request_status"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    claimed_at: Mapped[datetime | None] = mapped_column()
    # The latest audit the claimer launched for it: its progress is the request's progress.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column()

    version: Mapped[Version] = relationship(lazy="joined")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id], lazy="joined")
    job: Mapped[Job | None] = relationship(lazy="joined")


class Notification(Base):
    """One in-app notification: a kind and its parameters, rendered at read time in the reader's language."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()


# -- incident and feedback reports on released versions -------------------------------------------


class ReportKind(enum.StrEnum):
    PERFORMANCE = "performance"
    BIAS = "bias"
    SAFETY = "safety"
    DOCUMENTATION = "documentation"
    OTHER = "other"


class ReportState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DECLINED = "declined"


class Moderation(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


report_fix = Table(
    "report_fix",
    Base.metadata,
    Column("version_id", ForeignKey("algorithm_version.id", ondelete="CASCADE"), primary_key=True),
    Column("report_id", ForeignKey("incident_report.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class IncidentReport(Base):
    """A user's report on a released version. Its free text is public only once an admin approved it.

    ``detected`` lists the identifier detectors that fired on the title or the text (ids only, never a
    value): such a report is held, and an admin may publish it only by overriding the screening.
    """

    __tablename__ = "incident_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("algorithm_version.id"), index=True)
    kind: Mapped[ReportKind] = mapped_column(_enum(ReportKind, "report_kind"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[ReportState] = mapped_column(_enum(ReportState, "report_state"), default=ReportState.OPEN)
    moderation: Mapped[Moderation] = mapped_column(_enum(Moderation, "moderation"), default=Moderation.PENDING,
                                                   index=True)
    detected: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every change (state, moderation, an answer) moves it: the card page's cache key reads it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    moderated_at: Mapped[datetime | None] = mapped_column()

    version: Mapped[Version] = relationship(lazy="joined", innerjoin=True)
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    answers: Mapped[list[ReportAnswer]] = relationship(
        back_populates="report", lazy="selectin", order_by="ReportAnswer.id"
    )
    fixed_in: Mapped[list[Version]] = relationship(secondary=report_fix, lazy="selectin", order_by=Version.id,
                                                   viewonly=True)

    @property
    def held(self) -> bool:
        return bool(self.detected)


class ReportAnswer(Base):
    """An owner's (or admin's) answer to a report: public with the report, unless the screening held it."""

    __tablename__ = "report_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("incident_report.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    moderation: Mapped[Moderation] = mapped_column(_enum(Moderation, "moderation"), default=Moderation.APPROVED)
    detected: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[IncidentReport] = relationship(back_populates="answers")
    created_by: Mapped[User] = relationship(lazy="joined")

    @property
    def held(self) -> bool:
        return bool(self.detected)


class ChangeGeneration(Base):
    """One row counting committed changes to what public pages show (bumped by database triggers).

    Public pages are served from each process's memory while this number stays the same, so one
    indexed read replaces the queries that decide a page (see ``boas.pages.front``). The triggers live
    in the database, not in the ORM, so that every writer (web, worker, CLI, a migration, raw SQL) bumps
    it; which tables they watch is listed in ``registry_db.store.generation``.
    """

    __tablename__ = "change_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


# -- resumable uploads ------------------------------------------------------------------------------


class UploadPurpose(enum.StrEnum):
    DATASET = "dataset"
    PREDICTIONS = "predictions"
    VERSION = "version"


class UploadState(enum.StrEnum):
    OPEN = "open"  # receiving chunks
    COMPLETE = "complete"  # every byte received and the whole file matched its declared digest


class UploadSession(Base):
    """A large file arriving in chunks: the row is the source of truth for how many bytes are in.

    Its partial file sits in the local staging area (``LocalStaging.resumable_path``); bytes past
    ``offset`` there are a chunk whose commit never happened and are overwritten by the next one.
    The row goes when the file is used to create a dataset or predictions (single use), aborted,
    refused at completion, or swept after ``expires_at``.
    """

    __tablename__ = "upload_session"
    __table_args__ = (
        CheckConstraint("upload_offset >= 0 AND upload_offset <= size", name="offset_within_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)  # random: the id clients see in URLs
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[UploadPurpose] = mapped_column(_enum(UploadPurpose, "upload_purpose"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    upload_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[UploadState] = mapped_column(_enum(UploadState, "upload_state"), default=UploadState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
