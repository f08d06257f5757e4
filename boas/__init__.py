"""BOAS: the open library of health algorithms. ``create_app()`` builds the Flask application."""

from __future__ import annotations

from typing import Any

from flask import Flask

from boas.config import Settings, load_settings, persistent_secret


def create_app(settings: Settings | None = None, *, session_factory: Any = None) -> Flask:
    """Build the app. Nothing happens at import time; tests pass their own settings and sessions."""
    from boas import api, db, errors, security
    from model_cards.archives import ArchiveLimits
    from model_cards.registry import Storage
    from registry_db.blobs import BlobStore
    from registry_db.engine import make_engine, make_session_factory

    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or persistent_secret(settings.data_dir),
        # The request body may hold the upload plus small form fields; werkzeug enforces this
        # while streaming and answers 413 without reading the rest.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 2 * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        JSON_SORT_KEYS=False,
    )
    engine = None
    if session_factory is None:
        engine = make_engine(settings.database_url)
        session_factory = make_session_factory(engine)
    blobs = BlobStore(settings.data_dir)
    blobs.ensure()
    storage = Storage(
        blobs=blobs,
        limits=ArchiveLimits(
            max_entries=settings.archive_max_entries,
            max_total_bytes=settings.archive_max_uncompressed_bytes,
            max_file_bytes=settings.archive_max_file_bytes,
            max_ratio=settings.archive_max_ratio,
        ),
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.extensions["boas"] = db.Runtime(settings=settings, engine=engine, session_factory=session_factory,
                                        storage=storage)
    db.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    api.init_app(app)
    return app
