"""``boas serve``, ``boas worker`` and ``boas jobs``: the web server, audit workers and job upkeep."""

from __future__ import annotations

import sys
import threading
import time

import click

from boas.cli.common import redacted, runtime
from boas.cli.data import fill_demo
from boas.config import load_settings
from boas.runtime import Runtime, upgrade_database


def _reap(wiring: Runtime) -> int:
    """Jobs whose worker died are re-queued or failed; staging directories of killed uploads are removed,
    and resumable uploads past their lifetime with them."""
    from audits.jobs import reap_stale_jobs
    from boas.registry.uploads import sweep_uploads

    wiring.storage.blobs.sweep_staging(wiring.settings.staging_grace_seconds)
    with wiring.session_factory() as session:
        sweep_uploads(session, wiring.storage, now=wiring.clock(), grace_seconds=wiring.settings.staging_grace_seconds)
    with wiring.session_factory() as session:
        return len(reap_stale_jobs(session, stale_after=wiring.settings.job_stale_seconds, requeue=wiring.enqueue))


@click.command()
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="concurrent jobs in this process")
def worker(workers: int) -> None:
    """Run audit jobs from the queue (embedded SQLite queue, or Redis with BOAS_QUEUE_URL)."""
    from audits.queue import check_queue

    wiring = runtime()
    check_queue(wiring.queue, wiring.settings.queue_url)

    def reap_forever() -> None:
        while True:
            try:
                _reap(wiring)
            except Exception as exc:  # noqa: BLE001 - keep reaping; report and go on
                click.echo(f"reaper: {exc}", err=True)
            time.sleep(max(1.0, wiring.settings.job_stale_seconds / 3))

    threading.Thread(target=reap_forever, name="reaper", daemon=True).start()
    click.echo(f"BOAS worker: queue {wiring.settings.queue_url}, {workers} worker(s)")
    # periodic: this consumer also ticks the re-audit scheduler every minute (see audits.queue).
    wiring.queue.create_consumer(workers=workers, worker_type="thread", periodic=True).run()


@click.group("jobs")
def jobs_group() -> None:
    """Audit jobs."""


@jobs_group.command("reap")
def jobs_reap() -> None:
    """Re-queue or fail jobs whose worker stopped sending heartbeats."""
    wiring = runtime()
    try:
        click.echo(f"re-queued {_reap(wiring)} job(s)")
    finally:
        wiring.dispose()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--with-worker/--without-worker", default=None,
              help="also run an audit worker (default: yes on the embedded SQLite queue)")
@click.option("--demo", "with_demo", is_flag=True, help="fill an empty registry with demo content first")
def serve(host: str, port: int, workers: int, with_worker: bool | None, with_demo: bool) -> None:
    """Migrate the database, then serve BOAS with gunicorn (and an audit worker on the embedded queue)."""
    import subprocess

    from gunicorn.app.base import BaseApplication

    settings = load_settings()
    upgrade_database(settings)
    if with_demo:
        fill_demo()
    if with_worker is None:
        with_worker = settings.queue_url in ("", "sqlite")

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 300)
            self.cfg.set("accesslog", "-")

        def load(self):
            from boas.app import create_app

            return create_app()

    click.echo(f"BOAS on http://{host}:{port} (database: {redacted(settings.database_url)}, data: {settings.data_dir})")
    job_worker = subprocess.Popen([sys.executable, "-m", "boas.cli", "worker"]) if with_worker else None
    try:
        _Server().run()
    finally:
        if job_worker is not None:
            job_worker.terminate()
            job_worker.wait(timeout=30)


COMMANDS = (worker, jobs_group, serve)
