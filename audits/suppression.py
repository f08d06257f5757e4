"""Public views of bias audits that resist reconstruction (French practice: no cell under 11 people).

What is protected: the confusion cells (tn, fp, fn, tp) of every group, intersection and the overall
cohort. Every published number about a group is a linear fact about those cells (a rate times its
published denominator is one), so each group publishes one of five tiers, each a set of facts:

====== ===================================== =================================================
tier   facts (sums of cells)                 published fields
====== ===================================== =================================================
full   count, positives, predicted, tp       everything: every rate and interval, AUC, calibration
rates  count, positives, predicted           count, positives, prevalence, selection rate
margin count, positives                      count, positives, prevalence
count  count                                 count
hidden nothing                               labels only
====== ===================================== =================================================

Primary rule: a group is ``full`` only when all four cells count at least ``k``; otherwise it takes the
highest lower tier whose own facts leave each of its cells under ``k`` compatible with 0 and with ``k``
(``own_ranges``: so every sum it publishes counts at least ``k`` too).

Secondary rule, checked the way tau-ARGUS audits a table (``audits.linear_audit``): over every public
audit of the same dataset at once, a linear programme bounds each hidden cell under ``k`` (hidden:
its group is not ``full``; absent combinations included). The criterion: **every hidden cell under k
must stay compatible with 0 and with k or more** (its LP range contains [0, k]). So no hidden small
cell is pinned, bounded below k, or shown to be non-empty, and its range is at least k wide, far beyond
what integrality could close (the tests' integer programme confirms it on samples). While a cell fails,
a published fact its bound rests on (non-zero dual value) is withdrawn by lowering its group's tier,
cheapest first: groups already not ``full``, then the smallest step, then the smallest group. Facts of
views frozen earlier, and the dataset's size (public in the provenance), cannot be withdrawn: they are
constraints. A bound resting on facts that cannot be withdrawn alone (a dual solution without any
withdrawable fact: earlier views, the dataset's size and list of levels, the sizes a pass or fail
verdict implies) is accepted and counted in the outcome (never seen in the tests). Finally a withdrawn fact that line sums of published facts determine
anyway is shown again: a masked number is never recomputable from totals.

Everything else is an allow-list, so a new engine field is masked until someone decides otherwise:
parameters are copied; groups keep their label and levels; metric triples keep ``value``, ``ci_low``,
``ci_high``, ``defined``, flags and code-like strings; comparisons (to the reference or to the cohort)
publish numbers only when both compared groups publish the metric (a masked one's reason is the code
``masked``: "undefined" or "small group" would tell a zero or a size); a published reason keeps codes and the numbers named in ``REASON_NUMBERS``; p-values
likewise, Holm-adjusted ones only when every comparison of the audit is published (the step-down reads
them all); extremes are published only when every group of the feature and the cohort publish the
metric; verdicts are categories shown for every group. Any other key is dropped.
Intersections list every combination of their levels, absent ones as hidden groups, so the public
cannot tell an empty combination from a small one.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audits.linear_audit import (
    CELLS,
    QUANTITIES,
    AtLeast,
    Check,
    CrossTable,
    Equality,
    Inconsistent,
    Levels,
    Outcome,
    Protection,
    SolverFailed,
    TooLarge,
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
MAX_VARIABLES = 400_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditRecord:
    """One bias audit as the disclosure audit needs it.

    ``predictions`` names the binary prediction vector (audits sharing it share tp and fp);
    ``scores`` names the score vector it thresholds, if any, with ``threshold``: a higher threshold
    on the same scores predicts a subset. ``public`` is the frozen public view, None for the audit
    being frozen now.
    """

    id: str
    result: dict[str, Any]
    predictions: str
    scores: str | None = None
    threshold: float | None = None
    public: dict[str, Any] | None = None


@dataclass
class Frozen:
    """A public view and how it was obtained (the outcome is for logs and tests, never published)."""

    view: dict[str, Any]
    outcome: Outcome
    fallback: str | None = None
    tiers: dict[str, int] = field(default_factory=dict)  # group label (feature/label) -> tier


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


# -- the joint audit over every public view of the dataset ------------------------------------


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


def _verdict_bounds(result: dict[str, Any], overall: _Slot, features: list[list[_Slot]]) -> list[AtLeast]:
    """A pass or fail verdict says both groups reached the verdict rule's minimum size: a public lower bound."""
    minimum = int(result.get("min_group_size") or 0)
    if minimum <= 1:
        return []
    bounds = []
    for feature, slots in zip(result.get("features", []), features, strict=True):
        lookup = _Lookup(feature, slots, overall)
        for row in feature.get("disparities", []):
            if row.get("verdict") not in ("pass", "fail") and row.get("verdict_unadjusted") not in ("pass", "fail"):
                continue
            for s in (lookup.row(row), lookup.reference()):
                if s is not None and s.count >= minimum:  # only true facts: the programme must stay feasible
                    bounds.append(AtLeast(s.key, minimum))
    return bounds


def _fact_value(slot: _Slot, fact: str) -> int:
    c = slot.cells
    return {"count": slot.count, "positives": c["fn"] + c["tp"], "predicted": c["fp"] + c["tp"], "tp": c["tp"]}[fact]


def _equalities(slot: _Slot, predictions: str, facts: Sequence[str]) -> list[Equality]:
    return [Equality(f, slot.key, predictions if f in ("predicted", "tp") else None, _fact_value(slot, f))
            for f in facts]


def _fact_key(fact: str, key: Levels, predictions: str) -> tuple:
    return (fact, key, predictions if fact in ("predicted", "tp") else None)


def _protect(new: AuditRecord, new_slots: list[_Slot], frozen: Sequence[tuple[AuditRecord, list[_Slot]]],
             k: int) -> tuple[Outcome, set[tuple]]:
    everyone = [(new, new_slots), *frozen]
    levels: dict[str, dict[str, None]] = {}
    for record, slots in everyone:
        for feature in record.result.get("features", []):
            for column in feature["columns"]:
                levels.setdefault(column, {})
        for s in slots:
            for column, value in s.key:
                levels.setdefault(column, {})[value] = None
    predictions = sorted({record.predictions for record, _ in everyone})
    nested = []
    for a, _ in everyone:
        for b, _ in everyone:
            if (a.scores is not None and a.scores == b.scores and a.threshold is not None
                    and b.threshold is not None and a.threshold < b.threshold and a.predictions != b.predictions):
                nested.append((a.predictions, b.predictions))
    table = CrossTable({c: list(v) for c, v in levels.items()}, predictions, nested, MAX_VARIABLES)

    # The dataset's size is public whatever the tiers (the public provenance gives its rows): a fixed fact.
    fixed = [Equality("count", (), None, new_slots[0].count)]
    fixed += [e for record, slots in frozen for s in slots for e in _equalities(s, record.predictions, sorted(s.facts))]
    mutable = [e for s in new_slots for e in _equalities(s, new.predictions, TIER_FACTS[s.tier])]
    at_least: dict[Levels, int] = {}
    for record, slots in everyone:
        for s in slots:
            if s.listed:
                at_least[s.key] = max(at_least.get(s.key, 0), 1)
        by_feature = [[s for s in slots if s.feature == f] for f in range(len(record.result.get("features", [])))]
        overall = next(s for s in slots if s.feature == -1)
        for bound in _verdict_bounds(record.result, overall, by_feature):
            at_least[bound.levels] = max(at_least.get(bound.levels, 0), bound.value)
    # Every unknown is at most the cohort's size: a cap above it keeps each programme bounded, changes no bound
    # that matters (k is far below it) and keeps the true dataset feasible.
    cap = 2.0 * max(sum(_cells(record.result["overall"]).values()) for record, _ in everyone) + k
    protection = Protection(table, fixed, mutable, [AtLeast(key, v) for key, v in at_least.items()], k, cap)

    checks: dict[tuple, Check] = {}
    for record, slots in everyone:
        for s in slots:
            if s.facts >= set(TIER_FACTS[FULL]):
                continue
            for cell in CELLS:
                if s.cells[cell] < k:
                    checks.setdefault((cell, s.key, record.predictions),
                                      Check(cell, s.key, record.predictions, s.cells[cell]))
    by_key = {s.key: s for s in new_slots}

    def choose(candidates: list[tuple], _check: Check) -> list[tuple]:
        def cost(candidate: tuple) -> tuple:
            s = by_key[candidate[1]]
            target = min(s.tier, _WITHOUT[candidate[0]])
            return (s.tier == FULL, s.tier - target, s.count, s.order)

        fact, key, _ = min(candidates, key=cost)
        chosen = by_key[key]
        before = chosen.tier
        chosen.tier = min(chosen.tier, _WITHOUT[fact])
        chosen.facts = set(TIER_FACTS[chosen.tier])
        return [_fact_key(f, chosen.key, new.predictions) for f in TIER_FACTS[before] if f not in chosen.facts]

    outcome = protection.run(list(checks.values()), choose)
    return outcome, protection.published


def _lines(overall: _Slot, features: list[list[_Slot]], result: dict[str, Any]) -> list[tuple[_Slot, list[_Slot]]]:
    """(total, parts): the groups of a one-column feature add up to the cohort, an intersection's groups with
    one level of a column add up to that level's group."""
    single = {s.key: s for f, slots in zip(result.get("features", []), features, strict=True)
              if len(f["columns"]) == 1 for s in slots}
    lines = []
    for feature, slots in zip(result.get("features", []), features, strict=True):
        if len(feature["columns"]) == 1:
            lines.append((overall, slots))
            continue
        for column in feature["columns"]:
            by_level: dict[Levels, list[_Slot]] = {}
            for s in slots:
                by_level.setdefault(tuple(p for p in s.key if p[0] == column), []).append(s)
            lines += [(single[level], parts) for level, parts in by_level.items() if level in single]
    return lines


def _show_implied(published: set[tuple], predictions: str, overall: _Slot, features: list[list[_Slot]],
                  result: dict[str, Any]) -> None:
    """Give back withdrawn facts that published ones determine anyway (a hidden count equal to a total minus
    published counts): showing them adds nothing, and a masked number must not look recomputable.

    Only line sums are used, a sufficient condition: what they determine is implied by the equalities alone.
    """
    known = set(published)
    lines = _lines(overall, features, result)
    slots = [overall, *(s for group in features for s in group)]
    changed = True
    while changed:
        changed = False
        for fact in QUANTITIES:
            for total, parts in lines:
                missing = [s for s in parts if _fact_key(fact, s.key, predictions) not in known]
                if len(missing) == 1 and _fact_key(fact, total.key, predictions) in known:
                    known.add(_fact_key(fact, missing[0].key, predictions))
                    changed = True
    for s in slots:
        for tier in range(s.primary, s.tier, -1):
            if all(_fact_key(f, s.key, predictions) in known for f in TIER_FACTS[tier]):
                s.tier, s.facts = tier, set(TIER_FACTS[tier])
                break


def freeze_public_view(audit: AuditRecord, frozen: Sequence[AuditRecord] = (), k: int = MIN_CELL) -> Frozen:
    """The public view of ``audit``, safe together with the frozen public views of the same dataset."""
    overall, features = _slots(audit.result, None, k)
    new_slots = [overall, *(s for slots in features for s in slots)]
    others = []
    for record in frozen:
        o, f = _slots(record.result, record.public, k)
        others.append((record, [o, *(s for slots in f for s in slots)]))
    fallback = None
    try:
        outcome, published = _protect(audit, new_slots, others, k)
        _show_implied(published, audit.predictions, overall, features, audit.result)
    except (TooLarge, Inconsistent, SolverFailed) as exc:
        # Nothing from this audit is published rather than something unaudited.
        log.warning("public view of audit %s fully masked: %s", audit.id, exc)
        fallback = {TooLarge: "too_large", Inconsistent: "inconsistent", SolverFailed: "solver_failed"}[type(exc)]
        outcome = Outcome()
        for s in new_slots:
            s.tier, s.facts = HIDDEN, set()
    view = public_result(audit.result, overall, features, k)
    tiers = {f"{s.feature}:{_label(s.levels, list(s.levels))}": s.tier for s in new_slots}
    return Frozen(view, outcome, fallback, tiers)


def suppress_bias_result(result: dict[str, Any], k: int = MIN_CELL) -> dict[str, Any]:
    """The public view of one audit on its own (no other public audit of its dataset)."""
    return freeze_public_view(AuditRecord("self", result, "self"), (), k).view


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
