"""Response schemas of the v1 API (dump only); request schemas come from model_cards.schemas."""

from __future__ import annotations

from marshmallow import Schema, fields

from boas.registry import algorithms
from model_cards.snapshot import public_name


class ErrorSchema(Schema):
    code = fields.String()
    status = fields.Integer()
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class OrganisationOut(Schema):
    slug = fields.String()
    name = fields.String()
    kind = fields.Function(lambda o: o.kind.value)


class OwnerOut(Schema):
    name = fields.String()


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    active = fields.Boolean()
    organisation = fields.Function(lambda u: u.organisation.slug if u.organisation else None)
    created_at = fields.DateTime()


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class IssuedTokenOut(Schema):
    token = fields.Nested(TokenOut)
    secret = fields.String(metadata={"description": "shown once; only its hash is stored"})


class AlgorithmOut(Schema):
    slug = fields.String()
    name = fields.String()
    summary = fields.String()
    description = fields.String()
    kind = fields.Function(lambda a: a.kind.value)
    code_repository_url = fields.String(allow_none=True)
    code_commit = fields.String(allow_none=True)
    objective = fields.String(allow_none=True)
    clinical_domain = fields.String(allow_none=True)
    data_source = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    validation_status = fields.String(allow_none=True)
    maintenance_status = fields.String(allow_none=True)
    license = fields.String(allow_none=True)
    organisation = fields.Nested(OrganisationOut, allow_none=True)
    owners = fields.List(fields.Nested(OwnerOut))
    latest_version = fields.Function(algorithms.latest_version)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AlgorithmPage(Schema):
    items = fields.List(fields.Nested(AlgorithmOut))
    audited = fields.Function(lambda page: sorted(page.audited), metadata={"description": "slugs with a bias audit"})
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class ManifestEntry(Schema):
    path = fields.String()
    sha256 = fields.String()
    size = fields.Integer()


class VersionSummaryOut(Schema):
    algorithm = fields.Function(lambda v: v.algorithm.slug)
    version = fields.String()
    state = fields.Function(lambda v: v.state.value)
    card_sha256 = fields.String(allow_none=True)
    artifact_kind = fields.String(allow_none=True)
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    yanked_at = fields.DateTime(allow_none=True)
    yank_reason = fields.String(allow_none=True)


class VersionOut(VersionSummaryOut):
    card = fields.Dict()
    archive = fields.Function(
        lambda v: {"sha256": v.archive_sha256, "size": v.archive_size} if v.archive_sha256 else None
    )
    manifest = fields.List(fields.Nested(ManifestEntry), attribute="files")
    mlmodel = fields.Dict(allow_none=True)
    published_by = fields.Function(lambda v: public_name(v.published_by) if v.published_by else None)


class AuditEventOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_email = fields.String(allow_none=True)
    action = fields.String()
    object_type = fields.String()
    object_ref = fields.String()
    details = fields.Dict()


class AuditEventPage(Schema):
    items = fields.List(fields.Nested(AuditEventOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
