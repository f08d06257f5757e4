"""One JSON error shape for the API: ``{code, status, message, errors}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

from boas import throttle
from registry_db.errors import BoasError, flatten_errors

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, errors: dict | None = None) -> Response:
    response = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="boas"'
    return response


def handle_boas_error(exc: BoasError) -> Response:
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.errors)


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    errors: dict = {}
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # webargs: {"json": {...}, "form": {...}} -> one flat field map
        for location_errors in data["messages"].values():
            errors.update(flatten_errors(location_errors))
    message = {
        413: "request too large: the upload exceeds the configured limit",
        422: "validation failed",
    }.get(status, exc.description or exc.name)
    if status == 429:
        message = f"too many failed authentication attempts: try again in {throttle.retry_after()} seconds"
    return error_response(status, HTTP_CODES.get(status, "error"), message, errors)


def handle_too_deep(_exc: RecursionError) -> Response:
    return error_response(400, "bad_request", "the JSON document is nested too deeply")


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "internal server error")


def refuse_nul_in_url() -> None:
    """A NUL character in the path or the query string is refused before any view runs.

    No identifier or filter can contain one, and PostgreSQL cannot even compare text holding one (it would
    raise DataError); request bodies are checked by the schemas, per field.
    """
    if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        raise BadRequest("the URL contains a NUL character (%00), which no path or parameter accepts")


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_in_url)
    app.register_error_handler(BoasError, handle_boas_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(RecursionError, handle_too_deep)
    app.register_error_handler(Exception, handle_unexpected)
