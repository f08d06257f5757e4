"""Groups of a bias audit keyed by typed values, and intersections as structured levels.

A group is the set of rows sharing values of one or more sensitive columns. It is identified by its
``levels``, a mapping {column: value} in which each value keeps its JSON type (a column holding the
number 1 and the text "1" has two groups, with levels 1 and "1"), and by ``key``, the compact JSON
encoding of those levels in column order: stable, unambiguous, and never parsed back. ``label`` is
for display only: the values joined with "×"; when two values of a column print alike (1 and "1")
their labels are their JSON spellings (1 and "1", quotes included), and when two intersections
still print alike (values containing "×") their labels are their keys. Labels are therefore unique
within a feature, which is what lets ``reference_group`` keep taking plain strings.

Values equal in Python (1, 1.0 and True) are one group, as in pandas and Fairlearn's MetricFrame;
the group shows the first spelling met in sorted order. Values that are not JSON scalars (dates,
decimals, ...) are written {"type": <Python type name>, "value": <str(value)>}.

Rows are coded once by the product of all sensitive columns (the "finest" combinations); each
feature and intersection maps those combinations to its groups, so counting the rows is one
``np.bincount`` pass whatever the number of features.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

_MAX_DIRECT_COMBINATIONS = 1 << 22  # mixed-radix codes up to this many combinations are counted directly


@dataclass
class Grouping:
    """One feature (a column) or intersection (several columns) and its groups."""

    name: str  # display: the columns joined with "×"
    key: str  # JSON list of the columns
    columns: list[str]
    labels: list[str]
    keys: list[str]
    levels: list[dict[str, Any]]
    combo_group: np.ndarray  # finest combination -> group index
    counts: np.ndarray = field(init=False)  # (groups, 4) confusion counts: tn, fp, fn, tp


@dataclass
class Coding:
    """Rows coded by their finest combination of sensitive values, with each combination's confusion counts."""

    counts: np.ndarray  # (combinations, 4)
    row_combo: Any  # callable giving each row's combination (only for score summaries); None when streamed
    groupings: list[Grouping]


def json_value(value: Any) -> Any:
    """A sensitive value as a typed JSON value: str, int, float and bool stay themselves; others are tagged."""
    if isinstance(value, np.generic) and not isinstance(value, (np.datetime64, np.timedelta64)):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return {"type": type(value).__name__, "value": str(value)}


def encode_key(levels: dict[str, Any]) -> str:
    """The stable key of a group: its typed levels as compact JSON, in column order."""
    return json.dumps(levels, ensure_ascii=False, separators=(",", ":"))


def _display(value: Any) -> str:
    return value["value"] if isinstance(value, dict) else str(value)


def _column_labels(values: list[Any]) -> list[str]:
    """Display labels of one column's values, spelled as JSON where two values would print alike."""
    shown = [_display(v) for v in values]
    clashes = {s for s in shown if shown.count(s) > 1}
    labels = [json.dumps(v, ensure_ascii=False) if s in clashes else s for v, s in zip(values, shown, strict=True)]
    if len(set(labels)) < len(labels):  # same type and same text, yet unequal: number them
        labels = [f"{label} #{i + 1}" if labels.count(label) > 1 else label for i, label in enumerate(labels)]
    return labels


def code_rows(frame: pd.DataFrame, sensitive: list[str], intersections: bool, cells: np.ndarray) -> Coding:
    """Count confusion cells (``cells`` = 2 * y_true + y_pred) per finest combination, and build the groups."""
    codes, values = [], []
    for column in sensitive:
        column_codes, uniques = pd.factorize(frame[column], sort=True)  # missing values get the code -1
        column_codes = np.asarray(column_codes, dtype=np.int64)  # no copy when already int64
        if column_codes.size and column_codes.min() < 0:
            raise ValueError(missing_values_message(column))
        codes.append(column_codes)
        values.append([json_value(v) for v in uniques])
    counts, combo_codes, row_combo = _count(codes, [len(v) for v in values], cells)
    return Coding(counts, row_combo, build_groupings(sensitive, values, combo_codes, counts, intersections))


def missing_values_message(column: str) -> str:
    """The refusal of a sensitive column with missing values (the same words on every path)."""
    return f"sensitive feature {column!r} has missing values"


def build_groupings(sensitive: list[str], values: list[list[Any]], combo_codes: list[np.ndarray], counts: np.ndarray,
                    intersections: bool) -> list[Grouping]:
    """Every feature and intersection, from the finest combinations' counts (however they were counted).

    ``values[i]`` are column i's typed values in sorted order (``pd.factorize(sort=True)``),
    ``combo_codes[i]`` each combination's code in that order and ``counts`` its (4,) confusion counts.
    The in-memory engine counts rows of a frame; ``audits.streaming`` accumulates the same counts batch
    by batch: both build their groups here, so labels, keys and order cannot differ.
    """
    labels = [_column_labels(typed) for typed in values]
    sizes = [len(v) for v in values]
    parts: list[tuple[int, ...]] = [(i,) for i in range(len(sensitive))]
    if intersections:
        parts += list(itertools.combinations(range(len(sensitive)), 2))
    groupings = []
    for part in parts:
        joint = np.zeros(counts.shape[0], dtype=np.int64)
        for i in part:
            joint = joint * sizes[i] + combo_codes[i]
        combo_group = np.unique(joint, return_inverse=True)[1].astype(np.int64).ravel()
        first = np.unique(combo_group, return_index=True)[1]
        levels = [{sensitive[i]: values[i][combo_codes[i][c]] for i in part} for c in first]
        names = ["×".join(labels[i][combo_codes[i][c]] for i in part) for c in first]
        keys = [encode_key(level) for level in levels]
        if len(set(names)) < len(names):
            names = [key if names.count(name) > 1 else name for name, key in zip(names, keys, strict=True)]
        columns = [sensitive[i] for i in part]
        feature_key = json.dumps(columns, ensure_ascii=False, separators=(",", ":"))
        grouping = Grouping("×".join(columns), feature_key, columns, names, keys, levels, combo_group)
        grouping.counts = np.zeros((len(names), 4), dtype=np.int64)
        np.add.at(grouping.counts, combo_group, counts)
        groupings.append(grouping)
    return groupings


def _count(codes: list[np.ndarray], sizes: list[int], cells: np.ndarray):
    """Counts of the combinations present (in mixed-radix order), their column codes, and rows -> combination.

    With up to ``_MAX_DIRECT_COMBINATIONS`` possible combinations the mixed-radix code of a row is its
    bin, so one ``np.bincount`` counts everything without sorting the rows; beyond that the codes are
    compacted first (a sort), which only very many sensitive columns need.
    """
    possible = math.prod(sizes)
    if possible <= _MAX_DIRECT_COMBINATIONS:
        raw = codes[0]
        for column_codes, size in zip(codes[1:], sizes[1:], strict=True):
            raw = raw * size + column_codes
        full = np.bincount(raw * 4 + cells, minlength=possible * 4).reshape(possible, 4)
        present = np.flatnonzero(full.sum(axis=1))
        strides = [math.prod(sizes[i + 1:]) for i in range(len(sizes))]
        combo_codes = [(present // stride) % size for stride, size in zip(strides, sizes, strict=True)]

        def row_combo() -> np.ndarray:
            lookup = np.full(possible, -1, dtype=np.int64)
            lookup[present] = np.arange(present.size)
            return lookup[raw]

        return full[present], combo_codes, row_combo
    fine = codes[0]
    for column_codes, size in zip(codes[1:], sizes[1:], strict=True):
        fine = pd.factorize(fine * size + column_codes, sort=True)[0].astype(np.int64)
    combos = int(fine.max()) + 1
    counts = np.bincount(fine * 4 + cells, minlength=combos * 4).reshape(combos, 4)
    first_rows = np.unique(fine, return_index=True)[1]
    return counts, [column_codes[first_rows] for column_codes in codes], lambda: fine


def resolve_reference(grouping: Grouping, wanted: str | None) -> int:
    """The index of the reference group: the largest unless named by its label (or its key)."""
    if wanted is None:
        return int(np.argmax(grouping.counts.sum(axis=1)))
    if wanted in grouping.labels:
        return grouping.labels.index(wanted)
    if wanted in grouping.keys:
        return grouping.keys.index(wanted)
    raise ValueError(f"reference group {wanted!r} not found in {grouping.name!r}; give one of its labels")


def references(groupings: list[Grouping], wanted: dict[str, str] | None) -> list[int]:
    """Resolve ``reference_group`` ({feature name or key: group label or key}) for every feature."""
    wanted = dict(wanted or {})
    by_name: dict[str, list[Grouping]] = {}
    for grouping in groupings:
        by_name.setdefault(grouping.name, []).append(grouping)
        if grouping.key != grouping.name:
            by_name.setdefault(grouping.key, []).append(grouping)
    unknown = sorted(set(wanted) - set(by_name))
    if unknown:
        raise ValueError(f"reference_group names no audited feature: {unknown}")
    for name in wanted:
        if len(by_name[name]) > 1:
            raise ValueError(f"reference_group: {name!r} names several features; use the feature's key")
    chosen = {id(by_name[name][0]): value for name, value in wanted.items()}
    return [resolve_reference(grouping, chosen.get(id(grouping))) for grouping in groupings]
