"""Store functions: queries and writes on a Session. They add and flush; services commit."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry_db.blobs import BlobStore
from registry_db.engine import WRITE_OPTION
from registry_db.errors import Conflict, NotFound
from registry_db.models import (
    Algorithm,
    ApiToken,
    ArtifactFile,
    AuditEvent,
    AuditKind,
    Job,
    JobStatus,
    Organisation,
    OrganisationKind,
    PredictionSet,
    ReferenceDataset,
    User,
    Version,
    VersionState,
    algorithm_owner,
    utcnow,
)

# -- transactions --------------------------------------------------------------------------


def begin_write(session: Session) -> None:
    """Open the service's write transaction, ending any read transaction the request had opened.

    On SQLite this is BEGIN IMMEDIATE (the write lock is taken up front, and waited for); reads
    stay deferred. Write services call it first, then read what they change, then commit.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_write() must open the service's transaction, before any change")
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})


# -- users, organisations, tokens ----------------------------------------------------------


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.execute(select(User).order_by(User.id)).scalars().all()


def add_user(session: Session, user: User) -> User:
    _add_or_conflict(session, user, f"a user with e-mail {user.email} already exists", "email")
    return user


def get_organisation_by_slug(session: Session, slug: str) -> Organisation | None:
    return session.execute(select(Organisation).where(Organisation.slug == slug)).scalar_one_or_none()


def list_organisations(session: Session) -> Sequence[Organisation]:
    return session.execute(select(Organisation).order_by(Organisation.slug)).scalars().all()


def add_organisation(session: Session, organisation: Organisation) -> Organisation:
    _add_or_conflict(session, organisation, f"organisation {organisation.slug} already exists", "slug")
    return organisation


def add_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.flush()
    return token


def get_active_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.execute(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    return token


def revoke_user_tokens(session: Session, user_id: int, kinds: Sequence[str], *, keep_hash: str | None = None,
                       at: datetime | None = None) -> list[ApiToken]:
    """Revoke a user's active tokens of the given kinds (``session``, ``api``), all but ``keep_hash``."""
    stmt = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.kind.in_(kinds))
    if keep_hash is not None:
        stmt = stmt.where(ApiToken.token_hash != keep_hash)
    tokens = list(session.execute(stmt).scalars())
    for token in tokens:
        token.revoked_at = at or utcnow()
    session.flush()
    return tokens


def list_tokens(session: Session, user: User) -> Sequence[ApiToken]:
    """A user's API tokens (browser sessions are not listed)."""
    return session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "api").order_by(ApiToken.id)
    ).scalars().all()


# -- algorithms ----------------------------------------------------------------------------


def get_algorithm(session: Session, slug: str) -> Algorithm:
    algorithm = session.execute(select(Algorithm).where(Algorithm.slug == slug)).scalar_one_or_none()
    if algorithm is None:
        raise NotFound(f"algorithm '{slug}' not found")
    return algorithm


def count_algorithms(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Algorithm)).scalar_one()


def add_algorithm(session: Session, algorithm: Algorithm) -> Algorithm:
    _add_or_conflict(session, algorithm, f"an algorithm with slug '{algorithm.slug}' already exists", "slug")
    return algorithm


MAX_SEARCH_TERMS = 10  # each term is four LIKE clauses; a query of hundreds of words is not a search


def _has_public_bias_audit():
    """A succeeded bias audit on a released (published or yanked) version."""
    return exists().where(Job.version_id == Version.id, Version.algorithm_id == Algorithm.id,
                          Version.state != VersionState.DRAFT, Job.kind == AuditKind.BIAS,
                          Job.status == JobStatus.SUCCEEDED)


def audited_algorithm_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Which of these algorithms have a public bias audit (one query, for a catalogue page)."""
    if not ids:
        return set()
    return set(session.execute(select(Algorithm.id).where(Algorithm.id.in_(list(ids)), _has_public_bias_audit()))
               .scalars())


def public_bias_jobs(session: Session, algorithm_ids: Sequence[int]) -> list[tuple[int, Job]]:
    """(algorithm id, job) of every succeeded bias audit of a released version of these algorithms, in one query."""
    if not algorithm_ids:
        return []
    rows = session.execute(
        select(Version.algorithm_id, Job).join(Version, Job.version_id == Version.id)
        .where(Version.algorithm_id.in_(list(algorithm_ids)), Version.state != VersionState.DRAFT,
               Job.kind == AuditKind.BIAS, Job.status == JobStatus.SUCCEEDED)
        .order_by(Job.id))
    return [(algorithm_id, job) for algorithm_id, job in rows]


def public_page_state(session: Session, slug: str) -> dict[str, Any] | None:
    """Plain columns that decide how an algorithm's released pages look, in three small queries (no ORM rows):
    its released versions, its owners and organisation, and the audits of its released versions."""
    versions = session.execute(
        select(Version.id, Version.version, Version.state, Version.card_sha256, Version.updated_at,
               Version.published_at, Version.yanked_at, Algorithm.id, Algorithm.organisation_id)
        .join(Algorithm, Version.algorithm_id == Algorithm.id)
        .where(Algorithm.slug == slug, Version.state != VersionState.DRAFT)).all()
    if not versions:
        return None
    owners = session.execute(select(algorithm_owner.c.user_id).where(algorithm_owner.c.algorithm_id == versions[0][7])
                             .order_by(algorithm_owner.c.user_id)).scalars().all()
    jobs = session.execute(
        select(Job.version_id, Job.id, Job.kind, Job.status, Job.cached_from_id, Job.created_by_id, Job.finished_at,
               Job.report_sha256).where(Job.version_id.in_([v[0] for v in versions])).order_by(Job.id)).all()
    return {"versions": [tuple(v[:7]) for v in versions], "organisation_id": versions[0][8], "owners": list(owners),
            "jobs": [tuple(j) for j in jobs]}


def _has_published_version():
    return exists().where(Version.algorithm_id == Algorithm.id, Version.state == VersionState.PUBLISHED)


def query_algorithms(
    session: Session,
    *,
    filters: dict[str, Any],
    q: str | None,
    visible_to_user_id: int | None,
    see_all: bool,
    page: int,
    per_page: int,
    organisation_kind: str | None = None,
    audited: bool | None = None,
    owner_id: int | None = None,
    sort: str = "name",
) -> tuple[Sequence[Algorithm], int]:
    """Catalogue query: public sees algorithms with a published version; owners also their own.

    ``sort`` is "name", "recent" (latest publication first) or "created" (newest first).
    """
    stmt: Select = select(Algorithm)
    if not see_all:
        visible = _has_published_version()
        if visible_to_user_id is not None:
            owned = Algorithm.owners.any(User.id == visible_to_user_id)
            visible = or_(visible, owned)
        stmt = stmt.where(visible)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(Algorithm, name) == value)
    if q:
        for term in q.split()[:MAX_SEARCH_TERMS]:
            pattern = f"%{_escape_like(term.lower())}%"
            stmt = stmt.where(
                or_(
                    func.lower(Algorithm.name).like(pattern, escape="\\"),
                    func.lower(Algorithm.summary).like(pattern, escape="\\"),
                    func.lower(Algorithm.description).like(pattern, escape="\\"),
                    func.lower(Algorithm.slug).like(pattern, escape="\\"),
                )
            )
    if organisation_kind is not None:
        stmt = stmt.where(Algorithm.organisation.has(Organisation.kind == OrganisationKind(organisation_kind)))
    if audited is not None:
        stmt = stmt.where(_has_public_bias_audit() if audited else ~_has_public_bias_audit())
    if owner_id is not None:
        stmt = stmt.where(Algorithm.owners.any(User.id == owner_id))
    latest = (select(func.max(Version.published_at)).where(Version.algorithm_id == Algorithm.id,
              Version.state == VersionState.PUBLISHED).scalar_subquery())
    order = {"recent": (latest.desc().nulls_last(), Algorithm.id.desc()),
             "created": (Algorithm.created_at.desc(), Algorithm.id.desc())}.get(sort, (Algorithm.name, Algorithm.id))
    # The total rides along each row (a window count), so a page costs one query, not a count and a query.
    rows = session.execute(stmt.add_columns(func.count().over().label("total")).order_by(*order)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    if rows:
        return [row[0] for row in rows], rows[0][1]
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one() if page > 1 else 0
    return [], total


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- versions and artifacts ----------------------------------------------------------------


def get_version(session: Session, algorithm: Algorithm, version: str) -> Version:
    row = session.execute(
        select(Version).where(and_(Version.algorithm_id == algorithm.id, Version.version == version))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"version '{version}' of algorithm '{algorithm.slug}' not found")
    return row


def get_version_for_update(session: Session, algorithm: Algorithm, version: str) -> Version:
    """Lock the version row (PostgreSQL) so concurrent state changes serialise."""
    row = session.execute(
        select(Version)
        .where(and_(Version.algorithm_id == algorithm.id, Version.version == version))
        .with_for_update(of=Version)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"version '{version}' of algorithm '{algorithm.slug}' not found")
    return row


def list_versions(session: Session, algorithm: Algorithm) -> Sequence[Version]:
    return session.execute(select(Version).where(Version.algorithm_id == algorithm.id)).scalars().all()


def add_version(session: Session, version: Version) -> Version:
    """Insert a version; the (algorithm, version) unique constraint decides races."""
    _add_or_conflict(
        session,
        version,
        f"version '{version.version}' already exists for this algorithm; version identifiers are never reused",
        "version",
        code="version_exists",
    )
    return version


def add_artifact_files(session: Session, version: Version, files: Sequence[tuple[str, str, int]]) -> None:
    for path, sha256, size in files:
        session.add(ArtifactFile(version_id=version.id, path=path, sha256=sha256, size=size))
    session.flush()


def get_artifact_file(session: Session, version: Version, path: str) -> ArtifactFile:
    row = session.execute(
        select(ArtifactFile).where(ArtifactFile.version_id == version.id, ArtifactFile.path == path)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"artifact '{path}' not found in version '{version.version}'")
    return row


# -- audit log -----------------------------------------------------------------------------


def append_event(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_ref: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at or utcnow(),
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        action=action,
        object_type=object_type,
        object_ref=object_ref,
        details=details or {},
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session, *, action: str | None, object_ref: str | None, page: int, per_page: int
) -> tuple[Sequence[AuditEvent], int]:
    stmt = select(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if object_ref:
        stmt = stmt.where(AuditEvent.object_ref == object_ref)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return rows.scalars().all(), total


# -- helpers -------------------------------------------------------------------------------


def _add_or_conflict(session: Session, row: object, message: str, field: str, code: str = "conflict") -> None:
    # The row is added inside a savepoint, so a unique violation leaves the outer transaction usable.
    session.flush()
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        if not _is_unique_violation(exc):
            raise
        raise Conflict(message, {field: [message]}, code=code) from exc


def _is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "23505" or "unique constraint" in text or "duplicate key" in text



# -- datasets, predictions and jobs --------------------------------------------------------


def add_row(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def get_dataset(session: Session, dataset_id: int) -> ReferenceDataset:
    dataset = session.get(ReferenceDataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return dataset


def list_datasets(session: Session) -> Sequence[ReferenceDataset]:
    return session.execute(select(ReferenceDataset).order_by(ReferenceDataset.id.desc())).scalars().all()


def get_prediction_set(session: Session, predictions_id: int) -> PredictionSet:
    row = session.get(PredictionSet, predictions_id)
    if row is None:
        raise NotFound(f"prediction set {predictions_id} not found")
    return row


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"audit job {job_id} not found")
    return job


def get_job_for_update(session: Session, job_id: int) -> Job:
    job = session.execute(select(Job).where(Job.id == job_id).with_for_update(of=Job)).scalar_one_or_none()
    if job is None:
        raise NotFound(f"audit job {job_id} not found")
    return job


def find_cached_job(session: Session, cache_key: str) -> Job | None:
    return session.execute(
        select(Job).where(Job.cache_key == cache_key, Job.status == JobStatus.SUCCEEDED, Job.cached_from_id.is_(None))
        .order_by(Job.id).limit(1)
    ).scalar_one_or_none()


def list_jobs(
    session: Session, *, version_id: int | None = None, status: JobStatus | None = None, created_by_id: int | None = None
) -> Sequence[Job]:
    stmt = select(Job)
    if version_id is not None:
        stmt = stmt.where(Job.version_id == version_id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if created_by_id is not None:
        stmt = stmt.where(Job.created_by_id == created_by_id)
    return session.execute(stmt.order_by(Job.id.desc())).scalars().all()


def lock_public_views(session: Session, dataset_sha256: str) -> None:
    """Serialise the freezing of public audit views of one dataset until the transaction ends.

    Each public view is suppressed jointly with every view of the same data frozen before it, so two
    freezes must not miss each other. PostgreSQL: a transaction-level advisory lock keyed by the
    dataset's digest; SQLite: the write lock that ``begin_write`` already holds.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int(hashlib.sha256(f"boas-public-views:{dataset_sha256}".encode()).hexdigest()[:15], 16)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def get_job_fresh_for_update(session: Session, job_id: int) -> Job:
    """The job row as committed now (not as this session last saw it), locked on PostgreSQL."""
    job = session.execute(
        select(Job).where(Job.id == job_id).with_for_update(of=Job).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if job is None:
        raise NotFound(f"audit job {job_id} not found")
    return job


def list_frozen_bias_jobs(session: Session, dataset_sha256: str) -> Sequence[Job]:
    """Bias audits of the same data (by digest, whatever the upload) whose public view is frozen, oldest first."""
    return session.execute(
        select(Job).join(ReferenceDataset, Job.dataset_id == ReferenceDataset.id)
        .where(ReferenceDataset.sha256 == dataset_sha256, Job.kind == AuditKind.BIAS, Job.cached_from_id.is_(None),
               Job.public_frozen_at.is_not(None))
        .order_by(Job.public_frozen_at, Job.id)
        .execution_options(populate_existing=True)
    ).scalars().all()


def list_stale_jobs(session: Session, heartbeat_before: datetime) -> Sequence[Job]:
    return session.execute(
        select(Job).where(
            Job.status == JobStatus.RUNNING,
            or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < heartbeat_before),
        )
    ).scalars().all()


def list_waiting_jobs(session: Session, handed_before: datetime) -> Sequence[Job]:
    """Queued jobs last handed to the queue (or created) before ``handed_before``."""
    return session.execute(
        select(Job).where(Job.status == JobStatus.QUEUED,
                          func.coalesce(Job.heartbeat_at, Job.created_at) < handed_before)
    ).scalars().all()


def blob_in_use(session: Session, sha256: str) -> bool:
    """Whether any row still points at this blob (artifacts, archives, datasets, predictions, reports)."""
    for column in (ArtifactFile.sha256, Version.archive_sha256, ReferenceDataset.sha256, PredictionSet.sha256,
                   Job.report_sha256):
        if session.execute(select(exists().where(column == sha256))).scalar_one():
            return True
    return False


def lock_blob(session: Session, sha256: str) -> None:
    """Serialise writers of one blob until their transaction ends (PostgreSQL; SQLite's write lock does it).

    Adopting a blob and discarding a failed upload's blobs both take it, so a cleanup never deletes
    a file that another upload, not yet committed, has just found already stored.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(sha256[:15], 16)})


@dataclass
class Staging:
    """A private directory for an upload in progress, and the blobs adopted from it so far."""

    session: Session
    root: Path
    blobs: BlobStore
    created: list[str] = field(default_factory=list)

    def adopt(self, path: Path, sha256: str) -> None:
        """Move a staged file into the store, inside the caller's write transaction."""
        lock_blob(self.session, sha256)
        if self.blobs.adopt(path, sha256):
            self.created.append(sha256)


@contextmanager
def staged_write(session: Session, blobs: BlobStore) -> Iterator[Staging]:
    """All-or-nothing upload: on any failure the transaction rolls back and the blobs it created go."""
    staging = Staging(session=session, root=blobs.staging_dir(), blobs=blobs)
    try:
        yield staging
    except BaseException:
        session.rollback()
        discard_new_blobs(session, blobs, staging.created)
        raise
    finally:
        shutil.rmtree(staging.root, ignore_errors=True)


def discard_new_blobs(session: Session, blobs: BlobStore, digests: list[str]) -> None:
    """After a failed write, delete the blobs it created unless a committed row references them."""
    if not digests:
        return
    try:
        begin_write(session)
        for sha256 in sorted(digests):
            lock_blob(session, sha256)
        blobs.remove(d for d in digests if not blob_in_use(session, d))
        session.commit()
    except Exception:  # noqa: BLE001 - when in doubt keep the file: an orphan is safer than a hole
        session.rollback()
