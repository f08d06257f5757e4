"""Model cards over HTTP: drafts, the baseline gate, frozen snapshots, compliance, diff, exports."""

from __future__ import annotations

import copy
import hashlib
import json

import jsonschema
import pytest
from sqlalchemy import select

from model_cards import snapshot
from model_cards.baseline import ITEMS
from model_cards.examples import load_example_card
from registry_db.models import Version
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version

# Fields an uploaded MLflow model documents itself are prefilled (and marked derived) when the
# author leaves them out, so removing them does not block publication: see the prefill test.
DERIVED_FROM_MLFLOW = {"card.input_output.inputs", "card.model_details.model_type", "card.dependencies.runtime"}
CARD_MANDATORY = sorted({item.path for item in ITEMS if "ml_model" in item.mandatory and item.path.startswith("card.")
                         and item.when is None} - DERIVED_FROM_MLFLOW)


def _draft(client, headers, model_zip, version="1.0.0", card=None, **algo):
    slug = algo.pop("slug", None) or create_algorithm(client, headers, **algo)["slug"]
    response = upload_version(client, headers, slug, version, model_zip, card=card)
    assert response.status_code == 201, response.get_json()
    return slug


def _publish(client, headers, slug, version="1.0.0"):
    return client.post(f"/api/v1/algorithms/{slug}/versions/{version}/publish", headers=headers)


def _without(card: dict, path: str) -> dict:
    card = copy.deepcopy(card)
    parts = path.split(".")[1:]
    node = card
    for part in parts[:-1]:
        node = node[part]
    del node[parts[-1]]
    return card


def test_complete_example_card_publishes(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    report = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/baseline", headers=author).get_json()
    assert report["publishable"] is True and report["missing"] == []
    response = _publish(client, author, slug)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("path", CARD_MANDATORY)
def test_removing_a_mandatory_field_blocks_publication_naming_exactly_it(path, client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip, card=json.dumps(_without(load_example_card(), path)))
    body = assert_error(_publish(client, author, slug), 422, "baseline_not_met")
    assert set(body["errors"]) == {path}
    assert client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0", headers=author).get_json()["state"] == "draft"


def test_every_missing_item_is_listed_at_once(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip, card="")
    body = assert_error(_publish(client, author, slug), 422)
    assert len(body["errors"]) >= 10
    assert "card.training_data.label_definition" in body["errors"]


def test_bias_audit_gate_when_configured(app, client, make_account, model_zip):
    import dataclasses

    runtime = app.extensions["boas"]
    app.extensions["boas"] = dataclasses.replace(runtime, policy=dataclasses.replace(runtime.policy,
                                                                                  require_bias_audit=True))
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    body = assert_error(_publish(client, author, slug), 422)
    assert set(body["errors"]) == {"audits"}


def test_draft_cards_are_patched_field_by_field_and_frozen_after_publication(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    url = f"/api/v1/algorithms/{slug}/versions/1.0.0/card"
    patched = client.patch(url, headers=author, json={"limitations": "Pas validé hors métropole.",
                                                       "funding": None})
    assert patched.status_code == 200, patched.get_json()
    card = patched.get_json()["card"]
    assert card["limitations"] == "Pas validé hors métropole." and "funding" not in card
    assert card["training_data"] == load_example_card()["training_data"]  # untouched parts stay
    body = assert_error(client.patch(url, headers=author, json={
        "performance_metrics": [{"name": "auc", "value": 2, "ci_low": 0.9, "ci_high": 0.1}],
        "intended_use": {"decision_role": "decides"}, "unknown": 1}), 422)
    assert {"intended_use.decision_role", "unknown"} <= set(body["errors"])
    assert any(k.startswith("performance_metrics.0") for k in body["errors"])
    _, stranger = make_account("author")
    assert_error(client.patch(url, headers=stranger, json={"limitations": "x"}), 404)
    assert _publish(client, author, slug).status_code == 200
    assert_error(client.patch(url, headers=author, json={"limitations": "changed"}), 409, "card_frozen")


def test_snapshot_hash_is_stable_across_reserialisation_and_storage(client, make_account, model_zip, session):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    published = _publish(client, author, slug).get_json()
    exported = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/card.json").data
    document = json.loads(exported)
    assert hashlib.sha256(snapshot.canonical_json(document)).hexdigest() == published["card_sha256"]
    session.expire_all()
    stored = session.execute(select(Version.snapshot).where(Version.card_sha256 == published["card_sha256"])).scalar_one()
    assert snapshot.digest(stored) == published["card_sha256"]
    assert client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/card.json").data == exported


def test_a_fixed_document_has_the_same_digest_on_every_backend(session, make_account):
    from model_cards.examples import example_document

    document = example_document()
    expected = snapshot.digest(document)
    user, _ = make_account("author")
    from registry_db.models import Algorithm, AlgorithmKind, VersionState

    algorithm = Algorithm(slug="fixed-doc", name="n", summary="s", kind=AlgorithmKind.ML_MODEL, created_by_id=user.id)
    session.add(algorithm)
    session.flush()
    session.add(Version(algorithm_id=algorithm.id, version="1.0.0", state=VersionState.PUBLISHED, snapshot=document,
                        created_by_id=user.id))
    session.flush()
    session.expire_all()
    stored = session.execute(select(Version.snapshot).where(Version.algorithm_id == algorithm.id)).scalar_one()
    assert snapshot.digest(stored) == expected


def test_compliance_reports_coverage_and_a_field_flips_its_item(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    url = f"/api/v1/algorithms/{slug}/versions/1.0.0/compliance"
    before = client.get(url, headers=author).get_json()["frameworks"]
    assert {"eu_ai_act_annex_iv", "eu_ai_act_art_13_3", "onc_hti1", "tripod_ai", "chai_applied_model_card"} <= set(before)
    for framework in before.values():
        counts = framework["counts"]
        assert counts["covered"] + counts["missing"] + counts["out_of_scope"] == counts["total"] == len(framework["items"])

    def status(coverage, framework, needle):
        return {i["id"]: i["status"] for i in coverage[framework]["items"]}[needle]

    hti_tester = "tester"  # HTI-1 external validation: who tested the model
    assert status(before, "onc_hti1", hti_tester) == "covered"
    client.patch(f"/api/v1/algorithms/{slug}/versions/1.0.0/card", headers=author,
                 json={"validation": {"performed_by": None}})
    after = client.get(url, headers=author).get_json()["frameworks"]
    assert status(after, "onc_hti1", hti_tester) == "missing"


def test_diff_of_two_published_versions_lists_exactly_what_changed(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    assert _publish(client, author, slug).status_code == 200
    response = upload_version(client, author, slug, "1.1.0", model_zip, card="", card_from="1.0.0")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["card"]["limitations"] == load_example_card()["limitations"]
    client.patch(f"/api/v1/algorithms/{slug}/versions/1.1.0/card", headers=author, json={
        "limitations": "Nouvelle limite.", "model_details": {"change_summary": "Recalibration 2025."}})
    assert _publish(client, author, slug, "1.1.0").status_code == 200
    diff = client.get(f"/api/v1/algorithms/{slug}/diff", query_string={"from": "1.0.0", "to": "1.1.0"}).get_json()
    changed = {c["path"] for c in diff["card"]}
    assert changed == {"limitations", "model_details.change_summary"}
    assert next(c for c in diff["card"] if c["path"] == "limitations")["new"] == "Nouvelle limite."
    assert diff["manifest"] == []
    assert_error(client.get(f"/api/v1/algorithms/{slug}/diff", query_string={"from": "1.0.0"}), 422)


def test_exports_validate_and_parse_with_the_real_libraries(client, make_account, model_zip, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import ModelCard

    _, author = make_account("author")
    slug = _draft(client, author, model_zip)
    _publish(client, author, slug)
    base = f"/api/v1/algorithms/{slug}/versions/1.0.0/exports"
    schema = client.get("/api/v1/schemas/model-card.json").get_json()
    jsonschema.Draft202012Validator.check_schema(schema)
    card_json = client.get(f"{base}/card.json")
    assert card_json.status_code == 200 and "attachment" in card_json.headers["Content-Disposition"]
    jsonschema.Draft202012Validator(schema).validate(json.loads(card_json.data))
    assert "@" not in json.dumps(json.loads(card_json.data)["algorithm"]["owners"])  # names, never e-mails
    assert "@" not in json.loads(card_json.data)["version"]["published_by"]
    broken = json.loads(card_json.data)
    broken["card"]["intended_use"]["decision_role"] = "decides"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)
    markdown = client.get(f"{base}/card.md").data.decode()
    parsed = ModelCard(markdown)
    assert parsed.data.license == "apache-2.0"
    assert "boas" in parsed.data.tags
    bib = client.get(f"{base}/citation.bib").data.decode()
    assert bib.startswith("@software") and "1.0.0" in bib
    cff = client.get(f"{base}/CITATION.cff")
    assert cff.headers["Content-Disposition"] == 'attachment; filename="CITATION.cff"'
    html = client.get(f"{base}/card.html", query_string={"lang": "en"}).data.decode()
    assert "<script" not in html.lower() and 'lang="en"' in html
    assert_error(client.get(f"{base}/card.exe"), 404)


def test_user_markdown_is_sanitised_in_the_html_export(client, make_account, model_zip):
    _, author = make_account("author")
    card = load_example_card()
    card["limitations"] = ('<script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3)) '
                           '<svg onload=alert(4)></svg> **gras**')
    slug = _draft(client, author, model_zip, card=json.dumps(card))
    html = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/exports/card.html", headers=author).data.decode()
    tags = _elements(html)
    assert not [t for t, _ in tags if t in {"script", "svg", "iframe", "img"}]
    assert not [(t, a) for t, attrs in tags for a, _v in attrs if a.startswith("on")]
    assert not [(t, v) for t, attrs in tags for a, v in attrs if a in {"href", "src"} and v and
                v.strip().lower().startswith(("javascript:", "data:"))]
    assert "<strong>gras</strong>" in html


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element and its attributes, as a browser's parser would see them."""
    from html.parser import HTMLParser

    found: list = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_mlflow_facts_prefill_the_card_and_are_marked_derived(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _draft(client, author, model_zip, card="")
    card = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0", headers=author).get_json()["card"]
    assert [c["name"] for c in card["input_output"]["inputs"]] == ["age", "deprivation"]
    assert card["derived"]["source"] == "mlflow"
    assert "input_output.inputs" in card["derived"]["fields"]
    declared = load_example_card()
    slug2 = _draft(client, author, model_zip, card=json.dumps(declared))
    card2 = client.get(f"/api/v1/algorithms/{slug2}/versions/1.0.0", headers=author).get_json()["card"]
    assert card2["input_output"]["inputs"] == declared["input_output"]["inputs"]  # declared wins
    assert "input_output.inputs" not in card2["derived"]["fields"]
