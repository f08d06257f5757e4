"""Browser sign-in: a session cookie backed by a revocable, expiring server-side token, and CSRF tokens.

Signing in starts a *session* token (accounts.start_session) whose secret only the signed, HttpOnly
cookie holds; it expires after 12 hours and is revoked at sign-out, so a copied cookie stops working.
Session tokens are refused by the JSON API, which only accepts ``Authorization: Bearer`` API tokens.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from boas import throttle
from boas.context import db_session
from boas.pages.blueprint import bp
from boas.registry import accounts
from registry_db.errors import Unauthenticated
from registry_db.models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def page_user() -> User | None:
    """The signed-in user of this request, from the session cookie only (None for the public)."""
    if "page_user" not in g:
        g.page_user = _resolve_session()
    return g.page_user


def _resolve_session() -> User | None:
    secret = session.get("tok")
    if not secret:
        return None
    try:
        return accounts.authenticate_session(db_session(), secret)
    except Unauthenticated:  # revoked, expired, or the account was deactivated
        session.clear()
        return None


def viewer() -> User | None:
    """page_user() for templates, never failing: an error page must render even when the database does not."""
    try:
        return page_user()
    except Exception:  # noqa: BLE001 - the page being rendered reports the original error
        return None


def csrf_token() -> str:
    """This session's synchronizer token, created on first use and renewed at sign-in."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token())


@bp.before_request
def _check_csrf() -> None:
    """Every state-changing page request carries the session's token; anything else is a 400."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(sent.encode(), str(expected).encode()):
        abort(400, description=_("The form expired or did not come from this site. Reload the page and try again."))


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the sign-in page, then back here."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if page_user() is None:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    wrapper._page_login_required = True  # type: ignore[attr-defined]
    return wrapper


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; the same answer whether or not the account exists."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if page_user() is not None:
            return redirect(target or url_for("pages.workspace"))
        return render_template("pages/login.html", next=target, email="", failed=False)
    email = request.form.get("email", "").strip()
    try:
        user = accounts.authenticate_password(db_session(), email, request.form.get("password", ""))
    except Unauthenticated:
        throttle.record_failure("login.failed", email.lower())
        return render_template("pages/login.html", next=target, email=email, failed=True), 401
    secret = accounts.start_session(db_session(), user)
    session.clear()  # a new session: nothing chosen before sign-in survives, including the CSRF token
    session.update(tok=secret, csrf=secrets.token_urlsafe(32))
    g.page_user = user
    flash(_("You are signed in."), "success")
    return redirect(target or url_for("pages.workspace"), 303)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: the session's server-side token is revoked, then the cookie is cleared."""
    if session.get("tok"):
        accounts.end_session(db_session(), session["tok"])
    session.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("pages.home"), 303)
