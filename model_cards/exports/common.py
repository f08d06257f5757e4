"""What several exports share: the release date and the SPDX ids of a license expression."""

from __future__ import annotations

from typing import Any

from model_cards import taxonomy


def release_date(document: dict[str, Any]) -> str:
    version, card = document.get("version") or {}, document.get("card") or {}
    when = version.get("published_at") or (card.get("model_details") or {}).get("release_date")
    return str(when or version.get("created_at") or "")[:10]


def spdx_ids(expression: str | None) -> list[str]:
    """The SPDX ids of a license expression (LicenseRef-* and operators left out)."""
    return taxonomy.spdx_license_ids(expression)
