"""Liveness and readiness."""

from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import text

from boas.api.blueprint import Blueprint
from boas.context import db_session

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")


class HealthOut(Schema):
    status = fields.String()
    database = fields.String()
    version = fields.String()


@blp.route("/health")
@blp.response(200, HealthOut)
def health():
    """Report whether the service and its database answer."""
    from importlib.metadata import PackageNotFoundError, version

    session = db_session()
    session.execute(text("SELECT 1"))
    try:
        boas_version = version("boas")
    except PackageNotFoundError:
        boas_version = "unknown"
    return {"status": "ok", "database": session.get_bind().dialect.name, "version": boas_version}
