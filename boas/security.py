"""Who is asking: bearer tokens for the API, and the response headers every page carries."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request, send_file

from boas.context import db_session
from boas.registry import accounts
from registry_db.errors import Unauthenticated
from registry_db.models import User

BEARER_SECURITY = [{"bearerAuth": []}]


def current_user() -> User | None:
    """The authenticated user, or None for the anonymous public; a bad token is a 401, not anonymous."""
    if "current_user" not in g:
        header = request.headers.get("Authorization", "")
        user = None
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise Unauthenticated("use 'Authorization: Bearer <token>'")
            user = accounts.authenticate_token(db_session(), secret.strip())
        g.current_user = user
    return g.current_user


def login_required(func: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse anonymous callers before the request body is read; documents the bearer scheme."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
        return func(*args, **kwargs)

    apidoc = dict(getattr(wrapper, "_apidoc", {}))
    manual = dict(apidoc.get("manual_doc", {}))
    manual["security"] = BEARER_SECURITY
    apidoc["manual_doc"] = manual
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    wrapper._login_required = True  # type: ignore[attr-defined]
    return wrapper


def report_response(path) -> Response:
    """A stored Evidently report, for a sandboxed same-origin frame only.

    Its inline scripts are Evidently's; they run in an opaque origin with no network access.
    """
    response = send_file(path, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
