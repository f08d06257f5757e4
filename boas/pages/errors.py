"""Errors as HTML pages for browsers, while every /api/ URL keeps the one JSON error shape."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from boas import errors as api_errors
from boas.pages.i18n import conflict_message, current_lang
from boas.registry.permissions import ConflictOfInterest
from registry_db.errors import BoasError, Unauthenticated

log = logging.getLogger(__name__)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def error_page(status: int, detail: str | None = None, *, translated: bool = False) -> Response:
    """The HTML error page in the page's language (``detail`` is English unless ``translated``)."""
    g.lang = current_lang()
    response = Response(render_template("pages/error.html", status=status, detail=detail, translated=translated),
                        status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_http(exc: HTTPException):
    if _is_api():
        return api_errors.handle_http_exception(exc)
    if exc.code is None:
        return exc
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
