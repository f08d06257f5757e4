"""Audit schedules and their runs (jobs carrying a schedule id and a due slot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_db.models import (
    AuditSchedule,
    Job,
    JobStatus,
    PredictionSet,
    ReferenceDataset,
    Version,
    VersionState,
)
from registry_db.store.base import _add_or_conflict, get_or_not_found


def get_schedule(session: Session, schedule_id: int) -> AuditSchedule:
    return get_or_not_found(session, AuditSchedule, schedule_id, "audit schedule")


def list_schedules(
    session: Session,
    *,
    active: bool | None = None,
    version_ids: Sequence[int] | None = None,
    created_by_id: int | None = None,
) -> Sequence[AuditSchedule]:
    stmt = select(AuditSchedule)
    if active is not None:
        stmt = stmt.where(AuditSchedule.active.is_(active))
    if version_ids is not None:
        stmt = stmt.where(AuditSchedule.version_id.in_(list(version_ids)))
    if created_by_id is not None:
        stmt = stmt.where(AuditSchedule.created_by_id == created_by_id)
    return session.execute(stmt.order_by(AuditSchedule.id)).scalars().all()


def add_scheduled_job(session: Session, job: Job) -> None:
    """Add a scheduled run; a second run for the same (schedule, slot) is a Conflict, the transaction stays usable."""
    _add_or_conflict(session, job, "this schedule already has a run for this slot", "schedule_slot", code="slot_taken")


def list_runs(session: Session, schedule_ids: Sequence[int]) -> Sequence[Job]:
    """The runs of these schedules, by schedule then slot."""
    if not schedule_ids:
        return []
    return (
        session.execute(
            select(Job)
            .where(Job.schedule_id.in_(list(schedule_ids)))
            .order_by(Job.schedule_id, Job.schedule_slot, Job.id)
        )
        .scalars()
        .all()
    )


def previous_success(session: Session, job: Job) -> Job | None:
    """The schedule's latest succeeded run of an earlier slot than ``job``'s."""
    return session.execute(
        select(Job)
        .where(
            Job.schedule_id == job.schedule_id, Job.schedule_slot < job.schedule_slot, Job.status == JobStatus.SUCCEEDED
        )
        .order_by(Job.schedule_slot.desc())
        .limit(1)
    ).scalar_one_or_none()


def latest_dataset_named(session: Session, name: str) -> ReferenceDataset | None:
    return session.execute(
        select(ReferenceDataset).where(ReferenceDataset.name == name).order_by(ReferenceDataset.id.desc()).limit(1)
    ).scalar_one_or_none()


def latest_prediction_set(session: Session, version_id: int, dataset_id: int) -> PredictionSet | None:
    return session.execute(
        select(PredictionSet)
        .where(PredictionSet.version_id == version_id, PredictionSet.dataset_id == dataset_id)
        .order_by(PredictionSet.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def published_review_dates(session: Session) -> Sequence[tuple[int, int, str, Any]]:
    """(algorithm id, version id, version, declared next review) of every published version.

    The date is read from the frozen snapshot's card in SQL (JSON path), so the catalogue filter does not
    load every snapshot.
    """
    review = Version.snapshot[("card", "maintenance", "next_review")].as_string()
    rows = session.execute(
        select(Version.algorithm_id, Version.id, Version.version, review).where(Version.state == VersionState.PUBLISHED)
    ).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]
