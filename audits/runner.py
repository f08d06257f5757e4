"""What a worker does for one audit job: load verified inputs, predict in the sandbox, compute, record.

Runs in the worker process only (it imports Evidently and starts the model sandbox); the web
process never imports this module.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from audits import datasets, jobs, tabular
from audits.sandbox_child import SandboxLimits
from boas.registry.storage import Storage
from registry_db import store
from registry_db.errors import ValidationFailed
from registry_db.models import AuditKind, Job, utcnow

if TYPE_CHECKING:
    from audits.fairness import BiasAuditParams

log = logging.getLogger(__name__)
# What each kind of job runs. Fairlearn is not listed: it runs only as the bias audit's cross-check,
# and its version is recorded there (provenance "crosscheck"); the engine is BOAS's own.
LIBRARIES = {
    AuditKind.BIAS: ("numpy", "pandas", "scipy", "scikit-learn", "boas"),
    AuditKind.DRIFT: ("evidently", "numpy", "pandas", "scipy", "boas"),
}


@dataclass(frozen=True)
class JobRuntime:
    """What a worker needs to run jobs; built by the composition root (``boas.runtime``)."""

    session_factory: Callable[[], Session]
    storage: Storage
    sandbox_limits: SandboxLimits
    streaming_min_rows: int  # BOAS_STREAMING_MIN_ROWS: bias audits of Parquet datasets this large stream
    streaming_partition_rows: int = 1_000_000  # BOAS_STREAMING_PARTITION_ROWS
    dask_scheduler: str = ""  # BOAS_DASK_SCHEDULER: the streaming engine's partitions counted on this cluster
    dask_connect_seconds: float = 10.0
    heartbeat_seconds: float = 5.0
    allow_code: bool = False  # BOAS_SANDBOX_ALLOW_CODE: models that carry code may run, under bubblewrap only


def library_versions(kind: AuditKind, *, model_ran: bool = False) -> dict[str, str]:
    """Versions of the libraries this job ran (MLflow when a model was loaded in the sandbox)."""
    found = {}
    for name in (*LIBRARIES[kind], *(("mlflow",) if model_ran else ())):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def execute_job(runtime: JobRuntime, job_id: int) -> None:
    """The queue's task: claim the job, then run it to a final state."""
    with runtime.session_factory() as session:
        attempt = jobs.claim_job(session, job_id)
    if attempt is None:
        return
    jobs.run_claimed(runtime.session_factory, job_id, attempt, lambda progress: _compute(runtime, job_id, progress),
                     runtime.heartbeat_seconds)
    _freeze_public_view(runtime, job_id)
    _record_schedule_outcome(runtime, job_id)


def _record_schedule_outcome(runtime: JobRuntime, job_id: int) -> None:
    """A scheduled run's verdicts against its schedule's previous run (after the public view is frozen)."""
    from audits import scheduling

    try:
        with runtime.session_factory() as session:
            scheduling.record_run_outcome(session, job_id)
    except Exception:  # logged; the run's own result is already recorded
        log.warning("could not compare scheduled run %s with the previous one", job_id, exc_info=True)


def _freeze_public_view(runtime: JobRuntime, job_id: int) -> None:
    """Freeze the public view of a bias audit that is public as soon as it succeeds (its version is released).

    The linear-programming disclosure audit can take seconds: here it runs in the worker, not in the first
    anonymous request. A failure only defers it to that first request.
    """
    from audits import service
    from registry_db.models import JobStatus, VersionState

    try:
        with runtime.session_factory() as session:
            job = store.get_job(session, job_id)
            if (job.kind == AuditKind.BIAS and job.status == JobStatus.SUCCEEDED and job.cached_from_id is None
                    and job.version is not None and job.version.state != VersionState.DRAFT
                    and job.public_frozen_at is None):
                service.freeze_public_views(session, [job_id])
    except Exception:  # logged: the view is frozen on its first public read instead
        log.warning("could not freeze the public view of job %s now", job_id, exc_info=True)


@dataclass
class _Inputs:
    kind: AuditKind
    params: dict[str, Any]
    dataset: dict[str, Any]
    current: dict[str, Any] | None
    model: dict[str, Any] | None
    predictions: dict[str, Any] | None
    version: dict[str, Any] | None = None  # the audited version, whichever way its predictions were obtained

    def needed(self, part: str) -> dict[str, Any]:
        """An input the job's kind requires (the service checked it at launch): its absence is a broken job."""
        value = getattr(self, part)
        if value is None:
            raise ValidationFailed(f"the audit job has no {part}")
        return value


def _load_inputs(runtime: JobRuntime, job_id: int) -> _Inputs:
    def describe(ds) -> dict[str, Any]:
        return {"id": ds.id, "name": ds.name, "sha256": ds.sha256, "size": ds.size, "format": ds.format,
                "label_column": ds.label_column, "row_key": ds.row_key, "rows": ds.row_count}

    with runtime.session_factory() as session:
        job: Job = store.get_job(session, job_id)
        model = None
        if job.version is not None and job.predictions_id is None:
            version = job.version
            if version.artifact_kind != "mlflow_model":
                raise ValidationFailed("this version has no MLflow model: upload predictions for it instead")
            model = {"algorithm": version.algorithm.slug, "version": version.version, "execution": version.execution,
                     "archive_sha256": version.archive_sha256,
                     "manifest": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in version.files],
                     "inputs": [c.get("name") for c in ((version.mlmodel or {}).get("signature") or {}).get("inputs") or []
                                if isinstance(c, dict) and c.get("name")]}
        predictions = None
        if job.predictions_id is not None:
            ps = store.get_prediction_set(session, job.predictions_id)
            predictions = {"id": ps.id, "sha256": ps.sha256, "size": ps.size, "has_score": ps.has_score}
        audited = None
        if job.version is not None:
            audited = {"algorithm": job.version.algorithm.slug, "version": job.version.version,
                       "artifact_kind": job.version.artifact_kind, "archive_sha256": job.version.archive_sha256}
        return _Inputs(kind=job.kind, params=dict(job.params), dataset=describe(job.dataset),
                       current=describe(job.current_dataset) if job.current_dataset else None,
                       model=model, predictions=predictions, version=audited)


def _read_dataset(storage: Storage, ds: dict[str, Any]):
    return tabular.read_table(storage.blobs.verified_path(ds["sha256"], ds["size"]), ds["format"])


def _materialise_model(storage: Storage, model: dict[str, Any], into: Path) -> Path:
    """Copy the version's verified files into a private directory for the sandbox."""
    root = into / "model"
    for entry in model["manifest"]:
        target = (root / entry["path"]).resolve()
        if not target.is_relative_to(root.resolve()):
            raise ValidationFailed(f"artifact path escapes the model directory: {entry['path']}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(storage.blobs.verified_path(entry["sha256"], entry["size"]), target)
    return root


def _predict(runtime: JobRuntime, inputs: _Inputs, frame, work: Path) -> dict[str, Any]:
    """Predictions for ``frame``: from the sandboxed model, or from the uploaded prediction set."""
    import numpy as np

    if inputs.predictions is not None:
        stored = runtime.storage.blobs.verified_path(inputs.predictions["sha256"], inputs.predictions["size"])
        uploaded = tabular.read_table(stored, tabular.detect_format(stored, ""))
        key = inputs.dataset["row_key"] or "row_number"
        keys = datasets.row_keys(frame, inputs.dataset["row_key"])
        aligned = uploaded.set_index(key).loc[keys.tolist()]
        y_score = aligned["score"].to_numpy(dtype=float) if "score" in aligned else None
        return {"y_pred": aligned["prediction"].to_numpy(dtype=int), "y_score": y_score,
                "id": inputs.predictions["id"], "sha256": inputs.predictions["sha256"],
                "source": "uploaded predictions", "isolation": None, "scan": None, "format": None}
    from audits.sandbox import SandboxError, predict_in_sandbox

    model = inputs.needed("model")
    if model["execution"] != "execute" and not runtime.allow_code:
        raise SandboxError("refused_format", f"version execution is {model['execution']!r}")
    model_dir = _materialise_model(runtime.storage, model, work)
    columns = model["inputs"]
    if not columns:  # a model is handed only the columns its signature names, never the whole dataset
        raise SandboxError("refused_format", "the model has no input signature naming its columns")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationFailed(f"the dataset lacks the model's input columns: {', '.join(missing)}")
    data_path = work / f"data-{len(list(work.iterdir()))}.parquet"
    frame[columns].to_parquet(data_path, index=False)
    result = predict_in_sandbox(model_dir, data_path, columns=columns,
                                threshold=float(inputs.params.get("threshold", 0.5)),
                                limits=runtime.sandbox_limits, allow_code=runtime.allow_code,
                                hidden=(str(runtime.storage.blobs.root),))
    return {"y_pred": np.asarray(result.y_pred, dtype=int), "y_score": result.y_score, "id": None,
            "sha256": result.sha256, "source": "model run in sandbox", "isolation": result.isolation,
            "format": result.format,
            "scan": result.scan.as_dict()}


def _compute(runtime: JobRuntime, job_id: int, progress: jobs.Progress) -> dict[str, Any]:
    started = utcnow()
    inputs = _load_inputs(runtime, job_id)
    progress.set(5)
    work = Path(tempfile.mkdtemp(prefix=f"boas-job-{job_id}-"))
    try:
        if inputs.kind == AuditKind.BIAS and _streams(runtime, inputs):
            outcome = _bias_streaming(runtime, inputs, work, progress)
        elif inputs.kind == AuditKind.DRIFT and _drift_streams(runtime, inputs):
            outcome = _drift_streaming(runtime, inputs, progress)
        else:
            frame = _read_dataset(runtime.storage, inputs.dataset)
            progress.set(15)
            if inputs.kind == AuditKind.BIAS:
                outcome = _bias(runtime, inputs, frame, work, progress)
            else:
                outcome = _drift(runtime, inputs, frame, work, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome["provenance"].update({
        "dataset": {k: inputs.dataset[k] for k in ("id", "name", "sha256", "rows")},
        "version": inputs.version,
        "model": {k: inputs.model[k] for k in ("algorithm", "version", "archive_sha256", "manifest")}
        if inputs.model else None,
        "parameters": inputs.params, "seed": inputs.params.get("seed"),
        "libraries": library_versions(inputs.kind, model_ran=inputs.model is not None),
        "worker_host": socket.gethostname(),
        "started_at": started.isoformat(), "finished_at": utcnow().isoformat(),
    })
    progress.set(100)
    return outcome


def _bias(runtime: JobRuntime, inputs: _Inputs, frame, work: Path, progress: jobs.Progress) -> dict[str, Any]:
    """The engine's audit, its score metrics, and the Fairlearn cross-check that must agree with it exactly."""
    from audits.crosscheck import fairlearn_crosscheck
    from audits.engine_adapter import engine_identity
    from audits.fairness import run_bias_audit, summarise_verdicts
    from audits.scores import score_metrics

    label = _label(inputs)
    predicted = _predict(runtime, inputs, frame, work)
    progress.set(60)
    params = _bias_params(inputs)
    result = run_bias_audit(frame, label=label, sensitive=params.sensitive_features, y_pred=predicted["y_pred"],
                            y_score=predicted["y_score"], params=params)
    result["verdicts"] = summarise_verdicts(result)
    progress.set(75)
    result["scores"] = score_metrics(frame, result, label=label, y_score=predicted["y_score"], params=params)
    progress.set(85)
    crosscheck = fairlearn_crosscheck(frame, label=label, sensitive=params.sensitive_features,
                                      y_pred=predicted["y_pred"], params=params, seed=params.seed)
    progress.set(95)
    uploaded = inputs.predictions is not None
    return {"result": result, "provenance": {
        "engine": {**engine_identity(), "mode": "in-memory"},
        "crosscheck": crosscheck,
        "predictions": {"id": predicted["id"], "sha256": predicted["sha256"], "source": predicted["source"],
                        "uploaded": uploaded, "isolation": predicted["isolation"],
                        **({"format": predicted["format"]} if predicted["format"] else {})},
        # uploaded predictions stand for the version's code: its archive digest says which code they came from
        "code_archive_sha256": inputs.version["archive_sha256"] if uploaded and inputs.version else None,
        "pickle_scan": predicted["scan"],
    }}


def _label(inputs: _Inputs) -> str:
    label = inputs.dataset["label_column"]
    if not label:
        raise ValidationFailed("the dataset declares no label column: a bias audit needs observed outcomes")
    return label


def _bias_params(inputs: _Inputs) -> BiasAuditParams:
    from audits.fairness import BiasAuditParams

    p = inputs.params
    return BiasAuditParams(
        sensitive_features=p["sensitive_features"], intersections=p["intersections"], threshold=p["threshold"],
        reference_group=p.get("reference_group"), tolerance=p["tolerance"], min_group_size=p["min_group_size"],
        n_boot=p["n_boot"], seed=p["seed"],
    )


def _streams(runtime: JobRuntime, inputs: _Inputs) -> bool:
    """A bias audit runs streaming when its dataset is Parquet, large, and audited from uploaded predictions.

    A model run in the sandbox is handed the dataset's columns and returns every prediction at once, so
    those audits stay in memory; so do the CSV datasets still stored as CSV (uploaded before datasets were
    stored as Parquet, or whose columns Parquet could not hold exactly: a CSV is parsed whole to type them).
    """
    return (inputs.predictions is not None and inputs.dataset["format"] == "parquet"
            and (inputs.dataset["rows"] or 0) >= runtime.streaming_min_rows)


def _bias_streaming(runtime: JobRuntime, inputs: _Inputs, work: Path, progress: jobs.Progress) -> dict[str, Any]:
    """The engine's audit from counts accumulated batch by batch, cross-checked with Fairlearn on every row.

    When the predictions carry scores, the score metrics (AUC, calibration, curves, sweep) are computed
    from per-group histograms of the scores (``audits.score_histograms``): the result and the
    provenance state the method and its resolution, and each bounded value its bound.
    """
    from audits.crosscheck import fairlearn_crosscheck_counts
    from audits.engine_adapter import engine_identity
    from audits.fairness import summarise_verdicts
    from audits.score_histograms import histogram_score_metrics
    from audits.streaming import cell_table, run_streaming_bias_audit

    label = _label(inputs)
    params = _bias_params(inputs)
    predictions = inputs.needed("predictions")
    blobs = runtime.storage.blobs
    dataset_path = blobs.verified_path(inputs.dataset["sha256"], inputs.dataset["size"])
    predictions_path = blobs.verified_path(predictions["sha256"], predictions["size"])
    progress.set(15)
    with _partition_executor(runtime) as (map_partitions, executor, shared):
        partitions_dir = runtime.storage.blobs.staging_dir() if shared else work
        try:
            result, streamed = run_streaming_bias_audit(
                dataset_path, predictions_path, predictions_format=tabular.detect_format(predictions_path, ""),
                label=label, row_key=inputs.dataset["row_key"], params=params, workdir=partitions_dir,
                partition_rows=runtime.streaming_partition_rows, map_partitions=map_partitions,
                scores=bool(predictions["has_score"]))
        finally:
            if shared:
                shutil.rmtree(partitions_dir, ignore_errors=True)
    result["verdicts"] = summarise_verdicts(result)
    progress.set(70)
    result["scores"] = (histogram_score_metrics(streamed.scores, streamed.coding.groupings, result, params)
                        if streamed.scores is not None else None)
    progress.set(80)
    cells, y_true, y_pred, weights = cell_table(streamed, list(params.sensitive_features))
    crosscheck = fairlearn_crosscheck_counts(cells, y_true=y_true, y_pred=y_pred, weights=weights, result=result,
                                             rows=streamed.stats.rows)
    progress.set(95)
    stats = streamed.stats
    return {"result": result, "provenance": {
        "engine": {**engine_identity(), "mode": "streaming", "batch_rows": stats.batch_rows,
                   "row_groups": stats.row_groups, "row_group_rows": stats.row_group_rows,
                   "partitions": stats.partitions, "partition_rows": stats.partition_rows, **executor},
        "crosscheck": crosscheck,
        "predictions": {"id": predictions["id"], "sha256": predictions["sha256"], "source": "uploaded predictions",
                        "uploaded": True, "isolation": None},
        "code_archive_sha256": inputs.version["archive_sha256"] if inputs.version else None,
        "pickle_scan": None,
        "scores": {k: result["scores"][k] for k in ("method", "resolution")} | {"cells": streamed.scores.cells}
        if streamed.scores is not None else None,
    }}


@contextmanager
def _partition_executor(runtime: JobRuntime) -> Iterator[tuple[Any, dict[str, Any], bool]]:
    """How the streaming engine counts its partitions: (map, provenance, partitions on the shared data directory).

    Without ``BOAS_DASK_SCHEDULER``, one after the other on this worker; with it, on the cluster's workers,
    which read the partition files from the data directory they share with this worker.
    """
    if not runtime.dask_scheduler:
        yield map, {"executor": "local"}, False
        return
    from audits.distributed import dask_executor

    with dask_executor(runtime.dask_scheduler, timeout=runtime.dask_connect_seconds) as executor:
        yield executor.map, executor.provenance(), True


def _drift(runtime: JobRuntime, inputs: _Inputs, frame, work: Path, progress: jobs.Progress) -> dict[str, Any]:
    from audits.drift import compute_drift
    from audits.drift_report import coarsen_report
    from audits.engine_adapter import engine_identity

    current_meta = inputs.needed("current")
    current = _read_dataset(runtime.storage, current_meta)
    columns, skipped = _drift_columns(inputs, frame, current)
    reference_part, current_part = frame[columns].copy(), current[columns].copy()
    prov: dict[str, Any] = {"current_dataset": {k: current_meta[k] for k in ("id", "name", "sha256", "rows")},
                            "skipped_columns": skipped}
    if inputs.model is not None:
        ref_pred = _predict(runtime, inputs, frame, work)
        cur_pred = _predict(runtime, inputs, current, work)
        for part, pred in ((reference_part, ref_pred), (current_part, cur_pred)):
            part["prediction"] = pred["y_score"] if pred["y_score"] is not None else pred["y_pred"]
        columns = [*columns, "prediction"]
        prov["predictions"] = {"reference_sha256": ref_pred["sha256"], "current_sha256": cur_pred["sha256"],
                               "isolation": ref_pred["isolation"]}
        prov["pickle_scan"] = ref_pred["scan"]
    progress.set(60)
    drift = compute_drift(reference_part, current_part, columns=columns)
    prov["engine"] = {"name": "evidently", "version": drift.summary["evidently_version"]}
    prov["missing_test"] = engine_identity()  # the missing-share test beside Evidently's is BOAS's own
    progress.set(90)
    coarse = coarsen_report(drift.html, reference_part, current_part)
    return {"result": drift.summary, "provenance": prov, "report_sha256": _store_report(runtime, drift.html),
            "coarse_report_sha256": _store_report(runtime, coarse)}


def _drift_streams(runtime: JobRuntime, inputs: _Inputs) -> bool:
    """A drift job streams when both datasets are stored as Parquet, one of them is large, and no model runs.

    A model run in the sandbox is handed whole datasets and returns every prediction at once, so drift of
    a model's predictions stays in memory, as do CSV datasets (parsed whole to type their columns).
    """
    current = inputs.current
    return (inputs.model is None and current is not None
            and inputs.dataset["format"] == "parquet" and current["format"] == "parquet"
            and max(inputs.dataset["rows"] or 0, current["rows"] or 0) >= runtime.streaming_min_rows)


def _drift_streaming(runtime: JobRuntime, inputs: _Inputs, progress: jobs.Progress) -> dict[str, Any]:
    """Verdicts from every row, read batch by batch; Evidently's report from a stratified sample of each dataset.

    The full-data tests (``audits.drift_stream``) are the verdict. Evidently runs on at most
    ``SAMPLE_ROWS`` rows of each dataset, so its report fits in memory; its decisions on the sample are
    kept beside the verdicts for comparison, and the report says how many rows it was built from.
    """
    from audits import drift_stream
    from audits.drift import compute_drift
    from audits.drift_report import coarsen_report, with_sample_notice
    from audits.engine_adapter import engine_identity

    current_meta = inputs.needed("current")
    blobs = runtime.storage.blobs
    reference_path = blobs.verified_path(inputs.dataset["sha256"], inputs.dataset["size"])
    current_path = blobs.verified_path(current_meta["sha256"], current_meta["size"])
    chosen = inputs.params.get("columns")
    columns, skipped = _drift_columns_streaming(inputs, reference_path, current_path)
    progress.set(15)
    streamed = drift_stream.stream_drift(reference_path, current_path, columns=columns, skip_wide=not chosen)
    skipped.update(streamed.skipped)
    columns = [row["column"] for row in streamed.summary["columns"]]
    kinds = {row["column"]: row["type"] for row in streamed.summary["columns"]}
    progress.set(50)
    seed = drift_stream.SAMPLE_SEED
    size = drift_stream.SAMPLE_ROWS
    reference_part, reference_total = drift_stream.stratified_sample(reference_path, columns, size=size, seed=seed)
    current_part, current_total = drift_stream.stratified_sample(current_path, columns, size=size, seed=seed + 1)
    # a column whose rare values all missed the sample has nothing for Evidently to draw: the full tests still judge it
    shown = [c for c in columns if reference_part[c].notna().any() and current_part[c].notna().any()]
    progress.set(60)
    sampled = compute_drift(reference_part, current_part, columns=shown,
                            categorical=[c for c in shown if kinds[c] == "cat"])
    summary = streamed.summary
    by_column = {row["column"]: row for row in sampled.summary["columns"]}
    for row in summary["columns"]:
        found = by_column.get(row["column"])
        row["sample"] = None if found is None else {
            k: found[k] for k in ("method", "score", "threshold", "drifted", "drifted_any")}
    compared = [row for row in summary["columns"] if row["sample"] is not None]
    sample = {"reference_rows": len(reference_part), "current_rows": len(current_part),
              "reference_total": reference_total, "current_total": current_total,
              "strata": "row groups", "seed": seed,
              "columns_compared": len(compared),
              "columns_agreeing": sum(r["sample"]["drifted_any"] == r["drifted_any"] for r in compared),
              "dataset_drifted": sampled.summary["dataset_drifted"]}
    summary["sample"] = sample
    summary["evidently_version"] = sampled.summary["evidently_version"]
    progress.set(85)
    coarse = coarsen_report(sampled.html, reference_part, current_part)
    prov: dict[str, Any] = {
        "current_dataset": {k: current_meta[k] for k in ("id", "name", "sha256", "rows")},
        "skipped_columns": skipped,
        "engine": {"name": "evidently", "version": summary["evidently_version"], "mode": "streaming",
                   "batch_rows": drift_stream.BATCH_ROWS, "fine_bins": drift_stream.FINE_BINS,
                   "sample": {k: sample[k] for k in ("reference_rows", "current_rows", "strata", "seed")}},
        "missing_test": engine_identity(),
        "full_data_tests": engine_identity(),  # the streaming tests that give the verdict are BOAS's own
    }
    return {"result": summary, "provenance": prov,
            "report_sha256": _store_report(runtime, with_sample_notice(sampled.html, sample)),
            "coarse_report_sha256": _store_report(runtime, with_sample_notice(coarse, sample))}


def _drift_columns_streaming(inputs: _Inputs, reference_path: Path, current_path: Path) -> tuple[list[str], dict[str, str]]:
    """``_drift_columns`` from the files' schemas: wide categorical columns are skipped by the streaming pass."""
    import pyarrow.parquet as pq

    if inputs.params.get("columns"):
        return list(inputs.params["columns"]), {}
    current_meta = inputs.needed("current")
    keys = {inputs.dataset["row_key"], current_meta["row_key"], inputs.dataset["label_column"],
            current_meta["label_column"]}
    shared = set(pq.read_schema(reference_path).names) & set(pq.read_schema(current_path).names)
    shared -= {"__index_level_0__"}
    return ([c for c in sorted(shared) if c not in keys],
            {c: "row key or label" for c in sorted(shared) if c in keys})


def _store_report(runtime: JobRuntime, html: str) -> str:
    data = html.encode()
    sha256 = hashlib.sha256(data).hexdigest()
    stage = runtime.storage.blobs.staging_dir()
    try:
        (stage / "report.html").write_bytes(data)
        runtime.storage.blobs.adopt(stage / "report.html", sha256)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return sha256


def _drift_columns(inputs: _Inputs, frame, current) -> tuple[list[str], dict[str, str]]:
    """The columns to compare: the evaluator's choice, else every shared feature that can be summarised."""
    import pandas as pd

    from audits.drift import MAX_CATEGORIES

    if inputs.params.get("columns"):
        return list(inputs.params["columns"]), {}
    current_meta = inputs.needed("current")
    keys = {inputs.dataset["row_key"], current_meta["row_key"], inputs.dataset["label_column"],
            current_meta["label_column"]}
    columns, skipped = [], {}
    for name in sorted(set(frame.columns) & set(current.columns)):
        if name in keys:
            skipped[name] = "row key or label"
        elif not pd.api.types.is_numeric_dtype(frame[name]) and frame[name].nunique() > MAX_CATEGORIES:
            skipped[name] = f"more than {MAX_CATEGORIES} categories"
        else:
            columns.append(name)
    return columns, skipped
