"""Incident and feedback reports on released versions: their answers, counts, and the versions that fix them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from registry_db.errors import NotFound
from registry_db.models import IncidentReport, Moderation, ReportAnswer, ReportState, Version, report_fix


def add_report(session: Session, report: IncidentReport) -> IncidentReport:
    session.add(report)
    session.flush()
    return report


def add_answer(session: Session, answer: ReportAnswer) -> ReportAnswer:
    session.add(answer)
    session.flush()
    return answer


def get_report(session: Session, report_id: int, *, for_update: bool = False) -> IncidentReport:
    """The report, or NotFound; ``for_update`` locks its row (PostgreSQL) so concurrent changes serialise."""
    stmt = select(IncidentReport).where(IncidentReport.id == report_id)
    if for_update:
        stmt = stmt.with_for_update(of=IncidentReport)
    row = session.execute(stmt).unique().scalar_one_or_none()
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return row


def list_reports(session: Session, version_id: int, *, moderation: Moderation | None = None) -> Sequence[IncidentReport]:
    """A version's reports, oldest first; only those with this moderation when it is given."""
    stmt = select(IncidentReport).where(IncidentReport.version_id == version_id)
    if moderation is not None:
        stmt = stmt.where(IncidentReport.moderation == moderation)
    return session.execute(stmt.order_by(IncidentReport.id)).unique().scalars().all()


def list_reports_to_moderate(session: Session, limit: int = 200) -> Sequence[IncidentReport]:
    """Reports still awaiting an admin's decision, and reports with an answer awaiting one, oldest first."""
    pending_answer = select(ReportAnswer.report_id).where(ReportAnswer.moderation == Moderation.PENDING)
    stmt = (select(IncidentReport)
            .where((IncidentReport.moderation == Moderation.PENDING) | IncidentReport.id.in_(pending_answer))
            .order_by(IncidentReport.id).limit(limit))
    return session.execute(stmt).unique().scalars().all()


def public_state_counts(session: Session, version_id: int) -> dict[ReportState, int]:
    """How many approved reports of a version are in each state (every state present, zero included)."""
    rows = session.execute(
        select(IncidentReport.state, func.count()).where(
            IncidentReport.version_id == version_id, IncidentReport.moderation == Moderation.APPROVED)
        .group_by(IncidentReport.state)).all()
    counts = dict.fromkeys(ReportState, 0)
    counts.update(dict(rows))
    return counts


def report_stamp(session: Session, version_id: int) -> tuple[int, datetime | None]:
    """(number of reports, last change to any of them) of a version: part of its card page's cache key."""
    count, last = session.execute(
        select(func.count(IncidentReport.id), func.max(IncidentReport.updated_at))
        .where(IncidentReport.version_id == version_id)).one()
    return int(count), last


def fixed_report_ids(session: Session, version_id: int) -> list[int]:
    """The reports a version says it fixes."""
    return list(session.execute(select(report_fix.c.report_id).where(report_fix.c.version_id == version_id)
                                .order_by(report_fix.c.report_id)).scalars().all())


def set_fixed_reports(session: Session, version: Version, report_ids: Sequence[int]) -> None:
    """Replace the reports a version fixes."""
    session.execute(delete(report_fix).where(report_fix.c.version_id == version.id))
    if report_ids:
        session.execute(insert(report_fix), [{"version_id": version.id, "report_id": rid} for rid in report_ids])
    session.flush()
