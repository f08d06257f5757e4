"""The Flask application factory: settings -> runtime -> blueprints, error handlers and security headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from boas.config import Settings, load_settings, persistent_secret


class BoundedInt(IntegerConverter):
    """``<int:...>`` in URLs, capped at the database's 32-bit integer ids."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def generation_reader(runtime: Any) -> Callable[[], int]:
    """How the page front reads the change generation: on the engine, or in the session tests hand in."""
    from registry_db.store.generation import change_generation, read_change_generation

    if runtime.engine is not None:
        return partial(read_change_generation, runtime.engine)

    def read() -> int:
        with runtime.session_factory() as session:
            return change_generation(session)

    return read


def create_app(settings: Settings | None = None, *, session_factory: Any = None, immediate_jobs: bool = False) -> Flask:
    """Build the app. Nothing happens at import time; tests pass their own settings and sessions."""
    from boas import api, context, errors, pages, security, throttle
    from boas.pages import front
    from boas.pages.i18n import COOKIE as LANGUAGE_COOKIE
    from boas.runtime import build_runtime

    settings = settings or load_settings()
    runtime = build_runtime(settings, session_factory=session_factory, immediate_jobs=immediate_jobs)
    app = Flask(__name__)
    app.url_map.converters["int"] = BoundedInt  # before any route: ids past 32 bits are a 404, not an overflow
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
        # Links are built from the request's Host only where a page asks for an absolute URL; with
        # BOAS_TRUSTED_HOSTS set, any other Host is a 400. Empty keeps the embedded default working
        # on whatever address it is reached at.
        TRUSTED_HOSTS=list(settings.trusted_hosts) or None,
    )
    # Innermost, so that it sees the request as ProxyFix corrected it and its pages leave with the headers.
    app.wsgi_app = front.PublicPageFront(  # type: ignore[method-assign]
        app.wsgi_app, generation_reader(runtime), session_cookie=app.config["SESSION_COOKIE_NAME"],
        echoed_cookies=(LANGUAGE_COOKIE,), day=lambda: app.extensions["boas"].clock().date())
    app.extensions["boas_front"] = app.wsgi_app
    if settings.trusted_proxies:
        # Only then is X-Forwarded-For believed, and only as many hops as there are proxies.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    context.init_app(app, runtime)
    throttle.init_app(app, settings)
    errors.init_app(app)
    security.init_app(app)
    api.init_app(app)
    pages.init_app(app)  # after the API: its error handlers delegate /api/ URLs to the JSON ones
    return app
