"""A real deployment for end-to-end tests: a migrated database of either backend, one author and its
token made by the ``boas`` command, served by gunicorn workers in their own process group.

Shared by the concurrency tests and the client tests (``boas push``/``pull`` against a real server).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import fresh_database_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOAS = Path(sys.executable).parent / "boas"
GUNICORN = Path(sys.executable).parent / "gunicorn"
AUTHOR_EMAIL = "author@example.org"
HTTP_TIMEOUT = 120


def server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BOAS_DATABASE_URL": database_url,
        "BOAS_DATA_DIR": str(data_dir),
        "BOAS_SECRET_KEY": "e2e-deployment-secret",
        "PYTHONUNBUFFERED": "1",
    }


def run_boas(env: dict[str, str], *args: str) -> str:
    """``boas ARGS`` in ``env``; fails the test with its output unless it exits 0."""
    result = subprocess.run([str(BOAS), *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"boas {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started (start_new_session)
        proc.wait(timeout=10)


def _wait_until_ready(
    base_url: str, proc: subprocess.Popen, log_path: Path, workers: int, deadline_s: float = 90
) -> None:
    """Health answers 200 and all the workers have booted; fail with the server log otherwise."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            healthy = requests.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            healthy = False
        if healthy and log_path.read_text(errors="replace").count("Booting worker") >= workers:
            return
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not become ready in {deadline_s}s:\n{log_path.read_text(errors='replace')}")


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path, workers: int) -> Iterator[str]:
    """gunicorn serving ``wsgi:app`` on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(GUNICORN), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_ready(base_url, proc, log_path, workers)
        yield base_url
    finally:
        stop_process(proc)


@dataclass
class Deployment:
    backend: str
    base_url: str
    database_url: str
    data_dir: Path
    log_path: Path
    author: dict[str, str]
    env: dict[str, str]

    def api(self, path: str) -> str:
        return f"{self.base_url}/api/v1{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def token(self) -> str:
        return self.author["Authorization"].removeprefix("Bearer ")


@contextmanager
def deploy(backend: str, tmp: Path, workers: int) -> Iterator[Deployment]:
    """A migrated database with one author, served by gunicorn through the CLI's commands."""
    database_url, cleanup = fresh_database_url(backend, tmp)
    data_dir = tmp / "data"
    env = server_env(database_url, data_dir)
    try:
        run_boas(env, "db", "upgrade")
        run_boas(env, "users", "create", "--email", AUTHOR_EMAIL, "--role", "author")
        secret = run_boas(env, "tokens", "create", "--email", AUTHOR_EMAIL).strip()
        assert secret.startswith("boas_")
        with gunicorn(env, tmp / "gunicorn.log", workers) as base_url:
            yield Deployment(
                backend,
                base_url,
                database_url,
                data_dir,
                tmp / "gunicorn.log",
                {"Authorization": f"Bearer {secret}"},
                env,
            )
    finally:
        cleanup()
