"""Language from the URL prefix (then the cookie, then Accept-Language), and locale-aware formatting."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, has_request_context, request, url_for
from flask_babel import Babel, format_date, format_datetime, format_decimal, format_percent, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from boas.pages.blueprint import LANGS, bp
from boas.pages.messages import Field, FormErrors, Localiser, localise_errors
from boas.registry.permissions import ConflictOfInterest
from model_cards import taxonomy
from model_cards.vocabularies import CARD_VOCABULARIES, label
from registry_db.models import (
    AlgorithmKind,
    AuditKind,
    JobStatus,
    Moderation,
    OrganisationKind,
    ReportKind,
    ReportState,
    Role,
    VersionState,
)

COOKIE = "boas_lang"
PRIVATE_PAGE = "private, no-cache"  # what a page is unless it says otherwise (pages.init_app lifts it for public ones)
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"

# Labels of the models' enums, keyed by their values (a test checks every value has one).
ORGANISATION_KINDS = {
    OrganisationKind.RESEARCH_BODY.value: _l("Research body"),
    OrganisationKind.DATA_PLATFORM.value: _l("Data platform"),
    OrganisationKind.ADMINISTRATION.value: _l("Administration"),
    OrganisationKind.HOSPITAL.value: _l("Hospital"),
    OrganisationKind.COMPANY.value: _l("Company"),
    OrganisationKind.OTHER.value: _l("Other"),
}
KINDS = {AlgorithmKind.ML_MODEL.value: _l("Machine-learning model"),
         AlgorithmKind.RULE_BASED.value: _l("Rule-based algorithm")}
STATES = {VersionState.DRAFT.value: _l("Draft"), VersionState.PUBLISHED.value: _l("Published"),
          VersionState.YANKED.value: _l("Withdrawn (yanked)")}
ROLES = {Role.ADMIN.value: _l("Administrator"), Role.AUTHOR.value: _l("Author"), Role.EVALUATOR.value: _l("Evaluator")}
JOB_STATUSES = {JobStatus.QUEUED.value: _l("Queued"), JobStatus.RUNNING.value: _l("Running"),
                JobStatus.SUCCEEDED.value: _l("Finished"), JobStatus.FAILED.value: _l("Failed")}
# A sandbox failure, as authors and the public read it: never the model's own words (audits.sandbox_child).
FAILURES = {
    "timeout": _l("the model ran past its time limit."),
    "memory": _l("the model ran past its memory limit."),
    "refused_format": _l("this model is not executed here: it carries code, or the isolation it needs is "
                         "missing. Audit it from uploaded predictions."),
    "crash": _l("the model failed while it was loaded or while it predicted."),
    "wrong_output_shape": _l("the model did not give one 0/1 label or probability per row."),
}
# Why a model is audited from predictions only (boas.registry.artifacts.execution.REASONS).
EXECUTION_REASONS = {
    "pickle": _l("a file holds a pickle, which runs code when it is loaded"),
    "python_source": _l("the model ships Python source or compiled code"),
    "custom_loader": _l("it names its own loader module"),
    "code_directory": _l("it carries a code directory"),
    "model_from_code": _l("it is a model from code"),
    "unsupported_format": _l("its serialisation is none of skops, ONNX, or a native XGBoost or LightGBM file"),
    "untrusted_type": _l("its skops file asks for a type outside BOAS’s trusted list"),
    "unknown_flavour": _l("it uses an MLflow flavour BOAS does not execute"),
}
REPORT_KINDS = {ReportKind.PERFORMANCE.value: _l("Performance problem"), ReportKind.BIAS.value: _l("Suspected bias"),
                ReportKind.SAFETY.value: _l("Safety incident"),
                ReportKind.DOCUMENTATION.value: _l("Documentation error"), ReportKind.OTHER.value: _l("Other")}
REPORT_STATES = {ReportState.OPEN.value: _l("Open"), ReportState.ACKNOWLEDGED.value: _l("Acknowledged"),
                 ReportState.RESOLVED.value: _l("Resolved"), ReportState.DECLINED.value: _l("Declined")}
MODERATIONS = {Moderation.PENDING.value: _l("Awaiting moderation"), Moderation.APPROVED.value: _l("Public"),
               Moderation.REJECTED.value: _l("Rejected by moderation")}
# The EHDS health categories (audits.healthdcat.HEALTH_CATEGORIES), as the dataset form offers them.
HEALTH_CATEGORIES = {
    "EHRS": _l("Electronic health data from electronic health records"),
    "HRAD": _l("Healthcare-related administrative data (dispensations, reimbursement claims, reimbursements)"),
    "HGPD": _l("Human genetic, epigenomic and genomic data"),
    "HPML": _l("Other human molecular data (proteomic, transcriptomic, metabolomic, lipidomic, other omic data)"),
    "PGEH": _l("Personal electronic health data automatically generated through medical devices"),
    "WELA": _l("Data from wellness applications"),
    "IDHP": _l("Data on the professional status, specialisation and institution of health professionals"),
    "PHDR": _l("Population-based health data registries (public health registries)"),
    "MRMR": _l("Medical registries and mortality registries"),
    "EHCT": _l("Clinical trials, clinical studies, clinical investigations and performance studies"),
    "EMRD": _l("Other health data from medical devices"),
    "RMMD": _l("Registries for medicinal products and medical devices"),
    "RQSH": _l("Research cohorts, questionnaires and surveys related to health, after first publication of results"),
    "EINS": _l("Biobanks and associated databases"),
    "DIOH": _l("Factors impacting health (socio-economic, environmental and behavioural determinants)"),
    "NRPE": _l("Aggregated data on healthcare needs, resources, provision of and access to care, expenditure and "
               "financing"),
    "RPDG": _l("Data on pathogens that impact human health"),
}
# HealthDCAT-AP's publisher types (audits.healthdcat.PUBLISHER_TYPES), as the dataset form offers them.
PUBLISHER_TYPES = {
    "public-health-institute": _l("Public health institute"),
    "research-institute-org": _l("Research institute or organisation"),
    "national-authority": _l("National authority"),
    "regional-authority": _l("Regional authority"),
    "university": _l("University"),
    "public-health-registry": _l("Public health registry"),
    "public-health-org": _l("Public health organisation"),
    "stat-agency": _l("Statistics agency"),
    "biobank": _l("Biobank"),
    "inpatient-institute": _l("Inpatient institution or hospital"),
    "laboratory": _l("Laboratory"),
    "private-company": _l("Private company"),
    "gov-public-sector-org": _l("Government or public-sector organisation"),
    "healthcare-providers": _l("Healthcare provider"),
    "health-insurance-company-org": _l("Health insurance company or organisation"),
    "pharma-company": _l("Pharmaceutical company"),
    "private-sector-entities": _l("Private-sector entity"),
    "health-technology-manufacturer": _l("Manufacturer of health applications or technology"),
    "software-manufacturer": _l("Software manufacturer"),
    "pharmacy": _l("Pharmacy"),
    "research-infra": _l("Research infrastructure"),
    "administrative-institution": _l("Administrative institution"),
    "outpatient-institute": _l("Outpatient institution"),
    "national-cancer-institute": _l("National cancer institute"),
    "municipality-or-other-area": _l("Municipality or other area"),
    "research-academic-org": _l("Research or academic organisation"),
    "non-gov-org": _l("Non-governmental organisation"),
    "primary-care-org": _l("Primary care organisation"),
    "mental-health-org": _l("Mental health organisation"),
    "not-for-profit-org": _l("Not-for-profit organisation"),
    "other-government-agency": _l("Other government agency"),
    "other-company": _l("Other company collecting health data"),
    "other-public-institute": _l("Other public institute collecting health data"),
    "quality-registry": _l("Quality registry"),
    "pathology-registry": _l("Pathology registry"),
    "private-health-insurance": _l("Private health insurance"),
}
# The mandatory HealthDCAT-AP properties a dataset's export may lack (audits.healthdcat.MANDATORY), named.
HEALTHDCAT_MISSING = {
    "healthdcatap:healthCategory": _l("health category"),
    "healthdcatap:healthTheme": _l("health theme"),
    "dcat:keyword": _l("keywords"),
    "dpv:hasPurpose": _l("purpose"),
    "dct:spatial": _l("geographic area (place IRI)"),
    "dct:publisher/foaf:homepage": _l("publisher’s homepage"),
    "dct:publisher/foaf:mbox": _l("publisher’s contact e-mail"),
    "dct:publisher/healthdcatap:publisherNote": _l("note on the publisher"),
    "dct:publisher/healthdcatap:trustedDataHolder": _l("whether the publisher is a trusted data holder"),
    "dct:publisher/healthdcatap:publisherType": _l("publisher type"),
    "dcat:contactPoint/vcard:hasEmail": _l("contact point’s e-mail"),
    "healthdcatap:hdab": _l("Health Data Access Body (instance setting, BOAS_HDAB_*)"),
    "adms:sample": _l("sample distribution (BOAS never distributes rows)"),
}
# What the identifier screening found in a text (audits.identifiers.DETECTORS), as its writer is told.
DETECTOR_LABELS = {
    "column_name": _l("an identifying name"),
    "nir": _l("a social security number (NIR)"),
    "date_of_birth": _l("a date of birth"),
    "email": _l("an e-mail address"),
    "phone": _l("a phone number"),
    "iban": _l("bank details (IBAN)"),
    "rib": _l("bank details (RIB)"),
    "postal_address": _l("a postal address"),
    "long_identifier": _l("a long identifying number"),
    "person_name": _l("a person’s name"),
    "nested_values": _l("values that cannot be screened"),
    "oversized_values": _l("values too long to be screened"),
}
AUDIT_KINDS = {AuditKind.BIAS.value: _l("Bias audit"), AuditKind.DRIFT.value: _l("Drift report")}
VERDICTS = {"pass": _l("Within tolerance"), "fail": _l("Outside tolerance"),
            "insufficient_evidence": _l("Insufficient evidence")}
METRICS = {
    "prevalence": _l("Prevalence"),
    "selection_rate": _l("Selection rate"),
    "tpr": _l("Sensitivity (true positive rate)"),
    "fpr": _l("False positive rate"),
    "fnr": _l("False negative rate"),
    "ppv": _l("Positive predictive value"),
    "npv": _l("Negative predictive value"),
    "accuracy": _l("Accuracy"),
}
FILTER_TITLES = {
    "objective": _l("Objective"),
    "clinical_domain": _l("Clinical domain"),
    "data_source": _l("Data source"),
    "language": _l("Programming language"),
    "validation_status": _l("Validation status"),
    "maintenance_status": _l("Maintenance status"),
}
# Display names of the sensitive attributes the synthetic cohorts and most datasets use; others show as named.
ATTRIBUTES = {"sex": _l("sex"), "age_band": _l("age band"), "region": _l("region"),
              "deprivation_quintile": _l("deprivation quintile"), "age": _l("age")}
# What an audit-log action code means (the codes stay in the log and in the filter; a test checks each code
# written by the services has a label here).
AUDIT_ACTIONS = {
    "user.created": _l("Account created"), "user.updated": _l("Account changed"),
    "user.credentials_revoked": _l("Sessions and tokens revoked"), "user.password_set": _l("Password set"),
    "organisation.created": _l("Organisation created"), "token.created": _l("API token created"),
    "token.revoked": _l("API token revoked"), "token.failed": _l("Failed API token attempts"),
    "login.succeeded": _l("Signed in"), "login.failed": _l("Failed sign-in attempts"), "logout": _l("Signed out"),
    "algorithm.created": _l("Algorithm registered"), "algorithm.updated": _l("Algorithm description changed"),
    "card.updated": _l("Draft card saved"), "version.created": _l("Version uploaded"),
    "version.published": _l("Version published"), "version.yanked": _l("Version withdrawn"),
    "version.unyanked": _l("Version published again"),
    "artifact.integrity_failure": _l("Stored file failed its integrity check"),
    "dataset.uploaded": _l("Reference dataset uploaded"),
    "dataset.imported": _l("Reference dataset registered in place"), "predictions.uploaded": _l("Predictions uploaded"),
    "audit.launched": _l("Audit launched"), "audit.succeeded": _l("Audit finished"), "audit.failed": _l("Audit failed"),
    "audit.queued": _l("Audit queued"), "audit.running": _l("Audit started"),
    "audit.reaped": _l("Stalled audit put back in the queue"),
    "audit.public_view_frozen": _l("Public view of an audit frozen"),
    "audit_request.created": _l("Audit requested"), "audit_request.claimed": _l("Audit request taken"),
    "audit_request.declined": _l("Audit request declined"),
    "report.filed": _l("Report filed"), "report.moderated": _l("Report moderated"),
    "report.state_changed": _l("Report state changed"), "report.answered": _l("Report answered"),
    "report.answer_moderated": _l("Answer to a report moderated"),
    "version.fixes_reports": _l("Reports fixed by a version changed"),
    "schedule.created": _l("Re-audit scheduled"), "schedule.stopped": _l("Scheduled re-audit stopped"),
    "schedule.run_refused": _l("Scheduled re-audit refused"), "schedule.verdict_changed": _l("Verdict changed"),
}
OBJECT_TYPES = {"user": _l("account"), "client": _l("client"), "organisation": _l("organisation"),
                "algorithm": _l("algorithm"), "version": _l("version"), "dataset": _l("dataset"),
                "predictions": _l("predictions"), "job": _l("audit"), "audit_request": _l("audit request"),
                "report": _l("report"), "schedule": _l("scheduled re-audit")}
# Evidently's drift tests by the name its report gives them (others are shown as named, marked English).
DRIFT_METHODS = {
    "K-S p_value": _l("Kolmogorov–Smirnov test (p-value)"), "chi-square p_value": _l("chi-squared test (p-value)"),
    "Z-test p_value": _l("Z-test of proportions (p-value)"),
    "Wasserstein distance (normed)": _l("Wasserstein distance (normalised)"),
    "Jensen-Shannon distance": _l("Jensen–Shannon distance"), "PSI": _l("population stability index (PSI)"),
    "two_proportion_z_test_and_cohens_h": _l("two-proportion Z-test and Cohen’s h"),
}
SORTS = {"name": _l("Name (A to Z)"), "recent": _l("Latest publication first"), "created": _l("Newest first")}


def attribute_label(name: str, labels: dict[str, dict[str, str]] | None = None) -> str:
    """A sensitive attribute or column in the page's language ("sex" -> "sexe"), each part of an intersection:
    the display name its dataset declares (``labels``, per language), else ours, else the column's name."""
    lang = current_lang()

    def one(part: str) -> str:
        declared = (labels or {}).get(part) or {}
        return declared.get(lang) or str(ATTRIBUTES.get(part, part))

    return " × ".join(one(part.strip()) for part in str(name).split("×"))


def current_lang() -> str:
    """The page language: the URL prefix when there is one, else the visitor's preference."""
    if not has_request_context():
        return "fr"
    lang = g.get("lang")
    if lang in LANGS:
        return lang
    prefix = request.path.strip("/").split("/", 1)[0]
    return prefix if prefix in LANGS else preferred_language()


def conflict_message(refusal: ConflictOfInterest) -> str:
    """Why an audit action was refused (separation of duties), in the page's language."""
    if refusal.reason == "owner":
        return _("You own this algorithm: its audits and its predictions must come from an independent evaluator.")
    return _("Your organisation “%(organisation)s” owns this algorithm: its audits and its predictions must come "
             "from an independent evaluator.", organisation=refusal.organisation)


def localiser() -> Localiser:
    """Service messages in the page's language, through the pages' catalogue."""
    return Localiser(get_translations().gettext, current_lang())


def form_errors(errors: dict[str, list[Any]], fields: dict[str, Field], **options: Any) -> FormErrors:
    """A form's errors (a service's, and the page's own as Markup) localised onto its controls."""
    return localise_errors(errors, fields, localiser(), **options)


def preferred_language() -> str:
    """The remembered choice (cookie), else the browser's Accept-Language, else French."""
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGS:
        return cookie
    return request.accept_languages.best_match(LANGS) or "fr"


def switch_url(lang: str) -> str:
    """The current page in another language (same path and query), for the language switch.

    Only the route's own variables go to ``url_for``; the query string is carried over as opaque,
    re-encoded text. Passed to ``url_for``, names such as ``_external``, ``_scheme``, ``_anchor`` or
    ``_method`` are instructions to Flask: a 500, or the request's Host header in the link.
    """
    endpoint = request.endpoint or ""
    if not endpoint.startswith("pages.") or request.view_args is None:
        return url_for("pages.home", lang=lang)
    path = url_for(endpoint, **{**request.view_args, "lang": lang})
    if request.method == "GET" and request.args:
        return f"{path}?{urlencode(list(request.args.items(multi=True)))}"
    return path


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                return None
    return None


def fdate(value: Any, style: str = "medium") -> str:
    """A date as the page's locale writes it (14 mars 2025 / Mar 14, 2025)."""
    parsed = _as_datetime(value)
    return format_date(parsed, style) if parsed is not None else ""


def fdatetime(value: Any) -> str:
    """A date and time in Paris time, as the page's locale writes it."""
    parsed = _as_datetime(value)
    if isinstance(parsed, datetime):
        return format_datetime(parsed, "medium")
    return fdate(parsed)


def fnumber(value: Any, pattern: str = "#,##0.###") -> str:
    """A number with the locale's decimal and grouping signs (0,85 / 0.85); text passes through."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return format_decimal(value, format=pattern)


def fpercent(value: Any) -> str:
    """A share as a percentage in the locale's own pattern (85 % / 85%)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return format_percent(value)


def vocab_label(vocabulary: str, value: Any) -> str:
    """The FR or EN label of a catalogue or card vocabulary term."""
    return label(vocabulary, value, current_lang()) if value else ""


def vocab_choices(vocabulary: str) -> list[tuple[str, str]]:
    """(value, label) pairs of a vocabulary in the page language, for select boxes."""
    terms = taxonomy.VOCABULARIES.get(vocabulary) or CARD_VOCABULARIES.get(vocabulary) or {}
    index = 0 if current_lang() == "fr" else 1
    return [(value, pair[index]) for value, pair in terms.items()]


def pair(texts: Any) -> str:
    """Pick the page language from a {"fr": ..., "en": ...} dict (baseline labels and messages)."""
    if isinstance(texts, dict):
        return texts.get(current_lang()) or texts.get("en") or ""
    return "" if texts is None else str(texts)


def select_locale() -> str:
    return current_lang()


@bp.after_request
def _remember_language(response: Response) -> Response:
    """The language of the last page read is where "/" sends the visitor next time; pages are per visitor."""
    lang = g.get("lang")
    # On a cacheable public card too: the cookie says only the URL's language, the same for every reader.
    if lang and request.cookies.get(COOKIE) != lang:
        response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    response.headers.setdefault("Cache-Control", PRIVATE_PAGE)
    response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    """Flask-Babel with catalogs in boas/translations, Paris time, and the formatting filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "fr")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(detector_label=lambda d: str(DETECTOR_LABELS.get(d, d)))
    app.jinja_env.filters.update(attribute=attribute_label, fdate=fdate, fdatetime=fdatetime, fnumber=fnumber, fpercent=fpercent, pair=pair)
    app.jinja_env.globals.update(
        vocab_label=vocab_label, vocab_choices=vocab_choices, switch_url=switch_url, LANGS=LANGS,
        ORGANISATION_KINDS=ORGANISATION_KINDS, KINDS=KINDS, STATES=STATES, ROLES=ROLES, JOB_STATUSES=JOB_STATUSES,
        FAILURES=FAILURES, EXECUTION_REASONS=EXECUTION_REASONS, REPORT_KINDS=REPORT_KINDS,
        REPORT_STATES=REPORT_STATES, MODERATIONS=MODERATIONS, DETECTOR_LABELS=DETECTOR_LABELS,
        AUDIT_KINDS=AUDIT_KINDS, AUDIT_ACTIONS=AUDIT_ACTIONS, OBJECT_TYPES=OBJECT_TYPES, DRIFT_METHODS=DRIFT_METHODS,
        VERDICTS=VERDICTS, METRICS=METRICS, FILTER_TITLES=FILTER_TITLES, SORTS=SORTS,
    )
