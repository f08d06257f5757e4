"""What a request may use: its database session and the process's runtime (the only place touching ``flask.g``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from boas.registry.policy import Policy
from boas.registry.storage import Storage
from boas.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["boas"]


def db_session() -> Session:
    """The request's session, opened on first use and closed (rolled back if uncommitted) at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().session_factory()
    return g.db_session


def storage() -> Storage:
    return runtime().storage


def policy() -> Policy:
    return runtime().policy


def now() -> datetime:
    """The runtime's clock (the wall clock, or a test's)."""
    return runtime().clock()


def enqueue(job_id: int) -> Any:
    return runtime().enqueue(job_id)


def init_app(app: Flask, runtime: Runtime) -> None:
    app.extensions["boas"] = runtime

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
