"""The public document built from the tiers: an allow-list, never a copy with holes."""

from __future__ import annotations

import json
from typing import Any

from audits.suppression.tiers import (
    _CODE,
    COUNT,
    FULL,
    HIDDEN,
    MARGINS,
    MASKED_REASON,
    METRIC_TIER,
    MULTIPLICITY_NUMBERS,
    NOTE_NUMBERS,
    PARAMETERS,
    RATES,
    REASON_NUMBERS,
    RULE_NUMBERS,
    TIER_NAMES,
    TRIPLE,
    VERDICTS,
    _Lookup,
    _Slot,
    canonical,
)

# -- the public document -----------------------------------------------------------------------


def _code(value: Any) -> bool:
    return isinstance(value, str) and _CODE.fullmatch(value) is not None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _structure(node: Any, numbers: frozenset[str], key: str = "") -> Any:
    """Structured method data (rules, reasons, notes): codes, flags, and only the numbers named in ``numbers``."""
    if isinstance(node, dict):
        out = {}
        for name, value in node.items():
            kept = _structure(value, numbers, name)
            if kept is not None or value is None:
                out[name] = kept
        return out
    if isinstance(node, list):
        kept = [_structure(item, numbers, key) for item in node]
        return kept if all(k is not None for k in kept) else None
    if node is None or isinstance(node, bool) or _code(node):
        return node
    if _number(node) and key in numbers:
        return node
    return None


def _triple(triple: Any, published: bool) -> dict[str, Any] | None:
    """A {value, ci_low, ci_high, defined, flags, method} entry: numbers and flags only if published."""
    if not isinstance(triple, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in triple.items():
        if key in TRIPLE:
            out[key] = value if published and (value is None or _number(value)) else None
        elif isinstance(value, bool) or key == "defined":
            out[key] = value if published and isinstance(value, bool) else None
        elif published and _code(value):
            out[key] = value
    return out


def _calibration(deciles: Any, k: int) -> list[dict[str, Any]] | None:
    """Equal-count deciles, all or none: each must hold at least k events and k non-events."""
    if not isinstance(deciles, list) or not deciles:
        return None
    shown = []
    for decile in deciles:
        if not isinstance(decile, dict) or set(decile) != {"decile", "n", "mean_predicted", "observed"}:
            return None
        n, observed = decile["n"], decile["observed"]
        if not _number(n) or not _number(observed):
            return None
        events = round(observed * n)
        if events < k or n - events < k:
            return None
        shown.append(dict(decile))
    return shown


_IDENTITY = ("group", "key", "levels")


def _public_group(group: dict[str, Any], tier: int, k: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    masked: list[str] = []
    for key, value in group.items():
        if key in _IDENTITY:  # the group's definition: its levels' values, never a count
            out[key] = value
        elif key == "count":
            out[key] = value if tier >= COUNT else None
        elif key == "positives":
            out[key] = value if tier >= MARGINS else None
            if tier < MARGINS:
                masked.append(key)
        elif key == "metrics":
            out[key] = {}
            for name, triple in value.items():
                published = METRIC_TIER.get(name, FULL) <= tier
                out[key][name] = _triple(triple, published)
                if not published:
                    masked.append(name)
        elif key == "roc_auc":
            out[key] = value if tier == FULL and _number(value) else None
            if out[key] is None and value is not None:
                masked.append(key)
        elif key == "calibration":
            out[key] = _calibration(value, k) if tier == FULL else None
            if out[key] is None and value is not None:
                masked.append(key)
        # anything else (the exact cells, fields a newer engine adds) is not published
    out["suppressed"] = "group" if tier == HIDDEN else (sorted(masked) or None)
    return out


def _reason(reason: Any, numbers: frozenset[str]) -> Any:
    if isinstance(reason, str):
        return reason  # the legacy engine's text quotes only the two compared groups, both published here
    return _structure(reason, numbers) if isinstance(reason, dict) else None


def _public_comparison(row: dict[str, Any], published: bool, family_published: bool, note: bool,
                       k: int) -> dict[str, Any]:
    """A disparity (to the reference or to the overall): categories always, numbers only if ``published``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in (*_IDENTITY, "metric"):
            out[key] = value
        elif key == "reason":  # a masked row's code could say "undefined" (a zero) or "small": none is shown
            out[key] = _reason(value, REASON_NUMBERS) if published else {"code": MASKED_REASON, "min_cell": k}
        elif key == "base_rate_note":
            out[key] = _reason(value, NOTE_NUMBERS) if published and note else None
        elif key == "p_value":
            out[key] = value if published and _number(value) else None
        elif key == "p_adjusted":  # Holm's step-down reads every p-value of the family
            out[key] = value if published and family_published and _number(value) else None
        elif isinstance(value, dict) and set(value) & set(TRIPLE):
            out[key] = _triple(value, published)
        elif key.startswith("verdict"):
            out[key] = value if value in VERDICTS else None  # categories, shown for every group
        elif _code(value):
            out[key] = value
    out["suppressed"] = not published
    return out


def _public_extreme(row: dict[str, Any], published: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "metric":
            out[key] = value
        elif key in ("max_group", "min_group", "max_key", "min_key"):
            out[key] = value if published else None
        elif key == "defined" or isinstance(value, bool):
            out[key] = value if published and isinstance(value, bool) else None
        elif isinstance(value, dict) and set(value) & set(TRIPLE):
            out[key] = _triple(value, published)
        elif published and _code(value):
            out[key] = value
    out["suppressed"] = not published
    return out


def _publishes(slot: _Slot | None, metric: Any) -> bool:
    return slot is not None and METRIC_TIER.get(metric, FULL) <= slot.tier


def _blank(row: dict[str, Any], slot: _Slot, label: str, key: str | None, k: int) -> dict[str, Any]:
    """A hidden group's row for an absent combination: same shape, the verdict a hidden small group gets."""
    out = _public_comparison(row, False, False, False, k)
    out["group"] = label
    if "key" in out:
        out["key"] = key
    if "levels" in out:
        out["levels"] = slot.levels
    for name in out:
        if name.startswith("verdict"):
            out[name] = "insufficient_evidence"
    return out


def _public_feature(feature: dict[str, Any], slots: list[_Slot], overall: _Slot, k: int,
                    family_published: bool, column_labels: dict[tuple[str, str], str]) -> dict[str, Any]:
    columns = feature["columns"]
    lookup = _Lookup(feature, slots, overall)
    reference = lookup.reference()
    template = next((s for s in slots if s.group is not None and s is not reference), None)

    def label_of(s: _Slot) -> str:
        parts = [column_labels.get((c, canonical(s.levels[c]))) for c in columns]
        return "×".join(p if p is not None else str(s.levels[c]) for p, c in zip(parts, columns, strict=True))

    def key_of(s: _Slot) -> str:
        return json.dumps({c: s.levels[c] for c in columns}, ensure_ascii=False, separators=(",", ":"))

    groups = []
    for s in slots:
        if s.group is not None:
            groups.append(_public_group(s.group, s.tier, k))
        else:
            blank = _public_group((template or reference or s).group or feature["groups"][0], HIDDEN, k)
            blank.update(group=label_of(s), levels=s.levels)
            if "key" in blank:
                blank["key"] = key_of(s)
            groups.append(blank)
    out: dict[str, Any] = {"name": feature["name"]}
    for key in ("key", "columns", "reference_group", "reference_key"):
        if key in feature:
            out[key] = feature[key]
    out["groups"] = groups
    for name, against in (("disparities", lambda _row: reference), ("disparities_to_overall", lambda _row: overall)):
        if name not in feature:
            continue
        rows = []
        for row in feature[name]:
            mine, other = lookup.row(row), against(row)
            metric = row.get("metric")
            published = _publishes(mine, metric) and _publishes(other, metric)
            note = published and mine is not None and other is not None and min(mine.tier, other.tier) == FULL
            rows.append(_public_comparison(row, published, family_published, note, k))
        if template is not None:  # absent combinations get the rows a hidden group of the feature shows
            mine_rows = [r for r in feature[name] if lookup.row(r) is template]
            rows += [_blank(r, s, label_of(s), key_of(s), k) for s in slots if s.group is None for r in mine_rows]
        out[name] = rows
    out["extremes"] = [_public_extreme(row, all(_publishes(s, row.get("metric")) for s in [*slots, overall]))
                       for row in feature.get("extremes", [])]
    return out


def _public_verdicts(summary: Any) -> dict[str, Any] | None:
    """Counts of verdicts and the failed comparisons: categories, published for every group."""
    if not isinstance(summary, dict):
        return None
    out: dict[str, Any] = {v: summary[v] for v in (*VERDICTS, "fail_unadjusted") if isinstance(summary.get(v), int)}
    out["failed"] = [{k: item[k] for k in ("feature", "group", "key", "metric") if k in item}
                     for item in summary.get("failed") or [] if isinstance(item, dict)]
    return out


def public_result(result: dict[str, Any], overall: _Slot, features: list[list[_Slot]], k: int) -> dict[str, Any]:
    """Build the public document from the tiers: an allow-list, never a copy with holes."""
    public: dict[str, Any] = {key: result[key] for key in PARAMETERS if key in result}
    if isinstance(result.get("rule"), str):
        public["rule"] = result["rule"]  # the legacy engine's text, written from the parameters only
    elif "rule" in result:
        public["rule"] = _structure(result["rule"], RULE_NUMBERS)
    if "methods" in result:
        public["methods"] = _structure(result["methods"], frozenset())
    if "multiplicity" in result:
        public["multiplicity"] = _structure(result["multiplicity"], MULTIPLICITY_NUMBERS)
    public["n"] = result.get("n") if overall.tier >= COUNT else None
    public["overall"] = {k2: v for k2, v in _public_group(result["overall"], overall.tier, k).items()
                         if k2 not in _IDENTITY}
    family_published = True  # every comparison of the audit publishes its numbers: adjusted p-values may show
    for feature, slots in zip(result.get("features", []), features, strict=True):
        lookup = _Lookup(feature, slots, overall)
        reference = lookup.reference()
        family_published &= all(_publishes(lookup.row(r), r.get("metric")) and _publishes(reference, r.get("metric"))
                                for r in feature.get("disparities", []))
    labels = {}  # each level's label in its one-column feature: intersections' absent combinations are spelled alike
    for feature in result.get("features", []):
        if len(feature["columns"]) == 1:
            column = feature["columns"][0]
            labels.update({(column, canonical(g["levels"][column])): g["group"] for g in feature["groups"]})
    public["features"] = [_public_feature(feature, slots, overall, k, family_published, labels)
                          for feature, slots in zip(result.get("features", []), features, strict=True)]
    if "verdicts" in result:
        public["verdicts"] = _public_verdicts(result["verdicts"])
    public["suppression"] = {
        "min_cell": k,
        "method": "confusion_cells_linear_programming",
        "scope": "every_public_audit_of_the_dataset",
        "tiers": [TIER_NAMES[t] for t in (FULL, RATES, MARGINS, COUNT, HIDDEN)],
        "rule": (f"A group's rates are published only when each of its four confusion cells (true and false "
                 f"positives and negatives) counts at least {k} people; otherwise at most its size, its positives "
                 f"and its selection rate are shown. Complementary suppression is checked by linear programming over "
                 f"every number published for this dataset, in this audit and every earlier public audit of it: "
                 f"each hidden cell under {k} stays compatible both with 0 and with {k} or more. Intersections list "
                 f"every combination of levels, absent ones as masked groups."),
    }
    return public
