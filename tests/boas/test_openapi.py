"""The OpenAPI document is generated from the code, valid, and covers every API route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_openapi_document_is_valid_and_lists_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method in {"get", "post", "patch", "put", "delete"}}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served == documented


def test_write_operations_declare_bearer_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"post", "patch", "put", "delete"}:
                assert operation.get("security") == [{"bearerAuth": []}], f"{method.upper()} {path}"
                assert operation.get("summary"), f"{method.upper()} {path} has no summary"


def test_health_answers_with_the_database_backend(client, backend):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok"
    assert body["database"].startswith("sqlite" if backend == "sqlite" else "postgresql")


# The document before this issue (5e0d821): what it named must still be there.
EARLIER_SCHEMAS = {
    "AlgorithmCreate", "AlgorithmOut", "AlgorithmPage", "AlgorithmUpdate", "AuditEventOut", "AuditEventPage",
    "AuditOut", "AuditRequestDoc", "CardPatch", "ColumnOut", "DatasetOut", "Error", "FreeDict", "HealthOut",
    "IssuedTokenOut", "ManifestEntry", "OrganisationCreate", "OrganisationOut", "OwnerOut", "PaginationMetadata",
    "PredictionsOut", "TableUpload", "TokenCreate", "TokenOut", "UserCreate", "UserOut", "UserUpdate", "VersionOut",
    "VersionSummaryOut", "VersionUpload", "Yank",
}
EARLIER_PARAMETERS = {
    "GET /api/v1/algorithms": "query:audited query:author_type query:clinical_domain query:data_source query:kind "
                              "query:language query:license query:maintenance_status query:objective query:page "
                              "query:per_page query:q query:sort query:validation_status",
    "POST /api/v1/algorithms": "",
    "GET /api/v1/algorithms/{slug}": "path:slug",
    "PATCH /api/v1/algorithms/{slug}": "path:slug",
    "GET /api/v1/algorithms/{slug}/diff": "path:slug query:from query:to",
    "GET /api/v1/algorithms/{slug}/versions": "path:slug",
    "POST /api/v1/algorithms/{slug}/versions": "path:slug",
    "GET /api/v1/algorithms/{slug}/versions/{version}": "path:slug path:version",
    "GET /api/v1/algorithms/{slug}/versions/{version}/archive": "path:slug path:version",
    "GET /api/v1/algorithms/{slug}/versions/{version}/artifacts/{path}": "path:path path:slug path:version",
    "GET /api/v1/algorithms/{slug}/versions/{version}/audits": "path:slug path:version",
    "GET /api/v1/algorithms/{slug}/versions/{version}/baseline": "path:slug path:version",
    "PATCH /api/v1/algorithms/{slug}/versions/{version}/card": "path:slug path:version",
    "GET /api/v1/algorithms/{slug}/versions/{version}/compliance": "path:slug path:version",
    "GET /api/v1/algorithms/{slug}/versions/{version}/exports/{name}": "path:name path:slug path:version query:lang",
    "POST /api/v1/algorithms/{slug}/versions/{version}/publish": "path:slug path:version",
    "POST /api/v1/algorithms/{slug}/versions/{version}/unyank": "path:slug path:version",
    "POST /api/v1/algorithms/{slug}/versions/{version}/yank": "path:slug path:version",
    "GET /api/v1/audit-log": "query:action query:object_ref query:page query:per_page",
    "GET /api/v1/audits": "",
    "POST /api/v1/audits": "",
    "GET /api/v1/audits/{job_id}": "path:job_id",
    "GET /api/v1/audits/{job_id}/report": "path:job_id",
    "GET /api/v1/datasets": "",
    "POST /api/v1/datasets": "",
    "GET /api/v1/datasets/{dataset_id}": "path:dataset_id",
    "GET /api/v1/health": "",
    "GET /api/v1/me": "",
    "GET /api/v1/organisations": "",
    "POST /api/v1/organisations": "",
    "POST /api/v1/predictions": "",
    "GET /api/v1/schemas/model-card.json": "",
    "GET /api/v1/tokens": "",
    "POST /api/v1/tokens": "",
    "DELETE /api/v1/tokens/{token_id}": "path:token_id",
    "GET /api/v1/users": "",
    "POST /api/v1/users": "",
    "PATCH /api/v1/users/{user_id}": "path:user_id",
}


def test_the_document_only_gains_schemas_paths_and_parameters(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert set(spec["components"]["schemas"]) >= EARLIER_SCHEMAS
    for operation, parameters in EARLIER_PARAMETERS.items():
        method, path = operation.split(" ", 1)
        item = spec["paths"][path]
        declared = {f"{p['in']}:{p['name']}" for p in item.get("parameters", []) + item[method.lower()].get(
            "parameters", [])}
        assert set(parameters.split()) <= declared, operation


def _resolve(spec, node):
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def test_every_error_response_is_described_with_the_error_shape_boas_sends(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "errors", "message", "status"]
    assert error["properties"]["code"]["type"] == "string" and error["properties"]["status"]["type"] == "integer"
    assert error["properties"]["errors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    described = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "patch", "delete"}:
                continue
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), f"{method} {path} documents no success"
            success = _resolve(spec, operation["responses"][min(s for s in statuses if s.startswith("2"))])
            assert success.get("content"), f"{method} {path}: no response schema"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) or status == "default":
                    schema = _resolve(spec, response)["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"
                    described += 1
            if operation.get("security"):
                assert "401" in statuses, f"{method} {path} needs a token but documents no 401"
            if ("{" in path and path != "/api/v1/algorithms/{slug}/diff") or path.endswith("/diff"):
                assert "404" in statuses, f"{method} {path} names an object but documents no 404"
    assert described > 150
    assert "FreeDict" not in str(spec["paths"])


def test_exports_are_documented_with_each_formats_media_type(client):
    from model_cards.exports import FORMATS

    spec = client.get("/api/v1/openapi.json").get_json()
    export = spec["paths"]["/api/v1/algorithms/{slug}/versions/{version}/exports/{name}"]["get"]
    assert set(export["responses"]["200"]["content"]) == {f.media_type.split(";")[0] for f in FORMATS.values()}
    assert all(name in export["responses"]["200"]["description"] for name in FORMATS)


def test_exchange_formats_are_documented_with_their_media_types(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    export = spec["paths"]["/api/v1/algorithms/{slug}/versions/{version}/exports/{name}"]["get"]
    assert {"application/fhir+json", "application/json"} <= set(export["responses"]["200"]["content"])
    assert "409" in export["responses"]  # FHIR and CHAI describe a release: a draft has none
    assert "fhir-bundle.json" in export["responses"]["200"]["description"]
    for path in ("/api/v1/datasets/healthdcat-ap.jsonld", "/api/v1/datasets/{dataset_id}/healthdcat-ap.jsonld"):
        operation = spec["paths"][path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {"application/ld+json"}
        assert {"401", "403"} <= set(operation["responses"])
