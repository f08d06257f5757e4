"""Job lifecycle: claim, heartbeat and progress, finish, and reaping jobs whose worker died.

queued → running (progress 0–100, heartbeat) → succeeded | failed. A job whose heartbeat stops
(worker killed) is re-queued while attempts remain, then failed with a readable reason.
"""

from __future__ import annotations

import logging
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from audits import requests as audit_requests
from audits.sandbox_child import SandboxError
from registry_db import store
from registry_db.models import Job, JobStatus, utcnow

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Shared between the job's code and its heartbeat thread."""

    value: int = 0

    def set(self, value: int) -> None:
        self.value = max(self.value, min(100, int(value)))


def claim_job(session: Session, job_id: int) -> int | None:
    """Move a queued job to running and return its attempt number; None if another worker has it or it is done."""
    store.begin_write(session)
    now = utcnow()
    # An UPDATE returns a cursor result (rowcount), which Session.execute's annotation does not say.
    result = cast(CursorResult[Any], session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, started_at=now, heartbeat_at=now, progress=0,
                worker_host=socket.gethostname(), error=None)
    ))
    if result.rowcount != 1:
        session.commit()
        return None
    attempt = store.get_job(session, job_id).attempts
    session.commit()
    return attempt


class Heartbeat:
    """A thread that records liveness and progress every ``interval`` seconds in its own session."""

    def __init__(self, session_factory: Callable[[], Session], job_id: int, attempt: int, progress: Progress, interval: float):
        self._factory, self._job_id, self._progress, self._interval = session_factory, job_id, progress, interval
        self._attempt = attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._factory() as session:
                    store.begin_write(session)
                    session.execute(
                        update(Job).where(Job.id == self._job_id, Job.status == JobStatus.RUNNING,
                                          Job.attempts == self._attempt)
                        .values(heartbeat_at=utcnow(), progress=self._progress.value)
                    )
                    session.commit()
            except Exception:  # a missed beat is retried; the reaper tolerates several
                log.warning("heartbeat of job %s failed", self._job_id, exc_info=True)


def finish_job(session: Session, job_id: int, attempt: int, *, result: dict[str, Any] | None = None,
               provenance: dict[str, Any] | None = None, report_sha256: str | None = None,
               coarse_report_sha256: str | None = None, error: str | None = None, error_code: str | None = None,
               untrusted_detail: str | None = None) -> bool:
    """Record the outcome of ``attempt``; False (nothing written) if that attempt no longer owns the job.

    A worker that was presumed dead and reaped may still finish late: its result must not
    overwrite the retry's, nor turn a job the reaper failed into a success.
    """
    store.begin_write(session)
    job = store.get_job_for_update(session, job_id)
    if job.status != JobStatus.RUNNING or job.attempts != attempt:
        log.warning("job %s attempt %s finished after losing the job; result discarded", job_id, attempt)
        session.commit()
        return False
    job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.error = error
    job.error_code = error_code
    job.untrusted_detail = untrusted_detail
    job.progress = 100 if not error else job.progress
    job.finished_at = utcnow()
    job.heartbeat_at = job.finished_at
    if result is not None:
        job.result = result
    job.provenance = provenance
    job.report_sha256 = report_sha256
    job.coarse_report_sha256 = coarse_report_sha256
    store.append_event(session, actor=None, action=f"audit.{job.status.value}", object_type="job",
                       object_ref=str(job.id), details={"kind": job.kind.value, "error": error, "error_code": error_code,
                                                        "report_sha256": report_sha256,
                                                        "coarse_report_sha256": coarse_report_sha256,
                                                        "attempt": attempt})
    audit_requests.job_finished(session, job)  # the owners who asked are told, in this transaction
    session.commit()
    return True


def run_claimed(session_factory: Callable[[], Session], job_id: int, attempt: int,
                work: Callable[[Progress], dict[str, Any]], heartbeat_seconds: float) -> None:
    """Run ``work`` for a claimed job; whatever happens the row ends succeeded or failed."""
    progress = Progress()
    try:
        with Heartbeat(session_factory, job_id, attempt, progress, heartbeat_seconds):
            outcome = work(progress)
        with session_factory() as session:
            finish_job(session, job_id, attempt, result=outcome["result"], provenance=outcome["provenance"],
                       report_sha256=outcome.get("report_sha256"),
                       coarse_report_sha256=outcome.get("coarse_report_sha256"))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable job error
        if isinstance(exc, SandboxError):  # a sandbox failure: a fixed reason; the model's words to admins only
            with session_factory() as session:
                finish_job(session, job_id, attempt, error=exc.reason, error_code=exc.code,
                           untrusted_detail=f"{exc.untrusted_detail}\n{traceback.format_exc()[-2000:]}"[-6000:],
                           provenance={"failure": exc.code})
            return
        reason = getattr(exc, "reason", None) or getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        with session_factory() as session:
            finish_job(session, job_id, attempt, error=str(reason)[:4000],
                       provenance={"traceback_tail": traceback.format_exc()[-2000:]})


def reap_stale_jobs(session: Session, *, stale_after: float, requeue: Callable[[int], Any] | None) -> list[int]:
    """Jobs running without a heartbeat for ``stale_after`` seconds: re-queue or fail them.

    Jobs still queued after that long (their message was lost: the queue was down when they were
    launched, or the process died between commit and enqueue) are enqueued again; claiming is
    idempotent, so a duplicate message is harmless.
    """
    store.begin_write(session)
    threshold = utcnow() - timedelta(seconds=stale_after)
    requeued: list[int] = []
    if requeue is not None:
        for job in store.list_waiting_jobs(session, threshold):
            job.heartbeat_at = utcnow()  # when it was last handed to the queue
            requeued.append(job.id)
    for job in store.list_stale_jobs(session, threshold):
        if requeue is not None and job.attempts < job.max_attempts:
            job.status = JobStatus.QUEUED
            job.error = f"worker lost on {job.worker_host} (attempt {job.attempts}); re-queued"
            requeued.append(job.id)
        else:
            job.status = JobStatus.FAILED
            job.finished_at = utcnow()
            job.error = (f"worker lost: no heartbeat from {job.worker_host} since "
                         f"{job.heartbeat_at.isoformat() if job.heartbeat_at else 'start'}"
                         f" after {job.attempts} attempt(s)")
        store.append_event(session, actor=None, action="audit.reaped", object_type="job", object_ref=str(job.id),
                           details={"status": job.status.value, "attempts": job.attempts})
        if job.status == JobStatus.FAILED:
            audit_requests.job_finished(session, job)  # the owners who asked for it are told it failed
    session.commit()
    if requeue is None:  # nothing was re-queued above
        return requeued
    for job_id in requeued:
        try:
            requeue(job_id)  # after commit: the worker that picks it up must see it queued
        except Exception:
            log.warning("could not re-queue job %s", job_id, exc_info=True)
    return requeued
