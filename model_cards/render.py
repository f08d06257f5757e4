"""Author Markdown made safe to show, and the downloadable exports of a published card.

Card prose is written by authors and read by the public, so it is rendered with raw HTML disabled
(CommonMark escapes it) and then cleaned by nh3 against an allowlist: no scripts, event handlers, SVG,
frames, styles, images, or javascript:/data: URLs, and every link gets ``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

import nh3
from jinja2 import DictLoader, Environment
from markdown_it import MarkdownIt
from markupsafe import Markup

from model_cards.card_sections import card_view
from model_cards.exports import export_bibtex, export_citation_cff, export_markdown, hf_metadata

__all__ = [
    "export_bibtex",
    "export_citation_cff",
    "export_html",
    "export_json",
    "export_markdown",
    "hf_metadata",
    "render_markdown",
]

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def render_markdown(text: str | None) -> str:
    """Author Markdown as sanitised HTML (CommonMark + tables + strikethrough, raw HTML shown as text)."""
    if not text:
        return ""
    html = _parser().render(str(text))
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        filter_style_properties={"text-align"},  # table column alignment, nothing else
    )


def export_json(document: dict[str, Any]) -> bytes:
    """Canonical pretty JSON: sorted keys, UTF-8 (not ASCII-escaped), 2-space indent, trailing newline."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False, default=_json_default)
    return (text + "\n").encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def export_html(document: dict[str, Any], lang: str = "fr") -> str:
    """A standalone, printable HTML page of the card (inline CSS, no script, no external resource)."""
    view = card_view(document, lang)
    template = _environment().get_template("card")
    return template.render(view=view, bibtex=export_bibtex(document), fr=view["lang"] == "fr")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=DictLoader({"card": _TEMPLATE}), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["markdown"] = lambda text: Markup(render_markdown(text))  # noqa: S704 - nh3-sanitised above
    return env


_TEMPLATE = """<!doctype html>
<html lang="{{ view.lang }}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="BOAS">
<title>{{ view.title }}{% for k, v in view.facts if k == "Version" %} — {{ v }}{% endfor %}</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
         max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; }
  h1 { font-size: 1.8rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid #000091; padding-bottom: .2rem;
  margin-top: 2rem; color: #000091; } h3 { font-size: 1.05rem; margin-bottom: .2rem; }
  .summary { font-size: 1.1rem; color: #3a3a3a; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #f6f6f6;
             padding: .8rem 1rem; } dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; word-break: break-all; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .9rem; }
  th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  th { background: #eee; } code, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
  pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; white-space: pre-wrap; }
  .derived { font-size: .75rem; background: #e8edff; color: #000091; padding: 0 .4rem; border-radius: .2rem; }
  .field { margin-bottom: .8rem; } footer { margin-top: 3rem; font-size: .8rem; color: #666; }
  @media print { body { margin: 0; max-width: none; font-size: 11pt; } h2 { break-after: avoid; }
                 table, .field { break-inside: avoid; } a { color: inherit; } }
</style>
</head>
<body>
<header>
<h1>{{ view.title }}</h1>
{% if view.summary %}<p class="summary">{{ view.summary }}</p>{% endif %}
<dl class="facts">
{% for k, v in view.facts %}<dt>{{ k }}</dt><dd>{{ v }}</dd>
{% endfor %}
</dl>
{% if view.description %}<div class="description">{{ view.description | markdown }}</div>{% endif %}
{% if view.derived %}<p><span class="derived">{{ "MLflow" }}</span>
{% if fr %}signale un champ lu dans le modèle MLflow déposé plutôt que déclaré par les auteurs
{%- else %}marks a field read from the uploaded MLflow model rather than declared by the authors{% endif %}
{% if view.derived.run_id %} (run {{ view.derived.run_id }}){% endif %}.</p>{% endif %}
</header>
<main>
{% for section in view.sections %}
<section id="{{ section.id }}">
<h2>{{ section.title }}</h2>
{% for row in section.rows %}
<div class="field"><h3>{{ row.label }}{% if row.derived %} <span class="derived">MLflow</span>{% endif %}</h3>
{% if row.kind == "md" %}{{ row.value | markdown }}{% else %}<p>{{ row.value }}</p>{% endif %}</div>
{% endfor %}
{% for table in section.tables %}
<h3>{{ table.title }}{% if table.derived %} <span class="derived">MLflow</span>{% endif %}</h3>
<table><thead><tr>{% for h in table.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in table.rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% endfor %}
</section>
{% endfor %}
<section id="citation">
<h2>{{ "Citer cette version" if fr else "Cite this version" }}</h2>
<pre>{{ bibtex }}</pre>
</section>
</main>
<footer>{{ "Fiche générée par BOAS à partir de la version publiée (instantané figé)." if fr
  else "Card generated by BOAS from the published version (frozen snapshot)." }}</footer>
</body>
</html>
"""
