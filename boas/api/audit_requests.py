"""The author-evaluator loop: audit requests, their queue, audit status of versions, notifications."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from audits import prefill
from audits import requests as audit_requests
from audits.schemas import AuditRequestCreateSchema, AuditRequestDeclineSchema
from boas.api.blueprint import Blueprint
from boas.context import db_session
from boas.registry import notifications
from boas.security import current_user, login_required

blp = Blueprint(
    "audit_requests",
    __name__,
    url_prefix="/api/v1",
    description="Audit requests between authors and evaluators, and notifications",
)


class AuditRequestOut(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "open, claimed, done or declined"})
    algorithm = fields.String()
    algorithm_name = fields.String()
    version = fields.String()
    version_state = fields.String()
    message = fields.String()
    requested_by = fields.String(metadata={"description": "public name, never an e-mail address"})
    created_at = fields.DateTime()
    claimed_by = fields.String(allow_none=True)
    claimed_at = fields.DateTime(allow_none=True)
    job = fields.Integer(allow_none=True, metadata={"description": "the latest audit the claimer launched for it"})
    job_status = fields.String(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class AuditStatusOut(Schema):
    version = fields.String()
    state = fields.String(metadata={"description": "not_requested, requested, in_progress, audited or declined"})
    outcome = fields.String(
        allow_none=True, metadata={"description": "of the latest succeeded bias audit: passed, failed or insufficient"}
    )
    job = fields.Integer(allow_none=True)
    request = fields.Nested(AuditRequestOut, allow_none=True)


class PrefillQuery(Schema):
    algorithm = fields.String(load_default=None)
    version = fields.String(load_default=None)
    dataset = fields.Integer(load_default=None)


class PrefillOut(Schema):
    sensitive_features = fields.List(fields.String(), metadata={"description": "the dataset's declared columns"})
    sensitive_source = fields.Dict(allow_none=True)
    reference_group = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "per feature, the reference group of the latest earlier audit of the algorithm"},
    )
    reference_sources = fields.Dict(metadata={"description": "per feature, the audit it was read from"})


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    params = fields.Dict()
    title = fields.String(metadata={"description": "rendered in English; pages render it in their language"})
    body = fields.String()
    path = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationsOut(Schema):
    unread = fields.Integer()
    items = fields.List(fields.Nested(NotificationOut))


class MarkedOut(Schema):
    marked = fields.Integer()


@blp.route("/algorithms/<slug>/versions/<version>/audit-requests", methods=["POST"])
@blp.response(201, AuditRequestOut)
@blp.errors(401, 403, 404, 409, 429)
@login_required
@blp.arguments(AuditRequestCreateSchema, unknown=RAISE)
def request_audit(data, slug, version):
    """Ask independent evaluators to audit a version (its owners, admins); the message is screened for identifiers."""
    row = audit_requests.request_audit(db_session(), current_user(), slug, version, data)
    return audit_requests.request_view(row)


@blp.route("/algorithms/<slug>/versions/<version>/audit-status")
@blp.response(200, AuditStatusOut)
@blp.errors(401, 404, 429)
@login_required
def audit_status(slug, version):
    """Whether a version's audit is requested, in progress or done, with the outcome (owners, evaluators)."""
    return audit_requests.version_audit_status(db_session(), current_user(), slug, version)


@blp.route("/audit-requests")
@blp.response(200, AuditRequestOut(many=True))
@blp.errors(401, 403, 429)
@login_required
def queue():
    """The requests the evaluator may act on: open ones they are independent of, and those they took."""
    return [audit_requests.request_view(row) for row in audit_requests.list_queue(db_session(), current_user())]


@blp.route("/audit-requests/<int:request_id>/claim", methods=["POST"])
@blp.response(200, AuditRequestOut)
@blp.errors(401, 403, 404, 409, 429)
@login_required
def claim(request_id):
    """Take an open request (independent evaluators); the owners are notified."""
    return audit_requests.request_view(audit_requests.claim_request(db_session(), current_user(), request_id))


@blp.route("/audit-requests/<int:request_id>/decline", methods=["POST"])
@blp.response(200, AuditRequestOut)
@blp.errors(401, 403, 404, 409, 429)
@login_required
@blp.arguments(AuditRequestDeclineSchema, unknown=RAISE)
def decline(data, request_id):
    """Decline a request with a reason the owners read (screened for identifiers)."""
    row = audit_requests.decline_request(db_session(), current_user(), request_id, data)
    return audit_requests.request_view(row)


@blp.route("/audit-prefill")
@blp.response(200, PrefillOut)
@blp.errors(401, 403, 404, 429)
@login_required
@blp.arguments(PrefillQuery, location="query", unknown=RAISE)
def audit_prefill(query):
    """What the audit form starts from: the dataset's declared sensitive columns, earlier reference groups."""
    return prefill.audit_prefill(
        db_session(), current_user(), algorithm=query["algorithm"], version=query["version"], dataset=query["dataset"]
    )


def _notification_view(row) -> dict:
    shown = notifications.render(row.kind, row.params, str)
    return {
        "id": row.id,
        "kind": row.kind,
        "params": row.params,
        "title": shown.title,
        "body": shown.body,
        "path": shown.path,
        "created_at": row.created_at,
        "read_at": row.read_at,
    }


@blp.route("/notifications")
@blp.response(200, NotificationsOut)
@blp.errors(401, 429)
@login_required
def list_notifications():
    """The signed-in user's latest notifications, newest first, with the unread count."""
    session, user = db_session(), current_user()
    rows = notifications.list_notifications(session, user)
    return {"unread": notifications.unread_count(session, user), "items": [_notification_view(r) for r in rows]}


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@blp.response(200, MarkedOut)
@blp.errors(401, 404, 429)
@login_required
def mark_read(notification_id):
    """Mark one of one's notifications read."""
    return {"marked": notifications.mark_read(db_session(), current_user(), notification_id)}


@blp.route("/notifications/read", methods=["POST"])
@blp.response(200, MarkedOut)
@blp.errors(401, 429)
@login_required
def mark_all_read():
    """Mark all of one's notifications read."""
    return {"marked": notifications.mark_read(db_session(), current_user(), None)}
