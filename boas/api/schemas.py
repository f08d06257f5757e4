"""Response schemas of the v1 API (dump only); request schemas are the services' (boas.registry.schemas,
audits.schemas), so the document describes exactly what the services accept."""

from __future__ import annotations

from marshmallow import Schema, fields

from boas.registry import algorithms
from model_cards.snapshot import public_name


class ErrorSchema(Schema):
    """Every error the API sends: a stable machine code, the HTTP status, a sentence, and field errors."""

    code = fields.String(required=True, metadata={"description": "stable machine code, e.g. validation_failed"})
    status = fields.Integer(required=True, metadata={"description": "the HTTP status, repeated"})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True,
                         metadata={"description": "field (dotted path for nested ones) -> its messages; "
                                                  "empty when no field is at fault"})


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
    execution = fields.Function(
        lambda v: {"mode": v.execution, "format": (v.execution_detail or {}).get("format"),
                   "reasons": (v.execution_detail or {}).get("reasons", [])} if v.execution else None,
        metadata={"description": "how the model is audited: mode 'execute' (skops, ONNX, XGBoost, LightGBM) or "
                                 "'predictions_only' (it carries code), with the format and the reasons"})
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


# -- card reports: baseline, framework coverage, diff, the card's JSON Schema ------------------


class TextFrEn(Schema):
    fr = fields.String(required=True)
    en = fields.String(required=True)


class BaselineItemOut(Schema):
    id = fields.String(required=True)
    pillar = fields.String(required=True)
    path = fields.String(required=True, metadata={"description": "where the item is read: card.*, algorithm.*, ..."})
    mandatory = fields.Boolean(required=True)
    satisfied = fields.Boolean(required=True)
    label = fields.Nested(TextFrEn, required=True)
    message = fields.Nested(TextFrEn, allow_none=True, required=True,
                            metadata={"description": "what to do; null when satisfied"})


class MissingItemOut(Schema):
    id = fields.String(required=True)
    pillar = fields.String(required=True)
    path = fields.String(required=True)
    label = fields.Nested(TextFrEn, required=True)
    message = fields.Nested(TextFrEn, allow_none=True, required=True)


class PillarOut(Schema):
    label = fields.Nested(TextFrEn, required=True)
    score = fields.Float(required=True)
    items = fields.List(fields.Nested(BaselineItemOut), required=True)


class BaselineReportOut(Schema):
    """The quality-baseline checklist of a version."""

    kind = fields.String(required=True)
    require_bias_audit = fields.Boolean(required=True)
    publishable = fields.Boolean(required=True)
    score = fields.Float(required=True, metadata={"description": "satisfied items over listed items, 0 to 1"})
    pillars = fields.Dict(keys=fields.String(), values=fields.Nested(PillarOut), required=True)
    missing = fields.List(fields.Nested(MissingItemOut), required=True,
                          metadata={"description": "mandatory items not yet satisfied"})


class CoverageCounts(Schema):
    covered = fields.Integer(required=True)
    missing = fields.Integer(required=True)
    out_of_scope = fields.Integer(required=True)
    total = fields.Integer(required=True)


class FrameworkItemOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    group = fields.String()
    status = fields.String(required=True, metadata={"enum": ["covered", "missing", "out_of_scope"]})
    paths = fields.List(fields.String(), required=True)
    mode = fields.String(required=True, metadata={"enum": ["all", "any"]})
    missing_paths = fields.List(fields.String(), required=True)
    reason = fields.String(allow_none=True, required=True, metadata={"description": "why it is out of scope"})


class FrameworkGroupOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    counts = fields.Nested(CoverageCounts, required=True)


class FrameworkCoverageOut(Schema):
    title = fields.String(required=True)
    reference = fields.String(required=True)
    items = fields.List(fields.Nested(FrameworkItemOut), required=True)
    counts = fields.Nested(CoverageCounts, required=True)
    groups = fields.List(fields.Nested(FrameworkGroupOut))


class ComplianceOut(Schema):
    """Coverage of each framework's items by a version's card."""

    algorithm = fields.String(required=True)
    version = fields.String(required=True)
    frameworks = fields.Dict(keys=fields.String(), values=fields.Nested(FrameworkCoverageOut), required=True)


class ChangeOut(Schema):
    path = fields.String(required=True)
    change = fields.String(required=True, metadata={"enum": ["added", "removed", "changed"]})
    old = fields.Raw(allow_none=True, required=True, metadata={"description": "any JSON value, null when added"})
    new = fields.Raw(allow_none=True, required=True, metadata={"description": "any JSON value, null when removed"})


class DiffVersionsOut(Schema):
    old = fields.String(allow_none=True, required=True)
    new = fields.String(allow_none=True, required=True)


class DiffOut(Schema):
    """Field-level changes between two versions."""

    versions = fields.Nested(DiffVersionsOut, required=True)
    card = fields.List(fields.Nested(ChangeOut), required=True)
    algorithm = fields.List(fields.Nested(ChangeOut), required=True)
    manifest = fields.List(fields.Nested(ChangeOut), required=True, metadata={"description": "files, by path"})
    artifacts = fields.List(fields.Nested(ChangeOut), required=True)
    changed = fields.Boolean(required=True)


class JsonSchemaDocument(Schema):
    """A JSON Schema (draft 2020-12) document."""

    schema_ = fields.String(attribute="$schema", data_key="$schema", required=True)
    id = fields.String(attribute="$id", data_key="$id", required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.List(fields.String())
    properties = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    defs = fields.Dict(attribute="$defs", data_key="$defs", keys=fields.String(), values=fields.Dict())
