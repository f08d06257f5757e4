"""Content-addressed file store: each file lives at ``blobs/sha256/ab/<digest>``.

``BlobStore`` is what services see. Two backends implement it: ``FilesystemBlobStore`` here (the
data directory, or a filesystem every machine mounts) and ``registry_db.blobs_s3.S3BlobStore``
(S3-compatible object storage). Both stage uploads in a private local directory, because archives
are unpacked and the model sandbox reads plain local files, and both hand readers a local path
whose content was just checked against its digest.

Writes are atomic (temp file on the same filesystem, fsync, rename, fsync of the directory),
so a crash leaves either nothing or a complete file. Reads verify the digest first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Protocol

from registry_db.errors import IntegrityFailure, TooLarge, ValidationFailed

CHUNK = 1024 * 1024
STAGING_PREFIX = "stage-"
RESUMABLE_DIR = "uploads"
RESUMABLE_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
PART_SUFFIX = ".part-"
DIR_MODE, FILE_MODE = 0o700, 0o600  # the data directory is the service account's alone

log = logging.getLogger(__name__)


def checked_digest(sha256: str) -> str:
    """``sha256`` if it is a lowercase hex SHA-256 digest: the only names a blob ever has (no path, no key tricks)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _intact(path: Path, sha256: str) -> bool:
    try:
        return sha256_file(path)[0] == sha256
    except OSError:
        return False


def secure_tree(root: Path) -> None:
    """Create ``root`` 0700 if needed, then make it and everything in it owner-only (links left alone)."""
    old = os.umask(0o077)
    try:
        root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    finally:
        os.umask(old)
    for dirpath, dirnames, filenames in os.walk(root):
        for name, mode in [(".", DIR_MODE), *((d, DIR_MODE) for d in dirnames), *((f, FILE_MODE) for f in filenames)]:
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
                if not os.path.islink(path) and info.st_mode & 0o077:
                    os.chmod(path, mode)
            except OSError:
                continue


def _newest_mtime(root: Path) -> float:
    """The latest modification time of a directory or anything under it (links not followed)."""
    newest = root.lstat().st_mtime
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                continue
    return newest


class BlobStore(Protocol):
    """The artifact store as services use it, whatever holds the bytes.

    ``root`` is the process's local data directory (staging area, and for object storage a cache of
    verified copies): the model sandbox never sees it. Adoption and removal of one digest are
    serialised by the caller's database lock (``registry_db.store.staging.lock_blob``), so a store
    needs no lock of its own; it only has to stay correct when two writers adopt the same bytes.
    """

    @property
    def root(self) -> Path: ...

    @property
    def tmp_root(self) -> Path: ...

    def ensure(self) -> None:
        """Create what the store needs locally (owner-only) and check it can reach its backend."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def staging_dir(self) -> Path:
        """A private local directory for one upload in progress."""
        ...

    def sweep_staging(self, grace_seconds: float) -> list[Path]:
        """Remove what killed processes left behind locally; returns the staging directories removed."""
        ...

    def stage_stream(self, stream: IO[bytes], dest: Path, max_bytes: int, field: str) -> tuple[str, int]:
        """Copy an upload into a staging file under its size cap; returns its digest and size."""
        ...

    def adopt(self, src: Path, sha256: str) -> bool:
        """Store a staged file whose digest is known; True if this call created the blob."""
        ...

    def receive_chunk(self, stream: IO[bytes], token: str, max_bytes: int, field: str) -> tuple[Path, str, int]:
        """Copy one chunk of a resumable upload aside, hashed, under its size cap."""
        ...

    def append_chunk(self, token: str, offset: int, part: Path) -> None:
        """Write a verified chunk at ``offset`` of the resumable upload's file, durably."""
        ...

    def resumable_digest(self, token: str) -> tuple[str, int]: ...

    def link_resumable(self, token: str, dest: Path) -> None: ...

    def discard_resumable(self, token: str) -> None: ...

    def sweep_resumable(self, live_tokens: set[str], grace_seconds: float) -> list[Path]: ...

    def remove(self, digests: Iterable[str]) -> None:
        """Delete blobs (those a failed transaction created)."""
        ...

    def verified_path(self, sha256: str, size: int | None = None) -> Path:
        """A local path to the blob's bytes, checked against ``sha256`` (and ``size``) just now."""
        ...


class LocalStaging:
    """The staging area every backend keeps in the local data directory: uploads are written,
    hashed and unpacked here before they are adopted."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp_root = self.root / "tmp"
        self._secured = False

    def _secure_local(self, *directories: Path) -> None:
        """Create the data directory owner-only (0700), and take back any group or other access older files had.

        The data directory holds the database and every reference dataset: nothing but the mount rules
        of the model sandbox should keep other users away from it, so nothing does on permissions alone.
        The whole tree is walked once per process (what older files need); afterwards this only makes sure
        the directories exist, since everything BOAS writes is created owner-only. Walking it again for every
        upload, chunk and job would cost a stat of every stored blob each time: at national scale, many
        thousands of files per request.
        """
        if not self._secured:
            secure_tree(self.root)
            self._secured = True
        else:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        for directory in (*directories, self.tmp_root):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def ensure(self) -> None:
        self._secure_local()

    def staging_dir(self) -> Path:
        """A private directory on the data directory's filesystem, so that adoption is a rename."""
        self.ensure()
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.tmp_root))

    def sweep_staging(self, grace_seconds: float) -> list[Path]:
        """Remove staging directories nothing has written to for ``grace_seconds``; returns them.

        A process killed mid-upload (a worker restarted during extraction) leaves its directory
        behind, possibly hundreds of MB. A directory counts as idle from the newest modification
        time of anything in it, so an upload still being written or unpacked is never taken.
        """
        if not self.tmp_root.is_dir():
            return []
        cutoff, removed = time.time() - grace_seconds, []
        for entry in os.scandir(self.tmp_root):
            if not entry.name.startswith(STAGING_PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            if _newest_mtime(path) < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                if not path.exists():
                    removed.append(path)
        if removed:
            log.warning("removed %d abandoned staging director%s in %s", len(removed),
                        "y" if len(removed) == 1 else "ies", self.tmp_root)
        return removed

    def stage_stream(self, stream: IO[bytes], dest: Path, max_bytes: int, field: str) -> tuple[str, int]:
        """Copy an upload into ``dest`` (in a staging dir), hashing it and refusing it past ``max_bytes``."""
        digest = hashlib.sha256()
        size = 0
        with open(dest, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"upload exceeds the {max_bytes}-byte limit", {field: [f"larger than {max_bytes} bytes"]})
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationFailed("empty upload", {field: ["the uploaded file is empty"]})
        return digest.hexdigest(), size


    # -- resumable uploads: one file per session, named by its token, beside the staging directories.
    # Not under a ``stage-*`` directory: a session may rest for hours between chunks, longer than the
    # staging grace, and its lifetime is the database row's (``boas.registry.uploads``), not an mtime's.

    @property
    def resumable_root(self) -> Path:
        return self.tmp_root / RESUMABLE_DIR

    def resumable_path(self, token: str) -> Path:
        """The partial file of the session ``token`` (a random URL-safe name, checked: never a path)."""
        if not RESUMABLE_TOKEN.fullmatch(token):
            raise ValueError(f"not an upload token: {token!r}")
        return self.resumable_root / token

    def receive_chunk(self, stream: IO[bytes], token: str, max_bytes: int, field: str) -> tuple[Path, str, int]:
        """Copy one chunk into a part file beside the session's, hashing it; refused (and removed) past ``max_bytes``.

        The chunk is appended only once its digest is checked, so a part that arrives corrupted or
        cut short never touches the session's file.
        """
        self.ensure()
        self.resumable_root.mkdir(mode=DIR_MODE, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{self.resumable_path(token).name}{PART_SUFFIX}", dir=self.resumable_root)
        part, digest, size = Path(name), hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"chunk exceeds the {max_bytes}-byte limit",
                                       {field: [f"larger than {max_bytes} bytes: send smaller chunks"]})
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return part, digest.hexdigest(), size

    def append_chunk(self, token: str, offset: int, part: Path) -> None:
        """Write a verified part at ``offset`` of the session's file, cut what followed, fsync; the part goes.

        Bytes past ``offset`` can only be a chunk whose database update never committed (a crash in
        between): they are overwritten, and the file ends where the new chunk does.
        """
        path = self.resumable_path(token)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            with os.fdopen(fd, "r+b") as out, open(part, "rb") as src:
                out.seek(offset)
                shutil.copyfileobj(src, out, CHUNK)
                out.truncate()
                out.flush()
                os.fsync(out.fileno())
        finally:
            part.unlink(missing_ok=True)

    def resumable_digest(self, token: str) -> tuple[str, int]:
        """The SHA-256 and size of a session's file as it is on disk now."""
        path = self.resumable_path(token)
        if not path.is_file():
            return "", 0
        return sha256_file(path)

    def link_resumable(self, token: str, dest: Path) -> None:
        """Give a staging directory the session's file under ``dest`` (a hard link: no copy, same filesystem)."""
        os.link(self.resumable_path(token), dest)

    def discard_resumable(self, token: str) -> None:
        """Remove a session's file and any part of it still being received."""
        self.resumable_path(token).unlink(missing_ok=True)
        if self.resumable_root.is_dir():
            for entry in os.scandir(self.resumable_root):
                if entry.name.startswith(token + PART_SUFFIX):
                    Path(entry.path).unlink(missing_ok=True)

    def sweep_resumable(self, live_tokens: set[str], grace_seconds: float) -> list[Path]:
        """Remove session files no live session owns, and parts of killed requests, idle ``grace_seconds``.

        The grace covers a session opened after ``live_tokens`` was read whose first chunk is being written.
        """
        if not self.resumable_root.is_dir():
            return []
        cutoff, removed = time.time() - grace_seconds, []
        for entry in os.scandir(self.resumable_root):
            token, is_part, _ = entry.name.partition(PART_SUFFIX)
            orphan = is_part or token not in live_tokens
            try:
                idle = entry.stat(follow_symlinks=False).st_mtime < cutoff
            except OSError:
                continue
            if orphan and idle:
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
        return removed


class FilesystemBlobStore(LocalStaging):
    """Blobs as files under ``<root>/blobs/sha256``: the data directory, or a filesystem shared by every machine."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.blob_root = self.root / "blobs" / "sha256"

    def ensure(self) -> None:
        """Create the store owner-only (0700); see ``LocalStaging._secure_local``."""
        self._secure_local(self.blob_root)

    def path_for(self, sha256: str) -> Path:
        return self.blob_root / checked_digest(sha256)[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def adopt(self, src: Path, sha256: str) -> bool:
        """Move a staged file whose digest is known into the store; True if it was new.

        The caller computed ``sha256`` while writing ``src``; it is fsynced here before the rename.
        """
        target = self.path_for(sha256)
        if target.is_file():
            if _intact(target, sha256):
                src.unlink(missing_ok=True)
                return False
            self._replace_damaged(src, target, sha256)
            return False  # not new: rows committed before may point at it
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(src, FILE_MODE)
        try:
            # link + unlink instead of rename: if another writer adopted the same content in
            # between, link fails and we keep theirs rather than silently replacing it.
            os.link(src, target)
        except FileExistsError:
            src.unlink(missing_ok=True)
            return False
        src.unlink()
        _fsync_dir(target.parent)
        return True

    def _replace_damaged(self, src: Path, target: Path, sha256: str) -> None:
        """A stored blob no longer hashes to its name: the staged, verified copy takes its place.

        Reusing it would make every new version that shares the content broken too. The new copy
        is fsynced, then renamed over the damaged one in one step; a concurrent writer doing the
        same renames identical bytes.
        """
        log.error("stored file %s does not match its digest: replaced by the new upload's intact copy", sha256)
        with open(src, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(src, FILE_MODE)
        os.replace(src, target)
        _fsync_dir(target.parent)

    def remove(self, digests: Iterable[str]) -> None:
        """Remove blobs this request created, when the transaction that referenced them failed."""
        for sha256 in digests:
            self.path_for(sha256).unlink(missing_ok=True)

    def verified_path(self, sha256: str, size: int | None = None) -> Path:
        """Return the blob's path after checking it still hashes to ``sha256``."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise IntegrityFailure(f"stored file {sha256} is missing", code="artifact_missing")
        actual, actual_size = sha256_file(path)
        if actual != sha256 or (size is not None and actual_size != size):
            raise IntegrityFailure(f"stored file {sha256} does not match its recorded digest; refused")
        return path
