"""Scheduled re-audits, their trends on a version, and whether a card is "to review"."""

from __future__ import annotations

from flask import request
from marshmallow import RAISE, Schema, fields

from audits import scheduling
from audits.schemas import ScheduleRequestSchema
from boas.api.audits import evaluators_only
from boas.api.blueprint import Blueprint
from boas.context import db_session, now, runtime
from boas.security import current_user, login_required

blp = Blueprint("schedules", __name__, url_prefix="/api/v1", description="Scheduled re-audits and staleness")


class ScheduleRunOut(Schema):
    job = fields.Integer()
    slot = fields.DateTime()
    status = fields.String()
    verdict_change = fields.Dict(
        allow_none=True,
        metadata={
            "description": "{previous_job, changes: [{feature, group, key, metric, from, to}]} since the previous run"
        },
    )


class ScheduleOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    period = fields.String()
    every_days = fields.Integer(allow_none=True)
    grace_days = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    follow_latest = fields.Boolean()
    active = fields.Boolean()
    audit = fields.Dict(metadata={"description": "the audit request each run launches"})
    algorithm = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    next_slot = fields.DateTime(allow_none=True)
    last_success_slot = fields.DateTime(allow_none=True)
    overdue_since = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "when a due run failed to succeed within its grace period (the card is then 'to review')"
        },
    )
    created_at = fields.DateTime()
    runs = fields.List(fields.Nested(ScheduleRunOut))


class TrendPointOut(Schema):
    job = fields.Integer()
    slot = fields.DateTime()
    value = fields.Float(allow_none=True, metadata={"description": "null when masked (fewer than 11 people)"})
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    verdict = fields.String(allow_none=True)
    verdict_change = fields.Boolean(metadata={"description": "the verdict differs from the series' previous run"})


class TrendSeriesOut(Schema):
    schedule = fields.Integer()
    kind = fields.String()
    feature = fields.String(allow_none=True)
    metric = fields.String()
    group = fields.String(allow_none=True)
    reference_group = fields.String(allow_none=True)
    band = fields.List(fields.Float(), allow_none=True, metadata={"description": "the audit's tolerance band"})
    points = fields.List(fields.Nested(TrendPointOut))


class TrendOut(Schema):
    algorithm = fields.String()
    version = fields.String()
    series = fields.List(fields.Nested(TrendSeriesOut))


class StalenessReasonOut(Schema):
    code = fields.String(metadata={"description": "review_date_passed or reaudit_overdue"})
    date = fields.String()
    schedule = fields.Integer()
    since = fields.String()


class StalenessOut(Schema):
    to_review = fields.Boolean()
    next_review = fields.String(allow_none=True)
    reasons = fields.List(fields.Nested(StalenessReasonOut))


@blp.route("/schedules", methods=["POST"])
@blp.response(201, ScheduleOut)
@blp.errors(400, 401, 403, 404, 429)
@login_required
@evaluators_only
@blp.arguments(ScheduleRequestSchema, unknown=RAISE)
def create_schedule(_data):
    """Attach a re-audit schedule to a published version, a dataset or a pair of datasets (evaluators, admins)."""
    schedule = scheduling.create_schedule(
        db_session(), current_user(), request.get_json(), now=now(), allow_code=runtime().settings.sandbox_allow_code
    )
    return scheduling.schedule_view(db_session(), schedule, now=now())


@blp.route("/schedules")
@blp.response(200, ScheduleOut(many=True))
@blp.errors(401, 403, 429)
@login_required
def list_schedules():
    """Every re-audit schedule (evaluators, admins)."""
    return scheduling.list_schedules(db_session(), current_user(), now=now())


@blp.route("/schedules/<int:schedule_id>")
@blp.response(200, ScheduleOut)
@blp.errors(401, 403, 404, 429)
@login_required
def get_schedule(schedule_id):
    """A schedule with its runs and their verdict changes (evaluators, admins)."""
    return scheduling.get_schedule(db_session(), current_user(), schedule_id, now=now())


@blp.route("/schedules/<int:schedule_id>/stop", methods=["POST"])
@blp.response(200, ScheduleOut)
@blp.errors(401, 403, 404, 429)
@login_required
def stop_schedule(schedule_id):
    """Stop a schedule (its creator, admins); its runs stay on record."""
    return scheduling.stop_schedule(db_session(), current_user(), schedule_id, now=now())


@blp.route("/algorithms/<slug>/versions/<version>/trend")
@blp.response(200, TrendOut)
@blp.errors(401, 404, 429)
def trend(slug, version):
    """Key disparities and drift shares of a version's scheduled re-audits over time (suppressed for the public)."""
    return scheduling.version_trend(db_session(), current_user(), slug, version)


@blp.route("/algorithms/<slug>/versions/<version>/staleness")
@blp.response(200, StalenessOut)
@blp.errors(401, 404, 429)
def staleness(slug, version):
    """Whether the card is "to review": its declared review date has passed or a scheduled re-audit is overdue."""
    return scheduling.version_staleness(db_session(), current_user(), slug, version, now=now())
