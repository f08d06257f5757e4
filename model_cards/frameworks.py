"""How far a card document answers the frameworks readers and regulators check it against.

For each framework (Mitchell et al., EU AI Act Annex IV, Art. 10 and Art. 13(3), ONC HTI-1's 31 source
attributes, TRIPOD+AI's 27 items, the CHAI applied model card) every item is "covered", "missing" or
"out_of_scope", with the document paths it maps to. The mappings are data, in model_cards.framework_tables.
"""

from __future__ import annotations

from typing import Any

from model_cards import docpath
from model_cards import framework_tables as tables

FRAMEWORKS: dict[str, dict[str, Any]] = {
    "mitchell_2019": {"title": "Model Cards for Model Reporting (Mitchell et al., 2019)",
                      "reference": "https://doi.org/10.1145/3287560.3287596", "groups": (("", "", tables.MITCHELL),)},
    "eu_ai_act_annex_iv": {"title": "EU AI Act, Annex IV: technical documentation",
                           "reference": "Regulation (EU) 2024/1689, Annex IV",
                           "groups": (("", "", tables.EU_AI_ACT_ANNEX_IV),)},
    "eu_ai_act_art_10": {"title": "EU AI Act, Article 10: data and data governance",
                         "reference": "Regulation (EU) 2024/1689, Art. 10", "groups": (("", "", tables.EU_AI_ACT_ART_10),)},
    "eu_ai_act_art_13_3": {"title": "EU AI Act, Article 13(3): instructions for use",
                           "reference": "Regulation (EU) 2024/1689, Art. 13(3)",
                           "groups": (("", "", tables.EU_AI_ACT_ART_13_3),)},
    "onc_hti1": {"title": "ONC HTI-1: source attributes of predictive decision support interventions",
                 "reference": "45 CFR 170.315(b)(11)(iv)", "groups": tables.HTI1_GROUPS},
    "tripod_ai": {"title": "TRIPOD+AI reporting guideline", "reference": "https://doi.org/10.1136/bmj-2023-078378",
                  "groups": (("", "", tables.TRIPOD_AI),)},
    "chai_applied_model_card": {"title": "CHAI Applied Model Card", "reference": "https://mc.chai.org/v0.1/schema.xsd",
                                "groups": tables.CHAI_SECTIONS},
}
STATUSES = ("covered", "missing", "out_of_scope")


def coverage(document: dict[str, Any]) -> dict[str, Any]:
    """Per framework: every item with its status and paths, and the covered/missing/out_of_scope counts."""
    return {framework_id: _framework(spec, document) for framework_id, spec in FRAMEWORKS.items()}


def _framework(spec: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    items, groups = [], []
    for group_id, group_title, rows in spec["groups"]:
        group_items = [_item(row, document, group_id) for row in rows]
        items.extend(group_items)
        if group_id:
            groups.append({"id": group_id, "title": group_title, "counts": _counts(group_items)})
    out = {"title": spec["title"], "reference": spec["reference"], "items": items, "counts": _counts(items)}
    if groups:
        out["groups"] = groups
    return out


def _item(row: tuple[Any, ...], document: dict[str, Any], group: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": row[0], "title": row[1]}
    if group:
        item["group"] = group
    if len(row) == 3:  # out of scope: (id, title, reason)
        return {**item, "status": "out_of_scope", "paths": [], "mode": "all", "missing_paths": [], "reason": row[2]}
    paths, mode = list(row[2]), row[3]
    missing = [p for p in paths if not docpath.is_present(document, p)]
    covered = not missing if mode == "all" else len(missing) < len(paths)
    return {**item, "status": "covered" if covered else "missing", "paths": paths, "mode": mode,
            "missing_paths": [] if covered else missing, "reason": None}


def _counts(items: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for item in items:
        counts[item["status"]] += 1
    counts["total"] = len(items)
    return counts
