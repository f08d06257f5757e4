"""The append-only audit log, readable by admins."""

from __future__ import annotations

from marshmallow import fields, validate

from boas.api.blueprint import Blueprint
from boas.api.schemas import AuditEventPage
from boas.context import db_session
from boas.registry import accounts
from boas.registry.schemas import fits
from boas.security import current_user, login_required
from model_cards.schema import TextInputSchema
from registry_db.models import AuditEvent

blp = Blueprint("audit_log", __name__, url_prefix="/api/v1", description="Audit log")


class AuditLogQuery(TextInputSchema):
    action = fields.String(validate=fits(AuditEvent.action))
    object_ref = fields.String(validate=fits(AuditEvent.object_ref))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


@blp.route("/audit-log")
@blp.response(200, AuditEventPage)
@blp.errors(401, 403, 429)
@login_required
@blp.arguments(AuditLogQuery, location="query")
def audit_log(args):
    """State changes, newest first (admins)."""
    return accounts.list_audit_events(db_session(), current_user(), **args)
