"""Blobs in S3-compatible object storage, read through a verified local cache.

Objects are named like the filesystem store's files, ``<prefix>blobs/sha256/ab/<digest>``, so a
filesystem store moves to a bucket with one ``sync`` of its ``blobs`` directory. Uploads are still
staged and unpacked in the local data directory (archives are checked on disk, the sandbox reads
local files); ``adopt`` uploads the staged file, and ``verified_path`` downloads an object into
``<root>/cache/sha256/ab/<digest>``: bounded by the recorded size, hashed while it is written,
renamed into place only if it matches. The cache is checked again on every read, like the
filesystem store's files, and trimmed oldest-first past its budget.

Resumable uploads (``boas.registry.uploads``) keep each verified chunk as an object,
``<prefix>uploads/<token>/<offset, 20 digits>``, instead of a file on the receiving machine: any web
machine can take a session's next chunk, its completion or its use, so a load balancer needs no sticky
routing. The database row's offset says which chunks count; the file is put together (streamed, hashed)
only when it is completed and when a service takes it into its local staging directory.

Integrity on the server side rides on S3's own SHA-256 checksum: every object is uploaded with
``ChecksumAlgorithm=SHA256`` (the server refuses a body that does not match it), so an existing
object whose checksum equals the digest is intact without downloading it. An object without that
checksum (written by someone else, or by a server that does not keep checksums) is replaced by the
staged copy: identical bytes if it was intact, a repair if it was not.

The bucket and endpoint come from settings only; no key is ever built from anything but a digest.
``boto3`` is imported by this module, and this module only when ``BOAS_BLOB_BACKEND=s3`` (``pip install boas[s3]``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from registry_db.blobs import (
    CHUNK,
    DIR_MODE,
    FILE_MODE,
    RESUMABLE_TOKEN,
    STAGING_PREFIX,
    LocalStaging,
    checked_digest,
    sha256_file,
)
from registry_db.errors import IntegrityFailure, StorageUnavailable

log = logging.getLogger(__name__)

PART_PREFIX = ".part-"  # a download being written; a killed process's are swept with the staging area
# A cached copy used this recently is never evicted: a caller holds its path between verified_path and open.
CACHE_MIN_AGE_SECONDS = 300.0
SINGLE_PUT_MAX_BYTES = 5 * 1024**3  # S3's limit for one PUT; larger objects would need multipart (not used)
OFFSET_DIGITS = 20  # a chunk object's name: its offset, zero-padded so that names sort as offsets do


def _b64(sha256: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def make_client(endpoint_url: str | None) -> Any:
    """A client on the endpoint (empty: AWS); credentials and region come from the AWS variables."""
    import boto3

    config = Config(connect_timeout=10, read_timeout=120, retries={"max_attempts": 5, "mode": "standard"},
                    # custom endpoints (MinIO, Ceph, Garage...) serve buckets as paths, not as subdomains
                    s3={"addressing_style": "path" if endpoint_url else "auto"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)


class S3BlobStore(LocalStaging):
    """Blobs as objects in one bucket under one prefix; reads go through ``<root>/cache``."""

    def __init__(self, root: Path, client: Any, bucket: str, prefix: str = "", cache_max_bytes: int = 10 * 1024**3):
        super().__init__(root)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.cache_root = self.root / "cache" / "sha256"
        self.cache_max_bytes = cache_max_bytes

    @classmethod
    def from_settings(cls, root: Path, *, bucket: str, prefix: str, endpoint_url: str | None,
                      cache_max_bytes: int) -> S3BlobStore:
        """A store on a client built from the endpoint alone; credentials and region come from the AWS variables."""
        return cls(root, make_client(endpoint_url), bucket, prefix, cache_max_bytes)

    # -- names ---------------------------------------------------------------------------------

    def key_for(self, sha256: str) -> str:
        return f"{self.prefix}blobs/sha256/{checked_digest(sha256)[:2]}/{sha256}"

    def cache_path(self, sha256: str) -> Path:
        return self.cache_root / checked_digest(sha256)[:2] / sha256

    # -- the local side ------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the local data directory owner-only, then check the bucket answers (a clear error at start)."""
        self._secure_local(self.cache_root)
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"bucket {self.bucket!r} is not reachable: {_error_code(exc) or exc}") from exc

    def staging_dir(self) -> Path:
        # Only the local directories: ``ensure`` would also ask the bucket, once per upload.
        self._secure_local(self.cache_root)
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.tmp_root))

    def sweep_staging(self, grace_seconds: float) -> list[Path]:
        """The staging directories, and the partial downloads of killed processes, idle for ``grace_seconds``."""
        removed = super().sweep_staging(grace_seconds)
        if self.cache_root.is_dir():
            cutoff = time.time() - grace_seconds
            for part in self.cache_root.glob(f"*/{PART_PREFIX}*"):
                try:
                    if part.lstat().st_mtime < cutoff:
                        part.unlink()
                except OSError:
                    continue
        return removed

    # -- the bucket ----------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def _head(self, sha256: str) -> dict[str, Any] | None:
        """The object's metadata with its checksum, or None when there is no such object."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256), ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError) as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageUnavailable(f"object storage did not answer for {sha256}: {_error_code(exc) or exc}") from exc

    def _put(self, src: Path, sha256: str, *, only_if_absent: bool) -> bool:
        """Upload ``src`` under its digest, S3 checking its SHA-256; False if ``only_if_absent`` and another won."""
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if only_if_absent else {}
        try:
            with open(src, "rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=self.key_for(sha256), Body=body,
                                       ChecksumAlgorithm="SHA256", **extra)
        except (ClientError, BotoCoreError) as exc:
            code = _error_code(exc)
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False  # another writer stored the same digest first: theirs is kept
            if code == "NotImplemented" and only_if_absent:  # a server without conditional writes
                return self._put(src, sha256, only_if_absent=False)
            raise StorageUnavailable(f"could not store {sha256} in object storage: {code or exc}") from exc
        return True

    def adopt(self, src: Path, sha256: str) -> bool:
        """Upload a staged file whose digest is known, unless an intact object already holds it; True if new.

        An existing object whose S3 checksum or size differs was damaged (or replaced) in the bucket: the
        staged copy, verified by the caller, takes its place, as the filesystem store rewrites a damaged file.
        The staged file then becomes this machine's cached copy, so reading it back costs no download.
        """
        size = src.stat().st_size
        if size > SINGLE_PUT_MAX_BYTES:
            raise StorageUnavailable(f"{sha256} is larger than one object storage upload ({SINGLE_PUT_MAX_BYTES} bytes)")
        head = self._head(sha256)
        created = False
        if head is None:
            created = self._put(src, sha256, only_if_absent=True)
        elif head.get("ChecksumSHA256") != _b64(sha256) or head.get("ContentLength") != size:
            if head.get("ChecksumSHA256"):
                log.error("stored object %s does not match its digest: replaced by the new upload's intact copy",
                          sha256)
            self._put(src, sha256, only_if_absent=False)
        self._admit(src, sha256)
        return created

    def remove(self, digests: Iterable[str]) -> None:
        """Delete the objects (and this machine's cached copies) a failed transaction created."""
        for sha256 in digests:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self.key_for(sha256))
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable(f"could not remove {sha256} from object storage: "
                                         f"{_error_code(exc) or exc}") from exc
            self.cache_path(sha256).unlink(missing_ok=True)

    # -- reads through the cache ---------------------------------------------------------------

    def verified_path(self, sha256: str, size: int | None = None) -> Path:
        """A local copy of the blob, hashed just now: from the cache, else downloaded and checked first.

        A cached copy that no longer hashes right is dropped and fetched again; an object that does not
        hash right (or is longer than its recorded size) is refused and nothing of it is kept.
        """
        cached = self.cache_path(sha256)
        if cached.is_file():
            try:
                actual, actual_size = sha256_file(cached)
            except OSError:
                actual, actual_size = "", 0
            if actual == sha256:
                if size is not None and actual_size != size:
                    raise IntegrityFailure(f"stored file {sha256} does not match its recorded digest; refused")
                os.utime(cached)  # recently used: the cache evicts the oldest first
                return cached
            log.warning("cached copy of %s is damaged: fetched again", sha256)
            cached.unlink(missing_ok=True)
        self._download(sha256, size, cached)
        return cached

    def _download(self, sha256: str, size: int | None, cached: Path) -> None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except (ClientError, BotoCoreError) as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise IntegrityFailure(f"stored file {sha256} is missing", code="artifact_missing") from exc
            raise StorageUnavailable(f"object storage did not answer for {sha256}: {_error_code(exc) or exc}") from exc
        body = obj["Body"]
        limit = size if size is not None else self.cache_max_bytes
        refused = IntegrityFailure(f"stored file {sha256} does not match its recorded digest; refused")
        try:
            if obj.get("ContentLength", 0) > limit or (size is not None and obj.get("ContentLength") != size):
                raise refused
            cached.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            fd, part_name = tempfile.mkstemp(prefix=PART_PREFIX, dir=cached.parent)
            part = Path(part_name)
            try:
                digest, written = hashlib.sha256(), 0
                with os.fdopen(fd, "wb") as out:
                    try:
                        for chunk in body.iter_chunks(CHUNK):
                            written += len(chunk)
                            if written > limit:  # the server sends more than it announced: stop reading
                                raise refused
                            digest.update(chunk)
                            out.write(chunk)
                    except BotoCoreError as exc:  # the connection lost mid-body
                        raise StorageUnavailable(f"download of {sha256} was interrupted: {exc}") from exc
                if digest.hexdigest() != sha256 or (size is not None and written != size):
                    raise refused
                os.chmod(part, FILE_MODE)
                os.replace(part, cached)  # a concurrent reader renames identical, verified bytes
            except BaseException:
                part.unlink(missing_ok=True)
                raise
        finally:
            body.close()
        self._trim(keep=cached)

    def _admit(self, src: Path, sha256: str) -> None:
        """Keep a staged, verified file as the cached copy of its digest."""
        cached = self.cache_path(sha256)
        cached.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(src, FILE_MODE)
        os.replace(src, cached)
        self._trim(keep=cached)

    def _trim(self, keep: Path) -> None:
        """Evict the least recently used copies until the cache fits its budget.

        A copy used in the last few minutes is kept even past the budget: its reader may not have
        opened it yet. Evicting is always safe otherwise, the bucket still holds every object.
        """
        entries, total = [], 0
        for path in self.cache_root.glob("*/*"):
            if path.name.startswith(PART_PREFIX):
                continue
            try:
                info = path.lstat()
            except OSError:
                continue
            entries.append((info.st_mtime, info.st_size, path))
            total += info.st_size
        if total <= self.cache_max_bytes:
            return
        recent = time.time() - CACHE_MIN_AGE_SECONDS
        for mtime, size, path in sorted(entries):
            if total <= self.cache_max_bytes:
                break
            if path == keep or mtime > recent:
                continue
            path.unlink(missing_ok=True)
            total -= size

    # -- resumable uploads: one object per verified chunk, shared by every web machine ----------

    def _upload_prefix(self, token: str) -> str:
        if not RESUMABLE_TOKEN.fullmatch(token):
            raise ValueError(f"not an upload token: {token!r}")
        return f"{self.prefix}uploads/{token}/"

    def append_chunk(self, token: str, offset: int, part: Path) -> None:
        """Store a verified part as the session's chunk at ``offset`` (S3 checking its SHA-256); the part goes.

        A chunk already stored at this offset can only be one whose database update never committed (the
        caller holds the session's row lock and writes at the row's offset): it is replaced.
        """
        try:
            with open(part, "rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=f"{self._upload_prefix(token)}{offset:0{OFFSET_DIGITS}d}",
                                       Body=body, ChecksumAlgorithm="SHA256")
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"could not store the chunk at byte {offset} in object storage: "
                                     f"{_error_code(exc) or exc}") from exc
        finally:
            part.unlink(missing_ok=True)

    def _chunk_objects(self, prefix: str) -> list[dict[str, Any]]:
        """The chunk objects under ``prefix``, named ``<prefix>uploads/<token>/<offset>`` and nothing else.

        Anything else listed there is left alone: another store may use a prefix that starts with this
        one's ``uploads/`` (``boas/`` and ``boas/uploads/x/``), and its blobs are not this store's to sweep.
        """
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            items = [item for page in pages for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"object storage did not list {prefix!r}: {_error_code(exc) or exc}") from exc
        return [item for item in items if self._chunk_key(item["Key"]) is not None]

    def _chunk_key(self, key: str) -> tuple[str, int] | None:
        """(token, offset) of a chunk object's key, or None for any other key."""
        token, slash, offset = key.removeprefix(f"{self.prefix}uploads/").partition("/")
        if (not key.startswith(f"{self.prefix}uploads/") or not slash or not RESUMABLE_TOKEN.fullmatch(token)
                or len(offset) != OFFSET_DIGITS or not offset.isdigit()):
            return None
        return token, int(offset)

    def _chunk_chain(self, token: str) -> list[tuple[str, int]]:
        """The session's chunks from byte 0, each starting where the previous ended: (key, size) in order.

        Chunks are only ever put at the offset the row says, under its lock, so the chain is the file; an
        object off the chain (written there by anyone else) is not part of it, and the digest check decides.
        """
        by_offset: dict[int, tuple[str, int]] = {}
        for item in self._chunk_objects(self._upload_prefix(token)):
            _token, offset = self._chunk_key(item["Key"]) or ("", -1)
            by_offset[offset] = (item["Key"], int(item["Size"]))
        chain, offset = [], 0
        while offset in by_offset and by_offset[offset][1] > 0:
            key, size = by_offset[offset]
            chain.append((key, size))
            offset += size
        return chain

    def _read_chain(self, token: str, out: IO[bytes] | None) -> tuple[str, int]:
        """Stream the session's chunks in order, hashing them (and writing them to ``out`` when given)."""
        digest, total = hashlib.sha256(), 0
        for key, size in self._chunk_chain(token):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
                received = 0
                try:
                    for piece in body.iter_chunks(CHUNK):
                        received += len(piece)
                        if received > size:
                            break
                        digest.update(piece)
                        if out is not None:
                            out.write(piece)
                finally:
                    body.close()
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable(f"object storage did not return the chunk {key!r}: "
                                         f"{_error_code(exc) or exc}") from exc
            if received != size:  # changed behind our back: the file's digest would say so, say it plainly
                raise IntegrityFailure(f"the upload's chunk {key!r} changed in object storage")
            total += size
        return digest.hexdigest() if total else "", total

    def resumable_digest(self, token: str) -> tuple[str, int]:
        """The SHA-256 and size of the session's chunks put together, as object storage holds them now."""
        return self._read_chain(token, None)

    def link_resumable(self, token: str, dest: Path) -> None:
        """Put the session's chunks together into ``dest`` (the caller checks the result against the digest)."""
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                self._read_chain(token, out)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def discard_resumable(self, token: str) -> None:
        """Remove the session's chunks from object storage, and any part of it still being received here."""
        super().discard_resumable(token)
        self._delete_keys([item["Key"] for item in self._chunk_objects(self._upload_prefix(token))])

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True})
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable(f"could not remove upload chunks from object storage: "
                                         f"{_error_code(exc) or exc}") from exc

    def sweep_resumable(self, live_tokens: set[str], grace_seconds: float) -> list[Path]:
        """Also remove the chunks no live session owns, once idle ``grace_seconds`` (by the object's date)."""
        removed = super().sweep_resumable(live_tokens, grace_seconds)
        prefix = f"{self.prefix}uploads/"
        cutoff, orphans = time.time() - grace_seconds, []
        for item in self._chunk_objects(prefix):
            token, _offset = self._chunk_key(item["Key"]) or ("", -1)
            if token not in live_tokens and item["LastModified"].timestamp() < cutoff:
                orphans.append(item["Key"])
        self._delete_keys(orphans)
        return [*removed, *(Path(key) for key in orphans)]
