"""Reference datasets, uploaded predictions and audit jobs (bias audits, drift reports)."""

from __future__ import annotations

from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import RAISE, Schema, fields

from audits import datasets
from audits import service as audit_service
from boas.api.versions import MultipartParser
from boas.db import db_session, enqueue, storage
from boas.security import current_user, login_required, report_response


class AuditsBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()


blp = AuditsBlueprint("audits", __name__, url_prefix="/api/v1", description="Reference datasets and audits")


class TableUpload(Schema):
    file = UploadField(metadata={"description": "CSV (UTF-8) or Parquet"})
    metadata = fields.String(metadata={"description": "JSON object: see the datasets and predictions docs"})


class ColumnOut(Schema):
    name = fields.String()
    dtype = fields.String()
    nulls = fields.Integer()
    distinct = fields.Integer()


class DatasetOut(Schema):
    id = fields.Integer()
    name = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    format = fields.String()
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
    error = fields.String(allow_none=True)
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
    result = fields.Dict(allow_none=True)
    provenance = fields.Dict(allow_none=True)
    has_report = fields.Boolean()


@blp.route("/datasets", methods=["POST"])
@blp.response(201, DatasetOut)
@login_required
@blp.arguments(TableUpload, location="files", unknown=RAISE)
def create_dataset(form):
    """Upload a reference dataset with its datasheet (evaluators, admins); never publicly downloadable."""
    upload = form.get("file")
    return datasets.create_dataset(db_session(), current_user(), storage(), stream=upload and upload.stream,
                                   filename=(upload and upload.filename) or "", metadata=form.get("metadata"))


@blp.route("/datasets")
@blp.response(200, DatasetOut(many=True))
@login_required
def list_datasets():
    """Reference datasets (evaluators, admins)."""
    return datasets.list_datasets(db_session(), current_user())


@blp.route("/datasets/<int:dataset_id>")
@blp.response(200, DatasetOut)
@login_required
def get_dataset(dataset_id):
    """One reference dataset's schema and datasheet (evaluators, admins)."""
    return datasets.get_dataset(db_session(), current_user(), dataset_id)


@blp.route("/predictions", methods=["POST"])
@blp.response(201, PredictionsOut)
@login_required
@blp.arguments(TableUpload, location="files", unknown=RAISE)
def create_predictions(form):
    """Upload a version's predictions on a dataset (rule-based or black-box), keyed to its rows."""
    upload = form.get("file")
    return datasets.create_prediction_set(db_session(), current_user(), storage(), stream=upload and upload.stream,
                                          filename=(upload and upload.filename) or "", metadata=form.get("metadata"))


class AuditRequestDoc(Schema):
    """Documentation of the audit request; validation is the service's AuditRequestSchema."""

    kind = fields.String(required=True, metadata={"enum": ["bias", "drift"]})
    algorithm = fields.String()
    version = fields.String()
    dataset = fields.Integer(required=True)
    current_dataset = fields.Integer()
    predictions = fields.Integer()
    sensitive_features = fields.List(fields.String())
    intersections = fields.Boolean()
    threshold = fields.Float()
    reference_group = fields.Dict(metadata={"description": (
        "Reference group per feature: {feature name or key: group label or key}. A label is the group as "
        "results show it (\"F\", \"F×Bretagne\"); when two values of a column print alike (the number 1 and "
        "the text \"1\") their labels are their JSON spellings, 1 and \"1\" with its quotes, so labels are "
        "unique within a feature. A key is the group's typed levels as compact JSON ({\"sex\":\"F\"}). "
        "By default the largest group.")})
    n_boot = fields.Integer(metadata={"description": "Bootstrap resamples for the between-groups extremes only; "
                                                     "every other interval is closed-form."})
    tolerance = fields.Float()
    min_group_size = fields.Integer()
    seed = fields.Integer()
    columns = fields.List(fields.String())


@blp.route("/audits", methods=["POST"])
@blp.response(202, AuditOut)
@login_required
@blp.arguments(AuditRequestDoc, unknown=RAISE)
def create_audit(data):
    """Launch a bias audit or a drift report; answers 202 with the job to follow."""
    job, _cached = audit_service.create_audit(db_session(), current_user(), data, enqueue)
    return audit_service.audit_view(job, full=True)


@blp.route("/audits")
@blp.response(200, AuditOut(many=True))
@login_required
def list_audits():
    """All audit jobs, newest first (evaluators, admins)."""
    return audit_service.list_audits(db_session(), current_user())


@blp.route("/audits/<int:job_id>")
@blp.response(200, AuditOut)
def get_audit(job_id):
    """An audit: its job state, results and provenance (suppressed small cells for the public)."""
    return audit_service.get_audit(db_session(), current_user(), job_id)


@blp.route("/algorithms/<slug>/versions/<version>/audits")
@blp.response(200, AuditOut(many=True))
def version_audits(slug, version):
    """Audits run on a version."""
    return audit_service.list_version_audits(db_session(), current_user(), slug, version)


@blp.route("/audits/<int:job_id>/report")
@blp.doc(responses={200: {"description": "the Evidently HTML report, for a sandboxed frame"}})
def drift_report(job_id):
    """The standalone Evidently report, served for a sandboxed iframe with restrictive headers."""
    return report_response(audit_service.open_report(db_session(), current_user(), storage(), job_id))
