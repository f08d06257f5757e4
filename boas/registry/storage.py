"""Where artifacts go and what an upload is: handed to services, never read from globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from boas.registry.artifacts.archives import ArchiveLimits
from registry_db.blobs import BlobStore


@dataclass(frozen=True)
class Storage:
    """Where artifacts go and how big an upload may be: passed to services, never read from globals."""

    blobs: BlobStore
    limits: ArchiveLimits
    max_upload_bytes: int
    # Resumable uploads (boas.registry.uploads): the largest declared size, the largest chunk, the lifetime.
    max_resumable_bytes: int = 5 * 1024**3
    upload_chunk_bytes: int = 64 * 1024**2
    upload_session_seconds: float = 24 * 3600.0


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the edge received it: a readable stream and the client's file name."""

    stream: IO[bytes]
    filename: str
