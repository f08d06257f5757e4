"""Exports that cannot inject: hostile text in every field of the card stays text in BibTeX, CFF and card.md."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from model_cards.examples import example_document
from model_cards.exports.bibtex import export_bibtex
from model_cards.exports.card_md import export_markdown
from model_cards.exports.cff import export_citation_cff
from model_cards.render import _permissive_parser, markdown_without_html

PAYLOAD = ('x}, title={Injected}, note={y <script>alert(1)</script> <img src=x onerror="alert(1)"> '
           '[clic](javascript:alert(1)) \\end{document} % #\n@misc{evil,\n---\nkey: value\n``` ~~~ |')
URLS = ["https://gitlab.example.org/a}title={Injected}", "javascript:alert(1)//https://x.org",
        "https://x.org/a b\"<script>alert(1)</script>", "data:text/html,<script>alert(1)</script>",
        "https://x.org/ok\n  title = {Injected}"]


def _hostile(value: Any) -> Any:
    """Every string of the document replaced by the payload, whatever field it is."""
    if isinstance(value, dict):
        return {key: _hostile(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hostile(item) for item in value]
    return PAYLOAD if isinstance(value, str) else value


def _document(url: str) -> dict[str, Any]:
    document = _hostile(copy.deepcopy(example_document()))
    document["algorithm"]["code_repository_url"] = url
    document["version"]["url"] = url
    return document


def _bibtex_fields(bib: str) -> dict[str, str]:
    """A strict reader of one @software entry: brace-balanced values, nothing after the closing brace."""
    match = re.match(r"@software\{([A-Za-z0-9_]+),\n", bib)
    assert match, bib[:80]
    pos, fields = match.end(), {}
    while True:
        field = re.compile(r"  ([a-z]+) = \{").match(bib, pos)
        if field is None:
            break
        depth, i = 1, field.end()
        while depth:
            char = bib[i]
            if char == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            i += 1
        fields[field.group(1)] = bib[field.end():i - 1]
        pos = i + (bib[i] == ",") + 1  # ",\n" between fields, "\n" after the last
    assert bib[pos:] == "}\n", repr(bib[pos:pos + 80])
    return fields


@pytest.mark.parametrize("url", URLS)
def test_bibtex_keeps_every_hostile_value_inside_its_own_field(url):
    bib = export_bibtex(_document(url))
    fields = _bibtex_fields(bib)
    assert set(fields) <= {"title", "author", "version", "year", "date", "url", "license", "repository",
                           "publisher", "note"}
    assert "Injected" not in "".join(k for k in fields)  # no field was added
    for name, value in fields.items():
        assert "\n" not in value, name
        unescaped = re.sub(r"\\[{}]", "", value)
        if name not in ("title", "author"):  # the only values we wrap in braces ourselves
            assert "{" not in unescaped.replace(r"\textbackslash{}", "").replace(r"\^{}", "").replace(
                r"\~{}", "").replace(r"\textless{}", "").replace(r"\textgreater{}", ""), (name, value)
    for name in ("url", "repository"):
        if name in fields:
            assert fields[name].startswith("https://") and not re.search(r"[{}\\\s<>\"]", fields[name]), fields[name]
    assert "<" not in bib and ">" not in bib  # LaTeX's own \textless / \textgreater


def test_bibtex_url_injection_from_the_issue():
    document = copy.deepcopy(example_document())
    document["algorithm"]["code_repository_url"] = "https://gitlab.example.org/x}title={Injected}"
    fields = _bibtex_fields(export_bibtex(document))
    assert fields["repository"] == "https://gitlab.example.org/x%7Dtitle=%7BInjected%7D"
    assert fields["title"].startswith("{Risque")


CFF_KEYS = {"cff-version", "message", "type", "title", "version", "date-released", "authors", "abstract", "url",
            "repository-code", "commit", "license", "identifiers", "keywords"}


@pytest.mark.parametrize("url", URLS)
def test_citation_cff_round_trips_hostile_values_and_keeps_only_web_urls(url):
    text = export_citation_cff(_document(url))
    cff = yaml.safe_load(text)
    assert set(cff) <= CFF_KEYS and "key" not in cff
    assert cff["title"] == PAYLOAD and cff["abstract"] == PAYLOAD and cff["version"] == PAYLOAD
    assert text.count("\n---") == 0 or "---" not in yaml.safe_load(text.split("\n---")[0] or "{}")
    for key in ("url", "repository-code"):
        if key in cff:
            assert re.fullmatch(r"https?://[^\s{}<>\"\\]+", cff[key]), cff[key]
    for identifier in cff.get("identifiers", []):
        if identifier["type"] == "url":
            assert identifier["value"].startswith(("http://", "https://"))
    if url.startswith(("javascript:", "data:")):
        assert "url" not in cff and "repository-code" not in cff


def _html_or_bad_links(tokens) -> list[str]:
    found = []
    for token in tokens:
        if token.type in ("html_block", "html_inline"):
            found.append(token.content)
        href = token.attrGet("href") or token.attrGet("src") if token.type in ("link_open", "image") else None
        if href and re.match(r"(?i)\s*(javascript|data|vbscript|file):", str(href)):
            found.append(str(href))
        if token.children:
            found.extend(_html_or_bad_links(token.children))
    return found


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("url", URLS[:2])
def test_card_md_carries_no_raw_html_whatever_the_fields_hold(url, lang):
    text = export_markdown(_document(url), lang=lang)
    front, body = text.split("\n---\n", 1)[0], text.split("\n---\n", 1)[1]
    meta = yaml.safe_load(front.removeprefix("---\n"))
    assert isinstance(meta, dict) and "key" not in meta
    assert _html_or_bad_links(_permissive_parser().parse(body)) == []
    lowered = text.lower()  # not even as text in a code block or in the front matter
    assert "<script" not in lowered and "<img" not in lowered


def test_card_md_from_the_issue_no_script_no_img_onerror():
    document = copy.deepcopy(example_document())
    document["card"]["limitations"] = 'Voir <script>alert(1)</script> et <img src=x onerror="alert(1)">.'
    document["algorithm"]["description"] = "<script>document.location='https://evil.example'</script>"
    text = export_markdown(document)
    assert "<script" not in text and "<img" not in text
    assert "Voir &lt;script>alert(1)&lt;/script> et &lt;img" in text  # shown as text, not dropped silently


PROSE = {
    "script": ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
    "code span keeps its text": ("Use `a<b>` here", "Use `a<b>` here"),
    "fenced code keeps its text": ("```html\n<p>hi</p>\n```", "```html\n<p>hi</p>\n```"),
    "javascript link points nowhere": ("[x](javascript:alert(1))", "[x](#)"),
    "entity-encoded scheme": ("[x](&#x6A;avascript:alert(1))", "[x](#)"),
    "reference definition": ("[x][1]\n\n[1]: javascript:alert(1)", "[x][1]\n\n[1]: #"),
    "ordinary prose": ("**gras**, *italique*, [lien](https://x.org/a_(b)), a < b", None),
}


@pytest.mark.parametrize(("source", "expected"), PROSE.values(), ids=list(PROSE))
def test_markdown_without_html(source, expected):
    result = markdown_without_html(source)
    assert result == (source if expected is None else expected)
    assert _html_or_bad_links(_permissive_parser().parse(result)) == []


def test_markdown_without_html_falls_back_to_escaping_everything_when_structure_shifts():
    # Escaping the comment turns its ``` into a fence that closes on the real one: the <script>
    # below, code in the original, would then be raw HTML. The check catches it.
    source = "<!--\n```\n-->\n```\n<script>alert(1)</script>\n```\n"
    result = markdown_without_html(source)
    assert "<" not in result and _html_or_bad_links(_permissive_parser().parse(result)) == []
