"""Account services: users, organisations and API tokens (CLI, API and pages call these)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from boas.registry import permissions, schemas
from registry_db import store
from registry_db.errors import NotFound, Unauthenticated, ValidationFailed
from registry_db.models import ApiToken, Organisation, OrganisationKind, Role, User, utcnow

TOKEN_PREFIX = "boas_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``secret`` is shown once and never stored."""

    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    session: Session,
    actor: User | None,
    *,
    email: str,
    role: str,
    name: str = "",
    organisation_slug: str | None = None,
    bootstrap: bool = False,
    password: str | None = None,
) -> User:
    """Create an account, with its sign-in password if given, in one transaction.

    Only an admin may, except the CLI's explicit ``bootstrap`` path.
    """
    store.begin_write(session)
    if not bootstrap:
        permissions.require_admin(actor)
    data, errors = schemas.check(schemas.UserCreateSchema(), {"email": (email or "").strip(), "role": role,
                                                              "name": name, "organisation": organisation_slug})
    organisation = None
    if data.get("organisation"):
        organisation = store.get_organisation_by_slug(session, data["organisation"])
        if organisation is None:
            errors["organisation"] = [f"unknown organisation '{data['organisation']}'"]
    if password is not None:
        errors.update(_password_errors(email or "", password))
    if errors:
        raise ValidationFailed("invalid user", errors)
    user = store.add_user(
        session, User(email=data["email"].lower(), role=Role(data["role"]), name=data["name"],
                      organisation=organisation,
                      password_hash=_hasher().hash(password) if password is not None else None)
    )
    store.append_event(
        session, actor=actor, action="user.created", object_type="user", object_ref=user.email,
        details={"role": user.role.value, "organisation": organisation.slug if organisation else None},
    )
    session.commit()
    return user


def update_user(
    session: Session,
    actor: User | None,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
    name: str | None = None,
    organisation_slug: str | None = None,
    end_sessions: bool = True,
) -> User:
    """Change a user's role, name, organisation or active flag (admin only).

    Each change is logged with its old and new value: a role or an organisation decides what someone may
    audit (separation of duties), so the history must show who changed it, when, and from what. A new
    role ends the user's browser sessions and API tokens unless ``end_sessions`` is False: what was
    signed in or issued under the old role should not carry on under the new one (a demoted admin's
    open session, an author's script turned evaluator), and the user signs in again.
    """
    store.begin_write(session)
    admin = permissions.require_admin(actor)
    user = store.get_user(session, user_id)
    _valid, errors = schemas.check(schemas.UserUpdateSchema(), {k: v for k, v in {
        "role": role, "active": active, "name": name, "organisation": organisation_slug}.items() if v is not None})
    organisation = None
    if organisation_slug is not None and "organisation" not in errors:
        organisation = store.get_organisation_by_slug(session, organisation_slug)
        if organisation is None:
            errors["organisation"] = [f"unknown organisation '{organisation_slug}'"]
    if user.id == admin.id and ((role and role != Role.ADMIN) or active is False):
        errors["role" if role else "active"] = ["an admin cannot demote or deactivate their own account"]
    if errors:
        raise ValidationFailed("invalid user update", errors)
    changes: dict[str, object] = {}
    if role is not None and user.role != role:
        changes["role"] = {"old": user.role.value, "new": role}
        user.role = Role(role)
    if active is not None and user.active != active:
        changes["active"] = {"old": user.active, "new": active}
        user.active = active
    if name is not None and user.name != name:
        changes["name"] = {"old": user.name, "new": name}
        user.name = name
    if organisation is not None and user.organisation_id != organisation.id:
        changes["organisation"] = {"old": user.organisation.slug if user.organisation else None,
                                   "new": organisation.slug}
        user.organisation = organisation
    if changes:
        store.append_event(
            session, actor=admin, action="user.updated", object_type="user", object_ref=user.email,
            details=changes,
        )
    if "role" in changes and end_sessions:
        _revoke_credentials(session, admin, user, ("session", "api"), reason="role_changed")
    session.commit()
    return user


def _revoke_credentials(session: Session, actor: User | None, user: User, kinds: tuple[str, ...], *, reason: str,
                        keep_secret: str | None = None) -> None:
    """End a user's sessions and/or API tokens (all but the caller's own session), logged with counts."""
    revoked = store.revoke_user_tokens(session, user.id, kinds,
                                       keep_hash=hash_token(keep_secret) if keep_secret else None)
    if revoked:
        store.append_event(session, actor=actor or user, action="user.credentials_revoked", object_type="user",
                           object_ref=user.email, details={
                               "reason": reason, "sessions": sum(t.kind == "session" for t in revoked),
                               "tokens": sum(t.kind == "api" for t in revoked)})


def list_users(session: Session, actor: User | None) -> Sequence[User]:
    permissions.require_admin(actor)
    return store.list_users(session)


def create_organisation(
    session: Session, actor: User | None, *, slug: str, name: str, kind: str, bootstrap: bool = False
) -> Organisation:
    """Register an organisation (admins, or the CLI's bootstrap path)."""
    store.begin_write(session)
    if not bootstrap:
        permissions.require_admin(actor)
    data = schemas.load(schemas.OrganisationCreateSchema(), {"slug": slug, "name": name, "kind": kind},
                        "invalid organisation")
    organisation = store.add_organisation(
        session, Organisation(slug=data["slug"], name=data["name"].strip(), kind=OrganisationKind(data["kind"])))
    store.append_event(
        session, actor=actor, action="organisation.created", object_type="organisation", object_ref=slug
    )
    session.commit()
    return organisation


def list_organisations(session: Session) -> Sequence[Organisation]:
    return store.list_organisations(session)


def create_token(session: Session, actor: User | None, *, user_email: str | None = None, name: str = "",
                 bootstrap: bool = False) -> IssuedToken:
    """Issue a token for ``user_email`` (the CLI) or for the actor itself (the API)."""
    store.begin_write(session)
    name = schemas.load(schemas.TokenCreateSchema(), {"name": name}, "invalid token")["name"]
    if bootstrap:
        owner = store.get_user_by_email(session, user_email or "")
        if owner is None:
            raise NotFound(f"no user with e-mail {user_email}")
    else:
        owner = permissions.require_user(actor)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = store.add_token(
        session, ApiToken(user_id=owner.id, token_hash=hash_token(secret), prefix=secret[:12], name=name)
    )
    store.append_event(
        session, actor=actor or owner, action="token.created", object_type="user", object_ref=owner.email,
        details={"token_id": token.id, "prefix": token.prefix},
    )
    session.commit()
    return IssuedToken(token=token, secret=secret)


def list_tokens(session: Session, actor: User | None) -> Sequence[ApiToken]:
    return store.list_tokens(session, permissions.require_user(actor))


def revoke_token(session: Session, actor: User | None, token_id: int) -> ApiToken:
    """Revoke one of the actor's tokens (admins may revoke anyone's)."""
    store.begin_write(session)
    user = permissions.require_user(actor)
    token = store.get_token(session, token_id)
    if token.user_id != user.id and user.role != Role.ADMIN:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        store.append_event(
            session, actor=user, action="token.revoked", object_type="user", object_ref=token.user.email,
            details={"token_id": token.id, "prefix": token.prefix},
        )
    session.commit()
    return token


def authenticate_token(session: Session, secret: str) -> User:
    """Resolve an API bearer token to its active user, or refuse with 401 (browser sessions do not count)."""
    return _resolve(session, secret, kind="api")


def _resolve(session: Session, secret: str, *, kind: str) -> User:
    if not secret.startswith(TOKEN_PREFIX):
        raise Unauthenticated("invalid or revoked token")
    token = store.get_active_token(session, hash_token(secret))
    if token is None or token.kind != kind or not token.user.active:
        raise Unauthenticated("invalid or revoked token")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise Unauthenticated("this session has expired: sign in again")
    return token.user


SESSION_LIFETIME = timedelta(hours=12)


def start_session(session: Session, user: User) -> str:
    """A browser sign-in: a server-side, expiring token whose secret only the session cookie holds."""
    store.begin_write(session)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.add_token(session, ApiToken(user_id=user.id, token_hash=hash_token(secret), prefix=secret[:12],
                                      name="browser session", kind="session",
                                      expires_at=utcnow() + SESSION_LIFETIME))
    store.append_event(session, actor=user, action="login.succeeded", object_type="user", object_ref=user.email)
    session.commit()
    return secret


def authenticate_session(session: Session, secret: str) -> User:
    """The user of a browser session, while it is neither revoked nor expired."""
    return _resolve(session, secret, kind="session")


def end_session(session: Session, secret: str) -> None:
    """Sign out: the session's token is revoked server-side, so a copied cookie stops working."""
    store.begin_write(session)
    token = store.get_active_token(session, hash_token(secret))
    if token is not None and token.kind == "session":
        token.revoked_at = utcnow()
        store.append_event(session, actor=token.user, action="logout", object_type="user",
                           object_ref=token.user.email)
    session.commit()


MAX_LOG_PAGE = 100_000  # pages of the audit log a reader may ask for (the API's bound too)
MAX_LOG_PER_PAGE = 500


def list_audit_events(
    session: Session, actor: User | None, *, action: str | None = None, object_ref: str | None = None,
    page: int = 1, per_page: int = 50,
) -> dict:
    """The audit log, newest first; admins only. Pages past ``MAX_LOG_PAGE`` are refused before any query
    (an offset past 64 bits is an overflow in the database driver, not an empty page)."""
    permissions.require_admin(actor)
    errors = {name: [f"must be between 1 and {bound}"] for name, value, bound in
              (("page", page, MAX_LOG_PAGE), ("per_page", per_page, MAX_LOG_PER_PAGE)) if not 1 <= value <= bound}
    if errors:
        raise ValidationFailed("invalid page of the audit log", errors)
    items, total = store.list_events(session, action=action, object_ref=object_ref, page=page, per_page=per_page)
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# -- passwords (browser sign-in) -----------------------------------------------------------

MIN_PASSWORD = 12


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def _password_errors(email: str, password: str | None) -> dict[str, list[str]]:
    if password is None or len(password) < MIN_PASSWORD:
        return {"password": [f"at least {MIN_PASSWORD} characters"]}
    if password.strip().lower() in {email.strip().lower(), email.strip().lower().split("@")[0]}:
        return {"password": ["must not be your e-mail address"]}
    return {}


def set_password(session: Session, actor: User | None, user_id: int, password: str, *, bootstrap: bool = False,
                 keep_session: str | None = None) -> User:
    """Set a user's password (themselves, an admin, or the CLI). Stored as an Argon2id hash.

    Every browser session of the account ends, except ``keep_session`` (the secret of the session
    changing its own password): whoever signed in with the old password is signed out. API tokens
    are separate credentials and stay.
    """
    store.begin_write(session)
    user = store.get_user(session, user_id)
    if not bootstrap:
        caller = permissions.require_user(actor)
        if caller.id != user.id and caller.role != Role.ADMIN:
            raise NotFound(f"user {user_id} not found")
    errors = _password_errors(user.email, password)
    if errors:
        raise ValidationFailed("password refused", errors)
    user.password_hash = _hasher().hash(password)
    store.append_event(session, actor=actor or user, action="user.password_set", object_type="user",
                       object_ref=user.email)
    _revoke_credentials(session, actor, user, ("session",), reason="password_changed", keep_secret=keep_session)
    session.commit()
    return user


def set_password_by_email(session: Session, email: str, password: str) -> User:
    """The CLI's way to set a password: by e-mail, without an acting user (it runs on the server)."""
    user = store.get_user_by_email(session, email or "")
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return set_password(session, None, user.id, password, bootstrap=True)


def get_user_by_email(session: Session, email: str) -> User:
    """The CLI's way to name the account it acts as (it runs on the server): by e-mail; 404 if there is none."""
    user = store.get_user_by_email(session, email or "")
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


def authenticate_password(session: Session, email: str, password: str) -> User:
    """Check an e-mail and password; failures are answered the same whatever the cause."""
    from argon2.exceptions import InvalidHashError, VerificationError

    email = email or ""
    # An address holding NUL matches no account (and PostgreSQL cannot compare text holding one).
    user = store.get_user_by_email(session, email) if "\x00" not in email else None
    hasher = _hasher()
    ok = False
    if user is not None and user.active and user.password_hash:
        try:
            ok = hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time as a real check, so timing does not reveal which accounts exist.
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_DUMMY_HASH.get(hasher), password or "")
    if user is None or not ok:  # ok is only ever True for a user
        # Not logged here: the edge that throttles failures logs them once per window
        # (record_failed_attempts), so anonymous attempts cannot grow the audit log without bound.
        raise Unauthenticated("wrong e-mail or password")
    if hasher.check_needs_rehash(user.password_hash):
        store.begin_write(session)
        user = store.get_user(session, user.id)
        user.password_hash = hasher.hash(password)
        session.commit()
    return user


FAILURE_ACTIONS = {"login.failed": "user", "token.failed": "client"}


def record_failed_attempts(session: Session, *, action: str, account: str | None, client: str, count: int,
                           throttled: int, window_seconds: int) -> None:
    """One audit row for failed credentials of an account (or a client) over a window, with their count.

    ``count`` failures and ``throttled`` refused attempts since the previous row for the same account
    and client; ``boas.throttle`` decides when a row is due. Token failures name no account.
    """
    if action not in FAILURE_ACTIONS:
        raise ValueError(f"not a failure action: {action}")
    store.begin_write(session)
    object_ref = (account or "").replace("\x00", "")[:200].lower() if action == "login.failed" else client[:200]
    store.append_event(session, actor=None, action=action, object_type=FAILURE_ACTIONS[action], object_ref=object_ref,
                       details={"client": client[:64], "count": int(count), "throttled": int(throttled),
                                "window_seconds": int(window_seconds)})
    session.commit()


class _DummyHash:
    _value: str | None = None

    def get(self, hasher) -> str:
        if self._value is None:
            self._value = hasher.hash(secrets.token_urlsafe(16))
        return self._value


_DUMMY_HASH = _DummyHash()
