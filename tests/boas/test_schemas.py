"""One validation path: the input schemas bound every column they fill, use the models' enums, and are the
ones the API documents. Pure checks on the schema and model classes (no database)."""

from __future__ import annotations

import ast
import pathlib

import pytest
from marshmallow import fields, validate
from sqlalchemy import String

from audits import schemas as audit_schemas
from boas.registry import schemas
from boas.registry.artifacts import archive_scan
from model_cards import taxonomy
from model_cards.schema import StrictSchema
from registry_db.models import (
    Algorithm,
    ApiToken,
    ArtifactFile,
    AuditEvent,
    AuditSchedule,
    Base,
    IncidentReport,
    Job,
    Organisation,
    PredictionSet,
    ReferenceDataset,
    UploadSession,
    User,
    Version,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Which model each input schema writes; a field fills the column of the same name unless renamed here.
WRITES = [
    (schemas.UserCreateSchema, User, {"organisation": Organisation.slug}),
    (schemas.UserUpdateSchema, User, {"organisation": Organisation.slug}),
    (schemas.OrganisationCreateSchema, Organisation, {}),
    (schemas.AlgorithmCreateSchema, Algorithm, {}),
    (schemas.AlgorithmUpdateSchema, Algorithm, {}),
    (schemas.TokenCreateSchema, ApiToken, {}),
    (schemas.VersionUploadSchema, Version, {"card_from": Version.version}),
    (audit_schemas.DatasetMetaSchema, ReferenceDataset, {}),
    (audit_schemas.PredictionsMetaSchema, PredictionSet, {"algorithm": Algorithm.slug, "version": Version.version}),
    (audit_schemas.AuditRequestSchema, Job, {"algorithm": Algorithm.slug, "version": Version.version}),
    (audit_schemas.ScheduleRequestSchema, AuditSchedule, {}),
    (schemas.ReportCreateSchema, IncidentReport, {}),
    (schemas.ReportStateSchema, IncidentReport, {}),
    (schemas.UploadOpenSchema, UploadSession, {}),
]
# String columns no user types directly: digests, prefixes, states, hosts; each with where its value comes from.
SERVER_WRITTEN = {
    "user_account.password_hash": "Argon2id hash",
    "api_token.token_hash": "sha256 hex", "api_token.prefix": "12 characters of the secret",
    "api_token.kind": "'api' or 'session'",
    "algorithm_version.card_sha256": "sha256 hex", "algorithm_version.artifact_kind": "two constants",
    "algorithm_version.archive_sha256": "sha256 hex",
    "algorithm_version.execution": "execute or predictions_only", "job.error_code": "the sandbox's five failure codes, and schedule_refused",
    "audit_schedule.kind": "the kind of its audit request, validated by AuditRequestSchema",
    "artifact_file.sha256": "sha256 hex", "artifact_file.path": "archive member names, capped by the archive reader",
    "audit_event.actor_email": "an account's e-mail", "audit_event.action": "constants",
    "audit_event.object_type": "constants", "audit_event.object_ref": "e-mails, slugs, slug@version, ids",
    "audit_event.prev_hash": "sha256 hex", "audit_event.hash": "sha256 hex",
    "notification.kind": "a key of boas.registry.notifications.KINDS",
    "audit_request.status": "an AuditRequestStatus value, set by the loop's services",
    "reference_dataset.sha256": "sha256 hex", "reference_dataset.format": "csv or parquet",
    "reference_dataset.original_sha256": "sha256 hex of the upload",
    "reference_dataset.original_format": "csv or parquet, as uploaded",
    "prediction_set.sha256": "sha256 hex",
    "algorithm_version.state": "the lifecycle's states", "job.status": "the job's states",
    "incident_report.moderation": "pending, approved or rejected", "report_answer.moderation": "the same",
    "upload_session.token": "secrets.token_urlsafe(32)", "upload_session.state": "open or complete",
    "job.worker_host": "the worker's host name", "job.cache_key": "sha256 hex", "job.report_sha256": "sha256 hex", "job.coarse_report_sha256": "sha256 hex",
}


def _string_columns():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String) and column.type.length and not column.foreign_keys:
                yield f"{table.name}.{column.name}", column


def _max_length(field: fields.Field) -> int | None:
    """The longest value the field accepts, from its Length or OneOf validators (None: unbounded)."""
    bounds = []
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.max is not None:
            bounds.append(validator.max)
        if isinstance(validator, validate.OneOf):
            bounds.append(max(len(str(choice)) for choice in validator.choices))
    return min(bounds) if bounds else None


def _targets():
    for schema, model, renamed in WRITES:
        for name, field in schema().fields.items():
            if isinstance(field, fields.String | fields.Email):
                attribute = renamed.get(name) or getattr(model, name, None)
                if attribute is not None and hasattr(attribute, "property"):
                    column = attribute.property.columns[0]
                    if isinstance(column.type, String) and column.type.length:
                        yield schema, name, field, column


def test_every_user_writable_string_column_has_a_schema_bound_no_longer_than_the_column():
    checked, problems = set(), []
    for schema, name, field, column in _targets():
        checked.add(f"{column.table.name}.{column.name}")
        bound = _max_length(field)
        if bound is None or bound > column.type.length:
            problems.append(f"{schema.__name__}.{name}: accepts {bound or 'any'} characters, "
                            f"{column.table.name}.{column.name} holds {column.type.length}")
    assert problems == []
    columns = dict(_string_columns())
    unaccounted = set(columns) - checked - set(SERVER_WRITTEN)
    assert unaccounted == set(), f"String columns no schema bounds and not declared server-written: {unaccounted}"
    # the few columns filled from user input indirectly
    assert ArtifactFile.path.property.columns[0].type.length >= archive_scan._MAX_NAME_CHARS
    email = schemas.UserCreateSchema().fields["email"]
    assert _max_length(email) <= AuditEvent.object_ref.property.columns[0].type.length  # the log names accounts


def test_a_value_one_character_too_long_for_its_column_is_a_field_error():
    for schema, name, field, column in _targets():
        if any(isinstance(v, validate.OneOf | validate.Regexp) for v in field.validators):
            continue
        value = "a" * (column.type.length + 1)
        if isinstance(field, fields.Email):
            value = "a" * (column.type.length - len("@example.org") + 1) + "@example.org"
        errors = schema().validate({name: value}, partial=True)
        assert name in errors, (schema.__name__, name)


def test_there_is_one_strict_base_schema():
    definitions = []
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        definitions += [f"{path.relative_to(ROOT)}:{node.name}" for node in ast.walk(tree)
                        if isinstance(node, ast.ClassDef) and node.name in {"_Strict", "StrictSchema"}]
    assert definitions == ["model_cards/schema.py:StrictSchema"]
    for schema, _model, _renamed in WRITES:
        assert issubclass(schema, StrictSchema), schema


@pytest.mark.parametrize("expression", [
    "MIT", "Apache-2.0", "MIT OR CECILL-2.1", "GPL-2.0-or-later WITH Classpath-exception-2.0",
    "Apache-2.0 AND (MIT OR BSD-3-Clause)", "LicenseRef-HDH-1.0", "LicenseRef-HDH-1.0 OR EUPL-1.2",
])
def test_valid_spdx_expressions_are_accepted(expression):
    assert taxonomy.check_license(expression) is None
    assert schemas.AlgorithmUpdateSchema().validate({"license": expression}) == {}


@pytest.mark.parametrize(("expression", "words"), [
    ("(MIT OR Apache-2.0", "unbalanced parentheses"),
    ("MIT OR", "not a valid SPDX license expression"),
    ("MIT WITH Apache-2.0", "not a valid SPDX license expression"),  # a license is not an exception
    ("Classpath-exception-2.0", "not a valid SPDX license expression"),
    ("Foo-1.0", "'Foo-1.0' is not a known SPDX license identifier"),
    ("   ", "must be an SPDX license expression"),
])
def test_invalid_spdx_expressions_are_refused_with_the_reason(expression, words):
    assert words in taxonomy.check_license(expression)
    assert words in " ".join(schemas.AlgorithmUpdateSchema().validate({"license": expression})["license"])


def test_exports_read_the_license_ids_of_an_expression():
    from model_cards.exports.common import spdx_ids

    assert spdx_ids("GPL-2.0-or-later WITH Classpath-exception-2.0") == ["GPL-2.0-or-later"]
    assert spdx_ids("LicenseRef-HDH-1.0 OR (MIT AND Apache-2.0)") == ["MIT", "Apache-2.0"]
    assert spdx_ids("(MIT OR") == []


def test_choices_come_from_the_models_enums():
    from registry_db.models import AlgorithmKind, AuditKind, OrganisationKind, Role

    def choices(schema, name):
        return next(v.choices for v in schema().fields[name].validators if isinstance(v, validate.OneOf))

    assert choices(schemas.UserCreateSchema, "role") == [r.value for r in Role]
    assert choices(schemas.OrganisationCreateSchema, "kind") == [k.value for k in OrganisationKind]
    assert choices(schemas.AlgorithmCreateSchema, "kind") == [k.value for k in AlgorithmKind]
    assert choices(audit_schemas.AuditRequestSchema, "kind") == [k.value for k in AuditKind]
    query = schemas.AlgorithmQuerySchema()
    assert set(taxonomy.VOCABULARIES) <= set(query.fields)  # every catalogue filter, no hand-kept list


def test_page_labels_cover_every_value_of_the_models_enums():
    from audits.identifiers import DETECTORS
    from boas.pages import i18n
    from registry_db.models import (
        AlgorithmKind,
        AuditKind,
        JobStatus,
        Moderation,
        OrganisationKind,
        ReportKind,
        ReportState,
        Role,
        VersionState,
    )

    for labels, enum in ((i18n.ROLES, Role), (i18n.KINDS, AlgorithmKind), (i18n.ORGANISATION_KINDS, OrganisationKind),
                         (i18n.STATES, VersionState), (i18n.JOB_STATUSES, JobStatus), (i18n.AUDIT_KINDS, AuditKind),
                         (i18n.REPORT_KINDS, ReportKind), (i18n.REPORT_STATES, ReportState),
                         (i18n.MODERATIONS, Moderation)):
        assert set(labels) == {member.value for member in enum}, enum
    assert set(i18n.DETECTOR_LABELS) == set(DETECTORS)  # a report's writer is told what any detector found
