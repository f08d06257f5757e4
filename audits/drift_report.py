"""The drift report evaluators and owners see: Evidently's report, coarsened until it describes nobody.

Evidently's own report (kept for admins) describes individuals in three ways even without raw-data
rendering: a histogram's outer bin edges are a column's minimum and maximum (one person's exact value),
its fine bins can hold one or two people, and each column's "details" plot the mean of every 1/150th
of the rows (a handful of people each). The copy built here keeps only what it knows to be safe:

- the counters and the test list (verdicts, drift scores, thresholds: statistics, not values);
- the per-column table, whose two distribution sparklines are recomputed from the data: numeric columns
  on a coarse grid (steps of 1, 2, 2.5 or 5 × 10^k, about ten bins), neighbouring bins merged until each
  holds at least ``MIN_CELL`` people in *both* datasets, the outer bins open-ended ("< 30", "≥ 90") and
  no edge equal to a column's minimum or maximum; categorical columns with every category below the
  threshold in either dataset folded into one "other" bin (then the smallest categories, until "other"
  reaches it). Sparkline heights are counts of people;
- nothing else: the per-column details are dropped, and so is any widget this module does not know, so
  a new Evidently layout loses content rather than leaks it.

Pure computation: no database, no Evidently import (the report is already rendered).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

MIN_CELL = 11  # the public threshold of SECURITY.md item 13, applied to every bin
TARGET_BINS = 10
OTHER = "other"
_DATA_BLOCK = re.compile(r"var (metric_[0-9a-f]+) = (.*?);\n\s*var additional_graphs_\1 = (.*?);\n</script>", re.S)
_WIDGET_KEYS = ("type", "title", "size", "id", "details", "alertsPosition", "pageSize")


def coarsen_report(html: str, reference: pd.DataFrame, current: pd.DataFrame, *, min_cell: int = MIN_CELL) -> str:
    """The report ``html`` rebuilt from its safe parts, with distributions recomputed from the two frames."""
    blocks = _DATA_BLOCK.findall(html)
    match = _DATA_BLOCK.search(html)
    if match is None or len(blocks) != 1:  # a new Evidently layout: refuse rather than serve unchecked data
        raise RuntimeError("unexpected Evidently HTML layout: cannot build the coarsened drift report")
    dashboard = json.loads(match.group(2))
    widgets = [w for w in (_widget(w, reference, current, min_cell) for w in dashboard.get("widgets") or []) if w]
    safe = {"name": str(dashboard.get("name") or "Report"), "widgets": widgets}
    block = (f"var {match.group(1)} = {json.dumps(safe)};\n    var additional_graphs_{match.group(1)} = {{}};"
             "\n</script>")
    return html[: match.start()] + block + html[match.end() :]


def _shell(widget: dict[str, Any]) -> dict[str, Any]:
    """A widget's presentational fields (strings and layout sizes), with every content list empty."""
    out = {key: widget.get(key) for key in _WIDGET_KEYS}
    out.update({"alertStats": None, "params": None, "insights": [], "additionalGraphs": [], "alerts": [],
                "tabs": [], "widgets": [], "source_fingerprint": None, "linked_metrics": None})
    return out


def _widget(widget: dict[str, Any], reference: pd.DataFrame, current: pd.DataFrame,
            min_cell: int) -> dict[str, Any] | None:
    kind = widget.get("type")
    params = widget.get("params") or {}
    out = _shell(widget)
    if kind == "group":
        out["widgets"] = [w for w in (_widget(c, reference, current, min_cell) for c in widget.get("widgets") or [])
                          if w]
    elif kind == "counter":
        out["params"] = {"counters": [{"value": str(c.get("value", "")), "label": str(c.get("label", ""))}
                                      for c in params.get("counters") or []]}
        if "v2_test" in params:
            out["params"]["v2_test"] = bool(params["v2_test"])
    elif kind == "test_suite":
        out["params"] = {"v2_test": bool(params.get("v2_test")), "tests": [
            {"title": str(t.get("title", "")), "description": str(t.get("description", "")),
             "state": str(t.get("state", "")), "groups": []} for t in params.get("tests") or []]}
    elif kind == "big_table" and _is_drift_table(params):
        out["params"] = {"rowsPerPage": int(params.get("rowsPerPage") or 10), "columns": params["columns"],
                         "data": [_row(r, reference, current, min_cell) for r in params.get("data") or []]}
    else:
        return None
    return out


def _is_drift_table(params: dict[str, Any]) -> bool:
    fields = [c.get("field") for c in params.get("columns") or []]
    return "reference_distribution" in fields and "current_distribution" in fields and all(
        isinstance(c.get("title"), str) for c in params["columns"])


def _row(row: dict[str, Any], reference: pd.DataFrame, current: pd.DataFrame, min_cell: int) -> dict[str, Any]:
    name = row.get("column_name")
    bins = None
    if name in reference.columns and name in current.columns:
        if row.get("column_type") == "num":
            bins = numeric_bins(reference[name], current[name], min_cell)
        else:
            bins = categorical_bins(reference[name], current[name], min_cell)
    labels, ref_counts, cur_counts = bins or ([], [], [])
    score = row.get("drift_score")
    return {"column_name": str(name), "column_type": str(row.get("column_type", "")),
            "stattest_name": str(row.get("stattest_name", "")), "data_drift": str(row.get("data_drift", "")),
            "drift_score": float(score) if isinstance(score, int | float) and math.isfinite(score) else None,
            "reference_distribution": {"x": labels, "y": ref_counts},
            "current_distribution": {"x": labels, "y": cur_counts}}


Bins = tuple[list[str], list[int], list[int]]


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at least ``raw`` (a step a reader takes for a round number)."""
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for mantissa in (1, 2, 2.5, 5, 10):
        if mantissa * power >= raw * (1 - 1e-12):
            return mantissa * power
    return 10 * power


def numeric_bins(reference: pd.Series, current: pd.Series, min_cell: int = MIN_CELL) -> Bins | None:
    """Counts on a coarse grid, bins merged until each holds ``min_cell`` people in both datasets.

    The outer bins are open-ended and no edge equals either dataset's minimum or maximum, so no one's
    exact value is shown. None when a dataset has fewer than ``min_cell`` values (nothing can be shown).
    """
    ref, cur = _finite(reference), _finite(current)
    if ref.size < min_cell or cur.size < min_cell:
        return None
    extremes = {float(ref.min()), float(ref.max()), float(cur.min()), float(cur.max())}
    low, high = min(extremes), max(extremes)
    step, offset = nice_step((high - low) / TARGET_BINS), 0.0
    if step < 1 and all(np.array_equal(v, np.round(v)) for v in (ref, cur)):
        step, offset = 1.0, 0.5  # whole numbers (a quintile, a 0/1 flag): one bin per level, edges between them
    digits = _decimals(step) + (1 if offset else 0)
    first, last = math.floor(low / step) - 1, math.ceil(high / step) + 1
    edges = sorted({round(k * step + offset, digits) for k in range(first, last + 1)})
    edges = [e for e in edges if low < e < high and e not in extremes]
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1).tolist()
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1).tolist()
    while len(ref_counts) > 1:
        small = [i for i in range(len(ref_counts)) if min(ref_counts[i], cur_counts[i]) < min_cell]
        if not small:
            break
        i = min(small, key=lambda j: (min(ref_counts[j], cur_counts[j]), j))
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(ref_counts)]
        j = min(neighbours, key=lambda k: (min(ref_counts[k], cur_counts[k]), k))
        left = min(i, j)
        ref_counts[left: left + 2] = [ref_counts[left] + ref_counts[left + 1]]
        cur_counts[left: left + 2] = [cur_counts[left] + cur_counts[left + 1]]
        del edges[left]
    return _labels(edges, digits), ref_counts, cur_counts


def _decimals(step: float) -> int:
    """How many decimals print every multiple of ``step`` exactly (2.5 needs one, 0.25 two, 20 none)."""
    exponent = Decimal(f"{step:.12g}").normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _finite(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _labels(edges: list[float], digits: int) -> list[str]:
    shown = [f"{e:.{digits}f}" for e in edges]
    if not shown:
        return ["all values"]
    return [f"< {shown[0]}", *(f"{a} – {b}" for a, b in pairwise(shown)), f"≥ {shown[-1]}"]


def categorical_bins(reference: pd.Series, current: pd.Series, min_cell: int = MIN_CELL) -> Bins | None:
    """Counts per category; categories below ``min_cell`` in either dataset are folded into "other"."""
    ref = reference.dropna().astype(str).value_counts()
    cur = current.dropna().astype(str).value_counts()
    if ref.sum() < min_cell or cur.sum() < min_cell:
        return None
    counts = {c: (int(ref.get(c, 0)), int(cur.get(c, 0))) for c in sorted(set(ref.index) | set(cur.index))}
    kept = {c: n for c, n in counts.items() if min(n) >= min_cell}
    other = [sum(n[0] for c, n in counts.items() if c not in kept), sum(n[1] for c, n in counts.items() if c not in kept)]
    while len(kept) < len(counts) and min(other) < min_cell and kept:
        smallest = min(kept, key=lambda c: (min(kept[c]), c))
        other = [other[0] + kept[smallest][0], other[1] + kept[smallest][1]]
        del kept[smallest]
    labels = [*kept, *([OTHER] if len(kept) < len(counts) else [])]
    ref_counts = [kept[c][0] for c in kept] + ([other[0]] if len(kept) < len(counts) else [])
    cur_counts = [kept[c][1] for c in kept] + ([other[1]] if len(kept) < len(counts) else [])
    return labels, ref_counts, cur_counts


_BODY = re.compile(r"<body[^>]*>", re.I)


def with_sample_notice(html: str, sample: dict[str, Any]) -> str:
    """The report with a notice, in English and French, that it was built from a sample: its size and the full sizes.

    The verdicts come from every row (audits.drift_stream); a reader of the report alone must not take
    its histograms and scores for the full data's.
    """
    match = _BODY.search(html)
    if match is None:  # a new Evidently layout: refuse rather than serve a report that hides its sampling
        raise RuntimeError("unexpected Evidently HTML layout: cannot state the report's sample")
    ref, cur = (f"{int(sample[k]):,}" for k in ("reference_rows", "current_rows"))
    ref_total, cur_total = (f"{int(sample[k]):,}" for k in ("reference_total", "current_total"))
    fr = {k: v.replace(",", "\u202f") for k, v in (("ref", ref), ("cur", cur), ("rt", ref_total), ("ct", cur_total))}
    notice = (
        '<div id="boas-sample-notice" style="font-family:sans-serif;padding:0.5em 1em;background:#fff8e1">'
        f'<p lang="en">This report was built from a stratified random sample (by row group) of {ref} of the '
        f"{ref_total} reference rows and {cur} of the {cur_total} current rows. The drift verdicts stored with "
        "the audit were computed on every row.</p>"
        f'<p lang="fr">Ce rapport a été établi sur un échantillon aléatoire stratifié (par groupe de lignes) de '
        f"{fr['ref']} des {fr['rt']} lignes de référence et de {fr['cur']} des {fr['ct']} lignes actuelles. "
        "Les verdicts de dérive enregistrés avec l’audit ont été calculés sur toutes les lignes.</p></div>"
    )
    return html[: match.end()] + notice + html[match.end():]
