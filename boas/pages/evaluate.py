"""The evaluators' workspace: reference datasets, uploaded predictions, audit launches and job progress."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from marshmallow import fields

from audits import dataset_imports, datasets, healthdcat, prefill
from audits import service as audit_service
from audits.schemas import AuditRequestSchema, DatasheetSchema
from audits.suppression.tiers import MIN_CELL
from boas.context import db_session, enqueue, policy, runtime, storage
from boas.pages import uploads
from boas.pages.auth import login_required, page_user
from boas.pages.blueprint import bp
from boas.pages.card import audit_sections
from boas.pages.i18n import (
    HEALTH_CATEGORIES,
    HEALTHDCAT_MISSING,
    JOB_STATUSES,
    PUBLISHER_TYPES,
    STATES,
    conflict_message,
    form_errors,
    localiser,
)
from boas.pages.messages import Field, FormErrors, path_words
from boas.registry import algorithms, permissions
from boas.registry.permissions import ConflictOfInterest
from boas.security import report_response
from registry_db.errors import NotFound, ValidationFailed

# The datasheet's HealthDCAT-AP part (the EHDS catalogue), a fieldset of its own: texts, lists (one item per
# line), whole numbers, the categories' checkboxes and the trusted-holder choice.
HEALTHDCAT_TEXT = ("purpose", "provenance", "publisher_note", "publisher_type", "publisher_homepage", "contact_email")
HEALTHDCAT_LISTS = ("health_themes", "coding_systems", "spatial", "keywords")
HEALTHDCAT_NUMBERS = ("min_typical_age", "max_typical_age", "unique_individuals")
# The datasheet form's text fields, read from the schema the service validates with (the checkbox is apart).
_DATASHEET_TEXT = {name: f for name, f in DatasheetSchema().fields.items()
                   if isinstance(f, fields.String) and name not in HEALTHDCAT_TEXT}
DATASHEET_REQUIRED = tuple(name for name, f in _DATASHEET_TEXT.items() if f.required)
DATASHEET_OPTIONAL = tuple(name for name, f in _DATASHEET_TEXT.items() if not f.required)
TARGETS_MAX = 100
# The audit form's number fields and how they parse, read from the schema the service validates with.
AUDIT_NUMBERS = {name: int if isinstance(f, fields.Integer) else float
                 for name, f in AuditRequestSchema().fields.items() if isinstance(f, fields.Number)}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def dataset_metadata(form) -> dict[str, Any]:
    """The dataset form as the service's metadata: columns, and the datasheet (Gebru et al.)."""
    sheet: dict[str, Any] = {name: form.get(name, "").strip() for name in DATASHEET_REQUIRED}
    sheet.update({name: form.get(name, "").strip() for name in DATASHEET_OPTIONAL if form.get(name, "").strip()})
    sheet["synthetic"] = form.get("synthetic") == "on"
    sheet.update(healthdcat_fields(form))
    return {"name": form.get("name", "").strip(), "label_column": form.get("label_column", "").strip() or None,
            "sensitive_columns": _split(form.get("sensitive_columns", "")),
            "row_key": form.get("row_key", "").strip() or None, "datasheet": sheet,
            "labels": column_labels(form.get("labels", ""))}


def _whole(text: str) -> int | str:
    """A whole number typed in a form as an int; anything else as typed, for the service to refuse on its field."""
    return int(text) if text.lstrip("-").isdigit() and len(text) < 15 else text


def healthdcat_fields(form) -> dict[str, Any]:
    """The HealthDCAT-AP fieldset as datasheet entries; a field left empty is left out (not declared)."""
    sheet: dict[str, Any] = {}
    if categories := [c for c in form.getlist("health_categories") if c]:
        sheet["health_categories"] = categories
    for name in HEALTHDCAT_LISTS:
        text = form.get(name, "")
        items = _split(text) if name == "keywords" else text.split()
        if items:
            sheet[name] = items
    for name in HEALTHDCAT_NUMBERS:
        if text := form.get(name, "").strip():
            sheet[name] = _whole(text)
    for name in HEALTHDCAT_TEXT:
        if text := form.get(name, "").strip():
            sheet[name] = text
    if form.get("trusted_data_holder") in ("yes", "no"):
        sheet["trusted_data_holder"] = form["trusted_data_holder"] == "yes"
    return sheet


def column_labels(text: str) -> dict[str, dict[str, str]]:
    """"column = libellé / label" lines as {column: {"fr": ..., "en": ...}}; the English label may be left out.
    A line without "=" becomes a column with an empty label, which the service refuses on the field."""
    labels: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        column, _eq, names = line.partition("=")
        french, _slash, english = names.partition("/")
        labels[column.strip()] = {"fr": french.strip(), **({"en": english.strip()} if english.strip() else {})}
    return labels


def datasheet_labels() -> dict[str, str]:
    """The datasheet's questions, as the dataset form asks them."""
    return {"motivation": _("Motivation: why the dataset exists"), "source": _("Source of the data"),
            "population": _("Population covered"), "collection_period": _("Collection period"),
            "preprocessing": _("Preprocessing and cleaning"), "coverage": _("Geographic and temporal coverage"),
            "access_conditions": _("Access conditions"), "labelling": _("How the outcome was labelled"),
            "maintenance": _("Maintenance")}


def dataset_fields() -> dict[str, Field]:
    """The dataset form's controls, by the service's field keys (the datasheet's under ``datasheet.``)."""
    found = {"file": Field("dataset-file", _("Data file")), "name": Field("dataset-name", _("Name")),
             "label_column": Field("dataset-label_column", _("Outcome column (0/1)")),
             "sensitive_columns": Field("dataset-sensitive_columns", _("Sensitive columns, separated by commas")),
             "labels": Field("dataset-labels", _("Display names of columns (optional)")),
             "row_key": Field("dataset-row_key", _("Row identifier column"))}
    found.update({f"datasheet.{name}": Field(f"dataset-{name}", label) for name, label in datasheet_labels().items()})
    found.update({f"datasheet.{name}": Field(f"dataset-{name}", label) for name, label in healthdcat_labels().items()})
    return found


def healthdcat_labels() -> dict[str, str]:
    """The HealthDCAT-AP fieldset's controls, as the dataset form labels them."""
    return {"health_categories": _("Health categories (EHDS regulation, Article 51)"),
            "health_themes": _("Health themes (Wikidata entities)"),
            "keywords": _("Keywords, separated by commas"), "purpose": _("Purpose of the data"),
            "provenance": _("Provenance statement"), "spatial": _("Geographic area (addresses of places)"),
            "min_typical_age": _("Typical minimum age (years)"), "max_typical_age": _("Typical maximum age (years)"),
            "unique_individuals": _("Number of distinct people"),
            "coding_systems": _("Coding systems (Wikidata entities)"),
            "publisher_homepage": _("Publisher’s homepage"), "contact_email": _("Publisher’s contact e-mail"),
            "publisher_note": _("Note on the publisher"), "publisher_type": _("Type of publisher"),
            "trusted_data_holder": _("Is the publisher a trusted health data holder (EHDS regulation, Article 72)?")}


def _dataset_fold(metadata: dict[str, Any]):
    """How the dataset form folds a service error's key onto its controls. A column's label
    (``labels.dep.value.fr.value``) is said by its column; columns the table lacks (``metadata``) name
    themselves in the message; a sensitive column's index in the list adds nothing; one item of a datasheet
    list (``datasheet.health_themes.2``) goes on the list's control, quoting the item refused."""
    sheet = metadata.get("datasheet") or {}

    def fold(key: str):
        head, _dot, rest = key.partition(".")
        if head == "metadata" or key == "datasheet":
            return None, None
        if head in ("labels", "sensitive_columns"):
            return head, path_words([part for part in rest.split(".") if not part.isdigit()], localiser())
        parts = key.split(".")
        if head == "datasheet" and len(parts) == 3 and parts[2].isdigit():
            items = sheet.get(parts[1])
            index = int(parts[2])
            if isinstance(items, list) and index < len(items):
                return f"datasheet.{parts[1]}", Markup('<span translate="no">{}</span>').format(items[index])
            return f"datasheet.{parts[1]}", path_words([parts[2]], localiser())
        return key, None

    return fold


def _errors(own: dict[str, list[str]]) -> dict[str, list]:
    """The page's own messages, already in the page's language (escape() marks them so)."""
    return {key: [escape(m) for m in found] for key, found in own.items()}


def _targets(user) -> list[tuple[str, str]]:
    """(slug@version, label) of the versions an evaluator may audit, newest algorithms first."""
    page = algorithms.list_algorithms(db_session(), user, filters={}, q=None, page=1, per_page=TARGETS_MAX,
                                    sort="created")
    return [(f"{a.slug}@{v.version}", f"{a.name} — {v.version} ({str(STATES[v.state.value]).lower()})")
            for a in page.items for v in sorted(a.versions, key=lambda v: v.created_at, reverse=True)]


@bp.route("/workspace/datasets")
@login_required
def datasets_list():
    """Reference datasets: schema, size and digest (never downloadable)."""
    rows = datasets.list_datasets(db_session(), page_user())
    missing = datasets.healthdcat_missing_by_dataset(rows, datasets.configured_hdab(policy()))
    user = page_user()
    may_import = user is not None and user.role.value == "admin" and storage().imports.enabled
    return render_template("pages/evaluate/datasets.html", datasets=rows, missing=missing,
                           missing_labels=HEALTHDCAT_MISSING, may_import=may_import)


def _jsonld(document: dict[str, Any], filename: str) -> Response:
    response = Response(json.dumps(document, ensure_ascii=False, indent=2) + "\n", mimetype="application/ld+json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/workspace/datasets/healthdcat-ap.jsonld")
@login_required
def datasets_healthdcat():
    """The datasets' metadata as a HealthDCAT-AP catalogue, for signed-in evaluators (the API's service)."""
    document = datasets.catalogue_healthdcat(db_session(), page_user(), policy().public_base_url,
                                           datasets.configured_hdab(policy()))
    return _jsonld(document, "boas-datasets-healthdcat-ap.jsonld")


@bp.route("/workspace/datasets/<int:dataset_id>/healthdcat-ap.jsonld")
@login_required
def dataset_healthdcat(dataset_id: int):
    """One dataset's metadata (never its rows) as HealthDCAT-AP JSON-LD, for signed-in evaluators."""
    document = datasets.dataset_healthdcat(db_session(), page_user(), dataset_id, policy().public_base_url,
                                         datasets.configured_hdab(policy()))
    return _jsonld(document, f"dataset-{dataset_id}-healthdcat-ap.jsonld")


@bp.route("/workspace/datasets/new", methods=["GET", "POST"])
@login_required
def new_dataset():
    """Upload a reference dataset (CSV or Parquet) with its datasheet."""
    user = page_user()
    datasets.require_evaluator(user)
    errors = FormErrors()
    if request.method == "POST":
        upload = request.files.get("file")
        metadata = dataset_metadata(request.form)
        if uploads.is_dry_run():
            try:
                datasets.check_dataset_metadata(user, metadata)
            except ValidationFailed as exc:
                errors = form_errors(exc.errors, dataset_fields(), fold=_dataset_fold(metadata))
            else:
                return uploads.checked()
        elif upload is None or not upload.filename:
            errors = form_errors(_errors({"file": [_("Choose a CSV or Parquet file.")]}), dataset_fields())
        else:
            try:
                created = datasets.create_dataset(db_session(), user, storage(), stream=upload.stream,
                                                  filename=upload.filename, metadata=metadata)
            except ValidationFailed as exc:
                errors = form_errors(exc.errors, dataset_fields(), fold=_dataset_fold(metadata))
            else:
                flash(_("Dataset “%(name)s” is uploaded (%(rows)s rows).", name=created.name,
                        rows=created.row_count), "success")
                return uploads.after_upload(url_for("pages.new_audit", dataset=created.id))
    return _dataset_form(request.form.to_dict(), errors), 422 if errors else 200


def _dataset_form(values: dict[str, Any], errors: FormErrors, **mode: Any) -> str:
    """The dataset form, for an upload or (``importing``) a registration in place."""
    return render_template("pages/evaluate/dataset_form.html", values=values, errors=errors,
                           required=DATASHEET_REQUIRED, optional=DATASHEET_OPTIONAL, labels=datasheet_labels(),
                           chosen_categories=request.form.getlist("health_categories"),
                           categories=HEALTH_CATEGORIES, publisher_types=PUBLISHER_TYPES, min_cell=MIN_CELL,
                           coding_examples=", ".join(f"{iri} ({name})" for iri, name
                                                     in healthdcat.CODING_SYSTEM_SUGGESTIONS.items()), **mode)


@bp.route("/workspace/datasets/import", methods=["GET", "POST"])
@login_required
def import_dataset():
    """Register a reference dataset already on the server (a configured directory or bucket): admins only."""
    user = page_user()
    permissions.require_import_dataset(user)
    errors = FormErrors()
    if request.method == "POST":
        metadata = dataset_metadata(request.form)
        try:
            created = dataset_imports.register_dataset_from_source(
                db_session(), user, storage(), source=request.form.get("location", "").strip(), metadata=metadata)
        except ValidationFailed as exc:
            fields = {**dataset_fields(), "source": Field("dataset-location", _("Location on the server"))}
            errors = form_errors(exc.errors, fields, fold=_dataset_fold(metadata))
        else:
            flash(_("Dataset “%(name)s” is registered (%(rows)s rows).", name=created.name,
                    rows=created.row_count), "success")
            return redirect(url_for("pages.new_audit", dataset=created.id), 303)
    imports = storage().imports
    places = [f"file:{root.name}/…" for root in imports.roots] + [f"{place}…" for place in imports.s3]
    return _dataset_form(request.form.to_dict(), errors, importing=True, places=places), 422 if errors else 200


@bp.route("/workspace/predictions/new", methods=["GET", "POST"])
@login_required
def new_predictions():
    """Upload a version's predictions on a dataset (rule-based or black-box algorithms)."""
    user, session = page_user(), db_session()
    datasets.require_evaluator(user)
    errors: dict[str, list[Any]] = {}
    refusal = None
    values = {**request.args.to_dict(), **request.form.to_dict()}
    if request.method == "POST":
        upload = request.files.get("file")
        slug, _sep, version = values.get("target", "").partition("@")
        metadata = {"dataset": values.get("dataset") or None, "algorithm": slug, "version": version,
                    "description": values.get("description", "")}
        if not slug or not version:  # nothing is preselected: the evaluator picks the version
            errors["target"] = [escape(_("Choose the algorithm version these predictions come from."))]
        if (upload is None or not upload.filename) and not uploads.is_dry_run():
            errors["file"] = [escape(_("Choose a CSV or Parquet file."))]
        if not errors and uploads.is_dry_run():
            try:
                datasets.check_prediction_metadata(session, user, metadata)
            except ConflictOfInterest as exc:
                refusal = conflict_message(exc)
            except ValidationFailed as exc:
                errors = {("target" if key in ("algorithm", "version") else key): m for key, m in exc.errors.items()}
            else:
                return uploads.checked()
        elif not errors:
            try:
                created = datasets.create_prediction_set(session, user, storage(), stream=upload.stream,
                                                         filename=upload.filename, metadata=metadata)
            except ConflictOfInterest as exc:
                refusal = conflict_message(exc)
            except ValidationFailed as exc:
                errors = {("target" if key in ("algorithm", "version") else key): m for key, m in exc.errors.items()}
            else:
                flash(_("Predictions are uploaded (%(rows)s rows).", rows=created.row_count), "success")
                return uploads.after_upload(url_for("pages.new_audit", kind="bias", target=values["target"],
                                                    dataset=created.dataset_id, predictions=created.id))
    return render_template("pages/evaluate/predictions_form.html", values=values, refusal=refusal,
                           errors=form_errors(errors, predictions_fields()),
                           targets=_targets(user), datasets=datasets.list_datasets(session, user)), \
        403 if refusal else 422 if errors else 200


def predictions_fields() -> dict[str, Field]:
    """The predictions form's controls, as its template labels them."""
    return {"target": Field("predictions-target", _("Algorithm version")),
            "dataset": Field("predictions-dataset", _("Reference dataset")),
            "file": Field("predictions-file", _("Predictions file (CSV or Parquet)")),
            "description": Field("predictions-description", _("Description"))}


def audit_fields() -> dict[str, Field]:
    """The audit launch form's controls, as its template labels them (the version's errors on its target)."""
    target = Field("audit-target", _("Algorithm version"))
    return {"algorithm": target, "version": target, "kind": Field("audit-kind-bias", _("Kind of audit")),
            "dataset": Field("audit-dataset", _("Reference dataset")),
            "predictions": Field("audit-predictions", _("Uploaded predictions (number)")),
            "sensitive_features": Field("audit-sensitive_features", _("Sensitive features, separated by commas")),
            "intersections": Field("audit-intersections", _("Also audit pairs of features (intersections)")),
            "reference_group": Field("audit-reference_group",
                                     _("Reference groups (feature=value, one per line)")),
            "tolerance": Field("audit-tolerance", _("Tolerance τ (a ratio passes within [1 − τ, 1 / (1 − τ)])")),
            "threshold": Field("audit-threshold", _("Decision threshold on scores")),
            "min_group_size": Field("audit-min_group_size", _("Smallest group judged")),
            "n_boot": Field("audit-n_boot", _("Bootstrap resamples")), "seed": Field("audit-seed", _("Random seed")),
            "current_dataset": Field("audit-current_dataset", _("Current dataset")),
            "columns": Field("audit-columns", _("Columns to compare, separated by commas"))}


def audit_request(form) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The launch form as the service's audit request; numbers that do not parse are reported per field."""
    slug, _sep, version = form.get("target", "").partition("@")
    request_data: dict[str, Any] = {"kind": form.get("kind", "bias"), "algorithm": slug or None,
                                    "version": version or None, "intersections": form.get("intersections") == "on"}
    errors: dict[str, list[Any]] = {}
    for name, cast in AUDIT_NUMBERS.items():
        raw = form.get(name, "").strip().replace(",", ".")
        if raw:
            try:
                request_data[name] = cast(raw)
            except ValueError:
                errors[name] = [escape(_("Enter a number."))]
    if request_data["kind"] == "bias":
        request_data["sensitive_features"] = _split(form.get("sensitive_features", ""))
        pairs = [line.partition("=") for line in form.get("reference_group", "").splitlines() if "=" in line]
        if pairs:
            request_data["reference_group"] = {k.strip(): v.strip() for k, _eq, v in pairs}
    elif _split(form.get("columns", "")):
        request_data["columns"] = _split(form.get("columns", ""))
    return request_data, errors


@bp.route("/workspace/audits")
@login_required
def audits_list():
    """Every audit job, newest first."""
    return render_template("pages/evaluate/audits.html", audits=audit_service.list_audits(db_session(), page_user()))


@bp.route("/workspace/audits/new", methods=["GET", "POST"])
@login_required
def new_audit():
    """Launch a bias audit or a drift report; the job page then follows its progress."""
    user, session = page_user(), db_session()
    datasets.require_evaluator(user)
    errors: dict[str, list[Any]] = {}
    refusal = None
    values = {"kind": "bias", "tolerance": "0.2", "n_boot": "1000", "seed": "0", "threshold": "0.5",
              **request.args.to_dict(), **request.form.to_dict()}
    prefilled = None
    if request.method == "GET" and (values.get("dataset") or values.get("target")):
        prefilled = _prefill(session, user, values)
    if request.method == "POST":
        data, errors = audit_request(request.form)
        if not errors:
            try:
                job, _cached = audit_service.create_audit(session, user, data, enqueue,
                                                          allow_code=runtime().settings.sandbox_allow_code)
            except ConflictOfInterest as exc:
                refusal = conflict_message(exc)
            except ValidationFailed as exc:
                errors = exc.errors
            else:
                return redirect(url_for("pages.job", job_id=job.id), 303)
    return render_template("pages/evaluate/audit_form.html", values=values, refusal=refusal,
                           errors=form_errors(errors, audit_fields(), fold=_audit_fold),
                           targets=_targets(user), datasets=datasets.list_datasets(session, user),
                           prefilled=prefilled), 403 if refusal else 422 if errors else 200


def _audit_fold(key: str):
    """A list's item (``sensitive_features.0``) or a mapping's entry names itself; the rest is the control's."""
    head, _dot, rest = key.partition(".")
    return head, path_words(rest.split("."), localiser()) if rest else None


def _prefill(session, user, values: dict[str, str]) -> dict[str, Any] | None:
    """Fill the empty sensitive-feature and reference-group fields from the dataset's declaration and the
    algorithm's earlier audits (``audits.prefill``); the form says where each value comes from."""
    slug, _sep, version = values.get("target", "").partition("@")
    try:
        dataset = int(values["dataset"]) if values.get("dataset") else None
        found = prefill.audit_prefill(session, user, algorithm=slug or None, version=version or None, dataset=dataset)
    except (ValueError, NotFound):
        return None  # a stale link: the form opens empty, and the launch will say what is wrong
    if not values.get("sensitive_features") and found["sensitive_features"]:
        values["sensitive_features"] = ", ".join(found["sensitive_features"])
    else:
        found["sensitive_source"] = None
    if not values.get("reference_group") and found["reference_group"]:
        values["reference_group"] = "\n".join(f"{k}={v}" for k, v in found["reference_group"].items())
    else:
        found["reference_sources"] = {}
    return found


@bp.route("/workspace/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    """A job's progress, then its full results (before they are public, for those who may see them)."""
    user, session = page_user(), db_session()
    audit = audit_service.get_audit(session, user, job_id)
    return render_template("pages/evaluate/job.html", audit=audit, section=audit_sections([audit])[0],
                           done=audit["status"] in ("succeeded", "failed"))


@bp.route("/workspace/jobs/<int:job_id>/report")
@login_required
def job_report(job_id: int):
    """The Evidently report for the sandboxed frame of signed-in evaluators and authors."""
    return report_response(audit_service.open_report(db_session(), page_user(), storage(), job_id))


@bp.route("/workspace/jobs/<int:job_id>/status")
@login_required
def job_status(job_id: int):
    """The job's state as JSON for the page's progress poll (session cookie; the API keeps bearer tokens)."""
    audit = audit_service.get_audit(db_session(), page_user(), job_id)
    response = jsonify({"id": audit["id"], "status": audit["status"], "progress": audit["progress"],
                        "status_label": str(JOB_STATUSES.get(audit["status"], audit["status"])),
                        "error": audit["error"], "done": audit["status"] in ("succeeded", "failed")})
    response.headers["Cache-Control"] = "no-store"
    return response
