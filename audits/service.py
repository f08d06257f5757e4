"""Audit services: launch bias audits and drift reports as jobs, read them back with the right view."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from audits import datasets
from audits import requests as audit_requests
from audits.schemas import AuditRequestSchema
from audits.suppression import MIN_CELL, AuditRecord, Frozen, freeze_public_view
from boas.registry import permissions, versions
from boas.registry.schemas import load
from boas.registry.storage import Storage
from model_cards.snapshot import public_name
from registry_db import store
from registry_db.errors import NotFound, ValidationFailed
from registry_db.models import (
    Algorithm,
    AuditKind,
    Job,
    JobStatus,
    PredictionSet,
    ReferenceDataset,
    Role,
    User,
    Version,
    VersionState,
    utcnow,
)

MIN_PUBLIC_CELL = MIN_CELL
# What the public sees of how a result was obtained: digests, parameters and software, not hosts or logs.
PUBLIC_PROVENANCE = frozenset({"dataset", "current_dataset", "model", "predictions", "pickle_scan", "parameters",
                               "seed", "libraries", "started_at", "finished_at", "skipped_columns", "engine",
                               "crosscheck", "version", "code_archive_sha256", "missing_test"})
# Result parts not yet covered by public suppression: score curves, sweeps and reliability bins of a
# small group describe individuals. Withheld from the public view until suppression defines them.
log = logging.getLogger(__name__)


def _cache_key(kind: str, model_digest: str | None, dataset_sha: str, current_sha: str | None,
               params: dict[str, Any]) -> str:
    material = {"kind": kind, "model": model_digest, "dataset": dataset_sha, "current": current_sha, "params": params}
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _audit_params(data: dict[str, Any]) -> dict[str, Any]:
    if data["kind"] == "drift":
        return {"columns": data["columns"], "threshold": data["threshold"]}
    return {k: data[k] for k in ("sensitive_features", "intersections", "threshold", "reference_group", "tolerance",
                                 "min_group_size", "n_boot", "seed")}


def _dependent_inputs(algorithm: Algorithm, dataset: ReferenceDataset, current: ReferenceDataset | None,
                      predictions: PredictionSet | None) -> dict[str, list[str]]:
    """Inputs supplied by the algorithm's own side (its owners, their organisations), named by field.

    Checked again at launch because an uploader may have joined the algorithm's side since: a dataset
    whose labels an author chose, or predictions they wrote, are no independent evidence.
    """
    problems: dict[str, list[str]] = {}
    inputs = (("dataset", dataset, "this dataset was"), ("current_dataset", current, "this dataset was"),
              ("predictions", predictions, "these predictions were"))
    for field, row, subject in inputs:
        if row is not None and not permissions.is_independent(row.uploaded_by, algorithm):
            problems[field] = [f"{subject} uploaded by an owner of algorithm '{algorithm.slug}' or a member of an "
                               "organisation that owns it: an audit needs independent inputs"]
    return problems


@dataclass(frozen=True)
class CheckedRequest:
    """An audit request the launch rules accept, with the rows it names."""

    evaluator: User
    data: dict[str, Any]
    version: Version | None
    dataset: ReferenceDataset
    current: ReferenceDataset | None
    predictions: PredictionSet | None


def check_audit_request(session: Session, actor: User | None, request: dict[str, Any], *,
                        allow_code: bool = False) -> CheckedRequest:
    """Every rule an audit launch obeys (schema, separation of duties, inputs), without launching it.

    Launches and schedules of re-audits both call it, so a schedule is refused exactly when its first
    run would be.
    """
    evaluator = datasets.require_evaluator(actor)
    data = load(AuditRequestSchema(), request, "invalid audit request")
    errors: dict[str, list[str]] = {}
    version: Version | None = None
    if data["algorithm"] and data["version"]:
        version = versions.get_version(session, evaluator, data["algorithm"], data["version"])
        permissions.require_audit_algorithm(evaluator, version.algorithm)
    dataset = store.get_dataset(session, data["dataset"])
    current = store.get_dataset(session, data["current_dataset"]) if data["current_dataset"] is not None else None
    predictions = None
    if data["predictions"] is not None:
        predictions = store.get_prediction_set(session, data["predictions"])
        if version is None or predictions.version_id != version.id or predictions.dataset_id != dataset.id:
            errors["predictions"] = ["these predictions were uploaded for another version or dataset"]
    if version is not None:
        for field, problems in _dependent_inputs(version.algorithm, dataset, current, predictions).items():
            errors.setdefault(field, []).extend(problems)
    columns = {c["name"] for c in dataset.columns}
    if data["kind"] == "bias":
        unknown = [f for f in data["sensitive_features"] if f not in columns]
        if unknown:
            errors["sensitive_features"] = [f"not a column of the dataset: {', '.join(unknown)}"]
        if not dataset.label_column:
            errors["dataset"] = ["this dataset declares no label column"]
        if version is not None and predictions is None and version.artifact_kind != "mlflow_model":
            errors["predictions"] = ["this version has no MLflow model: upload its predictions and pass their id"]
    if (version is not None and predictions is None and version.artifact_kind == "mlflow_model"
            and version.execution != "execute" and not allow_code):
        raise ValidationFailed("this model is audited from uploaded predictions only", {"predictions": [
            "this model carries code (see its execution reasons), so this instance never runs it: upload its "
            "predictions on the dataset and pass their id"]}, code="model_not_executable")
    if data["kind"] == "drift" and data["columns"]:
        available = columns & ({c["name"] for c in current.columns} if current else set())
        missing = [c for c in data["columns"] if c not in available]
        if missing:
            errors["columns"] = [f"not in both datasets: {', '.join(missing)}"]
    if errors:
        raise ValidationFailed("invalid audit request", errors)

    return CheckedRequest(evaluator=evaluator, data=data, version=version, dataset=dataset, current=current,
                          predictions=predictions)


def create_audit(session: Session, actor: User | None, request: dict[str, Any],
                 enqueue: Callable[[int], Any], *, allow_code: bool = False,
                 schedule_slot: tuple[int, datetime] | None = None) -> tuple[Job, bool]:
    """Queue an audit (evaluators, admins). Returns (job, cached): an identical finished audit is reused.

    ``schedule_slot`` (schedule id, due slot) marks a scheduled re-audit: the database refuses a second
    job for the same slot (a Conflict), so two schedulers ticking at once enqueue it once.

    The launcher becomes the audit's evaluator of record, so an audit of an algorithm (a bias audit, or a
    drift report with its model) is refused with a 403 to its owners and the members of its owning
    organisations, whatever their role; that check comes before an earlier result could be reused.
    """
    checked = check_audit_request(session, actor, request, allow_code=allow_code)
    evaluator, data, version = checked.evaluator, checked.data, checked.version
    dataset, current, predictions = checked.dataset, checked.current, checked.predictions
    params = _audit_params(data)
    model_digest = predictions.sha256 if predictions else (version.archive_sha256 if version else None)
    key = _cache_key(data["kind"], model_digest, dataset.sha256, current.sha256 if current else None, params)
    ids = {"version_id": version.id if version else None, "dataset_id": dataset.id,
           "current_dataset_id": current.id if current else None,
           "predictions_id": predictions.id if predictions else None}
    store.begin_write(session)
    cached = store.find_cached_job(session, key)
    if cached is not None and cached.report_sha256 and not cached.coarse_report_sha256:
        cached = None  # a report from before coarsening: compute one that evaluators and owners may open
    job = Job(kind=AuditKind(data["kind"]), params=params, cache_key=key, created_by_id=evaluator.id, **ids)
    if schedule_slot is not None:
        job.schedule_id, job.schedule_slot = schedule_slot
    if cached is not None:
        job.status, job.progress, job.cached_from_id = JobStatus.SUCCEEDED, 100, cached.id
        job.result, job.provenance, job.report_sha256 = cached.result, cached.provenance, cached.report_sha256
        job.coarse_report_sha256 = cached.coarse_report_sha256
        job.started_at, job.finished_at = cached.started_at, cached.finished_at
    else:
        job.status = JobStatus.QUEUED
    if schedule_slot is None:
        store.add_row(session, job)
    else:
        store.add_scheduled_job(session, job)
    audit_requests.link_job(session, job)
    store.append_event(session, actor=evaluator, action="audit.launched", object_type="job", object_ref=str(job.id),
                       details={"kind": data["kind"], "cache_key": key, "cached_from": job.cached_from_id,
                                "version": f"{data['algorithm']}@{data['version']}" if version else None,
                                **({"schedule": job.schedule_id} if schedule_slot is not None else {})})
    session.commit()
    if cached is None:
        try:
            enqueue(job.id)
        except Exception:
            log.warning("queue unavailable: job %s stays queued until a worker's reaper re-sends it", job.id,
                        exc_info=True)
    return job, cached is not None


def _can_see_full(actor: User | None, job: Job) -> bool:
    if actor is None or not actor.active:
        return False
    if actor.role in (Role.ADMIN, Role.EVALUATOR):
        return True
    return job.version is not None and permissions.is_owner(actor, job.version.algorithm)


can_see_full = _can_see_full  # for the other audit services (trends of scheduled re-audits)


def _is_public(job: Job) -> bool:
    return (job.version is not None and job.version.state != VersionState.DRAFT
            and job.status == JobStatus.SUCCEEDED)


def get_audit(session: Session, actor: User | None, job_id: int) -> dict[str, Any]:
    """An audit as the actor may see it: full for evaluators, admins and owners; its frozen public view otherwise."""
    job = store.get_job(session, job_id)
    full = _can_see_full(actor, job)
    if not full and not _is_public(job):
        raise NotFound(f"audit job {job_id} not found")
    if full:
        return audit_view(job, full=True, admin=actor is not None and actor.role == Role.ADMIN)
    public = public_results(session, [job])
    return audit_view(store.get_job(session, job_id), full=False, public_result=public.get(job.id))


def audit_view(job: Job, *, full: bool, public_result: dict[str, Any] | None = None,
               admin: bool = False) -> dict[str, Any]:
    """The API document of an audit; the public one carries ``public_result`` (frozen), never ``job.result``.

    ``error`` is one of a fixed set of sentences; what the model itself said (``untrusted_detail``, which
    can carry the rows it was given) is in admins' view only.
    """
    result = job.result
    if not full and job.kind == AuditKind.BIAS and result is not None:
        if public_result is None:
            raise ValueError("a public view of a bias audit needs its frozen public result")
        result = public_result
    provenance = job.provenance
    if provenance and not full:
        provenance = {k: v for k, v in provenance.items() if k in PUBLIC_PROVENANCE}
    return {
        "id": job.id, "kind": job.kind.value, "status": job.status.value, "progress": job.progress,
        "error": job.error, "error_code": job.error_code, "attempts": job.attempts, "heartbeat_at": job.heartbeat_at,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "algorithm": job.version.algorithm.slug if job.version else None,
        "version": job.version.version if job.version else None,
        "dataset": {"id": job.dataset.id, "name": job.dataset.name, "sha256": job.dataset.sha256,
                    "labels": (job.dataset.datasheet or {}).get("column_labels") or {}},
        "current_dataset": ({"id": job.current_dataset.id, "name": job.current_dataset.name,
                             "sha256": job.current_dataset.sha256} if job.current_dataset else None),
        "params": job.params, "cached_from": job.cached_from_id, "view": "full" if full else "public",
        "evaluator": public_name(job.created_by), "independent": permissions.audit_is_independent(job),
        "result": result, "provenance": provenance, "has_report": job.report_sha256 is not None,
        **({"untrusted_detail": job.untrusted_detail} if admin else {}),
    }


def list_version_audits(session: Session, actor: User | None, slug: str, version: str) -> list[dict[str, Any]]:
    """The audits of a version: full for those who may see everything, frozen public views for the others."""
    row = versions.get_version(session, actor, slug, version)
    jobs = [(job, _can_see_full(actor, job)) for job in store.list_jobs(session, version_id=row.id)]
    jobs = [(job, full) for job, full in jobs if full or _is_public(job)]
    public = public_results(session, [job for job, full in jobs if not full])
    return [audit_view(job, full=full, public_result=public.get(job.id)) for job, full in jobs]


# -- frozen public views ---------------------------------------------------------------------


def _source_id(job: Job) -> int:
    return job.cached_from_id if job.cached_from_id is not None else job.id


def public_results(session: Session, jobs: Sequence[Job]) -> dict[int, dict[str, Any]]:
    """The frozen public result of each succeeded bias audit in ``jobs``, freezing those not frozen yet.

    A cached audit shows its source's public result, so both always read the same numbers.
    """
    wanted = {job.id: _source_id(job) for job in jobs
              if job.kind == AuditKind.BIAS and job.status == JobStatus.SUCCEEDED}
    sources = {source: store.get_job(session, source) for source in set(wanted.values())}
    missing = sorted(source for source, job in sources.items() if job.public_frozen_at is None)
    frozen = freeze_public_views(session, missing) if missing else {}
    return {job_id: frozen[source] if source in frozen else _frozen_view(sources[source])
            for job_id, source in wanted.items()}


def _frozen_view(job: Job) -> dict[str, Any]:
    """The public view of a job marked frozen: the two are written together, so one without the other is a bug."""
    if job.public_result is None:
        raise RuntimeError(f"audit job {job.id} is marked frozen without its public view")
    return job.public_result


def _succeeded_result(job: Job) -> dict[str, Any]:
    """The result of a succeeded job: ``finish_job`` writes the status and the result together."""
    if job.result is None:
        raise RuntimeError(f"audit job {job.id} succeeded without a result")
    return job.result


def _record(job: Job, *, public: dict[str, Any] | None) -> AuditRecord:
    """What the disclosure audit must know of a job: its result and which predictions and scores it shares."""
    provenance = job.provenance or {}
    predictions = (provenance.get("predictions") or {}).get("sha256")
    model = provenance.get("model") or {}
    scores = model.get("archive_sha256") if job.predictions_id is None else None  # the model run here, thresholded
    return AuditRecord(id=str(job.id), result=_succeeded_result(job), predictions=predictions or f"job:{job.id}",
                       scores=scores, threshold=(job.params or {}).get("threshold"), public=public)


OPTIMISTIC_FREEZES = 3  # computations made without the lock before one is made holding it


def freeze_public_views(session: Session, job_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Freeze the public view of these (source) bias audits, each jointly with every frozen view of its dataset.

    The linear-programming audit can take seconds, so it runs outside the write transaction; the result is
    written only if, under the write lock (and, on PostgreSQL, the dataset's advisory lock), the frozen
    views of the dataset are still those it was computed with. Otherwise it is computed again; the last
    attempt holds the locks throughout. Two freezes of one dataset therefore never miss each other. A view
    already frozen is returned unchanged. Commits.
    """
    views: dict[int, dict[str, Any]] = {}
    for job_id in sorted(set(job_ids)):
        for attempt in range(OPTIMISTIC_FREEZES + 1):
            locked = attempt == OPTIMISTIC_FREEZES
            if locked:
                _lock_dataset_of(session, job_id)
            else:
                session.rollback()  # a fresh read of what is frozen now
            job = store.get_job_fresh_for_update(session, job_id) if locked else store.get_job(session, job_id)
            if job.public_frozen_at is not None:
                views[job_id] = _frozen_view(job)
                session.commit()
                break
            if job.kind != AuditKind.BIAS or job.status != JobStatus.SUCCEEDED or job.cached_from_id is not None:
                raise ValueError(f"job {job_id} is not a finished bias audit of its own")
            earlier = [j for j in store.list_frozen_bias_jobs(session, job.dataset.sha256) if j.id != job.id]
            frozen = freeze_public_view(_record(job, public=None), [_record(j, public=j.public_result) for j in earlier],
                                        MIN_PUBLIC_CELL)
            used = [j.id for j in earlier]
            if not locked:
                _lock_dataset_of(session, job_id)
                job = store.get_job_fresh_for_update(session, job_id)
                now = [j.id for j in store.list_frozen_bias_jobs(session, job.dataset.sha256) if j.id != job.id]
                if job.public_frozen_at is not None or now != used:
                    session.rollback()  # another view of the dataset was frozen meanwhile: compute again
                    continue
            views[job_id] = _write_frozen(session, job, frozen, used)
            session.commit()
            break
    return views


def _lock_dataset_of(session: Session, job_id: int) -> None:
    """Open the write transaction and serialise it with every other freeze of the job's dataset."""
    store.begin_write(session)
    store.lock_public_views(session, store.get_job(session, job_id).dataset.sha256)


def _write_frozen(session: Session, job: Job, frozen: Frozen, with_views: list[int]) -> dict[str, Any]:
    job.public_result, job.public_frozen_at = frozen.view, utcnow()
    outcome = frozen.outcome
    store.append_event(session, actor=None, action="audit.public_view_frozen", object_type="job",
                       object_ref=str(job.id), details={
                           "dataset_sha256": job.dataset.sha256, "with_views": with_views,
                           "fallback": frozen.fallback, "lp_solves": outcome.solves,
                           "withdrawn_facts": len(outcome.withdrawn), "accepted": len(outcome.accepted),
                           "seconds": round(outcome.seconds, 3)})
    session.flush()
    return job.public_result


def list_audits(session: Session, actor: User | None) -> Sequence[dict[str, Any]]:
    """Every audit job, newest first (evaluators and admins)."""
    datasets.require_evaluator(actor)
    return [audit_view(job, full=True) for job in store.list_jobs(session)]


def open_report(session: Session, actor: User | None, storage: Storage, job_id: int) -> Path:
    """The Evidently HTML report of a drift job, verified: as computed for admins, coarsened for the others.

    Evidently's own report shows per-bin counts, outer bin edges (someone's exact value) and per-chunk
    means, which can describe fewer than 11 people: only admins open it. Evaluators and the algorithm's
    owners get its coarsened copy (``audits.drift_report``); the public sees the per-column summary only.
    """
    job = store.get_job(session, job_id)
    if actor is None or not _can_see_full(actor, job):
        raise NotFound(f"no report for audit job {job_id}")
    sha256 = job.report_sha256 if actor.role == Role.ADMIN else job.coarse_report_sha256
    if sha256 is None:
        raise NotFound(f"no report for audit job {job_id}")
    return storage.blobs.verified_path(sha256)
