"""citation.bib: a BibTeX @software entry for this exact version, every value escaped."""

from __future__ import annotations

import re
from typing import Any

from model_cards.exports.base import Format
from model_cards.exports.common import release_date, web_url


def export_bibtex(document: dict[str, Any]) -> str:
    """A BibTeX @software entry for this exact version."""
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    released = release_date(document)
    key = re.sub(r"[^A-Za-z0-9]+", "_", f"boas_{algorithm.get('slug', 'algorithm')}_{version.get('version', '')}")
    authors = [_bib(name) for name in algorithm.get("owners") or []]
    if organisation := (algorithm.get("organisation") or {}).get("name"):
        authors.append("{" + _bib(organisation) + "}")
    fields = {
        "title": "{" + _bib(algorithm.get("name") or algorithm.get("slug") or "") + "}",
        "author": " and ".join(authors),
        "version": _bib(version.get("version") or ""),
        "year": _bib(released[:4]),
        "date": _bib(released),
        "url": _bib_url(version.get("url")),
        "license": _bib(algorithm.get("license") or ""),
        "repository": _bib_url(algorithm.get("code_repository_url")),
        "publisher": "BOAS",
        "note": _bib(algorithm.get("summary") or ""),
    }
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items() if value)
    return f"@software{{{key.strip('_')},\n{body}\n}}\n"


def _bib(text: str) -> str:
    """Escape BibTeX's special characters in a field value; line breaks become spaces."""
    flat = re.sub(r"[\s\x00-\x1f\x7f]+", " ", str(text)).strip()
    special = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}"}
    return re.sub(r"([\\{}%&$#_^~<>])", lambda m: special.get(m.group(1), "\\" + m.group(1)), flat)


def _bib_url(value: object) -> str:
    """A URL field: http(s) only, braces and backslashes percent-encoded (a URL field is read verbatim)."""
    return web_url(value) or ""


FORMAT = Format("citation.bib", "application/x-bibtex; charset=utf-8", "BibTeX",
                lambda document, _lang, _release: export_bibtex(document).encode(), citation=True)
