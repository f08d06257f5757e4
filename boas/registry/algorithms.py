"""Algorithm services: register, describe, list and find algorithms.

Services take the session and the acting user explicitly, check a named permission, call the
store, and own the commit. The HTTP API, the pages, the CLI and the demo all call these functions.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from boas.registry import permissions, schemas
from model_cards import semver, taxonomy
from registry_db import store
from registry_db.errors import NotFound, ValidationFailed
from registry_db.models import Algorithm, AlgorithmKind, Role, User, VersionState

EDITABLE_FIELDS = (
    "name", "summary", "description", "code_repository_url", "code_commit", "license", *taxonomy.VOCABULARIES,
)


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    total: int
    page: int
    per_page: int
    audited: frozenset[str] = frozenset()
    to_review: frozenset[str] = frozenset()  # slugs whose latest published card is "to review" now


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
    details: dict[str, Any] = {}
    before = sorted(o.email for o in algorithm.owners)
    if owners and before != sorted(o.email for o in owners):
        # Ownership decides who may not audit the algorithm: its history is kept, old and new.
        algorithm.owners = owners
        changed.append("owners")
        details["owners"] = {"old": before, "new": sorted(o.email for o in owners)}
    if changed:
        store.append_event(
            session, actor=user, action="algorithm.updated", object_type="algorithm", object_ref=slug,
            details={"fields": changed, **details},
        )
    session.commit()
    return algorithm


def can_see_drafts(actor: User | None, algorithm: Algorithm) -> bool:
    return actor is not None and actor.active and (
        permissions.can_manage(actor, algorithm) or actor.role == Role.EVALUATOR
    )


def get_algorithm(session: Session, actor: User | None, slug: str) -> Algorithm:
    """An algorithm as the actor may see it: the public only sees those with a released version."""
    algorithm = store.get_algorithm(session, slug)
    released = any(v.state != VersionState.DRAFT for v in algorithm.versions)
    if not released and not can_see_drafts(actor, algorithm):
        raise NotFound(f"algorithm '{slug}' not found")
    return algorithm


def list_algorithms(
    session: Session, actor: User | None, *, filters: dict[str, Any], q: str | None, page: int, per_page: int,
    organisation_kind: str | None = None, audited: bool | None = None, mine: bool = False, sort: str = "name",
    stale_ids: Collection[int] | None = None, to_review: bool | None = None,
) -> Page:
    """The catalogue: published algorithms for everyone, plus drafts for their owners and staff (``mine``: own only)."""
    see_all = actor is not None and actor.active and actor.role in (Role.ADMIN, Role.EVALUATOR)
    visible_to = actor.id if actor else None
    items, total = store.query_algorithms(
        session, filters=filters, q=q, visible_to_user_id=visible_to, see_all=see_all, page=page, per_page=per_page,
        organisation_kind=organisation_kind, audited=audited, owner_id=actor.id if (mine and actor) else None, sort=sort,
        only_ids=stale_ids if to_review is True else None, exclude_ids=stale_ids if to_review is False else None)
    audited_ids = store.audited_algorithm_ids(session, [a.id for a in items])
    stale = frozenset(a.slug for a in items if stale_ids is not None and a.id in stale_ids)
    return Page(items, total, page, per_page, audited=frozenset(a.slug for a in items if a.id in audited_ids),
                to_review=stale)


def registry_is_empty(session: Session) -> bool:
    """Whether no algorithm at all is registered (the demo fills only an empty registry)."""
    return store.count_algorithms(session) == 0


def latest_version(algorithm: Algorithm) -> str | None:
    """The highest published version by semver precedence (yanked and drafts excluded)."""
    published = [v.version for v in algorithm.versions if v.state == VersionState.PUBLISHED]
    return max(published, key=semver.sort_key, default=None)

