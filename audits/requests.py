"""The author-evaluator loop: owners request an audit of a version, independent evaluators take it.

open → claimed (one evaluator) → done (a bias audit of the version, launched by the claimer, succeeded)
open | claimed → declined (with a reason). At most one request per version is open or claimed.

Who may take a request is who may audit the algorithm (``permissions.require_audit_algorithm``): an
evaluator or admin who is not an owner and not a member of an owning organisation. The queue shows
each evaluator only the requests they may take. Every audit the claimer launches for the version is
linked to the request (its progress is the request's), and its end is notified to the owners.
Messages and reasons are read by other people: they are screened for direct identifiers
(``audits.identifiers.screen_message``) and refused, naming the detector, when one is found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from audits import identifiers
from audits.schemas import AuditRequestCreateSchema, AuditRequestDeclineSchema
from boas.registry import notifications, permissions, versions
from boas.registry.schemas import load
from model_cards.snapshot import public_name
from registry_db import store
from registry_db.errors import Conflict, NotFound, ValidationFailed
from registry_db.models import (
    AuditKind,
    AuditRequest,
    AuditRequestStatus,
    Job,
    JobStatus,
    Role,
    User,
    Version,
    VersionState,
    utcnow,
)

# What a draft's (or release's) audit status can be, from the request and the audits of the version.
NOT_REQUESTED, REQUESTED, IN_PROGRESS, AUDITED, DECLINED = "not_requested", "requested", "in_progress", "audited", \
    "declined"


def _screened(data: dict[str, Any], field: str) -> str:
    text = data[field].strip()
    found = identifiers.describe(identifiers.screen_message(text, field=field))
    if found:
        raise ValidationFailed(f"the {field} was refused: it seems to contain a direct identifier",
                               {field: list(found.values())}, code="identifier_in_text")
    return text


def _params(row: AuditRequest, **extra: Any) -> dict[str, Any]:
    version = row.version
    return {"request": row.id, "algorithm": version.algorithm.slug, "algorithm_name": version.algorithm.name,
            "version": version.version, **extra}


def request_audit(session: Session, actor: User | None, slug: str, version: str, data: dict[str, Any]
                  ) -> AuditRequest:
    """An owner (or admin) asks for an independent audit of a draft or published version; evaluators are told.

    A yanked version is not audited on request (422); a version whose request is still open or claimed
    is a 409. The message is optional, bounded and screened for identifiers.
    """
    user = permissions.require_user(actor)
    row = versions.get_version(session, user, slug, version)
    permissions.require_manage_algorithm(user, row.algorithm)
    valid = load(AuditRequestCreateSchema(), data, "invalid audit request")
    message = _screened(valid, "message")
    if row.state == VersionState.YANKED:
        raise ValidationFailed("a withdrawn version is not audited on request",
                               {"version": ["this version is withdrawn: request an audit of a current version"]})
    store.begin_write(session)
    row = store.get_version(session, row.algorithm, version)
    request = store.add_audit_request(session, AuditRequest(version_id=row.id, status=AuditRequestStatus.OPEN,
                                                            message=message, requested_by_id=user.id))
    store.append_event(session, actor=user, action="audit_request.created", object_type="audit_request",
                       object_ref=str(request.id), details={"version": f"{slug}@{version}"})
    session.refresh(request)
    evaluators = [e for e in store.list_active_users(session, [Role.EVALUATOR])
                  if permissions.is_independent(e, row.algorithm)]
    notifications.notify(session, evaluators, "audit_requested", _params(request))
    session.commit()
    return request


def list_queue(session: Session, actor: User | None) -> list[AuditRequest]:
    """The requests an evaluator may act on: open ones of algorithms they are independent of, and those they took."""
    user = permissions.require_role(actor, Role.EVALUATOR, Role.ADMIN)
    rows = store.list_audit_requests(session, statuses=[AuditRequestStatus.OPEN.value,
                                                        AuditRequestStatus.CLAIMED.value])
    return [row for row in rows if (row.status == AuditRequestStatus.OPEN
                                    and permissions.is_independent(user, row.version.algorithm))
            or row.claimed_by_id == user.id]


def _get_for_evaluator(session: Session, user: User, request_id: int) -> AuditRequest:
    row = store.get_audit_request(session, request_id)
    permissions.require_audit_algorithm(user, row.version.algorithm)  # 403 naming the conflict of interest
    return row


def claim_request(session: Session, actor: User | None, request_id: int) -> AuditRequest:
    """An independent evaluator takes an open request; the owners are told. Taken or closed already: 409."""
    user = permissions.require_role(actor, Role.EVALUATOR, Role.ADMIN)
    _get_for_evaluator(session, user, request_id)
    store.begin_write(session)
    row = store.get_audit_request(session, request_id)
    if row.status != AuditRequestStatus.OPEN:
        raise Conflict(f"audit request {request_id} is {row.status.value}, not open", code="request_not_open")
    row.status, row.claimed_by_id, row.claimed_at = AuditRequestStatus.CLAIMED, user.id, utcnow()
    store.append_event(session, actor=user, action="audit_request.claimed", object_type="audit_request",
                       object_ref=str(row.id), details={})
    notifications.notify(session, _owners(row), "request_claimed", _params(row, evaluator=public_name(user)))
    session.commit()
    return row


def decline_request(session: Session, actor: User | None, request_id: int, data: dict[str, Any]) -> AuditRequest:
    """Decline a request with a reason the owners read: any independent evaluator while it is open, its
    claimer once claimed. Closed already: 409."""
    user = permissions.require_role(actor, Role.EVALUATOR, Role.ADMIN)
    row = _get_for_evaluator(session, user, request_id)
    reason = _screened(load(AuditRequestDeclineSchema(), data, "invalid decline"), "reason")
    store.begin_write(session)
    row = store.get_audit_request(session, request_id)
    if row.status not in (AuditRequestStatus.OPEN, AuditRequestStatus.CLAIMED):
        raise Conflict(f"audit request {request_id} is {row.status.value}, not open", code="request_not_open")
    if row.status == AuditRequestStatus.CLAIMED and row.claimed_by_id != user.id:
        raise permissions.Forbidden("another evaluator took this request: only they may decline it")
    row.status, row.decline_reason, row.closed_at = AuditRequestStatus.DECLINED, reason, utcnow()
    row.claimed_by_id = row.claimed_by_id or user.id
    store.append_event(session, actor=user, action="audit_request.declined", object_type="audit_request",
                       object_ref=str(row.id), details={})
    notifications.notify(session, _owners(row), "request_declined",
                         _params(row, evaluator=public_name(user), reason=reason))
    session.commit()
    return row


def _owners(row: AuditRequest) -> list[User]:
    return [row.requested_by, *row.version.algorithm.owners]


# -- the audits of a request -------------------------------------------------------------------


def link_job(session: Session, job: Job) -> None:
    """Inside the launch's transaction: a bias audit of a version its launcher claimed becomes the request's.

    A result reused from an identical earlier audit has succeeded already, so it closes the request at once.
    """
    if job.kind != AuditKind.BIAS or job.version_id is None:
        return
    row = store.claimed_request_for(session, job.version_id, job.created_by_id)
    if row is None:
        return
    row.job_id = job.id
    session.flush()
    if job.status == JobStatus.SUCCEEDED:
        job_finished(session, job)


def job_finished(session: Session, job: Job) -> None:
    """Inside the finishing transaction: tell the owners, and close the request if the audit succeeded.

    A failed audit leaves the request claimed: the evaluator may launch it again (or decline the request).
    """
    from audits.outcomes import result_outcome  # audits.outcomes reads public views through audits.service

    row = store.request_of_job(session, job.id)
    if row is None or row.status != AuditRequestStatus.CLAIMED:
        return
    succeeded = job.status == JobStatus.SUCCEEDED
    if succeeded:
        row.status, row.closed_at = AuditRequestStatus.DONE, utcnow()
    outcome = result_outcome(job.result) if succeeded else "not_audited"
    notifications.notify(session, _owners(row), "audit_finished", _params(
        row, job=job.id, status=job.status.value, outcome=outcome, evaluator=public_name(job.created_by)))


# -- audit status ----------------------------------------------------------------------------


def _status_of(version: Version, request: AuditRequest | None, jobs: Sequence[Job]) -> dict[str, Any]:
    from audits.outcomes import result_outcome

    bias = [j for j in jobs if j.kind == AuditKind.BIAS]
    done = [j for j in bias if j.status == JobStatus.SUCCEEDED]
    running = [j for j in bias if j.status in (JobStatus.QUEUED, JobStatus.RUNNING)]
    latest = max(done, key=lambda j: j.id) if done else None
    outcome = result_outcome(latest.result) if latest is not None else None
    active = request is not None and request.status in (AuditRequestStatus.OPEN, AuditRequestStatus.CLAIMED)
    if running or (active and request is not None and request.status == AuditRequestStatus.CLAIMED):
        state = IN_PROGRESS  # an audit runs, or an evaluator took the request
    elif active:
        state = REQUESTED
    elif latest is not None:
        state = AUDITED
    elif request is not None and request.status == AuditRequestStatus.DECLINED:
        state = DECLINED
    else:
        state = NOT_REQUESTED
    return {"version": version.version, "state": state, "outcome": outcome,
            "job": latest.id if latest is not None else None,
            "request": request_view(request) if request is not None else None}


def version_audit_status(session: Session, actor: User | None, slug: str, version: str) -> dict[str, Any]:
    """Requested / in progress / audited (with the latest bias audit's outcome) for those who may see drafts.

    The outcome is read from the full result: only owners, evaluators and admins ask for it.
    """
    user = permissions.require_user(actor)
    row = versions.get_version(session, user, slug, version)
    if not (permissions.can_manage(user, row.algorithm) or user.role == Role.EVALUATOR):
        raise NotFound(f"no audit status for version '{version}' of algorithm '{slug}'")
    return _status_of(row, store.latest_request_for(session, row.id), store.list_jobs(session, version_id=row.id))


def audit_statuses(session: Session, actor: User | None, rows: Sequence[Version]) -> dict[int, dict[str, Any]]:
    """version id -> audit status, for the versions of the actor's own algorithms (the workspace)."""
    user = permissions.require_user(actor)
    mine = [row for row in rows if permissions.can_manage(user, row.algorithm)]
    requests = store.latest_requests_for(session, [row.id for row in mine])
    return {row.id: _status_of(row, requests.get(row.id), store.list_jobs(session, version_id=row.id))
            for row in mine}


def request_view(row: AuditRequest) -> dict[str, Any]:
    """The API document of a request; people appear by their public name, never their e-mail."""
    return {
        "id": row.id, "status": row.status.value, "algorithm": row.version.algorithm.slug,
        "algorithm_name": row.version.algorithm.name, "version": row.version.version,
        "version_state": row.version.state.value, "message": row.message,
        "requested_by": public_name(row.requested_by), "created_at": row.created_at,
        "claimed_by": public_name(row.claimed_by) if row.claimed_by else None, "claimed_at": row.claimed_at,
        "job": row.job_id, "job_status": row.job.status.value if row.job else None,
        "decline_reason": row.decline_reason, "closed_at": row.closed_at,
    }
