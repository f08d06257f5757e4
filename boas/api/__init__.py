"""The v1 JSON API: flask-smorest blueprints with declared schemas, OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from boas import errors


class BoasApi(Api):
    """flask-smorest with BOAS's single error shape instead of its own."""

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)


def init_app(app: Flask) -> None:
    from boas.api import accounts, algorithms, audit_log, audits, health, versions

    app.config.update(
        API_TITLE="BOAS — open library of health algorithms",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Register, document, publish and audit health algorithms.",
                "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api = BoasApi(app)
    for blueprint in (health.blp, algorithms.blp, versions.blp, versions.schemas_blp, accounts.blp, audit_log.blp,
                      audits.blp):
        api.register_blueprint(blueprint)
    app.extensions["boas_api"] = api
