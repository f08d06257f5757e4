"""Bias-audit results laid out as accessible server-side SVG charts, each with the table it summarises.

For one feature and one metric, a chart plots each group's ratio to the reference group with its confidence
interval on a log scale (so 0.8 and 1.25 sit symmetrically around 1), over the audit's tolerance band.
Masked groups (small-cell suppression) are drawn as a text mark, never as a number. Pure layout: the
template writes the SVG elements, escaping every label.
"""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _

from boas.pages.i18n import METRICS, VERDICTS, attribute_label, fnumber, fpercent
from boas.pages.verdict_text import fpvalue, note_text, reason_text

WIDTH, LABEL_END, PLOT_START, PLOT_END, ROW, TOP, BOTTOM = 720, 176, 186, 560, 26, 30, 36
TICKS = (0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0, 10.0, 20.0)
SHAPES = {"pass": "circle", "fail": "square", "insufficient_evidence": "diamond", "reference": "line"}
PRIMARY_METRICS = 2  # shown open; the others sit in a disclosure widget


def interval_text(triple: dict[str, Any] | None) -> str:
    """'0.85 [0.80 – 0.90]' in the page's locale ('[2.1 – ∞]' for an unbounded ratio); '' when masked or absent."""
    if not triple:
        return ""
    value = triple.get("value")
    text = fnumber(value) if value is not None else ""
    high = "∞" if triple.get("ci_high_unbounded") else (fnumber(triple["ci_high"]) if triple.get("ci_high") is not None
                                                        else None)
    if triple.get("ci_low") is not None and high is not None and (value is not None or triple.get("ci_high_unbounded")):
        text = f"{text} [{fnumber(triple['ci_low'])} – {high}]".strip()
    return text


def _short(label: str, size: int = 24) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def _scale(values: list[float], band: tuple[float, float]):
    positive = [v for v in values if v and v > 0]
    low = max(0.05, min([band[0] * 0.8, *positive]))
    high = min(20.0, max([band[1] * 1.25, *positive]))
    span = math.log(high) - math.log(low)

    def x(value: float) -> float:
        clipped = min(max(value, low), high)
        return round(PLOT_START + (math.log(clipped) - math.log(low)) / span * (PLOT_END - PLOT_START), 1)

    ticks = [{"x": x(t), "label": fnumber(t)} for t in TICKS if low <= t <= high]
    return x, ticks


def _identity(item: dict[str, Any]) -> str:
    """Groups and disparities are matched by key; results stored before keys existed, by label."""
    return item.get("key") or item["group"]


def _rows(feature: dict[str, Any], metric: str, comparisons: int | None) -> list[dict[str, Any]]:
    disparities = {(_identity(d), d["metric"]): d for d in feature["disparities"]}
    reference_id = feature.get("reference_key") or feature["reference_group"]
    reference_count = next((g.get("count") for g in feature["groups"] if _identity(g) == reference_id), None)
    rows = []
    for group in feature["groups"]:
        reference = _identity(group) == reference_id
        disparity = disparities.get((_identity(group), metric)) or {}
        value = (group.get("metrics") or {}).get(metric) or {}
        ratio = {"value": 1.0, "ci_low": None, "ci_high": None} if reference else disparity.get("ratio") or {}
        suppressed = group.get("count") is None or value.get("value") is None or bool(disparity.get("suppressed"))
        undefined = not suppressed and ratio.get("value") is None  # e.g. the reference's value is 0
        masked = suppressed or undefined  # no point to draw
        verdict = "reference" if reference else disparity.get("verdict")
        unadjusted = disparity.get("verdict_unadjusted")
        sizes_masked = group.get("count") is None or reference_count is None
        p_value, p_adjusted = disparity.get("p_value"), disparity.get("p_adjusted")
        rows.append({
            "group": group["group"], "short": _short(group["group"]), "count": group.get("count"),
            "reference": reference, "masked": masked, "undefined": undefined, "verdict": verdict,
            "verdict_label": _("Reference group") if reference else VERDICTS.get(verdict, ""),
            "unadjusted_label": VERDICTS.get(unadjusted, "") if unadjusted and unadjusted != verdict else "",
            "value_text": interval_text(value), "ratio_text": interval_text(ratio), "ratio": ratio,
            # A figure computed from masked cells is never written out, whatever the result still carries.
            "reason": "" if reference else reason_text(disparity.get("reason"), comparisons=comparisons,
                                                       sizes_masked=sizes_masked, values_masked=suppressed),
            "note": "" if suppressed else note_text(disparity.get("base_rate_note")),
            "p_text": (_("p %(p)s, after adjustment p %(adjusted)s", p=fpvalue(p_value), adjusted=fpvalue(p_adjusted))
                       if p_value is not None and p_adjusted is not None and not suppressed else ""),
        })  # fmt: skip
    return rows


def metric_chart(feature: dict[str, Any], metric: str, band: tuple[float, float], level: float,
                 min_cell: int = 11, comparisons: int | None = None) -> dict[str, Any]:
    """One chart (geometry, title, description) and its data table rows."""
    rows = _rows(feature, metric, comparisons)
    values = [v for r in rows if not r["masked"] for v in (r["ratio"].get("value"), r["ratio"].get("ci_low"),
                                                            r["ratio"].get("ci_high")) if v is not None]
    x, ticks = _scale(values, band)
    for index, row in enumerate(rows):
        row["y"] = TOP + index * ROW + ROW // 2
        row["shape"] = SHAPES.get(row["verdict"] or "", "circle")
        if not row["masked"]:
            ratio = row["ratio"]
            row["x"] = x(ratio["value"])
            has_ci = ratio.get("ci_low") is not None and ratio.get("ci_high") is not None
            row["xl"], row["xh"] = (x(ratio["ci_low"]), x(ratio["ci_high"])) if has_ci else (None, None)
    counts = {key: sum(1 for r in rows if r["verdict"] == key and not r["masked"]) for key in VERDICTS}
    masked = sum(1 for r in rows if r["masked"])
    name, reference = METRICS.get(metric, metric), feature["reference_group"]
    title = _("%(metric)s by %(feature)s: ratio to the reference group", metric=name, feature=attribute_label(feature["name"]))
    desc = _(
        "Ratio of each group's %(metric)s to the reference group %(reference)s, with %(level)s intervals, on a "
        "log scale. Tolerance band from %(low)s to %(high)s. Within tolerance: %(passed)s; outside: %(failed)s; "
        "insufficient evidence: %(unsure)s; masked (fewer than %(min_cell)s people): %(masked)s.",
        metric=name, reference=reference, level=fpercent(level), low=fnumber(band[0]),
        high=fnumber(band[1]), passed=counts["pass"], failed=counts["fail"],
        unsure=counts["insufficient_evidence"], masked=masked, min_cell=min_cell)
    height = TOP + len(rows) * ROW + BOTTOM
    return {
        "metric": metric, "metric_label": name, "title": title, "desc": desc, "rows": rows, "ticks": ticks,
        "width": WIDTH, "height": height, "plot_top": TOP - 6, "plot_bottom": height - BOTTOM + 6,
        "axis_y": height - BOTTOM + 6, "label_end": LABEL_END, "verdict_x": PLOT_END + 12,
        "band_x": x(band[0]), "band_w": round(x(band[1]) - x(band[0]), 1), "ref_x": x(1.0),
    }


def bias_charts(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every feature of a bias-audit result (as the viewer may see it), with one chart per disparity metric."""
    band = tuple(result.get("tolerance_band") or (0.8, 1.25))
    level = result.get("ci_level") or 0.95
    min_cell = (result.get("suppression") or {}).get("min_cell") or 11
    comparisons = (result.get("multiplicity") or {}).get("comparisons")
    features = []
    for feature in result.get("features") or []:
        charts = [metric_chart(feature, metric, band, level, min_cell, comparisons)
                  for metric in result.get("disparity_metrics") or ()]
        features.append({"name": feature["name"], "reference_group": feature["reference_group"],
                         "primary": charts[:PRIMARY_METRICS], "secondary": charts[PRIMARY_METRICS:]})
    return features


# -- trends of scheduled re-audits ------------------------------------------------------------

TREND_LEFT, TREND_RIGHT, TREND_TOP, TREND_HEIGHT, TREND_BOTTOM = 64, 700, 24, 200, 48


def _trend_scale(series: dict[str, Any], band: tuple[float, float]):
    """A log scale for ratios (parity in the middle), a linear 0–1 scale for drift shares."""
    values = [v for p in series["points"] for v in (p.get("value"), p.get("ci_low"), p.get("ci_high"))
              if v is not None and v > 0]
    if series["kind"] == "drift":
        def y(value: float) -> float:
            return round(TREND_TOP + (1 - min(max(value, 0.0), 1.0)) * TREND_HEIGHT, 1)

        return y, [{"y": y(t), "label": fpercent(t)} for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    low = max(0.05, min([band[0] * 0.8, *values]))
    high = min(20.0, max([band[1] * 1.25, *values]))
    span = math.log(high) - math.log(low)

    def y_log(value: float) -> float:
        clipped = min(max(value, low), high)
        return round(TREND_TOP + (1 - (math.log(clipped) - math.log(low)) / span) * TREND_HEIGHT, 1)

    return y_log, [{"y": y_log(t), "label": fnumber(t)} for t in TICKS if low <= t <= high]


def trend_chart(series: dict[str, Any], band: tuple[float, float] = (0.8, 1.25)) -> dict[str, Any]:
    """One series of a version's scheduled re-audits over time: each run's value with its interval.

    Bias series plot one group's ratio to the reference group (log scale, over the tolerance band);
    drift series the share of drifted columns. A masked point (small cells) is a text mark, never a
    number. A run whose verdict differs from the previous run's is marked, in the chart and the table.
    """
    y, ticks = _trend_scale(series, band)
    count = len(series["points"])
    step = (TREND_RIGHT - TREND_LEFT) / max(1, count - 1) if count > 1 else 0
    rows = []
    for index, point in enumerate(series["points"]):
        x = round(TREND_LEFT + index * step if count > 1 else (TREND_LEFT + TREND_RIGHT) / 2, 1)
        value = point.get("value")
        masked = value is None or (series["kind"] == "bias" and value <= 0)
        changed = bool(point.get("verdict_change"))
        has_ci = not masked and point.get("ci_low") is not None and point.get("ci_high") is not None
        rows.append({
            "x": x, "y": None if masked else y(value), "masked": masked, "changed": changed,
            "yl": y(point["ci_low"]) if has_ci and point["ci_low"] > 0 else None,
            "yh": y(point["ci_high"]) if has_ci and point["ci_high"] > 0 else None,
            "date": point["slot"], "verdict": point.get("verdict"),
            "verdict_label": VERDICTS.get(point.get("verdict") or "", "") if series["kind"] == "bias" else (
                _("Drift") if point.get("verdict") == "drift" else _("No drift")),
            "text": (fpercent(value) if series["kind"] == "drift" else interval_text(point)) if not masked else "",
        })
    line = " ".join(f"{r['x']},{r['y']}" for r in rows if not r["masked"])
    if series["kind"] == "drift":
        title = _("Share of drifted columns over the scheduled re-audits")
        desc = _("Share of drifted columns at each of %(count)s scheduled runs, from 0 to 100%%.", count=count)
    else:
        metric, feature = METRICS.get(series["metric"], series["metric"]), attribute_label(series["feature"])
        title = _("%(metric)s of group %(group)s by %(feature)s over the scheduled re-audits: ratio to the reference "
                  "group", metric=metric, group=series["group"], feature=feature)
        desc = _("Ratio of group %(group)s's %(metric)s to the reference group %(reference)s at each of %(count)s "
                 "scheduled runs, with intervals, on a log scale; tolerance band from %(low)s to %(high)s. "
                 "Verdict changes: %(changes)s.", group=series["group"], metric=metric,
                 reference=series.get("reference_group") or "", count=count, low=fnumber(band[0]),
                 high=fnumber(band[1]), changes=sum(1 for r in rows if r["changed"]))
    return {
        "kind": series["kind"], "title": title, "desc": desc, "rows": rows, "ticks": ticks, "line": line,
        "width": WIDTH, "height": TREND_TOP + TREND_HEIGHT + TREND_BOTTOM, "left": TREND_LEFT - 8,
        "right": TREND_RIGHT + 8, "axis_y": TREND_TOP + TREND_HEIGHT + 6,
        "band_y": y(band[1]) if series["kind"] == "bias" else None,
        "band_h": round(y(band[0]) - y(band[1]), 1) if series["kind"] == "bias" else None,
        "ref_y": y(1.0) if series["kind"] == "bias" else None, "changes": sum(1 for r in rows if r["changed"]),
    }


def trend_charts(trend: dict[str, Any]) -> list[dict[str, Any]]:
    """Every series of a version's trend, charted."""
    return [trend_chart(series, tuple(series.get("band") or (0.8, 1.25)))  # type: ignore[arg-type]
            for series in trend.get("series") or [] if series.get("points")]
