"""Reading uploaded tables (CSV, Parquet) safely and inferring their schema (identifiers: audits.identifiers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    except (ValueError, pd.errors.ParserError, pyarrow.ArrowException, OSError) as exc:
        raise ValidationFailed(f"malformed {fmt} file", {field: [f"cannot be read as {fmt}: {str(exc)[:300]}"]}) from exc
    problems = []
    if frame.shape[1] == 0:
        problems.append("the table has no columns")
    if frame.shape[1] > MAX_COLUMNS:
        problems.append(f"the table has {frame.shape[1]} columns; at most {MAX_COLUMNS}")
    if len(frame) == 0:
        problems.append("the table has no rows")
    names = [str(c) for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate column names: {', '.join(duplicates)}")
    if any(n.startswith("Unnamed:") or not n.strip() for n in names):
        problems.append("every column needs a name in the header row")
    if problems:
        raise ValidationFailed("the table cannot be used", {field: problems})
    frame.columns = names
    return frame


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


def rewrite_parquet(src: Path, dest: Path, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """Copy a Parquet file into row groups of at most ``row_group_rows`` rows, streaming.

    The file's Arrow schema (and the pandas metadata in it) is kept as it is, so ``read_table`` reads the
    copy as it read the original; batches are read and written one at a time, so memory stays bounded by
    the original's largest row group (pyarrow decodes a row group's column chunks whole).
    """
    import pyarrow.parquet as pq

    source = pq.ParquetFile(src)
    with pq.ParquetWriter(dest, source.schema_arrow) as writer:
        for batch in source.iter_batches(batch_size=row_group_rows):
            writer.write_batch(batch, row_group_size=row_group_rows)


def describe_table(frame: pd.DataFrame, fmt: str) -> TableInfo:
    columns = [
        {"name": name, "dtype": str(frame[name].dtype), "nulls": int(frame[name].isna().sum()),
         "distinct": int(frame[name].nunique(dropna=True))}
        for name in frame.columns
    ]
    return TableInfo(format=fmt, row_count=len(frame), columns=columns)
