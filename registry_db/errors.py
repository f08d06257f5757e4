"""Domain errors: raised by the store and the services, mapped to HTTP only at the edge.

Each carries a stable machine ``code``, an HTTP-like ``status``, a human ``message`` and,
for validation failures, every field error at once as ``{field: [message, ...]}``.
"""

from __future__ import annotations

from typing import Any


class BoasError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if code:
            self.code = code


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


class StorageUnavailable(BoasError):
    """The object storage holding the artifacts did not answer (or refused our credentials): try again later."""

    status = 503
    code = "storage_unavailable"


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors as ``{"performance_metrics.0.ci_low": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            sub = prefix if key == "_schema" and prefix else f"{prefix}.{key}" if prefix else str(key)
            for path, found in flatten_errors(value, sub).items():  # an object's own errors go on its path
                out.setdefault(path, []).extend(found)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for path, found in flatten_errors(item, prefix).items():
                out.setdefault(path, []).extend(found)
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out
