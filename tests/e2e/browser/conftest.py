"""Real headless Chromium (Debian's, never a downloaded one) against a real server on a committed database."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from boas.demo import Demo, seed_demo
from boas.registry import accounts
from tests.pages.conftest import committed_app
from tests.pages.content import PASSWORD, Content, populate

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Server:
    url: str
    app: object
    content: Content


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_zip):
    """The app served by werkzeug on a free localhost port; jobs are queued, and run by the tests themselves."""
    app, close = committed_app(tmp_path_factory.mktemp("browser"), "sqlite", immediate_jobs=False)
    content = populate(app, model_zip)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="boas-test-server", daemon=True)
    thread.start()
    yield Server(url=f"http://127.0.0.1:{httpd.server_port}", app=app, content=content)
    httpd.shutdown()
    thread.join(timeout=10)
    close()


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory):
    """The demo content computed for real, served by werkzeug on a free localhost port.

    Seeded once for the session (about 30 s): the public walks and the signed-in crawls read the same registry.
    """
    app, close = committed_app(tmp_path_factory.mktemp("demo-browser"), "sqlite", require_bias_audit=True)
    assert seed_demo(Demo(runtime=app.extensions["boas"], log=lambda _message: None))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="boas-demo-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", app
    httpd.shutdown()
    thread.join(timeout=10)
    close()


# The demo's accounts have no password (the demo adds no way in): the signed-in crawls give one to an author (the
# one with a draft in progress) and the evaluator, and add an administrator, as an operator would with the CLI.
DEMO_ACCOUNTS = {"author": "lea.martin@demo.boas.invalid", "evaluator": "evaluation@demo.boas.invalid",
                 "admin": "admin@demo.boas.invalid"}


@pytest.fixture(scope="session")
def demo_accounts(demo_url) -> dict[str, str]:
    """role -> e-mail of a demo account that signs in with PASSWORD."""
    _url, app = demo_url
    with app.extensions["boas"].session_factory() as session:
        for role, email in DEMO_ACCOUNTS.items():
            if role == "admin":
                accounts.create_user(session, None, email=email, role="admin", name="Admin (démo)", bootstrap=True,
                                     password=PASSWORD)
            else:
                accounts.set_password_by_email(session, email, PASSWORD)
    return DEMO_ACCOUNTS


class PageProblems:
    """Console errors and CSP violations seen by a page: our pages must cause none."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.messages.append(m.text))
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m or "Refused to" in m]


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.problems = PageProblems(tab)
    yield tab
    context.close()


# What sticks out past the right edge, outside the frames meant to scroll: what to fix when a page scrolls sideways.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.parentElement.closest('.table-scroll, .chart-scroll'))
    .slice(-6).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')}`)"""


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/screenshots/ (gitignored) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.exists() and path.stat().st_size > 1000, path
    return path


def sign_in(page, server: Server, role: str, lang: str = "fr") -> None:
    sign_in_as(page, server.url, server.content.users[role], lang)


def sign_in_as(page, url: str, email: str, lang: str = "fr") -> None:
    """Sign in through the login form, as a person would; the workspace opens."""
    page.goto(f"{url}/{lang}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**/{lang}/workspace")
