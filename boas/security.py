"""Who is asking: bearer tokens for the API, and the response headers every page carries."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, g, request, send_file

from boas import throttle
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
            try:
                if scheme.lower() != "bearer" or not secret.strip():
                    raise Unauthenticated("use 'Authorization: Bearer <token>'")
                user = accounts.authenticate_token(db_session(), secret.strip())
            except Unauthenticated:
                throttle.record_failure("token.failed")  # counted per client, logged once per window
                raise
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


log = logging.getLogger(__name__)

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
    ("X-Frame-Options", "DENY"),
)


class SecurityHeaders:
    """WSGI middleware: every response leaves with the security headers, whoever built it.

    An ``after_request`` hook misses the responses Flask makes when an error handler itself fails
    (a page whose error page cannot render), so the headers are added around the whole application;
    a response that set its own (the framed Evidently report) keeps them. An exception that escapes
    Flask altogether becomes a plain 500 carrying the same headers rather than the server's bare one.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _value in headers}
            headers.extend((name, value) for name, value in SECURITY_HEADERS if name.lower() not in present)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.wsgi_app(environ, with_headers)
        except Exception:  # the last resort: a 500 that still carries the headers
            log.exception("unhandled error outside the application's error handlers")
            body = b"500 internal server error\n"
            with_headers("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain; charset=utf-8"),
                                                       ("Content-Length", str(len(body))),
                                                       ("Cache-Control", "no-store")], sys.exc_info())
            return [body]


def init_app(app: Flask) -> None:
    app.wsgi_app = SecurityHeaders(app.wsgi_app)  # type: ignore[method-assign]
