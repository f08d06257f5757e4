"""The card page of a version (every section, baseline, frameworks, audits, artifacts, downloads) and its diff."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, render_template, request, session

from audits import incidents, scheduling
from audits import service as audit_service
from boas.context import db_session, now, policy
from boas.pages import charts, page_cache, summary, verdict_text
from boas.pages.auth import page_user
from boas.pages.blueprint import bp
from boas.registry import cards
from boas.registry import versions as version_service
from model_cards.diff_view import human_diff
from model_cards.exports import FORMATS
from model_cards.exports.common import release_date, web_url
from model_cards.sections import card_view
from registry_db.errors import NotFound

# The card's downloads, and the citation files the sidebar offers beside its ready-to-copy citation.
EXPORTS = tuple((fmt.name, fmt.label) for fmt in FORMATS.values() if not fmt.citation)
CITATION_EXPORTS = tuple((fmt.name, fmt.label) for fmt in FORMATS.values() if fmt.citation)


def citation(document: dict[str, Any], digest: str | None) -> dict[str, Any]:
    """The parts of a released version's citation, from its frozen document and the digest recorded at publication.

    Only frozen values: the page cache keys a released card by its versions' digests, so a citation
    read from the live algorithm row could go stale in a cached page.
    """
    algorithm, version = document.get("algorithm") or {}, document.get("version") or {}
    authors = [name for name in algorithm.get("owners") or [] if name]
    if organisation := (algorithm.get("organisation") or {}).get("name"):
        authors.append(organisation)
    return {"authors": ", ".join(authors), "year": release_date(document)[:4],
            "title": algorithm.get("name") or algorithm.get("slug") or "", "version": version.get("version") or "",
            "url": web_url(version.get("url")), "digest": digest}


def audit_sections(audits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished audits as the template shows them: bias results as charts, drift results as a table."""
    shown = []
    for audit in audits:
        entry = {"audit": audit, "features": [], "drift": None, "rule": [], "methods": ""}
        result = audit.get("result") or {}
        if audit["status"] == "succeeded" and audit["kind"] == "bias" and result:
            entry["features"] = charts.bias_charts(result)
            entry["rule"] = verdict_text.rule_paragraphs(result)
            entry["methods"] = verdict_text.methods_text(result)
        elif audit["status"] == "succeeded" and audit["kind"] == "drift" and result:
            entry["drift"] = result
        shown.append(entry)
    return shown


def _without_manifest(view: dict[str, Any]) -> dict[str, Any]:
    # The manifest gets its own section with download links, so card_view's plain copy is left out.
    for section in view["sections"]:
        section["tables"] = [t for t in section["tables"] if "SHA-256" not in t["headers"]]
    view["sections"] = [s for s in view["sections"] if s["rows"] or s["tables"]]
    return view


def render_card(user, session_, slug: str, version: str) -> str:
    """The card page of a version as ``user`` may see it."""
    shown = cards.get_document(session_, user, policy(), slug, version)
    document = shown.document
    baseline = cards.baseline_report(session_, user, policy(), slug, version, view=shown)
    coverage = cards.compliance(session_, user, policy(), slug, version, view=shown)["frameworks"]
    listed = audit_service.list_version_audits(session_, user, slug, version)
    outcome = summary.audit_outcome(summary.bias_results(listed))
    versions = version_service.list_versions(session_, user, slug)
    trend = scheduling.version_trend(session_, user, slug, version)
    staleness = scheduling.staleness(session_, shown.version, now=now())
    listing = incidents.list_version_reports(session_, user, slug, version)
    fixes = incidents.fixed_reports(session_, user, slug, version)
    return render_template(
        "pages/card.html", row=shown.version, document=document, view=_without_manifest(card_view(document, g.lang)),
        baseline=baseline, coverage=coverage, audits=audit_sections(listed), versions=versions, exports=EXPORTS,
        citation_exports=CITATION_EXPORTS, citation=citation(document, shown.version.card_sha256),
        outcome=outcome, outcome_text=summary.outcome_text(outcome), documentation=summary.documentation_text(baseline),
        previous=(document.get("version") or {}).get("previous_version"),
        trend=charts.trend_charts(trend), staleness=staleness, listing=listing, fixes=fixes,
    )


def _page_cache() -> page_cache.PageCache:
    return current_app.extensions.setdefault("boas_page_cache", page_cache.PageCache())


def _public_staleness(db, slug: str, version: str) -> dict[str, Any] | None:
    """The card's "to review" state now, part of the cache key: a card that lapses with time is a new page."""
    try:
        return scheduling.version_staleness(db, None, slug, version, now=now())
    except NotFound:
        return None


@bp.route("/algorithms/<slug>/<version>")
def card(slug: str, version: str):
    """A version's card: a published one from its frozen snapshot, a draft as a preview for its owners.

    Anonymous readers of a released card get it from the page cache, with validators (see page_cache).
    """
    user, db = page_user(), db_session()
    anonymous = user is None and request.method == "GET" and not request.args and "_flashes" not in session
    stamp = page_cache.card_stamp(db, slug, version, g.lang, extra=_public_staleness(db, slug, version)) \
        if anonymous else None
    if stamp is None:
        return render_card(user, db, slug, version)
    cache = _page_cache()
    body = cache.get(stamp.etag)
    if body is None:
        body = render_card(None, db, slug, version).encode()
        cache.put(stamp.etag, body)
    response = Response(body, mimetype="text/html")
    response.set_etag(stamp.etag)
    response.last_modified = stamp.last_modified
    response.headers["Cache-Control"] = f"public, max-age={page_cache.MAX_AGE}"
    return response.make_conditional(request)


@bp.route("/algorithms/<slug>/<version>/diff")
def diff(slug: str, version: str):
    """What changed between this version and an earlier one (by default the previous released version)."""
    user, session = page_user(), db_session()
    document = cards.get_document(session, user, policy(), slug, version).document
    versions = [v for v in version_service.list_versions(session, user, slug) if v.version != version]
    old = request.args.get("from") or (document.get("version") or {}).get("previous_version")
    changes = cards.diff_versions(session, user, policy(), slug, old, version) if old else None
    verdicts = [_verdict(session, user, slug, v) for v in (old, version)] if old else []
    return render_template("pages/diff.html", document=document, slug=slug, version=version, old=old,
                           changes=human_diff(changes, g.lang) if changes else None, versions=versions,
                           verdicts=verdicts)


def _verdict(session_, user, slug: str, version: str) -> dict[str, Any]:
    """A version's bias audit outcome as its card states it: the same audit views, so a figure the public
    card suppresses is never shown here either."""
    outcome = summary.audit_outcome(summary.bias_results(audit_service.list_version_audits(session_, user, slug,
                                                                                            version)))
    return {"version": version, "outcome": outcome, "text": summary.outcome_text(outcome)}
