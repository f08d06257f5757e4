"""Where artifacts go and what an upload is: handed to services, never read from globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from boas.registry.artifacts.archives import ArchiveLimits
from registry_db.blobs import BlobStore
from registry_db.sources import ImportSources


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
    # Where an admin may register a dataset in place (registry_db.sources); empty: nowhere.
    imports: ImportSources = field(default_factory=ImportSources)


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the edge received it: a readable stream and the client's file name."""

    stream: IO[bytes]
    filename: str
