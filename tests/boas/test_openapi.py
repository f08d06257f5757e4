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
