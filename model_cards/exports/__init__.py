"""Open-format downloads of a card, each computed from the frozen document only.

A new format is one module defining ``FORMAT`` plus one line in ``_MODULES``; the API, the pages
and the OpenAPI document list ``FORMATS``.
"""

from __future__ import annotations

from model_cards.exports import bibtex, card_html, card_json, card_md, cff, chai, fhir
from model_cards.exports.base import Format, Release

_MODULES = (card_json, card_md, card_html, bibtex, cff, fhir, chai)
FORMATS: dict[str, Format] = {module.FORMAT.name: module.FORMAT for module in _MODULES}

__all__ = ["FORMATS", "Format", "Release"]
