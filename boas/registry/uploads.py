"""Resumable, chunked uploads: a large file arrives in verified chunks, then is checked whole against its digest.

The shape is tus.io's core protocol (a session created with the file's length, chunks sent with the
offset they start at, the offset asked again to resume) with its checksum extension (each chunk
carries ``Upload-Checksum: sha256 <base64>``), in BOAS's JSON errors and bearer tokens. The
database row is the source of truth for how many bytes are in; the bytes live in the local staging area
(``LocalStaging.resumable_path``) or, on object storage, as one object per chunk (``S3BlobStore.append_chunk``). A completed session is used once, by the owner, in
place of a multipart file (``POST /datasets``, ``POST /predictions``): the creating service takes it
with ``take_upload`` and deletes it with ``consume_upload`` in its own transaction, so a refused
dataset leaves the session for a corrected retry and a created one can never be created twice.

On object storage every web machine sees a session's chunks, so a load balancer may send each request of
one upload to a different machine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from boas.registry import permissions
from boas.registry.schemas import UploadOpenSchema, load
from boas.registry.storage import Storage
from registry_db import store
from registry_db.blobs import sha256_file
from registry_db.errors import Conflict, NotFound, TooLarge, ValidationFailed
from registry_db.models import UploadPurpose, UploadSession, UploadState, User

log = logging.getLogger(__name__)

OFFSET_HEADER = "Upload-Offset"
CHECKSUM_HEADER = "Upload-Checksum"
_DIGITS = re.compile(r"[0-9]{1,19}")


class OffsetMismatch(Conflict):
    """A chunk sent for another offset than the session's: the answer says where to resume."""

    code = "offset_mismatch"

    def __init__(self, current: int, sent: int):
        super().__init__(f"the upload is at byte {current}, not {sent}: send the chunk that starts at {current}",
                         {OFFSET_HEADER: [f"expected {current}"]})
        self.offset = current


@dataclass(frozen=True)
class TakenUpload:
    """A completed upload handed to a creating service: its file is linked into the service's staging directory."""

    id: int
    token: str
    filename: str
    sha256: str
    size: int


# Uploads in progress hold disk until used, aborted or expired: an account may hold this many at once, so one
# account cannot reserve more than this many times the resumable-upload limit.
MAX_LIVE_UPLOADS = 4


def open_upload(session: Session, actor: User | None, storage: Storage, data: Any, *, now: datetime) -> UploadSession:
    """Open a resumable upload for a declared size and digest; only roles that may make that upload may open one."""
    user = permissions.require_user(actor)
    valid = load(UploadOpenSchema(), data, "invalid upload")
    permissions.require_open_upload(user, valid["purpose"])
    if valid["size"] > storage.max_resumable_bytes:
        limit = storage.max_resumable_bytes
        raise TooLarge(f"the file is larger than the {limit}-byte limit of resumable uploads",
                       {"size": [f"larger than {limit} bytes"]})
    store.begin_write(session)  # counted under the write lock: two opens at once cannot both pass the cap
    if store.count_live_upload_sessions(session, user.id, now) >= MAX_LIVE_UPLOADS:
        raise Conflict(f"you already hold {MAX_LIVE_UPLOADS} uploads: use or abort one before opening another",
                       {"size": [f"at most {MAX_LIVE_UPLOADS} uploads at once"]}, code="too_many_uploads")
    row = store.add_upload_session(session, UploadSession(
        token=secrets.token_urlsafe(32), owner_id=user.id, purpose=UploadPurpose(valid["purpose"]),
        filename=valid["filename"], size=valid["size"], sha256=valid["sha256"], upload_offset=0,
        state=UploadState.OPEN, created_at=now,
        expires_at=now + timedelta(seconds=storage.upload_session_seconds)))
    session.commit()
    return row


def _own(session: Session, user: User, token: str, now: datetime, *, for_update: bool = False) -> UploadSession:
    """The caller's own, unexpired session; anyone else's is as unknown as a missing one (404)."""
    row = store.get_upload_session(session, token, for_update=for_update)
    if row.owner_id != user.id or row.expires_at <= now:
        raise NotFound("no such upload (it may have expired, been aborted or already been used)",
                       code="upload_not_found")
    return row


def get_upload(session: Session, actor: User | None, token: str, *, now: datetime) -> UploadSession:
    """The session's state: its offset is where an interrupted upload resumes."""
    return _own(session, permissions.require_user(actor), token, now)


def _offset(raw: str | None) -> int:
    if raw is None or not _DIGITS.fullmatch(raw.strip()):
        raise ValidationFailed(f"{OFFSET_HEADER} is required: the byte the chunk starts at",
                               {OFFSET_HEADER: ["a non-negative whole number is required"]})
    return int(raw.strip())


def _checksum(raw: str | None) -> str:
    """``sha256 <base64>`` (tus's checksum extension) as a hex digest."""
    algorithm, _, value = (raw or "").strip().partition(" ")
    problem = "required: 'sha256 <base64 of the chunk's SHA-256>'"
    if algorithm.lower() == "sha256":
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) == 32:
            return digest.hex()
        problem = "not the base64 of a 32-byte SHA-256"
    elif algorithm:
        problem = f"unsupported algorithm {algorithm[:20]!r}: use sha256"
    raise ValidationFailed(f"{CHECKSUM_HEADER} is required for every chunk", {CHECKSUM_HEADER: [problem]})


def write_chunk(session: Session, actor: User | None, storage: Storage, token: str, *, offset: str | None,
                checksum: str | None, stream: IO[bytes], now: datetime) -> UploadSession:
    """Append one chunk at ``offset`` if it matches its checksum; on the last byte, check the whole file.

    The chunk is received aside (no lock held while it crosses the network), verified, then written
    under the session's row lock at the offset the row says, fsynced, and the offset advanced in the
    same transaction. A corrupted chunk is refused and nothing moves; a chunk for another offset is a
    409 carrying the current one.
    """
    user = permissions.require_user(actor)
    start, expected = _offset(offset), _checksum(checksum)
    row = _own(session, user, token, now)
    if row.state == UploadState.COMPLETE:
        raise Conflict("the upload is complete: use it, or abort it", {OFFSET_HEADER: [f"expected {row.size}"]},
                       code="upload_complete")
    if start != row.upload_offset:
        raise OffsetMismatch(row.upload_offset, start)
    remaining = row.size - start
    session.rollback()  # no read transaction stays open while the chunk arrives
    part, digest, received = storage.blobs.receive_chunk(stream, token, storage.upload_chunk_bytes, "chunk")
    try:
        if digest != expected:
            raise ValidationFailed("the chunk does not match its checksum: refused, nothing was appended",
                                   {CHECKSUM_HEADER: ["does not match the chunk received"]}, code="checksum_mismatch")
        if received > remaining:
            raise ValidationFailed(f"the chunk runs past the declared size: {remaining} bytes remain",
                                   {"chunk": [f"{received} bytes sent, {remaining} remain"]})
        store.begin_write(session)
        row = _own(session, user, token, now, for_update=True)
        if row.state == UploadState.COMPLETE or start != row.upload_offset:  # another request got there first
            raise OffsetMismatch(row.upload_offset, start)
        storage.blobs.append_chunk(token, start, part)
        row.upload_offset = start + received
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        part.unlink(missing_ok=True)
    if row.upload_offset == row.size:
        return _complete(session, user, storage, token, now)
    return row


def _complete(session: Session, user: User, storage: Storage, token: str, now: datetime) -> UploadSession:
    """Every byte is in: the whole file must hash to the declared digest, or the upload is refused and removed.

    The file is hashed outside any transaction (gigabytes take seconds). A crash before the verdict
    leaves the session at its full offset, open: an empty chunk at that offset finishes it.
    """
    actual, size = storage.blobs.resumable_digest(token)
    store.begin_write(session)
    row = _own(session, user, token, now, for_update=True)
    if row.state == UploadState.COMPLETE:
        session.commit()
        return row
    if actual == row.sha256 and size == row.size:
        row.state = UploadState.COMPLETE
        session.commit()
        return row
    declared = row.sha256
    store.delete_upload_session(session, row.id)
    session.commit()
    storage.blobs.discard_resumable(token)
    raise ValidationFailed("the file received does not match its declared SHA-256: the upload is refused and removed",
                           {"sha256": [f"declared {declared}, received {actual or 'nothing'}"]},
                           code="digest_mismatch")


def abort_upload(session: Session, actor: User | None, storage: Storage, token: str, *, now: datetime) -> int:
    """Abandon a session: its row and its partial file go. Returns the bytes that had arrived."""
    user = permissions.require_user(actor)
    store.begin_write(session)
    row = _own(session, user, token, now, for_update=True)
    received = row.upload_offset
    store.delete_upload_session(session, row.id)
    session.commit()
    storage.blobs.discard_resumable(token)
    return received


def take_upload(session: Session, actor: User | None, storage: Storage, token: str, purpose: UploadPurpose,
                dest: Path, *, now: datetime, field: str = "upload_id") -> TakenUpload:
    """Link a completed upload of the caller's into a staging directory, checked against its digest again.

    The creating service treats ``dest`` exactly as a streamed upload's staged file, then calls
    ``consume_upload`` in its write transaction; until then the session stays usable.
    """
    user = permissions.require_user(actor)
    try:
        row = _own(session, user, token, now)
    except NotFound as exc:
        raise ValidationFailed(exc.message, {field: ["no such upload of yours (expired, aborted or used)"]}) from exc
    if row.purpose != purpose:
        raise ValidationFailed(f"this upload was opened for {row.purpose.value}, not {purpose.value}",
                               {field: [f"opened for {row.purpose.value}"]})
    if row.state != UploadState.COMPLETE:
        raise ValidationFailed("the upload is not complete", {field: [
            f"{row.upload_offset} of {row.size} bytes received: send the rest first"]})
    taken = TakenUpload(id=row.id, token=row.token, filename=row.filename, sha256=row.sha256, size=row.size)
    session.rollback()
    storage.blobs.link_resumable(token, dest)
    # A completed file rests in the staging area for hours; reads verify the digest, so this one does too.
    if sha256_file(dest) != (taken.sha256, taken.size):
        dest.unlink(missing_ok=True)
        raise ValidationFailed("the uploaded file changed on the server since it was completed: upload it again",
                               {field: ["no longer matches its digest"]}, code="digest_mismatch")
    return taken


def consume_upload(session: Session, taken: TakenUpload, field: str = "upload_id") -> None:
    """Inside the creating write transaction: the session is used up, or another request used it first (409)."""
    if not store.delete_upload_session(session, taken.id, only_complete=True):
        raise Conflict("this upload was used or aborted meanwhile", {field: ["already used"]}, code="upload_used")


def release_upload_file(storage: Storage, taken: TakenUpload) -> None:
    """After the creating transaction committed: the session's own copy of the file goes."""
    storage.blobs.discard_resumable(taken.token)


def sweep_uploads(session: Session, storage: Storage, *, now: datetime, grace_seconds: float) -> list[str]:
    """Remove expired sessions with their files, and files no session owns (a crash between the two).

    Runs where the staging sweep runs (the worker's reaper, ``boas jobs reap``). Returns the tokens removed.
    """
    store.begin_write(session)
    expired = store.list_expired_upload_sessions(session, now)
    tokens = [row.token for row in expired]
    for row in expired:
        store.delete_upload_session(session, row.id)
    session.commit()
    for token in tokens:
        storage.blobs.discard_resumable(token)
    live = store.upload_session_tokens(session)
    session.rollback()
    orphans = storage.blobs.sweep_resumable(live, grace_seconds)
    if tokens or orphans:
        log.warning("removed %d expired upload session(s) and %d orphaned upload file(s)", len(tokens), len(orphans))
    return tokens


def chunk_digest_header(chunk: bytes) -> str:
    """The ``Upload-Checksum`` value of a chunk (clients and tests send it)."""
    return "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
