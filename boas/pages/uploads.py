"""What the upload forms share with their script (static/upload.js): a dry run of the metadata, and a
success answer that leaves the confirmation message for the next page.

Without JavaScript a form posts once, with its file, and a success redirects (303) to the next page,
which shows the flashed confirmation. The script asks twice: first the fields without the file
(``dry_run=1``), which the view checks with the service's own rules and answers 204 or the form with
its errors; then the whole upload, whose success is a JSON ``{"location": ...}`` rather than a
redirect, because XMLHttpRequest follows redirects itself and would spend the flash on a page nobody sees.
"""

from __future__ import annotations

from flask import Response, jsonify, redirect, request


def from_script() -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def is_dry_run() -> bool:
    """A check of the form's fields only, sent by the script before the file."""
    return request.form.get("dry_run") == "1"


def checked() -> Response:
    """The answer to a dry run whose fields pass: nothing to show, go on with the upload."""
    return Response(status=204)


def after_upload(location: str) -> Response:
    """A 303 to the next page for a plain form; its address in JSON for the script, which goes there itself."""
    if from_script():
        return jsonify(location=location)
    return redirect(location, 303)
