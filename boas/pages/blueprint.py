"""The two page blueprints: ``pages`` under the /fr/ or /en/ prefix, and ``site`` for language-free URLs."""

from __future__ import annotations

from flask import Blueprint, g

LANGS = ("fr", "en")

bp = Blueprint("pages", __name__, url_prefix="/<any(fr, en):lang>", template_folder="templates")
site = Blueprint("site", __name__, static_folder="static", static_url_path="/assets", template_folder="templates")


@bp.url_value_preprocessor
def _pull_lang(_endpoint, values) -> None:
    """The URL prefix is the page language; views never take it as an argument."""
    g.lang = (values or {}).pop("lang", "fr")


@bp.url_defaults
def _add_lang(_endpoint, values) -> None:
    """Links keep the current language unless a view asks for another."""
    values.setdefault("lang", g.get("lang") or "fr")
