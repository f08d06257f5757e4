"""Reference datasets, prediction sets and jobs, and the locks that order public views."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from registry_db.errors import NotFound
from registry_db.models import (
    AuditKind,
    Job,
    JobStatus,
    PredictionSet,
    ReferenceDataset,
)
from registry_db.store.base import get_or_not_found


def get_dataset(session: Session, dataset_id: int) -> ReferenceDataset:
    return get_or_not_found(session, ReferenceDataset, dataset_id, "dataset")


def list_datasets(session: Session) -> Sequence[ReferenceDataset]:
    return session.execute(select(ReferenceDataset).order_by(ReferenceDataset.id.desc())).scalars().all()


def get_prediction_set(session: Session, predictions_id: int) -> PredictionSet:
    return get_or_not_found(session, PredictionSet, predictions_id, "prediction set")


def get_job(session: Session, job_id: int) -> Job:
    return get_or_not_found(session, Job, job_id, "audit job")


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
