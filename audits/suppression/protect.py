"""The joint disclosure audit: a new public view checked by linear programming against every earlier one."""

from __future__ import annotations

import logging
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
from audits.suppression.document import public_result
from audits.suppression.tiers import (
    _WITHOUT,
    FULL,
    HIDDEN,
    MIN_CELL,
    TIER_FACTS,
    _cells,
    _label,
    _Lookup,
    _Slot,
    _slots,
)

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



# -- the joint audit over every public view of the dataset ------------------------------------




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
