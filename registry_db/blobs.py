"""Content-addressed file store: each file lives at ``blobs/sha256/ab/<digest>``.

Writes are atomic (temp file on the same filesystem, fsync, rename, fsync of the directory),
so a crash leaves either nothing or a complete file. Reads verify the digest first.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from registry_db.errors import IntegrityFailure, TooLarge, ValidationFailed

CHUNK = 1024 * 1024


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


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.blob_root = self.root / "blobs" / "sha256"
        self.tmp_root = self.root / "tmp"

    def ensure(self) -> None:
        self.blob_root.mkdir(parents=True, exist_ok=True)
        self.tmp_root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.blob_root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def staging_dir(self) -> Path:
        """A private directory on the store's filesystem, so that adoption is a rename."""
        self.ensure()
        return Path(tempfile.mkdtemp(prefix="stage-", dir=self.tmp_root))

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

    def adopt(self, src: Path, sha256: str) -> bool:
        """Move a staged file whose digest is known into the store; True if it was new.

        The caller computed ``sha256`` while writing ``src``; it is fsynced here before the rename.
        """
        target = self.path_for(sha256)
        if target.is_file():
            src.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(src, 0o444)
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
