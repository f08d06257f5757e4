"""Refused forms, through the pages: every message in the page's language, each summary line naming its control
by its label and linking to it, no raw field key (SQLite and PostgreSQL, both languages)."""

from __future__ import annotations

import io
import json
import re
from html import unescape

import pytest

from tests.pages.conftest import csrf_of
from tests.pages.content import PASSWORD, code_zip
from tests.pages.french import english_in, typography_faults

LANGS = ("fr", "en")
SUMMARY = re.compile(r'<div class="notice notice-error" role="alert" tabindex="-1" id="error-summary">(.*?)</div>',
                     re.S)
# A service's nested field key, or a key no reader should see, written out as it is.
RAW_KEY = re.compile(r"(?<![\w-])(?:card|datasheet|labels|performance_metrics|fixes_reports|intended_use|org|"
                     r"sensitive_features|metadata|signature)[._]\w[\w.]*|_schema")

ALGORITHM_NAME = "Risque d'hospitalisation"


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def check_refusal(response, lang: str, *, expect: tuple[str, ...] = ()) -> str:
    """The refused form's page: 422, a summary whose links reach existing controls, no raw key, the page's
    language throughout (French typography too); ``expect`` are labels the summary must name."""
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:2000]
    found = SUMMARY.search(html)
    assert found, "no error summary"
    summary = found.group(1)
    anchors = re.findall(r'href="#([^"]+)"', summary)
    assert anchors, summary
    for anchor in anchors:
        assert f'id="{anchor}"' in html, f"the summary links to #{anchor}, which the page lacks"
    assert RAW_KEY.findall(_text(summary)) == [], _text(summary)
    for label in expect:
        assert label in _text(summary), (label, _text(summary))
    if lang == "fr":
        assert english_in(html) == []
        # the demo algorithm's own name is written with a straight apostrophe: data, not our text
        assert [t for t in typography_faults(html) if ALGORITHM_NAME not in t] == []
        assert 'lang="en"' not in summary, summary  # every message known to the catalogue
    return html


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_algorithm_reads_in_the_page_language(signed_in, lang):
    client = signed_in("author")
    url = f"/{lang}/workspace/algorithms/new"
    response = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "slug": "X", "name": " ",
                                      "summary": "", "kind": "magic", "license": "not a licence",
                                      "code_repository_url": "http://example.org", "code_commit": "zz",
                                      "objective": "nope", "description": "x" * 100_001})
    check_refusal(response, lang, expect=("Identifiant dans l’adresse" if lang == "fr" else "Identifier in the address",
                                          "Licence" if lang == "fr" else "License"))


@pytest.mark.parametrize("lang", LANGS)
def test_refused_owners_read_in_the_page_language(signed_in, content, lang):
    client = signed_in("author")
    url = f"/{lang}/workspace/algorithms/{content.rule_slug}"
    response = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "name": "Diabète",
                                      "summary": "Ciblage.", "owners": "nobody@example.org\nnot-an-address"})
    check_refusal(response, lang, expect=("Responsables" if lang == "fr" else "Owners",))


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_upload_names_the_card_fields_it_carries(signed_in, content, lang):
    client = signed_in("author")
    url = f"/{lang}/workspace/algorithms/{content.rule_slug}/versions/new"
    card = {"limitations": 3, "unknown_part": 1, "intended_use": {"decision_role": "decides"},
            "performance_metrics": [{"name": "AUC", "value": 0.5, "ci_low": 0.9, "ci_high": 0.95}]}
    response = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "version": "v1",
                                      "card": json.dumps(card), "fixes_reports": "abc, 99999",
                                      "artifact": (io.BytesIO(b"not an archive"), "code.zip")},
                           content_type="multipart/form-data")
    html = check_refusal(response, lang, expect=("Limites connues" if lang == "fr" else "Known limitations",))
    metrics = "ligne 1 › IC, borne basse" if lang == "fr" else "row 1 › CI low"
    assert metrics in _text(SUMMARY.search(html).group(1))


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_card_draft_names_the_row_and_column_of_a_measure(signed_in, content, lang):
    client = signed_in("author")
    url = f"/{lang}/workspace/algorithms/{content.ml_slug}/2.0.0-rc.1"
    decimal = "," if lang == "fr" else "."
    response = client.post(url, data={
        "csrf_token": csrf_of(client.get(url)), "card.performance_metrics.0.name": "AUC",
        "card.performance_metrics.0.value": f"0{decimal}5", "card.performance_metrics.0.ci_low": f"0{decimal}9",
        "card.performance_metrics.0.ci_high": f"0{decimal}95", "card.performance_metrics.1.name": "Brier",
        "card.performance_metrics.1.level": "2", "card.intended_use.decision_role": "decides",
        "card.training_data.size": "-4", "card.sensitive_attributes": '[{"name": 3}]'})
    html = check_refusal(response, lang, expect=(
        "Mesures de performance" if lang == "fr" else "Performance measures",))
    summary = _text(SUMMARY.search(html).group(1))
    assert ("ligne 1 › IC, borne basse" if lang == "fr" else "row 1 › CI low") in summary
    assert ("ligne 2 › Niveau de l’IC" if lang == "fr" else "row 2 › CI level") in summary
    assert ("élément 1" if lang == "fr" else "item 1") in summary  # a JSON list's item, counted from 1


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_dataset_reads_in_the_page_language(signed_in, lang):
    client = signed_in("evaluator")
    url = f"/{lang}/workspace/datasets/new"
    empty = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "name": "", "labels": "dep",
                                   "file": (io.BytesIO(b"a,b\n1,2\n"), "t.csv")}, content_type="multipart/form-data")
    check_refusal(empty, lang, expect=("Motivation",))
    sheet = dict.fromkeys(("motivation", "source", "population", "collection_period", "preprocessing", "coverage", "access_conditions"), "Texte.")
    table = "nom,sex,label\nMartin,F,1\nDupont,,2\n" * 20
    bad = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "name": "Jeu", "label_column": "label",
                                 "sensitive_columns": "sex, absent", "labels": "ghost = fantôme", **sheet,
                                 "file": (io.BytesIO(table.encode()), "t.csv")}, content_type="multipart/form-data")
    check_refusal(bad, lang, expect=("Fichier de données" if lang == "fr" else "Data file",))


@pytest.mark.parametrize("lang", LANGS)
def test_refused_predictions_read_in_the_page_language(signed_in, content, lang):
    client = signed_in("evaluator")
    url = f"/{lang}/workspace/predictions/new"
    response = client.post(url, data={"csrf_token": csrf_of(client.get(url)),
                                      "target": f"{content.rule_slug}@1.0.0", "dataset": str(content.dataset_id),
                                      "file": (io.BytesIO(b"row_number,guess\n0,1\n"), "p.csv")},
                           content_type="multipart/form-data")
    check_refusal(response, lang, expect=("Fichier de prédictions" if lang == "fr" else "Predictions file",))


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_audit_launch_reads_in_the_page_language(signed_in, content, lang):
    client = signed_in("evaluator")
    url = f"/{lang}/workspace/audits/new"
    response = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "kind": "bias",
                                      "dataset": str(content.dataset_id), "sensitive_features": "",
                                      "tolerance": "5", "n_boot": "100000", "seed": "-1"})
    check_refusal(response, lang, expect=("Tolérance" if lang == "fr" else "Tolerance",))
    unknown = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "kind": "bias",
                                     "target": f"{content.rule_slug}@1.0.0", "dataset": str(content.dataset_id),
                                     "sensitive_features": "sex, planet"})
    check_refusal(unknown, lang, expect=("Attributs sensibles" if lang == "fr" else "Sensitive features",))


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_report_reads_in_the_page_language(signed_in, content, lang):
    client = signed_in("evaluator")
    url = f"/{lang}/algorithms/{content.ml_slug}/1.2.0/reports/new"
    response = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "kind": "gossip", "title": " ",
                                      "body": "x" * 10_001})
    check_refusal(response, lang, expect=("Titre" if lang == "fr" else "Title",))


@pytest.mark.parametrize("lang", LANGS)
def test_refused_accounts_and_organisations_read_in_the_page_language(signed_in, lang):
    client = signed_in("admin")
    url = f"/{lang}/admin/users"
    user = client.post(url, data={"csrf_token": csrf_of(client.get(url)), "email": "not-an-address",
                                  "role": "king", "organisation": "nowhere", "password": "short"})
    check_refusal(user, lang, expect=("Adresse électronique" if lang == "fr" else "E-mail address",))
    org = client.post(f"/{lang}/admin/organisations", data={"csrf_token": csrf_of(client.get(url)),
                                                            "slug": "Bad Slug", "org_name": " ", "kind": "x"})
    check_refusal(org, lang, expect=("Identifiant" if lang == "fr" else "Identifier",))


@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_new_password_reads_in_the_page_language(signed_in, lang):
    client = signed_in("author")
    page = client.get(f"/{lang}/workspace/tokens")
    response = client.post(f"/{lang}/workspace/password", data={"csrf_token": csrf_of(page),
                                                                 "current_password": PASSWORD, "new_password": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    expected = "12\u00a0caractères au moins." if lang == "fr" else "at least 12 characters"
    assert expected in unescape(html) or "12 caractères au moins." in unescape(html)
    if lang == "fr":
        assert english_in(html) == [] and typography_faults(html) == []


def test_the_code_archive_fixture_is_an_archive():
    assert code_zip()[:2] == b"PK"  # the refused upload above sends something else on purpose
