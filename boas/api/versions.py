"""Versions of an algorithm: drafts with artifacts, publication, yanking, verified downloads."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import posixpath

from flask import Response, send_file
from marshmallow import INCLUDE, RAISE, fields, validate

from boas.api.blueprint import Blueprint
from boas.api.schemas import (
    BaselineReportOut,
    ComplianceOut,
    DiffOut,
    ErrorSchema,
    JsonSchemaDocument,
    VersionOut,
    VersionSummaryOut,
)
from boas.context import db_session, now, policy, storage
from boas.registry import cards, lifecycle, schemas, versions
from boas.registry.storage import Upload
from boas.security import current_user, login_required
from model_cards import snapshot
from model_cards.exports import FORMATS
from model_cards.schema import TextInputSchema
from registry_db.models import Version


class CardPatch(TextInputSchema):
    """A JSON merge patch of the card; the card schema validates the result."""

    class Meta:
        unknown = INCLUDE


class ExportQuery(TextInputSchema):
    lang = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))


class DiffQuery(TextInputSchema):
    from_ = fields.String(data_key="from", required=True, validate=schemas.fits(Version.version))
    to = fields.String(required=True, validate=schemas.fits(Version.version))


blp = Blueprint("versions", __name__, url_prefix="/api/v1/algorithms", description="Algorithm versions")
schemas_blp = Blueprint("schemas", __name__, url_prefix="/api/v1/schemas", description="Published JSON Schemas")


def _media_type(value: str) -> str:
    return value.split(";")[0].strip()


# One entry per export format, read from the registry of formats (a new format documents itself).
# JSON and YAML documents are objects to a reader that parses them; the others are text.
STRUCTURED = {"application/json", "application/fhir+json", "application/x-yaml", "application/yaml"}
EXPORT_CONTENT = {
    _media_type(fmt.media_type): {"schema": {"type": "object"} if _media_type(fmt.media_type) in STRUCTURED
                                  else {"type": "string"}}
    for fmt in FORMATS.values()
}
ARCHIVE_MEDIA_TYPES = ("application/zip", "application/gzip", "application/x-tar")


def _upload(file) -> Upload | None:
    return Upload(stream=file.stream, filename=file.filename or "") if file is not None else None


@blp.route("/<slug>/versions", methods=["POST"])
@blp.response(201, VersionOut)
@blp.errors(401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.VersionUploadSchema, location="files", unknown=RAISE)
def create_version(form, slug):
    """Create a draft version, with its MLflow model or code archive (multipart, or a resumable upload's id)."""
    return versions.create_version(
        db_session(), current_user(), storage(), slug,
        version=form.get("version"), card_json=form.get("card"),
        model=_upload(form.get("model")), code=_upload(form.get("code")), card_from=form.get("card_from"),
        fixes_reports=form.get("fixes_reports"), upload_id=form.get("upload_id"), now=now(),
    )


@blp.route("/<slug>/versions")
@blp.response(200, VersionSummaryOut(many=True))
@blp.errors(401, 404, 429)
def list_versions(slug):
    """Versions, newest first (drafts only for owners, evaluators and admins)."""
    return versions.list_versions(db_session(), current_user(), slug)


@blp.route("/<slug>/versions/<version>")
@blp.response(200, VersionOut)
@blp.errors(401, 404, 429)
def get_version(slug, version):
    """One version: state, card, artifact manifest and MLflow metadata."""
    return versions.get_version(db_session(), current_user(), slug, version)


@blp.route("/<slug>/versions/<version>/publish", methods=["POST"])
@blp.response(200, VersionOut)
@blp.alt_response(422, schema=ErrorSchema, description="The card does not meet the quality baseline: `errors` "
                  "lists every missing mandatory item by path (code baseline_not_met).")
@blp.errors(401, 403, 404, 409, 429)
@login_required
def publish_version(slug, version):
    """Publish a draft; its card and artifacts become immutable."""
    return lifecycle.publish_version(db_session(), current_user(), policy(), slug, version)


@blp.route("/<slug>/versions/<version>/yank", methods=["POST"])
@blp.response(200, VersionOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.YankSchema)
def yank_version(data, slug, version):
    """Withdraw a published version with a reason (reversible)."""
    return lifecycle.yank_version(db_session(), current_user(), slug, version, data["reason"])


@blp.route("/<slug>/versions/<version>/unyank", methods=["POST"])
@blp.response(200, VersionOut)
@blp.errors(401, 403, 404, 409, 429)
@login_required
def unyank_version(slug, version):
    """Reverse a yank."""
    return lifecycle.unyank_version(db_session(), current_user(), slug, version)


def _send_verified(path, sha256: str, name: str):
    guessed, coding = mimetypes.guess_type(name)
    # a gzip-compressed file (model.tar.gz) is sent as what it is, not as the tar inside it
    mimetype = "application/gzip" if coding == "gzip" else guessed or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, as_attachment=True, download_name=name, etag=sha256,
                         conditional=True, max_age=0)
    response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
    response.headers["Cache-Control"] = "public, max-age=0, must-revalidate"
    return response


@blp.route("/<slug>/versions/<version>/artifacts/<path:path>")
@blp.alt_response(200, success=True, description="the file, as an attachment, after its sha256 was verified",
                  content_type="*/*", schema={"type": "string", "format": "binary"})
@blp.errors(401, 404, 429)
def download_artifact(slug, version, path):
    """Download one file of the version's artifact; its digest is verified before it is sent."""
    artifact, blob_path = versions.open_artifact(db_session(), current_user(), storage(), slug, version, path)
    return _send_verified(blob_path, artifact.sha256, posixpath.basename(artifact.path))


@blp.route("/<slug>/versions/<version>/archive")
@blp.doc(responses={200: {"description": "the archive exactly as uploaded, verified", "content": {
    media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in ARCHIVE_MEDIA_TYPES}}})
@blp.errors(401, 404, 429)
def download_archive(slug, version):
    """Download the archive as it was uploaded, verified against its recorded digest."""
    row, blob_path = versions.open_archive(db_session(), current_user(), storage(), slug, version)
    return _send_verified(blob_path, row.archive_sha256, f"{slug}-{version}{_archive_suffix(blob_path)}")


def _archive_suffix(path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        return ".zip"
    return ".tar.gz" if magic.startswith(b"\x1f\x8b") else ".tar"


@blp.route("/<slug>/versions/<version>/card", methods=["PATCH"])
@blp.response(200, VersionOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(CardPatch)
def update_card(patch, slug, version):
    """Edit a draft's card with a JSON merge patch (RFC 7396); errors are reported per field."""
    return cards.update_card(db_session(), current_user(), slug, version, patch)


@blp.route("/<slug>/versions/<version>/baseline")
@blp.response(200, BaselineReportOut)
@blp.errors(401, 404, 429)
def baseline(slug, version):
    """The quality-baseline checklist: per pillar, what is satisfied and what is missing."""
    return cards.baseline_report(db_session(), current_user(), policy(), slug, version)


@blp.route("/<slug>/versions/<version>/compliance")
@blp.response(200, ComplianceOut)
@blp.errors(401, 404, 429)
def compliance(slug, version):
    """Coverage of EU AI Act Annex IV and Art. 13(3), ONC HTI-1, TRIPOD+AI and CHAI items."""
    return cards.compliance(db_session(), current_user(), policy(), slug, version)


@blp.route("/<slug>/versions/<version>/exports/<name>")
@blp.arguments(ExportQuery, location="query")
@blp.errors(401, 404, 409, 429)
@blp.doc(responses={200: {"description": "the card in that open format: " + ", ".join(
    f"{name} ({fmt.media_type})" for name, fmt in FORMATS.items()) + ". Formats that describe a release ("
    + ", ".join(name for name, fmt in FORMATS.items() if fmt.frozen_only) + ") exist for published and yanked "
    "versions only: a draft is a 409 (code not_published).", "content": EXPORT_CONTENT}})
def export(args, slug, version, name):
    """Download the card in an open format, from the version's frozen snapshot."""
    body, mimetype = cards.export_card(db_session(), current_user(), policy(), slug, version, name, args["lang"])
    response = Response(body, mimetype=mimetype)
    filename = name if name == "CITATION.cff" else f"{slug}-{version}-{name}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    return response


@blp.route("/<slug>/diff")
@blp.arguments(DiffQuery, location="query")
@blp.response(200, DiffOut)
@blp.errors(401, 404, 429)
def diff(args, slug):
    """Field-level diff of two versions' cards and artifact manifests."""
    return cards.diff_versions(db_session(), current_user(), policy(), slug, args["from_"], args["to"])


@schemas_blp.route("/model-card.json")
@schemas_blp.response(200, JsonSchemaDocument)
def model_card_schema():
    """The JSON Schema of card.json (draft 2020-12), generated from the card's marshmallow schema."""
    return snapshot.document_json_schema()
