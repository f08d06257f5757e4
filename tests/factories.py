"""Test-data factories for HTTP tests (plain functions, no shared mutable fixtures)."""

from __future__ import annotations

import io
import json
import uuid


def algorithm_payload(**overrides) -> dict:
    payload = {
        "slug": f"algo-{uuid.uuid4().hex[:8]}",
        "name": "Diabetes case identification",
        "summary": "Identifies treated diabetes in the SNDS",
        "kind": "ml_model",
        "objective": "case_identification",
        "clinical_domain": "diabetes",
        "data_source": "snds_base_principale",
        "language": "python",
        "validation_status": "being_validated",
        "maintenance_status": "ad_hoc",
        "license": "Apache-2.0",
    }
    payload.update(overrides)
    return payload


def create_algorithm(client, headers, **overrides) -> dict:
    response = client.post("/api/v1/algorithms", json=algorithm_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def example_card_json() -> str:
    from model_cards.examples import load_example_card

    return json.dumps(load_example_card())


def upload_version(client, headers, slug: str, version: str, archive: bytes | None = None,
                   filename: str = "model.zip", field: str = "model", card: str | None = None, **extra):
    """Upload a draft; unless told otherwise its card is the complete example card (baseline met)."""
    data: dict = {"version": version, **extra}
    if archive is not None:
        data[field] = (io.BytesIO(archive), filename)
    card = example_card_json() if card is None else card
    if card:
        data["card"] = card
    return client.post(f"/api/v1/algorithms/{slug}/versions", data=data, headers=headers,
                       content_type="multipart/form-data")
