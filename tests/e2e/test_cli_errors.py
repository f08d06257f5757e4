"""The CLI speaks plainly: a wrong environment is one line saying what to set or run, exit status 1, no traceback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL
from tests.e2e.test_cli import _env, boas, ok

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_line(result, *needles: str) -> str:
    """Exit status 1 and a single 'error: ...' line on standard error that names what to fix."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_outside_the_registry_folder_a_command_names_boas_data_dir_and_creates_nothing(tmp_path: Path):
    """The issue: run elsewhere, 'boas users create' printed a 136-line traceback ("unable to open database file")."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(tmp_path / "unused", None)
    del env["BOAS_DATA_DIR"]  # the default, ./data, relative to where the command runs
    for args in (("users", "create", "--email", "admin@example.org", "--role", "admin"),
                 ("tokens", "create", "--email", "admin@example.org"), ("jobs", "reap"), ("worker",)):
        line = _one_line(boas(env, *args, cwd=elsewhere), "BOAS_DATA_DIR", "boas db upgrade")
        assert str(elsewhere / "data" / "boas.db") in line
    assert list(elsewhere.iterdir()) == [], "no stray ./data created where nobody will look"


@pytest.mark.parametrize(("data_dir", "why"), [
    ("/sys/boas-data", "Operation not permitted"),  # refused even to root
    ("/etc/hostname/data", "Not a directory"),  # a file in the way
    ("/proc/boas-data", "No such file or directory"),  # a directory that cannot be created
])
def test_a_data_directory_that_cannot_be_written_is_one_line(tmp_path: Path, data_dir: str, why: str):
    env = _env(Path(data_dir), None)
    line = _one_line(boas(env, "db", "upgrade", cwd=tmp_path), "BOAS_DATA_DIR", why)
    assert data_dir in line
    _one_line(boas(env, "users", "create", "--email", "a@example.org", "--role", "admin", cwd=tmp_path),
              "BOAS_DATA_DIR")


def _database_cases() -> dict[str, tuple[str, tuple[str, ...]]]:
    host = PG_ADMIN_URL.rsplit("/", 1)[0].replace("+psycopg", "")
    port = _free_port()
    return {
        "unreachable PostgreSQL port": (f"postgresql://postgres@127.0.0.1:{port}/boas",
                                        ("BOAS_DATABASE_URL", f"port {port}", "Connection refused")),
        "password is not echoed": (f"postgresql://boas:s3cret-pw@127.0.0.1:{port}/boas", ("***",)),
        "malformed URL": ("not a database url", ("BOAS_DATABASE_URL", "postgresql://")),
        "unknown scheme": ("mysql2://boas@db/boas", ("BOAS_DATABASE_URL", "'mysql2'", "PostgreSQL")),
        "driver not installed": ("postgresql+psycopg2://boas@db/boas", ("BOAS_DATABASE_URL",)),
        "no database name": ("postgresql://boas@127.0.0.1", ("BOAS_DATABASE_URL", "names no database")),
        "missing database": (f"{host}/boas_never_created_db", ("BOAS_DATABASE_URL", "does not exist")),
        "database without the schema": (f"{host}/postgres", ("no BOAS schema", "boas db upgrade")),
    }


@pytest.mark.parametrize("case", list(_database_cases()))
def test_a_wrong_database_url_is_one_line(tmp_path: Path, case: str):
    url, needles = _database_cases()[case]
    env = _env(tmp_path / "data", url)
    started = time.monotonic()
    line = _one_line(boas(env, "users", "create", "--email", "a@example.org", "--role", "admin"), *needles)
    assert "s3cret-pw" not in line
    assert time.monotonic() - started < 60


def test_redis_down_for_the_worker_is_one_line(tmp_path: Path):
    env = _env(tmp_path / "data", None)
    ok(env, "db", "upgrade")
    env["BOAS_QUEUE_URL"] = f"redis://:hunter2@127.0.0.1:{_free_port()}/0"
    started = time.monotonic()
    line = _one_line(boas(env, "worker"), "BOAS_QUEUE_URL", "Connection refused", "start Redis")
    assert "hunter2" not in line
    assert time.monotonic() - started < 60  # it does not retry forever


@pytest.mark.parametrize(("variable", "value"), [("BOAS_MAX_UPLOAD_MB", "lots"), ("BOAS_MAX_UPLOAD_MB", "0"),
                                                 ("BOAS_ARCHIVE_MAX_RATIO", "nan"), ("BOAS_SECURE_COOKIES", "maybe"),
                                                 ("BOAS_QUEUE_URL", "amqp://rabbit")])
def test_a_malformed_setting_is_one_line_naming_it(tmp_path: Path, variable: str, value: str):
    env = {**_env(tmp_path / "data", None), variable: value}
    for args in (("db", "upgrade"), ("users", "create", "--email", "a@example.org", "--role", "admin"), ("worker",)):
        _one_line(boas(env, *args), variable, value)
    assert not (tmp_path / "data").exists()
