"""The composition root: everything a BOAS process needs, built from ``Settings`` in one function.

``create_app`` (web), ``boas worker``, the other CLI commands and the demo all call ``build_runtime``,
so the database, the artifact store, the publication policy and the job queue are wired the same
way everywhere. Building a runtime opens no connection and runs no model: engines connect lazily,
and the worker-only code (``audits.runner``, which runs models and imports Evidently) is imported
when a job runs, never by the web process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from audits.queue import make_queue, register_schedule_tick, register_task
from boas.config import Settings, SettingsError
from boas.registry.mail import Mailer
from boas.registry.notifications import BASE_URL_KEY, MAILER_KEY
from boas.registry.policy import Policy
from boas.registry.storage import Storage
from registry_db.blobs import BlobStore, FilesystemBlobStore
from registry_db.engine import make_engine, make_session_factory
from registry_db.errors import StorageUnavailable
from registry_db.models import utcnow
from registry_db.sources import ImportSources


@dataclass(frozen=True)
class Runtime:
    """One process's wiring: ``enqueue(job_id)`` hands a job to the queue, ``run_job(job_id)`` runs it here."""

    settings: Settings
    engine: Engine | None  # None when a test hands its own session factory
    session_factory: Callable[[], Session]
    storage: Storage
    policy: Policy
    queue: Any  # huey.Huey
    enqueue: Callable[[int], Any]
    run_job: Callable[[int], None]
    # Enqueue the scheduler's tick "as of" an ISO time (None: the wall clock), through the queue.
    enqueue_tick: Callable[[str | None], Any] = lambda _now=None: None
    # What "now" is for staleness and schedules: tests hand a clock they advance, never sleep.
    clock: Callable[[], datetime] = field(default=utcnow)

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def build_blob_store(settings: Settings) -> BlobStore:
    """The blob backend the settings name: the data directory (``fs``) or an S3 bucket (``s3``).

    The bucket is asked at once, so a wrong endpoint, bucket or credentials stop the process at start
    with a ``SettingsError`` naming the variables, not an upload with a 503 later.
    """
    if settings.blob_backend == "fs":
        blobs: BlobStore = FilesystemBlobStore(settings.data_dir)
        blobs.ensure()
        return blobs
    try:
        from registry_db.blobs_s3 import S3BlobStore

        blobs = S3BlobStore.from_settings(settings.data_dir, bucket=settings.s3_bucket, prefix=settings.s3_prefix,
                                          endpoint_url=settings.s3_endpoint_url or None,
                                          cache_max_bytes=settings.blob_cache_bytes)
    except ImportError as exc:
        raise SettingsError("BOAS_BLOB_BACKEND=s3 needs the S3 client: pip install 'boas[s3]'") from exc
    try:
        blobs.ensure()
    except StorageUnavailable as exc:
        raise SettingsError(f"BOAS_S3_ENDPOINT_URL / BOAS_S3_BUCKET: {exc.message} (check them and the AWS_* "
                            "credentials)") from exc
    return blobs


def _require_dask() -> None:
    """A scheduler address without the Dask client installed stops the process at start, not a job later."""
    try:
        import distributed  # noqa: F401 - only checks that the optional dependency is there
    except ImportError as exc:
        raise SettingsError("BOAS_DASK_SCHEDULER needs the Dask client: pip install 'boas[dask]'") from exc


def build_storage(settings: Settings) -> Storage:
    """The artifact store and upload limits, the same for web and worker processes.

    Every process builds it once at start, and sweeps what killed processes left in the staging
    area (the worker's reaper sweeps again while it runs).
    """
    blobs = build_blob_store(settings)
    blobs.sweep_staging(settings.staging_grace_seconds)
    return Storage(blobs=blobs, limits=settings.archive_limits, max_upload_bytes=settings.max_upload_bytes,
                   max_resumable_bytes=settings.max_resumable_bytes, upload_chunk_bytes=settings.upload_chunk_bytes,
                   upload_session_seconds=settings.upload_session_hours * 3600, imports=build_import_sources(settings))


def build_import_sources(settings: Settings) -> ImportSources:
    """Where an admin may register datasets in place; each import bucket is asked at start, like the blob bucket."""
    if not settings.dataset_import_s3:
        return ImportSources(roots=settings.dataset_import_roots, max_bytes=settings.dataset_import_max_bytes)
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        from registry_db.blobs_s3 import make_client
    except ImportError as exc:
        raise SettingsError("BOAS_DATASET_IMPORT_S3 needs the S3 client: pip install 'boas[s3]'") from exc
    endpoint = settings.s3_endpoint_url or None
    client = make_client(endpoint)
    for bucket in sorted({place.bucket for place in settings.dataset_import_s3}):
        try:
            client.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            raise SettingsError(f"BOAS_DATASET_IMPORT_S3: bucket {bucket!r} is not reachable ({exc}): check it, "
                                "BOAS_S3_ENDPOINT_URL and the AWS_* credentials") from exc
    return ImportSources(roots=settings.dataset_import_roots, s3=settings.dataset_import_s3,
                         max_bytes=settings.dataset_import_max_bytes, s3_client=lambda: make_client(endpoint))


def _with_mailer(session_factory: Callable[[], Session], mailer: Mailer, base_url: str) -> Callable[[], Session]:
    """Sessions that carry the process's mailer: notifications queue e-mails on them, sent after commit."""

    def factory() -> Session:
        session = session_factory()
        session.info[MAILER_KEY] = mailer
        session.info[BASE_URL_KEY] = base_url
        return session

    return factory


def build_runtime(settings: Settings, *, session_factory: Callable[[], Session] | None = None,
                  immediate_jobs: bool = False) -> Runtime:
    """Wire a process from its settings; tests may pass their own session factory and run jobs in-process."""
    engine = None
    if session_factory is None:
        engine = make_engine(settings.database_url)
        session_factory = make_session_factory(engine)
    storage = build_storage(settings)
    if settings.dask_scheduler:
        _require_dask()
    queue = make_queue(settings.queue_url, settings.data_dir, immediate=immediate_jobs)
    factory = _with_mailer(session_factory, Mailer(settings.mail), settings.public_base_url)

    def run_job(job_id: int) -> None:
        # Runs only in workers, the demo, or in-process when tests ask for immediate jobs.
        from audits.runner import JobRuntime, execute_job

        execute_job(JobRuntime(session_factory=factory, storage=storage, sandbox_limits=settings.sandbox,
                               streaming_min_rows=settings.streaming_min_rows,
                               streaming_partition_rows=settings.streaming_partition_rows,
                               dask_scheduler=settings.dask_scheduler,
                               dask_connect_seconds=settings.dask_connect_seconds,
                               heartbeat_seconds=settings.job_heartbeat_seconds,
                               allow_code=settings.sandbox_allow_code), job_id)

    enqueue = register_task(queue, run_job)

    def tick(now: str | None) -> list[int]:
        # The scheduler: runs in workers (periodic), or when a tick is enqueued with an explicit time.
        from audits.scheduling import enqueue_due_runs

        moment = datetime.fromisoformat(now) if now else utcnow()
        with factory() as session:
            return enqueue_due_runs(session, enqueue, now=moment, allow_code=settings.sandbox_allow_code)

    return Runtime(
        settings=settings, engine=engine, session_factory=factory, storage=storage,
        policy=Policy(require_bias_audit=settings.require_bias_audit, public_base_url=settings.public_base_url,
                      hdab_name=settings.hdab_name, hdab_url=settings.hdab_url, hdab_email=settings.hdab_email),
        queue=queue, enqueue=enqueue, run_job=run_job, enqueue_tick=register_schedule_tick(queue, tick),
    )


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` (creating the data directory for SQLite)."""
    from registry_db.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()
