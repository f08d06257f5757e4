"""Named permission checks, one per write: deny by default, object-level for owned algorithms."""

from __future__ import annotations

from registry_db.errors import Forbidden, Unauthenticated
from registry_db.models import Algorithm, Role, User


def require_user(actor: User | None) -> User:
    if actor is None:
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
    if not actor.active:
        raise Unauthenticated("this account is deactivated")
    return actor


def is_owner(actor: User | None, algorithm: Algorithm) -> bool:
    return actor is not None and any(owner.id == actor.id for owner in algorithm.owners)


def can_manage(actor: User | None, algorithm: Algorithm) -> bool:
    return actor is not None and (actor.role == Role.ADMIN or is_owner(actor, algorithm))


def require_role(actor: User | None, *roles: Role) -> User:
    user = require_user(actor)
    if user.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"this action requires the {allowed} role")
    return user


def require_create_algorithm(actor: User | None) -> User:
    return require_role(actor, Role.AUTHOR, Role.ADMIN)


def require_manage_algorithm(actor: User | None, algorithm: Algorithm) -> User:
    """Owners (and admins) edit an algorithm and its versions; nobody else, whatever their role."""
    user = require_user(actor)
    if not can_manage(user, algorithm):
        raise Forbidden(f"you are not an owner of algorithm '{algorithm.slug}'")
    return user


def require_admin(actor: User | None) -> User:
    return require_role(actor, Role.ADMIN)
