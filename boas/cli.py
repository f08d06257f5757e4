"""The ``boas`` command: database migrations, accounts, tokens and the server."""

from __future__ import annotations

import sys
import time

import click

from boas.config import load_settings


def _session():
    from registry_db.engine import make_engine, make_session_factory

    engine = make_engine(load_settings().database_url)
    return make_session_factory(engine)()


def _fail(exc) -> None:
    click.echo(f"error: {exc.message}", err=True)
    for field, messages in exc.errors.items():
        click.echo(f"  {field}: {'; '.join(messages)}", err=True)
    sys.exit(2)


@click.group()
def main() -> None:
    """BOAS, the open library of health algorithms."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations (creates the SQLite file and data directory if needed)."""
    upgrade_database(revision)
    click.echo(f"database at {revision}: {_redacted(load_settings().database_url)}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def upgrade_database(revision: str = "head") -> None:
    from registry_db.engine import make_engine
    from registry_db.migrate import upgrade

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()


@main.group()
def users() -> None:
    """Accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "author", "evaluator"]))
@click.option("--name", default="")
@click.option("--organisation", default=None, help="organisation slug")
@click.option("--password", is_flag=True, help="also set a password for browser sign-in (prompted)")
def users_create(email: str, role: str, name: str, organisation: str | None, password: bool) -> None:
    """Create an account; this is how the first admin comes to exist (there is no default account)."""
    from model_cards import accounts
    from registry_db.errors import BoasError

    secret = click.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    with _session() as session:
        try:
            user = accounts.create_user(session, None, email=email, role=role, name=name,
                                        organisation_slug=organisation, bootstrap=True, password=secret)
        except BoasError as exc:
            _fail(exc)
        click.echo(f"created {user.role.value} {user.email} (id {user.id})")


@users.command("set-password")
@click.option("--email", required=True)
def users_set_password(email: str) -> None:
    """Set or reset a user's password for browser sign-in (prompted, never on the command line)."""
    from model_cards import accounts
    from registry_db import store
    from registry_db.errors import BoasError

    secret = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with _session() as session:
        user = store.get_user_by_email(session, email)
        if user is None:
            click.echo(f"error: no user with e-mail {email}", err=True)
            sys.exit(2)
        try:
            accounts.set_password(session, None, user.id, secret, bootstrap=True)
        except BoasError as exc:
            _fail(exc)
        click.echo(f"password set for {user.email}")


@main.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
def tokens_create(email: str, name: str) -> None:
    """Issue an API token; the secret is printed once and only its hash is stored."""
    from model_cards import accounts
    from registry_db.errors import BoasError

    with _session() as session:
        try:
            issued = accounts.create_token(session, None, user_email=email, name=name, bootstrap=True)
        except BoasError as exc:
            _fail(exc)
        click.echo(issued.secret)


@main.group()
def datasets() -> None:
    """Reference datasets."""


@datasets.command("synth")
@click.option("--rows", default=10_000, show_default=True, type=click.IntRange(1, 50_000_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--bias", default=None, metavar="FEATURE=GROUP[:STRENGTH]",
              help="inject a known under-detection of one group, e.g. sex=F:0.5 or region=Corse")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-",
              help="CSV file to write, or .parquet; '-' for standard output")
def datasets_synth(rows: int, seed: int, bias: str | None, output: str) -> None:
    """Write the synthetic French reference cohort (no download, no real person)."""
    from audits.synth import BiasSpec, generate_cohort

    spec = None
    if bias:
        feature, _, rest = bias.partition("=")
        group, _, strength = rest.partition(":")
        if not feature or not group:
            raise click.BadParameter("expected FEATURE=GROUP[:STRENGTH]", param_hint="--bias")
        try:
            spec = BiasSpec(feature, group, float(strength) if strength else 0.5)
            frame = generate_cohort(rows, seed, bias=spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--bias") from exc
    else:
        frame = generate_cohort(rows, seed)
    frame["sex_f"] = (frame["sex"] == "F").astype(int)
    if output == "-":
        click.echo(frame.to_csv(index=False), nl=False)
    elif output.endswith(".parquet"):
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    if output != "-":
        click.echo(f"wrote {len(frame)} rows to {output}" + (f" with bias {spec}" if spec else ""), err=True)


@main.group("jobs")
def jobs_group() -> None:
    """Audit jobs."""


@main.group()
def organisations() -> None:
    """Organisations."""


@organisations.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--kind", required=True,
              type=click.Choice(["research_body", "data_platform", "administration", "hospital", "company", "other"]))
def organisations_create(slug: str, name: str, kind: str) -> None:
    """Register an organisation authors can belong to."""
    from model_cards import accounts
    from registry_db.errors import BoasError

    with _session() as session:
        try:
            accounts.create_organisation(session, None, slug=slug, name=name, kind=kind, bootstrap=True)
        except BoasError as exc:
            _fail(exc)
        click.echo(f"created organisation {slug}")


def _worker_parts(settings):
    from audits.queue import make_queue, register_task
    from audits.runner import execute_job, job_runtime
    from boas.db import build_storage
    from registry_db.engine import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    runtime = job_runtime(settings, session_factory, build_storage(settings))
    queue = make_queue(settings.queue_url, settings.data_dir)
    task = register_task(queue, lambda job_id: execute_job(runtime, job_id))
    return queue, task, session_factory


@main.command()
@click.option("--workers", default=1, show_default=True, type=int, help="concurrent jobs in this process")
def worker(workers: int) -> None:
    """Run audit jobs from the queue (embedded SQLite queue, or Redis with BOAS_QUEUE_URL)."""
    import threading

    from audits.jobs import reap_stale_jobs

    settings = load_settings()
    queue, task, session_factory = _worker_parts(settings)

    def reap_forever() -> None:
        while True:
            try:
                with session_factory() as session:
                    reap_stale_jobs(session, stale_after=settings.job_stale_seconds, requeue=task)
            except Exception as exc:  # noqa: BLE001 - keep reaping; report and go on
                click.echo(f"reaper: {exc}", err=True)
            time.sleep(max(1.0, settings.job_stale_seconds / 3))

    threading.Thread(target=reap_forever, name="reaper", daemon=True).start()
    click.echo(f"BOAS worker: queue {settings.queue_url}, {workers} worker(s)")
    queue.create_consumer(workers=workers, worker_type="thread", periodic=False).run()


@jobs_group.command("reap")
def jobs_reap() -> None:
    """Re-queue or fail jobs whose worker stopped sending heartbeats."""
    from audits.jobs import reap_stale_jobs

    settings = load_settings()
    _queue, task, session_factory = _worker_parts(settings)
    with session_factory() as session:
        requeued = reap_stale_jobs(session, stale_after=settings.job_stale_seconds, requeue=task)
    click.echo(f"re-queued {len(requeued)} job(s)")


def fill_demo() -> None:
    """Seed demo content when the registry is empty (see boas/demo.py)."""
    from boas.db import build_storage
    from boas.demo import Demo, seed_demo
    from model_cards.registry import Policy
    from registry_db.engine import make_engine, make_session_factory

    settings = load_settings()
    engine = make_engine(settings.database_url)
    demo = Demo(session_factory=make_session_factory(engine), storage=build_storage(settings),
                policy=Policy(require_bias_audit=settings.require_bias_audit, public_base_url=settings.public_base_url),
                settings=settings, log=click.echo)
    try:
        if not seed_demo(demo):
            click.echo("the registry already holds algorithms: demo content not added")
    finally:
        engine.dispose()


@main.command()
def demo() -> None:
    """Fill an empty registry with realistic demo content (models, versions, audits, drift)."""
    upgrade_database()
    fill_demo()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--with-worker/--without-worker", default=None,
              help="also run an audit worker (default: yes on the embedded SQLite queue)")
@click.option("--demo", "with_demo", is_flag=True, help="fill an empty registry with demo content first")
def serve(host: str, port: int, workers: int, with_worker: bool | None, with_demo: bool) -> None:
    """Migrate the database, then serve BOAS with gunicorn (and an audit worker on the embedded queue)."""
    import subprocess

    from gunicorn.app.base import BaseApplication

    upgrade_database()
    if with_demo:
        fill_demo()
    settings = load_settings()
    if with_worker is None:
        with_worker = settings.queue_url in ("", "sqlite")

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 300)
            self.cfg.set("accesslog", "-")

        def load(self):
            from boas import create_app

            return create_app()

    click.echo(f"BOAS on http://{host}:{port} (database: {_redacted(settings.database_url)}, data: {settings.data_dir})")
    job_worker = subprocess.Popen([sys.executable, "-m", "boas.cli", "worker"]) if with_worker else None
    try:
        _Server().run()
    finally:
        if job_worker is not None:
            job_worker.terminate()
            job_worker.wait(timeout=30)


if __name__ == "__main__":
    main()
