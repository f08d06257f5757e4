"""The authors' workspace: register an algorithm, upload versions, fix the draft card, publish, yank."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import escape

from audits import requests as audit_requests
from audits import service as audit_service
from boas.context import db_session, policy, storage
from boas.pages import forms, messages, uploads
from boas.pages.auth import login_required, page_user
from boas.pages.blueprint import bp
from boas.pages.i18n import FILTER_TITLES, KINDS, form_errors, localiser
from boas.pages.messages import Field
from boas.registry import algorithms, cards, lifecycle, permissions
from boas.registry import versions as version_service
from boas.registry.storage import Upload
from model_cards import taxonomy
from registry_db.errors import ValidationFailed
from registry_db.models import AlgorithmKind, Role, VersionState

ALGORITHM_OPTIONAL = ("license", "code_repository_url", "code_commit", *taxonomy.VOCABULARIES)


def algorithm_form_data(form, *, create: bool) -> dict[str, Any]:
    """The algorithm form as the service's input: blank optional fields are null."""
    data: dict[str, Any] = {"name": form.get("name", "").strip(), "summary": form.get("summary", "").strip(),
                            "description": form.get("description", "").replace("\r\n", "\n").strip()}
    data.update({name: form.get(name, "").strip() or None for name in ALGORITHM_OPTIONAL})
    if create:
        data.update(slug=form.get("slug", "").strip(), kind=form.get("kind", ""))
    else:
        owners = [line.strip() for line in form.get("owners", "").splitlines() if line.strip()]
        if owners:
            data["owners"] = owners
    return data


def algorithm_fields() -> dict[str, Field]:
    """The algorithm form's controls, by the service's field keys, as its template labels them."""
    found = {"slug": Field("algorithm-slug", _("Identifier in the address")),
             "kind": Field(f"algorithm-kind-{next(iter(KINDS))}", _("Kind of algorithm")),
             "name": Field("algorithm-name", _("Name")), "summary": Field("algorithm-summary", _("Summary (one sentence)")),
             "description": Field("algorithm-description", _("Description (Markdown)")),
             "owners": Field("algorithm-owners", _("Owners (one e-mail address per line)")),
             "license": Field("algorithm-license", _("License (SPDX identifier)")),
             "code_repository_url": Field("algorithm-code_repository_url", _("Public code repository (https)")),
             "code_commit": Field("algorithm-code_commit", _("Commit of the published code"))}
    found.update({name: Field(f"algorithm-{name}", str(FILTER_TITLES[name])) for name in taxonomy.VOCABULARIES})
    return found


def upload_fields(is_model: bool) -> dict[str, Field]:
    """The upload form's controls, as its template labels them."""
    return {"version": Field("upload-version", _("Version number")),
            "artifact": Field("upload-artifact", _("MLflow model directory, as zip or tar.gz") if is_model
                              else _("Code archive, as zip or tar.gz")),
            "card_from": Field("upload-card_from", _("Start from the card of")),
            "fixes_reports": Field("upload-fixes_reports", _("Reports this version fixes (optional)")),
            "card": Field("upload-card", _("Card as JSON (optional)"))}


def _upload_fold(key: str):
    """The archive's own errors (``model``, ``code``, its ``signature``) belong to the file control; a card's
    path is said by the card field's label."""
    head, _dot, rest = key.partition(".")
    if head in ("model", "code", "signature", "paths"):
        return "artifact", None
    if head == "fixes_reports":
        return "fixes_reports", messages.path_words(rest.split("."), localiser()) if rest else None
    if head == "card" and rest:
        return "card", forms.card_path_label(rest, localiser())
    return key, None


@bp.route("/workspace")
@login_required
def workspace():
    """The signed-in home: one's algorithms and drafts, recent audits, and the tasks of one's role."""
    user, session = page_user(), db_session()
    mine = audits = None
    statuses: dict[int, dict[str, Any]] = {}
    if user.role in (Role.AUTHOR, Role.ADMIN):
        mine = algorithms.list_algorithms(session, user, filters={}, q=None, page=1, per_page=100, mine=True)
        statuses = audit_requests.audit_statuses(session, user, [v for a in mine.items for v in a.versions])
    if user.role in (Role.EVALUATOR, Role.ADMIN):
        audits = audit_service.list_audits(session, user)[:10]
    return render_template("pages/workspace/dashboard.html", mine=mine, audits=audits, statuses=statuses)


@bp.route("/workspace/algorithms/new", methods=["GET", "POST"])
@login_required
def new_algorithm():
    """Register an algorithm; its author becomes its owner."""
    user, values = page_user(), {"kind": AlgorithmKind.ML_MODEL.value}
    errors = messages.FormErrors()
    permissions.require_create_algorithm(user)
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            created = algorithms.create_algorithm(db_session(), user, algorithm_form_data(request.form, create=True))
        except ValidationFailed as exc:
            errors = form_errors(exc.errors, algorithm_fields())
        else:
            flash(_("The algorithm is registered. Upload its first version."), "success")
            return redirect(url_for("pages.upload_version", slug=created.slug), 303)
    return render_template("pages/workspace/algorithm_form.html", algorithm=None, values=values,
                           errors=errors, versions=[]), 422 if errors else 200


@bp.route("/workspace/algorithms/<slug>", methods=["GET", "POST"])
@login_required
def manage_algorithm(slug: str):
    """Edit an algorithm's description and taxonomy; list its versions with their actions."""
    user, session = page_user(), db_session()
    found = algorithms.get_algorithm(session, user, slug)
    permissions.require_manage_algorithm(user, found)
    errors = messages.FormErrors()
    if request.method == "POST":
        try:
            algorithms.update_algorithm(session, user, slug, algorithm_form_data(request.form, create=False))
        except ValidationFailed as exc:
            errors = form_errors(exc.errors, algorithm_fields())
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("pages.manage_algorithm", slug=slug), 303)
    values = request.form.to_dict() if errors else {
        **{name: getattr(found, name) or "" for name in ("name", "summary", "description", *ALGORITHM_OPTIONAL)},
        "owners": "\n".join(owner.email for owner in found.owners),
    }
    versions = version_service.list_versions(session, user, slug)
    return render_template("pages/workspace/algorithm_form.html", algorithm=found, values=values, errors=errors,
                           versions=versions, statuses=audit_requests.audit_statuses(session, user, versions)), \
        422 if errors else 200


@bp.route("/workspace/algorithms/<slug>/versions/new", methods=["GET", "POST"])
@login_required
def upload_version(slug: str):
    """Upload a version's model archive (ML) or code archive (rule-based); the plain form works without JS."""
    user, session = page_user(), db_session()
    found = algorithms.get_algorithm(session, user, slug)
    permissions.require_manage_algorithm(user, found)
    errors = messages.FormErrors()
    values = request.form.to_dict()
    is_model = found.kind == AlgorithmKind.ML_MODEL
    if request.method == "POST":
        upload = request.files.get("artifact")
        artifact = Upload(upload.stream, upload.filename) if upload and upload.filename else None
        try:
            if uploads.is_dry_run():
                version_service.check_version_upload(
                    session, user, slug, version=values.get("version", "").strip(),
                    card_json=values.get("card") or None, card_from=values.get("card_from") or None)
                return uploads.checked()
            created = version_service.create_version(
                session, user, storage(), slug, version=values.get("version", "").strip(),
                card_json=values.get("card") or None, card_from=values.get("card_from") or None,
                model=artifact if is_model else None, code=None if is_model else artifact,
                fixes_reports=re.findall(r"[^,;\s]+", values.get("fixes_reports", "")))
        except ValidationFailed as exc:
            errors = form_errors(exc.errors, upload_fields(is_model), fold=_upload_fold)
        else:
            flash(_("Version %(version)s is uploaded as a draft. Complete its card.", version=created.version),
                  "success")
            return uploads.after_upload(url_for("pages.draft", slug=slug, version=created.version))
    versions = version_service.list_versions(session, user, slug)
    return render_template("pages/workspace/upload.html", algorithm=found, versions=versions, values=values,
                           errors=errors), 422 if errors else 200


def _checklist(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Baseline items not yet satisfied, each with where to fix it."""
    items = []
    for pillar in report["pillars"].values():
        for item in pillar["items"]:
            if not item["satisfied"]:
                kind, anchor = forms.fix_link(item["path"])
                items.append({**item, "fix": kind, "anchor": anchor})
    return sorted(items, key=lambda i: not i["mandatory"])


@bp.route("/workspace/algorithms/<slug>/<version>", methods=["GET", "POST"])
@login_required
def draft(slug: str, version: str):
    """The draft editor: the baseline checklist, each missing item linked to its field, and the card form."""
    user, session = page_user(), db_session()
    row = version_service.get_version(session, user, slug, version)
    permissions.require_manage_algorithm(user, row.algorithm)
    if row.state != VersionState.DRAFT:
        flash(_("This version is released: its card is frozen. Upload a new version to change it."), "info")
        return redirect(url_for("pages.card", slug=slug, version=version))
    errors = messages.FormErrors()
    raw: dict[str, str] | None = None
    adding = request.method == "POST" and request.form.get("add_metric_row") == "1"
    if request.method == "POST":
        patch, own, raw = forms.parse_card_form(request.form, g.lang)
        localise = localiser()
        # The form's own messages are already in the page's language (escape() marks them so).
        errors = form_errors({path: [escape(m) for m in found] for path, found in own.items()},
                             forms.card_fields(localise.lang), fold=forms.card_fold(localise))
        if not errors and not adding:  # "add a row" redraws the form with one more row, saving nothing
            try:
                cards.update_card(session, user, slug, version, patch)
            except ValidationFailed as exc:
                errors = form_errors(exc.errors, forms.card_fields(localise.lang), fold=forms.card_fold(localise))
            else:
                flash(_("Card saved."), "success")
                return redirect(url_for("pages.draft", slug=slug, version=version, _anchor="checklist"), 303)
    report = cards.baseline_report(session, user, policy(), slug, version)
    values = raw if raw is not None else {f.path: forms.display_value(f, row.card or {}) for f in forms.all_fields()}
    metric_rows = values.get(f"{forms.METRICS_PATH}.rows")
    if metric_rows is None:
        metric_rows = forms.metric_rows(row.card or {}, g.lang)
    return render_template(
        "pages/workspace/draft.html", row=row, report=report,
        audit_status=audit_requests.version_audit_status(session, user, slug, version), checklist=_checklist(report),
        values=values, metric_rows=metric_rows, blank_rows=2 if adding else 1, metric_columns=forms.METRIC_COLUMNS,
        errors=errors, sections=forms.form_sections(), derived=set(
            ((row.card or {}).get("derived") or {}).get("fields") or []),
    ), 422 if errors else 200


@bp.route("/workspace/algorithms/<slug>/<version>/publish", methods=["POST"])
@login_required
def publish(slug: str, version: str):
    """Publish a draft once the author has ticked the confirmation; below the baseline the checklist says what is missing.

    Publishing cannot be undone (a version can be withdrawn, never changed), so the form asks for an explicit
    confirmation, checked here too: a form posted without it publishes nothing.
    """
    if request.form.get("confirm") != "1":
        flash(_("Tick the confirmation to publish: a published version can be withdrawn, never changed."), "error")
        return redirect(url_for("pages.draft", slug=slug, version=version, _anchor="publish"), 303)
    try:
        lifecycle.publish_version(db_session(), page_user(), policy(), slug, version)
    except ValidationFailed:
        flash(_("The card does not meet the quality baseline yet: fix the items of the checklist."), "error")
        return redirect(url_for("pages.draft", slug=slug, version=version, _anchor="checklist"), 303)
    flash(_("Version %(version)s is published.", version=version), "success")
    return redirect(url_for("pages.card", slug=slug, version=version), 303)


@bp.route("/workspace/algorithms/<slug>/<version>/yank", methods=["POST"])
@login_required
def yank(slug: str, version: str):
    """Withdraw a published version, with the reason shown on its card."""
    try:
        lifecycle.yank_version(db_session(), page_user(), slug, version, request.form.get("reason", ""))
    except ValidationFailed:
        flash(_("Say why the version is withdrawn."), "error")
    else:
        flash(_("Version %(version)s is withdrawn.", version=version), "success")
    return redirect(url_for("pages.manage_algorithm", slug=slug), 303)


@bp.route("/workspace/algorithms/<slug>/<version>/unyank", methods=["POST"])
@login_required
def unyank(slug: str, version: str):
    """Reverse a withdrawal."""
    lifecycle.unyank_version(db_session(), page_user(), slug, version)
    flash(_("Version %(version)s is published again.", version=version), "success")
    return redirect(url_for("pages.manage_algorithm", slug=slug), 303)
