"""The append-only audit log, readable by admins."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from boas.api.schemas import AuditEventPage
from boas.context import db_session
from boas.registry import accounts
from boas.security import current_user, login_required

blp = Blueprint("audit_log", __name__, url_prefix="/api/v1", description="Audit log")


class AuditLogQuery(Schema):
    action = fields.String()
    object_ref = fields.String()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


@blp.route("/audit-log")
@blp.response(200, AuditEventPage)
@login_required
@blp.arguments(AuditLogQuery, location="query")
def audit_log(args):
    """State changes, newest first (admins)."""
    return accounts.list_audit_events(db_session(), current_user(), **args)
