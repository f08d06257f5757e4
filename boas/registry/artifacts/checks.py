"""Every rule an uploaded artifact must pass, in one place, callable without a database or a web server.

The registry runs ``check_archive`` on each upload (``boas.registry.intake``) and ``boas push`` runs the very
same function on the archive it is about to send (``boas.client``), so an author learns that a model would be
refused before uploading it, in the words the server would use. Keep every upload rule here (or in the modules
it calls), never in one of its two callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boas.registry.artifacts.archive_scan import ArchiveLimits, ExtractedFile
from boas.registry.artifacts.archives import extract_archive
from boas.registry.artifacts.execution import code_files, decide_execution
from boas.registry.artifacts.mlmodel import read_mlmodel
from boas.registry.artifacts.pickle_scan import scan_pickles
from registry_db.errors import ValidationFailed


@dataclass(frozen=True)
class CheckedArtifact:
    """An archive that passed: its files, and for an MLflow model what was read from it."""

    files: list[ExtractedFile]
    mlmodel: dict[str, Any] | None  # read_mlmodel() as a dict, with its pickle scan
    execution: dict[str, Any] | None  # decide_execution(): how the model may be audited


def check_archive(archive: Path, tree: Path, limits: ArchiveLimits, *, field: str, mlflow: bool) -> CheckedArtifact:
    """Unpack an untrusted archive into the new directory ``tree`` and apply every upload rule to it.

    Raises ``ValidationFailed`` or ``TooLarge`` naming ``field`` (or ``signature``); ``tree`` is removed by
    ``extract_archive`` if unpacking fails, and left to the caller otherwise.
    """
    extracted = extract_archive(archive, tree, limits, field=field)
    info = check_tree(tree, field=field, mlflow=mlflow)
    return CheckedArtifact(extracted, info, decide_execution(tree, info) if info is not None else None)


def check_tree(tree: Path, *, field: str, mlflow: bool) -> dict[str, Any] | None:
    """The rules on an unpacked artifact: MLmodel read as data, a named signature, no malicious pickle."""
    info = read_mlmodel(tree, field=field).as_dict() if mlflow else None
    if info is not None:
        require_signature(info)
    pickles = [path for path, kind in code_files(tree) if kind == "pickle"] if info else []
    scan = scan_pickles(tree, sorted({*(info["pickled_files"] if info else []), *pickles}))
    if scan.flagged:
        raise ValidationFailed(
            "the archive holds a malicious pickle",
            {field: [f"serialised files would run {', '.join(scan.flagged)} when loaded: refused"]},
        )
    if info is not None:
        info["pickle_scan"] = scan.as_dict()
    return info


def require_signature(info: dict[str, Any]) -> None:
    """A model is handed only the columns its input signature names, so it must name them."""
    inputs = (info.get("signature") or {}).get("inputs")
    if not inputs:
        raise ValidationFailed(
            "an ml_model needs an MLflow input signature",
            {
                "signature": [
                    "the MLmodel has no input signature: save the model with signature=infer_signature(X, ...) so that "
                    "it is given only the columns it names"
                ]
            },
        )
    if not isinstance(inputs, list) or not all(isinstance(c, dict) and c.get("name") for c in inputs):
        raise ValidationFailed(
            "the model's input signature does not name its columns",
            {
                "signature": [
                    "every input of the signature must be a named column (a DataFrame signature), not a bare tensor"
                ]
            },
        )
