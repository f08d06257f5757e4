"""Errors as HTML pages for browsers, while every /api/ URL keeps the one JSON error shape."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, redirect, render_template, request, url_for
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from boas import errors as api_errors
from boas import throttle
from boas.pages.i18n import conflict_message, current_lang
from boas.registry.permissions import ConflictOfInterest
from registry_db.errors import BoasError, Unauthenticated

log = logging.getLogger(__name__)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def error_page(status: int, detail: str | None = None, *, translated: bool = False, **context) -> Response:
    """The HTML error page in the page's language (``detail`` is English unless ``translated``); a plain one if
    even that cannot render."""
    g.lang = current_lang()
    # An untrusted Host has no URL adapter: no link can be built, nor should be.
    body = (_plain_page(status) if request_ctx.url_adapter is None
            else _rendered(status, detail, {"translated": translated, **context}))
    response = Response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _plain_page(status: int) -> str:
    return f'<!doctype html><html lang="{g.lang}"><meta charset="utf-8"><title>{status}</title><p>{status}</p>'


def _rendered(status: int, detail: str | None, context: dict) -> str:
    try:
        return render_template("pages/error.html", status=status, detail=detail, **context)
    except Exception:  # an error page must not fail: the original error is already logged
        log.exception("the error page could not be rendered")
        return _plain_page(status)


def handle_http(exc: HTTPException):
    if _is_api():
        return api_errors.handle_http_exception(exc)
    if exc.code is None:
        return exc
    if exc.code == 429:
        return error_page(429, retry_after=throttle.retry_after())
    detail = exc.description if exc.code == 400 else None
    return error_page(exc.code, detail)


def handle_boas(exc: BoasError):
    if _is_api():
        return api_errors.handle_boas_error(exc)
    if isinstance(exc, Unauthenticated):
        g.lang = current_lang()
        if request.method == "GET":
            return redirect(url_for("pages.login", lang=g.lang, next=request.full_path.rstrip("?")))
    if isinstance(exc, ConflictOfInterest):
        g.lang = current_lang()
        return error_page(exc.status, conflict_message(exc), translated=True)
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    return error_page(exc.status, exc.message if exc.status in (403, 409, 413, 422) else None)


def handle_unexpected(exc: Exception):
    if _is_api():
        return api_errors.handle_unexpected(exc)
    log.exception("unhandled error on a page")
    return error_page(500)


def init_app(app: Flask) -> None:
    """Registered after the API's handlers, which these delegate to for /api/ URLs."""
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(BoasError, handle_boas)
    app.register_error_handler(Exception, handle_unexpected)
