"""Public pages: the home page, the catalogue, algorithm pages, the Atom feed, the sitemap and citable URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response, g, redirect, render_template, request, url_for

from audits import scheduling
from audits.outcomes import public_bias_outcomes
from boas.context import db_session, now, policy
from boas.pages import summary
from boas.pages.auth import page_user
from boas.pages.blueprint import LANGS, bp, site
from boas.pages.i18n import ORGANISATION_KINDS, SORTS, preferred_language
from boas.registry import algorithms, cards
from boas.registry import versions as version_service
from model_cards import taxonomy
from model_cards.sections import card_view
from registry_db.models import Algorithm, AlgorithmKind, VersionState

PER_PAGE = 20
MAX_PAGE = 10_000  # far past any real catalogue; bounds the SQL offset
FEED_SIZE = 50
SITEMAP_BATCH = 100
CATALOGUE_FILTERS = ("kind", *taxonomy.VOCABULARIES)
KIND_VALUES = tuple(kind.value for kind in AlgorithmKind)


latest_version = algorithms.latest_version  # one definition, shared with the API


def result_outcomes(items) -> dict[str, tuple[summary.Outcome, str | None]]:
    """slug -> (outcome of its public bias audits, the version they audit), for a list of results.

    Result lists are public pages: only the frozen public views count, whoever reads them.
    """
    found = public_bias_outcomes(db_session(), items)
    return {a.slug: (summary.audit_outcome(found[a.slug].results), found[a.slug].version) if a.slug in found
            else (summary.audit_outcome([]), None) for a in items}


def catalogue_query(args) -> dict[str, Any]:
    """The catalogue's query string, read leniently: unknown values are ignored, not errors."""
    filters = {}
    for name in CATALOGUE_FILTERS:
        allowed = KIND_VALUES if name == "kind" else taxonomy.VOCABULARIES[name]
        if args.get(name) in allowed:
            filters[name] = args[name]
    try:
        page = min(MAX_PAGE, max(1, int(args.get("page", 1))))
    except ValueError:
        page = 1
    return {
        "filters": filters,
        "q": (args.get("q") or "").strip()[:200] or None,
        "organisation_kind": args.get("author_type") if args.get("author_type") in ORGANISATION_KINDS else None,
        "audited": {"yes": True, "no": False}.get(args.get("audited", "")),
        "to_review": {"yes": True, "no": False}.get(args.get("to_review", "")),
        "sort": args.get("sort") if args.get("sort") in SORTS else "name",
        "page": page,
    }


def catalogue_args(query: dict[str, Any]) -> dict[str, str]:
    """The query string of the catalogue's pagination links, from the understood values only."""
    args = dict(query["filters"])
    if query["q"]:
        args["q"] = query["q"]
    if query["organisation_kind"]:
        args["author_type"] = query["organisation_kind"]
    if query["audited"] is not None:
        args["audited"] = "yes" if query["audited"] else "no"
    if query["to_review"] is not None:
        args["to_review"] = "yes" if query["to_review"] else "no"
    if query["sort"] != "name":
        args["sort"] = query["sort"]
    return args


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for feeds, the sitemap and robots.txt, on BOAS_PUBLIC_BASE_URL, never the Host header."""
    base = urlsplit(policy().public_base_url)
    return f"{base.scheme}://{base.netloc}{url_for(endpoint, **values)}"


@site.route("/")
def root():
    """Send visitors to their language: the remembered choice, else the browser's."""
    response = redirect(url_for("pages.home", lang=preferred_language()), 302)
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response


@site.route("/algorithms/<slug>")
@site.route("/algorithms/<slug>/<version>")
def citable(slug: str, version: str | None = None):
    """The language-free URL printed in citations and exports, resolved to the reader's language."""
    lang = preferred_language()
    if version is None:
        return redirect(url_for("pages.algorithm", lang=lang, slug=slug), 302)
    return redirect(url_for("pages.card", lang=lang, slug=slug, version=version), 302)


@bp.route("/")
def home():
    """The home page: search, the latest publications and entry points into the catalogue."""
    recent = algorithms.list_algorithms(db_session(), None, filters={}, q=None, page=1, per_page=6, sort="recent")
    return render_template("pages/home.html", recent=recent, latest_version=latest_version,
                           outcomes=result_outcomes(recent.items))


@bp.route("/algorithms")
def catalogue():
    """The catalogue: full-text search, the BOAS filters, sort and pagination."""
    query = catalogue_query(request.args)
    result = scheduling.list_catalogue(db_session(), page_user(), now=now(), per_page=PER_PAGE, **query)
    pages = max(1, -(-result.total // PER_PAGE))
    args = catalogue_args(query)
    return render_template("pages/catalogue.html", result=result, query=query, pages=pages, args=args,
                           latest_version=latest_version, filter_names=CATALOGUE_FILTERS[1:],
                           outcomes=result_outcomes(result.items))


@bp.route("/algorithms/<slug>")
def algorithm(slug: str):
    """An algorithm: description, owners and organisation, every released version, and its latest card."""
    user, session = page_user(), db_session()
    found = algorithms.get_algorithm(session, user, slug)
    versions = version_service.list_versions(session, user, slug)
    latest = next((v for v in versions if v.state == VersionState.PUBLISHED), None)
    latest_card = None
    if latest is not None:
        document = cards.get_document(session, user, policy(), slug, latest.version).document
        latest_card = card_view(document, g.lang)
    return render_template("pages/algorithm.html", algorithm=found, versions=versions, latest=latest,
                           latest_card=latest_card)


def _published_entries(limit: int) -> list[tuple[Algorithm, Any]]:
    """The most recently published versions: those of the algorithms published most recently."""
    recent = algorithms.list_algorithms(db_session(), None, filters={}, q=None, page=1, per_page=limit, sort="recent")
    entries = [(a, v) for a in recent.items for v in a.versions if v.state == VersionState.PUBLISHED]
    entries.sort(key=lambda entry: entry[1].published_at, reverse=True)
    return entries[:limit]


@bp.route("/feed.atom")
def feed():
    """An Atom feed of newly published versions."""
    entries = _published_entries(FEED_SIZE)
    body = render_template("pages/feed.xml", entries=entries, updated=entries[0][1].published_at if entries else None)
    return Response(body, mimetype="application/atom+xml")


@bp.route("/to-review.atom")
def to_review_feed():
    """An Atom feed of the published cards "to review": review date passed or a scheduled re-audit overdue."""
    entries = scheduling.cards_to_review(db_session(), now=now(), limit=FEED_SIZE)
    body = render_template("pages/feed_to_review.xml", entries=entries, updated=now())
    return Response(body, mimetype="application/atom+xml")


def _all_public_algorithms() -> list[Algorithm]:
    items: list[Algorithm] = []
    page = 1
    while True:
        batch = algorithms.list_algorithms(db_session(), None, filters={}, q=None, page=page, per_page=SITEMAP_BATCH)
        items.extend(batch.items)
        if page * SITEMAP_BATCH >= batch.total:
            return items
        page += 1


@site.route("/sitemap.xml")
def sitemap():
    """Every public page in both languages: home, catalogue, algorithms and their released versions' cards."""
    urls = [("pages.home", {}), ("pages.catalogue", {})]
    for found in _all_public_algorithms():
        urls.append(("pages.algorithm", {"slug": found.slug}))
        urls.extend(("pages.card", {"slug": found.slug, "version": v.version})
                    for v in found.versions if v.state != VersionState.DRAFT)
    body = render_template("pages/sitemap.xml", urls=urls, langs=LANGS)
    return Response(body, mimetype="application/xml")


@site.route("/robots.txt")
def robots():
    """Crawlers may read everything public; the workspace is private."""
    private = [f"Disallow: /{lang}/{area}" for lang in LANGS for area in ("workspace", "admin", "login")]
    lines = ["User-agent: *", *private,
             f"Sitemap: {external_url('site.sitemap')}", ""]
    return Response("\n".join(lines), mimetype="text/plain")
