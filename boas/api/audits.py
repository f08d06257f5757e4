"""Reference datasets, uploaded predictions and audit jobs (bias audits, drift reports)."""

from __future__ import annotations

import functools
import json

from flask import Response
from marshmallow import RAISE, Schema, fields

from audits import dataset_imports, datasets
from audits import service as audit_service
from audits.schemas import (
    AuditRequestSchema,
    DatasetImportSchema,
    DatasetMetaSchema,
    PredictionsMetaSchema,
    TableUploadSchema,
)
from boas.api.blueprint import Blueprint
from boas.context import db_session, enqueue, now, policy, runtime, storage
from boas.registry import permissions
from boas.security import current_user, login_required, report_response

blp = Blueprint("audits", __name__, url_prefix="/api/v1", description="Reference datasets and audits")


def evaluators_only(func):
    """Refuse other roles (403) before the body is read, as the services do before validating it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        datasets.require_evaluator(current_user())
        return func(*args, **kwargs)

    return wrapper


def importers_only(func):
    """Refuse anyone but admins (403) before the body is read, as the import service does before validating it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        permissions.require_import_dataset(current_user())
        return func(*args, **kwargs)

    return wrapper


# The JSON carried by an upload's `metadata` field, for a dataset and for predictions.
METADATA_SCHEMAS = (DatasetMetaSchema, PredictionsMetaSchema)


class ColumnOut(Schema):
    name = fields.String()
    dtype = fields.String()
    nulls = fields.Integer()
    distinct = fields.Integer()


class DatasetOut(Schema):
    id = fields.Integer()
    name = fields.String()
    sha256 = fields.String(metadata={"description": "digest of the stored file (Parquet, unless a CSV could not be "
                                                    "converted exactly)"})
    size = fields.Integer(metadata={"description": "size of the stored file in bytes"})
    format = fields.String(metadata={"description": "format of the stored file: parquet (or csv, stored as uploaded)"})
    original_sha256 = fields.String(metadata={"description": "digest of the file as uploaded"})
    original_size = fields.Integer(metadata={"description": "size of the file as uploaded, in bytes"})
    original_format = fields.String(metadata={"description": "format of the file as uploaded: csv or parquet"})
    row_count = fields.Integer()
    columns = fields.List(fields.Nested(ColumnOut))
    label_column = fields.String(allow_none=True)
    sensitive_columns = fields.List(fields.String())
    row_key = fields.String(allow_none=True)
    datasheet = fields.Dict()
    created_at = fields.DateTime()


class PredictionsOut(Schema):
    id = fields.Integer()
    dataset_id = fields.Integer()
    sha256 = fields.String()
    row_count = fields.Integer()
    has_score = fields.Boolean()
    description = fields.String()
    created_at = fields.DateTime()


class AuditOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    progress = fields.Integer()
    error = fields.String(allow_none=True, metadata={"description": "one of a fixed set of sentences"})
    error_code = fields.String(allow_none=True, metadata={
        "description": "timeout, memory, refused_format, crash or wrong_output_shape for a model's failure"})
    untrusted_detail = fields.String(allow_none=True, metadata={
        "description": "admins only: what the model itself printed or raised, truncated; never trust it"})
    attempts = fields.Integer()
    heartbeat_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    algorithm = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    dataset = fields.Dict()
    current_dataset = fields.Dict(allow_none=True)
    params = fields.Dict()
    cached_from = fields.Integer(allow_none=True)
    view = fields.String(metadata={"description": "full, or public (small cells suppressed)"})
    evaluator = fields.String(metadata={"description": "the evaluator of record: the public name of who launched "
                                                       "the audit (never an e-mail address)"})
    independent = fields.Boolean(allow_none=True, metadata={
        "description": "whether the launcher and the uploaders of its predictions and datasets are, now, neither "
                       "owners of the audited algorithm nor members of an organisation that owns it; only "
                       "independent audits count for publication (null: no algorithm audited)"})
    result = fields.Dict(allow_none=True)
    provenance = fields.Dict(allow_none=True)
    has_report = fields.Boolean()


@blp.route("/datasets", methods=["POST"])
@blp.response(201, DatasetOut)
@blp.errors(401, 403, 409, 413, 429)
@login_required
@evaluators_only
@blp.arguments(TableUploadSchema, location="files", unknown=RAISE)
def create_dataset(form):
    """Upload a reference dataset with its datasheet (evaluators, admins); never publicly downloadable.

    `metadata` is a JSON object described by the DatasetMeta schema. The table is stored as Parquet in
    bounded row groups whatever its upload format: `sha256`, `size` and `format` describe the stored file,
    `original_sha256`, `original_size` and `original_format` the file as uploaded. A large table is sent first
    by resumable upload (POST /uploads, purpose `dataset`) and named here by `upload_id` instead of `file`.
    """
    upload = form.get("file")
    return datasets.create_dataset(db_session(), current_user(), storage(), stream=upload and upload.stream,
                                   filename=(upload and upload.filename) or "", metadata=form.get("metadata"),
                                   upload_id=form.get("upload_id"), now=now())


@blp.route("/datasets/import", methods=["POST"])
@blp.response(201, DatasetOut)
@blp.errors(401, 403, 413, 429, 503)
@login_required
@importers_only
@blp.arguments(DatasetImportSchema, unknown=RAISE)
def import_dataset(data):
    """Register a reference dataset that already sits on a mounted directory or in object storage (admins).

    `source` names a file under a directory of BOAS_DATASET_IMPORT_ROOTS (`file:<root>/<path>`, the root by
    its last component) or an object under an entry of BOAS_DATASET_IMPORT_S3 (`s3://<bucket>/<key>`); no
    URL is ever fetched, no link followed, and anything else is refused (422 on `source`). The table is copied
    into the staging area, then checked and stored exactly as an uploaded one; the answer is the same.
    """
    return dataset_imports.register_dataset_from_source(db_session(), current_user(), storage(),
                                                        source=data["source"], metadata=data["metadata"], now=now())


@blp.route("/datasets")
@blp.response(200, DatasetOut(many=True))
@blp.errors(401, 403, 429)
@login_required
def list_datasets():
    """Reference datasets (evaluators, admins)."""
    return datasets.list_datasets(db_session(), current_user())


@blp.route("/datasets/<int:dataset_id>")
@blp.response(200, DatasetOut)
@blp.errors(401, 403, 404, 429)
@login_required
def get_dataset(dataset_id):
    """One reference dataset's schema and datasheet (evaluators, admins)."""
    return datasets.get_dataset(db_session(), current_user(), dataset_id)


# HealthDCAT-AP documents are JSON-LD with their @context inline (no remote context to fetch).
JSONLD = "application/ld+json"
JSONLD_RESPONSE = {"content": {JSONLD: {"schema": {"type": "object", "required": ["@context", "@graph"], "properties": {
    "@context": {"type": "object"}, "@graph": {"type": "array", "items": {"type": "object"}}}}}}}


def _jsonld(document: dict, filename: str) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    response = Response(body, mimetype=JSONLD)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blp.route("/datasets/healthdcat-ap.jsonld")
@blp.doc(responses={200: {"description": "a dcat:Catalog of every reference dataset, each described in the same "
                          "graph (metadata only: rows are never distributed)", **JSONLD_RESPONSE}})
@blp.errors(401, 403, 429)
@login_required
def datasets_catalogue():
    """The reference datasets as a HealthDCAT-AP catalogue, JSON-LD (evaluators, admins)."""
    document = datasets.catalogue_healthdcat(db_session(), current_user(), policy().public_base_url,
                                           datasets.configured_hdab(policy()))
    return _jsonld(document, "boas-datasets-healthdcat-ap.jsonld")


@blp.route("/datasets/<int:dataset_id>/healthdcat-ap.jsonld")
@blp.doc(responses={200: {"description": "the dataset's datasheet as a HealthDCAT-AP dcat:Dataset, access rights "
                          "NON_PUBLIC, its distribution without a download URL", **JSONLD_RESPONSE}})
@blp.errors(401, 403, 404, 429)
@login_required
def dataset_healthdcat(dataset_id):
    """One reference dataset's metadata (never its rows) as HealthDCAT-AP JSON-LD (evaluators, admins)."""
    document = datasets.dataset_healthdcat(db_session(), current_user(), dataset_id, policy().public_base_url,
                                         datasets.configured_hdab(policy()))
    return _jsonld(document, f"dataset-{dataset_id}-healthdcat-ap.jsonld")


class CompletenessOut(Schema):
    complete = fields.Boolean(required=True, metadata={"description": "no mandatory property is missing"})
    missing = fields.List(fields.String(), required=True, metadata={
        "description": "mandatory HealthDCAT-AP properties (sensitive-data shapes) the export still lacks, as "
                       "property paths such as healthdcatap:healthCategory or dct:publisher/foaf:mbox"})


@blp.route("/datasets/<int:dataset_id>/healthdcat-ap/completeness")
@blp.response(200, CompletenessOut)
@blp.errors(401, 403, 404, 429)
@login_required
def dataset_healthdcat_completeness(dataset_id):
    """Which mandatory HealthDCAT-AP properties the dataset's export still lacks (evaluators, admins)."""
    missing = datasets.healthdcat_missing(db_session(), current_user(), dataset_id, datasets.configured_hdab(policy()))
    return {"complete": not missing, "missing": missing}


@blp.route("/predictions", methods=["POST"])
@blp.response(201, PredictionsOut)
@blp.errors(401, 403, 404, 409, 413, 429)
@login_required
@evaluators_only
@blp.arguments(TableUploadSchema, location="files", unknown=RAISE)
def create_predictions(form):
    """Upload a version's predictions on a dataset (rule-based or black-box), keyed to its rows.

    `metadata` is a JSON object described by the PredictionsMeta schema.
    """
    upload = form.get("file")
    return datasets.create_prediction_set(db_session(), current_user(), storage(), stream=upload and upload.stream,
                                          filename=(upload and upload.filename) or "", metadata=form.get("metadata"),
                                          upload_id=form.get("upload_id"), now=now())


@blp.route("/audits", methods=["POST"])
@blp.response(202, AuditOut)
@blp.errors(400, 401, 403, 404, 413, 429)
@login_required
@evaluators_only
@blp.arguments(AuditRequestSchema, unknown=RAISE)
def create_audit(data):
    """Launch a bias audit or a drift report; answers 202 with the job to follow."""
    job, _cached = audit_service.create_audit(db_session(), current_user(), data, enqueue,
                                              allow_code=runtime().settings.sandbox_allow_code)
    return audit_service.audit_view(job, full=True)


@blp.route("/audits")
@blp.response(200, AuditOut(many=True))
@blp.errors(401, 403, 429)
@login_required
def list_audits():
    """All audit jobs, newest first (evaluators, admins)."""
    return audit_service.list_audits(db_session(), current_user())


@blp.route("/audits/<int:job_id>")
@blp.response(200, AuditOut)
@blp.errors(401, 404, 429)
def get_audit(job_id):
    """An audit: its job state, results and provenance (suppressed small cells for the public)."""
    return audit_service.get_audit(db_session(), current_user(), job_id)


@blp.route("/algorithms/<slug>/versions/<version>/audits")
@blp.response(200, AuditOut(many=True))
@blp.errors(401, 404, 429)
def version_audits(slug, version):
    """Audits run on a version."""
    return audit_service.list_version_audits(db_session(), current_user(), slug, version)


@blp.route("/audits/<int:job_id>/report")
@blp.alt_response(200, success=True, description="the Evidently HTML report, for a sandboxed frame; evaluators and the "
                                                "algorithm's owners get a copy with no bin of fewer than 11 people "
                                                "and no exact extreme value",
                  content_type="text/html", schema={"type": "string"})
@blp.errors(401, 404, 429)
def drift_report(job_id):
    """The standalone Evidently report for a sandboxed iframe: as computed for admins, coarsened for others."""
    return report_response(audit_service.open_report(db_session(), current_user(), storage(), job_id))
