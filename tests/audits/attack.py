"""The reconstruction attack on public bias-audit views, written independently of audits.suppression.

It reads only what an anonymous client receives (the public JSON of each audit, and which audits share
a dataset, a prediction vector or a score vector, which the public provenance and parameters say).

Unknowns: the confusion cells (tn, fp, fn, tp) of every combination of the levels of every column the
views mention (the full cross-classification), for each prediction vector; vectors on the same dataset
share negatives and positives per combination; a higher threshold on the same scores predicts a subset.
Every published count and positives is an equality; every published rate r = num / den is the equality
num - r·den = 0 (whether or not den is published); a published disparity ratio or difference whose one
side is published gives the other side's rate. Then:

* null-space analysis: a cell's linear form in the row space of the equalities is uniquely determined
  (least squares gives its value);
* LP: min and max of each cell with non-negativity (scipy's HiGHS); a range narrower than 1 pins it by
  integrality;
* optionally an integer programme (scipy.optimize.milp) for the exact integer range.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

CELLS = ("tn", "fp", "fn", "tp")
RATES = {  # metric: (numerator cells, denominator cells)
    "prevalence": (("fn", "tp"), CELLS),
    "selection_rate": (("fp", "tp"), CELLS),
    "tpr": (("tp",), ("fn", "tp")),
    "fnr": (("fn",), ("fn", "tp")),
    "fpr": (("fp",), ("tn", "fp")),
    "tnr": (("tn",), ("tn", "fp")),
    "ppv": (("tp",), ("fp", "tp")),
    "npv": (("tn",), ("tn", "fn")),
    "accuracy": (("tn", "tp"), CELLS),
}


@dataclass
class View:
    """One public view and what the public knows about where it comes from."""

    public: dict[str, Any]
    predictions: str  # public: the digest of the predictions in the public provenance
    scores: str | None = None  # public: the model archive digest, when the model was run with a threshold
    threshold: float | None = None


@dataclass
class Finding:
    view: int
    group: str
    cell: str
    low: float
    high: float
    determined: float | None = None


@dataclass
class Attack:
    views: Sequence[View]
    columns: list[str] = field(init=False)
    levels: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.levels = {}
        for view in self.views:
            for feature in view.public["features"]:
                for group in feature["groups"]:
                    for column, value in group["levels"].items():
                        self.levels.setdefault(column, [])
                        key = json.dumps(value)
                        if key not in self.levels[column]:
                            self.levels[column].append(key)
        self.columns = sorted(self.levels)
        sizes = [len(self.levels[c]) for c in self.columns]
        self.combos = int(np.prod(sizes)) if sizes else 1
        self.grid = np.indices(sizes).reshape(len(sizes), -1) if sizes else np.zeros((0, 1), int)
        self.vectors = sorted({v.predictions for v in self.views})
        self.n = self.combos * (2 + 2 * len(self.vectors))
        self.eq_rows: list[np.ndarray] = []
        self.eq_vals: list[float] = []
        self.ub_rows: list[np.ndarray] = []
        self.ub_vals: list[float] = []
        self._build()

    # -- linear forms --------------------------------------------------------------------
    # Unknowns: negatives and positives per combination (the data), then each vector's fp and tp.
    def _mask(self, levels: dict[str, Any]) -> np.ndarray:
        keep = np.ones(self.combos, dtype=bool)
        for column, value in levels.items():
            keep &= self.grid[self.columns.index(column)] == self.levels[column].index(json.dumps(value))
        return keep

    def _offset(self, name: str, vector: str) -> int:
        if name in ("neg", "pos"):
            return (0 if name == "neg" else 1) * self.combos
        return (2 + 2 * self.vectors.index(vector) + (0 if name == "fp" else 1)) * self.combos

    def cell(self, levels: dict[str, Any], vector: str, cells: Sequence[str]) -> np.ndarray:
        """Sum of the named cells of the group ``levels`` under ``vector``, as a row over the unknowns."""
        row = np.zeros(self.n)
        mask = np.flatnonzero(self._mask(levels))
        spelled = {"tn": (("neg", 1.0), ("fp", -1.0)), "fp": (("fp", 1.0),),
                   "fn": (("pos", 1.0), ("tp", -1.0)), "tp": (("tp", 1.0),)}
        for name in cells:
            for part, sign in spelled[name]:
                row[self._offset(part, vector) + mask] += sign
        return row

    def _build(self) -> None:
        for vector in self.vectors:  # 0 <= fp <= negatives, 0 <= tp <= positives
            for own, limit in (("fp", "neg"), ("tp", "pos")):
                for combo in range(self.combos):
                    row = np.zeros(self.n)
                    row[self._offset(own, vector) + combo] = 1.0
                    row[self._offset(limit, vector) + combo] = -1.0
                    self.ub_rows.append(row)
                    self.ub_vals.append(0.0)
        for low, high in itertools.permutations(self.views, 2):  # nested predictions on the same scores
            if (low.scores and low.scores == high.scores and low.threshold is not None and high.threshold is not None
                    and low.threshold < high.threshold and low.predictions != high.predictions):
                for name in ("fp", "tp"):
                    for combo in range(self.combos):
                        row = np.zeros(self.n)
                        row[self._offset(name, high.predictions) + combo] = 1.0
                        row[self._offset(name, low.predictions) + combo] = -1.0
                        self.ub_rows.append(row)
                        self.ub_vals.append(0.0)
        for view in self.views:
            for levels, group, rates in self._groups(view):
                vector = view.predictions
                if group.get("count") is not None:
                    self._eq(self.cell(levels, vector, CELLS), group["count"])
                if group.get("positives") is not None:
                    self._eq(self.cell(levels, vector, ("fn", "tp")), group["positives"])
                for metric, rate in rates.items():
                    num, den = RATES[metric]
                    self._eq(self.cell(levels, vector, num) - rate * self.cell(levels, vector, den), 0.0)
                if levels and len(levels) == 1:  # a listed level of a column exists
                    self.ub_rows.append(-self.cell(levels, vector, CELLS))
                    self.ub_vals.append(-1.0)

    def _eq(self, row: np.ndarray, value: float) -> None:
        self.eq_rows.append(row)
        self.eq_vals.append(float(value))

    def _groups(self, view: View):
        """Each published group with every rate the view gives or implies."""
        public = view.public
        yield {}, public["overall"], self._rates(public["overall"])
        for feature in public["features"]:
            by_label = {g["group"]: g for g in feature["groups"]}
            implied: dict[str, dict[str, float]] = {label: self._rates(g) for label, g in by_label.items()}
            reference = feature["reference_group"]
            for row in feature.get("disparities", []):  # ratio / difference to the reference
                metric, label = row.get("metric"), row.get("group")
                if metric not in RATES or label not in implied or reference not in implied:
                    continue
                ratio = (row.get("ratio") or {}).get("value")
                difference = (row.get("difference") or {}).get("value")
                mine, ref = implied[label], implied[reference]
                if metric not in mine and metric in ref:
                    if difference is not None:
                        mine[metric] = ref[metric] + difference
                    elif ratio is not None:
                        mine[metric] = ratio * ref[metric]
                if metric not in ref and metric in mine:
                    if difference is not None:
                        ref[metric] = mine[metric] - difference
                    elif ratio is not None and ratio != 0:
                        ref[metric] = mine[metric] / ratio
            for label, group in by_label.items():
                yield group["levels"], group, implied[label]

    @staticmethod
    def _rates(group: dict[str, Any]) -> dict[str, float]:
        return {m: t["value"] for m, t in (group.get("metrics") or {}).items()
                if m in RATES and isinstance(t, dict) and t.get("value") is not None}

    # -- the attack ----------------------------------------------------------------------
    def _matrices(self):
        if not hasattr(self, "_cached"):
            A_eq = sparse.csr_matrix(np.array(self.eq_rows)) if self.eq_rows else None
            A_ub = sparse.csr_matrix(np.array(self.ub_rows)) if self.ub_rows else None
            self._cached = (A_eq, np.array(self.eq_vals), A_ub, np.array(self.ub_vals))
        return self._cached

    def _row_space(self):
        """An orthonormal basis of the equalities' row space, and what maps a form in it to its value."""
        if not hasattr(self, "_basis"):
            if not self.eq_rows:
                self._basis = (np.zeros((0, self.n)), np.zeros(0))
            else:
                A = np.array(self.eq_rows)
                u, s, vt = np.linalg.svd(A, full_matrices=False)
                rank = int((s > s[0] * 1e-10).sum()) if s.size else 0
                # value of a form f = V_r f mapped back through A's pseudo-inverse: b · U_r S_r^-1 V_r f
                self._basis = (vt[:rank], (np.array(self.eq_vals) @ u[:, :rank]) / s[:rank])
        return self._basis

    def determined(self, form: np.ndarray) -> float | None:
        """The value of a linear form if the equalities alone determine it (it lies in their row space)."""
        basis, weights = self._row_space()
        coordinates = basis @ form
        if np.linalg.norm(form - basis.T @ coordinates) > 1e-6 * max(1.0, np.linalg.norm(form)):
            return None
        return float(weights @ coordinates)

    def _lp(self, objective: np.ndarray) -> tuple[int, float, np.ndarray | None]:
        A_eq, b_eq, A_ub, b_ub = self._matrices()
        result = linprog(objective, A_ub=A_ub, b_ub=b_ub if A_ub is not None else None, A_eq=A_eq,
                         b_eq=b_eq if A_eq is not None else None, bounds=(0, None), method="highs",
                         options={"presolve": False})
        assert result.status in (0, 3), result.message  # the true dataset is always feasible
        return result.status, (result.fun if result.status == 0 else -np.inf), result.x

    def bounds(self, form: np.ndarray, k: float | None = None, others: Sequence[np.ndarray] = ()) -> tuple[float, float]:
        """LP range of a form; with ``k``, stop early once feasible points show it reaches both 0 and k.

        ``others`` (cells still to attack) are nudged the same way first: the point found then often
        settles them too. The exact LP runs whenever that point does not settle this cell.
        """
        if not hasattr(self, "_points"):
            self._points: list[np.ndarray] = []
        out = []
        for sign in (1.0, -1.0):
            reached = (lambda v: v <= 1e-9) if sign > 0 else (lambda v, k=k: v >= k - 1e-9)
            if k is not None and self._points:
                known = [form @ p for p in self._points]
                if any(reached(v) for v in known):
                    out.append(float(min(known) if sign > 0 else max(known)))
                    continue
                if len(others):
                    status, _, x = self._lp(sign * (form + 1e-3 * np.mean(others, axis=0)))
                    if status == 0:
                        self._points.append(x)
                        if reached(form @ x):
                            out.append(float(form @ x))
                            continue
            status, value, x = self._lp(sign * form)
            if status == 3:
                out.append(-np.inf if sign > 0 else np.inf)
                continue
            self._points.append(x)
            out.append(sign * value)
        return out[0], out[1]

    def seed(self, forms: Sequence[np.ndarray]) -> None:
        """Feasible points pushing every target cell down, then up, at once."""
        if not hasattr(self, "_points"):
            self._points = []
        if forms:
            total = np.sum(forms, axis=0)
            for sign in (1.0, -1.0):
                status, _, x = self._lp(sign * total)
                if status == 0:
                    self._points.append(x)

    def integer_bounds(self, form: np.ndarray) -> tuple[float, float]:
        """Exact integer range (branch and bound): slower, used on a sample of cells."""
        constraints = []
        if self.eq_rows:
            A = np.array(self.eq_rows)
            b = np.array(self.eq_vals)
            # rates are floats: allow their rounding error, far below what separates two integer solutions
            constraints.append(LinearConstraint(A, b - 1e-6, b + 1e-6))
        if self.ub_rows:
            constraints.append(LinearConstraint(np.array(self.ub_rows), -np.inf, np.array(self.ub_vals)))
        out = []
        for sign in (1.0, -1.0):
            result = milp(sign * form, constraints=constraints, integrality=np.ones(self.n),
                          bounds=Bounds(0, np.inf), options={"time_limit": 60})
            assert result.status in (0, 1), result.message
            out.append(sign * result.fun if result.status == 0 else (-np.inf if sign > 0 else np.inf))
        return out[0], out[1]

    def run(self, truth: Sequence[dict[str, Any]], k: int = 11, integer_sample: int = 0) -> list[Finding]:
        """Attack every hidden cell under k; ``truth[i]`` is view i's full result (to know which cells are small)."""
        targets = []
        seen = set()
        for i, (view, full) in enumerate(zip(self.views, truth, strict=True)):
            for levels, group in _all_groups(full, view.public):
                shown = view.public["overall"] if not levels else _find(view.public, levels)
                if shown is not None and _fully_published(shown):
                    continue
                cells = group["cells"] if group is not None else dict.fromkeys(CELLS, 0)
                for name in CELLS:
                    key = (json.dumps(levels, sort_keys=True), view.predictions, name)
                    if cells[name] >= k or key in seen:
                        continue
                    seen.add(key)
                    targets.append((i, levels, name, self.cell(levels, view.predictions, (name,))))
        self.seed([form for *_, form in targets])
        self._push([form for *_, form in targets], k)
        findings = []
        for n, (i, levels, name, form) in enumerate(targets):
            later = [f for *_, f in targets[n + 1:]]
            low, high = self.integer_bounds(form) if n < integer_sample else self.bounds(form, k, later)
            # Only equalities can determine a cell that non-negativity leaves wide open; the row-space test
            # runs where the range is narrower than k (a determined cell has an LP range of one point).
            determined = self.determined(form) if high - low < k else None
            findings.append(Finding(i, _label(levels), name, low, high, determined))
        return findings

    def _push(self, forms: Sequence[np.ndarray], k: float) -> None:
        """Feasible points for many cells at once: push all those not yet seen at 0 (or at k) together."""
        for sign, reached in ((1.0, lambda v: v <= 1e-9), (-1.0, lambda v: v >= k - 1e-9)):
            while True:
                values = np.array([[f @ p for p in self._points] for f in forms]) if self._points else None
                todo = [f for j, f in enumerate(forms)
                        if values is None or not any(reached(v) for v in values[j])]
                if not todo:
                    break
                status, _, x = self._lp(sign * np.sum(todo, axis=0))
                if status != 0:
                    break
                before = len(todo)
                self._points.append(x)
                if sum(1 for f in todo if not reached(f @ x)) == before:
                    break


def _label(levels: dict[str, Any]) -> str:
    return "×".join(f"{c}={v}" for c, v in sorted(levels.items())) or "overall"


def _fully_published(group: dict[str, Any]) -> bool:
    return all((group.get("metrics") or {}).get(m, {}).get("value") is not None for m in ("tpr", "fpr"))


def _find(public: dict[str, Any], levels: dict[str, Any]) -> dict[str, Any] | None:
    for feature in public["features"]:
        for group in feature["groups"]:
            if group["levels"] == levels:
                return group
    return None


def _all_groups(full: dict[str, Any], public: dict[str, Any]):
    """Every position the public view lists, with its true group (None: an absent combination)."""
    real = {json.dumps(g["levels"], sort_keys=True): g for f in full["features"] for g in f["groups"]}
    yield {}, full["overall"]
    for feature in public["features"]:
        for group in feature["groups"]:
            yield group["levels"], real.get(json.dumps(group["levels"], sort_keys=True))


def recovered(findings: Sequence[Finding]) -> list[Finding]:
    """Cells the attack pins down: determined by the equalities, or an integer range of one value."""
    return [f for f in findings
            if f.determined is not None or f.high - f.low < 1 - 1e-6]


def per_group_attack(public: dict[str, Any], k: int = 11) -> list[tuple[dict[str, Any], dict[str, int]]]:
    """The issue's attack: each group alone, a linear solve over its count, positives and rates."""
    found = []
    groups = [({}, public["overall"])] + [(g["levels"], g) for f in public["features"] for g in f["groups"]]

    def form(cells: Sequence[str]) -> np.ndarray:
        row = np.zeros(4)
        for c in cells:
            row[CELLS.index(c)] += 1
        return row

    for levels, group in groups:
        rows, values = [], []
        if group.get("count") is not None:
            rows.append(form(CELLS))
            values.append(group["count"])
        if group.get("positives") is not None:
            rows.append(form(("fn", "tp")))
            values.append(group["positives"])
        for metric, (num, den) in RATES.items():
            value = ((group.get("metrics") or {}).get(metric) or {}).get("value")
            if value is not None:
                rows.append(form(num) - value * form(den))
                values.append(0.0)
        if len(rows) < 4:
            continue
        A = np.array(rows)
        if np.linalg.matrix_rank(A, tol=1e-9) < 4:
            continue
        solution, *_ = np.linalg.lstsq(A, np.array(values), rcond=None)
        cells = {c: round(v) for c, v in zip(CELLS, solution, strict=True)}
        if min(cells.values()) < k:
            found.append((levels, cells))
    return found


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def strings_of(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in a JSON document, with its path."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings_of(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [s for i, value in enumerate(node) for s in strings_of(value, f"{path}[{i}]")]
    return []


def numbers_of(node: Any) -> set[float]:
    if isinstance(node, bool) or node is None:
        return set()
    if isinstance(node, int | float):
        return {float(node)}
    if isinstance(node, dict):
        return {n for value in node.values() for n in numbers_of(value)}
    if isinstance(node, list):
        return {n for value in node for n in numbers_of(value)}
    return set()


def masked_numbers_in_text(public: dict[str, Any], full: dict[str, Any], k: int = 11) -> list[tuple[str, str]]:
    """Strings of the public view quoting a hidden number (a hidden cell, count or positives) that it publishes nowhere.

    Group labels are read as their level values: a level value is the category, not a count.
    """
    hidden: set[float] = set()
    for levels, group in _all_groups(full, public):
        shown = public["overall"] if not levels else _find(public, levels)
        if group is None or shown is None:
            continue
        c = group["cells"]
        quantities = {"count": sum(c.values()), "positives": c["fn"] + c["tp"], **c}
        for name, value in quantities.items():
            if name in ("count", "positives") and shown.get(name) is not None:
                continue
            if name in CELLS and _fully_published(shown):
                continue
            hidden.add(float(value))
    published = numbers_of(public)
    level_values = {str(v) for _l, g in _all_groups(full, public) if g for v in g.get("levels", {}).values()}
    leaks = []
    for path, text in strings_of(public):
        if path in (".rule", ".suppression.rule"):
            continue  # written from the parameters only (checked against the full result's rule)
        if path.endswith((".group", ".reference_group", ".max_group", ".min_group", ".name")) \
                or ".levels." in path:
            text = "×".join(part for part in text.split("×") if part not in level_values)
        elif path.endswith("key"):  # a typed key: a feature's columns, or a group's levels, as JSON
            parts = json.loads(text)
            parts = list(parts.values()) if isinstance(parts, dict) else parts
            assert isinstance(parts, list) and all(isinstance(v, str) for v in parts), (path, text)
            text = " ".join(v for v in parts if v not in level_values)
        for token in _NUMBER.findall(text):
            value = float(token)
            if value in hidden and value not in published:
                leaks.append((path, text))
    return leaks
