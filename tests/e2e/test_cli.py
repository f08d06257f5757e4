"""The ``boas`` console command as a new user meets it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from registry_db.models import Base
from tests.conftest import BACKENDS, fresh_database_url
from tests.e2e.gunicorn_deploy import free_port, stop_process
from tests.factories import algorithm_payload

pytestmark = pytest.mark.slow

BOAS = Path(sys.executable).parent / "boas"
SCHEMA = {"alembic_version", *Base.metadata.tables}
assert {"user_account", "api_token", "algorithm", "algorithm_version", "artifact_file", "audit_event", "job"} <= SCHEMA


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOAS_")}
    env.update(BOAS_DATA_DIR=str(data_dir), BOAS_SECRET_KEY="cli-test-secret", PYTHONUNBUFFERED="1")
    if database_url is not None:
        env["BOAS_DATABASE_URL"] = database_url
    return env


def boas(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BOAS), *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd)


def ok(env: dict[str, str], *args: str) -> str:
    result = boas(env, *args)
    assert result.returncode == 0, f"boas {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _query(url: str, sql: str, **params) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


class Fresh:
    """A brand-new empty database and data directory, and the environment pointing at them."""

    def __init__(self, backend: str, tmp_path: Path):
        self.backend = backend
        self.url, self.cleanup = fresh_database_url(backend, tmp_path)
        self.data_dir = tmp_path / "data"
        self.env = _env(self.data_dir, self.url)


@pytest.fixture(params=BACKENDS)
def fresh(request, tmp_path) -> Iterator[Fresh]:
    database = Fresh(request.param, tmp_path)
    try:
        yield database
    finally:
        database.cleanup()


# -- schema ----------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_with_no_account_and_a_second_run_is_a_no_op(fresh: Fresh):
    assert _tables(fresh.url) == set()

    out = ok(fresh.env, "db", "upgrade")
    assert "database at head" in out
    assert _tables(fresh.url) == SCHEMA
    revision = _query(fresh.url, "SELECT version_num FROM alembic_version")
    assert len(revision) == 1
    # there is no default account, nor any token
    assert _query(fresh.url, "SELECT count(*) FROM user_account")[0][0] == 0
    assert _query(fresh.url, "SELECT count(*) FROM api_token")[0][0] == 0
    assert fresh.data_dir.is_dir()

    again = ok(fresh.env, "db", "upgrade")
    assert "database at head" in again
    assert _tables(fresh.url) == SCHEMA
    assert _query(fresh.url, "SELECT version_num FROM alembic_version") == revision
    assert _query(fresh.url, "SELECT count(*) FROM user_account")[0][0] == 0


def test_without_a_database_url_sqlite_lives_in_the_data_dir(tmp_path: Path):
    data_dir = tmp_path / "state" / "data"  # does not exist yet
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = _env(data_dir, None)
    assert "BOAS_DATABASE_URL" not in env

    result = boas(env, "db", "upgrade", cwd=cwd)
    assert result.returncode == 0, result.stderr
    database = data_dir / "boas.db"
    assert database.is_file()
    assert str(database) in result.stdout
    assert list(cwd.iterdir()) == [], "nothing is written to the working directory"
    url = f"sqlite:///{database}"
    assert _tables(url) == SCHEMA
    assert _query(url, "SELECT count(*) FROM user_account")[0][0] == 0

    # the other commands find the same database without being told
    created = boas(env, "users", "create", "--email", "admin@example.org", "--role", "admin", cwd=cwd)
    assert created.returncode == 0, created.stderr
    assert _query(url, "SELECT email, role FROM user_account") == [("admin@example.org", "admin")]
    assert list(cwd.iterdir()) == []


# -- accounts and tokens ---------------------------------------------------------------------


def test_token_is_printed_once_and_only_its_sha256_is_stored(fresh: Fresh):
    ok(fresh.env, "db", "upgrade")
    out = ok(fresh.env, "users", "create", "--email", "admin@example.org", "--role", "admin")
    assert "created admin admin@example.org" in out

    out = ok(fresh.env, "tokens", "create", "--email", "admin@example.org")
    lines = out.splitlines()
    assert len(lines) == 1, out
    secret = lines[0].strip()
    assert secret.startswith("boas_")
    assert len(secret) > 40

    rows = _query(fresh.url, "SELECT * FROM api_token")
    assert len(rows) == 1
    row = rows[0]._mapping
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row.values()), dict(row)
    # and nowhere else in the database either (e.g. the audit log)
    for table in SCHEMA:
        for other in _query(fresh.url, f"SELECT * FROM {table}"):  # noqa: S608 - fixed table names
            assert secret not in repr(tuple(other)), (table, other)

    second = ok(fresh.env, "tokens", "create", "--email", "admin@example.org").strip()
    assert second.startswith("boas_")
    assert second != secret
    assert _query(fresh.url, "SELECT count(*) FROM api_token")[0][0] == 2


def test_bad_input_is_refused_with_a_clear_message_and_no_partial_rows(fresh: Fresh):
    ok(fresh.env, "db", "upgrade")

    bad_email = boas(fresh.env, "users", "create", "--email", "not-an-email", "--role", "author")
    assert bad_email.returncode == 2, bad_email
    assert "email" in bad_email.stderr, bad_email.stderr

    bad_role = boas(fresh.env, "users", "create", "--email", "someone@example.org", "--role", "superuser")
    assert bad_role.returncode == 2, bad_role
    assert "--role" in bad_role.stderr
    assert "superuser" in bad_role.stderr

    ok(fresh.env, "users", "create", "--email", "author@example.org", "--role", "author")
    for email in ("author@example.org", "Author@Example.ORG"):
        duplicate = boas(fresh.env, "users", "create", "--email", email, "--role", "admin")
        assert duplicate.returncode == 2, duplicate
        assert "already exists" in duplicate.stderr, duplicate.stderr

    nobody = boas(fresh.env, "tokens", "create", "--email", "nobody@example.org")
    assert nobody.returncode != 0, nobody
    assert "nobody@example.org" in nobody.stderr, nobody.stderr
    assert "no user" in nobody.stderr, nobody.stderr
    assert nobody.stdout.strip() == "", "no token may be printed"

    for result in (bad_email, bad_role, duplicate, nobody):
        assert "Traceback" not in result.stderr, result.stderr
    assert _query(fresh.url, "SELECT email, role FROM user_account") == [("author@example.org", "author")]
    assert _query(fresh.url, "SELECT count(*) FROM api_token")[0][0] == 0


# -- serve -----------------------------------------------------------------------------------


def _wait_healthy(base_url: str, proc: subprocess.Popen, log_path: Path, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"boas serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"boas serve did not answer in {deadline_s}s:\n{log_path.read_text(errors='replace')}")


def test_serve_answers_with_accounts_created_by_the_cli(fresh: Fresh, tmp_path: Path):
    ok(fresh.env, "db", "upgrade")
    ok(fresh.env, "users", "create", "--email", "admin@example.org", "--role", "admin")
    ok(fresh.env, "users", "create", "--email", "author@example.org", "--role", "author")
    admin = {"Authorization": f"Bearer {ok(fresh.env, 'tokens', 'create', '--email', 'admin@example.org').strip()}"}
    author = {"Authorization": f"Bearer {ok(fresh.env, 'tokens', 'create', '--email', 'author@example.org').strip()}"}

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BOAS), "serve", "--port", str(port)], env=fresh.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(base_url, proc, log_path)
        health = requests.get(f"{base_url}/api/v1/health", timeout=10).json()
        assert health["status"] == "ok"
        assert health["database"].startswith(fresh.backend)

        payload = algorithm_payload()
        created = requests.post(f"{base_url}/api/v1/algorithms", json=payload, headers=author, timeout=30)
        assert created.status_code == 201, created.text
        assert created.json()["slug"] == payload["slug"]

        me = requests.get(f"{base_url}/api/v1/me", headers=admin, timeout=30)
        assert me.status_code == 200, me.text
        assert me.json()["role"] == "admin"
        assert me.json()["email"] == "admin@example.org"
        assert requests.get(f"{base_url}/api/v1/me", headers=author, timeout=30).json()["role"] == "author"
        assert requests.get(f"{base_url}/api/v1/me", timeout=30).status_code == 401
    finally:
        stop_process(proc)
    assert proc.returncode is not None
    output = log_path.read_text(errors="replace")
    assert f"BOAS on {base_url}" in output
    assert "Traceback" not in output, output


def test_synthetic_cohort_command_is_deterministic_and_uploadable(tmp_path):
    import pandas as pd

    from audits import identifiers

    boas = str(Path(sys.executable).parent / "boas")
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (first, second):
        result = subprocess.run([boas, "datasets", "synth", "--rows", "2000", "--seed", "7", "--bias", "sex=F:0.5",
                                 "-o", str(out)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    frame = pd.read_csv(first)
    assert len(frame) == 2000 and frame["region"].nunique() >= 15
    assert identifiers.find_identifier_columns(frame) == {}  # passes the upload's identifier screening
    women, men = frame[frame.sex == "F"], frame[frame.sex == "M"]
    assert women["prediction"].mean() < men["prediction"].mean()  # the injected under-detection
    bad = subprocess.run([boas, "datasets", "synth", "--rows", "10", "--bias", "sex=X"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--bias" in bad.stderr
