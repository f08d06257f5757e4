"""Artifact intake: an upload copied under its size cap, unpacked as hostile, read as data, scanned.

Nothing here touches the database: ``create_version`` stages the artifact with these functions
inside ``store.staged_write`` and adopts the files only once its rows are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boas.registry.artifacts.archives import extract_archive
from boas.registry.artifacts.execution import code_files, decide_execution
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
    execution: dict[str, Any] | None = None  # decide_execution(): how an MLflow model may be audited


def stage_artifact(storage: Storage, upload: Upload, root: Path, *, field: str, mlflow: bool) -> StagedArtifact:
    """Copy the upload into ``root`` (size-capped), unpack it and read it as data."""
    archive_sha256, archive_size = storage.blobs.stage_stream(upload.stream, root / "upload", storage.max_upload_bytes,
                                                              field)
    tree = root / "tree"
    extracted = extract_archive(root / "upload", tree, storage.limits, field=field)
    info = read_mlmodel(tree, field=field).as_dict() if mlflow else None
    if info is not None:
        require_signature(info)
    pickles = [path for path, kind in code_files(tree) if kind == "pickle"] if info else []
    scan = scan_pickles(tree, sorted({*(info["pickled_files"] if info else []), *pickles}))
    if scan.flagged:
        raise ValidationFailed("the archive holds a malicious pickle", {field: [
            f"serialised files would run {', '.join(scan.flagged)} when loaded: refused"]})
    if info is not None:
        info["pickle_scan"] = scan.as_dict()
    return StagedArtifact(archive_sha256, archive_size, [(f.path, f.sha256, f.size) for f in extracted], info,
                          decide_execution(tree, info) if info is not None else None)


def require_signature(info: dict[str, Any]) -> None:
    """A model is handed only the columns its input signature names, so it must name them."""
    inputs = (info.get("signature") or {}).get("inputs")
    if not inputs:
        raise ValidationFailed("an ml_model needs an MLflow input signature", {"signature": [
            "the MLmodel has no input signature: save the model with signature=infer_signature(X, ...) so that "
            "it is given only the columns it names"]})
    if not isinstance(inputs, list) or not all(isinstance(c, dict) and c.get("name") for c in inputs):
        raise ValidationFailed("the model's input signature does not name its columns", {"signature": [
            "every input of the signature must be a named column (a DataFrame signature), not a bare tensor"]})

