"""Server-rendered HTML pages: the public catalogue and cards, and the signed-in workspace.

Views are thin: they call the same services as the JSON API, with the user identified by the session
cookie (see ``boas.pages.auth``). Pages live under /fr/ and /en/; JavaScript only adds upload and job
progress, from static files (the Content-Security-Policy forbids inline script).
"""

from __future__ import annotations

import json
import re

from flask import Flask, Response, g, request, session
from markupsafe import Markup

from boas.pages import front, i18n, summary
from model_cards.render import render_markdown


def _markdown(text: str | None) -> Markup:
    return Markup(render_markdown(text))  # noqa: S704 - rendered with raw HTML off, then cleaned by nh3


# Pages every anonymous reader sees alike, which the page front (``boas.pages.front``) may keep, and
# whether their query string is part of the page (the catalogue's filters, the diff's base version);
# elsewhere a query string is noise that must not fill the cache.
PUBLIC_ENDPOINTS = {"pages.home": False, "pages.catalogue": True, "pages.algorithm": False, "pages.card": False,
                    "pages.diff": True, "pages.feed": False, "site.sitemap": False}

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _dataset_choices(datasets) -> list[tuple[int, str]]:
    return [(d.id, f"n° {d.id} — {d.name} ({d.row_count})") for d in datasets]


def init_app(app: Flask) -> None:
    """Register Babel, the page blueprints, HTML error pages and the template helpers."""
    from boas.pages import (  # noqa: F401 - routes
        account,
        admin,
        auth,
        card,
        errors,
        evaluate,
        public,
        reports,
        requests,
        workspace,
    )
    from boas.pages.blueprint import bp, site

    i18n.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(site)
    errors.init_app(app)
    app.jinja_env.globals.update(csrf_field=auth.csrf_field, csrf_token=auth.csrf_token,
                                 dataset_choices=_dataset_choices, external_url=public.external_url,
                                 outcome_text=summary.outcome_text, unread_notifications=requests.unread_notifications,
                                 AUDIT_STATES=requests.AUDIT_STATES, AUDIT_OUTCOMES=requests.AUDIT_OUTCOMES)
    app.jinja_env.filters.update(markdown=_markdown, zip_pairs=lambda values: [(v, v) for v in values],
                                 json_text=lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True))
    app.jinja_env.tests["isodate"] = lambda value: isinstance(value, str) and bool(ISO_DATE.match(value))

    @app.after_request
    def _mark_public(response: Response) -> Response:
        # Said only of a page rendered for nobody in particular: no signed-in reader, no flashed message.
        takes_query = PUBLIC_ENDPOINTS.get(request.endpoint or "")
        if (takes_query is not None and (takes_query or not request.query_string) and response.status_code == 200
                and g.get("page_user") is None and "tok" not in session and "_flashes" not in session):
            request.environ[front.MARK] = True
            if response.headers.get("Cache-Control", i18n.PRIVATE_PAGE) == i18n.PRIVATE_PAGE:
                response.headers["Cache-Control"] = front.DEFAULT_CACHE_CONTROL
        return response

    @app.context_processor
    def _page_context() -> dict:
        lang = i18n.current_lang()
        return {"lang": lang, "other_lang": "en" if lang == "fr" else "fr", "viewer": auth.viewer()}
