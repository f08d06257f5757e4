"""One's own account: API tokens (created and shown once, revoked) and the sign-in password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from markupsafe import escape

from boas import throttle
from boas.context import db_session
from boas.pages.auth import login_required, page_user
from boas.pages.blueprint import bp
from boas.pages.i18n import form_errors
from boas.pages.messages import Field
from boas.registry import accounts
from registry_db.errors import Unauthenticated, ValidationFailed


def _tokens_page(issued=None, errors=None, status: int = 200):
    tokens = accounts.list_tokens(db_session(), page_user())
    fields = {"current_password": Field("current_password", _("Current password")),
              "new_password": Field("new_password", _("New password"))}
    response = render_template("pages/workspace/tokens.html", tokens=tokens, issued=issued,
                               errors=form_errors(errors or {}, fields))
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/workspace/tokens")
@login_required
def tokens():
    """Your API tokens, without their secrets."""
    return _tokens_page()


@bp.route("/workspace/tokens", methods=["POST"])
@login_required
def create_token():
    """Create an API token; its secret is on this response only (not stored, not cached)."""
    name = request.form.get("name", "").strip()[:100]
    issued = accounts.create_token(db_session(), page_user(), name=name or "api")
    return _tokens_page(issued=issued, status=201)


@bp.route("/workspace/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    """Revoke a token at once (revoking this browser's session token signs you out)."""
    accounts.revoke_token(db_session(), page_user(), token_id)
    flash(_("The token is revoked."), "success")
    return redirect(url_for("pages.tokens"), 303)


@bp.route("/workspace/password", methods=["POST"])
@login_required
def change_password():
    """Change one's password after confirming the current one."""
    user = page_user()
    errors: dict[str, list] = {}
    try:
        accounts.authenticate_password(db_session(), user.email, request.form.get("current_password", ""))
    except Unauthenticated:
        throttle.record_failure("login.failed", user.email)
        errors["current_password"] = [escape(_("This is not your current password."))]
    else:
        try:
            accounts.set_password(db_session(), user, user.id, request.form.get("new_password", ""),
                                  keep_session=session.get("tok"))  # other browsers are signed out
        except ValidationFailed as exc:
            errors["new_password"] = [m for messages in exc.errors.values() for m in messages]
    if errors:
        return _tokens_page(errors=errors, status=422)
    flash(_("Your password is changed. Your other browser sessions are signed out."), "success")
    return redirect(url_for("pages.tokens"), 303)
