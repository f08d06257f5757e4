"""Drift of two large Parquet datasets: Evidently's own tests, computed from summaries read batch by batch.

Why: ``audits.drift.compute_drift`` hands Evidently two whole frames, which does not fit a worker's memory
at tens of millions of rows. Each of Evidently's default tests (0.7, ``legacy/calculations/stattests``,
chosen in ``registry._get_default_stattest`` on the values left after dropping NaN and ±inf) needs only a
summary of each column, which is accumulated here over ``ParquetFile.iter_batches`` in two passes:

- pass 1: rows, missing (null or NaN: pandas' ``isna``, the missing-share test's count), finite values,
  mean and sum of squared deviations (Chan's parallel update, so the reference's ``np.std`` with ddof 0 is
  exact up to rounding), minimum and maximum, exact value counts of every categorical column (refused or
  skipped past ``MAX_CATEGORIES``, as ``drift.py`` does) and of a numeric column while it has at most
  ``NUMERIC_LEVELS`` distinct values, and the finite values themselves while there are at most
  ``KEEP_VALUES`` of them;
- pass 2: for numeric columns with more than ``NUMERIC_LEVELS`` distinct values, a histogram of
  ``FINE_BINS`` equal bins on the range common to both datasets (known after pass 1: a fixed grid makes the
  two histograms' CDFs comparable bin by bin, which a per-dataset quantile sketch would not); and, for a
  numeric column whose reference has at most ``SMALL_SAMPLE`` values (Evidently's K-S case), how many
  current values lie below and at each reference value.

The tests, with Evidently's rules (more than 1,000 reference values: numeric -> Wasserstein distance
normed by the reference's standard deviation, ``max(np.std(ref), 0.001)``, drift at >= 0.1, or
Jensen-Shannon when both datasets together have at most 5 distinct values; categorical -> Jensen-Shannon
distance, natural logarithm, drift at >= 0.1. At most 1,000: categorical and numeric with <= 5 levels ->
chi-square p-value (> 2 levels) or two-proportion Z p-value, numeric -> two-sample K-S p-value, drift
below 0.05):

- Jensen-Shannon, chi-square and Z use exact counts: equal to Evidently's on the same rows up to rounding;
- K-S: the statistic is exact (the sup of |F_ref - F_cur| is reached at a reference value, from the left
  or at it, so counts there suffice); the p-value is scipy's: exact from the kept values when both sides
  have at most 10,000 values, else Smirnov's asymptotic ``kstwo.sf(D, round(n m / (n + m)))``, which is
  what ``scipy.stats.ks_2samp`` computes at those sizes;
- Wasserstein from the histogram: W1 = integral of |F_ref - F_cur|, with each CDF taken as linear inside a
  bin. Inside a bin of width h_k each true CDF differs from its linear version by at most the bin's share
  of that dataset, so the error is at most ``score_bound = sum_k h_k (p_ref,k + p_cur,k) / std_ref`` on the
  normed score; on the first, uniform grid that is ``2 (max - min) / (FINE_BINS * std_ref)`` (0.0025 for
  a normal column of a million rows, whose range spans about 10 standard deviations). When the threshold
  lies within the bound of the score (an outlier stretching the range leaves the bulk in a few wide
  bins), the bins holding most of the bound are split and both files re-read for that column, at most
  ``MAX_REFINEMENTS`` times; a decision still within its bound is flagged ``decision_certain: False``.
  Tests of the bound, the refinement and the decisions: tests/audits/test_drift_stream.py.

The missing-share test (``drift.missing_share_test``) uses counts only and is exact.

The summaries' size depends on the number of columns, ``FINE_BINS`` and the refinements (at most
``MAX_REFINEMENTS x REFINE_BINS x REFINE_SPLIT`` more bins per column), never on the number of rows.
Pure computation: no database, no Evidently import (Evidently runs on the sample, in the runner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audits.drift import (
    DATASET_DRIFT_RULE,
    MAX_CATEGORIES,
    MISSING_ALPHA,
    MISSING_METHOD,
    MISSING_MIN_EFFECT,
    missing_share_test,
)
from audits.tabular import open_parquet
from registry_db.errors import ValidationFailed

BATCH_ROWS = 65_536
FINE_BINS = 8_192
MAX_REFINEMENTS = 3
REFINE_BINS = 64
REFINE_SPLIT = 128
NUMERIC_LEVELS = 5  # Evidently tests a numeric column with at most this many distinct values by its counts
SMALL_SAMPLE = 1_000  # Evidently's switch from p-values to distances (reference values after dropping NaN)
KEEP_VALUES = 10_000  # scipy's K-S is exact up to this many values per side: kept so it can be reproduced
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 20_141
DISTANCE_THRESHOLD = 0.1
P_VALUE_THRESHOLD = 0.05
METHODS = {"wasserstein": "Wasserstein distance (normed)", "jensenshannon": "Jensen-Shannon distance",
           "chisquare": "chi-square p_value", "z": "Z-test p_value", "ks": "K-S p_value"}


@dataclass
class ColumnStats:
    """One column of one dataset, summarised: what Evidently's tests and the missing-share test need."""

    kind: str  # "num" or "cat"
    rows: int = 0
    missing: int = 0  # null or NaN
    count: int = 0  # finite values (Evidently also drops ±inf)
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    low: float = math.inf
    high: float = -math.inf
    values: dict[Any, int] | None = field(default_factory=dict)  # exact counts while bounded, else None
    kept: list[np.ndarray] | None = field(default_factory=list)  # finite values while <= KEEP_VALUES
    hist: np.ndarray | None = None
    edges: np.ndarray | None = None  # the histogram's grid, shared with the other dataset's
    below: np.ndarray | None = None  # current values < each reference value (K-S with a small reference)
    at_or_below: np.ndarray | None = None

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    def kept_values(self) -> np.ndarray | None:
        return None if self.kept is None else np.concatenate([np.empty(0), *self.kept])

    def nbytes(self) -> int:
        """Bytes held by the summary's arrays and counts (memory bound: independent of the rows read)."""
        arrays = [a for a in (self.hist, self.edges, self.below, self.at_or_below, *(self.kept or [])) if a is not None]
        return sum(a.nbytes for a in arrays) + 16 * len(self.values or {})


@dataclass(frozen=True)
class StreamedDrift:
    """The verdicts as plain data, and the summaries they were computed from."""

    summary: dict
    reference: dict[str, ColumnStats]
    current: dict[str, ColumnStats]
    skipped: dict[str, str]


def column_kinds(reference_path: Path, current_path: Path, columns: list[str],
                 categorical: list[str] | None = None) -> dict[str, str]:
    """"num" for a column integer or floating-point in both datasets (and not declared categorical), else "cat".

    The same split ``drift.compute_drift`` makes on the frames pandas reads from these files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(p) for p in (reference_path, current_path)]
    errors = []
    for name, schema in zip(("reference", "current"), schemas, strict=True):
        missing = [c for c in columns if c not in schema.names]
        if missing:
            errors.append(f"missing from the {name} dataset: {', '.join(missing)}")
    if not columns:
        errors.append("no column to compare")
    if errors:
        raise ValidationFailed(f"cannot compare these datasets: {errors[0]}", {"columns": errors})

    def numeric(t: pa.DataType) -> bool:
        return pa.types.is_integer(t) or pa.types.is_floating(t)

    declared = set(categorical or [])
    return {c: "num" if c not in declared and all(numeric(s.field(c).type) for s in schemas) else "cat"
            for c in columns}


def stream_drift(reference_path: Path, current_path: Path, *, columns: list[str],
                 categorical: list[str] | None = None, drift_share: float = 0.5, skip_wide: bool = False,
                 batch_rows: int = BATCH_ROWS) -> StreamedDrift:
    """Which columns drifted over every row of both datasets, by Evidently's default tests, and the dataset.

    ``skip_wide``: a categorical column with more than ``MAX_CATEGORIES`` values is left out (named in
    ``skipped``) rather than refused, as the runner does for the columns it chose itself.
    """
    if not 0 < drift_share <= 1:
        raise ValidationFailed("cannot compare these datasets: must be in (0, 1]", {"drift_share": ["must be in (0, 1]"]})
    if len(set(columns)) != len(columns):
        raise ValidationFailed("cannot compare these datasets: a column is listed twice",
                               {"columns": ["a column is listed twice"]})
    kinds = column_kinds(reference_path, current_path, columns, categorical)
    ref = _first_pass(reference_path, kinds, batch_rows)
    cur = _first_pass(current_path, kinds, batch_rows)
    skipped = _check(ref, cur, kinds, skip_wide)
    kinds = {c: k for c, k in kinds.items() if c not in skipped}
    if not kinds:
        raise ValidationFailed("cannot compare these datasets: no column to compare", {"columns": ["no column to compare"]})
    grids, points = {}, {}
    for c, kind in kinds.items():
        r, k = ref[c], cur[c]
        if kind == "num" and not _few_levels(r, k):
            low, high = min(r.low, k.low), max(r.high, k.high)
            high = high if high > low else low + 1
            # low (1 - t) + high t, not linspace's low + (high - low) t: high - low overflows past +-9e307
            t = np.linspace(0.0, 1.0, FINE_BINS + 1)
            grids[c] = np.unique(low * (1 - t) + high * t)
            kept = r.kept_values()
            if r.count <= SMALL_SAMPLE and kept is not None:  # always kept: SMALL_SAMPLE < KEEP_VALUES
                points[c] = np.unique(kept)
    _second_pass(reference_path, ref, grids, {}, batch_rows)
    _second_pass(current_path, cur, grids, points, batch_rows)
    refinements = _refine_uncertain(reference_path, current_path, ref, cur, grids, batch_rows)
    rows = [{"column": c, "type": kind, **_value_test(ref[c], cur[c], kind, grids.get(c), points.get(c))}
            for c, kind in kinds.items()]
    summary = _summary(rows, ref, cur, drift_share)
    summary["refinement_passes"] = refinements
    return StreamedDrift(summary=summary, reference={c: ref[c] for c in kinds}, current={c: cur[c] for c in kinds},
                         skipped=skipped)


def _batches(path: Path, columns: list[str], batch_rows: int):
    """The file's rows in batches, read without pre-buffering (``tabular.open_parquet``).

    pyarrow's default pre-buffering keeps the chunks of every row group read so far for the reader's life,
    so one ``iter_batches`` over the whole file lets Arrow's memory grow with the file (measured with
    pyarrow 25: 42 MB of pool at 1M rows, 145 MB at 5M, six columns); without it, what Arrow holds is one
    row group's chunks, bounded by ``tabular.ROW_GROUP_ROWS`` whatever the file's length.
    """
    with open_parquet(path) as parquet:
        yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)


def _as_float(array) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)


def _first_pass(path: Path, kinds: dict[str, str], batch_rows: int) -> dict[str, ColumnStats]:
    import pyarrow as pa
    import pyarrow.compute as pc

    stats = {c: ColumnStats(kind=k) for c, k in kinds.items()}
    for batch in _batches(path, list(kinds), batch_rows):
        for c, s in stats.items():
            array = batch.column(c)
            s.rows += len(array)
            numeric = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
            if s.kind == "cat" and not numeric:
                if pa.types.is_dictionary(array.type):
                    array = array.dictionary_decode()
                s.missing += array.null_count
                s.count += len(array) - array.null_count
                if s.values is not None:
                    counted = pc.value_counts(array)
                    for value, n in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                                        strict=True):
                        if value is not None:
                            s.values[value] = s.values.get(value, 0) + n
                    if len(s.values) > MAX_CATEGORIES:
                        s.values = None
                continue
            values = _as_float(array)
            s.missing += int(np.isnan(values).sum())
            finite = values[np.isfinite(values)]
            _add_moments(s, finite)
            if s.values is not None and finite.size:
                levels, counts = np.unique(finite, return_counts=True)
                for value, n in zip(levels.tolist(), counts.tolist(), strict=True):
                    s.values[value] = s.values.get(value, 0) + n
                if len(s.values) > (MAX_CATEGORIES if s.kind == "cat" else NUMERIC_LEVELS):
                    s.values = None
            if s.kept is not None:
                s.kept.append(finite)
                if s.count > KEEP_VALUES:
                    s.kept = None
    return stats


def _add_moments(s: ColumnStats, finite: np.ndarray) -> None:
    """Chan et al.'s pairwise update of count, mean and squared deviations: exact up to rounding."""
    n = finite.size
    if n == 0:
        return
    mean = float(finite.mean())
    m2 = float(((finite - mean) ** 2).sum())
    total = s.count + n
    delta = mean - s.mean
    s.m2 += m2 + delta * delta * s.count * n / total
    s.mean += delta * n / total
    s.count = total
    s.low, s.high = min(s.low, float(finite.min())), max(s.high, float(finite.max()))


def _check(ref: dict[str, ColumnStats], cur: dict[str, ColumnStats], kinds: dict[str, str],
           skip_wide: bool) -> dict[str, str]:
    """Refuse (or skip) what ``compute_drift`` refuses: a column with no value, a categorical one too wide."""
    errors: dict[str, list[str]] = {}
    for name, stats in (("reference", ref), ("current", cur)):
        empty = [c for c, s in stats.items() if s.count == 0]
        if empty:
            errors.setdefault("columns", []).append(f"no values in the {name} dataset: {', '.join(empty)}")
    skipped, wide = {}, []
    for c, kind in kinds.items():
        if kind != "cat":
            continue
        r, k = ref[c].values, cur[c].values
        if r is None or k is None or len(set(r) | set(k)) > MAX_CATEGORIES:
            if skip_wide:
                skipped[c] = f"more than {MAX_CATEGORIES} categories"
            else:
                wide.append(c)
    if wide:
        errors.setdefault("columns", []).append(
            f"more than {MAX_CATEGORIES} distinct values, each would appear in the report: {', '.join(wide)}")
    if errors:
        raise ValidationFailed(f"cannot compare these datasets: {errors['columns'][0]}", errors)
    return skipped


def _few_levels(r: ColumnStats, k: ColumnStats) -> bool:
    return r.values is not None and k.values is not None and len(set(r.values) | set(k.values)) <= NUMERIC_LEVELS


def _second_pass(path: Path, stats: dict[str, ColumnStats], grids: dict[str, np.ndarray],
                 points: dict[str, np.ndarray], batch_rows: int) -> None:
    if not grids:
        return
    for c, edges in grids.items():
        stats[c].hist, stats[c].edges = np.zeros(edges.size - 1, dtype=np.int64), edges
    for c, at in points.items():
        stats[c].below, stats[c].at_or_below = np.zeros(at.size, np.int64), np.zeros(at.size, np.int64)
    for batch in _batches(path, list(grids), batch_rows):
        for c, edges in grids.items():
            values = _as_float(batch.column(c))
            finite = values[np.isfinite(values)]
            s = stats[c]
            assert s.hist is not None
            s.hist += np.histogram(finite, bins=edges)[0]
            if c in points:
                ordered = np.sort(finite)
                assert s.below is not None and s.at_or_below is not None
                s.below += np.searchsorted(ordered, points[c], side="left")
                s.at_or_below += np.searchsorted(ordered, points[c], side="right")


def _value_test(r: ColumnStats, k: ColumnStats, kind: str, grid: np.ndarray | None,
                points: np.ndarray | None) -> dict[str, Any]:
    """Evidently's default test for this column, from the two summaries."""
    if r.count > SMALL_SAMPLE:
        if grid is not None:
            score, bound = wasserstein_from_histograms(r, k, grid)
            return _row("wasserstein", score, DISTANCE_THRESHOLD, score >= DISTANCE_THRESHOLD, bound)
        score = jensenshannon_from_counts(r.values or {}, k.values or {})
        return _row("jensenshannon", score, DISTANCE_THRESHOLD, score >= DISTANCE_THRESHOLD)
    if grid is None:
        keys = set(r.values or {}) | set(k.values or {})
        if len(keys) > 2:
            p = chisquare_from_counts(r.values or {}, k.values or {})
            return _row("chisquare", p, P_VALUE_THRESHOLD, p < P_VALUE_THRESHOLD)
        p = z_from_counts(r.values or {}, k.values or {})
        return _row("z", p, P_VALUE_THRESHOLD, p < P_VALUE_THRESHOLD)
    p = ks_from_summaries(r, k, points if points is not None else np.empty(0))
    return _row("ks", p, P_VALUE_THRESHOLD, p < P_VALUE_THRESHOLD)


def _row(method: str, score: float, threshold: float, drifted: bool, bound: float = 0.0) -> dict[str, Any]:
    row = {"method": METHODS[method], "score": _number(score), "threshold": threshold, "drifted": bool(drifted)}
    if method == "wasserstein":
        row["score_bound"] = _number(bound)
        row["decision_certain"] = bool(abs(score - threshold) > bound)
    return row


def _refine_uncertain(reference_path: Path, current_path: Path, ref: dict[str, ColumnStats],
                      cur: dict[str, ColumnStats], grids: dict[str, np.ndarray], batch_rows: int) -> int:
    """Split the bins that hold most of an uncertain Wasserstein decision's error bound, and count again.

    A uniform grid's bound is 2 x range / bins: one outlier (a weight typed in grams) stretches the range and
    leaves the bulk of the values in a few wide bins. Each refinement pass splits the ``REFINE_BINS`` bins
    with the largest share of the bound into ``REFINE_SPLIT`` equal parts (the grid grows by a fixed number
    of edges per pass, whatever the rows) and re-reads both files for those columns only. Returns the passes.
    """
    for done in range(MAX_REFINEMENTS):
        uncertain = {}
        for c, edges in grids.items():
            if ref[c].count > SMALL_SAMPLE:
                score, bound = wasserstein_from_histograms(ref[c], cur[c], edges)
                if abs(score - DISTANCE_THRESHOLD) <= bound:
                    uncertain[c] = _split_widest_errors(edges, ref[c], cur[c])
        if not uncertain:
            return done
        _second_pass(reference_path, ref, uncertain, {}, batch_rows)
        _second_pass(current_path, cur, uncertain, {}, batch_rows)
        grids.update(uncertain)
    return MAX_REFINEMENTS


def _split_widest_errors(edges: np.ndarray, r: ColumnStats, k: ColumnStats) -> np.ndarray:
    assert r.hist is not None and k.hist is not None
    errors = np.diff(edges) * (r.hist / r.count + k.hist / k.count)
    worst = np.argsort(-errors, kind="stable")[:REFINE_BINS]
    worst = worst[errors[worst] > 0]
    parts = [np.linspace(edges[i], edges[i + 1], REFINE_SPLIT + 1) for i in worst]
    return np.unique(np.concatenate([edges, *parts]))


def wasserstein_from_histograms(r: ColumnStats, k: ColumnStats, edges: np.ndarray) -> tuple[float, float]:
    """Normed W1 from the two fine histograms (CDFs linear inside bins), and its error bound (module docstring)."""
    assert r.hist is not None and k.hist is not None
    widths = np.diff(edges)
    cdf_r = np.concatenate([[0.0], np.cumsum(r.hist) / r.count])
    cdf_k = np.concatenate([[0.0], np.cumsum(k.hist) / k.count])
    d = cdf_r - cdf_k
    a, b = d[:-1], d[1:]
    same_sign = a * b >= 0
    total = np.abs(a) + np.abs(b)
    crossing = np.divide(a * a + b * b, 2 * total, out=np.zeros_like(total), where=total > 0)
    area = (widths * np.where(same_sign, total / 2, crossing)).sum()
    norm = max(r.std, 0.001)
    bound = (widths * (r.hist / r.count + k.hist / k.count)).sum()
    return float(area / norm), float(bound / norm)


def jensenshannon_from_counts(r: dict[Any, int], k: dict[Any, int]) -> float:
    """Jensen-Shannon distance (natural log) of the two frequency tables, on the union of their values."""
    from scipy.spatial import distance

    keys = list(set(r) | set(k))
    p = np.array([r.get(key, 0) for key in keys], dtype=float)
    q = np.array([k.get(key, 0) for key in keys], dtype=float)
    return float(distance.jensenshannon(p / p.sum(), q / q.sum()))


def chisquare_from_counts(r: dict[Any, int], k: dict[Any, int]) -> float:
    """Evidently's chi-square p-value: current counts against reference counts scaled to the current total."""
    from scipy.stats import chisquare

    keys = list(set(r) | set(k))
    scale = sum(k.values()) / sum(r.values())
    return float(chisquare([k.get(key, 0) for key in keys], [r.get(key, 0) * scale for key in keys])[1])


def z_from_counts(r: dict[Any, int], k: dict[Any, int]) -> float:
    """Evidently's two-proportion Z p-value: the share of values other than the first (sorted) in each dataset."""
    from scipy.stats import norm

    if len(r) == 1 and len(k) == 1 and next(iter(r)) == next(iter(k)):
        return 1.0
    levels = set(r) | set(k)
    try:
        first = sorted(levels)[0]
    except TypeError:  # values of two types (text in one file, numbers in the other): any one level will do,
        first = min(levels, key=lambda v: (type(v).__name__, str(v)))  # the two-sided test is symmetric
    n1, n2 = sum(r.values()), sum(k.values())
    p1, p2 = (n1 - r.get(first, 0)) / n1, (n2 - k.get(first, 0)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * (1 - norm.cdf(abs(z))))


def ks_from_summaries(r: ColumnStats, k: ColumnStats, points: np.ndarray) -> float:
    """Two-sample K-S p-value as scipy's ``ks_2samp`` gives it, with a reference of at most SMALL_SAMPLE values."""
    from scipy.stats import distributions, ks_2samp

    kept_r, kept_k = r.kept_values(), k.kept_values()
    if kept_r is not None and kept_k is not None:
        return float(ks_2samp(kept_r, kept_k)[1])
    assert kept_r is not None and k.below is not None and k.at_or_below is not None
    ordered = np.sort(kept_r)
    ref_below = np.searchsorted(ordered, points, side="left") / r.count
    ref_at = np.searchsorted(ordered, points, side="right") / r.count
    d = max(np.abs(ref_below - k.below / k.count).max(), np.abs(ref_at - k.at_or_below / k.count).max())
    m, n = sorted([float(r.count), float(k.count)], reverse=True)
    return float(distributions.kstwo.sf(d, np.round(m * n / (m + n))))


def _summary(rows: list[dict[str, Any]], ref: dict[str, ColumnStats], cur: dict[str, ColumnStats],
             drift_share: float) -> dict[str, Any]:
    """The same fields ``compute_drift`` stores, so pages and schedules read both alike."""
    names = [row["column"] for row in rows]
    tests = missing_share_test(np.array([ref[c].missing for c in names]), np.array([ref[c].rows for c in names]),
                               np.array([cur[c].missing for c in names]), np.array([cur[c].rows for c in names]))
    for i, row in enumerate(rows):
        c = row["column"]
        row["missing_reference"] = _number(ref[c].missing / ref[c].rows)
        row["missing_current"] = _number(cur[c].missing / cur[c].rows)
        row["missing_test"] = {"method": MISSING_METHOD, "p_value": _number(tests["p_value"][i]),
                               "effect_size": _number(tests["effect_size"][i]), "alpha": MISSING_ALPHA,
                               "min_effect_size": MISSING_MIN_EFFECT, "drifted": bool(tests["drifted"][i])}
        row["drifted_any"] = bool(row["drifted"] or tests["drifted"][i])
    drifted = sum(row["drifted"] for row in rows)
    drifted_any = sum(row["drifted_any"] for row in rows)
    share = drifted / len(rows)
    return {
        "columns": rows, "drifted_count": drifted, "column_count": len(rows), "share_drifted": _number(share),
        "dataset_drifted": bool(share >= drift_share or drifted_any / len(rows) >= drift_share),
        "drift_share_threshold": drift_share, "missing_drifted_count": int(tests["drifted"].sum()),
        "drifted_any_count": drifted_any, "share_drifted_any": _number(drifted_any / len(rows)),
        "dataset_drifted_evidently": bool(share >= drift_share), "dataset_drift_rule": DATASET_DRIFT_RULE,
        "mode": "streaming",
        "rows": {"reference": ref[names[0]].rows, "current": cur[names[0]].rows},
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def stratified_sample(path: Path, columns: list[str], *, size: int = SAMPLE_ROWS, seed: int = SAMPLE_SEED,
                      batch_rows: int = BATCH_ROWS):
    """At most ``size`` rows drawn without replacement, each row group giving its proportional share.

    Row groups are the strata: they are contiguous runs of the file (upload order, often time), so the
    sample spreads over the whole file at no extra pass, which stratifying by categories would need (their
    joint counts first). Within a row group the rows are uniform, so the sample is a simple random sample
    up to rounding of each group's share. Reproducible: the same file, size and seed give the same rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        sizes = np.array([parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)])
        schema = parquet.schema_arrow
    total = int(sizes.sum())
    rng = np.random.default_rng(seed)
    if total <= size:
        chosen = np.arange(total)
    else:
        exact = sizes * size / total
        shares = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - shares), kind="stable")[: size - int(shares.sum())]:
            shares[i] += 1
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        chosen = np.sort(np.concatenate([start + rng.choice(n, k, replace=False)
                                         for start, n, k in zip(starts, sizes, shares, strict=True)]))
    taken, offset = [], 0
    for batch in _batches(path, columns, batch_rows):
        lo, hi = np.searchsorted(chosen, [offset, offset + batch.num_rows])
        if hi > lo:
            taken.append(batch.take(pa.array(chosen[lo:hi] - offset)))
        offset += batch.num_rows
    fields = [schema.field(c) for c in columns]
    table = pa.Table.from_batches(taken, schema=pa.schema(fields, metadata=schema.metadata))
    return table.to_pandas(), total
