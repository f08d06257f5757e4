"""The diff page reads as words: labelled fields, locale numbers, better/worse markers, the two audit outcomes."""

from __future__ import annotations

import io
import json
import re
import uuid
from html import unescape

import pytest

from boas.registry import algorithms, lifecycle, versions
from boas.registry.storage import Upload
from model_cards.examples import load_example_card
from registry_db import store
from tests.pages.content import bias_audit, code_zip


@pytest.fixture(scope="module")
def two_versions(site):
    """A rule-based algorithm: 1.0.0 audited (small regions masked in public), 1.1.0 with other measures."""
    app, content = site
    runtime = app.extensions["boas"]
    with runtime.session_factory() as s:
        author = store.get_user_by_email(s, content.users["author"])
        evaluator = store.get_user_by_email(s, content.users["evaluator"])
        slug = f"diff-humain-{uuid.uuid4().hex[:6]}"
        algorithms.create_algorithm(s, author, {
            "slug": slug, "name": "Repérage pour le diff", "summary": "Un algorithme dont deux versions diffèrent",
            "description": "Algorithme à base de règles.", "kind": "rule_based", "objective": "case_identification",
            "clinical_domain": "diabetes", "data_source": "snds_base_principale", "language": "sas",
            "validation_status": "being_validated", "maintenance_status": "ad_hoc", "license": "EUPL-1.2",
            "code_repository_url": "https://gitlab.example.org/snds/diff", "code_commit": "abcdef1"})
        card = load_example_card()
        card.pop("derived", None)
        versions.create_version(s, author, runtime.storage, slug, version="1.0.0", card_json=json.dumps(card),
                                code=Upload(io.BytesIO(code_zip()), "code.zip"))
        bias_audit(app, s, evaluator, slug, "1.0.0")
        lifecycle.publish_version(s, author, runtime.policy, slug, "1.0.0")
        card["performance_metrics"][0].update(value=0.7341, ci_low=0.72, ci_high=0.75)  # AUROC: lower is worse
        card["performance_metrics"][1].update(value=0.088)  # Brier score: lower is better
        card["training_data"]["size"] = 120000
        versions.create_version(s, author, runtime.storage, slug, version="1.1.0", card_json=json.dumps(card),
                                code=Upload(io.BytesIO(code_zip()), "code.zip"))
        lifecycle.publish_version(s, author, runtime.policy, slug, "1.1.0")
    return app, slug


def _card_outcome(html: str) -> tuple[str, str]:
    block = re.search(r'<div class="signal signal-(\w+)" id="audit-summary">.*?</p>\s*<p>(.*?)(?: <a |</p>)', html,
                      re.S)
    assert block, "the card has no audit summary"
    return block.group(1), block.group(2).strip()


def test_the_diff_names_fields_in_french_with_french_numbers_and_says_better_or_worse(two_versions):
    app, slug = two_versions
    page = unescape(app.test_client().get(f"/fr/algorithms/{slug}/1.1.0/diff?from=1.0.0").get_data(as_text=True))
    assert "performance_metrics[" not in page and "training_data.size" not in page
    assert "Mesures de performance › AUROC (test interne (20 %)) › valeur" in page
    assert "Données d’entraînement › Effectif" in page and "120\u202f000" in page
    row = re.search(r"AUROC \(test interne \(20 %\)\) › valeur</th>(.*?)</tr>", page, re.S).group(1)
    assert "moins bon" in row and "▼" in row and "0,781" in row and "0,7341" in row
    brier = re.search(r"Brier score \(test interne \(20 %\)\) › valeur</th>(.*?)</tr>", page, re.S).group(1)
    assert "meilleur" in brier and "▲" in brier and "0,088" in brier
    english = unescape(app.test_client().get(f"/en/algorithms/{slug}/1.1.0/diff?from=1.0.0").get_data(as_text=True))
    row = re.search(r"AUROC \(test interne \(20 %\)\) › value</th>(.*?)</tr>", english, re.S).group(1)
    assert "worse" in row and "0.7341" in row


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_diff_sets_the_audit_outcomes_side_by_side_as_the_public_cards_state_them(two_versions, lang):
    app, slug = two_versions
    client = app.test_client()
    page = client.get(f"/{lang}/algorithms/{slug}/1.1.0/diff?from=1.0.0").get_data(as_text=True)
    section = page[page.index('id="verdicts-title"'):page.index("</section>", page.index('id="verdicts-title"'))]
    outcomes = re.findall(r'<div class="signal signal-(\w+)">', section)
    for version, shown in zip(("1.0.0", "1.1.0"), outcomes, strict=True):
        outcome, text = _card_outcome(client.get(f"/{lang}/algorithms/{slug}/{version}").get_data(as_text=True))
        assert shown == outcome
        assert text in section  # the same sentence, from the same (masked) public views
    assert outcomes[0] != "not_audited" and outcomes[1] == "not_audited"


def test_the_json_diff_keeps_its_paths(two_versions):
    app, slug = two_versions
    body = app.test_client().get(f"/api/v1/algorithms/{slug}/diff?from=1.0.0&to=1.1.0").get_json()
    paths = {c["path"] for c in body["card"]}
    assert "training_data.size" in paths
    assert "performance_metrics[name=AUROC][dataset=test interne (20 %)][subgroup=].value" in paths
