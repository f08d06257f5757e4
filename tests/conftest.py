"""Shared fixtures: real SQLite and PostgreSQL databases, migrated by Alembic, one transaction per test."""

from __future__ import annotations

import io
import logging
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from boas.app import create_app
from boas.config import Settings
from boas.registry import accounts
from registry_db.engine import make_engine
from registry_db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
# Marked slow wherever they are written: Chromium drives every browser test, and the sandbox tests run models.
SLOW_PATHS = ("tests/e2e/browser/", "tests/audits/test_sandbox.py")
PG_ADMIN_URL = os.environ.get("BOAS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


class PgDatabase:
    """A throw-away PostgreSQL database, created and dropped by the tests themselves."""

    def __init__(self, prefix: str = "boas_test"):
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def fresh_database_url(backend: str, tmp_path: Path) -> tuple[str, object]:
    """A new, empty database of the given backend; returns (url, cleanup)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'boas.db'}", lambda: None
    pg = PgDatabase()
    return pg.url, pg.drop


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    """One migrated database per backend for the whole run."""
    url, cleanup = fresh_database_url(request.param, tmp_path_factory.mktemp("sqlite"))
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    cleanup()


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def connection(engine: Engine):
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


def _session_on(conn) -> Session:
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(connection) -> Iterator[Session]:
    s = _session_on(connection)
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url="unused://",
        secret_key="test-secret",
        max_upload_bytes=20 * 1024 * 1024,
        archive_max_entries=200,
        archive_max_uncompressed_bytes=50 * 1024 * 1024,
        archive_max_file_bytes=40 * 1024 * 1024,
        archive_max_ratio=100.0,
        # The bias-audit gate has its own tests; elsewhere publishing needs only a complete card.
        require_bias_audit=False,
    )


@pytest.fixture
def app(settings: Settings, connection):
    application = create_app(settings, session_factory=lambda: _session_on(connection))
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_account(session: Session):
    """Factory: ``make_account("author")`` -> (user, bearer headers)."""
    counter = iter(range(1, 10_000))

    def _make(role: str, email: str | None = None, organisation: str | None = None):
        email = email or f"{role}{next(counter)}-{uuid.uuid4().hex[:6]}@example.org"
        user = accounts.create_user(session, None, email=email, role=role, name=email.split("@")[0],
                                    organisation_slug=organisation, bootstrap=True)
        issued = accounts.create_token(session, None, user_email=email, bootstrap=True)
        return user, {"Authorization": f"Bearer {issued.secret}"}

    return _make


# -- a real MLflow model, built once ----------------------------------------------------------


@pytest.fixture(scope="session")
def mlflow_model_dir(tmp_path_factory) -> Path:
    """A scikit-learn logistic regression saved with mlflow.sklearn.save_model (with a signature)."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 90, 300).astype(float), "deprivation": rng.integers(1, 6, 300).astype(float)})
    y = (X["age"] / 90 + rng.normal(0, 0.2, 300) > 0.6).astype(int)
    model = LogisticRegression().fit(X, y)
    path = tmp_path_factory.mktemp("mlflow") / "model"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(X, model.predict(X)),
                              serialization_format="skops")
    return path


def zip_dir(directory: Path, top: str | None = "model") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                rel = path.relative_to(directory).as_posix()
                zf.write(path, f"{top}/{rel}" if top else rel)
    return buf.getvalue()


@pytest.fixture(scope="session")
def model_zip(mlflow_model_dir: Path) -> bytes:
    return zip_dir(mlflow_model_dir)


# -- a committed database and an app with in-process (immediate) jobs --------------------------


@pytest.fixture(params=BACKENDS)
def live(request, tmp_path, settings):
    """An app on a fresh, migrated database of each backend, running jobs in-process."""
    import dataclasses

    url, cleanup = fresh_database_url(request.param, tmp_path)
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    live_settings = dataclasses.replace(settings, database_url=url, job_heartbeat_seconds=0.5)
    application = create_app(live_settings, immediate_jobs=True)
    application.config["TESTING"] = True
    yield application
    application.extensions["boas"].engine.dispose()
    cleanup()


@pytest.fixture
def live_client(live):
    return live.test_client()


@pytest.fixture
def live_account(live):
    """Factory on the live app's database: ``live_account("evaluator")`` -> (user, headers)."""
    def _make(role: str, organisation: str | None = None):
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        with live.extensions["boas"].session_factory() as s:
            user = accounts.create_user(s, None, email=email, role=role, name=email.split("@")[0],
                                        organisation_slug=organisation, bootstrap=True)
            issued = accounts.create_token(s, None, user_email=email, bootstrap=True)
        return user, {"Authorization": f"Bearer {issued.secret}"}

    return _make


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.resolve().relative_to(ROOT).as_posix().startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def bubblewrap() -> None:
    """The sandbox tests need a working bubblewrap (Debian's package): its absence fails them, never skips them."""
    from audits.sandbox import bwrap_support

    usable, why = bwrap_support()
    assert usable, f"bubblewrap is required here (apt-get install bubblewrap): {why}"


# -- object storage: a real S3 server (moto's) on 127.0.0.1 ------------------------------------

# Credentials the test server accepts; the application reads them from the standard AWS variables.
S3_ENV = {"AWS_ACCESS_KEY_ID": "boas-test", "AWS_SECRET_ACCESS_KEY": "boas-test-secret",
          "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 server on a free port, started once per test process (moto's server mode, no network)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per S3 call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class S3Bucket:
    endpoint: str
    name: str
    client: Any  # a boto3 S3 client on the test server, for looking into the bucket behind the store's back

    def object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def env(self, prefix: str = "") -> dict[str, str]:
        """The variables that put a BOAS process on this bucket."""
        return {**S3_ENV, "BOAS_BLOB_BACKEND": "s3", "BOAS_S3_ENDPOINT_URL": self.endpoint,
                "BOAS_S3_BUCKET": self.name, "BOAS_S3_PREFIX": prefix}


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> S3Bucket:
    """A new, empty bucket on the test server; this process's AWS variables point at the server's credentials."""
    import boto3

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    name = f"boas-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return S3Bucket(s3_endpoint, name, client)


# -- a Dask cluster on 127.0.0.1 --------------------------------------------------------------------


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of a LocalCluster of 2 worker processes (1 thread each), started once per test process.

    Worker processes, not threads: every task and result crosses a process boundary pickled, as on a real
    cluster. No dashboard port is claimed (another test process may hold 8787).
    """
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      host="127.0.0.1") as cluster:
        yield cluster.scheduler_address
