"""Input schemas of the registry's domain: one marshmallow definition serves services and the API docs."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from model_cards import taxonomy
from registry_db.errors import ValidationFailed, flatten_errors
from registry_db.models import AlgorithmKind, OrganisationKind, Role

SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{1,78}[a-z0-9])$"


def _vocabulary(field: str) -> validate.OneOf:
    return validate.OneOf(list(taxonomy.VOCABULARIES[field]), error="must be one of: {choices}")


def _license(value: str) -> None:
    if message := taxonomy.check_license(value):
        raise ValidationError(message)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class AlgorithmUpdateSchema(_Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    summary = fields.String(validate=validate.Length(min=1, max=500))
    description = fields.String(validate=validate.Length(max=100_000))
    code_repository_url = fields.Url(schemes={"https"}, allow_none=True, validate=validate.Length(max=500))
    code_commit = fields.String(
        allow_none=True, validate=validate.Regexp(r"^[0-9a-f]{7,64}$", error="must be a hexadecimal commit hash")
    )
    license = fields.String(allow_none=True, validate=_license)
    objective = fields.String(allow_none=True, validate=_vocabulary("objective"))
    clinical_domain = fields.String(allow_none=True, validate=_vocabulary("clinical_domain"))
    data_source = fields.String(allow_none=True, validate=_vocabulary("data_source"))
    language = fields.String(allow_none=True, validate=_vocabulary("language"))
    validation_status = fields.String(allow_none=True, validate=_vocabulary("validation_status"))
    maintenance_status = fields.String(allow_none=True, validate=_vocabulary("maintenance_status"))
    owners = fields.List(fields.Email(), validate=validate.Length(min=1, error="an algorithm needs at least one owner"))


class AlgorithmCreateSchema(AlgorithmUpdateSchema):
    slug = fields.String(
        required=True,
        validate=validate.Regexp(
            SLUG_RE, error="3 to 80 characters: lowercase letters, digits and hyphens, not starting or ending with '-'"
        ),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=500))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in AlgorithmKind]))
    owners = fields.Raw(load_only=True, dump_default=None)

    @validates_schema
    def _no_owners_at_creation(self, data: dict[str, Any], **_kwargs) -> None:
        if data.get("owners") is not None:
            raise ValidationError("the creating author owns the algorithm; add co-owners with PATCH", "owners")


class UserCreateSchema(_Strict):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    organisation = fields.String(load_default=None, allow_none=True)


class UserUpdateSchema(_Strict):
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    active = fields.Boolean()
    name = fields.String(validate=validate.Length(max=200))
    organisation = fields.String()
    end_sessions = fields.Boolean(load_default=True, metadata={
        "description": "on a role change, end the user's browser sessions and API tokens (default true)"})


class OrganisationCreateSchema(_Strict):
    slug = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in OrganisationKind]))


class YankSchema(_Strict):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class TokenCreateSchema(_Strict):
    name = fields.String(load_default="", validate=validate.Length(max=100))


def load(schema: Schema, data: Any, message: str) -> dict[str, Any]:
    """Validate ``data``, reporting every field error at once as a ValidationFailed."""
    if not isinstance(data, dict):
        raise ValidationFailed(message, {"_schema": ["expected a JSON object"]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(message, flatten_errors(exc.messages)) from exc
