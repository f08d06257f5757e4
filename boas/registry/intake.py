"""Artifact intake: an upload copied under its size cap, then checked by the rules every artifact passes.

Nothing here touches the database: ``create_version`` stages the artifact with these functions
inside ``store.staged_write`` and adopts the files only once its rows are written. The rules themselves
live in ``boas.registry.artifacts.checks``, which ``boas push`` runs too before it uploads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boas.registry.artifacts.checks import check_archive
from boas.registry.storage import Storage, Upload


@dataclass
class StagedArtifact:
    archive_sha256: str
    archive_size: int
    files: list[tuple[str, str, int]]
    mlmodel: dict[str, Any] | None
    execution: dict[str, Any] | None = None  # decide_execution(): how an MLflow model may be audited


def stage_artifact(storage: Storage, upload: Upload, root: Path, *, field: str, mlflow: bool) -> StagedArtifact:
    """Copy the upload into ``root`` (size-capped), unpack it and read it as data."""
    archive_sha256, archive_size = storage.blobs.stage_stream(upload.stream, root / "upload", storage.max_upload_bytes,
                                                              field)
    return check_staged_artifact(storage, root, archive_sha256, archive_size, field=field, mlflow=mlflow)


def check_staged_artifact(storage: Storage, root: Path, archive_sha256: str, archive_size: int, *, field: str,
                          mlflow: bool) -> StagedArtifact:
    """Unpack and read an archive already staged at ``root / "upload"`` (streamed, or a resumable upload's)."""
    checked = check_archive(root / "upload", root / "tree", storage.limits, field=field, mlflow=mlflow)
    return StagedArtifact(archive_sha256, archive_size, [(f.path, f.sha256, f.size) for f in checked.files],
                          checked.mlmodel, checked.execution)
