"""What every API blueprint shares: the request parser and the documented error responses.

The parser turns every unreadable body into BOAS's 400 (instead of a 500 from a JSON number of
thousands of digits), and reads multipart fields and files as one body. ``errors(...)`` documents
the error statuses a route can really send, each with BOAS's error shape.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from typing import Any

import flask_smorest
from flask_smorest import abort
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from boas.api.schemas import ErrorSchema

# What each status means for this API, as the OpenAPI document says it.
ERROR_DESCRIPTIONS = {
    400: "The body cannot be read (not JSON, a number over 4,300 digits, nesting too deep).",
    401: "No valid bearer token (missing, unknown, revoked, or the account is deactivated).",
    403: "The account's role or ownership does not allow this.",
    404: "No such object, or it is not visible to the caller.",
    409: "The change conflicts with the current state (duplicate identifier, released version).",
    413: "The request body exceeds the configured upload limit.",
    415: "The request body has a media type this route does not read.",
    422: "Validation failed: `errors` lists every field with its messages.",
    429: "Too many requests: wait for the time given by Retry-After.",
}
TOO_LONG = "not readable JSON: a number is longer than 4,300 digits or the document is nested too deeply"


class BoasParser(FlaskParser):
    """webargs' Flask parser, with unreadable JSON as a 400 and multipart bodies read whole.

    The "files" location reads the whole multipart body (fields and files), so one schema documents
    it as a single multipart/form-data request body, and a text field sent under a file's name
    reaches the schema's File field (which names it) rather than vanishing.
    """

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs' own 400 for malformed JSON
        except (ValueError, RecursionError):  # Python's int max_str_digits, or nesting past the recursion limit
            abort(400, messages={"json": [TOO_LONG]})

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint reading requests with BoasParser."""

    ARGUMENTS_PARSER = BoasParser()

    def errors(self, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the error statuses this route can send, each with BOAS's error schema."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                func = self.alt_response(status, schema=ErrorSchema,
                                         description=ERROR_DESCRIPTIONS.get(status, http.HTTPStatus(status).phrase)
                                         )(func)
            return func

        return decorator
