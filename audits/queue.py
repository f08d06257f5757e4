"""The task queue: Huey on an embedded SQLite file by default, on Redis when workers span machines.

The same task code runs on both. The queue only carries job ids; the job row is the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

TASK_NAME = "run_audit_job"
TICK_NAME = "tick_audit_schedules"


def make_queue(url: str, data_dir: Path, *, immediate: bool = False):
    """``url`` is ``sqlite`` (a file in the data directory) or ``redis://host:port/db``."""
    from huey import RedisHuey, SqliteHuey

    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("boas", url=url, immediate=immediate, results=False)
    if url not in ("", "sqlite"):
        raise ValueError(f"BOAS_QUEUE_URL must be 'sqlite' or a redis:// URL, got {url!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("boas", filename=str(data_dir / "queue.db"), immediate=immediate, results=False)


class QueueUnavailable(RuntimeError):
    """The job queue's server does not answer; the message says where and what to do."""


def check_queue(huey, url: str) -> None:
    """Fail now, in one line, if the queue cannot be reached (Huey itself retries and logs forever)."""
    storage = getattr(huey, "storage", None)
    connection = getattr(storage, "conn", None)
    if connection is None or not hasattr(connection, "ping"):
        return  # the embedded SQLite queue: a file, checked when it is opened
    try:
        connection.ping()
    except Exception as exc:  # redis.exceptions.ConnectionError, TimeoutError, AuthenticationError...
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise QueueUnavailable(f"cannot reach the job queue at {_redacted(url)} ({reason}): start Redis, "
                               "or set BOAS_QUEUE_URL to a reachable redis:// URL (or 'sqlite')") from exc


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


def register_task(huey, execute: Callable[[int], Any]):
    """Register the job runner under a stable name, so web and workers agree on it.

    Huey names a task after its function's module and name; a fixed wrapper keeps that name the
    same whichever process (web, ``boas worker``, tests) registers it.
    """

    def run_audit_job(job_id: int) -> Any:
        return execute(job_id)

    run_audit_job.__module__ = __name__
    return huey.task(name=TASK_NAME, retries=0)(run_audit_job)


def register_schedule_tick(huey, tick: Callable[[str | None], Any]):
    """Register the scheduler: a periodic task every minute, and the same tick as an ordinary task.

    The periodic task runs in consumers started with periodic scheduling (``boas worker``), on the
    embedded queue and on Redis alike; it ticks with the wall clock. The ordinary task takes an explicit
    ISO time, so an operator (or a test advancing a clock) can tick "as of" a moment through the queue.
    Several workers may tick at once: the scheduler enqueues each due slot once (a unique constraint).
    """
    from huey import crontab

    def tick_audit_schedules(now: str | None = None) -> Any:
        return tick(now)

    def tick_audit_schedules_periodic() -> Any:
        return tick(None)

    tick_audit_schedules.__module__ = tick_audit_schedules_periodic.__module__ = __name__
    huey.periodic_task(crontab(minute="*"), name=f"{TICK_NAME}_periodic", retries=0)(tick_audit_schedules_periodic)
    return huey.task(name=TICK_NAME, retries=0)(tick_audit_schedules)
