"""The append-only audit log, readable by admins, and the head of its hash chain, public."""

from __future__ import annotations

from marshmallow import fields, validate

from boas.api.blueprint import Blueprint
from boas.api.schemas import AuditEventPage, AuditHeadOut
from boas.context import db_session
from boas.registry import accounts
from boas.registry import audit_log as chain_service
from boas.registry.schemas import fits
from boas.security import current_user, login_required
from model_cards.schema import TextInputSchema
from registry_db.models import AuditEvent

blp = Blueprint("audit_log", __name__, url_prefix="/api/v1", description="Audit log")


class AuditLogQuery(TextInputSchema):
    action = fields.String(validate=fits(AuditEvent.action))
    object_ref = fields.String(validate=fits(AuditEvent.object_ref))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=accounts.MAX_LOG_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=accounts.MAX_LOG_PER_PAGE))


@blp.route("/audit-log")
@blp.response(200, AuditEventPage)
@blp.errors(401, 403, 429)
@login_required
@blp.arguments(AuditLogQuery, location="query")
def audit_log(args):
    """State changes, newest first (admins)."""
    return accounts.list_audit_events(db_session(), current_user(), **args)


@blp.route("/audit-log/head")
@blp.response(
    200, AuditHeadOut, headers={"Cache-Control": {"description": "always no-store", "schema": {"type": "string"}}}
)
def audit_log_head():
    """The hash chain's head: its hash, the event count and its time, for outsiders to anchor.

    Anyone holding an anchor can later run ``boas audit-log verify --expect-head HASH --expect-count N``
    (or recompute the chain themselves, see the README) to show that nothing up to it was rewritten,
    deleted or cut off. Sent with ``Cache-Control: no-store``: the head moves with every state change
    (failed sign-ins included), an anchor is only evidence if it comes from the registry itself rather
    than from a shared cache's older copy, and reading it is one indexed row, so caching would save
    nothing worth a stale answer.
    """
    return chain_service.get_chain_head(db_session()), 200, {"Cache-Control": "no-store"}
