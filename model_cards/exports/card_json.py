"""card.json: the frozen document as canonical pretty JSON."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from model_cards.exports.base import Format


def export_json(document: dict[str, Any]) -> bytes:
    """Canonical pretty JSON: sorted keys, UTF-8 (not ASCII-escaped), 2-space indent, trailing newline."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False, default=_json_default)
    return (text + "\n").encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


FORMAT = Format("card.json", "application/json", "JSON", lambda document, _lang, _release: export_json(document))
