"""Small-cell suppression of bias-audit results for public views (French health-data practice).

No published number may describe fewer than ``k`` (11) individuals:

* primary: a group with fewer than k individuals is masked entirely; a rate is masked when its
  numerator cell or the rest of its denominator counts fewer than k people (a TPR of 0.95 on
  100 positives reveals 5 missed cases); positives and prevalence likewise; calibration deciles
  and ROC AUC when their cells are small;
* secondary: wherever masked counts could be recomputed from a published total (the groups of a
  feature sum to the cohort; the cells of ``a×b`` sum to the published counts of ``a`` and of
  ``b``), a line never holds exactly one masked value: the smallest other one is masked too;
* disparities and extremes that involve a masked value are masked; verdicts stay visible.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

_NUMERATORS = {  # metric -> (numerator cells, denominator cells) over tn/fp/fn/tp
    "prevalence": (("fn", "tp"), ("tn", "fp", "fn", "tp")),
    "selection_rate": (("fp", "tp"), ("tn", "fp", "fn", "tp")),
    "tpr": (("tp",), ("fn", "tp")),
    "fpr": (("fp",), ("tn", "fp")),
    "fnr": (("fn",), ("fn", "tp")),
    "ppv": (("tp",), ("fp", "tp")),
    "npv": (("tn",), ("tn", "fn")),
    "accuracy": (("tn", "tp"), ("tn", "fp", "fn", "tp")),
}
MASKED = None


def cells_of(group: dict[str, Any]) -> dict[str, int]:
    """Recover the confusion cells from a group's counts and rates (the engine's exact arithmetic)."""
    count, positives = group["count"], group["positives"]
    metrics = group["metrics"]
    tp = round(metrics["tpr"]["value"] * positives) if positives else 0
    predicted = round(metrics["selection_rate"]["value"] * count) if count else 0
    fp = predicted - tp
    return {"tp": tp, "fn": positives - tp, "fp": fp, "tn": count - positives - fp}


def _small(n: int, k: int) -> bool:
    return n < k


def _mask_group(group: dict[str, Any]) -> None:
    group["count"] = group["positives"] = MASKED
    for value in group["metrics"].values():
        value.update(value=MASKED, ci_low=MASKED, ci_high=MASKED)
    group["roc_auc"] = MASKED
    group["calibration"] = MASKED
    group["suppressed"] = "group"


def _primary(group: dict[str, Any], k: int) -> None:
    if _small(group["count"], k):
        _mask_group(group)
        return
    cells = cells_of(group)
    masked = []
    for metric, (num, den) in _NUMERATORS.items():
        numerator = sum(cells[c] for c in num)
        rest = sum(cells[c] for c in den) - numerator
        if metric in group["metrics"] and (_small(numerator, k) or _small(rest, k)):
            group["metrics"][metric].update(value=MASKED, ci_low=MASKED, ci_high=MASKED)
            masked.append(metric)
    negatives = group["count"] - group["positives"]
    if _small(group["positives"], k) or _small(negatives, k):
        group["positives"] = MASKED
        group["roc_auc"] = MASKED
        masked.append("positives")
    if group.get("calibration"):
        for decile in group["calibration"]:
            if _small(decile["n"], k):
                decile.update(n=MASKED, mean_predicted=MASKED, observed=MASKED)
            elif decile.get("observed") is not None:
                events = round(decile["observed"] * decile["n"])
                if _small(events, k) or _small(decile["n"] - events, k):
                    decile["observed"] = MASKED
    if masked:
        group["suppressed"] = sorted(masked)


def _lines(result: dict[str, Any]) -> Iterable[tuple[list[dict[str, Any]], str]]:
    """Sets of groups whose counts (and positives) add up to a published total."""
    single = {f["name"]: f for f in result["features"] if len(f["columns"]) == 1}
    for feature in result["features"]:
        if len(feature["columns"]) == 1:
            yield feature["groups"], "cohort"
            continue
        for column in feature["columns"]:
            margin = single.get(column)
            for level_group in margin["groups"] if margin else []:
                value = level_group["levels"][column]
                line = [g for g in feature["groups"] if g["levels"][column] == value]
                yield line, f"{column}={value}"


def _secondary(result: dict[str, Any]) -> None:
    for key in ("count", "positives"):
        changed = True
        while changed:
            changed = False
            for line, _total in _lines(result):
                masked = [g for g in line if g[key] is MASKED]
                published = [g for g in line if g[key] is not MASKED]
                if len(masked) == 1 and published:
                    smallest = min(published, key=lambda g: g[key])
                    if key == "count":
                        _mask_group(smallest)
                    else:
                        smallest["positives"] = MASKED
                        for metric in ("prevalence",):
                            smallest["metrics"][metric].update(value=MASKED, ci_low=MASKED, ci_high=MASKED)
                        smallest["suppressed"] = sorted({*(smallest.get("suppressed") or []), "positives"})
                    changed = True


_REASON_PARAMETERS = {"needed", "power"}  # audit parameters, not figures computed from cells


def _mask_comparison(disparity: dict[str, Any]) -> None:
    """Mask a comparison's figures; its reason keeps its code and parameters, never a number from the cells."""
    for part in ("difference", "ratio"):
        if part in disparity:
            disparity[part] = {"value": MASKED, "ci_low": MASKED, "ci_high": MASKED}
    for key in ("p_value", "p_adjusted", "base_rate_note"):
        if key in disparity:
            disparity[key] = MASKED
    reason = disparity.get("reason")
    if isinstance(reason, dict):
        disparity["reason"] = {k: v for k, v in reason.items()
                               if not isinstance(v, (int, float)) or isinstance(v, bool) or k in _REASON_PARAMETERS}
    elif isinstance(reason, str):
        disparity["reason"] = MASKED
    disparity["suppressed"] = True


def _mask_disparities(feature: dict[str, Any]) -> None:
    by_id = {g.get("key") or g["group"]: g for g in feature["groups"]}
    reference = by_id.get(feature.get("reference_key") or feature["reference_group"])

    def hidden(group: dict[str, Any] | None, metric: str) -> bool:
        return group is None or group["metrics"][metric]["value"] is MASKED or group.get("count") is MASKED

    for disparity in feature["disparities"]:
        group = by_id.get(disparity.get("key") or disparity["group"])
        if hidden(group, disparity["metric"]) or hidden(reference, disparity["metric"]):
            _mask_comparison(disparity)
    for disparity in feature.get("disparities_to_overall", []):
        if hidden(by_id.get(disparity.get("key") or disparity["group"]), disparity["metric"]):
            _mask_comparison(disparity)
    for extreme in feature["extremes"]:
        if (hidden(by_id.get(extreme.get("max_key") or extreme.get("max_group")), extreme["metric"])
                or hidden(by_id.get(extreme.get("min_key") or extreme.get("min_group")), extreme["metric"])
                or any(g["suppressed"] == "group" for g in feature["groups"] if g.get("suppressed"))):
            for part in ("difference", "ratio", "difference_to_overall", "ratio_to_overall"):
                if part in extreme:
                    extreme[part] = {"value": MASKED, "ci_low": MASKED, "ci_high": MASKED}
            for key in ("max_group", "min_group", "max_key", "min_key"):
                if key in extreme:
                    extreme[key] = MASKED
            extreme["suppressed"] = True


def suppress_bias_result(result: dict[str, Any], k: int = 11) -> dict[str, Any]:
    """A copy of ``result`` safe to publish: nothing describes fewer than ``k`` individuals."""
    public = copy.deepcopy(result)
    overall = public.get("overall") or {}
    for group in [overall, *(g for f in public.get("features", []) for g in f["groups"])]:
        group.pop("cells", None)  # the exact confusion cells are for evaluators and owners only
    if overall:
        _primary(overall, k)
    for feature in public.get("features", []):
        for group in feature["groups"]:
            _primary(group, k)
    _secondary(public)
    for feature in public.get("features", []):
        _mask_disparities(feature)
    public["suppression"] = {
        "min_cell": k,
        "rule": f"no published number describes fewer than {k} individuals; masked values cannot be "
                "recomputed from published totals (secondary suppression)",
    }
    return public
