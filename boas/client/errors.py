"""What goes wrong between a pipeline and the registry, and how it is said: one line per field."""

from __future__ import annotations


class ClientError(Exception):
    """Something the author can act on: not logged in, server unreachable, a refused file, a bad digest."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def lines(self) -> list[str]:
        """The message, then one line per field that says more than the message."""
        return error_lines(self.message, self.errors)


class ApiError(ClientError):
    """The server answered with its error shape ``{code, status, message, errors}``."""

    def __init__(self, status: int, code: str, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message, errors)
        self.status, self.code = status, code


def error_lines(message: str, errors: dict[str, list[str]]) -> list[str]:
    """One line per field (``field: messages``), after ``message`` unless a field's line already says it.

    The API flattens nested errors to dotted paths (``card.performance_metrics.0.ci_low``), so one line per
    key is one line per field. The same function words the server's refusals and the local checks', so the
    two can be compared line for line.
    """
    fields = {
        field: [messages] if isinstance(messages, str) else [str(m) for m in messages]
        for field, messages in errors.items()
    }
    lines = [] if any(messages == [message] for messages in fields.values()) else [message]
    return lines + [f"{field}: {'; '.join(messages)}" for field, messages in fields.items()]
