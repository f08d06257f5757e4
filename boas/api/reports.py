"""Incident and feedback reports on released versions: filing, reading, moderation, states, answers, fixes."""

from __future__ import annotations

from audits import incidents
from boas.api.blueprint import Blueprint
from boas.api.schemas import FiledReportOut, FixedReportsOut, ReportOut, VersionReportsOut
from boas.context import db_session
from boas.registry import schemas
from boas.security import current_user, login_required

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Incident and feedback reports")


@blp.route("/algorithms/<slug>/versions/<version>/reports", methods=["POST"])
@blp.response(201, FiledReportOut)
@blp.errors(400, 401, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.ReportCreateSchema)
def file_report(data, slug, version):
    """Report a problem with a released version; public once an admin approves it, held if it carries identifiers."""
    return incidents.file_report(db_session(), current_user(), slug, version, data)


@blp.route("/algorithms/<slug>/versions/<version>/reports")
@blp.response(200, VersionReportsOut)
@blp.errors(401, 404, 429)
def list_reports(slug, version):
    """A version's reports as the caller may see them, with the counts of approved reports per state."""
    return incidents.list_version_reports(db_session(), current_user(), slug, version)


@blp.route("/algorithms/<slug>/versions/<version>/fixes")
@blp.response(200, FixedReportsOut)
@blp.errors(401, 404, 429)
def get_fixed_reports(slug, version):
    """The reports this version fixes."""
    found = incidents.fixed_reports(db_session(), current_user(), slug, version)
    return {"fixes_reports": [r.id for r in found]}


@blp.route("/algorithms/<slug>/versions/<version>/fixes", methods=["PUT"])
@blp.response(200, FixedReportsOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.FixedReportsSchema)
def set_fixed_reports(data, slug, version):
    """Say which reports a draft version fixes (replaces the list)."""
    return {"fixes_reports": incidents.set_fixed_reports(db_session(), current_user(), slug, version, data)}


@blp.route("/reports")
@blp.response(200, ReportOut(many=True))
@blp.errors(401, 403, 429)
@login_required
def moderation_queue():
    """Admins: reports awaiting moderation, and reports with an answer awaiting moderation."""
    return incidents.list_reports_to_moderate(db_session(), current_user())


@blp.route("/reports/<int:report_id>")
@blp.response(200, ReportOut)
@blp.errors(401, 404, 429)
def get_report(report_id):
    """One report as the caller may see it."""
    return incidents.get_report(db_session(), current_user(), report_id)


@blp.route("/reports/<int:report_id>/moderation", methods=["POST"])
@blp.response(200, ReportOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.ReportModerationSchema)
def moderate_report(data, report_id):
    """Admins: approve (public) or reject a pending report; a held report needs override_screening."""
    return incidents.moderate_report(db_session(), current_user(), report_id, data)


@blp.route("/reports/<int:report_id>/state", methods=["POST"])
@blp.response(200, ReportOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.ReportStateSchema)
def change_state(data, report_id):
    """Owners and admins: move an approved report along open -> acknowledged -> resolved | declined."""
    return incidents.change_report_state(db_session(), current_user(), report_id, data)


@blp.route("/reports/<int:report_id>/answers", methods=["POST"])
@blp.response(201, FiledReportOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.ReportAnswerSchema)
def answer_report(data, report_id):
    """Owners and admins: answer an approved report (public with it unless the screening holds it)."""
    return incidents.answer_report(db_session(), current_user(), report_id, data)


@blp.route("/reports/<int:report_id>/answers/<int:answer_id>/moderation", methods=["POST"])
@blp.response(200, ReportOut)
@blp.errors(400, 401, 403, 404, 409, 413, 429)
@login_required
@blp.arguments(schemas.ReportModerationSchema)
def moderate_answer(data, report_id, answer_id):
    """Admins: approve (with override_screening) or reject an answer the screening held."""
    return incidents.moderate_answer(db_session(), current_user(), report_id, answer_id, data)
