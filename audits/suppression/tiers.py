"""Disclosure tiers and the groups of one audit: which facts of each group the public may read."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audits.linear_audit import (
    CELLS,
    Levels,
)

MIN_CELL = 11
FULL, RATES, MARGINS, COUNT, HIDDEN = 4, 3, 2, 1, 0
TIER_NAMES = {FULL: "full", RATES: "rates", MARGINS: "margins", COUNT: "count", HIDDEN: "hidden"}
TIER_FACTS = {FULL: ("count", "positives", "predicted", "tp"), RATES: ("count", "positives", "predicted"),
              MARGINS: ("count", "positives"), COUNT: ("count",), HIDDEN: ()}
_WITHOUT = {"tp": RATES, "predicted": MARGINS, "positives": COUNT, "count": HIDDEN}  # best tier lacking a fact
METRIC_TIER = {"prevalence": MARGINS, "selection_rate": RATES}  # every other metric needs all four cells
_METRIC_FACTS = {"prevalence": {"count", "positives"}, "selection_rate": {"count", "predicted"}}
VERDICTS = ("pass", "fail", "insufficient_evidence")
PARAMETERS = ("tolerance", "tolerance_band", "n_boot", "seed", "ci_level", "min_group_size", "threshold",
              "predictions", "label", "metrics", "disparity_metrics")
TRIPLE = ("value", "ci_low", "ci_high")
# Named numbers of structured data that describe the method or the compared groups only. A reason's numbers
# are published only when both compared groups publish the metric; any other number is dropped.
REASON_NUMBERS = frozenset({"group_n", "reference_n", "needed", "detectable_below", "detectable_above", "power",
                            "level", "group_n_needed", "scale_needed"})
NOTE_NUMBERS = frozenset({"prevalence_ratio", "expected_selection_ratio"})  # base-rate note: both groups full
RULE_NUMBERS = frozenset({"band", "tolerance", "ci_level", "min_group_size", "alpha", "comparisons", "n_boot"})
MULTIPLICITY_NUMBERS = frozenset({"alpha", "comparisons"})
MASKED_REASON = "masked"  # a masked row's reason: {"code": "masked", "min_cell": k}, no figure of the group
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")  # a code, never a sentence: no space, no capital, no punctuation


@dataclass
class _Slot:
    """One published group position: a real group, or a padded empty combination of an intersection."""

    feature: int  # -1 for the overall cohort
    levels: dict[str, Any]
    key: Levels
    group: dict[str, Any] | None
    cells: dict[str, int]
    facts: set[str]
    tier: int
    listed: bool  # a one-column level or the cohort: its existence is public
    order: int
    primary: int = HIDDEN  # the tier the primary rule allows (new audit), before complementary suppression

    @property
    def count(self) -> int:
        return sum(self.cells.values())


def canonical(value: Any) -> str:
    """A typed, stable key for a level value: 1 and "1" stay different."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def levels_key(levels: dict[str, Any]) -> Levels:
    return tuple(sorted((column, canonical(value)) for column, value in levels.items()))


def cells_of(group: dict[str, Any]) -> dict[str, int]:
    """A group's exact confusion cells; results older than the ``cells`` field give them through their rates."""
    if "cells" in group:
        return {cell: int(group["cells"][cell]) for cell in CELLS}
    count, positives, metrics = group["count"], group["positives"], group["metrics"]
    tp = round(metrics["tpr"]["value"] * positives) if positives else 0
    predicted = round(metrics["selection_rate"]["value"] * count) if count else 0
    return {"tn": count - positives - (predicted - tp), "fp": predicted - tp, "fn": positives - tp, "tp": tp}


def _cells(group: dict[str, Any] | None) -> dict[str, int]:
    return dict.fromkeys(CELLS, 0) if group is None else cells_of(group)


def own_ranges(cells: dict[str, int], tier: int) -> dict[str, tuple[int, int]]:
    """What a group's own published facts at ``tier`` say about each of its cells (before any other group)."""
    tn, fp, fn, tp = (cells[c] for c in CELLS)
    count, positives, predicted = tn + fp + fn + tp, fn + tp, fp + tp
    negatives = count - positives
    if tier >= FULL:
        return {c: (v, v) for c, v in cells.items()}
    if tier == RATES:  # one degree of freedom left: the true positives
        low, high = max(0, positives + predicted - count), min(positives, predicted)
        return {"tp": (low, high), "fp": (predicted - high, predicted - low), "fn": (positives - high, positives - low),
                "tn": (count - positives - predicted + low, count - positives - predicted + high)}
    if tier == MARGINS:
        return {"tn": (0, negatives), "fp": (0, negatives), "fn": (0, positives), "tp": (0, positives)}
    if tier == COUNT:
        return dict.fromkeys(CELLS, (0, count))
    return dict.fromkeys(CELLS, (0, 10**12))


def primary_tier(cells: dict[str, int], k: int) -> int:
    """The highest tier at which the group's own facts leave each of its cells under k compatible with 0 and with k.

    ``full`` needs all four cells at k or more. A lower tier is taken only if its own published sums cannot
    bound a small cell (so each published sum is itself at least k); other groups are the linear audit's job.
    """
    if min(cells.values()) >= k:
        return FULL
    for tier in (RATES, MARGINS, COUNT):
        ranges = own_ranges(cells, tier)
        if all(ranges[c][0] <= 0 and ranges[c][1] >= k for c in CELLS if cells[c] < k):
            return tier
    return HIDDEN


def _facts_visible(public_group: dict[str, Any]) -> set[str]:
    """The facts a public group shows: the sums its published count, positives and rates pin down."""
    facts: set[str] = set()
    if public_group.get("count") is not None:
        facts.add("count")
    if public_group.get("positives") is not None:
        facts.add("positives")
    for name, triple in (public_group.get("metrics") or {}).items():
        if isinstance(triple, dict) and any(triple.get(k) is not None for k in TRIPLE):
            facts |= _METRIC_FACTS.get(name, set(TIER_FACTS[FULL]))
    if public_group.get("roc_auc") is not None or public_group.get("calibration"):
        facts |= set(TIER_FACTS[FULL])
    return facts


def _tier_of(facts: set[str]) -> int:
    return max(t for t, needed in TIER_FACTS.items() if set(needed) <= facts)


# -- the groups of one audit -------------------------------------------------------------------


def _column_levels(result: dict[str, Any]) -> dict[str, list[Any]]:
    """Each column's levels in the engine's order, from its one-column feature."""
    levels: dict[str, list[Any]] = {}
    for feature in result.get("features", []):
        if len(feature["columns"]) == 1:
            column = feature["columns"][0]
            levels[column] = [g["levels"][column] for g in feature["groups"]]
    return levels


def _label(levels: dict[str, Any], columns: Sequence[str]) -> str:
    return "×".join(str(levels[c]) for c in columns)


def _feature_positions(feature: dict[str, Any], column_levels: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination a feature publishes: its groups, and for intersections every absent combination too."""
    columns = feature["columns"]
    if len(columns) < 2 or any(c not in column_levels for c in columns):
        return [dict(g["levels"]) for g in feature["groups"]]
    return [dict(zip(columns, combo, strict=True)) for combo in itertools.product(*(column_levels[c] for c in columns))]


def _slots(result: dict[str, Any], public: dict[str, Any] | None, k: int) -> tuple[_Slot, list[list[_Slot]]]:
    """The overall slot and each feature's slots; tiers from ``public`` when frozen, else from the primary rule."""
    column_levels = _column_levels(result)
    order = itertools.count()

    def slot(feature: int, levels: dict[str, Any], group: dict[str, Any] | None, shown: dict[str, Any] | None,
             listed: bool) -> _Slot:
        cells = _cells(group)
        if public is not None:
            facts = _facts_visible(shown or {})
            tier = _tier_of(facts)
        else:
            tier = primary_tier(cells, k) if group is not None else HIDDEN
            facts = set(TIER_FACTS[tier])
        return _Slot(feature, levels, levels_key(levels), group, cells, facts, tier, listed, next(order), tier)

    overall = slot(-1, {}, result["overall"], (public or {}).get("overall"), True)
    features = []
    for f, feature in enumerate(result.get("features", [])):
        real = {levels_key(g["levels"]): g for g in feature["groups"]}
        shown_groups = {}
        if public is not None:
            shown_groups = {levels_key(g["levels"]): g for g in public["features"][f]["groups"]}
        if public is not None:
            positions = [g["levels"] for g in public["features"][f]["groups"]]
        else:
            positions = _feature_positions(feature, column_levels)
        features.append([slot(f, dict(levels), real.get(levels_key(levels)), shown_groups.get(levels_key(levels)),
                              len(feature["columns"]) == 1)
                         for levels in positions])
    return overall, features

class _Lookup:
    """A feature's slots by group key (newer engines) and by label."""

    def __init__(self, feature: dict[str, Any], slots: list[_Slot], overall: _Slot):
        self.feature, self.overall = feature, overall
        self.by_key = {s.group["key"]: s for s in slots if s.group is not None and "key" in s.group}
        self.by_label = {s.group["group"]: s for s in slots if s.group is not None}

    def group(self, key: Any, label: Any) -> _Slot | None:
        return self.by_key.get(key) if key is not None and key in self.by_key else self.by_label.get(label)

    def reference(self) -> _Slot | None:
        return self.group(self.feature.get("reference_key"), self.feature.get("reference_group"))

    def row(self, row: dict[str, Any]) -> _Slot | None:
        return self.group(row.get("key"), row.get("group"))
