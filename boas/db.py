"""Per-request database session and runtime wiring (the only place that touches ``flask.g``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from boas.config import Settings
from model_cards.archives import ArchiveLimits
from model_cards.registry import Policy, Storage
from registry_db.blobs import BlobStore


@dataclass
class Runtime:
    settings: Settings
    engine: Any
    session_factory: Callable[[], Session]
    storage: Storage
    policy: Policy
    enqueue: Callable[[int], Any]


def build_storage(settings: Settings) -> Storage:
    """The artifact store and upload limits, the same for web and worker processes."""
    blobs = BlobStore(settings.data_dir)
    blobs.ensure()
    limits = ArchiveLimits(
        max_entries=settings.archive_max_entries,
        max_total_bytes=settings.archive_max_uncompressed_bytes,
        max_file_bytes=settings.archive_max_file_bytes,
        max_ratio=settings.archive_max_ratio,
    )
    return Storage(blobs=blobs, limits=limits, max_upload_bytes=settings.max_upload_bytes)


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


def enqueue(job_id: int) -> Any:
    return runtime().enqueue(job_id)


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
