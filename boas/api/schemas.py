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
    to_review = fields.Function(lambda page: sorted(page.to_review), metadata={
        "description": "slugs whose latest published card is 'to review' (review date passed or re-audit overdue)"})
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
        metadata={"description": "how the model is audited: mode 'execute' (skops, ONNX) or 'predictions_only' "
                                 "(it carries code), with the format and the reasons"})
    published_by = fields.Function(lambda v: public_name(v.published_by) if v.published_by else None)
    fixes_reports = fields.Function(lambda v: [r.id for r in v.fixes], metadata={
        "description": "ids of the reports (on earlier versions) this version fixes"})


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


class AuditHeadOut(Schema):
    count = fields.Integer(required=True, metadata={
        "description": "The head's position in the chain: the number of events of an intact log (0 when empty)."})
    head_hash = fields.String(required=True, allow_none=True, metadata={
        "description": "SHA-256 (lowercase hex) of the head event's canonical form; null when the log is empty."})
    head_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "When the head event was logged (UTC); null when the log is empty."})


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


# -- incident reports ------------------------------------------------------------------------------


class ReportAnswerOut(Schema):
    id = fields.Integer(required=True)
    body = fields.String(allow_none=True, required=True)
    author = fields.String(required=True, metadata={"description": "the answering owner's public name"})
    created_at = fields.DateTime(required=True)
    moderation = fields.Function(lambda a: a.moderation.value, required=True,
                                 metadata={"description": "approved, or pending/rejected when the screening held it"})
    held = fields.Boolean(required=True)
    detected = fields.List(fields.String(), required=True)


class ReportOut(Schema):
    """A report as the caller may see it: ``title`` and ``body`` are null when the caller may not read them yet."""

    id = fields.Integer(required=True)
    algorithm = fields.String(required=True)
    version = fields.String(required=True)
    kind = fields.Function(lambda r: r.kind.value, required=True)
    state = fields.Function(lambda r: r.state.value, required=True, metadata={
        "description": "open -> acknowledged -> resolved | declined"})
    moderation = fields.Function(lambda r: r.moderation.value, required=True, metadata={
        "description": "pending until an admin approves (public) or rejects it"})
    title = fields.String(allow_none=True, required=True)
    body = fields.String(allow_none=True, required=True)
    text_withheld = fields.Boolean(required=True, metadata={
        "description": "the text may carry personal data and is not shown before an admin approved the report"})
    held = fields.Boolean(required=True, metadata={"description": "identifier detectors fired on its text"})
    detected = fields.List(fields.String(), required=True, metadata={
        "description": "the detectors that fired (never the values); only for its writer, owners and admins"})
    mine = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    answers = fields.List(fields.Nested(ReportAnswerOut), required=True)
    fixed_in = fields.List(fields.String(), required=True, metadata={"description": "versions that fix it"})
    transitions = fields.Function(lambda r: [s.value for s in r.transitions], required=True, metadata={
        "description": "the states the caller may move it to next"})


class ScreeningOut(Schema):
    held = fields.Boolean(required=True)
    detected = fields.List(fields.String(), required=True)
    warning = fields.String(allow_none=True, required=True)


class FiledReportOut(Schema):
    """The filed report (or answered report) and what the identifier screening found."""

    report = fields.Nested(ReportOut, required=True)
    answer_id = fields.Integer(allow_none=True, required=True)
    screening = fields.Function(lambda f: {
        "held": bool(f.detected), "detected": f.detected,
        "warning": screening_warning(f.detected)}, required=True, metadata={"description": "see ScreeningOut"})


class VersionReportsOut(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "approved reports per state"})
    awaiting_moderation = fields.Integer(required=True, metadata={
        "description": "reports the caller may know of that an admin has not approved yet"})
    items = fields.List(fields.Nested(ReportOut), attribute="reports", required=True)


class FixedReportsOut(Schema):
    fixes_reports = fields.List(fields.Integer(), required=True)


def screening_warning(detected: list[str]) -> str | None:
    """The warning a writer gets when the screening held their text: the detectors, never the values."""
    if not detected:
        return None
    return ("your text seems to carry personal data (" + ", ".join(detected) + "): it is held, and an admin "
            "reads it before anything is published. Please remove personal data from reports")
