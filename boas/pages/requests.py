"""Pages of the author-evaluator loop: request an audit, the evaluators' queue, notifications."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from audits import requests as audit_requests
from boas.context import db_session
from boas.pages.auth import login_required, page_user
from boas.pages.blueprint import bp
from boas.pages.i18n import conflict_message, localiser
from boas.registry import notifications, versions
from boas.registry.permissions import ConflictOfInterest
from registry_db.errors import Conflict, ValidationFailed
from registry_db.models import VersionState

AUDIT_STATES = {
    audit_requests.NOT_REQUESTED: _l("Audit not requested"),
    audit_requests.REQUESTED: _l("Audit requested"),
    audit_requests.IN_PROGRESS: _l("Audit in progress"),
    audit_requests.AUDITED: _l("Audited"),
    audit_requests.DECLINED: _l("Audit request declined"),
}
AUDIT_OUTCOMES = {
    "passed": _l("passed: within tolerance"),
    "failed": _l("failed: disparity outside tolerance"),
    "insufficient": _l("insufficient evidence"),
    "not_audited": _l("no result"),
}
REQUEST_STATUSES = {"open": _l("Open"), "claimed": _l("Taken"), "done": _l("Done"), "declined": _l("Declined")}


def _field_errors(exc: ValidationFailed) -> Markup:
    """What the service refused, in the page's language (the one field of these forms needs no label)."""
    localise = localiser()
    return Markup(" ").join(localise(m) for messages in exc.errors.values() for m in messages) \
        or localise(exc.message)


@bp.route("/workspace/algorithms/<slug>/<version>/request-audit", methods=["POST"])
@login_required
def request_audit(slug: str, version: str):
    """Ask independent evaluators to audit this version, with an optional message."""
    row = versions.get_version(db_session(), page_user(), slug, version)
    try:
        audit_requests.request_audit(
            db_session(), page_user(), slug, version, {"message": request.form.get("message", "")}
        )
    except ValidationFailed as exc:
        flash(escape(_("The request is not sent: %(reason)s")) % {"reason": _field_errors(exc)}, "error")
    except Conflict:
        flash(_("This version already has an audit request in progress."), "error")
    else:
        flash(_("The audit is requested: independent evaluators are notified."), "success")
    if row.state != VersionState.DRAFT:  # a release's status is on its algorithm's page
        return redirect(url_for("pages.manage_algorithm", slug=slug, _anchor=f"audit-status-{version}"), 303)
    return redirect(url_for("pages.draft", slug=slug, version=version, _anchor="audit-status"), 303)


@bp.route("/workspace/requests")
@login_required
def request_queue():
    """The evaluators' queue: open requests they may take, and those they took."""
    rows = audit_requests.list_queue(db_session(), page_user())
    return render_template(
        "pages/evaluate/requests.html", rows=[audit_requests.request_view(r) for r in rows], STATUSES=REQUEST_STATUSES
    )


@bp.route("/workspace/requests/<int:request_id>/claim", methods=["POST"])
@login_required
def claim_request(request_id: int):
    """Take an open request; its owners are notified."""
    try:
        row = audit_requests.claim_request(db_session(), page_user(), request_id)
    except ConflictOfInterest as exc:
        flash(conflict_message(exc), "error")
    except Conflict:
        flash(_("This request is no longer open."), "error")
    else:
        flash(
            _("You took the request. Launch the audit of %(version)s when ready.", version=row.version.version),
            "success",
        )
    return redirect(url_for("pages.request_queue"), 303)


@bp.route("/workspace/requests/<int:request_id>/decline", methods=["POST"])
@login_required
def decline_request(request_id: int):
    """Decline a request with a reason its owners will read."""
    try:
        audit_requests.decline_request(
            db_session(), page_user(), request_id, {"reason": request.form.get("reason", "")}
        )
    except ConflictOfInterest as exc:
        flash(conflict_message(exc), "error")
    except ValidationFailed as exc:
        flash(escape(_("The request is not declined: %(reason)s")) % {"reason": _field_errors(exc)}, "error")
    except Conflict:
        flash(_("This request is no longer open."), "error")
    else:
        flash(_("The request is declined; its owners are notified."), "success")
    return redirect(url_for("pages.request_queue"), 303)


@bp.route("/notifications")
@login_required
def notifications_page():
    """One's notifications, newest first, rendered in the page's language."""
    rows = notifications.list_notifications(db_session(), page_user())
    items = [(row, notifications.render(row.kind, row.params, _)) for row in rows]
    return render_template("pages/notifications.html", items=items)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read_notification(notification_id: int):
    """Mark one notification read."""
    notifications.mark_read(db_session(), page_user(), notification_id)
    return redirect(url_for("pages.notifications_page"), 303)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_all_notifications():
    """Mark every notification read."""
    notifications.mark_read(db_session(), page_user(), None)
    flash(_("Every notification is marked read."), "success")
    return redirect(url_for("pages.notifications_page"), 303)


def unread_notifications() -> int:
    """The header's unread count for the signed-in viewer (0 for visitors)."""
    user = page_user()
    return notifications.unread_count(db_session(), user) if user is not None else 0
