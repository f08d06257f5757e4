"""Artifact intake: an upload copied under its size cap, unpacked as hostile, read as data, scanned.

Nothing here touches the database: ``create_version`` stages the artifact with these functions
inside ``store.staged_write`` and adopts the files only once its rows are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boas.registry.artifacts.archives import extract_archive
from boas.registry.artifacts.mlmodel import read_mlmodel
from boas.registry.artifacts.pickle_scan import scan_pickles
from boas.registry.storage import Storage, Upload
from registry_db.errors import ValidationFailed


@dataclass
class StagedArtifact:
    archive_sha256: str
    archive_size: int
    files: list[tuple[str, str, int]]
    mlmodel: dict[str, Any] | None


def stage_artifact(storage: Storage, upload: Upload, root: Path, *, field: str, mlflow: bool) -> StagedArtifact:
    """Copy the upload into ``root`` (size-capped), unpack it and read it as data."""
    archive_sha256, archive_size = storage.blobs.stage_stream(upload.stream, root / "upload", storage.max_upload_bytes,
                                                              field)
    tree = root / "tree"
    extracted = extract_archive(root / "upload", tree, storage.limits, field=field)
    info = read_mlmodel(tree, field=field).as_dict() if mlflow else None
    scan = scan_pickles(tree, info["pickled_files"] if info else [])
    if scan.flagged:
        raise ValidationFailed("the archive holds a malicious pickle", {field: [
            f"serialised files would run {', '.join(scan.flagged)} when loaded: refused"]})
    if info is not None:
        info["pickle_scan"] = scan.as_dict()
    return StagedArtifact(archive_sha256, archive_size, [(f.path, f.sha256, f.size) for f in extracted], info)

