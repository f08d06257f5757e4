"""Reading uploaded tables (CSV, Parquet) safely and inferring their schema (identifiers: audits.identifiers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from registry_db.errors import ValidationFailed

if TYPE_CHECKING:
    import pandas as pd

PARQUET_MAGIC = b"PAR1"
MAX_COLUMNS = 500
ROW_GROUP_ROWS = 262_144
"""The most rows a stored dataset's Parquet row group holds. The streaming audit decodes a row group's column
chunks whole (audits.streaming), so this bounds its memory whatever the file's size (the same number as the
engine's ``BATCH_ROWS``)."""


@dataclass(frozen=True)
class TableInfo:
    format: str
    row_count: int
    columns: list[dict]


@dataclass
class PredictionProblems:
    """What is wrong with a predictions file against its dataset, in the words of the upload check."""

    key: str
    duplicates: bool = False
    missing: int = 0
    extra: int = 0
    bad_prediction: bool = False

    def messages(self) -> list[str]:
        """The refusals, in the order the upload check lists them."""
        errors = []
        if self.duplicates:
            errors.append(f"'{self.key}' has duplicate values")
        if self.missing:
            errors.append(f"{self.missing} dataset rows have no prediction")
        if self.extra:
            errors.append(f"{self.extra} predictions match no dataset row")
        if self.bad_prediction:
            errors.append("'prediction' must be 0 or 1 on every row")
        return errors


def required_columns_messages(key: str, columns: list[str]) -> list[str]:
    """The upload check's refusal of a predictions file that lacks its key or its prediction column."""
    errors = []
    if key not in columns:
        errors.append(f"a '{key}' column identifying the dataset's rows is required")
    if "prediction" not in columns:
        errors.append("a 'prediction' column (0/1) is required")
    return errors


def detect_format(path: Path, filename: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == PARQUET_MAGIC:
        return "parquet"
    if filename.lower().endswith(".parquet"):
        raise ValidationFailed("not a Parquet file", {"file": ["the file is named .parquet but is not Parquet"]})
    return "csv"


def read_table(path: Path, fmt: str, field: str = "file") -> pd.DataFrame:
    """Parse a CSV (UTF-8, comma or semicolon) or Parquet file; a malformed file is a 422 with the reason."""
    import pandas as pd
    import pyarrow

    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            with open(path, "rb") as fh:
                first_line = fh.readline(65536).decode("utf-8", errors="strict")
            sep = ";" if first_line.count(";") > first_line.count(",") else ","
            frame = pd.read_csv(path, sep=sep, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the CSV file is not UTF-8", {field: [f"not UTF-8 text: {exc.reason}"]}) from exc
    except (ValueError, pd.errors.ParserError, pyarrow.ArrowException, OSError,
            KeyError, TypeError) as exc:  # the last two: hostile pandas metadata (an unknown time zone, ...)
        raise ValidationFailed(f"malformed {fmt} file", {field: [f"cannot be read as {fmt}: {str(exc)[:300]}"]}) from exc
    names = [str(c) for c in frame.columns]
    problems = _shape_problems(names, len(frame))
    if problems:
        raise ValidationFailed("the table cannot be used", {field: problems})
    frame.columns = names
    return frame


def _shape_problems(names: list[str], rows: int) -> list[str]:
    """What makes a table unusable whatever its values: no columns or rows, too many columns, bad names."""
    problems = []
    if len(names) == 0:
        problems.append("the table has no columns")
    if len(names) > MAX_COLUMNS:
        problems.append(f"the table has {len(names)} columns; at most {MAX_COLUMNS}")
    if rows == 0:
        problems.append("the table has no rows")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate column names: {', '.join(duplicates)}")
    if any(n.startswith("Unnamed:") or not n.strip() for n in names):
        problems.append("every column needs a name in the header row")
    return problems


@dataclass(frozen=True)
class ParquetColumns:
    """A Parquet upload read one column at a time, each column exactly as ``read_table`` reads it in the whole.

    ``pd.read_parquet`` converts each Arrow column on its own (with the pandas metadata of that column), so
    reading ``columns=[name]`` gives the very Series the whole read gives under that name; the checks and
    the identifier screening that look at one column at a time then hold one column in memory, not the
    table. Only a *plain* file is read so (``parquet_columns``): one whose column names are unique, usable
    and the same as pandas labels them, with no stored index; any other goes through ``read_table``.
    """

    path: Path
    names: list[str]
    row_count: int
    field: str = "file"

    def column(self, name: str) -> pd.Series:
        import pandas as pd
        import pyarrow

        try:
            frame = pd.read_parquet(self.path, columns=[name])
        except (ValueError, pyarrow.ArrowException, OSError) as exc:
            raise ValidationFailed("malformed parquet file",
                                   {self.field: [f"cannot be read as parquet: {str(exc)[:300]}"]}) from exc
        if [str(c) for c in frame.columns] != [name] or len(frame) != self.row_count:
            # parquet_columns rules this out for an honest file; a footer that lies about its rows says so here
            raise ValidationFailed("malformed parquet file", {self.field: [
                f"the file says it holds {self.row_count} rows, but its column '{name}' holds {len(frame)}"]})
        return frame.iloc[:, 0].rename(name)


def parquet_columns(path: Path, field: str = "file") -> ParquetColumns | None:
    """The upload at ``path`` as ``ParquetColumns`` when it is a plain Parquet file, else None (read it whole).

    Plain: a readable footer, 1 to ``MAX_COLUMNS`` top-level columns with unique names that pandas labels
    as they are written (no MultiIndex of columns, no name ``read_table`` refuses), at least one row and no
    index stored as columns. Those are what ``read_table`` would find wrong with the shape, so a plain file
    passes its shape checks, and anything else (hostile metadata included) gets ``read_table``'s own answer.
    """
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        schema, rows = source.schema_arrow, source.metadata.num_rows
        if rows != sum(source.metadata.row_group(i).num_rows for i in range(source.metadata.num_row_groups)):
            return None  # a footer whose total disagrees with its row groups: the whole read decides
        names = list(schema.names)
        pandas_meta = schema.pandas_metadata or {}
        if not _default_index(pandas_meta.get("index_columns")):
            return None
        empty = schema.empty_table().to_pandas()
        if empty.columns.nlevels != 1:
            return None
        labels = [str(c) for c in empty.columns]
    except Exception:  # noqa: BLE001 - whatever the footer hides, read_table gives its answer
        return None
    if labels != names or rows <= 0 or _shape_problems(names, rows):
        return None
    return ParquetColumns(path=path, names=names, row_count=rows, field=field)


def _default_index(index_columns) -> bool:
    """Whether pandas would read no index but the default 0..n-1 (none stored, or pandas' unnamed default range).

    Any other index (stored columns, a named range, several ranges making a MultiIndex, a range starting
    elsewhere) is screened by ``screen_table`` on the whole frame, so such a file is not read by columns.
    """
    if not index_columns:
        return True
    if len(index_columns) != 1 or not isinstance(index_columns[0], dict):
        return False
    index = index_columns[0]
    return (index.get("kind") == "range" and index.get("name") is None and index.get("start") == 0
            and index.get("step") == 1)


def row_groups_conform(path: Path, row_group_rows: int = ROW_GROUP_ROWS) -> bool:
    """Whether a Parquet file's row groups are all at most ``row_group_rows`` rows (an unreadable footer is not)."""
    import pyarrow
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (pyarrow.ArrowException, OSError):
        return False
    return meta.num_row_groups > 0 and all(
        0 <= meta.row_group(i).num_rows <= row_group_rows for i in range(meta.num_row_groups))


def frame_to_parquet(frame: pd.DataFrame, dest: Path, row_group_rows: int = ROW_GROUP_ROWS) -> bool:
    """Write a table read by ``read_table`` as Parquet that ``read_table`` reads back identical; False if it cannot.

    Identical means the same columns, dtypes and values, so that every audit of the stored file gives the
    numbers the uploaded CSV gave. The Arrow schema (with pandas' own metadata, which restores the dtypes)
    is taken from the whole frame, then the rows are converted and written one row group at a time, so the
    conversion adds at most one row group's Arrow copy to the frame already in memory. A column pandas types
    ``object`` is refused: CSV parsing gives that dtype only to mixes Parquet would not return as they were
    (true/false with gaps, whose NaN comes back None; integers past 64 bits). The file written is checked by
    reading its schema back as pandas dtypes.
    """
    import pyarrow
    import pyarrow.parquet as pq

    if any(frame[name].dtype == object for name in frame.columns):
        return False
    try:
        schema = pyarrow.Schema.from_pandas(frame, preserve_index=False)
        with pq.ParquetWriter(dest, schema) as writer:
            for start in range(0, len(frame), row_group_rows):
                chunk = frame.iloc[start:start + row_group_rows]
                writer.write_table(pyarrow.Table.from_pandas(chunk, schema=schema, preserve_index=False),
                                   row_group_size=row_group_rows)
        written = pq.read_schema(dest).empty_table().to_pandas()
    except (pyarrow.ArrowException, OverflowError, TypeError, ValueError):
        dest.unlink(missing_ok=True)
        return False
    if list(written.columns) != list(frame.columns) or list(written.dtypes) != list(frame.dtypes):
        dest.unlink(missing_ok=True)
        return False
    return True


def open_parquet(path: Path):
    """A ``ParquetFile`` for reading batch after batch in bounded memory: without pre-buffering.

    pyarrow's default (``pre_buffer=True``) coalesces the reads of the column chunks and caches them for
    the reader's life: iterating every batch of a file then keeps the compressed chunks of every row group
    read so far, which grows with the file (measured: +1.2 GB at 100M rows). Read this way, what pyarrow
    holds is one row group's column chunks at a time, whatever N is.
    """
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, pre_buffer=False)


def rewrite_parquet(src: Path, dest: Path, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """Copy a Parquet file into row groups of at most ``row_group_rows`` rows, streaming.

    The file's Arrow schema (and the pandas metadata in it) is kept as it is, so ``read_table`` reads the
    copy as it read the original; batches are read and written one at a time, so memory stays bounded by
    the original's largest row group (pyarrow decodes a row group's column chunks whole).
    """
    import pyarrow.parquet as pq

    source = open_parquet(src)
    with pq.ParquetWriter(dest, source.schema_arrow) as writer:
        for batch in source.iter_batches(batch_size=row_group_rows):
            writer.write_batch(batch, row_group_size=row_group_rows)


def describe_table(frame: pd.DataFrame, fmt: str) -> TableInfo:
    columns = [describe_column(name, frame[name]) for name in frame.columns]
    return TableInfo(format=fmt, row_count=len(frame), columns=columns)


def describe_column(name: str, series: pd.Series) -> dict:
    """What a dataset record says of one column: its dtype, missing values and distinct values.

    A NumPy numeric column's distinct values are counted by sorting, which at ten million keys is several
    times faster than the hashing of ``nunique`` and counts the same (NaN left out, -0.0 equal to 0.0).
    """
    values = series.to_numpy() if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf" else None
    if values is None:
        distinct = int(series.nunique(dropna=True))
    elif values.dtype.kind == "f":
        distinct = len(_sorted_distinct(values[~np.isnan(values)]))
    else:
        distinct = len(_sorted_distinct(values))
    return {"name": name, "dtype": str(series.dtype), "nulls": int(series.isna().sum()), "distinct": distinct}


# -- comparing a predictions file's keys with the dataset's, without Python sets ------------------------------
#
# The upload check has always counted, in Python's own terms, ``len(set(dataset) - set(predicted))`` dataset
# rows without a prediction and ``len(set(predicted) - set(dataset))`` predictions matching no row, over the
# values ``Series.tolist()`` gives: 1, 1.0 and True are one key, "1" another; a NaN matches only itself as
# the same object (so every NaN of a float column, a new object each time, is a key of its own). Building
# those sets costs gigabytes at ten million rows; the functions below count the same numbers with arrays.

_INT64_MAX = np.iinfo(np.int64).max


def same_distinct_keys(dataset: pd.Series, predicted: pd.Series) -> bool:
    """Whether both columns hold the same keys, each once: the usual case, which the upload accepts.

    Proved within one dtype whose equality is Python's: for NumPy numbers (no NaN), two sorts and one
    comparison (as ``audits.streaming`` proves its join one to one); for text, by hashing: every predicted
    key is found among the distinct dataset keys and no dataset key is found twice. True means no missing
    or extra row and no duplicate; False only means the counts must be made (``distinct_differences``).
    """
    import pandas as pd

    if len(dataset) != len(predicted) or dataset.dtype != predicted.dtype or not _hashes_like_python(dataset):
        return False
    if dataset.hasnans or predicted.hasnans:
        return False
    if isinstance(dataset.dtype, np.dtype) and dataset.dtype.kind in "biuf":
        ours, theirs = np.sort(dataset.to_numpy()), np.sort(predicted.to_numpy())
        return bool(np.array_equal(ours, theirs) and not (ours[1:] == ours[:-1]).any())
    index = pd.Index(dataset)
    if not index.is_unique:
        return False
    position = index.get_indexer(predicted)
    if len(position) and position.min() < 0:
        return False
    return bool(np.bincount(position, minlength=len(dataset)).max(initial=0) <= 1)


def _hashes_like_python(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "biuf":
            return True
        return dtype.kind == "O" and pd.api.types.infer_dtype(series, skipna=False) == "string"
    return isinstance(dtype, pd.StringDtype)


def distinct_differences(dataset: pd.Series, predicted: pd.Series) -> tuple[int, int]:
    """(dataset keys without a prediction, predicted keys matching no dataset row), counted as sets of
    ``tolist()`` values would count them (see above), without building the sets."""
    ours, theirs = _numeric_keys(dataset), _numeric_keys(predicted)
    if ours is not None and theirs is not None:
        ints, floats = _differences(ours[0], theirs[0]), _differences(ours[1], theirs[1])
        return ints[0] + floats[0] + ours[2], ints[1] + floats[1] + theirs[2]
    try:
        ours_objects, ours_ids = _object_keys(dataset)
        theirs_objects, theirs_ids = _object_keys(predicted)
        objects = _differences(ours_objects, theirs_objects)
    except TypeError:  # lists or maps (nested Parquet cells), which no set could hold: each a key of its own
        ours_objects, ours_ids = _object_keys(dataset, nested=True)
        theirs_objects, theirs_ids = _object_keys(predicted, nested=True)
        objects = _differences(ours_objects, theirs_objects)
    ids = _differences(ours_ids, theirs_ids)
    return objects[0] + ids[0], objects[1] + ids[1]


def _numeric_keys(series: pd.Series) -> tuple[np.ndarray, np.ndarray, int] | None:
    """A NumPy numeric column as (integers, other floats, NaN count); None for any other column.

    Python compares an int and a float exactly: a float equals an integer only when it is integral, so
    integral floats within int64 are turned into int64 (exactly) and compared with the integers, the rest
    (fractions, infinities, integral floats beyond int64) only among themselves. Each NaN is its own key.
    """
    dtype = series.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        return None
    values = series.to_numpy()
    empty = np.zeros(0, dtype=np.float64)
    if dtype.kind == "u" and values.size and values.max() > _INT64_MAX:
        return None  # integers past int64 could equal floats past it: compared as objects
    if dtype.kind != "f":
        return values.astype(np.int64), empty, 0
    values = values.astype(np.float64)
    nan = np.isnan(values)
    values = values[~nan]
    integral = np.isfinite(values) & (np.trunc(values) == values) & (values >= -(2.0**63)) & (values < 2.0**63)
    return values[integral].astype(np.int64), values[~integral], int(nan.sum())


def _object_keys(series: pd.Series, *, nested: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Any column as the values ``tolist()`` gives: (the values that equal themselves, as objects, compared
    by pandas' object hashing, which uses Python's hash and ==; the identities of the missing ones, NaN,
    None, NA, NaT, which a set tells apart by identity as they never equal another object). With
    ``nested``, lists, arrays and maps go with the missing ones: they match no key (a set refused them)."""
    import pandas as pd

    values = series.tolist()
    objects = np.fromiter(values, dtype=object, count=len(values))  # one cell each, nested cells included
    missing = np.asarray(pd.isna(objects), dtype=bool)
    if nested:
        missing |= np.fromiter((isinstance(v, list | dict | np.ndarray) for v in objects), dtype=bool,
                               count=len(objects))
    if not missing.any():
        return objects, np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((id(v) for v in objects[missing]), dtype=np.uint64, count=int(missing.sum()))
    return objects[~missing], ids


def _differences(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, int]:
    """How many distinct values of each side the other lacks (NumPy numbers without NaN: by sorting)."""
    import pandas as pd

    if ours.dtype.kind in "iuf" and theirs.dtype == ours.dtype:
        a, b = _sorted_distinct(ours), _sorted_distinct(theirs)
        return _absent(a, b), _absent(b, a)
    a, b = pd.unique(ours), pd.unique(theirs)
    return (int(len(a) - pd.Series(a, dtype=a.dtype, copy=False).isin(b).sum()),
            int(len(b) - pd.Series(b, dtype=b.dtype, copy=False).isin(a).sum()))


def _absent(values: np.ndarray, known: np.ndarray) -> int:
    """How many of the sorted distinct ``values`` are not in the sorted distinct ``known``."""
    if len(known) == 0:
        return len(values)
    at = np.minimum(np.searchsorted(known, values), len(known) - 1)
    return int((known[at] != values).sum())


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (``np.unique`` without its hashing, which is slower at this size)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
