"""citation.bib: a BibTeX @software entry for this exact version, every value escaped."""

from __future__ import annotations

import re
from typing import Any

from model_cards.exports.base import Format
from model_cards.exports.common import release_date


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
        "year": released[:4],
        "date": released,
        "url": version.get("url") or "",
        "license": _bib(algorithm.get("license") or ""),
        "repository": algorithm.get("code_repository_url") or "",
        "publisher": "BOAS",
        "note": _bib(algorithm.get("summary") or ""),
    }
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items() if value)
    return f"@software{{{key.strip('_')},\n{body}\n}}\n"


def _bib(text: str) -> str:
    """Escape BibTeX's special characters in a field value."""
    return re.sub(r"([\\{}%&$#_^~])", lambda m: {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}.get(
        m.group(1), "\\" + m.group(1)), str(text))


FORMAT = Format("citation.bib", "application/x-bibtex; charset=utf-8", "BibTeX",
                lambda document, _lang: export_bibtex(document).encode())
