"""What a reader can infer about hidden confusion cells from every published number, by linear programming.

This is the attacker of small-cell suppression, run by the defender (as tau-ARGUS audits a table).
The unknowns cover every public bias audit of one dataset at once:

* for every combination of the levels of every sensitive column audited on the dataset (the full
  cross-classification, because non-negativity of *its* cells is what bounds a hidden group), the
  confusion cells (tn, fp, fn, tp) under one reference prediction vector. Negatives (tn + fp) and
  positives (fn + tp) depend on the data only, so every audit of the dataset shares them;
* for every other prediction vector (another version, another threshold), its false and true positives
  per combination, with 0 ≤ fp ≤ negatives and 0 ≤ tp ≤ positives. When two vectors threshold the same
  scores, the higher threshold predicts a subset: its fp and tp are at most the lower threshold's.

Any non-negative values satisfying these constraints are the counts of some dataset (within a
combination and a label, several prediction vectors can be coupled at will), so the bounds of this
linear programme are exactly the attacker's best bounds, up to integrality. Published numbers enter as
equalities on sums of these unknowns: a group's size, positives, predicted positives, true positives —
every published rate times its (published) denominator is one of them.

``protect`` bounds every hidden cell under the threshold and, while one is too narrow, asks its caller
to withdraw a published equality that the optimum rests on (a non-zero dual value). Withdrawing
equalities only enlarges the feasible set, so a cell once shown safe stays safe, feasible points found
earlier stay feasible (they certify later cells without solving), and the loop ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from math import prod

import highspy
import numpy as np
from scipy import sparse

Levels = tuple[tuple[str, str], ...]  # sorted (column, canonical value): one group's definition
CELLS = ("tn", "fp", "fn", "tp")
QUANTITIES = ("count", "positives", "predicted", "tp")  # what a published number can pin, per group
_TOL = 1e-6
_DUAL_TOL = 1e-9


class TooLarge(ValueError):
    """The cross-classification has more unknowns than the audit may solve for."""


class SolverFailed(RuntimeError):
    """HiGHS ended without an optimum (time, numerics): nothing may be concluded from this programme."""


class Inconsistent(ValueError):
    """The published numbers admit no dataset at all (an engine change, or a bug): refuse to reason on them."""


@dataclass(frozen=True)
class Equality:
    """One published fact: the ``quantity`` of the group ``levels`` under prediction vector ``predictions``."""

    quantity: str
    levels: Levels
    predictions: str | None
    value: int

    @property
    def key(self) -> tuple:
        return (self.quantity, self.levels, self.predictions if self.quantity in ("predicted", "tp") else None)


@dataclass(frozen=True)
class AtLeast:
    """A published lower bound: the group ``levels`` has at least ``value`` people (listed groups have one)."""

    levels: Levels
    value: int


@dataclass(frozen=True)
class Check:
    """A hidden cell under the threshold, and its true value (the defender knows it; the LP does not)."""

    cell: str
    levels: Levels
    predictions: str
    value: int


@dataclass
class Outcome:
    """What the audit did: for the report to the lead and the tests, never published."""

    variables: int = 0
    checks: int = 0
    solves: int = 0
    certified_by_known_points: int = 0
    withdrawn: list[Hashable] = field(default_factory=list)
    accepted: list[tuple[Check, str, float]] = field(default_factory=list)  # (check, side, bound) implied without us
    seconds: float = 0.0


class CrossTable:
    """The unknowns: confusion cells per combination of levels, and the linear forms published numbers take."""

    def __init__(self, levels: dict[str, Sequence[str]], predictions: Sequence[str],
                 nested: Sequence[tuple[str, str]] = (), max_variables: int = 400_000):
        self.columns = sorted(levels)
        self.levels = {c: list(levels[c]) for c in self.columns}
        self.predictions = list(dict.fromkeys(predictions))
        if not self.predictions:
            raise ValueError("at least one prediction vector")
        sizes = [len(self.levels[c]) for c in self.columns]
        self.combos = prod(sizes)
        self.n = self.combos * (4 + 2 * (len(self.predictions) - 1))
        if self.n > max_variables:
            raise TooLarge(f"{self.n} unknowns (limit {max_variables})")
        grid = np.indices(sizes).reshape(len(sizes), -1) if sizes else np.zeros((0, 1), dtype=np.int64)
        self._codes = {c: grid[i] for i, c in enumerate(self.columns)}
        self._index = {c: {v: j for j, v in enumerate(self.levels[c])} for c in self.columns}
        self._masks: dict[Levels, np.ndarray] = {}
        self.A_ub, self.b_ub = self._structure(nested)

    # -- linear forms ---------------------------------------------------------------------------
    def _block(self, name: str, predictions: str | None = None) -> int:
        """Offset of a block of ``combos`` unknowns: tn, fp, fn, tp of the reference vector, then fp/tp of others."""
        base = {"tn": 0, "fp": 1, "fn": 2, "tp": 3}
        if predictions is None or predictions == self.predictions[0] or name in ("tn", "fn"):
            return base[name] * self.combos
        j = self.predictions.index(predictions)
        return (4 + 2 * (j - 1) + (0 if name == "fp" else 1)) * self.combos

    def _terms(self, kind: str, predictions: str | None) -> dict[int, float]:
        """A quantity or a cell as {block offset: coefficient}."""
        neg, pos = {self._block("tn"): 1.0, self._block("fp"): 1.0}, {self._block("fn"): 1.0, self._block("tp"): 1.0}
        if kind == "count":
            return {**neg, **pos}
        if kind == "positives":
            return pos
        fp, tp = self._block("fp", predictions), self._block("tp", predictions)
        if kind == "predicted":
            return {fp: 1.0, tp: 1.0}
        if kind == "tp":
            return {tp: 1.0}
        if kind == "fp":
            return {fp: 1.0}
        terms = dict(neg if kind == "tn" else pos)  # tn = negatives - fp; fn = positives - tp
        drop = fp if kind == "tn" else tp
        terms[drop] = terms.get(drop, 0.0) - 1.0
        return {k: v for k, v in terms.items() if v != 0.0}

    def mask(self, levels: Levels) -> np.ndarray:
        """Indices of the combinations inside the group ``levels``."""
        if levels not in self._masks:
            keep = np.ones(self.combos, dtype=bool)
            for column, value in levels:
                keep &= self._codes[column] == self._index[column][value]
            self._masks[levels] = np.flatnonzero(keep)
        return self._masks[levels]

    def form(self, kind: str, levels: Levels, predictions: str | None) -> sparse.csr_matrix:
        """The 1 × n row of a quantity (count, positives, predicted, tp) or a cell (tn, fp, fn, tp) of a group."""
        where = self.mask(levels)
        cols, data = [], []
        for offset, coefficient in self._terms(kind, predictions).items():
            cols.append(offset + where)
            data.append(np.full(where.size, coefficient))
        cols_a, data_a = np.concatenate(cols), np.concatenate(data)
        return sparse.csr_matrix((data_a, (np.zeros(cols_a.size, dtype=np.int64), cols_a)), shape=(1, self.n))

    def _per_combination(self, parts: dict[int, float]) -> sparse.csr_matrix:
        """One row per combination: sum of coefficient × unknown at each block offset."""
        rows = np.tile(np.arange(self.combos), len(parts))
        cols = np.concatenate([offset + np.arange(self.combos) for offset in parts])
        data = np.concatenate([np.full(self.combos, coefficient) for coefficient in parts.values()])
        return sparse.csr_matrix((data, (rows, cols)), shape=(self.combos, self.n))

    def _structure(self, nested: Sequence[tuple[str, str]]) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Other vectors' fp ≤ negatives and tp ≤ positives; a higher threshold predicts a subset of a lower one."""
        blocks = []
        for p in self.predictions[1:]:
            for own, limit in (("fp", ("tn", "fp")), ("tp", ("fn", "tp"))):
                blocks.append(self._per_combination({self._block(own, p): 1.0,
                                                     **{self._block(name): -1.0 for name in limit}}))
        for low, high in nested:  # predictions(high) ⊆ predictions(low)
            if low not in self.predictions or high not in self.predictions or low == high:
                continue
            for name in ("fp", "tp"):
                blocks.append(self._per_combination({self._block(name, high): 1.0, self._block(name, low): -1.0}))
        if not blocks:
            return sparse.csr_matrix((0, self.n)), np.zeros(0)
        matrix = sparse.vstack(blocks, format="csr")
        return matrix, np.zeros(matrix.shape[0])


@dataclass
class _Bound:
    value: float
    point: np.ndarray
    duals: np.ndarray


class Protection:
    """Bound every hidden small cell; withdraw published equalities until none is pinned or narrowed.

    One HiGHS model holds every constraint; a withdrawn equality has its bounds opened to ±inf, which
    keeps the previous basis primal feasible. Each bound is then a warm-started primal simplex from the
    last optimum (only the objective changed): about four times faster here than solving afresh.
    """

    def __init__(self, table: CrossTable, fixed: Sequence[Equality], mutable: Sequence[Equality],
                 at_least: Sequence[AtLeast], k: int, cap: float):
        self.table, self.k = table, k
        self.rows: dict[tuple, tuple[int, bool]] = {}  # key -> (row index, withdrawable)
        forms: list[sparse.csr_matrix] = []
        lower: list[float] = []
        upper: list[float] = []
        for equality, withdrawable in [*((e, False) for e in fixed), *((e, True) for e in mutable)]:
            if equality.key in self.rows:  # already published by a frozen view: publishing it again costs nothing
                continue
            self.rows[equality.key] = (len(forms), withdrawable)
            forms.append(table.form(equality.quantity, equality.levels, equality.predictions))
            lower.append(equality.value)
            upper.append(equality.value)
        if table.A_ub.shape[0]:
            forms.append(table.A_ub)
            lower.extend([-highspy.kHighsInf] * table.A_ub.shape[0])
            upper.extend(table.b_ub.tolist())
        for bound in at_least:
            forms.append(table.form("count", bound.levels, None))
            lower.append(bound.value)
            upper.append(highspy.kHighsInf)
        self.highs = highspy.Highs()
        for option, value in (("output_flag", False), ("presolve", "off"), ("simplex_strategy", 4), ("threads", 1)):
            self.highs.setOptionValue(option, value)
        self.highs.addVars(table.n, np.zeros(table.n), np.full(table.n, float(cap)))
        if forms:
            matrix = sparse.vstack(forms, format="csr")
            self.highs.addRows(matrix.shape[0], np.array(lower, dtype=float), np.array(upper, dtype=float),
                               matrix.nnz, matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32),
                               matrix.data.astype(float))
        self._all_columns = np.arange(table.n, dtype=np.int32)
        self.outcome = Outcome(variables=table.n)

    @property
    def published(self) -> set[tuple]:
        """The keys of the equalities in force (fixed, and withdrawable ones not withdrawn)."""
        return set(self.rows)

    def withdraw(self, keys: Sequence[tuple]) -> None:
        for key in keys:
            if key in self.rows and self.rows[key][1]:
                index, _ = self.rows.pop(key)
                self.highs.changeRowBounds(index, -highspy.kHighsInf, highspy.kHighsInf)
                self.outcome.withdrawn.append(key)

    def _solve(self, objective: sparse.csr_matrix, maximise: bool) -> tuple[_Bound, list[tuple]]:
        self.highs.changeColsCost(self.table.n, self._all_columns, objective.toarray().ravel())
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize)
        self.highs.run()
        self.outcome.solves += 1
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            raise Inconsistent("the published numbers admit no dataset")
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverFailed(f"linear programme failed: {self.highs.modelStatusToString(status)}")
        solution = self.highs.getSolution()
        keys = list(self.rows)
        duals = np.asarray(solution.row_dual)[[self.rows[key][0] for key in keys]] if keys else np.zeros(0)
        value = self.highs.getInfo().objective_function_value
        return _Bound(float(value), np.asarray(solution.col_value), duals), keys

    def _see(self, point: np.ndarray | None) -> None:
        """Record a feasible point: the range of values it shows for every check."""
        if point is None:
            return
        values = self._forms @ point
        np.minimum(self._lowest, values, out=self._lowest)
        np.maximum(self._highest, values, out=self._highest)

    def _certified(self, i: int, side: str) -> bool:
        """Whether a feasible point already shows check i at 0 or below (low side), or at k or above (high side)."""
        return bool(self._highest[i] >= self.k - _TOL) if side == "high" else bool(self._lowest[i] <= _TOL)

    def _push(self, rows: Sequence[int], side: str, weights: np.ndarray | None = None) -> None:
        """One solve pushing several checks the same way at once (each with its weight)."""
        weights = np.ones(len(rows)) if weights is None else weights
        objective = sparse.csr_matrix(weights @ self._forms[list(rows)])
        bound, _ = self._solve(objective, maximise=side == "high")
        self._see(bound.point)

    def run(self, checks: Sequence[Check], choose: Callable[[list[tuple], Check], list[tuple]]) -> Outcome:
        """Make every check safe: its feasible range reaches ``k`` upwards and 0 downwards.

        ``choose(candidates, check)`` gets the withdrawable keys the violated bound rests on and returns the
        keys it withdraws (at least one of the candidates); it is never called with no candidate.
        """
        started = time.perf_counter()
        self.outcome.checks = len(checks)
        if not checks:
            return self.outcome
        self._forms = sparse.vstack([self.table.form(c.cell, c.levels, c.predictions) for c in checks], format="csr")
        self._lowest, self._highest = np.full(len(checks), np.inf), np.full(len(checks), -np.inf)
        for side in ("high", "low"):  # all pending checks of a side together, while that settles more of them
            while True:
                todo = [i for i in range(len(checks)) if not self._certified(i, side)]
                if not todo:
                    break
                self._push(todo, side)
                if sum(not self._certified(i, side) for i in todo) == len(todo):
                    break
        pending = [(i, side) for i in range(len(checks)) for side in ("high", "low") if not self._certified(i, side)]
        self.outcome.certified_by_known_points = 2 * len(checks) - len(pending)
        for n, (i, side) in enumerate(pending):
            if self._certified(i, side):
                continue
            # First push this check with a little of every check still pending on the same side: the point
            # usually settles it and several others at once. Only a failure needs its exact bound.
            others = [j for j, s in pending[n + 1:] if s == side and not self._certified(j, s)]
            if others:
                self._push([i, *others], side, np.array([1.0, *([1e-3 / len(others)] * len(others))]))
            while not self._certified(i, side):
                bound, keys = self._solve(self._forms[i], maximise=side == "high")
                self._see(bound.point)
                if bound.value >= self.k - _TOL if side == "high" else bound.value <= _TOL:
                    break
                candidates = [key for key, dual in zip(keys, bound.duals, strict=True)
                              if abs(dual) > _DUAL_TOL and self.rows[key][1]]
                if not candidates:
                    # A dual solution resting on fixed facts only: the bound holds without anything we could
                    # withdraw (earlier public views, the dataset's list of levels, published verdicts).
                    self.outcome.accepted.append((checks[i], side, bound.value))
                    break
                withdrawn = choose(candidates, checks[i])
                if not set(withdrawn) & set(candidates):
                    raise RuntimeError("choose() must withdraw one of the candidates")
                self.withdraw(withdrawn)
        self.outcome.seconds = time.perf_counter() - started
        return self.outcome
