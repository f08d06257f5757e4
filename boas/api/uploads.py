"""Resumable, chunked uploads (tus.io's core shape, BOAS's errors): open, send chunks, ask the offset, abort."""

from __future__ import annotations

from flask import request, url_for
from marshmallow import RAISE, Schema, fields

from boas.api.blueprint import Blueprint
from boas.context import db_session, now, storage
from boas.errors import handle_boas_error
from boas.registry import uploads
from boas.registry.schemas import UploadOpenSchema
from boas.security import current_user, login_required

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads",
                description="Resumable uploads of large files, chunk by verified chunk")


class UploadOut(Schema):
    id = fields.String(attribute="token", metadata={"description": "the upload's id, for its URL and `upload_id`"})
    purpose = fields.String(metadata={"description": "dataset, predictions or version"})
    filename = fields.String()
    size = fields.Integer(metadata={"description": "the whole file's declared size in bytes"})
    sha256 = fields.String(metadata={"description": "the whole file's declared SHA-256"})
    offset = fields.Integer(attribute="upload_offset", metadata={
        "description": "bytes received and verified so far: where the next chunk starts (resume from here)"})
    state = fields.String(metadata={"description": "open (receiving chunks) or complete (every byte in, the whole "
                                                   "file matched its SHA-256; use it as upload_id)"})
    created_at = fields.DateTime()
    expires_at = fields.DateTime(metadata={"description": "unused after this, the upload and its bytes are removed"})


class AbortedOut(Schema):
    id = fields.String(required=True)
    aborted = fields.Boolean(required=True)
    received = fields.Integer(required=True, metadata={"description": "bytes that had arrived, now removed"})


OFFSET_HEADERS = {
    "Upload-Offset": {"description": "bytes received so far", "schema": {"type": "integer", "minimum": 0}},
    "Upload-Length": {"description": "the whole file's size", "schema": {"type": "integer", "minimum": 1}},
}
CHUNK_PARAMETERS = [
    {"in": "header", "name": "Upload-Offset", "required": True, "description": "the byte this chunk starts at: the "
     "upload's current offset (409 with the current one otherwise)", "schema": {"type": "integer", "minimum": 0}},
    {"in": "header", "name": "Upload-Checksum", "required": True, "description": "`sha256 <base64 of the chunk's "
     "SHA-256>` (tus's checksum extension); a chunk that does not match is refused (422) and not appended",
     "schema": {"type": "string"}},
]
CHUNK_BODY = {"required": True, "description": "the chunk's bytes (at most BOAS_UPLOAD_CHUNK_MB)",
              "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def _with_offset(row, status: int = 200):
    headers = {"Upload-Offset": str(row.upload_offset), "Upload-Length": str(row.size), "Cache-Control": "no-store"}
    return row, status, headers


@blp.route("", methods=["POST"])
@blp.response(201, UploadOut, headers={"Location": {"description": "the upload's URL", "schema": {"type": "string"}},
                                       **OFFSET_HEADERS})
@blp.errors(401, 403, 409, 413, 429)
@login_required
@blp.arguments(UploadOpenSchema, unknown=RAISE)
def open_upload(data):
    """Open a resumable upload of a file of known size and SHA-256, for a dataset, predictions or a version.

    Only the roles that may make that kind of upload may open one; the size may exceed the single-request
    limit up to BOAS_MAX_RESUMABLE_MB. Send the file with PATCH in chunks, then name the upload as
    `upload_id` where the file would go.
    """
    row = uploads.open_upload(db_session(), current_user(), storage(), data, now=now())
    body, status, headers = _with_offset(row, 201)
    headers["Location"] = url_for("uploads.get_upload", token=row.token)
    return body, status, headers


@blp.route("/<token>")
@blp.response(200, UploadOut, headers=OFFSET_HEADERS)
@blp.errors(401, 404, 429)
@login_required
def get_upload(token):
    """The upload's state and offset (also answered to HEAD): an interrupted upload resumes from `offset`."""
    return _with_offset(uploads.get_upload(db_session(), current_user(), token, now=now()))


@blp.route("/<token>", methods=["PATCH"])
@blp.doc(parameters=CHUNK_PARAMETERS, requestBody=CHUNK_BODY)
@blp.response(200, UploadOut, headers=OFFSET_HEADERS)
@blp.errors(401, 404, 409, 413, 422, 429)
@login_required
def send_chunk(token):
    """Append one chunk at `Upload-Offset`, verified against `Upload-Checksum`; the last one completes the upload.

    A chunk for another offset is a 409 whose `Upload-Offset` header (and `errors`) give the current one;
    a chunk that does not match its checksum is refused and the offset stays. When the last byte arrives
    the whole file is checked against the declared SHA-256: a mismatch refuses and removes the upload.
    """
    try:
        row = uploads.write_chunk(db_session(), current_user(), storage(), token,
                                  offset=request.headers.get("Upload-Offset"),
                                  checksum=request.headers.get("Upload-Checksum"), stream=request.stream, now=now())
    except uploads.OffsetMismatch as exc:
        response = handle_boas_error(exc)
        response.headers["Upload-Offset"] = str(exc.offset)
        return response
    return _with_offset(row)


@blp.route("/<token>", methods=["DELETE"])
@blp.response(200, AbortedOut)
@blp.errors(401, 404, 429)
@login_required
def abort_upload(token):
    """Abort an upload: its bytes are removed and its id is no longer usable."""
    received = uploads.abort_upload(db_session(), current_user(), storage(), token, now=now())
    return {"id": token, "aborted": True, "received": received}
