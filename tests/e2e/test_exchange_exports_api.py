"""FHIR and CHAI exports of a released card over HTTP, from its frozen snapshot, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

from fhir.resources.bundle import Bundle

from model_cards.examples import load_example_card
from tests.e2e.test_cards_api import _draft, _publish
from tests.e2e.test_versions_api import assert_error

FHIR = "fhir-bundle.json"
CHAI = "chai-model-card.json"


def _published(client, make_account, model_zip, card=None):
    """A published version of an algorithm owned by an author of a fresh organisation."""
    _, admin = make_account("admin")
    org = f"org-{uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/organisations", headers=admin, json={"slug": org, "name": "CHU de Test", "kind": "research_body"}
    )
    assert created.status_code == 201, created.get_json()
    _, author = make_account("author", organisation=org)
    slug = _draft(client, author, model_zip, card=json.dumps(card) if card else None)
    published = _publish(client, author, slug)
    assert published.status_code == 200, published.get_json()
    return slug, author, published.get_json()


def _resources(bundle: dict) -> dict[str, dict]:
    return {entry["resource"]["resourceType"]: entry["resource"] for entry in bundle["entry"]}


def test_fhir_bundle_validates_and_its_attachment_is_the_frozen_card(client, make_account, model_zip):
    slug, _, published = _published(client, make_account, model_zip)
    response = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{FHIR}")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{slug}-1.0.0-{FHIR}"'
    bundle = Bundle.model_validate_json(response.data)  # the real FHIR R5 models, every element checked
    assert bundle.type == "collection"
    assert len({e.fullUrl for e in bundle.entry}) == 3 and all(e.fullUrl.startswith("urn:uuid:") for e in bundle.entry)
    raw = _resources(json.loads(response.data))
    doc, device, org = raw["DocumentReference"], raw["DeviceDefinition"], raw["Organization"]
    assert doc["status"] == "current" and doc["docStatus"] == "final" and doc["version"] == "1.0.0"
    attachment = doc["content"][0]["attachment"]
    data = base64.b64decode(attachment["data"])
    assert attachment["contentType"] == "application/json" and int(attachment["size"]) == len(data)
    assert (
        base64.b64decode(attachment["hash"]) == hashlib.sha1(data, usedforsecurity=False).digest()
    )  # FHIR: SHA-1 of data
    assert hashlib.sha256(data).hexdigest() == published["card_sha256"]  # the bytes publication hashed
    assert json.loads(data)["version"]["version"] == "1.0.0"
    sha_uri = "ni:///sha-256;" + base64.urlsafe_b64encode(bytes.fromhex(published["card_sha256"])).decode().rstrip("=")
    assert sha_uri in [i["value"] for i in doc["identifier"]]
    by_url = {e["fullUrl"]: e["resource"] for e in json.loads(response.data)["entry"]}
    assert by_url[doc["subject"]["reference"]] is not None and by_url[doc["subject"]["reference"]]["id"] == device["id"]
    assert by_url[device["manufacturer"]["reference"]]["name"] == org["name"] == "CHU de Test"
    assert any(a.get("reference") == device["manufacturer"]["reference"] for a in doc["author"])
    assert device["version"] == [{"value": "1.0.0"}]
    assert device["deviceName"][0]["name"] == "Diabetes case identification"
    regulatory = load_example_card()["regulatory"]
    assert {"text": f"regulatory status: {regulatory['status']}"} in [c["type"] for c in device["classification"]]
    assert client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{FHIR}").data == response.data  # stable


def test_a_yanked_version_is_exported_as_superseded_with_its_reason(client, make_account, model_zip):
    slug, author, published = _published(client, make_account, model_zip)
    yank = client.post(
        f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", json={"reason": "wrong cohort"}, headers=author
    )
    assert yank.status_code == 200
    fhir = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{FHIR}")
    Bundle.model_validate_json(fhir.data)
    doc = _resources(json.loads(fhir.data))["DocumentReference"]
    assert doc["status"] == "superseded" and doc["docStatus"] == "final"
    assert "wrong cohort" in doc["description"]
    data = base64.b64decode(doc["content"][0]["attachment"]["data"])
    assert hashlib.sha256(data).hexdigest() == published["card_sha256"]  # the snapshot did not change
    chai = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{CHAI}").get_json()
    assert chai["release_info"]["release_stage"] == {
        "value": "yanked",
        "source": ["version.state"],
        "status": "covered",
        "yank_reason": "wrong cohort",
    }
    client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/unyank", headers=author)
    again = _resources(json.loads(client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{FHIR}").data))
    assert again["DocumentReference"]["status"] == "current"


def test_drafts_have_no_exchange_export(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    for name in (FHIR, CHAI):
        url = f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{name}"
        assert_error(client.get(url, headers=author), 409, "not_published")
        assert_error(client.get(url), 404)  # a draft is invisible to the public, as for every export
    assert client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/card.json", headers=author).status_code == 200


def test_chai_fields_name_their_source_and_missing_ones_are_null(client, make_account, model_zip):
    card = load_example_card()
    card.pop("funding", None)
    card["training_data"].pop("representativeness", None)  # optional in the baseline: half of CHAI's item
    card["performance_metrics"] = [
        {"name": "AUROC", "value": 0.81, "ci_low": 0.78, "ci_high": 0.84, "level": 0.95},
        {"name": "AUROC", "value": 0.74, "ci_low": 0.69, "ci_high": 0.79, "level": 0.95, "subgroup": "femmes"},
    ]
    slug, _, published = _published(client, make_account, model_zip, card=card)
    response = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/{CHAI}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    chai = response.get_json()
    assert chai["generated_from"] == {"algorithm": slug, "version": "1.0.0", "card_sha256": published["card_sha256"]}
    assert chai["basic_info"]["model_name"] == {
        "value": "Diabetes case identification",
        "source": ["algorithm.name"],
        "status": "covered",
    }
    assert chai["basic_info"]["developer_contact"]["value"] == card["model_details"]["contact"]
    assert chai["trust_ingredients"]["funding"] == {"value": None, "source": ["card.funding"], "status": "missing"}
    development = chai["trust_ingredients"]["development_data"]
    assert development["status"] == "partial" and development["missing"] == ["card.training_data.representativeness"]
    assert development["value"] == {"description": card["training_data"]["description"], "representativeness": None}
    assert chai["trust_ingredients"]["foundation_models"]["status"] == "out_of_scope"
    assert chai["trust_ingredients"]["foundation_models"]["value"] is None
    assert chai["key_metrics"]["usefulness"]["value"] == [
        {
            "metric": "AUROC",
            "estimate": 0.81,
            "lower": 0.78,
            "upper": 0.84,
            "level": 0.95,
            "subgroup": None,
            "dataset": None,
            "source": "card.performance_metrics.0",
        }
    ]
    fairness = chai["key_metrics"]["fairness"]["value"]["subgroup_metrics"]
    assert [(m["subgroup"], m["estimate"], m["source"]) for m in fairness] == [
        ("femmes", 0.74, "card.performance_metrics.1")
    ]
    assert chai["key_metrics"]["safety"] == {
        "value": None,
        "source": ["card.performance_metrics[category=safety]"],
        "status": "missing",
    }
    every = [
        field
        for section in chai.values()
        if isinstance(section, dict)
        for field in section.values()
        if isinstance(field, dict) and "status" in field
    ]
    assert every and all(f["status"] != "missing" or f["value"] is None for f in every)
    assert {f["status"] for f in every} == {"covered", "missing", "partial", "out_of_scope"}
    assert all(f["source"] or f["status"] == "out_of_scope" for f in every)
