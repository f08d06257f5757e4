"""Bias-audit counts accumulated from a Parquet dataset batch by batch, predictions joined by key on disk.

The engine computes every number of a bias audit from the confusion counts of the finest
combinations of the sensitive values (``audits.groups``, ``fairness.audit_from_counts``). Those counts
are sums over rows, so they can be accumulated without ever holding the dataset: this module reads the
dataset with ``pyarrow.parquet.ParquetFile.iter_batches`` (``BATCH_ROWS`` rows at a time, row group by
row group), joins the predictions to its rows by the row key, and hands the counts to the same
function as the in-memory engine. For the same inputs and seed the results are identical.

The join, in bounded memory whatever N is (a grace hash join):

1. Each side is read batch by batch and its rows are written to one of K on-disk partitions (Arrow
   IPC streams under ``workdir``) chosen by a hash of the key (``pandas.util.hash_array``), with
   K = ceil(rows / ``PARTITION_ROWS``). Equal keys hash alike on both sides, so a key's dataset row
   and its prediction land in the same partition. The dataset side is written compactly: the key,
   the outcome and one int32 code per sensitive column (the column's distinct values are numbered as
   they are met; there are few of them).
2. Partition by partition, both sides are loaded (about ``PARTITION_ROWS`` rows each), joined, and
   their confusion cells counted per finest combination (``count_partition``); the partial counts are
   added up. The partitions are counted one after the other here, or on a Dask cluster's workers
   (``audits.distributed``): integer sums, so the totals are the same wherever they were counted.

Peak memory is therefore set by ``BATCH_ROWS``, ``PARTITION_ROWS`` and the dataset file's row-group size
(pyarrow decodes a row group's column chunks whole), never by N. The refusals are the upload check's
(``audits.datasets.check_predictions``), in its words: duplicate keys, dataset rows without a
prediction, predictions matching no row, predictions other than 0/1, scores outside [0, 1]; and the
engine's for outcomes that are not 0/1 and for missing sensitive values.

Scores: when asked (``score_threshold``), the predictions' ``score`` column travels with ``prediction``
into the partitions, and each partition also returns a histogram of the scores per (finest
combination, outcome, score bin), with integer sums (``audits.score_histograms``): the score metrics
(AUC, calibration, curves, sweep) are then computed from histograms at a stated resolution, in memory
set by the number of combinations and bins, not by N.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audits.fairness import BiasAuditParams, audit_from_counts, binary_values
from audits.groups import Coding, build_groupings, json_value, missing_values_message
from audits.score_histograms import (
    PartialHistogram,
    ScoreHistograms,
    final_histograms,
    histogram_bins,
    histogram_edges,
    merge_histograms,
    partial_histogram,
)
from audits.tabular import PredictionProblems, open_parquet, required_columns_messages
from registry_db.errors import ValidationFailed

BATCH_ROWS = 262_144  # rows decoded at a time
PARTITION_ROWS = 1_000_000  # rows per side held at once while joining
_MAX_DENSE_CELLS = 1 << 22  # combinations x 4 counted in one fixed array below this; sparsely beyond
ROW_NUMBER = "row_number"  # the key of a dataset without a row key: each row's 0-based position


@dataclass(frozen=True)
class StreamStats:
    """How the counts were accumulated (recorded in the audit's provenance)."""

    rows: int
    batch_rows: int
    row_groups: int
    row_group_rows: int  # the largest row group of the dataset file: what pyarrow decodes at once
    partitions: int
    partition_rows: int


@dataclass
class StreamedCounts:
    """The finest combinations' counts with their groups, and each column's raw values in sorted order."""

    coding: Coding
    values: list[pd.Index]  # per sensitive column, its distinct values sorted as pd.factorize(sort=True) sorts
    combo_codes: list[np.ndarray]  # per column, each combination's code into ``values``
    stats: StreamStats
    scores: ScoreHistograms | None = None  # per-combination score histograms, when asked for


@dataclass
class _Dictionary:
    """One sensitive column's distinct values, numbered in the order they are first met, batch after batch."""

    column: str
    index: pd.Index | None = None

    def codes(self, values: pd.Series) -> np.ndarray:
        local, uniques = pd.factorize(values, sort=False)
        local = np.asarray(local, dtype=np.int64)
        if local.size and local.min() < 0:
            raise ValueError(missing_values_message(self.column))
        uniques = pd.Index(uniques)
        if self.index is None:
            self.index = uniques
            return local
        mapping = np.asarray(self.index.get_indexer(uniques), dtype=np.int64)
        new = mapping < 0
        if new.any():
            mapping[new] = np.arange(len(self.index), len(self.index) + int(new.sum()))
            self.index = self.index.append(uniques[new])
        return mapping[local]

    def sorted(self) -> tuple[np.ndarray, pd.Index]:
        """Each first-met number's position in sorted order, and the values sorted as the in-memory engine sorts."""
        if self.index is None:
            return np.zeros(0, dtype=np.int64), pd.Index([])
        order, uniques = pd.factorize(self.index, sort=True)
        return np.asarray(order, dtype=np.int64), pd.Index(uniques)


@dataclass
class _Partitions:
    """K append-only Arrow IPC streams; a row goes to the partition its key hashes to."""

    root: Path
    count: int
    writers: list[Any] = field(default_factory=list)
    schema: Any = None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa

        keys = columns["key"]
        batch = pa.RecordBatch.from_pydict({name: pa.array(values) for name, values in columns.items()})
        if not self.writers:
            self.root.mkdir(parents=True, exist_ok=True)
            self.schema = batch.schema
            self.writers = [pa.ipc.new_stream(self.root / f"{p}.arrow", batch.schema) for p in range(self.count)]
        if batch.schema != self.schema:  # a batch of keys that pyarrow typed otherwise (all null, ...)
            batch = batch.cast(self.schema)
        if self.count == 1:
            self.writers[0].write_batch(batch)
            return
        part = pd.util.hash_array(np.asarray(keys)) % np.uint64(self.count)
        small = np.uint8 if self.count <= 256 else np.uint16 if self.count <= 65536 else np.int64
        part = part.astype(small)
        order = np.argsort(part, kind="stable")  # a radix sort for small integers
        ordered = batch.take(pa.array(order))
        bounds = np.concatenate(([0], np.cumsum(np.bincount(part, minlength=self.count))))
        for p in range(self.count):
            if bounds[p + 1] > bounds[p]:
                self.writers[p].write_batch(ordered.slice(int(bounds[p]), int(bounds[p + 1] - bounds[p])))

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers = []

    def path(self, p: int) -> Path:
        """Partition ``p``'s file (absent when no row hashed to it)."""
        return self.root / f"{p}.arrow"


def _read_partition(path: str):
    import pyarrow as pa

    if not Path(path).exists():
        return None
    with pa.ipc.open_stream(path) as reader:
        return reader.read_all()


def stream_bias_counts(dataset: Path, predictions: Path, *, predictions_format: str, label: str, row_key: str | None,
                       sensitive: list[str], intersections: bool, workdir: Path, batch_rows: int = BATCH_ROWS,
                       partition_rows: int = PARTITION_ROWS, map_partitions: PartitionMap = map,
                       score_threshold: float | None = None) -> StreamedCounts:
    """Confusion counts per finest combination of ``sensitive``, from a Parquet dataset and its predictions file.

    ``predictions`` is a Parquet or CSV file (``predictions_format``) with the row key (``row_key``, or
    ``row_number`` for a dataset without one) and ``prediction``; with ``score_threshold`` (the audit's
    operating threshold, made a bin edge), also ``score``, histogrammed per combination and outcome at
    the resolution ``score_histograms.histogram_bins`` allows for the sensitive values met. The
    partitions are written under ``workdir`` and removed before returning.

    ``map_partitions`` applies ``count_partition`` to every partition: the builtin ``map`` counts them
    here one after the other; ``audits.distributed`` hands them to a Dask cluster, whose workers must
    then reach ``workdir`` at the same path. The partial counts are integers added together, so the
    totals do not depend on where or in which order the partitions were counted.
    """
    parquet = open_parquet(dataset)
    meta = parquet.metadata
    key = row_key or ROW_NUMBER
    names = parquet.schema_arrow.names
    wanted = list(dict.fromkeys([*([row_key] if row_key else []), label, *sensitive]))
    absent = [c for c in wanted if c not in names]
    if absent:
        raise ValueError(f"the dataset has no column {', '.join(map(repr, absent))}")
    rows = meta.num_rows
    if rows == 0:
        raise ValueError("sensitive must equal params.sensitive_features, and the frame must have rows")
    count = max(1, math.ceil(max(rows, _predicted_rows(predictions, predictions_format)) / partition_rows))
    root = workdir / "streaming-join"
    data_parts, pred_parts = _Partitions(root / "dataset", count), _Partitions(root / "predictions", count)
    dictionaries = [_Dictionary(column) for column in sensitive]
    try:
        _partition_dataset(parquet.iter_batches(batch_size=batch_rows, columns=wanted), row_key=row_key, label=label,
                           dictionaries=dictionaries, parts=data_parts)
        key_type = parquet.schema_arrow.field(row_key).type if row_key else None
        with_scores = score_threshold is not None
        problems, bad_score = _partition_predictions(
            _prediction_batches(predictions, predictions_format, key, key_type, batch_rows, with_scores),
            key=key, parts=pred_parts, with_scores=with_scores)
        orders = [dictionary.sorted() for dictionary in dictionaries]
        sizes = [len(values) for _order, values in orders]
        accumulator = _Accumulator(sizes)
        score_bins = histogram_bins(accumulator.possible)
        score_edges = histogram_edges(score_threshold, score_bins) if score_threshold is not None else None
        edges = tuple(float(e) for e in score_edges) if score_edges is not None else None
        if edges is not None and accumulator.possible * 2 * len(edges) >= 2**62:
            raise ValueError("too many combinations of sensitive values to count")
        tasks = [PartitionTask(str(data_parts.path(p)), str(pred_parts.path(p)), tuple(sizes), key, edges)
                 for p in range(count)]
        duplicate_rows = False
        histogram: PartialHistogram | None = None
        for partial in map_partitions(count_partition, tasks):
            duplicate_rows |= partial.duplicate_rows
            problems.duplicates |= partial.duplicates
            problems.missing += partial.missing
            problems.extra += partial.extra
            accumulator.merge(partial.bins, partial.tallies)
            if partial.histogram is not None:
                histogram = merge_histograms(histogram, partial.histogram)
    finally:
        data_parts.close()
        pred_parts.close()
        shutil.rmtree(root, ignore_errors=True)
    if duplicate_rows:
        raise ValidationFailed("the dataset's row key has duplicate values",
                               {"row_key": ["the row key has duplicate values"]})
    errors = problems.messages() + (["'score' must be a probability in [0, 1] on every row"] if bad_score else [])
    if errors:
        raise ValidationFailed(f"invalid predictions file: {'; '.join(errors)}", {"file": errors})
    counts, global_codes = accumulator.combinations()
    sorted_codes = [order[codes] for (order, _values), codes in zip(orders, global_codes, strict=True)]
    arrange = np.lexsort(tuple(reversed(sorted_codes))) if sorted_codes else np.zeros(0, dtype=np.int64)
    scores = None
    if score_edges is not None:
        present = accumulator.joint(global_codes)  # ascending: the combinations' order before ``arrange``
        row_of = np.empty(arrange.size, dtype=np.int64)
        row_of[arrange] = np.arange(arrange.size)
        scores = final_histograms(histogram, score_edges, 1 / score_bins,
                                  lambda joint: row_of[np.searchsorted(present, joint)])
    counts, sorted_codes = counts[arrange], [codes[arrange] for codes in sorted_codes]
    values = [uniques for _order, uniques in orders]
    typed = [[json_value(v) for v in uniques] for uniques in values]
    coding = Coding(counts, None, build_groupings(sensitive, typed, sorted_codes, counts, intersections))
    group_rows = max((meta.row_group(i).num_rows for i in range(meta.num_row_groups)), default=0)
    stats = StreamStats(rows=rows, batch_rows=batch_rows, row_groups=meta.num_row_groups, row_group_rows=group_rows,
                        partitions=count, partition_rows=partition_rows)
    return StreamedCounts(coding, values, sorted_codes, stats, scores)


def _partition_dataset(batches, *, row_key: str | None, label: str, dictionaries: list[_Dictionary],
                       parts: _Partitions) -> None:
    """First pass: each dataset row as (key, outcome, one code per sensitive column), to its key's partition."""
    offset = 0
    for batch in batches:
        frame = batch.to_pandas()
        size = len(frame)
        keys = frame[row_key].to_numpy() if row_key else np.arange(offset, offset + size, dtype=np.int64)
        columns = {"key": keys, "y": binary_values(frame[label].to_numpy(), label).astype(np.int8)}
        for i, dictionary in enumerate(dictionaries):
            columns[f"c{i}"] = dictionary.codes(frame[dictionary.column]).astype(np.int32)
        parts.write(columns)
        offset += size
    parts.close()


def _partition_predictions(batches, *, key: str, parts: _Partitions,
                           with_scores: bool = False) -> tuple[PredictionProblems, bool]:
    """Second pass: each prediction as (key, 0/1[, score]) to its key's partition; bad values noted.

    Returns the problems and whether a score was missing or outside [0, 1] (the upload check refuses
    those already; a file is checked again where it is read).
    """
    problems = PredictionProblems(key)
    bad_score = False
    for keys, prediction, score in batches:
        try:
            binary = bool(np.isin(prediction, (0, 1)).all())  # False on a missing value (NaN, None) too
        except TypeError:
            binary = False
        problems.bad_prediction |= not binary
        columns = {"key": keys, "p": prediction.astype(np.int8) if binary
                   else np.zeros(len(prediction), dtype=np.int8)}
        if with_scores:
            try:
                values = np.asarray(score, dtype=float)
            except (TypeError, ValueError):
                values = np.full(len(prediction), np.nan)
            valid = (values >= 0) & (values <= 1)  # False on NaN
            bad_score |= not bool(valid.all())
            columns["s"] = np.where(valid, values, 0.0)
        parts.write(columns)
    parts.close()
    return problems, bad_score


def run_streaming_bias_audit(dataset: Path, predictions: Path, *, predictions_format: str, label: str,
                             row_key: str | None, params: BiasAuditParams, workdir: Path, batch_rows: int = BATCH_ROWS,
                             partition_rows: int = PARTITION_ROWS, map_partitions: PartitionMap = map,
                             scores: bool = False) -> tuple[dict, StreamedCounts]:
    """The bias audit of ``fairness.run_bias_audit`` (without the per-group score summaries), computed streaming.

    With ``scores``, the predictions' ``score`` column is histogrammed too (``streamed.scores``), at
    the resolution ``score_histograms.histogram_bins`` allows, with the audit's threshold as an edge:
    ``score_histograms.histogram_score_metrics`` computes the score metrics from it.
    """
    streamed = stream_bias_counts(dataset, predictions, predictions_format=predictions_format, label=label,
                                  row_key=row_key, sensitive=list(params.sensitive_features),
                                  intersections=params.intersections, workdir=workdir, batch_rows=batch_rows,
                                  partition_rows=partition_rows, map_partitions=map_partitions,
                                  score_threshold=params.threshold if scores else None)
    return audit_from_counts(streamed.coding, label=label, params=params), streamed


def cell_table(streamed: StreamedCounts, sensitive: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """One row per non-empty (finest combination, observed, predicted) cell: (sensitive values, y_true, y_pred, count).

    The rows stand for the whole dataset once weighted by their counts, which is how the Fairlearn
    cross-check checks streamed counts at any N (``crosscheck.fairlearn_crosscheck_counts``).
    """
    counts = streamed.coding.counts
    combo, cell = np.nonzero(counts)
    frame = pd.DataFrame({column: streamed.values[i].take(streamed.combo_codes[i][combo])
                          for i, column in enumerate(sensitive)})
    return frame, (cell // 2).astype(np.int64), (cell % 2).astype(np.int64), counts[combo, cell]


class _Accumulator:
    """Counts per finest combination (in first-met codes), in one fixed array when small enough, else sparsely."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.possible = math.prod(sizes)
        self.dense: np.ndarray | None = None
        self.sparse: dict[int, int] = {}
        if self.possible * 4 <= _MAX_DENSE_CELLS:
            self.dense = np.zeros(self.possible * 4, dtype=np.int64)
        elif self.possible * 4 >= 2**62:
            raise ValueError("too many combinations of sensitive values to count")

    def joint(self, codes: list[np.ndarray]) -> np.ndarray:
        """Each row's (or combination's) mixed-radix code of its first-met codes."""
        joint = np.zeros(codes[0].size if codes else 0, dtype=np.int64)
        for column_codes, size in zip(codes, self.sizes, strict=True):
            joint = joint * size + column_codes
        return joint

    def add(self, codes: list[np.ndarray], cells: np.ndarray, joint: np.ndarray | None = None) -> None:
        if joint is None:
            joint = self.joint(codes) if codes else np.zeros(cells.size, dtype=np.int64)
        bins = joint * 4 + cells
        if self.dense is not None:
            self.dense += np.bincount(bins, minlength=self.dense.size)
            return
        found, tally = np.unique(bins, return_counts=True)
        for b, n in zip(found.tolist(), tally.tolist(), strict=True):
            self.sparse[b] = self.sparse.get(b, 0) + n

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The non-empty bins in ascending order and their tallies: a partition's partial counts."""
        if self.dense is not None:
            bins = np.flatnonzero(self.dense)
            return bins.astype(np.int64), self.dense[bins]
        bins = np.array(sorted(self.sparse), dtype=np.int64)
        return bins, np.array([self.sparse[b] for b in bins.tolist()], dtype=np.int64)

    def merge(self, bins: np.ndarray, tallies: np.ndarray) -> None:
        """Add a partition's partial counts (integers: the totals are the same in any order)."""
        if self.dense is not None:
            self.dense[bins] += tallies  # each bin once per partition
            return
        for b, n in zip(bins.tolist(), tallies.tolist(), strict=True):
            self.sparse[b] = self.sparse.get(b, 0) + n

    def combinations(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """(combinations, 4) counts of the combinations present, and each one's first-met code per column."""
        if self.dense is not None:
            full = self.dense.reshape(self.possible, 4)
            present = np.flatnonzero(full.sum(axis=1))
            counts = full[present]
        else:
            bins = np.array(sorted(self.sparse), dtype=np.int64)
            present, inverse = np.unique(bins // 4, return_inverse=True)
            counts = np.zeros((present.size, 4), dtype=np.int64)
            np.add.at(counts, (inverse, bins % 4), np.array([self.sparse[b] for b in bins.tolist()], dtype=np.int64))
        strides = [math.prod(self.sizes[i + 1:]) for i in range(len(self.sizes))]
        return counts, [(present // stride) % size for stride, size in zip(strides, self.sizes, strict=True)]


@dataclass(frozen=True)
class PartitionTask:
    """One partition to join and count: its two files, the size of each sensitive column's dictionary, the key.

    Plain strings, integers and floats, so that it pickles for a Dask worker; the dictionaries (value ->
    code) were fixed by the dataset pass before any partition is counted, so every partition's codes
    agree, and so were the score bins' edges, so every partition's histogram has the same bins.
    """

    data: str
    predictions: str
    sizes: tuple[int, ...]
    key: str
    score_edges: tuple[float, ...] | None = None  # histogram the scores in bins starting at these edges


@dataclass(frozen=True)
class PartitionCounts:
    """One partition's counts as (bin, tally) pairs of the non-empty cells, and what it found wrong."""

    bins: np.ndarray  # combination code x 4 + confusion cell, ascending
    tallies: np.ndarray
    duplicate_rows: bool = False
    duplicates: bool = False
    missing: int = 0
    extra: int = 0
    histogram: PartialHistogram | None = None  # the scores' histogram, when the task asked for one


PartitionMap = Callable[[Callable[[PartitionTask], PartitionCounts], list[PartitionTask]], Iterable[PartitionCounts]]


def count_partition(task: PartitionTask) -> PartitionCounts:
    """Join one partition's dataset rows to their predictions and count them (what a Dask worker runs).

    Pure: it reads the two partition files and returns integers, so the same function counts
    partitions here or on a cluster.
    """
    problems = PredictionProblems(task.key)
    accumulator = _Accumulator(list(task.sizes))
    edges = np.asarray(task.score_edges, dtype=float) if task.score_edges is not None else None
    duplicate_rows, histogram = _join_partition(_read_partition(task.data), _read_partition(task.predictions),
                                                len(task.sizes), problems, accumulator, edges)
    bins, tallies = accumulator.cells()
    return PartitionCounts(bins, tallies, duplicate_rows, problems.duplicates, problems.missing, problems.extra,
                           histogram)


def _join_partition(data, preds, columns: int, problems: PredictionProblems, accumulator: _Accumulator,
                    edges: np.ndarray | None = None) -> tuple[bool, PartialHistogram | None]:
    """Join one partition's dataset rows to their predictions and count them; True when dataset keys repeat.

    With ``edges``, also the partition's histogram of scores per (combination, outcome, bin).

    Problems are recorded in ``problems`` (every partition is still checked, so the refusal gives the
    totals); once there is one in this partition, nothing more is counted since the audit will be refused.
    """
    if data is None and preds is None:
        return False, None
    data_keys = data.column("key").to_numpy(zero_copy_only=False) if data is not None else np.zeros(0, np.int64)
    pred_keys = preds.column("key").to_numpy(zero_copy_only=False) if preds is not None else np.zeros(0, np.int64)
    position = _same_keys(data_keys, pred_keys)  # the usual case: every key once on each side (checked at upload)
    if position is None:
        data_index, pred_index = pd.Index(data_keys), pd.Index(pred_keys)
        if data_index.has_duplicates:
            return True, None
        problems.duplicates |= pred_index.has_duplicates
        distinct_data, distinct_pred = data_index, pred_index.unique()
        problems.missing += int((distinct_pred.get_indexer(distinct_data) < 0).sum())
        problems.extra += int((distinct_data.get_indexer(distinct_pred) < 0).sum())
        if problems.messages():
            return False, None
        position = pred_index.get_indexer(data_index)  # same keys, told apart by hashing (keys that do not sort)
    if problems.messages() or data is None:
        return False, None
    y = data.column("y").to_numpy().astype(np.int64)
    cells = 2 * y + preds.column("p").to_numpy()[position]
    codes = [data.column(f"c{i}").to_numpy().astype(np.int64) for i in range(columns)]
    joint = accumulator.joint(codes) if codes else np.zeros(cells.size, dtype=np.int64)
    accumulator.add(codes, cells, joint)
    if edges is None:
        return False, None
    return False, partial_histogram(joint, y, preds.column("s").to_numpy()[position], edges)


def _same_keys(data_keys: np.ndarray, pred_keys: np.ndarray) -> np.ndarray | None:
    """For each dataset row, the position of its prediction, when both sides hold the same distinct keys; else None.

    Two sorts and one comparison: cheaper than hashing, and it proves the join one to one.
    """
    if data_keys.size != pred_keys.size or data_keys.dtype != pred_keys.dtype:
        return None
    try:
        data_order, pred_order = np.argsort(data_keys), np.argsort(pred_keys)
    except TypeError:  # keys of mixed types cannot be sorted: the hash join decides
        return None
    data_sorted, pred_sorted = data_keys[data_order], pred_keys[pred_order]
    if not np.array_equal(data_sorted, pred_sorted) or (data_sorted[1:] == data_sorted[:-1]).any():
        return None
    position = np.empty(data_keys.size, dtype=np.int64)
    position[data_order] = pred_order
    return position


def _predicted_rows(path: Path, fmt: str) -> int:
    """The predictions file's row count when its format says so cheaply (Parquet), else 0."""
    if fmt != "parquet":
        return 0
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _prediction_batches(path: Path, fmt: str, key: str, key_type, batch_rows: int, with_scores: bool = False):
    """(keys, predictions, scores or None) batch by batch from a Parquet or CSV predictions file.

    The key is read as the dataset's; scores only ``with_scores`` (the file's ``score`` column).
    """
    import pyarrow as pa

    wanted = [key, "prediction"]

    def scores(batch) -> np.ndarray | None:
        """A file without ``score`` has missing scores: refused as the upload check refuses them."""
        if not with_scores:
            return None
        if "score" not in wanted:
            return np.full(batch.num_rows, np.nan)
        return batch.column("score").to_pandas().to_numpy()

    if fmt == "parquet":
        parquet = open_parquet(path)
        _require_columns(key, parquet.schema_arrow.names)
        if with_scores and "score" in parquet.schema_arrow.names:
            wanted.append("score")
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            keys = batch.column(key)
            if key_type is not None and keys.type != key_type:
                keys = _cast_keys(keys, key_type)
            yield keys.to_numpy(zero_copy_only=False), batch.column("prediction").to_pandas().to_numpy(), scores(batch)
        return
    from pyarrow import csv

    with open(path, "rb") as fh:
        first_line = fh.readline(65536).decode("utf-8", errors="replace")
    sep = ";" if first_line.count(";") > first_line.count(",") else ","  # as tabular.read_table decides
    header = [name.strip().strip('"') for name in first_line.rstrip("\r\n").split(sep)]
    _require_columns(key, header)
    if with_scores and "score" in header:
        wanted.append("score")
    types = {key: key_type if key_type is not None else pa.int64()}
    try:
        reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=1 << 22),
                              parse_options=csv.ParseOptions(delimiter=sep),
                              convert_options=csv.ConvertOptions(include_columns=wanted, column_types=types))
        for batch in reader:
            yield (batch.column(key).to_numpy(zero_copy_only=False),
                   batch.column("prediction").to_pandas().to_numpy(), scores(batch))
    except pa.ArrowInvalid as exc:
        raise ValidationFailed("invalid predictions file", {"file": [f"the file cannot be read: {exc}"]}) from exc


def _require_columns(key: str, columns: list[str]) -> None:
    errors = required_columns_messages(key, columns)
    if errors:
        raise ValidationFailed(f"invalid predictions file: {'; '.join(errors)}", {"file": errors})


def _cast_keys(keys, key_type):
    import pyarrow as pa

    try:
        return keys.cast(key_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return keys  # keys of another type match no dataset row: reported as such by the join
