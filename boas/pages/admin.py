"""Administration: accounts and roles, organisations, and the append-only audit log."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from boas.context import db_session
from boas.pages.auth import login_required, page_user
from boas.pages.blueprint import bp
from boas.pages.i18n import form_errors
from boas.pages.messages import Field, FormErrors
from boas.registry import accounts, permissions
from registry_db.errors import ValidationFailed

LOG_PAGE = 50


def account_fields() -> dict[str, Field]:
    """The account and organisation forms' controls, by the services' field keys (``org_`` for the latter)."""
    return {"email": Field("user-email", _("E-mail address")), "name": Field("user-name", _("Name")),
            "role": Field("user-role", _("Role")), "organisation": Field("user-organisation", _("Organisation")),
            "password": Field("user-password", _("Initial password (optional)")),
            "org_slug": Field("org-slug", _("Identifier")), "org_name": Field("org-name", _("Name")),
            "org_kind": Field("org-kind", _("Author type"))}


def _update_fields(user) -> dict[str, Field]:
    """One account's row form: its role, organisation and active state."""
    return {"role": Field(f"role-{user.id}", _("Role of %(email)s", email=user.email)),
            "organisation": Field(f"org-{user.id}", _("Organisation of %(email)s", email=user.email)),
            "active": Field(f"active-{user.id}", _("Active account"))}


def _users_page(errors: FormErrors | None = None, values=None, status: int = 200):
    session, user = db_session(), page_user()
    return render_template("pages/admin/users.html", users=accounts.list_users(session, user),
                           organisations=accounts.list_organisations(session), errors=errors or FormErrors(),
                           values=values or {}), status


@bp.route("/admin/users")
@login_required
def users():
    """Every account with its role, organisation and state."""
    return _users_page()


@bp.route("/admin/users", methods=["POST"])
@login_required
def create_user():
    """Create an account with a role, and optionally its sign-in password."""
    session, admin, form = db_session(), page_user(), request.form
    permissions.require_admin(admin)
    try:
        created = accounts.create_user(session, admin, email=form.get("email", "").strip(), role=form.get("role", ""),
                                       name=form.get("name", "").strip(),
                                       organisation_slug=form.get("organisation") or None,
                                       password=form.get("password") or None)
    except ValidationFailed as exc:
        return _users_page(form_errors(exc.errors, account_fields()), form.to_dict(), 422)
    flash(_("Account %(email)s is created.", email=created.email), "success")
    return redirect(url_for("pages.users"), 303)


@bp.route("/admin/users/<int:user_id>", methods=["POST"])
@login_required
def update_user(user_id: int):
    """Change an account's role, organisation or active state (logged in the audit log)."""
    form = request.form
    try:
        changed = accounts.update_user(db_session(), page_user(), user_id, role=form.get("role") or None,
                                       active=form.get("active") == "on",
                                       organisation_slug=form.get("organisation") or None,
                                       end_sessions=form.get("keep_credentials") != "on")
    except ValidationFailed as exc:
        target = next(u for u in accounts.list_users(db_session(), page_user()) if u.id == user_id)
        return _users_page(form_errors(exc.errors, _update_fields(target)), None, 422)
    flash(_("Account %(email)s is updated.", email=changed.email), "success")
    return redirect(url_for("pages.users"), 303)


@bp.route("/admin/organisations", methods=["POST"])
@login_required
def create_organisation():
    """Register an organisation authors can belong to."""
    form = request.form
    try:
        accounts.create_organisation(db_session(), page_user(), slug=form.get("slug", "").strip(),
                                     name=form.get("org_name", ""), kind=form.get("kind", ""))
    except ValidationFailed as exc:
        return _users_page(form_errors({f"org_{k}": v for k, v in exc.errors.items()}, account_fields()),
                           form.to_dict(), 422)
    flash(_("The organisation is registered."), "success")
    return redirect(url_for("pages.users"), 303)


@bp.route("/admin/audit-log")
@login_required
def audit_log():
    """State changes, newest first, filtered by action."""
    try:
        page = min(max(1, int(request.args.get("page", 1))), accounts.MAX_LOG_PAGE)
    except ValueError:
        page = 1
    action = request.args.get("action", "").strip() or None
    events = accounts.list_audit_events(db_session(), page_user(), action=action, page=page, per_page=LOG_PAGE)
    pages = max(1, -(-events["total"] // LOG_PAGE))
    return render_template("pages/admin/audit_log.html", events=events, action=action or "", pages=pages)
