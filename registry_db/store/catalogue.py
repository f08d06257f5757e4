"""Algorithms, their versions and artifact files; the catalogue's search."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from registry_db.errors import NotFound
from registry_db.models import (
    Algorithm,
    ArtifactFile,
    AuditEvent,
    AuditKind,
    Job,
    JobStatus,
    Organisation,
    OrganisationKind,
    User,
    Version,
    VersionState,
    algorithm_owner,
)
from registry_db.store.base import _add_or_conflict

# -- algorithms ----------------------------------------------------------------------------


def get_algorithm(session: Session, slug: str) -> Algorithm:
    algorithm = session.execute(select(Algorithm).where(Algorithm.slug == slug)).scalar_one_or_none()
    if algorithm is None:
        raise NotFound(f"algorithm '{slug}' not found")
    return algorithm


def count_algorithms(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Algorithm)).scalar_one()


def add_algorithm(session: Session, algorithm: Algorithm) -> Algorithm:
    _add_or_conflict(session, algorithm, f"an algorithm with slug '{algorithm.slug}' already exists", "slug")
    return algorithm


MAX_SEARCH_TERMS = 10  # each term is four LIKE clauses; a query of hundreds of words is not a search


def _has_public_bias_audit():
    """A succeeded bias audit on a released (published or yanked) version."""
    return exists().where(Job.version_id == Version.id, Version.algorithm_id == Algorithm.id,
                          Version.state != VersionState.DRAFT, Job.kind == AuditKind.BIAS,
                          Job.status == JobStatus.SUCCEEDED)


def audited_algorithm_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Which of these algorithms have a public bias audit (one query, for a catalogue page)."""
    if not ids:
        return set()
    return set(session.execute(select(Algorithm.id).where(Algorithm.id.in_(list(ids)), _has_public_bias_audit()))
               .scalars())


def public_bias_jobs(session: Session, algorithm_ids: Sequence[int]) -> list[tuple[int, Job]]:
    """(algorithm id, job) of every succeeded bias audit of a released version of these algorithms, in one query."""
    if not algorithm_ids:
        return []
    rows = session.execute(
        select(Version.algorithm_id, Job).join(Version, Job.version_id == Version.id)
        .where(Version.algorithm_id.in_(list(algorithm_ids)), Version.state != VersionState.DRAFT,
               Job.kind == AuditKind.BIAS, Job.status == JobStatus.SUCCEEDED)
        .order_by(Job.id))
    return [(algorithm_id, job) for algorithm_id, job in rows]


ACCOUNT_CHANGES = ("user.updated", "organisation.created", "organisation.updated")


def public_page_state(session: Session, slug: str) -> dict[str, Any] | None:
    """Plain columns that decide how an algorithm's released pages look, in three small queries (no ORM rows):
    its released versions, its owners and organisation, and the audits of its released versions."""
    versions = session.execute(
        select(Version.id, Version.version, Version.state, Version.card_sha256, Version.updated_at,
               Version.published_at, Version.yanked_at, Algorithm.id, Algorithm.organisation_id)
        .join(Algorithm, Version.algorithm_id == Algorithm.id)
        .where(Algorithm.slug == slug, Version.state != VersionState.DRAFT)).all()
    if not versions:
        return None
    owners: Sequence[int] = session.execute(select(algorithm_owner.c.user_id).where(algorithm_owner.c.algorithm_id == versions[0][7])
                             .order_by(algorithm_owner.c.user_id)).scalars().all()
    jobs = session.execute(
        select(Job.version_id, Job.id, Job.kind, Job.status, Job.cached_from_id, Job.created_by_id, Job.finished_at,
               Job.report_sha256).where(Job.version_id.in_([v[0] for v in versions])).order_by(Job.id)).all()
    # A page names evaluators of record and judges their independence from their organisation: any change
    # to an account (name, role, organisation) is a new page. Account changes are rare; sign-ins are not counted.
    accounts = session.execute(select(AuditEvent.id, AuditEvent.at).where(AuditEvent.action.in_(ACCOUNT_CHANGES))
                               .order_by(AuditEvent.id.desc()).limit(1)).first()
    return {"versions": [tuple(v[:7]) for v in versions], "organisation_id": versions[0][8], "owners": list(owners),
            "jobs": [tuple(j) for j in jobs], "accounts": tuple(accounts) if accounts else None}


def _has_published_version():
    return exists().where(Version.algorithm_id == Algorithm.id, Version.state == VersionState.PUBLISHED)


def query_algorithms(
    session: Session,
    *,
    filters: dict[str, Any],
    q: str | None,
    visible_to_user_id: int | None,
    see_all: bool,
    page: int,
    per_page: int,
    organisation_kind: str | None = None,
    audited: bool | None = None,
    owner_id: int | None = None,
    sort: str = "name",
    only_ids: Collection[int] | None = None,
    exclude_ids: Collection[int] | None = None,
) -> tuple[Sequence[Algorithm], int]:
    """Catalogue query: public sees algorithms with a published version; owners also their own.

    ``sort`` is "name", "recent" (latest publication first) or "created" (newest first).
    """
    stmt: Select = select(Algorithm)
    if not see_all:
        visible = _has_published_version()
        if visible_to_user_id is not None:
            owned = Algorithm.owners.any(User.id == visible_to_user_id)
            visible = or_(visible, owned)
        stmt = stmt.where(visible)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(Algorithm, name) == value)
    if q:
        for term in q.split()[:MAX_SEARCH_TERMS]:
            pattern = f"%{_escape_like(term.lower())}%"
            stmt = stmt.where(
                or_(
                    func.lower(Algorithm.name).like(pattern, escape="\\"),
                    func.lower(Algorithm.summary).like(pattern, escape="\\"),
                    func.lower(Algorithm.description).like(pattern, escape="\\"),
                    func.lower(Algorithm.slug).like(pattern, escape="\\"),
                )
            )
    if organisation_kind is not None:
        stmt = stmt.where(Algorithm.organisation.has(Organisation.kind == OrganisationKind(organisation_kind)))
    if audited is not None:
        stmt = stmt.where(_has_public_bias_audit() if audited else ~_has_public_bias_audit())
    if owner_id is not None:
        stmt = stmt.where(Algorithm.owners.any(User.id == owner_id))
    if only_ids is not None:
        stmt = stmt.where(Algorithm.id.in_(sorted(only_ids)))
    if exclude_ids:
        stmt = stmt.where(Algorithm.id.not_in(sorted(exclude_ids)))
    latest = (select(func.max(Version.published_at)).where(Version.algorithm_id == Algorithm.id,
              Version.state == VersionState.PUBLISHED).scalar_subquery())
    order = {"recent": (latest.desc().nulls_last(), Algorithm.id.desc()),
             "created": (Algorithm.created_at.desc(), Algorithm.id.desc())}.get(sort, (Algorithm.name, Algorithm.id))
    # The total rides along each row (a window count), so a page costs one query, not a count and a query.
    rows = session.execute(stmt.add_columns(func.count().over().label("total")).order_by(*order)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    if rows:
        return [row[0] for row in rows], rows[0][1]
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one() if page > 1 else 0
    return [], total


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- versions and artifacts ----------------------------------------------------------------


def get_version(session: Session, algorithm: Algorithm, version: str) -> Version:
    row = session.execute(
        select(Version).where(and_(Version.algorithm_id == algorithm.id, Version.version == version))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"version '{version}' of algorithm '{algorithm.slug}' not found")
    return row


def get_version_for_update(session: Session, algorithm: Algorithm, version: str) -> Version:
    """Lock the version row (PostgreSQL) so concurrent state changes serialise."""
    row = session.execute(
        select(Version)
        .where(and_(Version.algorithm_id == algorithm.id, Version.version == version))
        .with_for_update(of=Version)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"version '{version}' of algorithm '{algorithm.slug}' not found")
    return row


def list_versions(session: Session, algorithm: Algorithm) -> Sequence[Version]:
    return session.execute(select(Version).where(Version.algorithm_id == algorithm.id)).scalars().all()


def add_version(session: Session, version: Version) -> Version:
    """Insert a version; the (algorithm, version) unique constraint decides races."""
    _add_or_conflict(
        session,
        version,
        f"version '{version.version}' already exists for this algorithm; version identifiers are never reused",
        "version",
        code="version_exists",
    )
    return version


def add_artifact_files(session: Session, version: Version, files: Sequence[tuple[str, str, int]]) -> None:
    for path, sha256, size in files:
        session.add(ArtifactFile(version_id=version.id, path=path, sha256=sha256, size=size))
    session.flush()


def get_artifact_file(session: Session, version: Version, path: str) -> ArtifactFile:
    row = session.execute(
        select(ArtifactFile).where(ArtifactFile.version_id == version.id, ArtifactFile.path == path)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"artifact '{path}' not found in version '{version.version}'")
    return row
