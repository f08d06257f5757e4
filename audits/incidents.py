"""Incident and feedback reports on released versions: filing, screening, moderation, states, answers, fixes.

These services live in the audits layer, above the registry's, because they screen free text with the
identifier detectors (``audits.identifiers``) as dataset uploads do. The API and the pages call them. Free text (a report's title and text, an answer) may
carry personal data, so:

- every text is screened with the identifier detectors (``audits.identifiers.screen_text``); what
  fired is kept as detector ids, never as a value, and the writer is told which detectors fired;
- a report becomes public only when an admin approves it; a report on which a detector fired is
  *held*: an admin can approve it only by overriding the screening explicitly (after reading it);
- until it is approved, a report's title and text are read by its writer and admins only. The
  algorithm's owners see that it exists (kind, state, what the screening found) but not its words,
  and answer or move it only once it is approved;
- an owner's answer is public with its report unless a detector fired on it: then it waits for an
  admin, like a report;
- nothing written by a reporter reaches the audit log, only ids, kinds, states and detector ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from audits.identifiers import screen_text
from boas.registry import permissions, schemas
from boas.registry.algorithms import can_see_drafts
from boas.registry.versions import check_fixed_reports, get_version
from model_cards.snapshot import public_name
from registry_db import store
from registry_db.errors import Conflict, NotFound, ValidationFailed
from registry_db.models import (
    IncidentReport,
    Moderation,
    ReportAnswer,
    ReportKind,
    ReportState,
    Role,
    User,
    Version,
    VersionState,
    utcnow,
)

# open -> acknowledged -> resolved | declined
TRANSITIONS: dict[ReportState, frozenset[ReportState]] = {
    ReportState.OPEN: frozenset({ReportState.ACKNOWLEDGED}),
    ReportState.ACKNOWLEDGED: frozenset({ReportState.RESOLVED, ReportState.DECLINED}),
    ReportState.RESOLVED: frozenset(),
    ReportState.DECLINED: frozenset(),
}


@dataclass(frozen=True)
class AnswerView:
    """An answer as one reader may see it."""

    id: int
    body: str | None
    author: str
    created_at: datetime
    moderation: Moderation
    detected: list[str]

    @property
    def held(self) -> bool:
        return bool(self.detected)


@dataclass(frozen=True)
class ReportView:
    """A report as one reader may see it: ``title`` and ``body`` are None when they may not read them."""

    id: int
    algorithm: str
    version: str
    kind: ReportKind
    state: ReportState
    moderation: Moderation
    title: str | None
    body: str | None
    created_at: datetime
    updated_at: datetime
    mine: bool
    # What the screening detected: shown to the writer, the owners and admins; empty for the public.
    detected: list[str]
    answers: list[AnswerView]
    fixed_in: list[str]
    can_manage: bool
    transitions: list[ReportState] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return bool(self.detected)

    @property
    def text_withheld(self) -> bool:
        return self.title is None


@dataclass(frozen=True)
class Filed:
    """What a writer gets back: their report (or answer) and the detectors that held it, if any."""

    report: ReportView
    detected: list[str]
    answer_id: int | None = None


@dataclass(frozen=True)
class VersionReports:
    """A version's reports as one reader may see them, with the public counts per state."""

    counts: dict[str, int]
    reports: list[ReportView]
    awaiting_moderation: int  # reports not yet approved that this reader sees exist


def screen(**texts: str) -> list[str]:
    """Detector ids that fired on any of the texts (in the detectors' order, each once)."""
    found: list[str] = []
    for text in texts.values():
        found += [d for d in screen_text(text) if d not in found]
    return found


def _ref(report: IncidentReport) -> str:
    return f"{report.version.algorithm.slug}@{report.version.version}#report-{report.id}"


def _view(actor: User | None, report: IncidentReport) -> ReportView:
    readable = permissions.can_read_report_text(actor, report)
    managing = actor is not None and permissions.can_manage(actor, report.version.algorithm)
    mine = actor is not None and actor.id == report.created_by_id
    insider = managing or mine or (actor is not None and actor.role == Role.ADMIN)
    answers = [
        AnswerView(id=a.id, body=a.body, author=public_name(a.created_by), created_at=a.created_at,
                   moderation=a.moderation, detected=list(a.detected) if insider else [])
        for a in report.answers
        if a.moderation == Moderation.APPROVED or managing or (actor is not None and actor.role == Role.ADMIN)
    ] if readable else []
    algorithm = report.version.algorithm
    drafts = can_see_drafts(actor, algorithm)
    return ReportView(
        id=report.id, algorithm=algorithm.slug, version=report.version.version, kind=report.kind,
        state=report.state, moderation=report.moderation,
        title=report.title if readable else None, body=report.body if readable else None,
        created_at=report.created_at, updated_at=report.updated_at, mine=mine,
        detected=list(report.detected) if insider else [], answers=answers,
        fixed_in=[v.version for v in report.fixed_in if drafts or v.state != VersionState.DRAFT],
        can_manage=managing and report.moderation == Moderation.APPROVED,
        transitions=sorted(TRANSITIONS[report.state], key=list(ReportState).index) if managing else [],
    )


def _released(session: Session, actor: User | None, slug: str, version: str) -> Version:
    row = get_version(session, actor, slug, version)
    if row.state == VersionState.DRAFT:
        raise Conflict(f"version '{version}' is a draft: reports are filed on released versions",
                       code="not_released")
    return row


def _visible_report(session: Session, actor: User | None, report_id: int, *, for_update: bool = False
                    ) -> IncidentReport:
    report = store.get_report(session, report_id, for_update=for_update)
    if not permissions.can_see_report(actor, report):
        raise NotFound(f"report {report_id} not found")
    return report


# -- reading -------------------------------------------------------------------------------------


def list_version_reports(session: Session, actor: User | None, slug: str, version: str) -> VersionReports:
    """A version's reports as the actor may see them; the counts per state are of approved reports only."""
    row = get_version(session, actor, slug, version)
    visible = [r for r in store.list_reports(session, row.id) if permissions.can_see_report(actor, r)]
    counts = {state.value: n for state, n in store.public_state_counts(session, row.id).items()}
    return VersionReports(counts=counts, reports=[_view(actor, r) for r in visible],
                          awaiting_moderation=sum(r.moderation == Moderation.PENDING for r in visible))


def public_reports(session: Session, slug: str, version: str) -> list[ReportView]:
    """The approved reports of a released version, newest change first (the version's Atom feed)."""
    row = get_version(session, None, slug, version)
    approved = store.list_reports(session, row.id, moderation=Moderation.APPROVED)
    return sorted((_view(None, r) for r in approved), key=lambda r: r.updated_at, reverse=True)


def report_stamp(session: Session, version_id: int) -> tuple[int, datetime | None]:
    """(number of reports, last change to any) of a version: what its cached card page depends on."""
    return store.report_stamp(session, version_id)


def get_report(session: Session, actor: User | None, report_id: int) -> ReportView:
    """One report as the actor may see it (404 when they may not know it exists)."""
    return _view(actor, _visible_report(session, actor, report_id))


def list_reports_to_moderate(session: Session, actor: User | None) -> list[ReportView]:
    """Admins' queue: reports awaiting a decision, and approved reports with a held answer."""
    permissions.require_moderate_report(actor)
    return [_view(actor, r) for r in store.list_reports_to_moderate(session)]


# -- writing -------------------------------------------------------------------------------------


def file_report(session: Session, actor: User | None, slug: str, version: str, data: dict[str, Any]) -> Filed:
    """File a report on a released version; it waits for an admin, and is held if it carries identifiers."""
    user = permissions.require_file_report(actor)
    loaded = schemas.load(schemas.ReportCreateSchema(), data, "invalid report")
    title, body = loaded["title"].strip(), loaded["body"].strip()
    detected = screen(title=title, body=body)  # before the write transaction: screening takes a moment
    store.begin_write(session)
    row = _released(session, user, slug, version)
    report = store.add_report(session, IncidentReport(
        version_id=row.id, kind=ReportKind(loaded["kind"]), title=title, body=body, state=ReportState.OPEN,
        moderation=Moderation.PENDING, detected=detected, created_by_id=user.id))
    store.append_event(session, actor=user, action="report.filed", object_type="report", object_ref=_ref(report),
                       details={"kind": report.kind.value, "held": bool(detected), "detected": detected})
    session.commit()
    return Filed(report=_view(user, report), detected=detected)


def moderate_report(session: Session, actor: User | None, report_id: int, data: dict[str, Any]) -> ReportView:
    """Approve (the report becomes public) or reject a pending report; a held one needs the override."""
    admin = permissions.require_moderate_report(actor)
    loaded = schemas.load(schemas.ReportModerationSchema(), data, "invalid moderation")
    store.begin_write(session)
    report = _visible_report(session, admin, report_id, for_update=True)
    if report.moderation != Moderation.PENDING:
        raise Conflict(f"report {report_id} is already {report.moderation.value}", code="already_moderated")
    approve = loaded["decision"] == "approve"
    if approve and report.detected and not loaded["override_screening"]:
        raise Conflict(
            f"report {report_id} is held: the screening detected {', '.join(report.detected)}. Reject it, or "
            "approve it with override_screening after checking it carries no personal data",
            {"override_screening": ["required to approve a held report"]}, code="report_held")
    report.moderation = Moderation.APPROVED if approve else Moderation.REJECTED
    report.moderated_by_id, report.moderated_at = admin.id, utcnow()
    report.updated_at = report.moderated_at
    store.append_event(session, actor=admin, action="report.moderated", object_type="report",
                       object_ref=_ref(report),
                       details={"decision": report.moderation.value, "override_screening": bool(
                           approve and report.detected), "detected": list(report.detected)})
    session.commit()
    return _view(admin, report)


def change_report_state(session: Session, actor: User | None, report_id: int, data: dict[str, Any]) -> ReportView:
    """Move an approved report along open -> acknowledged -> resolved | declined (owners and admins)."""
    user = permissions.require_user(actor)
    loaded = schemas.load(schemas.ReportStateSchema(), data, "invalid state")
    store.begin_write(session)
    report = _visible_report(session, user, report_id, for_update=True)
    permissions.require_manage_report(user, report.version.algorithm)
    _require_approved(report, "its state can change")
    target = ReportState(loaded["state"])
    if target not in TRANSITIONS[report.state]:
        allowed = ", ".join(s.value for s in TRANSITIONS[report.state]) or "none (it is closed)"
        raise Conflict(
            f"report {report_id} is {report.state.value} and cannot become {target.value}: a report moves "
            f"open -> acknowledged -> resolved or declined (allowed next: {allowed})",
            {"state": [f"cannot go from {report.state.value} to {target.value}"]}, code="invalid_transition")
    previous, report.state = report.state, target
    report.updated_at = utcnow()
    store.append_event(session, actor=user, action="report.state_changed", object_type="report",
                       object_ref=_ref(report), details={"from": previous.value, "to": target.value})
    session.commit()
    return _view(user, report)


def answer_report(session: Session, actor: User | None, report_id: int, data: dict[str, Any]) -> Filed:
    """An owner's (or admin's) answer to an approved report: public with it, unless the screening holds it."""
    user = permissions.require_user(actor)
    loaded = schemas.load(schemas.ReportAnswerSchema(), data, "invalid answer")
    body = loaded["body"].strip()
    detected = screen(body=body)
    store.begin_write(session)
    report = _visible_report(session, user, report_id, for_update=True)
    permissions.require_manage_report(user, report.version.algorithm)
    _require_approved(report, "it can be answered")
    answer = store.add_answer(session, ReportAnswer(
        report_id=report.id, body=body, moderation=Moderation.PENDING if detected else Moderation.APPROVED,
        detected=detected, created_by_id=user.id))
    report.updated_at = utcnow()
    store.append_event(session, actor=user, action="report.answered", object_type="report", object_ref=_ref(report),
                       details={"answer": answer.id, "held": bool(detected), "detected": detected})
    session.commit()
    session.refresh(report)
    return Filed(report=_view(user, report), detected=detected, answer_id=answer.id)


def moderate_answer(session: Session, actor: User | None, report_id: int, answer_id: int,
                    data: dict[str, Any]) -> ReportView:
    """Approve (with the override: it was held) or reject an answer the screening held."""
    admin = permissions.require_moderate_report(actor)
    loaded = schemas.load(schemas.ReportModerationSchema(), data, "invalid moderation")
    store.begin_write(session)
    report = _visible_report(session, admin, report_id, for_update=True)
    answer = next((a for a in report.answers if a.id == answer_id), None)
    if answer is None:
        raise NotFound(f"answer {answer_id} of report {report_id} not found")
    if answer.moderation != Moderation.PENDING:
        raise Conflict(f"answer {answer_id} is already {answer.moderation.value}", code="already_moderated")
    approve = loaded["decision"] == "approve"
    if approve and not loaded["override_screening"]:
        raise Conflict(
            f"answer {answer_id} is held: the screening detected {', '.join(answer.detected)}. Reject it, or "
            "approve it with override_screening after checking it carries no personal data",
            {"override_screening": ["required to approve a held answer"]}, code="report_held")
    answer.moderation = Moderation.APPROVED if approve else Moderation.REJECTED
    report.updated_at = utcnow()
    store.append_event(session, actor=admin, action="report.answer_moderated", object_type="report",
                       object_ref=_ref(report), details={"answer": answer.id, "decision": answer.moderation.value,
                                                         "detected": list(answer.detected)})
    session.commit()
    return _view(admin, report)


def _require_approved(report: IncidentReport, what: str) -> None:
    if report.moderation != Moderation.APPROVED:
        raise Conflict(f"report {report.id} is {report.moderation.value}: it must be approved by an admin before "
                       f"{what}", code="not_approved")


# -- versions that fix reports -------------------------------------------------------------------


def set_fixed_reports(session: Session, actor: User | None, slug: str, version: str,
                      data: dict[str, Any]) -> list[int]:
    """Say which reports a draft version fixes (replacing the list); shown on the version and on each report."""
    loaded = schemas.load(schemas.FixedReportsSchema(), data, "invalid list of fixed reports")
    store.begin_write(session)
    row = get_version(session, actor, slug, version)
    user = permissions.require_manage_algorithm(actor, row.algorithm)
    if row.state != VersionState.DRAFT:
        raise Conflict(f"version '{version}' is {row.state.value}; a released version is immutable",
                       code="already_published")
    ids = list(dict.fromkeys(loaded["fixes_reports"]))
    if problems := check_fixed_reports(session, row.algorithm, row.id, ids):
        raise ValidationFailed("invalid list of fixed reports", {"fixes_reports": problems})
    store.set_fixed_reports(session, row, ids)
    row.updated_at = utcnow()
    store.append_event(session, actor=user, action="version.fixes_reports", object_type="version",
                       object_ref=f"{slug}@{version}", details={"reports": ids})
    session.commit()
    return ids


def fixed_reports(session: Session, actor: User | None, slug: str, version: str) -> list[ReportView]:
    """The reports a version fixes, as the actor may see them."""
    row = get_version(session, actor, slug, version)
    found = [store.get_report(session, rid) for rid in store.fixed_report_ids(session, row.id)]
    return [_view(actor, r) for r in found if permissions.can_see_report(actor, r)]
