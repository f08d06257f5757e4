"""Domain errors: raised by the store and the services, mapped to HTTP only at the edge.

Each carries a stable machine ``code``, an HTTP-like ``status``, a human ``message`` and,
for validation failures, every field error at once as ``{field: [message, ...]}``.
"""

from __future__ import annotations


class BoasError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if code:
            self.code = code


class BadRequest(BoasError):
    status = 400
    code = "bad_request"


class Unauthenticated(BoasError):
    status = 401
    code = "unauthenticated"


class Forbidden(BoasError):
    status = 403
    code = "forbidden"


class NotFound(BoasError):
    status = 404
    code = "not_found"


class Conflict(BoasError):
    status = 409
    code = "conflict"


class TooLarge(BoasError):
    status = 413
    code = "too_large"


class ValidationFailed(BoasError):
    status = 422
    code = "validation_failed"


class IntegrityFailure(BoasError):
    """A stored file no longer matches its recorded digest: refused, never served."""

    status = 500
    code = "artifact_corrupted"
