"""Versions of an algorithm: drafts with artifacts, publication, yanking, verified downloads."""

from __future__ import annotations

import base64
import mimetypes
import posixpath

from flask import send_file
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import RAISE, Schema, fields
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from boas.api.schemas import VersionOut, VersionSummaryOut
from boas.db import db_session, storage
from boas.security import current_user, login_required
from model_cards import registry, schemas


class MultipartParser(FlaskParser):
    """The "files" location reads the whole multipart body (fields and files), so one schema
    documents it as a single multipart/form-data request body."""

    def load_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class VersionsBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()


blp = VersionsBlueprint("versions", __name__, url_prefix="/api/v1/algorithms", description="Algorithm versions")


class VersionUpload(Schema):
    version = fields.String(metadata={"description": "semantic version, e.g. 1.0.0"})
    card = fields.String(metadata={"description": "model card as a JSON object"})
    model = UploadField(metadata={"description": "MLflow model directory as zip or tar.gz (ml_model)"})
    code = UploadField(metadata={"description": "code archive as zip or tar.gz (rule_based)"})


def _upload(file) -> registry.Upload | None:
    return registry.Upload(stream=file.stream, filename=file.filename or "") if file is not None else None


@blp.route("/<slug>/versions", methods=["POST"])
@blp.response(201, VersionOut)
@login_required
@blp.arguments(VersionUpload, location="files", unknown=RAISE)
def create_version(form, slug):
    """Create a draft version, with its MLflow model or code archive (multipart)."""
    return registry.create_version(
        db_session(), current_user(), storage(), slug,
        version=form.get("version"), card_json=form.get("card"),
        model=_upload(form.get("model")), code=_upload(form.get("code")),
    )


@blp.route("/<slug>/versions")
@blp.response(200, VersionSummaryOut(many=True))
def list_versions(slug):
    """Versions, newest first (drafts only for owners, evaluators and admins)."""
    return registry.list_versions(db_session(), current_user(), slug)


@blp.route("/<slug>/versions/<version>")
@blp.response(200, VersionOut)
def get_version(slug, version):
    """One version: state, card, artifact manifest and MLflow metadata."""
    return registry.get_version(db_session(), current_user(), slug, version)


@blp.route("/<slug>/versions/<version>/publish", methods=["POST"])
@blp.response(200, VersionOut)
@login_required
def publish_version(slug, version):
    """Publish a draft; its card and artifacts become immutable."""
    return registry.publish_version(db_session(), current_user(), slug, version)


@blp.route("/<slug>/versions/<version>/yank", methods=["POST"])
@blp.response(200, VersionOut)
@login_required
@blp.arguments(schemas.YankSchema)
def yank_version(data, slug, version):
    """Withdraw a published version with a reason (reversible)."""
    return registry.yank_version(db_session(), current_user(), slug, version, data["reason"])


@blp.route("/<slug>/versions/<version>/unyank", methods=["POST"])
@blp.response(200, VersionOut)
@login_required
def unyank_version(slug, version):
    """Reverse a yank."""
    return registry.unyank_version(db_session(), current_user(), slug, version)


def _send_verified(path, sha256: str, name: str):
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, as_attachment=True, download_name=name, etag=sha256,
                         conditional=True, max_age=0)
    response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
    response.headers["Cache-Control"] = "public, max-age=0, must-revalidate"
    return response


@blp.route("/<slug>/versions/<version>/artifacts/<path:path>")
@blp.doc(responses={200: {"description": "the file, as an attachment, after its sha256 was verified"}})
def download_artifact(slug, version, path):
    """Download one file of the version's artifact; its digest is verified before it is sent."""
    artifact, blob_path = registry.open_artifact(db_session(), current_user(), storage(), slug, version, path)
    return _send_verified(blob_path, artifact.sha256, posixpath.basename(artifact.path))


@blp.route("/<slug>/versions/<version>/archive")
@blp.doc(responses={200: {"description": "the archive exactly as uploaded, verified"}})
def download_archive(slug, version):
    """Download the archive as it was uploaded, verified against its recorded digest."""
    row, blob_path = registry.open_archive(db_session(), current_user(), storage(), slug, version)
    return _send_verified(blob_path, row.archive_sha256, f"{slug}-{version}{_archive_suffix(blob_path)}")


def _archive_suffix(path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        return ".zip"
    return ".tar.gz" if magic.startswith(b"\x1f\x8b") else ".tar"
