"""What several exports share: canonical JSON, the release date, the SPDX ids of a license expression, web URLs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from model_cards import taxonomy


def canonical_json(data: Any) -> bytes:
    """The bytes a document's digest is computed over: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def release_date(document: dict[str, Any]) -> str:
    version, card = document.get("version") or {}, document.get("card") or {}
    when = version.get("published_at") or (card.get("model_details") or {}).get("release_date")
    return str(when or version.get("created_at") or "")[:10]


def spdx_ids(expression: str | None) -> list[str]:
    """The SPDX ids of a license expression (LicenseRef-* and operators left out)."""
    return taxonomy.spdx_license_ids(expression)


def web_url(value: Any) -> str | None:
    """An http(s) URL fit to be written into a citation or a README, or None.

    Card URLs are typed by authors: anything that is not http(s) is left out, and the characters a
    URL may not hold (spaces, quotes, braces, backslashes, angle brackets, controls) are percent-encoded,
    so a value can neither close the field it is written in nor smuggle in another scheme.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(text, safe="!#$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz~")
