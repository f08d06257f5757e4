"""Data drift between a reference and a current dataset, as Evidently measures it, in a report with no row-level data.

Evidently (0.7 API: ``Report``, ``Dataset``, ``DataDefinition``, ``DataDriftPreset``) is imported inside
``compute_drift`` only: its import takes seconds and the web process must never pay for it.

Evidently's raw-data rendering is off by default in 0.7 (``RenderOptions.raw_data=False``: plots use
aggregated data) and this module only hands Evidently the analysed columns. Aggregated plots still
carry a few exact values, though: a histogram's outer bin edges are the column's minimum and maximum,
i.e. one person's exact value. Every number in the report's data that equals a value of the input is
therefore rounded to 3 significant digits before the HTML is returned (SECURITY.md item 14). Categorical
values are listed in the report, so a column with too many distinct values (an identifier) is refused.

Evidently drops missing values before its tests, so a column whose share of missing values moves
(85 % -> 5 %) with the same distribution otherwise looks unchanged to it. Beside Evidently's value
test, every column therefore gets a missing-share test (``missing_share_test``), reported in the same
row and kept separate from Evidently's verdict: ``drifted`` stays Evidently's own decision,
``missing_test.drifted`` is the missingness one, and ``drifted_any`` is either. The dataset drifts when
the share of columns drifted by either test reaches ``drift_share`` (Evidently's own rule, applied to
the union; Evidently's verdict alone stays in ``dataset_drifted_evidently``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from registry_db.errors import ValidationFailed

MAX_CATEGORIES = 50  # more distinct values than this looks like an identifier, and each would be printed
MISSING_ALPHA = 0.05  # significance level of the missing-share test
MISSING_MIN_EFFECT = 0.1  # Cohen's h; Evidently's distance thresholds for large samples are 0.1 too
MISSING_METHOD = "two_proportion_z_test_and_cohens_h"
DATASET_DRIFT_RULE = ("the dataset drifts when the share of columns drifted by Evidently's value test or by the "
                      "missing-share test is at least drift_share")
_DATA_BLOCK = re.compile(r"var (metric_[0-9a-f]+) = (.*?);\n\s*var additional_graphs_\1 = (.*?);\n</script>", re.S)


@dataclass(frozen=True)
class DriftResult:
    """Evidently's verdicts as plain data (to store and compare) and its report (to show)."""

    summary: dict  # columns (Evidently's column, type, method, score, threshold, drifted; missing shares and test), counts, verdicts
    html: str  # Evidently's standalone HTML report


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    categorical: list[str] | None = None,
    drift_share: float = 0.5,
) -> DriftResult:
    """Which columns drifted, by Evidently's DataDriftPreset, and whether the dataset did; plus its HTML report."""
    if columns is None:
        columns = list(reference.columns) if isinstance(reference, pd.DataFrame) else []
    columns = list(columns)
    categorical = list(categorical or [])
    _validate(reference, current, columns, categorical, drift_share)
    cat = [c for c in columns if c in categorical or not (_is_numeric(reference[c]) and _is_numeric(current[c]))]
    num = [c for c in columns if c not in cat]
    _check_cardinality(reference, current, cat)

    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
    report = Report([DataDriftPreset(columns=columns, drift_share=drift_share)], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current[columns].copy(), data_definition=definition),
        Dataset.from_pandas(reference[columns].copy(), data_definition=definition),
    )
    summary = _summarise(snapshot.dict(), columns, cat, drift_share)
    _add_missing_tests(summary, reference, current, drift_share)
    summary["evidently_version"] = evidently.__version__
    raw = [frame[num].to_numpy(dtype=float, na_value=np.nan).ravel() for frame in (reference, current)]
    return DriftResult(summary=summary, html=_without_raw_values(snapshot.get_html_str(as_iframe=False), raw))


def _validate(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], categorical: list[str], drift_share: float
) -> None:
    """Collect every problem with the inputs, so the caller can fix them all at once."""
    errors: dict[str, list[str]] = {}
    for name, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            errors[name] = ["must be a pandas DataFrame"]
        elif len(frame) == 0:
            errors[name] = ["has no rows"]
        else:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                errors.setdefault("columns", []).append(
                    f"missing from the {name} dataset: {', '.join(map(str, missing))}"
                )
            empty = [c for c in columns if c in frame.columns and frame[c].isna().all()]
            if empty:
                errors.setdefault("columns", []).append(
                    f"no values in the {name} dataset: {', '.join(map(str, empty))}"
                )
    if not columns:
        errors.setdefault("columns", []).append("no column to compare")
    if len(set(columns)) != len(columns):
        errors.setdefault("columns", []).append("a column is listed twice")
    unknown = [c for c in categorical if c not in columns]
    if unknown:
        errors["categorical"] = [f"not among the compared columns: {', '.join(map(str, unknown))}"]
    if not 0 < drift_share <= 1:
        errors["drift_share"] = ["must be in (0, 1]"]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(f"cannot compare these datasets: {first}", errors)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _check_cardinality(reference: pd.DataFrame, current: pd.DataFrame, cat: list[str]) -> None:
    wide = [c for c in cat if pd.concat([reference[c], current[c]]).nunique() > MAX_CATEGORIES]
    if wide:
        message = f"more than {MAX_CATEGORIES} distinct values, each would appear in the report: {', '.join(wide)}"
        raise ValidationFailed(f"cannot compare these datasets: {message}", {"columns": [message]})


def _summarise(snapshot: dict, columns: list[str], cat: list[str], drift_share: float) -> dict:
    """Read Evidently's own numbers and verdicts from the snapshot: ValueDrift metrics and their tests."""
    status = {t["metric_config"]["metric_id"]: t["status"] for t in snapshot["tests"]}
    by_column, counted = {}, None
    for metric in snapshot["metrics"]:
        kind = metric["config"]["type"]
        if kind.endswith(":ValueDrift"):
            by_column[metric["config"]["column"]] = metric
        elif kind.endswith(":DriftedColumnsCount"):
            counted = metric
    verdicts = {m["id"]: status.get(m["id"]) for m in [*by_column.values(), counted] if m is not None}
    if counted is None or set(by_column) != set(columns) or set(verdicts.values()) - {"SUCCESS", "FAIL"}:
        raise RuntimeError(f"Evidently returned no drift verdict for some columns: {verdicts}")
    rows = [
        {
            "column": c,
            "type": "cat" if c in cat else "num",
            "method": by_column[c]["config"]["method"],
            "score": _number(by_column[c]["value"]),
            "threshold": _number(by_column[c]["config"]["threshold"]),
            "drifted": verdicts[by_column[c]["id"]] == "FAIL",
        }
        for c in columns
    ]
    return {
        "columns": rows,
        "drifted_count": int(counted["value"]["count"]),
        "column_count": len(columns),
        "share_drifted": _number(counted["value"]["share"]),
        "dataset_drifted": verdicts[counted["id"]] == "FAIL",  # Evidently's "share < drift_share" test failed
        "drift_share_threshold": drift_share,
    }


def missing_share_test(missing_reference, rows_reference, missing_current, rows_current) -> dict[str, np.ndarray]:
    """Has the share of missing values changed? Vectorised over columns (or simulated replicates).

    Two-sided two-proportion z-test with the pooled proportion (the 2 x 2 chi-square test without
    continuity correction; Evidently's "Z-test" for binary columns), and Cohen's effect size
    h = 2 asin(sqrt(p_current)) - 2 asin(sqrt(p_reference)). A column's missingness drifts when
    p < MISSING_ALPHA *and* |h| >= MISSING_MIN_EFFECT: the p-value guards small samples against
    chance, the effect size guards large ones against trivial differences (as Evidently switches
    from p-values to distances past 1,000 rows). With no missing value on either side, p = 1.
    False alarms by seeded simulation (tests/audits/test_drift_missing.py, same share on both sides):
    at most 6 % up to 300 rows per side (the uncorrected z-test is slightly liberal there), under 3 %
    at 1,000, none from 10,000; 85 % -> 5 % is detected every time from 20 rows per side.
    """
    from scipy.special import erfc

    m1, n1 = np.asarray(missing_reference, dtype=float), np.asarray(rows_reference, dtype=float)
    m2, n2 = np.asarray(missing_current, dtype=float), np.asarray(rows_current, dtype=float)
    p1, p2 = m1 / n1, m2 / n2
    pooled = (m1 + m2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = np.divide(p2 - p1, se, out=np.zeros(np.broadcast(p1, p2, se).shape), where=se > 0)
    p_value = erfc(np.abs(z) / np.sqrt(2))
    effect = 2 * np.arcsin(np.sqrt(p2)) - 2 * np.arcsin(np.sqrt(p1))
    return {"z": z, "p_value": p_value, "effect_size": effect,
            "drifted": (p_value < MISSING_ALPHA) & (np.abs(effect) >= MISSING_MIN_EFFECT)}


def _add_missing_tests(summary: dict, reference: pd.DataFrame, current: pd.DataFrame, drift_share: float) -> None:
    """Add each column's missing shares and test beside Evidently's verdict; restate the dataset verdict."""
    names = [row["column"] for row in summary["columns"]]
    missing_ref = np.array([int(reference[c].isna().sum()) for c in names])
    missing_cur = np.array([int(current[c].isna().sum()) for c in names])
    tests = missing_share_test(missing_ref, len(reference), missing_cur, len(current))
    for i, row in enumerate(summary["columns"]):
        row["missing_reference"] = _number(missing_ref[i] / len(reference))
        row["missing_current"] = _number(missing_cur[i] / len(current))
        row["missing_test"] = {
            "method": MISSING_METHOD,
            "p_value": _number(tests["p_value"][i]),
            "effect_size": _number(tests["effect_size"][i]),
            "alpha": MISSING_ALPHA,
            "min_effect_size": MISSING_MIN_EFFECT,
            "drifted": bool(tests["drifted"][i]),
        }
        row["drifted_any"] = bool(row["drifted"] or tests["drifted"][i])
    count = sum(row["drifted_any"] for row in summary["columns"])
    summary["missing_drifted_count"] = int(tests["drifted"].sum())
    summary["drifted_any_count"] = count
    summary["share_drifted_any"] = _number(count / len(names))
    summary["dataset_drifted_evidently"] = summary["dataset_drifted"]
    summary["dataset_drifted"] = bool(summary["dataset_drifted"] or count / len(names) >= drift_share)
    summary["dataset_drift_rule"] = DATASET_DRIFT_RULE


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None  # JSON has no NaN


def _without_raw_values(html: str, raw: list[np.ndarray]) -> str:
    """Round every number of the report's data that equals an input value: no one's exact value is shown."""
    values = np.unique(np.concatenate(raw)) if raw else np.array([])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return html
    match = _DATA_BLOCK.search(html)
    if match is None:  # a new Evidently layout: refuse rather than publish unchecked values
        raise RuntimeError("unexpected Evidently HTML layout: cannot check the report for row-level values")

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: scrub(item) for key, item in node.items()}
        if isinstance(node, list):
            return [scrub(item) for item in node]
        if isinstance(node, float) and math.isfinite(node):
            at = np.searchsorted(values, node)
            if at < values.size and values[at] == node:
                return float(f"{node:.3g}")
        return node

    dashboard_id = match.group(1)
    dashboard, graphs = (json.dumps(scrub(json.loads(match.group(i)))) for i in (2, 3))
    block = f"var {dashboard_id} = {dashboard};\n    var additional_graphs_{dashboard_id} = {graphs};\n</script>"
    return html[: match.start()] + block + html[match.end() :]
