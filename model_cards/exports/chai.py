"""chai-model-card.json: the CHAI applied model card's fields, each read from a named field of the snapshot.

The field list and where each comes from are those of the CHAI coverage table
(``framework_tables.CHAI_SECTIONS``), so the export and the compliance page cannot disagree. Every field
is ``{"value", "source", "status"}``: ``source`` names the document path(s) the value was read from; a
field the card does not fill is ``null`` with status "missing" (never a guess), one made of several
card fields of which some are empty is "partial" with those parts ``null``, and a field BOAS does
not hold by design is ``null`` with status "out_of_scope" and the reason. Key metrics follow CHAI's
shape, an estimate with its interval ``{estimate, lower, upper, level}``.
"""

from __future__ import annotations

import json
from typing import Any

from model_cards import docpath
from model_cards.exports.base import Format, Release
from model_cards.framework_tables import CHAI_SECTIONS, Row

SCHEMA_REFERENCE = "https://mc.chai.org/v0.1/schema.xsd"
_METRICS = "card.performance_metrics"


def export_chai(document: dict[str, Any], release: Release) -> dict[str, Any]:
    """The CHAI applied model card as JSON: sections of fields, each with its value and source path."""
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    out: dict[str, Any] = {
        "schema": "CHAI Applied Model Card",
        "schema_reference": SCHEMA_REFERENCE,
        "generated_from": {
            "algorithm": algorithm.get("slug"),
            "version": version.get("version"),
            "card_sha256": release.sha256,
        },
    }
    for section_id, _title, rows in CHAI_SECTIONS:
        out[section_id] = {row[0]: _field(row, document, release) for row in rows}
    return out


def _field(row: Row, document: dict[str, Any], release: Release) -> dict[str, Any]:
    if len(row) == 3:
        return {"value": None, "source": [], "status": "out_of_scope", "reason": row[2]}
    item_id, paths, mode = row[0], list(row[2]), row[3]
    if item_id == "release_stage":  # the snapshot froze "published"; a later yank is the stage now
        stage: dict[str, Any] = {"value": release.state, "source": ["version.state"], "status": "covered"}
        if release.yank_reason:
            stage["yank_reason"] = release.yank_reason
        return stage
    if item_id in _KEY_METRICS:
        return _KEY_METRICS[item_id](document)
    found = {path: _value(document, path) for path in paths}
    filled = {path: value for path, value in found.items() if value is not None}
    if not filled:
        return {"value": None, "source": paths, "status": "missing"}
    if mode == "all" and len(filled) < len(paths):  # what is there, and null for each part that is not
        return {
            "value": {path.rsplit(".", 1)[-1]: found[path] for path in paths},
            "source": paths,
            "status": "partial",
            "missing": [path for path in paths if path not in filled],
        }
    if len(paths) == 1 or mode == "any":
        path = next(iter(filled))
        return {"value": filled[path], "source": [path], "status": "covered"}
    return {
        "value": {path.rsplit(".", 1)[-1]: value for path, value in filled.items()},
        "source": paths,
        "status": "covered",
    }


def _value(document: dict[str, Any], path: str) -> Any:
    """The filled value(s) at a path: one value, a list when the path crosses a list, None when absent."""
    values = [v for v in docpath.resolve(document, path) if docpath.filled(v)]
    if not values:
        return None
    many = "*" in path or "[" in path
    return values if many else values[0]


def _estimate(metric: dict[str, Any], index: int) -> dict[str, Any]:
    """One performance measure in CHAI's shape; its interval is null when the card gives none."""
    return {
        "metric": metric.get("name"),
        "estimate": metric.get("value"),
        "lower": metric.get("ci_low"),
        "upper": metric.get("ci_high"),
        "level": metric.get("level"),
        "subgroup": metric.get("subgroup"),
        "dataset": metric.get("dataset"),
        "source": f"{_METRICS}.{index}",
    }


def _metrics(document: dict[str, Any], keep) -> list[dict[str, Any]]:
    listed = (document.get("card") or {}).get("performance_metrics") or []
    return [_estimate(m, i) for i, m in enumerate(listed) if isinstance(m, dict) and keep(m)]


def _usefulness(document: dict[str, Any]) -> dict[str, Any]:
    found = _metrics(document, lambda m: not m.get("subgroup") and m.get("category") != "safety")
    return _metric_field(found, [f"{_METRICS}[subgroup=]"])


def _safety(document: dict[str, Any]) -> dict[str, Any]:
    return _metric_field(_metrics(document, lambda m: m.get("category") == "safety"), [f"{_METRICS}[category=safety]"])


def _fairness(document: dict[str, Any]) -> dict[str, Any]:
    """Per-subgroup measures declared in the card, and the verdicts of the bias audits attached to it."""
    subgroups = _metrics(document, lambda m: bool(m.get("subgroup")))
    audits = [
        {
            "audit": a.get("id"),
            "dataset": (a.get("dataset") or {}).get("name"),
            "summary": a.get("summary"),
            "source": f"audits[id={a.get('id')}]",
        }
        for a in document.get("audits") or []
        if a.get("kind") == "bias" and a.get("status") == "succeeded"
    ]
    source = [f"{_METRICS}.*.subgroup", "audits[kind=bias][status=succeeded]"]
    if not subgroups and not audits:
        return {"value": None, "source": source, "status": "missing"}
    return {"value": {"subgroup_metrics": subgroups, "bias_audits": audits}, "source": source, "status": "covered"}


def _metric_field(found: list[dict[str, Any]], source: list[str]) -> dict[str, Any]:
    if not found:
        return {"value": None, "source": source, "status": "missing"}
    return {"value": found, "source": [m["source"] for m in found], "status": "covered"}


_KEY_METRICS = {"usefulness": _usefulness, "fairness": _fairness, "safety": _safety}


def _render(document: dict[str, Any], _lang: str, release: Release | None) -> bytes:
    if release is None:
        raise ValueError("the CHAI export describes a released version")
    text = json.dumps(export_chai(document, release), ensure_ascii=False, indent=2, allow_nan=False)
    return (text + "\n").encode()


FORMAT = Format("chai-model-card.json", "application/json", "CHAI", _render, frozen_only=True)
