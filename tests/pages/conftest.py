"""Fixtures for the page tests: a committed registry with representative content, and signed-in clients."""

from __future__ import annotations

import re

import pytest

from boas.app import create_app
from boas.config import Settings
from registry_db.engine import make_engine
from registry_db.migrate import upgrade
from tests.conftest import BACKENDS, fresh_database_url
from tests.pages.content import PASSWORD, populate

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def page_settings(data_dir, url: str, **overrides) -> Settings:
    base = {"data_dir": data_dir, "database_url": url, "secret_key": "pages-test-secret",
            "max_upload_bytes": 20 * 1024 * 1024, "archive_max_entries": 200,
            "archive_max_uncompressed_bytes": 50 * 1024 * 1024, "archive_max_file_bytes": 40 * 1024 * 1024,
            "archive_max_ratio": 100.0, "require_bias_audit": False, "job_heartbeat_seconds": 0.5}
    base.update(overrides)
    return Settings(**base)


def committed_app(tmp_path, backend: str, *, immediate_jobs: bool = True, **overrides):
    """(app, cleanup) on a fresh migrated database of the backend."""
    url, cleanup = fresh_database_url(backend, tmp_path)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app(page_settings(tmp_path / "data", url, **overrides), immediate_jobs=immediate_jobs)
    app.config["TESTING"] = True

    def close():
        app.extensions["boas"].engine.dispose()
        cleanup()

    return app, close


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory, model_zip):
    """(app, content): one populated registry per backend, shared by a module's read-mostly tests."""
    app, close = committed_app(tmp_path_factory.mktemp("site"), request.param)
    content = populate(app, model_zip)
    yield app, content
    close()


@pytest.fixture
def site_app(site):
    return site[0]


@pytest.fixture
def content(site):
    return site[1]


def csrf_of(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD, lang: str = "fr"):
    """Sign in through the login form; returns the response to the POST."""
    token = csrf_of(client.get(f"/{lang}/login"))
    return client.post(f"/{lang}/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def signed_in(site_app, content):
    """Factory: ``signed_in("author")`` -> a test client with a browser session of that role."""

    def _make(role: str):
        client = site_app.test_client()
        response = sign_in(client, content.users[role])
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return client

    return _make
