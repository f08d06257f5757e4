"""Incident and feedback reports in the browser: the report form, owners' answers and states, admins'
moderation queue, and each version's Atom feed of public reports. Same services as the API."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from audits import incidents
from boas.context import db_session
from boas.pages.auth import login_required, page_user
from boas.pages.blueprint import bp
from boas.pages.i18n import DETECTOR_LABELS, REPORT_KINDS, form_errors
from boas.pages.messages import Field, FormErrors
from boas.registry import schemas
from boas.registry import versions as version_service
from registry_db.errors import Conflict, ValidationFailed


def _detected_text(detected: list[str]) -> str:
    return ", ".join(str(DETECTOR_LABELS.get(d, d)) for d in detected)


def _card_anchor(slug: str, version: str, anchor: str = "reports"):
    return redirect(url_for("pages.card", slug=slug, version=version, _anchor=anchor), 303)


@bp.route("/algorithms/<slug>/<version>/reports/new", methods=["GET", "POST"])
@login_required
def new_report(slug: str, version: str):
    """Report a problem with a released version: kind, title and text, screened and moderated before publication."""
    session, user = db_session(), page_user()
    row = version_service.get_version(session, user, slug, version)
    errors = FormErrors()
    values = {"kind": "", "title": "", "body": ""}
    status = 200
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in values}
        try:
            filed = incidents.file_report(session, user, slug, version, values)
        except ValidationFailed as exc:
            fields = {"kind": Field("report-kind", _("Kind of report")), "title": Field("report-title", _("Title")),
                      "body": Field("report-body", _("What happened"))}
            errors, status = form_errors(exc.errors, fields), 422
        else:
            flash(_("Your report is filed. An administrator reads it before it is made public."), "success")
            if filed.detected:
                flash(_("Your report seems to carry personal data (%(found)s). It is held: it will not be made "
                        "public as it is. Please never write personal data in a report.",
                        found=_detected_text(filed.detected)), "error")
            return _card_anchor(slug, version, f"report-{filed.report.id}")
    return render_template("pages/report_form.html", row=row, slug=slug, version=version, values=values,
                           errors=errors, kinds=REPORT_KINDS.items()), status


@bp.route("/reports/<int:report_id>/state", methods=["POST"])
@login_required
def report_state(report_id: int):
    """Owners and admins move an approved report to its next state."""
    changed = incidents.change_report_state(db_session(), page_user(), report_id,
                                          {"state": request.form.get("state", "")})
    flash(_("The report’s state is changed."), "success")
    return _card_anchor(changed.algorithm, changed.version, f"report-{report_id}")


@bp.route("/reports/<int:report_id>/answers", methods=["POST"])
@login_required
def answer_report(report_id: int):
    """Owners and admins answer an approved report; an answer the screening holds waits for an admin."""
    session, user = db_session(), page_user()
    try:
        filed = incidents.answer_report(session, user, report_id, {"body": request.form.get("body", "")})
    except ValidationFailed:
        found = incidents.get_report(session, user, report_id)
        flash(_("Write an answer: it cannot be empty or longer than %(max)s characters.",
                max=format_decimal(schemas.MAX_REPORT_TEXT)), "error")
        return _card_anchor(found.algorithm, found.version, f"report-{report_id}")
    if filed.detected:
        flash(_("Your answer seems to carry personal data (%(found)s). It is held until an administrator reads "
                "it.", found=_detected_text(filed.detected)), "error")
    else:
        flash(_("Your answer is published with the report."), "success")
    return _card_anchor(filed.report.algorithm, filed.report.version, f"report-{report_id}")


@bp.route("/admin/reports")
@login_required
def moderation_queue():
    """Admins: the reports and answers awaiting a decision, with what the screening found."""
    queue = incidents.list_reports_to_moderate(db_session(), page_user())
    return render_template("pages/admin/reports.html", queue=queue)


def _held_message() -> str:
    return _("The screening held this text: to publish it, tick the box confirming you read it and it carries no "
             "personal data. Otherwise reject it.")


def _decision() -> dict[str, object]:
    return {"decision": request.form.get("decision", ""), "override_screening": request.form.get("override") == "on"}


@bp.route("/admin/reports/<int:report_id>/moderation", methods=["POST"])
@login_required
def moderate_report(report_id: int):
    """Admins approve (public) or reject a report; a held one needs the override box ticked."""
    try:
        decided = incidents.moderate_report(db_session(), page_user(), report_id, _decision())
    except Conflict as exc:
        if exc.code != "report_held":
            raise
        flash(_held_message(), "error")
        return redirect(url_for("pages.moderation_queue", _anchor=f"report-{report_id}"), 303)
    flash(_("The report is approved and public.") if decided.moderation.value == "approved"
          else _("The report is rejected; it stays private."), "success")
    return redirect(url_for("pages.moderation_queue"), 303)


@bp.route("/admin/reports/<int:report_id>/answers/<int:answer_id>/moderation", methods=["POST"])
@login_required
def moderate_answer(report_id: int, answer_id: int):
    """Admins approve (with the override) or reject an answer the screening held."""
    try:
        incidents.moderate_answer(db_session(), page_user(), report_id, answer_id, _decision())
    except Conflict as exc:
        if exc.code != "report_held":
            raise
        flash(_held_message(), "error")
        return redirect(url_for("pages.moderation_queue", _anchor=f"report-{report_id}"), 303)
    flash(_("The answer is moderated."), "success")
    return redirect(url_for("pages.moderation_queue"), 303)


@bp.route("/algorithms/<slug>/<version>/reports.atom")
def report_feed(slug: str, version: str):
    """An Atom feed of a released version's public reports, with their states and answers."""
    session = db_session()
    row = version_service.get_version(session, None, slug, version)
    entries = incidents.public_reports(session, slug, version)
    body = render_template("pages/report_feed.xml", row=row, slug=slug, version=version, entries=entries,
                           updated=entries[0].updated_at if entries else row.published_at)
    return Response(body, mimetype="application/atom+xml")
