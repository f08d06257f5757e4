"""Version services: list and read versions, create drafts with their artifact, open verified files.

Services take the session and the acting user explicitly, check a named permission, call the
store, and own the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from boas.registry import permissions, schemas, uploads
from boas.registry.algorithms import can_see_drafts, get_algorithm
from boas.registry.intake import StagedArtifact, check_staged_artifact, stage_artifact
from boas.registry.storage import Storage, Upload
from model_cards import semver
from model_cards.prefill import initial_card
from model_cards.schema import validate_card
from registry_db import store
from registry_db.errors import BoasError, NotFound, ValidationFailed
from registry_db.models import (
    Algorithm,
    AlgorithmKind,
    ArtifactFile,
    Moderation,
    UploadPurpose,
    User,
    Version,
    VersionState,
    utcnow,
)


def list_versions(session: Session, actor: User | None, slug: str) -> list[Version]:
    """Versions newest first (semver precedence); drafts only for those who may see them."""
    algorithm = get_algorithm(session, actor, slug)
    versions = store.list_versions(session, algorithm)
    if not can_see_drafts(actor, algorithm):
        versions = [v for v in versions if v.state != VersionState.DRAFT]
    return sorted(versions, key=lambda v: semver.sort_key(v.version), reverse=True)


def get_version(session: Session, actor: User | None, slug: str, version: str) -> Version:
    algorithm = get_algorithm(session, actor, slug)
    row = store.get_version(session, algorithm, version)
    if row.state == VersionState.DRAFT and not can_see_drafts(actor, algorithm):
        raise NotFound(f"version '{version}' of algorithm '{slug}' not found")
    return row


def check_fixed_reports(session: Session, algorithm: Algorithm, version_id: int | None,
                        report_ids: Sequence[int]) -> list[str]:
    """Problems with a list of reports a version says it fixes (each must be an approved report of
    another version of the same algorithm); an empty list when it is fine."""
    problems = []
    for report_id in dict.fromkeys(report_ids):
        try:
            report = store.get_report(session, report_id)
        except NotFound:
            problems.append(f"report {report_id} does not exist")
            continue
        if report.version.algorithm_id != algorithm.id or report.moderation != Moderation.APPROVED:
            problems.append(f"report {report_id} is not a public report on algorithm '{algorithm.slug}'")
        elif report.version_id == version_id:
            problems.append(f"report {report_id} is on this very version")
    return problems


def _checked_upload(session: Session, actor: User | None, slug: str, *, version: str | None, card_json: str | None,
                    card_from: str | None, model: Upload | None, code: Upload | None,
                    fixes_reports: Sequence[int | str] | None = None, upload_id: str | None = None):
    """Everything an upload checks before it reads its archive; raises ValidationFailed with every field."""
    algorithm = get_algorithm(session, actor, slug)
    author = permissions.require_manage_algorithm(actor, algorithm)
    given = {"version": version, "card": card_json or None, "model": model, "code": code, "card_from": card_from,
             "fixes_reports": list(fixes_reports) if fixes_reports else None, "upload_id": upload_id}
    data, errors = schemas.check(schemas.VersionUploadSchema(), {k: v for k, v in given.items() if v is not None})
    card: dict[str, Any] = {}
    if "card" in data:
        try:
            card = validate_card(data["card"])
        except ValidationFailed as exc:
            errors.update({f"card.{path}": messages for path, messages in exc.errors.items()})
    previous_card = None
    if card_from and "card_from" not in errors:
        try:
            previous_card = store.get_version(session, algorithm, card_from).card
        except NotFound:
            errors["card_from"] = [f"no version '{card_from}' to start from"]
    if algorithm.kind == AlgorithmKind.ML_MODEL and code is not None:
        errors["code"] = ["an ml_model version carries an MLflow model in 'model', not a code archive"]
    if algorithm.kind == AlgorithmKind.RULE_BASED and model is not None:
        errors["model"] = ["a rule_based version carries its code archive in 'code', not an MLflow model"]
    if upload_id is not None and (model is not None or code is not None):
        errors["upload_id"] = ["send the archive as a file or as an upload_id, not both"]
    fixes = list(dict.fromkeys(data.get("fixes_reports", [])))
    if fixes and (problems := check_fixed_reports(session, algorithm, None, fixes)):
        errors["fixes_reports"] = problems
    if errors:
        raise ValidationFailed("invalid version", errors)
    return algorithm, author, card, previous_card, fixes


def check_version_upload(session: Session, actor: User | None, slug: str, *, version: str | None,
                         card_json: str | None, card_from: str | None = None,
                         fixes_reports: Sequence[int | str] | None = None) -> None:
    """The checks ``create_version`` makes before it reads the archive, alone, so a form can report a bad
    version number or card before a large archive is sent (the upload checks again: the server decides)."""
    _checked_upload(session, actor, slug, version=version, card_json=card_json, card_from=card_from, model=None,
                    code=None, fixes_reports=fixes_reports)
    session.rollback()


def create_version(
    session: Session,
    actor: User | None,
    storage: Storage,
    slug: str,
    *,
    version: str | None,
    card_json: str | None,
    model: Upload | None = None,
    code: Upload | None = None,
    card_from: str | None = None,
    fixes_reports: Sequence[int | str] | None = None,
    upload_id: str | None = None,
    now: datetime | None = None,
) -> Version:
    """Create a draft version with its optional artifact; all-or-nothing on rows and files.

    ``fixes_reports``: ids of approved reports on the algorithm's other versions, as sent (the schema loads them).
    ``upload_id``: the author's completed resumable upload (purpose ``version``) as the model (an ``ml_model``)
    or the code archive (a ``rule_based`` algorithm), used up if the version is created.
    """
    algorithm, author, card, previous_card, fixes = _checked_upload(
        session, actor, slug, version=version, card_json=card_json, card_from=card_from, model=model, code=code,
        fixes_reports=fixes_reports, upload_id=upload_id)
    resumable_field = "model" if algorithm.kind == AlgorithmKind.ML_MODEL else "code"
    # End the read transaction before the slow part; the write transaction starts after it.
    session.rollback()

    upload, field = (model, "model") if model is not None else (code, "code")
    taken = None
    staged: StagedArtifact | None
    with store.staged_write(session, storage.blobs) as staging:
        if upload_id is not None:
            field = resumable_field
            taken = uploads.take_upload(session, author, storage, upload_id, UploadPurpose.VERSION,
                                        staging.root / "upload", now=now or utcnow())
            staged = check_staged_artifact(storage, staging.root, taken.sha256, taken.size, field=field,
                                           mlflow=field == "model")
        else:
            staged = (stage_artifact(storage, upload, staging.root, field=field, mlflow=field == "model") if upload
                      else None)
        store.begin_write(session)
        algorithm = store.get_algorithm(session, slug)
        row = store.add_version(
            session,
            Version(
                algorithm_id=algorithm.id, version=version, state=VersionState.DRAFT,
                card=initial_card(card, staged.mlmodel if staged else None, previous_card),
                created_by_id=author.id,
                artifact_kind=("mlflow_model" if field == "model" else "code_archive") if staged else None,
                archive_sha256=staged.archive_sha256 if staged else None,
                archive_size=staged.archive_size if staged else None,
                mlmodel=staged.mlmodel if staged else None,
                execution=staged.execution["mode"] if staged and staged.execution else None,
                execution_detail=staged.execution if staged else None,
            ),
        )
        if fixes:
            store.set_fixed_reports(session, row, fixes)
        if staged:
            store.add_artifact_files(session, row, staged.files)
            adoptions = [(staging.root / "tree" / path, sha256) for path, sha256, _size in staged.files]
            adoptions.append((staging.root / "upload", staged.archive_sha256))
            for source, sha256 in sorted(adoptions, key=lambda a: a[1]):  # one lock order: no deadlock between uploads
                staging.adopt(source, sha256)
        store.append_event(
            session, actor=author, action="version.created", object_type="version",
            object_ref=f"{slug}@{version}",
            details={"archive_sha256": row.archive_sha256, "files": len(staged.files) if staged else 0,
                     "execution": row.execution, "fixes_reports": fixes},
        )
        if taken:
            uploads.consume_upload(session, taken)
        session.commit()
    if taken:
        uploads.release_upload_file(storage, taken)
    session.refresh(row)
    return row


def open_artifact(
    session: Session, actor: User | None, storage: Storage, slug: str, version: str, path: str
) -> tuple[ArtifactFile, Path]:
    """A version's file, verified against its manifest digest before it is served."""
    row = get_version(session, actor, slug, version)
    artifact = store.get_artifact_file(session, row, path)
    try:
        return artifact, storage.blobs.verified_path(artifact.sha256, artifact.size)
    except BoasError:
        store.begin_write(session)
        store.append_event(
            session, actor=actor, action="artifact.integrity_failure", object_type="version",
            object_ref=f"{slug}@{version}", details={"path": path, "sha256": artifact.sha256},
        )
        session.commit()
        raise


def open_archive(session: Session, actor: User | None, storage: Storage, slug: str, version: str) -> tuple[Version, Path]:
    """The archive exactly as uploaded, verified."""
    row = get_version(session, actor, slug, version)
    if row.archive_sha256 is None:
        raise NotFound(f"version '{version}' has no artifact")
    return row, storage.blobs.verified_path(row.archive_sha256, row.archive_size)
