"""Rendering and exports: hostile Markdown comes out inert, and every export parses with its own reader."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
from html.parser import HTMLParser

import pytest
import yaml

from model_cards.examples import example_document
from model_cards.exports.bibtex import export_bibtex
from model_cards.exports.card_html import export_html
from model_cards.exports.card_json import export_json
from model_cards.exports.card_md import export_markdown, hf_metadata
from model_cards.exports.cff import export_citation_cff
from model_cards.render import render_markdown


class _Elements(HTMLParser):
    """Every start tag and its attributes, as a browser's parser would see them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


DANGEROUS_TAGS = {"script", "svg", "iframe", "style", "object", "embed", "img", "math", "form", "base", "link", "meta"}


def _assert_inert(html: str) -> None:
    lowered = html.lower()
    for tag in ("<script", "<svg", "<iframe", "<style", "<img", "<object", "<embed"):
        assert tag not in lowered
    for tag, attrs in _Elements(html).tags:
        assert tag not in DANGEROUS_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            compact = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            assert not compact.startswith(("javascript:", "data:", "vbscript:")), (tag, name, value)


HOSTILE = {
    "script tag": "Bonjour <script>alert(1)</script>",
    "img onerror": '<img src=x onerror="alert(1)">',
    "javascript link": "[clic](javascript:alert(document.cookie))",
    "javascript link with entities": "[clic](&#x6A;avascript:alert(1))",
    "javascript autolink": "<javascript:alert(1)>",
    "svg onload": '<svg onload="alert(1)"><circle r="10"/></svg>',
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "data url link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data url image": "![x](data:image/png;base64,iVBORw0KGgo=)",
    "remote image": "![pixel](https://tracker.example/p.gif)",
    "style tag": "<style>body{display:none}</style>",
    "inline html with handler": '<a href="https://ok.example" onclick="steal()">lien</a>',
    "reference link to javascript": "[x][1]\n\n[1]: javascript:alert(1)",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_markdown_renders_inert(text):
    _assert_inert(render_markdown(text))


def test_all_hostile_inputs_together_render_inert():
    _assert_inert(render_markdown("\n\n".join(HOSTILE.values())))


def test_ordinary_markdown_survives():
    html = render_markdown(
        "## Méthode\n\nUn *modèle* **calibré**, voir [l'étude](https://example.org/etude \"titre\").\n\n"
        "- premier\n- second\n\n3. trois\n4. quatre\n\n> citation\n\n`code` et ~~barré~~\n\n"
        "| groupe | AUROC |\n|:---|---:|\n| femmes | 0,78 |\n"
    )
    tags = [tag for tag, _ in _Elements(html).tags]
    for tag in ("h2", "em", "strong", "a", "ul", "li", "ol", "blockquote", "code", "s", "table", "th", "td"):
        assert tag in tags, tag
    link = next(attrs for tag, attrs in _Elements(html).tags if tag == "a")
    assert link["href"] == "https://example.org/etude" and link["title"] == "titre"
    assert link["rel"] == "noopener noreferrer nofollow"
    assert '<ol start="3">' in html
    assert "Méthode" in html and "0,78" in html
    assert 'style="text-align:right"' in html.replace(": ", ":")


def test_raw_html_is_shown_as_text_not_dropped_silently():
    assert "&lt;b&gt;gras&lt;/b&gt;" in render_markdown("<b>gras</b>")


def test_empty_text_renders_nothing():
    assert render_markdown("") == "" and render_markdown(None) == ""


# --- JSON ----------------------------------------------------------------------------------


def test_json_export_is_canonical_and_stable_across_reserialisation():
    data = export_json(example_document())
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    assert "hospitalisation non programmée".encode() in data  # UTF-8, not \u escapes
    again = export_json(json.loads(data))
    assert again == data
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(data).hexdigest()
    assert data.startswith(b'{\n  "algorithm": {')


def test_json_export_does_not_depend_on_key_order():
    doc = example_document()
    reordered = json.loads(json.dumps(doc, sort_keys=True))
    reordered = dict(reversed(list(reordered.items())))
    assert export_json(reordered) == export_json(doc)


# --- Hugging Face README -------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """No network at all: the Hub client is told to stay offline and sockets refuse to connect."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*_args, **_kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_markdown_export_parses_as_a_hugging_face_model_card(offline, tmp_path):
    from huggingface_hub import ModelCard

    doc = example_document()
    text = export_markdown(doc)
    expected = hf_metadata(doc)
    data = ModelCard(text).data.to_dict()
    assert data["license"] == "apache-2.0"
    assert data["library_name"] == "sklearn"
    assert data["language"] == ["fr"]
    assert data["tags"] == expected["tags"] and {"boas", "health", "risk-prediction"} <= set(data["tags"])
    assert data["datasets"] == expected["datasets"]
    assert data["metrics"] == ["auroc", "brier-score", "calibration-slope"]
    assert data["model-index"] == expected["model-index"]
    results = data["model-index"][0]["results"]
    assert results[0]["metrics"][0] == {"type": "auroc", "value": 0.781, "name": "AUROC (95% CI 0.774-0.788)"}
    assert {r["dataset"]["name"] for r in results} == {"test interne (20 %)", "cohorte synthétique externe 2021"}
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    loaded = ModelCard.load(readme)
    assert loaded.data.to_dict() == data
    assert "## Performance" in loaded.text and "## Citation" in loaded.text


def test_markdown_export_carries_the_prose_tables_and_derived_marks():
    text = export_markdown(example_document())
    assert "### Out-of-scope uses" in text
    assert "| AUROC | 0.781 | 0.774 – 0.788 | 95 % | test interne (20 %) |" in text
    assert "### Inputs *(derived from the MLflow model)*" in text
    assert "```bibtex\n@software{" in text
    assert "Usages exclus" in export_markdown(example_document(), lang="fr")


@pytest.mark.parametrize(("spdx", "expected"), [
    ("MIT", {"license": "mit"}),
    ("GPL-3.0-or-later", {"license": "gpl-3.0"}),
    ("CECILL-2.1", {"license": "other", "license_name": "cecill-2-1",
                    "license_link": "https://spdx.org/licenses/CECILL-2.1.html"}),
    ("LicenseRef-HDH-1.0", {"license": "other", "license_name": "licenseref-hdh-1-0",
                            "license_link": "https://gitlab.example.org/boas/risque-hospitalisation-1an"}),
])
def test_licenses_map_to_hugging_face_names_or_other(spdx, expected):
    doc = example_document()
    doc["algorithm"]["license"] = spdx
    meta = hf_metadata(doc)
    assert {k: meta[k] for k in expected} == expected
    assert ("license_name" in meta) == (expected["license"] == "other")


def test_a_rule_based_algorithm_without_mlflow_model_has_no_library_name(offline):
    from huggingface_hub import ModelCard

    doc = example_document()
    doc["algorithm"]["kind"] = "rule_based"
    doc["artifacts"] = {"kind": None, "archive_sha256": None, "manifest": [], "mlmodel": None}
    data = ModelCard(export_markdown(doc)).data.to_dict()
    assert "library_name" not in data and "pipeline_tag" not in data
    assert "rule-based" in data["tags"]


def test_plain_text_values_cannot_inject_html_into_the_readme():
    doc = example_document()
    doc["algorithm"]["owners"] = ["<script>alert(1)</script>", "```\n<iframe src=x>"]
    text = export_markdown(doc)
    prose, _, citation = text.partition("## Citation")
    assert "<script>" not in prose and "&lt;script&gt;" in prose and "<iframe" not in prose
    fence = citation.split("\n")[2].removesuffix("bibtex")
    assert len(fence) > 3 and citation.rstrip().endswith(fence)  # the owner's ``` cannot close the code block


# --- HTML ----------------------------------------------------------------------------------


def test_html_export_is_a_standalone_printable_page():
    html = export_html(example_document())
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    head = html.split("</head>")[0]
    assert "<style>" in head and "@media print" in head
    assert "default-src 'none'" in head
    assert "<script" not in html and "http://" not in head and "https://" not in head
    assert '<html lang="fr">' in html and "<h2>Usage prévu</h2>" in html
    assert "<strong>hospitalisation non programmée</strong>" in html
    assert "<h2>Intended use</h2>" in export_html(example_document(), lang="en")


def test_html_export_sanitises_prose_and_escapes_plain_values():
    doc = example_document()
    doc["card"]["limitations"] = "\n\n".join(HOSTILE.values())
    doc["algorithm"]["name"] = "<img src=x onerror=alert(1)>"
    doc["card"]["training_data"]["name"] = '"><svg onload=alert(1)>'
    html = export_html(doc)
    body = html.split("</head>", 1)[1]
    _assert_inert(body)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_html_marks_fields_derived_from_the_mlflow_model():
    html = export_html(example_document(), lang="en")
    assert "marks a field read from the uploaded MLflow model" in html
    assert '<h3>Inputs <span class="derived">MLflow</span></h3>' in html
    assert '<h3>Primary uses <span class="derived">' not in html


# --- citations -----------------------------------------------------------------------------


def test_citation_cff_is_valid_yaml_with_the_required_keys():
    cff = yaml.safe_load(export_citation_cff(example_document()))
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"] and cff["title"].startswith("Risque d'hospitalisation")
    assert cff["authors"][0] == {"family-names": "Dubois", "given-names": "Claire"}
    assert cff["authors"][-1] == {"name": "Laboratoire Données de Santé (exemple)"}
    assert cff["version"] == "1.1.0" and cff["date-released"] == "2025-03-14"
    assert cff["url"] == "https://boas.example/algorithms/risque-hospitalisation-1an/1.1.0"
    assert cff["repository-code"].startswith("https://gitlab.example.org/")
    assert cff["license"] == "Apache-2.0"
    assert {i["type"] for i in cff["identifiers"]} == {"url", "other"}


def test_citation_cff_leaves_out_a_license_that_is_not_spdx():
    doc = example_document()
    doc["algorithm"]["license"] = "LicenseRef-HDH-1.0"
    assert "license" not in yaml.safe_load(export_citation_cff(doc))


def test_bibtex_is_a_software_entry_for_this_version():
    bib = export_bibtex(example_document())
    assert bib.startswith("@software{boas_risque_hospitalisation_1an_1_1_0,\n")
    assert "  version = {1.1.0},\n" in bib and "  year = {2025},\n" in bib
    assert "author = {Claire Dubois and Karim Benali and {Laboratoire Données de Santé (exemple)}}" in bib
    assert bib.count("{") == bib.count("}")


def test_bibtex_escapes_special_characters():
    doc = copy.deepcopy(example_document())
    doc["algorithm"]["name"] = "Score 100% R&D {beta} #1"
    bib = export_bibtex(doc)
    assert r"title = {{Score 100\% R\&D \{beta\} \#1}}" in bib
    assert bib.count("{") - bib.count(r"\{") == bib.count("}") - bib.count(r"\}")
