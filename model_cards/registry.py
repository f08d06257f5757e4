"""Registry services: algorithms and their versions, artifacts, publication and yanking.

Services take the session and the acting user explicitly, check a named permission, call the
store, and own the commit. The HTTP API, the pages and the CLI all call these functions.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from model_cards import permissions, schemas, semver, taxonomy
from model_cards.archives import ArchiveLimits, extract_archive
from model_cards.card_prefill import prefill_from_mlmodel
from model_cards.card_schema import validate_card
from model_cards.mlmodel import read_mlmodel
from model_cards.pickle_scan import scan_pickles
from registry_db import store
from registry_db.blobs import BlobStore
from registry_db.errors import BoasError, Conflict, NotFound, ValidationFailed
from registry_db.models import Algorithm, AlgorithmKind, ArtifactFile, Role, User, Version, VersionState, utcnow

MAX_CARD_BYTES = 1024 * 1024
EDITABLE_FIELDS = (
    "name", "summary", "description", "code_repository_url", "code_commit", "license", *taxonomy.VOCABULARIES,
)


@dataclass(frozen=True)
class Storage:
    """Where artifacts go and how big an upload may be: passed to services, never read from globals."""

    blobs: BlobStore
    limits: ArchiveLimits
    max_upload_bytes: int


@dataclass(frozen=True)
class Policy:
    """Publication rules an operator may tune (documented in the README)."""

    require_bias_audit: bool = True
    public_base_url: str = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the edge received it: a readable stream and the client's file name."""

    stream: IO[bytes]
    filename: str


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    total: int
    page: int
    per_page: int
    audited: frozenset[str] = frozenset()


# -- algorithms ----------------------------------------------------------------------------


def create_algorithm(session: Session, actor: User | None, data: dict[str, Any]) -> Algorithm:
    """Register a new algorithm owned by its author (and their organisation)."""
    store.begin_write(session)
    author = permissions.require_create_algorithm(actor)
    data = schemas.load(schemas.AlgorithmCreateSchema(), data, "invalid algorithm")
    fields = {k: data[k] for k in EDITABLE_FIELDS if data.get(k) is not None}
    algorithm = Algorithm(
        slug=data["slug"], kind=AlgorithmKind(data["kind"]), created_by_id=author.id,
        organisation_id=author.organisation_id, **fields,
    )
    algorithm.owners = [author]
    store.add_algorithm(session, algorithm)
    store.append_event(
        session, actor=author, action="algorithm.created", object_type="algorithm", object_ref=algorithm.slug,
        details={"kind": algorithm.kind.value},
    )
    session.commit()
    return algorithm


def update_algorithm(session: Session, actor: User | None, slug: str, data: dict[str, Any]) -> Algorithm:
    """Edit an algorithm's description, taxonomy and owners; the slug and kind are stable."""
    store.begin_write(session)
    algorithm = get_algorithm(session, actor, slug)
    user = permissions.require_manage_algorithm(actor, algorithm)
    data = schemas.load(schemas.AlgorithmUpdateSchema(), data, "invalid algorithm update")
    owners: list[User] = []
    errors: dict[str, list[str]] = {}
    for email in data.get("owners") or []:
        owner = store.get_user_by_email(session, email)
        if owner is None or owner.role not in (Role.AUTHOR, Role.ADMIN) or not owner.active:
            errors.setdefault("owners", []).append(f"'{email}' is not an active author account")
        else:
            owners.append(owner)
    if errors:
        raise ValidationFailed("invalid algorithm update", errors)
    changed = sorted(k for k in EDITABLE_FIELDS if k in data and data[k] != getattr(algorithm, k))
    for field in changed:
        setattr(algorithm, field, data[field])
    if owners and sorted(o.email for o in algorithm.owners) != sorted(o.email for o in owners):
        algorithm.owners = owners
        changed.append("owners")
    if changed:
        store.append_event(
            session, actor=user, action="algorithm.updated", object_type="algorithm", object_ref=slug,
            details={"fields": changed},
        )
    session.commit()
    return algorithm


def _can_see_drafts(actor: User | None, algorithm: Algorithm) -> bool:
    return actor is not None and actor.active and (
        permissions.can_manage(actor, algorithm) or actor.role == Role.EVALUATOR
    )


def get_algorithm(session: Session, actor: User | None, slug: str) -> Algorithm:
    """An algorithm as the actor may see it: the public only sees those with a released version."""
    algorithm = store.get_algorithm(session, slug)
    released = any(v.state != VersionState.DRAFT for v in algorithm.versions)
    if not released and not _can_see_drafts(actor, algorithm):
        raise NotFound(f"algorithm '{slug}' not found")
    return algorithm


def list_algorithms(
    session: Session, actor: User | None, *, filters: dict[str, Any], q: str | None, page: int, per_page: int,
    organisation_kind: str | None = None, audited: bool | None = None, mine: bool = False, sort: str = "name",
) -> Page:
    """The catalogue: published algorithms for everyone, plus drafts for their owners and staff (``mine``: own only)."""
    see_all = actor is not None and actor.active and actor.role in (Role.ADMIN, Role.EVALUATOR)
    visible_to = actor.id if actor else None
    items, total = store.query_algorithms(
        session, filters=filters, q=q, visible_to_user_id=visible_to, see_all=see_all, page=page, per_page=per_page,
        organisation_kind=organisation_kind, audited=audited, owner_id=actor.id if (mine and actor) else None, sort=sort)
    audited_items = store.query_algorithms(
        session, filters={}, q=None, visible_to_user_id=visible_to, see_all=see_all, page=1,
        per_page=max(len(items), 1), audited=True, ids=[a.id for a in items])[0] if items else []
    return Page(items, total, page, per_page, audited=frozenset(a.slug for a in audited_items))


def latest_version(algorithm: Algorithm) -> str | None:
    """The highest published version by semver precedence (yanked and drafts excluded)."""
    published = [v.version for v in algorithm.versions if v.state == VersionState.PUBLISHED]
    return max(published, key=semver.sort_key, default=None)


# -- versions ------------------------------------------------------------------------------


def list_versions(session: Session, actor: User | None, slug: str) -> list[Version]:
    """Versions newest first (semver precedence); drafts only for those who may see them."""
    algorithm = get_algorithm(session, actor, slug)
    versions = store.list_versions(session, algorithm)
    if not _can_see_drafts(actor, algorithm):
        versions = [v for v in versions if v.state != VersionState.DRAFT]
    return sorted(versions, key=lambda v: semver.sort_key(v.version), reverse=True)


def get_version(session: Session, actor: User | None, slug: str, version: str) -> Version:
    algorithm = get_algorithm(session, actor, slug)
    row = store.get_version(session, algorithm, version)
    if row.state == VersionState.DRAFT and not _can_see_drafts(actor, algorithm):
        raise NotFound(f"version '{version}' of algorithm '{slug}' not found")
    return row


def parse_card(raw: str | None) -> tuple[dict[str, Any], list[str]]:
    """Parse the multipart ``card`` field: a JSON object, at most 1 MiB."""
    if raw is None or raw == "":
        return {}, []
    if len(raw.encode()) > MAX_CARD_BYTES:
        return {}, [f"card is larger than {MAX_CARD_BYTES} bytes"]
    try:
        card = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    except (ValueError, RecursionError):  # e.g. a number of thousands of digits, or absurd nesting
        return {}, ["not valid JSON: a number is too long or the document is nested too deeply"]
    if not isinstance(card, dict):
        return {}, ["must be a JSON object"]
    return card, []


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def initial_card(declared: dict[str, Any], mlmodel: dict[str, Any] | None,
                 previous: dict[str, Any] | None) -> dict[str, Any]:
    """A new draft's card: the previous version's (if asked), then the declared card, over MLflow facts.

    Facts read from the MLflow model fill only what the authors did not declare, and
    ``derived.fields`` lists exactly those, so readers can tell declared from derived.
    """
    card = merge_patch({k: v for k, v in (previous or {}).items() if k != "derived"}, declared)
    card.pop("derived", None)
    if not mlmodel:
        return card
    prefill = prefill_from_mlmodel(mlmodel)
    derived = prefill.pop("derived")
    merged = merge_patch(prefill, card)
    derived["fields"] = [p for p in derived["fields"]
                         if (card.get(p.split(".")[0]) or {}).get(p.split(".", 1)[1]) is None]
    merged["derived"] = derived
    return merged


@dataclass
class _Staged:
    archive_sha256: str
    archive_size: int
    files: list[tuple[str, str, int]]
    mlmodel: dict[str, Any] | None


def _stage_upload(storage: Storage, upload: Upload, root: Path, *, field: str, mlflow: bool) -> _Staged:
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
    return _Staged(archive_sha256, archive_size, [(f.path, f.sha256, f.size) for f in extracted], info)


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
) -> Version:
    """Create a draft version with its optional artifact; all-or-nothing on rows and files."""
    algorithm = get_algorithm(session, actor, slug)
    author = permissions.require_manage_algorithm(actor, algorithm)
    errors: dict[str, list[str]] = {}
    if not version:
        errors["version"] = ["required"]
    elif not semver.is_valid(version):
        errors["version"] = ["must be a semantic version such as 1.0.0 or 2.1.0-rc.1"]
    card, card_errors = parse_card(card_json)
    if card_errors:
        errors["card"] = card_errors
    else:
        try:
            card = validate_card(card)
        except ValidationFailed as exc:
            errors.update({f"card.{path}": messages for path, messages in exc.errors.items()})
    previous_card = None
    if card_from:
        try:
            previous_card = store.get_version(session, algorithm, card_from).card
        except NotFound:
            errors["card_from"] = [f"no version '{card_from}' to start from"]
    if algorithm.kind == AlgorithmKind.ML_MODEL and code is not None:
        errors["code"] = ["an ml_model version carries an MLflow model in 'model', not a code archive"]
    if algorithm.kind == AlgorithmKind.RULE_BASED and model is not None:
        errors["model"] = ["a rule_based version carries its code archive in 'code', not an MLflow model"]
    if errors:
        raise ValidationFailed("invalid version", errors)
    assert version is not None
    # End the read transaction before the slow part; the write transaction starts after it.
    session.rollback()

    upload, field = (model, "model") if model is not None else (code, "code")
    with store.staged_write(session, storage.blobs) as staging:
        staged = _stage_upload(storage, upload, staging.root, field=field, mlflow=field == "model") if upload else None
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
            ),
        )
        if staged:
            store.add_artifact_files(session, row, staged.files)
            adoptions = [(staging.root / "tree" / path, sha256) for path, sha256, _size in staged.files]
            adoptions.append((staging.root / "upload", staged.archive_sha256))
            for source, sha256 in sorted(adoptions, key=lambda a: a[1]):  # one lock order: no deadlock between uploads
                staging.adopt(source, sha256)
        store.append_event(
            session, actor=author, action="version.created", object_type="version",
            object_ref=f"{slug}@{version}",
            details={"archive_sha256": row.archive_sha256, "files": len(staged.files) if staged else 0},
        )
        session.commit()
    session.refresh(row)
    return row


def yank_version(session: Session, actor: User | None, slug: str, version: str, reason: str) -> Version:
    """Withdraw a published version, reversibly; the reason is shown on its card."""
    store.begin_write(session)
    algorithm = get_algorithm(session, actor, slug)
    user = permissions.require_manage_algorithm(actor, algorithm)
    if not (reason or "").strip():
        raise ValidationFailed("a reason is required", {"reason": ["required: say why users should not rely on it"]})
    row = store.get_version_for_update(session, algorithm, version)
    if row.state != VersionState.PUBLISHED:
        raise Conflict(f"only a published version can be yanked; this one is {row.state.value}", code="not_published")
    row.state = VersionState.YANKED
    row.yanked_at = utcnow()
    row.yank_reason = reason.strip()
    store.append_event(
        session, actor=user, action="version.yanked", object_type="version", object_ref=f"{slug}@{version}",
        details={"reason": row.yank_reason},
    )
    session.commit()
    return row


def unyank_version(session: Session, actor: User | None, slug: str, version: str) -> Version:
    """Reverse a yank; the version is published again, unchanged."""
    store.begin_write(session)
    algorithm = get_algorithm(session, actor, slug)
    user = permissions.require_manage_algorithm(actor, algorithm)
    row = store.get_version_for_update(session, algorithm, version)
    if row.state != VersionState.YANKED:
        raise Conflict(f"version '{version}' is not yanked; it is {row.state.value}", code="not_yanked")
    row.state = VersionState.PUBLISHED
    row.yanked_at = None
    row.yank_reason = None
    store.append_event(
        session, actor=user, action="version.unyanked", object_type="version", object_ref=f"{slug}@{version}"
    )
    session.commit()
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
