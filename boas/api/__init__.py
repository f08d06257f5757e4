"""The v1 JSON API: flask-smorest blueprints with declared schemas, OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from boas import errors
from boas.api.schemas import ErrorSchema
from boas.registry.schemas import File

# Component names earlier documents had, kept so generated clients keep their types: what each became.
RETIRED_SCHEMAS = {
    "AuditRequestDoc": {"$ref": "#/components/schemas/AuditRequest",
                        "description": "Deprecated name of AuditRequest (the service's own schema)."},
    "FreeDict": {"type": "object", "description": "Deprecated: no route answers with it any more; baseline, "
                 "compliance, diff and the card's JSON Schema each have their own schema."},
}


class BoasApi(Api):
    """flask-smorest with BOAS's single error shape instead of its own, in answers and in the document."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)


def init_app(app: Flask) -> None:
    from boas.api import (
        accounts,
        algorithms,
        audit_log,
        audit_requests,
        audits,
        health,
        reports,
        schedules,
        uploads,
        versions,
    )

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
    api.register_field(File, "string", "binary")
    for blueprint in (health.blp, algorithms.blp, versions.blp, versions.schemas_blp, accounts.blp, audit_log.blp,
                      audits.blp, schedules.blp, audit_requests.blp,
                      reports.blp, uploads.blp):
        api.register_blueprint(blueprint)
    for meta in audits.METADATA_SCHEMAS:
        api.spec.components.schema(meta.__name__.removesuffix("Schema"), schema=meta)
    for name, definition in RETIRED_SCHEMAS.items():
        api.spec.components.schema(name, definition)
    app.extensions["boas_api"] = api
