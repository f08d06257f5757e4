"""Preparing a column for screening: the sample of distinct values, in the forms the detectors need."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from audits.identifiers.names import fold

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_LIMIT = 5000  # distinct values screened per column
_SEED = 20240601  # the sample of distinct values is reproducible
MAX_CELL_CHARS = 2000  # a longer cell is free text with no place in a reference table, and is refused
# The vectorised filters are written for RE2 (pyarrow compute), whatever pandas' default string dtype is.
_ARROW_STRING: Final = "string[pyarrow]"
_CHAR_BUDGET = 500_000  # characters screened per column at most: bounds the time a worst-case column costs

# ---------------------------------------------------------------------------------------------
# Values: preparing a sample
# ---------------------------------------------------------------------------------------------

@dataclass
class _Sample:
    """The distinct values of one column chosen for screening, in the forms the detectors need."""

    nonnull: Any  # the column without nulls (a pandas Series)
    raw: list  # the screened distinct values, as they are in the column
    weight: np.ndarray  # rows holding each screened value (in the whole column, or in the row sample)
    text: list[str]  # each folded to text: NFKC, invisible characters dropped, look-alikes mapped, spaces collapsed
    from_float: np.ndarray  # per value: an integral float (its trailing digits may have been rounded away)
    digits: np.ndarray  # per value: how many ASCII digits its text holds (a cheap filter for the detectors)
    series: Any = None  # the texts as a pandas string Series, for vectorised (RE2) filters
    numeric: bool = False
    sampled: bool = False  # distinct values came from a row sample (a long, high-cardinality column)
    oversized: float = 0.0  # share of screened values longer than MAX_CELL_CHARS (screened truncated)
    dates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # for datetime columns: year, month, day

    def rows_per_value(self, matched: np.ndarray) -> float:
        """How many rows each matched value covers on average (1.0: unique per row)."""
        return float(self.weight[matched].sum() / max(int(matched.sum()), 1))

    def contiguous(self) -> bool:
        """Integers forming one gap-free range, as row numbers do (computed on demand: it reads the column)."""
        if not self.numeric:
            return False
        low, high = int(self.nonnull.min()), int(self.nonnull.max())
        return high - low + 1 == self.nonnull.nunique()


ROW_SAMPLE = 50_000  # rows read to estimate how varied a long column is


def _distinct_counts(nonnull: pd.Series) -> tuple[pd.Series, bool]:
    """Distinct values with their row counts, and whether they come from a row sample.

    The whole column's when values repeat (so a few identifiers among fillers are all seen), else
    those of a random row sample: hashing a million distinct strings costs more than the rest of
    the screening, and ``_rare_identifiers`` then looks for rare strong identifiers in the whole column.
    """
    if len(nonnull) <= ROW_SAMPLE:
        return nonnull.value_counts(sort=False, dropna=False), False
    positions = np.sort(np.random.default_rng(_SEED).choice(len(nonnull), size=ROW_SAMPLE, replace=False))
    counts = nonnull.iloc[positions].value_counts(sort=False, dropna=False)
    if len(counts) <= ROW_SAMPLE // 2:
        return nonnull.value_counts(sort=False, dropna=False), False
    return counts, True


def _prepare(series: pd.Series, limit: int) -> _Sample | str | None:
    """Pick the distinct values to screen; None when nothing can hide in the column, "nested" when it cannot be read."""
    import pandas as pd

    dtype = series.dtype
    counts, sampled = None, False
    if isinstance(dtype, pd.CategoricalDtype):
        # Every category counts, used or not: a Parquet dictionary can carry values no row uses.
        codes = series.cat.codes.to_numpy()
        weight = np.bincount(codes[codes >= 0], minlength=len(dtype.categories))
        counts = pd.Series(weight, index=dtype.categories)
        nonnull = series.dropna().astype(dtype.categories.dtype)
        dtype = dtype.categories.dtype
    else:
        nonnull = series.dropna()
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return None
    if pd.api.types.is_float_dtype(dtype):  # scores and costs with decimals carry no identifier digits
        nonnull = nonnull[_integral(nonnull.to_numpy(dtype="float64", na_value=np.nan))]
        if counts is not None:
            counts = counts[_integral(counts.index.to_numpy(dtype="float64"))]
    if nonnull.empty and (counts is None or counts.empty):
        return None
    if counts is None:
        try:
            counts, sampled = _distinct_counts(nonnull)
        except TypeError:  # unhashable cells: lists, arrays, maps (nested Parquet types)
            return "nested"
    distinct, weight = counts.index, counts.to_numpy()
    if len(distinct) > limit:
        picked = np.sort(np.random.default_rng(_SEED).choice(len(distinct), size=limit, replace=False))
        distinct, weight = distinct[picked], weight[picked]
        sampled = True
    sample = _sample_from(distinct, weight, dtype)
    if isinstance(sample, _Sample):
        sample.nonnull, sample.sampled = nonnull, sampled
        if isinstance(dtype, pd.StringDtype) and not nonnull.empty:  # every cell, not just the sampled ones
            sample.oversized = max(sample.oversized, float((nonnull.str.len() > MAX_CELL_CHARS).mean()))
    return sample


def _integral(values: np.ndarray) -> np.ndarray:
    keep = np.isfinite(values) & (np.abs(values) < 1e18)
    keep[keep] = np.mod(values[keep], 1) == 0
    return keep


def _sample_from(distinct: Any, weight: np.ndarray, dtype: Any) -> _Sample | str:
    """The forms the detectors need, for some distinct values of one dtype; "nested" if one is a list or map."""
    import pandas as pd

    n = len(distinct)
    sample = _Sample(nonnull=None, raw=list(distinct), weight=np.asarray(weight), text=[],
                     from_float=np.zeros(n, dtype=bool), digits=np.zeros(n, dtype=np.int64))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        index = pd.DatetimeIndex(distinct)
        sample.dates = (index.year.to_numpy(), index.month.to_numpy(), index.day.to_numpy())
        return sample
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        is_float = pd.api.types.is_float_dtype(dtype)
        kind = "float64" if is_float else "uint64" if pd.api.types.is_unsigned_integer_dtype(dtype) else "int64"
        sample.raw = np.asarray(distinct, dtype=kind).tolist()
        sample.text = [str(int(v)) for v in sample.raw]
        sample.from_float = np.full(n, is_float)
        sample.numeric = True
    else:
        lengths = np.array([len(v) if isinstance(v, str | bytes) else 0 for v in sample.raw], dtype=np.int64)
        sample.oversized = float((lengths > MAX_CELL_CHARS).mean()) if n else 0.0
        if np.minimum(lengths, MAX_CELL_CHARS).sum() > _CHAR_BUDGET:  # a random subset within the budget
            order = np.random.default_rng(_SEED).permutation(n)
            kept = np.sort(order[np.cumsum(np.minimum(lengths, MAX_CELL_CHARS)[order]) <= _CHAR_BUDGET])
            sample.raw, sample.weight, n = [sample.raw[i] for i in kept], sample.weight[kept], len(kept)
        texts, floats = [], []
        for value in sample.raw:
            text, was_float = _as_text(value)
            if text is None:
                return "nested"
            texts.append(text)
            floats.append(was_float)
        sample.text, sample.from_float = texts, np.array(floats, dtype=bool)
    if n < 64:  # a few values (a column name): plain Python is cheaper than building a pandas Series
        sample.digits = np.array([sum(ch.isdigit() for ch in t) for t in sample.text], dtype=np.int64)
    else:
        sample.series = pd.Series(sample.text, dtype=_ARROW_STRING)
        sample.digits = sample.series.str.count(r"[0-9]").to_numpy(dtype=np.int64)
    return sample


def _as_text(value: object) -> tuple[str | None, bool]:
    """A cell as folded text; (None, _) for a nested value; True when it came from an integral float."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | np.bool_):
        return "", False
    elif isinstance(value, int | np.integer):
        return str(int(value)), False
    elif isinstance(value, float | np.floating | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else bool(np.isfinite(value))
        if not finite or not -1e18 < value < 1e18:  # NaN, infinities and numbers too large to be an identifier
            return str(value), False
        if value == int(value):
            return str(int(value)), True
        return str(value), False
    elif isinstance(value, dt.datetime | dt.date):
        return value.isoformat(), False
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, list | tuple | dict | set | frozenset | np.ndarray):
        return None, False
    else:
        text = str(value)
    text = _SPACES.sub(" ", fold(text[:MAX_CELL_CHARS])).strip().strip("'\"").strip()
    # Excel keeps a number as text behind a quote; "1.850312345678e14" is a float written out.
    if _FLOAT_TEXT.fullmatch(text):
        number = float(text)
        if abs(number) < 1e18 and number == int(number):
            return str(int(number)), True
    return text, False


_SPACES = re.compile(r"\s+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?")  # a point: not bare digits, not hex keys
