"""Users, organisations and tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_db.models import (
    ApiToken,
    Organisation,
    User,
    utcnow,
)
from registry_db.store.base import _add_or_conflict, get_or_not_found

# -- users, organisations, tokens ----------------------------------------------------------


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def get_user(session: Session, user_id: int) -> User:
    return get_or_not_found(session, User, user_id, "user")


def list_users(session: Session) -> Sequence[User]:
    return session.execute(select(User).order_by(User.id)).scalars().all()


def add_user(session: Session, user: User) -> User:
    _add_or_conflict(session, user, f"a user with e-mail {user.email} already exists", "email")
    return user


def get_organisation_by_slug(session: Session, slug: str) -> Organisation | None:
    return session.execute(select(Organisation).where(Organisation.slug == slug)).scalar_one_or_none()


def list_organisations(session: Session) -> Sequence[Organisation]:
    return session.execute(select(Organisation).order_by(Organisation.slug)).scalars().all()


def add_organisation(session: Session, organisation: Organisation) -> Organisation:
    _add_or_conflict(session, organisation, f"organisation {organisation.slug} already exists", "slug")
    return organisation


def add_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.flush()
    return token


def get_active_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.execute(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()


def get_token(session: Session, token_id: int) -> ApiToken:
    return get_or_not_found(session, ApiToken, token_id, "token")


def revoke_user_tokens(session: Session, user_id: int, kinds: Sequence[str], *, keep_hash: str | None = None,
                       at: datetime | None = None) -> list[ApiToken]:
    """Revoke a user's active tokens of the given kinds (``session``, ``api``), all but ``keep_hash``."""
    stmt = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.kind.in_(kinds))
    if keep_hash is not None:
        stmt = stmt.where(ApiToken.token_hash != keep_hash)
    tokens = list(session.execute(stmt).scalars())
    for token in tokens:
        token.revoked_at = at or utcnow()
    session.flush()
    return tokens


def list_tokens(session: Session, user: User) -> Sequence[ApiToken]:
    """A user's API tokens (browser sessions are not listed)."""
    return session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "api").order_by(ApiToken.id)
    ).scalars().all()
