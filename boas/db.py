"""Per-request database session and runtime wiring (the only place that touches ``flask.g``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from boas.config import Settings
from model_cards.registry import Storage


@dataclass
class Runtime:
    settings: Settings
    engine: Any
    session_factory: Callable[[], Session]
    storage: Storage


def runtime() -> Runtime:
    return current_app.extensions["boas"]


def db_session() -> Session:
    """The request's session, opened on first use and closed (rolled back if uncommitted) at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().session_factory()
    return g.db_session


def storage() -> Storage:
    return runtime().storage


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
