"""Reference datasets and uploaded predictions: validated, stored content-addressed, never public."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
from sqlalchemy.orm import Session

from audits import healthdcat, identifiers, schemas, tabular
from boas.registry import permissions, uploads, versions
from boas.registry.policy import Policy
from boas.registry.schemas import load
from boas.registry.storage import Storage
from model_cards.snapshot import public_name
from registry_db import store
from registry_db.blobs import sha256_file
from registry_db.errors import ValidationFailed
from registry_db.models import PredictionSet, ReferenceDataset, Role, UploadPurpose, User, utcnow


def parse_metadata(raw: str | dict[str, Any] | None, field: str = "metadata") -> dict[str, Any]:
    """The multipart ``metadata`` field: a JSON object (callers inside BOAS may pass the dict itself)."""
    if isinstance(raw, dict):
        return raw
    if not raw:
        raise ValidationFailed("metadata is required", {field: ["a JSON object is required"]})
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed("metadata is not JSON", {field: [f"not valid JSON: {exc.msg}"]}) from exc
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed("metadata is not JSON", {field: ["a number is too long or it is nested too deeply"]}) from exc
    return data


def require_evaluator(actor: User | None) -> User:
    return permissions.require_role(actor, Role.EVALUATOR, Role.ADMIN)


def _require_file(stream: IO[bytes] | None) -> IO[bytes]:
    if stream is None:
        raise ValidationFailed("a file is required", {"file": ["required"]})
    return stream


def _stage_table(session: Session, actor: User, storage: Storage, path: Path, *, stream: IO[bytes] | None,
                 upload_id: str | None, purpose: UploadPurpose,
                 now: datetime | None) -> tuple[str, int, uploads.TakenUpload | None]:
    """The table staged at ``path``: streamed from the request, or taken from a completed resumable upload.

    Either way the same checks follow; a resumable upload is consumed only if the row is created.
    """
    if upload_id is None:
        sha256, size = storage.blobs.stage_stream(_require_file(stream), path, storage.max_upload_bytes, "file")
        return sha256, size, None
    if stream is not None:
        raise ValidationFailed("send either a file or an upload_id, not both",
                               {"upload_id": ["not with a file"], "file": ["not with an upload_id"]})
    taken = uploads.take_upload(session, actor, storage, upload_id, purpose, path, now=now or utcnow())
    return taken.sha256, taken.size, taken


def check_dataset_metadata(actor: User | None, metadata: str | dict[str, Any] | None) -> dict[str, Any]:
    """The checks ``create_dataset`` makes before it reads the file, alone: a form can report a typo in its
    metadata before a large table is sent (the upload itself checks again)."""
    require_evaluator(actor)
    return load(schemas.DatasetMetaSchema(), parse_metadata(metadata), "invalid dataset metadata")


def create_dataset(session: Session, actor: User | None, storage: Storage, *, stream: IO[bytes] | None,
                   filename: str, metadata: str | dict[str, Any] | None, upload_id: str | None = None,
                   now: datetime | None = None) -> ReferenceDataset:
    """Register a reference dataset with its datasheet; identifier-like columns are refused (audits.identifiers).

    The table is the request's file, or (``upload_id``) the caller's completed resumable upload, used up here.
    It is checked as uploaded, then stored as Parquet in row groups of at most ``tabular.ROW_GROUP_ROWS`` rows
    (``_stored_table``), so that the streaming audit reads it in bounded memory; the row records the stored
    file and, beside it, the upload's own digest, size and format.
    """
    evaluator = require_evaluator(actor)
    meta = load(schemas.DatasetMetaSchema(), parse_metadata(metadata), "invalid dataset metadata")
    with store.staged_write(session, storage.blobs) as staging:
        path = staging.root / "table"
        sha256, size, taken = _stage_table(session, evaluator, storage, path, stream=stream, upload_id=upload_id,
                                           purpose=UploadPurpose.DATASET, now=now)
        dataset = store_staged_dataset(session, evaluator, staging, meta, path, taken.filename if taken else filename,
                                       sha256, size)
        if taken:
            uploads.consume_upload(session, taken)
        session.commit()
    if taken:
        uploads.release_upload_file(storage, taken)
    return dataset


def store_staged_dataset(session: Session, evaluator: User, staging: store.Staging, meta: dict[str, Any], path: Path,
                         filename: str, sha256: str, size: int, *,
                         event: str = "dataset.uploaded", details: dict[str, Any] | None = None) -> ReferenceDataset:
    """The one path from a staged table to a dataset row, whatever brought the table (an upload, a resumable
    upload, a file registered in place): the same checks, conversion, adoption and audit-log event, uncommitted.

    ``details`` adds to the event (where the table came from); the caller commits inside its ``staged_write``.
    """
    fmt = tabular.detect_format(path, filename)
    # A plain Parquet file is checked one column at a time; a CSV (typed by pandas from all its values)
    # or any other Parquet file is read whole, as before.
    # A Parquet file's copy into bounded row groups needs none of the checks' results: it is written
    # (by Arrow, which leaves the interpreter free) while the columns are checked, and is only kept, by
    # adopting it below, once they pass. Leaving the pool waits for it, whatever happened.
    with ThreadPoolExecutor(max_workers=1) as pool:
        copying = (pool.submit(_stored_table, None, path, fmt, staging.root / "table.parquet")
                   if fmt == "parquet" else None)
        columns = tabular.parquet_columns(path) if fmt == "parquet" else None
        frame = tabular.read_table(path, fmt) if columns is None else None
        table = columns if columns is not None else frame
        errors, described = _survey_dataset(table, meta, identifiers.screen_file_metadata(path, fmt))
    if errors:
        raise ValidationFailed("the dataset cannot be accepted", errors)
    info = tabular.TableInfo(format=fmt, row_count=_row_count(table), columns=described)
    stored = copying.result() if copying else _stored_table(frame, path, fmt, staging.root / "table.parquet")
    del frame, table
    stored_sha256, stored_size = (sha256, size) if stored == path else sha256_file(stored)
    store.begin_write(session)
    dataset = ReferenceDataset(
        name=meta["name"], sha256=stored_sha256, size=stored_size, format="parquet" if stored != path else fmt,
        original_sha256=sha256, original_size=size, original_format=fmt,
        row_count=info.row_count, columns=info.columns,
        label_column=meta["label_column"], sensitive_columns=meta["sensitive_columns"], row_key=meta["row_key"],
        # The labels live with the datasheet (a JSON document), so declaring them needs no new column.
        datasheet={**meta["datasheet"], **({"column_labels": meta["labels"]} if meta["labels"] else {})},
        uploaded_by_id=evaluator.id,
    )
    store.add_row(session, dataset)
    staging.adopt(stored, stored_sha256)
    store.append_event(session, actor=evaluator, action=event, object_type="dataset",
                       object_ref=str(dataset.id),
                       details={"sha256": stored_sha256, "rows": info.row_count, "format": dataset.format,
                                "uploaded_sha256": sha256, "uploaded_format": fmt, **(details or {})})
    return dataset


def _stored_table(frame, path: Path, fmt: str, converted: Path) -> Path:
    """The file to store for an upload at ``path`` (a CSV already read into ``frame``; a Parquet file needs no
    frame, None): ``path`` itself, or ``converted``.

    A Parquet upload whose row groups are all within the bound is stored as it is (same digest); one with
    a larger row group is copied into bounded row groups, streaming. A CSV is written as Parquet from the
    frame already read and checked, so its columns keep the types ``read_table`` gave them and every audit
    gives the numbers the CSV gave. The CSV is parsed whole: pandas types a column from all its values
    (what the screening and the checks above need anyway), and pyarrow's streaming CSV reader infers
    types by other rules (missing-value spellings, booleans, float rounding). A CSV whose columns Parquet
    would not give back as they were (``tabular.frame_to_parquet``) is stored as uploaded, as before.
    """
    import pyarrow

    if fmt == "parquet":
        if tabular.row_groups_conform(path):
            return path
        try:
            tabular.rewrite_parquet(path, converted)
        except pyarrow.ArrowException:
            converted.unlink(missing_ok=True)
            return path
        return converted
    return converted if tabular.frame_to_parquet(frame, converted) else path


def _dataset_problems(frame, meta: dict[str, Any], in_metadata: list) -> dict[str, list[str]]:
    """Every reason to refuse a dataset read whole into ``frame``, by field (``_survey_dataset``)."""
    return _survey_dataset(frame, meta, in_metadata)[0]


def _row_count(table) -> int:
    return table.row_count if isinstance(table, tabular.ParquetColumns) else len(table)


def _survey_dataset(table, meta: dict[str, Any],
                    in_metadata: list) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Every reason to refuse a dataset, by field, and the description of its columns, in one pass.

    ``table`` is a frame read whole or ``tabular.ParquetColumns``. Each column is looked at on its own, once:
    screened for identifiers as ``identifiers.screen_table`` screens it (same order, same row key exemption;
    a frame's non-default index is screened after the columns, as there), described, and checked when it is
    the label, a sensitive column or the row key. So the refusals are those of the whole table, while a
    Parquet upload holds one column in memory at a time.
    """
    from_parquet = isinstance(table, tabular.ParquetColumns)
    names = table.names if from_parquet else list(table.columns)
    rows = _row_count(table)
    row_key = meta["row_key"] if meta["row_key"] in names else None
    findings: list[identifiers.Finding] = []
    described: list[dict[str, Any]] = []
    label_errors: list[str] = []
    sensitive_errors: dict[str, str] = {}
    duplicate_keys = False
    undescribable: TypeError | None = None
    for name in names:
        series = table.column(name) if from_parquet else table[name]
        findings += identifiers.screen_column(str(name), series, row_key=name == row_key)
        try:
            described.append(tabular.describe_column(name, series))
        except TypeError as exc:  # unhashable (nested) cells, which the screening refuses above
            undescribable = undescribable or exc
        if name == meta["label_column"]:
            label_errors = _label_problems(series)
        if name in meta["sensitive_columns"] and series.isna().any():
            # A group the audit cannot see is a group it cannot speak for: missing values are coded, not dropped.
            sensitive_errors[name] = (
                f"column '{name}' has {int(series.isna().sum())} missing values: code them as a level "
                f"of their own (for example 'inconnu') so that the audit reports them as a group")
        if name == meta["row_key"]:
            try:
                duplicate_keys = bool(series.duplicated().any())
            except TypeError:  # nested cells cannot be compared: the screening refuses them (nested_values)
                duplicate_keys = False
        del series
    if not from_parquet:  # a Parquet file read by columns has no stored index (tabular.parquet_columns)
        findings += identifiers.screen_table(table.iloc[:, :0])
    errors: dict[str, list[str]] = {}
    refused = identifiers.describe([*findings, *in_metadata])
    if refused:
        errors["file"] = list(refused.values())
    declared = [meta["label_column"], meta["row_key"], *meta["sensitive_columns"]]
    missing = [c for c in declared if c is not None and c not in names]
    if missing:
        errors["metadata"] = [f"column '{c}' is not in the table" for c in missing]
    unknown = [c for c in meta.get("labels") or {} if c not in names]
    if unknown:
        errors["labels"] = [f"column '{c}' is not in the table" for c in unknown]
    if label_errors:
        errors["label_column"] = label_errors
    for column in meta["sensitive_columns"]:
        if column in sensitive_errors:
            errors.setdefault("sensitive_columns", []).append(sensitive_errors[column])
    individuals = meta["datasheet"].get("unique_individuals")
    if individuals is not None and individuals > rows:
        errors.setdefault("datasheet.unique_individuals", []).append(
            f"the table has {rows} rows: it cannot describe more people than that")
    if duplicate_keys:
        errors.setdefault("row_key", []).append("the row key has duplicate values")
    if undescribable is not None and not errors:
        raise undescribable  # as describing the accepted table whole always did
    return errors, described


def _label_problems(label) -> list[str]:
    """The label column must hold a 0/1 outcome on every row (compared as Python compares: 1.0 and True are 1)."""
    problems = []
    try:
        outcomes = _zeros_and_ones(label.dropna().unique())
    except TypeError:  # nested cells are no outcomes (and the screening refuses them: nested_values)
        outcomes = False
    if not outcomes:
        problems.append("the label column must hold 0/1 outcomes")
    if label.isna().any():
        problems.append(
            f"the label column has {int(label.isna().sum())} missing values: every row needs its 0/1 outcome")
    return problems


def _zeros_and_ones(distinct) -> bool:
    """Whether every one of these distinct values is 0 or 1 as ``set(values) <= {0, 1}`` decides, vectorised
    for a NumPy numeric column (the usual case) and value by value otherwise."""
    if isinstance(distinct, np.ndarray) and distinct.dtype.kind in "biuf":
        return bool(((distinct == 0) | (distinct == 1)).all())
    return all(v in _ZERO_ONE for v in distinct.tolist())  # the values the set was built from


_ZERO_ONE = frozenset({0, 1})


def list_datasets(session: Session, actor: User | None) -> Sequence[ReferenceDataset]:
    require_evaluator(actor)
    return store.list_datasets(session)


def get_dataset(session: Session, actor: User | None, dataset_id: int) -> ReferenceDataset:
    require_evaluator(actor)
    return store.get_dataset(session, dataset_id)


def _facts(dataset: ReferenceDataset) -> healthdcat.DatasetFacts:
    """What a catalogue may describe of a dataset: its datasheet and size, published under the uploader's
    organisation (or their public name, never their e-mail)."""
    uploader = dataset.uploaded_by
    return healthdcat.DatasetFacts(
        id=dataset.id, name=dataset.name, datasheet=dict(dataset.datasheet or {}), sha256=dataset.sha256,
        size=dataset.size, format=dataset.format, row_count=dataset.row_count,
        created_at=dataset.created_at.isoformat(),
        publisher=uploader.organisation.name if uploader.organisation else public_name(uploader),
        publisher_is_organisation=uploader.organisation is not None, original_format=dataset.original_format,
    )


def configured_hdab(policy: Policy) -> healthdcat.Agent | None:
    """The instance's Health Data Access Body as HealthDCAT-AP names it, or None when the operator set none."""
    if not (policy.hdab_name and policy.hdab_url and policy.hdab_email):
        return None
    return healthdcat.Agent(name=policy.hdab_name, homepage=policy.hdab_url, email=policy.hdab_email)


def dataset_healthdcat(session: Session, actor: User | None, dataset_id: int, base_url: str,
                       hdab: healthdcat.Agent | None = None) -> dict[str, Any]:
    """One dataset's metadata as HealthDCAT-AP JSON-LD; readable by whoever may read the dataset record.
    ``hdab`` is the instance's Health Data Access Body, when the operator configured one."""
    require_evaluator(actor)
    return healthdcat.dataset_document(_facts(store.get_dataset(session, dataset_id)), base_url, hdab)


def catalogue_healthdcat(session: Session, actor: User | None, base_url: str,
                         hdab: healthdcat.Agent | None = None) -> dict[str, Any]:
    """The catalogue of reference datasets (dcat:Catalog) as HealthDCAT-AP JSON-LD, same readers."""
    require_evaluator(actor)
    return healthdcat.catalogue_document([_facts(d) for d in store.list_datasets(session)], base_url, hdab)


def healthdcat_missing(session: Session, actor: User | None, dataset_id: int,
                       hdab: healthdcat.Agent | None = None) -> list[str]:
    """The mandatory HealthDCAT-AP properties (sensitive data) the dataset's export still lacks, same readers."""
    require_evaluator(actor)
    return healthdcat.missing_properties(_facts(store.get_dataset(session, dataset_id)), hdab)


def healthdcat_missing_by_dataset(datasets: Sequence[ReferenceDataset],
                                  hdab: healthdcat.Agent | None = None) -> dict[int, list[str]]:
    """``healthdcat_missing`` of datasets already read (a listing shows it beside each)."""
    return {d.id: healthdcat.missing_properties(_facts(d), hdab) for d in datasets}


def _prediction_target(session: Session, actor: User | None, metadata: str | dict[str, Any] | None):
    evaluator = require_evaluator(actor)
    meta = load(schemas.PredictionsMetaSchema(), parse_metadata(metadata), "invalid predictions metadata")
    dataset = store.get_dataset(session, meta["dataset"])
    version = versions.get_version(session, evaluator, meta["algorithm"], meta["version"])
    permissions.require_upload_predictions(evaluator, version.algorithm)
    return evaluator, meta, dataset, version


def check_prediction_metadata(session: Session, actor: User | None, metadata: str | dict[str, Any] | None) -> None:
    """The checks ``create_prediction_set`` makes before it reads the file (the target exists, the evaluator is
    independent of it), alone, so a form can report them before the file is sent."""
    _prediction_target(session, actor, metadata)
    session.rollback()


def create_prediction_set(session: Session, actor: User | None, storage: Storage, *, stream: IO[bytes] | None,
                          filename: str, metadata: str | dict[str, Any] | None, upload_id: str | None = None,
                          now: datetime | None = None) -> PredictionSet:
    """Predictions of a (rule-based or black-box) version on a dataset, keyed to the dataset's rows.

    Only an independent evaluator supplies them: never an owner of the algorithm or a member of an
    organisation that owns it, whatever their role (403 saying which). Any column besides the row
    key, ``prediction`` and ``score`` is screened for identifiers like a dataset's: a predictions
    file must not carry what the dataset was refused for.
    """
    evaluator, meta, dataset, version = _prediction_target(session, actor, metadata)
    version_id, dataset_id = version.id, dataset.id
    with store.staged_write(session, storage.blobs) as staging:
        path = staging.root / "predictions"
        sha256, size, taken = _stage_table(session, evaluator, storage, path, stream=stream, upload_id=upload_id,
                                           purpose=UploadPurpose.PREDICTIONS, now=now)
        fmt = tabular.detect_format(path, taken.filename if taken else filename)
        frame = tabular.read_table(path, fmt)
        keys = dataset_row_keys(storage.blobs.verified_path(dataset.sha256, dataset.size), dataset.format,
                                dataset.row_key)
        has_score = _checked_predictions(frame, keys, dataset.row_key, identifiers.screen_file_metadata(path, fmt))
        store.begin_write(session)
        row = PredictionSet(dataset_id=dataset_id, version_id=version_id, sha256=sha256, size=size,
                            row_count=len(frame), has_score=has_score, description=meta["description"],
                            uploaded_by_id=evaluator.id)
        store.add_row(session, row)
        staging.adopt(path, sha256)
        store.append_event(session, actor=evaluator, action="predictions.uploaded", object_type="predictions",
                           object_ref=str(row.id), details={"sha256": sha256, "dataset": dataset_id})
        if taken:
            uploads.consume_upload(session, taken)
        session.commit()
    if taken:
        uploads.release_upload_file(storage, taken)
    return row


def row_keys(reference, row_key: str | None):
    """The key each dataset row is known by: its declared key column, else its 0-based position."""
    import pandas as pd

    return reference[row_key] if row_key else pd.Series(range(len(reference)), name="row_number")


def dataset_row_keys(path: Path, fmt: str, row_key: str | None):
    """``row_keys`` of a stored dataset, reading no more of it than that: the key column alone (or, without a
    declared key, the row count) of a plain Parquet file, else the table whole (a CSV stored as uploaded)."""
    import pandas as pd

    columns = tabular.parquet_columns(path) if fmt == "parquet" else None
    if columns is None:
        return row_keys(tabular.read_table(path, fmt), row_key)
    if row_key:
        return columns.column(row_key)
    return pd.Series(range(columns.row_count), name="row_number")


def _checked_predictions(frame, keys, row_key: str | None, in_metadata: list) -> bool:
    """check_predictions against the dataset's ``keys``, with any identifier column (or file metadata) of the
    file reported in the same 422."""
    exempt = {row_key or "row_number", "prediction", "score"}
    refused = identifiers.describe([*identifiers.screen_table(frame, exempt=exempt), *in_metadata])
    try:
        has_score = _check_predictions_against(frame, keys, row_key)
    except ValidationFailed as exc:
        if refused:
            exc.errors["file"] = [*refused.values(), *exc.errors.get("file", [])]
        raise
    if refused:
        raise ValidationFailed("the predictions file carries identifiers", {"file": list(refused.values())})
    return has_score


def check_predictions(frame, reference, row_key: str | None) -> bool:
    """Every dataset row predicted exactly once, predictions 0/1, scores in [0, 1]; returns has_score."""
    return _check_predictions_against(frame, row_keys(reference, row_key), row_key)


def _check_predictions_against(frame, keys, row_key: str | None) -> bool:
    """``check_predictions`` given the dataset's row keys (``row_keys``) rather than the dataset itself.

    The keys are compared with arrays (``tabular.same_distinct_keys``, else ``tabular.distinct_differences``),
    which count what the sets of key values always counted, without holding those sets.
    """
    key = row_key or "row_number"
    errors = tabular.required_columns_messages(key, [str(c) for c in frame.columns])
    if errors:
        raise ValidationFailed("invalid predictions file", {"file": errors})
    predicted = frame[key]
    if tabular.same_distinct_keys(keys, predicted):
        duplicates, missing, extra = False, 0, 0
    else:
        missing, extra = tabular.distinct_differences(keys, predicted)
        try:
            duplicates = bool(predicted.duplicated().any())
        except TypeError:  # lists or maps as keys (a nested Parquet column): each is a key of its own
            duplicates = False
    errors = tabular.PredictionProblems(
        key, duplicates=duplicates, missing=missing, extra=extra,
        bad_prediction=not _zeros_and_ones(frame["prediction"].dropna().unique())
        or bool(frame["prediction"].isna().any()),
    ).messages()  # the streaming join (audits.streaming) refuses in the same words
    if "score" in frame.columns:
        score = frame["score"]
        if score.isna().any() or not ((score >= 0) & (score <= 1)).all():
            errors.append("'score' must be a probability in [0, 1] on every row")
    if errors:
        raise ValidationFailed("invalid predictions file", {"file": errors})
    return "score" in frame.columns
