"""Input schemas of the registry's domain: one marshmallow definition serves the services and the API docs.

Each service loads its input with one of these; the API routes declare the same classes, so the
OpenAPI document describes exactly what the service accepts. String lengths are read from the
database columns they fill, and choices from the models' enums, so neither can drift from the store.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from model_cards import semver, taxonomy
from model_cards.schema import StrictSchema, TextInputSchema
from registry_db.errors import ValidationFailed, flatten_errors
from registry_db.models import (
    Algorithm,
    AlgorithmKind,
    ApiToken,
    AuditEvent,
    IncidentReport,
    Organisation,
    OrganisationKind,
    ReportKind,
    ReportState,
    Role,
    UploadPurpose,
    UploadSession,
    User,
    Version,
)

SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{1,78}[a-z0-9])$"
ORGANISATION_SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
MAX_CARD_BYTES = 1024 * 1024
MAX_FIXED_REPORTS = 100
MAX_ID = 2**31 - 1  # row ids are 32-bit integers on every backend: a larger one is a 422, not an overflow


def column_length(attribute: Any) -> int:
    """The declared length of a model's String column (``User.name`` -> 200)."""
    return attribute.property.columns[0].type.length


def fits(attribute: Any, minimum: int = 0) -> validate.Length:
    """At most as long as the column it fills: a longer value is a 422, never a database DataError."""
    return validate.Length(min=minimum, max=column_length(attribute))


def choice(values: type[enum.Enum] | Any) -> validate.OneOf:
    """One of an enum's values (or a vocabulary's keys); the error lists them and echoes the input."""
    allowed = [m.value for m in values] if isinstance(values, type) and issubclass(values, enum.Enum) else list(values)
    return validate.OneOf(allowed, error="must be one of: {choices} (got '{input}')")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


def _license(value: str) -> None:
    if message := taxonomy.check_license(value):
        raise ValidationError(message)


def _semver(value: str) -> None:
    if not semver.is_valid(value):
        raise ValidationError("must be a semantic version such as 1.0.0 or 2.1.0-rc.1")


class File(fields.Field):
    """A file part of a multipart body (anything with a ``stream``), documented as binary.

    A text field sent under a file's name is refused here with the field named, instead of
    failing later where the service reads the stream.
    """

    default_error_messages = {"invalid": "must be a file sent as a multipart file part, not a text field"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not hasattr(value, "stream"):
            raise self.make_error("invalid")
        return value


class JsonObjectText(fields.String):
    """A JSON object carried as text (a multipart field): parsed here, so bad JSON is a field error."""

    default_error_messages = {
        "too_large": f"is larger than {MAX_CARD_BYTES} bytes",
        "not_json": "not valid JSON: {detail}",
        "not_object": "must be a JSON object",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict):  # already parsed (a service reloading what the edge loaded)
            return value
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text.encode()) > MAX_CARD_BYTES:
            raise self.make_error("too_large")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.make_error("not_json", detail=f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
        except (ValueError, RecursionError) as exc:  # a number of thousands of digits, or absurd nesting
            raise self.make_error("not_json", detail="a number is too long or the document is nested too deeply") \
                from exc
        if not isinstance(parsed, dict):
            raise self.make_error("not_object")
        return parsed


class AlgorithmUpdateSchema(StrictSchema):
    name = fields.String(validate=[fits(Algorithm.name, 1), _not_blank])
    summary = fields.String(validate=[fits(Algorithm.summary, 1), _not_blank])
    description = fields.String(validate=validate.Length(max=100_000))
    code_repository_url = fields.Url(schemes={"https"}, allow_none=True, validate=fits(Algorithm.code_repository_url))
    code_commit = fields.String(allow_none=True, validate=[fits(Algorithm.code_commit), validate.Regexp(
        r"^[0-9a-f]{7,64}$", error="must be a hexadecimal commit hash")])
    license = fields.String(allow_none=True, validate=[fits(Algorithm.license), _license],
                            metadata={"description": "an SPDX license expression, e.g. Apache-2.0 or MIT OR CECILL-2.1"})
    objective = fields.String(allow_none=True, validate=choice(taxonomy.VOCABULARIES["objective"]))
    clinical_domain = fields.String(allow_none=True, validate=choice(taxonomy.VOCABULARIES["clinical_domain"]))
    data_source = fields.String(allow_none=True, validate=choice(taxonomy.VOCABULARIES["data_source"]))
    language = fields.String(allow_none=True, validate=choice(taxonomy.VOCABULARIES["language"]))
    validation_status = fields.String(allow_none=True, validate=choice(taxonomy.VOCABULARIES["validation_status"]))
    maintenance_status = fields.String(allow_none=True, validate=choice(taxonomy.VOCABULARIES["maintenance_status"]))
    owners: fields.Field = fields.List(fields.Email(validate=fits(User.email)),
                         validate=validate.Length(min=1, max=100, error="an algorithm needs 1 to 100 owners"))


class AlgorithmCreateSchema(AlgorithmUpdateSchema):
    slug = fields.String(required=True, validate=[fits(Algorithm.slug, 3), validate.Regexp(
        SLUG_RE, error="3 to 80 characters: lowercase letters, digits and hyphens, not starting or ending with '-'")])
    name = fields.String(required=True, validate=[fits(Algorithm.name, 1), _not_blank])
    summary = fields.String(required=True, validate=[fits(Algorithm.summary, 1), _not_blank])
    kind = fields.String(required=True, validate=choice(AlgorithmKind))
    owners = fields.Raw(load_only=True, dump_default=None)

    @validates_schema
    def _no_owners_at_creation(self, data: dict[str, Any], **_kwargs) -> None:
        if data.get("owners") is not None:
            raise ValidationError("the creating author owns the algorithm; add co-owners with PATCH", "owners")


# The catalogue's filters (query string): taxonomy terms, full text, author type, audited, sort and page.
AlgorithmQuerySchema = TextInputSchema.from_dict({
    "q": fields.String(validate=validate.Length(max=500),
                       metadata={"description": "full-text search in name, summary and description"}),
    "kind": fields.String(validate=choice(AlgorithmKind)),
    "license": fields.String(validate=fits(Algorithm.license)),
    **{name: fields.String(validate=choice(vocabulary)) for name, vocabulary in taxonomy.VOCABULARIES.items()},
    "author_type": fields.String(validate=choice(OrganisationKind),
                                 metadata={"description": "kind of the owning organisation"}),
    "audited": fields.Boolean(metadata={"description": "has a completed bias audit on a released version"}),
    "to_review": fields.Boolean(metadata={"description": "its latest published card is 'to review': its declared "
                                          "review date has passed, or a scheduled re-audit is overdue"}),
    "sort": fields.String(load_default="name", validate=choice(("name", "recent", "created"))),
    "page": fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000)),
    "per_page": fields.Integer(load_default=20, validate=validate.Range(min=1, max=100)),
}, name="AlgorithmQuery")


class VersionUploadSchema(StrictSchema):
    """A new draft version (multipart): its number, card, artifact and the version whose card it starts from."""

    version = fields.String(required=True, validate=[fits(Version.version), _semver],
                            metadata={"description": "semantic version, e.g. 1.0.0"})
    card = JsonObjectText(metadata={"description": "model card as a JSON object"})
    model = File(metadata={"description": "MLflow model directory as zip or tar.gz (ml_model)"})
    code = File(metadata={"description": "code archive as zip or tar.gz (rule_based)"})
    card_from = fields.String(validate=fits(Version.version),
                              metadata={"description": "start from this earlier version's card"})
    upload_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{43}\Z", error="not an upload id"), metadata={
        "description": "instead of model or code: the id of your completed resumable upload (POST /uploads, "
                       "purpose version), the model for an ml_model, the code archive for a rule_based algorithm; "
                       "it is used up when the version is created"})
    fixes_reports = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)),
                                validate=validate.Length(max=MAX_FIXED_REPORTS),
                                metadata={"description": "ids of approved reports on earlier versions that this "
                                          "version fixes (repeat the field for several)"})


class UploadOpenSchema(StrictSchema):
    """A resumable upload about to start: what the whole file will be, and what it is for."""

    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1), metadata={
        "description": "the whole file's size in bytes (at most the instance's BOAS_MAX_RESUMABLE_MB)"})
    sha256 = fields.String(required=True, validate=[fits(UploadSession.sha256), validate.Regexp(
        r"^[0-9a-f]{64}\Z", error="must be the file's SHA-256 as 64 lowercase hexadecimal digits")], metadata={
        "description": "the whole file's SHA-256 (lowercase hex): checked once every byte has arrived"})
    filename = fields.String(load_default="", validate=fits(UploadSession.filename), metadata={
        "description": "the file's name; its extension tells CSV from Parquet"})
    purpose = fields.String(required=True, validate=choice(UploadPurpose), metadata={
        "description": "what the file will be given to: POST /datasets, POST /predictions, or a version"})


class UserCreateSchema(StrictSchema):
    # The address is also the audit log's reference to the account, a shorter column than user_account.email.
    email = fields.Email(required=True, validate=[fits(User.email), fits(AuditEvent.object_ref)])
    role = fields.String(required=True, validate=choice(Role))
    name = fields.String(load_default="", validate=fits(User.name))
    organisation = fields.String(load_default=None, allow_none=True, validate=fits(Organisation.slug),
                                 metadata={"description": "slug of an existing organisation"})


class UserUpdateSchema(StrictSchema):
    role = fields.String(validate=choice(Role))
    active = fields.Boolean()
    name = fields.String(validate=fits(User.name))
    organisation = fields.String(validate=fits(Organisation.slug),
                                 metadata={"description": "slug of an existing organisation"})
    end_sessions = fields.Boolean(load_default=True, metadata={
        "description": "on a role change, end the user's browser sessions and API tokens (default true)"})


class OrganisationCreateSchema(StrictSchema):
    slug = fields.String(required=True, validate=[
        fits(Organisation.slug, 1),
        validate.Regexp(ORGANISATION_SLUG_RE, error="lowercase letters, digits and hyphens, not starting or ending "
                                                    "with '-'"),
    ])
    name = fields.String(required=True, validate=[fits(Organisation.name, 1), _not_blank])
    kind = fields.String(required=True, validate=choice(OrganisationKind))


class YankSchema(StrictSchema):
    reason = fields.String(required=True, validate=[validate.Length(min=3, max=2000), _not_blank])


class TokenCreateSchema(StrictSchema):
    name = fields.String(load_default="", validate=fits(ApiToken.name))


MAX_REPORT_TEXT = 10_000  # characters of a report's text or an answer: a page of prose, not a data dump


class ReportCreateSchema(StrictSchema):
    """A report on a released version: its kind, a title and the text (screened for identifiers)."""

    kind = fields.String(required=True, validate=choice(ReportKind),
                         metadata={"description": "performance, bias, safety, documentation or other"})
    title = fields.String(required=True, validate=[fits(IncidentReport.title, 1), _not_blank])
    body = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_REPORT_TEXT), _not_blank],
                         metadata={"description": "what happened; public once an admin approves the report"})


class ReportModerationSchema(StrictSchema):
    """An admin's decision on a report or an answer."""

    decision = fields.String(required=True, validate=choice(("approve", "reject")))
    override_screening = fields.Boolean(
        load_default=False, metadata={"description": "publish although identifier detectors fired on the text "
                                      "(after reading it: the detectors name what they saw, e.g. person_name)"})


class ReportStateSchema(StrictSchema):
    """The state a report moves to: open -> acknowledged -> resolved | declined."""

    state = fields.String(required=True, validate=choice(ReportState))


class ReportAnswerSchema(StrictSchema):
    body = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_REPORT_TEXT), _not_blank])


class FixedReportsSchema(StrictSchema):
    """The reports a draft version fixes (replaces the list)."""

    fixes_reports = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)), required=True,
                                validate=validate.Length(max=MAX_FIXED_REPORTS),
                                metadata={"description": "ids of approved reports on this algorithm's versions"})


def check(schema: Schema, data: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the valid part of ``data``, every field error as ``{field: [message]}``), for services that add their own."""
    if not isinstance(data, dict):
        return {}, {"_schema": ["expected a JSON object"]}
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid, flatten_errors(exc.messages)


def load(schema: Schema, data: Any, message: str) -> dict[str, Any]:
    """Validate ``data``, reporting every field error at once as a ValidationFailed."""
    valid, errors = check(schema, data)
    if errors:
        raise ValidationFailed(message, errors)
    return valid
