"""Scheduled re-audits and staleness: attach a schedule, enqueue due runs, record verdict changes, read trends.

Every run is an ordinary audit job launched through ``audits.service.create_audit`` as the schedule's
creator, so the launch rules (schema, separation of duties, independent inputs) are checked again at
each run, and the job carries its full provenance plus its schedule and due slot. Time is always a
parameter (``now``): workers pass the wall clock, tests a clock they advance.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from audits import datasets, schedules
from audits import service as audit_service
from audits.schemas import ScheduleRequestSchema
from boas.registry import algorithms, notifications, versions
from boas.registry.schemas import load
from registry_db import store
from registry_db.errors import BoasError, Conflict, Forbidden, ValidationFailed
from registry_db.models import (
    AuditKind,
    AuditSchedule,
    Job,
    JobStatus,
    Role,
    User,
    Version,
    VersionState,
)

log = logging.getLogger(__name__)


def calendar_of(schedule: AuditSchedule) -> schedules.Calendar:
    return schedules.Calendar(
        period=schedule.period,
        starts_at=schedule.starts_at,
        every_days=schedule.every_days,
        ends_at=schedule.ends_at,
        grace_days=schedule.grace_days,
    )


# -- attach, list, stop ------------------------------------------------------------------------


def create_schedule(
    session: Session, actor: User | None, request: dict[str, Any], *, now: datetime, allow_code: bool = False
) -> AuditSchedule:
    """Attach a re-audit schedule (evaluators, admins); refused exactly when launching the audit now would be.

    A bias audit must name a published version: a draft changes, a yanked version is withdrawn.
    """
    datasets.require_evaluator(actor)
    data = load(ScheduleRequestSchema(), request, "invalid schedule")
    try:
        checked = audit_service.check_audit_request(session, actor, request["audit"], allow_code=allow_code)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, {f"audit.{k}": v for k, v in exc.errors.items()}, code=exc.code) from exc
    version = checked.version
    if version is not None and version.state != VersionState.PUBLISHED:
        raise ValidationFailed(
            "invalid schedule", {"audit.version": ["re-audits are scheduled for published versions"]}
        )
    starts_at = data["starts_at"] or now
    if data["ends_at"] is not None and data["ends_at"] <= starts_at:
        raise ValidationFailed("invalid schedule", {"ends_at": ["must be after starts_at"]})
    store.begin_write(session)
    schedule = AuditSchedule(
        kind=AuditKind(checked.data["kind"]),
        version_id=version.id if version else None,
        request=dict(request["audit"]),
        period=data["period"],
        every_days=data["every_days"],
        grace_days=data["grace_days"],
        starts_at=starts_at.astimezone(UTC),
        ends_at=data["ends_at"].astimezone(UTC) if data["ends_at"] else None,
        follow_latest=data["follow_latest"],
        active=True,
        created_by_id=checked.evaluator.id,
        created_at=now,
    )
    store.add_row(session, schedule)
    store.append_event(
        session,
        actor=checked.evaluator,
        action="schedule.created",
        object_type="schedule",
        object_ref=str(schedule.id),
        details={
            "kind": schedule.kind.value,
            "period": schedule.period,
            "every_days": schedule.every_days,
            "version": f"{version.algorithm.slug}@{version.version}" if version else None,
        },
    )
    session.commit()
    return schedule


def get_schedule(session: Session, actor: User | None, schedule_id: int, *, now: datetime) -> dict[str, Any]:
    """A schedule with its runs and what is due next (evaluators, admins)."""
    schedule = store.get_schedule(session, schedule_id)
    datasets.require_evaluator(actor)
    return schedule_view(session, schedule, now=now, with_runs=True)


def list_schedules(session: Session, actor: User | None, *, now: datetime) -> list[dict[str, Any]]:
    """Every schedule (evaluators, admins)."""
    datasets.require_evaluator(actor)
    return [schedule_view(session, s, now=now) for s in store.list_schedules(session)]


def stop_schedule(session: Session, actor: User | None, schedule_id: int, *, now: datetime) -> dict[str, Any]:
    """Stop a schedule (its creator or an admin); its runs stay on record."""
    user = datasets.require_evaluator(actor)
    store.begin_write(session)
    schedule = store.get_schedule(session, schedule_id)
    if user.role != Role.ADMIN and schedule.created_by_id != user.id:
        raise Forbidden("only the schedule's creator or an admin may stop it")
    if schedule.active:
        schedule.active = False
        store.append_event(
            session,
            actor=user,
            action="schedule.stopped",
            object_type="schedule",
            object_ref=str(schedule.id),
            details={},
        )
    session.commit()
    return schedule_view(session, schedule, now=now)


def schedule_view(
    session: Session, schedule: AuditSchedule, *, now: datetime, with_runs: bool = False
) -> dict[str, Any]:
    """The API document of a schedule."""
    cal = calendar_of(schedule)
    runs = store.list_runs(session, [schedule.id])
    success = max((r.schedule_slot for r in runs if r.status == JobStatus.SUCCEEDED and r.schedule_slot), default=None)
    last = max((r.schedule_slot for r in runs if r.schedule_slot is not None), default=None)
    overdue = schedules.overdue_since(cal, success, now) if schedule.active else None
    view: dict[str, Any] = {
        "id": schedule.id,
        "kind": schedule.kind.value,
        "period": schedule.period,
        "every_days": schedule.every_days,
        "grace_days": schedule.grace_days,
        "starts_at": schedule.starts_at,
        "ends_at": schedule.ends_at,
        "follow_latest": schedule.follow_latest,
        "active": schedule.active,
        "audit": schedule.request,
        "algorithm": schedule.version.algorithm.slug if schedule.version else None,
        "version": schedule.version.version if schedule.version else None,
        # the slot waiting for its run if one is due, else the next one to come
        "next_slot": (schedules.due_slot(cal, last, now) or schedules.next_slot(cal, now)) if schedule.active else None,
        "last_success_slot": success,
        "overdue_since": overdue,
        "created_at": schedule.created_at,
    }
    if with_runs:
        view["runs"] = [
            {"job": r.id, "slot": r.schedule_slot, "status": r.status.value, "verdict_change": r.verdict_change}
            for r in runs
        ]
    return view


# -- running ----------------------------------------------------------------------------------


def _run_request(session: Session, schedule: AuditSchedule) -> dict[str, Any]:
    """The audit request of this run: the schedule's, on the newest uploads of its datasets when it follows them."""
    request = dict(schedule.request)
    if not schedule.follow_latest:
        return request
    for field in ("dataset", "current_dataset"):
        if request.get(field) is None:
            continue
        named = store.latest_dataset_named(session, store.get_dataset(session, request[field]).name)
        if named is not None:
            request[field] = named.id
    if request.get("predictions") is not None and schedule.version_id is not None:
        latest = store.latest_prediction_set(session, schedule.version_id, request["dataset"])
        if latest is not None:
            request["predictions"] = latest.id
    return request


def enqueue_due_runs(
    session: Session, enqueue: Callable[[int], Any], *, now: datetime, allow_code: bool = False
) -> list[int]:
    """Launch the due run of every active schedule; the jobs created (queued, reused or refused).

    Safe to call from several workers at once: a slot's run is inserted under a unique (schedule, slot)
    constraint, and the loser of a race sees a Conflict and moves on. A run the launch rules now refuse
    (the evaluator joined the algorithm's side, a dataset went away) is recorded as a failed job for its
    slot, so it is not retried every tick and the card's staleness shows it.
    """
    launched: list[int] = []
    for schedule_id in [s.id for s in store.list_schedules(session, active=True)]:
        session.rollback()  # a fresh read for each schedule: another worker may have run it meanwhile
        schedule = store.get_schedule(session, schedule_id)
        runs = store.list_runs(session, [schedule.id])
        last = max((r.schedule_slot for r in runs if r.schedule_slot is not None), default=None)
        slot = schedules.due_slot(calendar_of(schedule), last, now)
        if slot is None:
            continue
        try:
            job = _launch(session, schedule, slot, enqueue, allow_code=allow_code)
        except Conflict:
            session.rollback()
            continue
        launched.append(job.id)
        if job.status == JobStatus.SUCCEEDED:  # an identical earlier result was reused: it is final now
            record_run_outcome(session, job.id)
    return launched


def _launch(
    session: Session, schedule: AuditSchedule, slot: datetime, enqueue: Callable[[int], Any], *, allow_code: bool
) -> Job:
    creator = schedule.created_by
    try:
        request = _run_request(session, schedule)
        job, _cached = audit_service.create_audit(
            session, creator, request, enqueue, allow_code=allow_code, schedule_slot=(schedule.id, slot)
        )
        return job
    except Conflict:
        raise
    except BoasError as exc:
        session.rollback()
        reason = f"scheduled run refused at launch: {exc.message}"
        errors = dict(exc.errors)
        store.begin_write(session)
        job = Job(
            kind=schedule.kind,
            status=JobStatus.FAILED,
            error=reason[:4000],
            error_code="schedule_refused",
            version_id=schedule.version_id,
            dataset_id=int(schedule.request["dataset"]),
            params={},
            cache_key="",
            created_by_id=creator.id,
            schedule_id=schedule.id,
            schedule_slot=slot,
            finished_at=slot,
            provenance={"schedule": schedule.id, "refused": errors},
        )
        store.add_scheduled_job(session, job)
        store.append_event(
            session,
            actor=None,
            action="schedule.run_refused",
            object_type="schedule",
            object_ref=str(schedule.id),
            details={"job": job.id, "reason": exc.message, "slot": slot.isoformat()},
        )
        session.commit()
        return job


def record_run_outcome(session: Session, job_id: int) -> dict[str, Any] | None:
    """After a scheduled run finishes: compare its verdicts with the schedule's previous successful run.

    Writes ``verdict_change`` on the run (once) and, when a verdict changed, calls ``notify_verdict_change``.
    Returns the change record (None for an unscheduled, unfinished or first run).
    """
    if store.get_job(session, job_id).schedule_id is None:
        return None  # an ordinary launch: no write transaction for it
    store.begin_write(session)
    job = store.get_job_for_update(session, job_id)
    schedule_id = job.schedule_id
    if schedule_id is None or job.status != JobStatus.SUCCEEDED or job.verdict_change is not None:
        session.commit()
        return job.verdict_change
    previous = store.previous_success(session, job)
    if previous is None:
        session.commit()
        return None
    changes = schedules.verdict_changes(job.kind.value, previous.result, job.result)
    job.verdict_change = {"previous_job": previous.id, "changes": changes}
    if changes:
        notify_verdict_change(session, store.get_schedule(session, schedule_id), previous, job)
    session.commit()
    return job.verdict_change


def notify_verdict_change(session: Session, schedule: AuditSchedule, previous_job: Job, current_job: Job) -> None:
    """A scheduled re-audit's verdicts changed since the previous run: tell whoever must know.

    The change is logged, and the algorithm's owners and the schedule's evaluator are notified (in the
    app, and by e-mail after the commit). Runs inside the caller's transaction (the caller commits).
    """
    changes = (current_job.verdict_change or {}).get("changes") or []
    version = current_job.version
    if version is not None:  # a drift schedule on datasets alone concerns no algorithm's owners
        notifications.notify(session, [schedule.created_by, *version.algorithm.owners], "verdict_changed", {
            "algorithm": version.algorithm.slug, "algorithm_name": version.algorithm.name,
            "version": version.version, "job": current_job.id, "changes": len(changes),
            "to_fail": sum(1 for c in changes if c["to"] in ("fail", "drift"))})
    store.append_event(
        session,
        actor=None,
        action="schedule.verdict_changed",
        object_type="job",
        object_ref=str(current_job.id),
        details={
            "schedule": schedule.id,
            "previous_job": previous_job.id,
            "changes": len(changes),
            "to_fail": sum(1 for c in changes if c["to"] in ("fail", "drift")),
        },
    )


# -- trends ---------------------------------------------------------------------------------


def version_trend(session: Session, actor: User | None, slug: str, version: str) -> dict[str, Any]:
    """The history of a version's scheduled re-audits: key disparities and drift shares over time.

    Readers who may see audits in full get full results; everyone else gets points from the same frozen
    public views (small-cell suppression) as the card's audit section, so a masked group never appears.
    """
    row = versions.get_version(session, actor, slug, version)
    sched = store.list_schedules(session, version_ids=[row.id])
    runs = [r for r in store.list_runs(session, [s.id for s in sched]) if r.status == JobStatus.SUCCEEDED]
    full = {r.id: audit_service.can_see_full(actor, r) for r in runs}
    public = audit_service.public_results(session, [r for r in runs if not full[r.id]])
    points = []
    for run in runs:
        result = run.result if full[run.id] else (public.get(run.id) if run.kind == AuditKind.BIAS else run.result)
        if result is not None:
            points.append(
                {
                    "job": run.id,
                    "schedule": run.schedule_id,
                    "slot": run.schedule_slot,
                    "kind": run.kind.value,
                    "result": result,
                }
            )
    return {"algorithm": slug, "version": version, "series": trend_series(points)}


def _ratio(d: dict[str, Any]) -> dict[str, Any]:
    ratio = d.get("ratio") or {}
    return {"value": ratio.get("value"), "ci_low": ratio.get("ci_low"), "ci_high": ratio.get("ci_high")}


def trend_series(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series over the runs: per schedule, feature and metric the group furthest from parity in the latest run;
    per drift schedule the share of drifted columns. A point whose value is masked is kept with no value.

    ``verdict_change`` marks a point whose verdict differs from the series' previous known verdict: read
    from the points themselves, so a public trend shows only changes its suppressed views show.
    """
    series: dict[tuple[Any, ...], dict[str, Any]] = {}
    latest_bias: dict[int, dict[str, Any]] = {}
    for point in points:
        if point["kind"] == "bias":
            latest_bias[point["schedule"]] = point["result"]
    key_groups: dict[tuple[int, str, str], tuple[str, float]] = {}
    for schedule_id, result in latest_bias.items():
        for feature in result.get("features") or []:
            for d in feature.get("disparities") or []:
                value = _ratio(d)["value"]
                if value is None or value <= 0 or d.get("suppressed"):
                    continue
                key = (schedule_id, feature["name"], d["metric"])
                distance = abs(math.log(value))
                if key not in key_groups or distance > key_groups[key][1]:
                    key_groups[key] = (d.get("key") or d["group"], distance)
    for point in points:
        at = {"job": point["job"], "slot": point["slot"]}
        if point["kind"] == "drift":
            s = series.setdefault(
                (point["schedule"], "drift"),
                {
                    "schedule": point["schedule"],
                    "kind": "drift",
                    "feature": None,
                    "metric": "share_drifted",
                    "group": None,
                    "points": [],
                },
            )
            result = point["result"]
            share = result.get("share_drifted_any", result.get("share_drifted"))
            s["points"].append(
                {
                    **at,
                    "value": share,
                    "ci_low": None,
                    "ci_high": None,
                    "verdict": "drift" if result.get("dataset_drifted") else "no_drift",
                }
            )
            continue
        for feature in point["result"].get("features") or []:
            for d in feature.get("disparities") or []:
                chosen = key_groups.get((point["schedule"], feature["name"], d["metric"]))
                if chosen is None or (d.get("key") or d["group"]) != chosen[0]:
                    continue
                s = series.setdefault(
                    (point["schedule"], feature["name"], d["metric"]),
                    {
                        "schedule": point["schedule"],
                        "kind": "bias",
                        "feature": feature["name"],
                        "metric": d["metric"],
                        "group": d["group"],
                        "reference_group": feature.get("reference_group"),
                        "band": point["result"].get("tolerance_band"),
                        "points": [],
                    },
                )
                masked = bool(d.get("suppressed"))
                ratio = _ratio(d) if not masked else {"value": None, "ci_low": None, "ci_high": None}
                s["points"].append({**at, **ratio, "verdict": d.get("verdict")})
    for found in series.values():
        previous = None
        for p in found["points"]:
            p["verdict_change"] = previous is not None and p["verdict"] is not None and p["verdict"] != previous
            previous = p["verdict"] if p["verdict"] is not None else previous
    return list(series.values())


# -- staleness ------------------------------------------------------------------------------


def _review_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def staleness(session: Session, version: Version, *, now: datetime) -> dict[str, Any]:
    """Whether a published card is "to review" now, and why: its declared review date has passed, or a
    scheduled re-audit has not succeeded within its period and grace."""
    card = (version.snapshot or {}).get("card") if version.state != VersionState.DRAFT else version.card
    review = _review_date(((card or {}).get("maintenance") or {}).get("next_review"))
    reasons: list[dict[str, Any]] = []
    if review is not None and review < now.date():
        reasons.append({"code": "review_date_passed", "date": review.isoformat()})
    for schedule in store.list_schedules(session, active=True, version_ids=[version.id]):
        since = _overdue(session, schedule, now)
        if since is not None:
            reasons.append({"code": "reaudit_overdue", "schedule": schedule.id, "since": since.isoformat()})
    return {"to_review": bool(reasons), "next_review": review.isoformat() if review else None, "reasons": reasons}


def version_staleness(
    session: Session, actor: User | None, slug: str, version: str, *, now: datetime
) -> dict[str, Any]:
    """The "to review" state of a version's card as ``actor`` may see the version."""
    return staleness(session, versions.get_version(session, actor, slug, version), now=now)


def _overdue(session: Session, schedule: AuditSchedule, now: datetime) -> datetime | None:
    runs = store.list_runs(session, [schedule.id])
    success = max((r.schedule_slot for r in runs if r.status == JobStatus.SUCCEEDED and r.schedule_slot), default=None)
    return schedules.overdue_since(calendar_of(schedule), success, now)


def stale_algorithm_ids(session: Session, *, now: datetime) -> set[int]:
    """Algorithms whose latest published version is "to review" now (the public catalogue filter)."""
    from model_cards import semver

    latest: dict[int, tuple[int, str, Any]] = {}
    for algorithm_id, version_id, number, review in store.published_review_dates(session):
        if algorithm_id not in latest or semver.sort_key(number) > semver.sort_key(latest[algorithm_id][1]):
            latest[algorithm_id] = (version_id, number, review)
    stale = {a for a, (_v, _n, review) in latest.items() if (d := _review_date(review)) is not None and d < now.date()}
    by_version = {v: a for a, (v, _n, _r) in latest.items()}
    for schedule in store.list_schedules(session, active=True, version_ids=list(by_version)):
        algorithm_id = by_version[schedule.version_id]  # type: ignore[index]
        if algorithm_id not in stale and _overdue(session, schedule, now) is not None:
            stale.add(algorithm_id)
    return stale


def list_catalogue(
    session: Session, actor: User | None, *, now: datetime, to_review: bool | None = None, **query: Any
) -> algorithms.Page:
    """The catalogue (``boas.registry.algorithms.list_algorithms``) with each result's "to review" state,
    filtered on it when ``to_review`` is given."""
    stale = stale_algorithm_ids(session, now=now)
    return algorithms.list_algorithms(session, actor, stale_ids=stale, to_review=to_review, **query)


def cards_to_review(session: Session, *, now: datetime, limit: int) -> list[dict[str, Any]]:
    """The latest published card of each algorithm "to review" now, with why (the public Atom feed)."""
    stale = stale_algorithm_ids(session, now=now)
    page = algorithms.list_algorithms(
        session, None, filters={}, q=None, page=1, per_page=limit, sort="recent", stale_ids=stale, to_review=True
    )
    entries = []
    for algorithm in page.items:
        number = algorithms.latest_version(algorithm)
        version = next((v for v in algorithm.versions if v.version == number), None)
        if version is not None:
            entries.append(
                {"algorithm": algorithm, "version": version, "staleness": staleness(session, version, now=now)}
            )
    return entries
