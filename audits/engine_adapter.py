"""The few things the score metrics and the Fairlearn cross-check need from the audit engine, in one place.

``audits.fairness`` is the engine; its result format and ``BiasAuditParams`` evolve. Everything
outside it that calls the engine or reads its groups goes through this module, so a change there
is absorbed here once:

* ``point_audit`` runs the engine for point values only (no bootstrap: ``n_boot=0`` when the
  parameters have that field);
* ``group_rows`` tells which group of a result's feature each row of the frame belongs to, by
  matching the frame's own values to the group's ``levels``. It never parses a joined label. Levels
  are matched by typed value first (1 is not "1"), then, for engines that write levels as text, by
  ``str(value)``. The row counts must then equal the engine's group counts exactly, otherwise the
  mapping is refused (``GroupMismatch``): a mislabelled group is never reported.
"""

from __future__ import annotations

import dataclasses
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

ENGINE_NAME = "boas-audit-engine"


class GroupMismatch(ValueError):
    """The frame's values do not map one to one onto the engine's groups."""

    reason = "the engine's groups could not be matched to the dataset's values"  # the job's fixed error


def engine_identity() -> dict[str, str]:
    """The engine that computed a bias audit: BOAS's own, at the installed BOAS version."""
    try:
        release = version("boas")
    except PackageNotFoundError:  # running from a source tree that was never installed
        release = "unknown"
    return {"name": ENGINE_NAME, "version": release}


def point_audit(frame: pd.DataFrame, *, label: str, sensitive: list[str], y_pred: np.ndarray, params: Any) -> dict:
    """The engine's result for ``frame`` without intervals (point values are what the cross-check compares)."""
    from audits.fairness import run_bias_audit

    fields = {f.name for f in dataclasses.fields(params)}
    quick = dataclasses.replace(params, n_boot=0) if "n_boot" in fields else params
    return run_bias_audit(frame, label=label, sensitive=list(sensitive), y_pred=y_pred, y_score=None, params=quick)


def group_metric_values(group: dict) -> dict[str, float | None]:
    """A group's point values by metric name, as the engine reports them."""
    return {name: metric.get("value") for name, metric in group["metrics"].items()}


def _typed(value: Any) -> tuple[str, Any]:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", float(value))
    if isinstance(value, str):
        return ("str", value)
    return ("other", repr(value))


def group_rows(frame: pd.DataFrame, feature: dict, weights: np.ndarray | None = None) -> np.ndarray:
    """For each row of ``frame``, the index of its group in ``feature["groups"]``.

    ``weights`` (rows standing for several, e.g. one row per confusion cell weighted by its count):
    the groups' summed weights, not their row counts, must equal the engine's counts.
    """
    columns = list(feature["columns"])
    groups = feature["groups"]
    index: dict[tuple, int] = {}
    for position, group in enumerate(groups):
        key = tuple(_typed(group["levels"][column]) for column in columns)
        if key in index:
            raise GroupMismatch(f"two groups of {feature['name']!r} have the same levels")
        index[key] = position
    joint = np.zeros(len(frame), dtype=np.int64)
    uniques = []
    for column in columns:
        codes, values = pd.factorize(frame[column], sort=False, use_na_sentinel=True)
        if (codes < 0).any():
            raise GroupMismatch(f"sensitive column {column!r} has missing values")
        joint = joint * len(values) + codes
        uniques.append(values)
    combos, inverse = np.unique(joint, return_inverse=True)
    mapped = np.empty(combos.size, dtype=np.int64)
    for c, combo in enumerate(combos):
        raw = []
        for values in reversed(uniques):  # decode the mixed-radix code, last column first
            combo, code = divmod(int(combo), len(values))
            raw.append(values[code])
        raw.reverse()
        found = index.get(tuple(_typed(value) for value in raw))
        if found is None:
            found = index.get(tuple(("str", str(value.item() if isinstance(value, np.generic) else value))
                                    for value in raw))
        if found is None:
            raise GroupMismatch(f"a combination of {columns} matches no group of {feature['name']!r}")
        mapped[c] = found
    rows = mapped[inverse.reshape(-1)]
    counts = np.bincount(rows, weights=weights, minlength=len(groups))
    if [int(n) for n in counts] != [int(group["count"]) for group in groups]:
        raise GroupMismatch(f"row counts differ from the engine's group counts in {feature['name']!r}")
    return rows
