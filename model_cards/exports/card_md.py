"""card.md: a Hugging Face–compatible README (YAML front matter, then the card as Markdown).

Every export reads only the frozen document, so a README downloaded today matches the page readers
see. Author prose stays Markdown but carries no raw HTML and no unsafe link (``markdown_without_html``):
a README is rendered by readers we do not control. Plain values are escaped as text; every value that
reaches YAML goes through ``yaml.safe_dump``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import yaml

from model_cards.exports.base import Format
from model_cards.exports.bibtex import export_bibtex
from model_cards.exports.common import spdx_ids, web_url
from model_cards.render import markdown_without_html
from model_cards.sections import card_view, number

# SPDX ids the Hub knows under a (lower-case) name; anything else is "other" with license_name/license_link.
_HF_LICENSES = {
    **{spdx: spdx.lower() for spdx in (
        "Apache-2.0", "MIT", "AFL-3.0", "Artistic-2.0", "BSL-1.0", "BSD-2-Clause", "BSD-3-Clause", "CC0-1.0",
        "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC-BY-ND-4.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-4.0",
        "EPL-2.0", "EUPL-1.2", "ISC", "MPL-2.0", "Unlicense", "Zlib", "OpenRAIL", "etalab-2.0",
    )},
    "AGPL-3.0-only": "agpl-3.0", "AGPL-3.0-or-later": "agpl-3.0", "GPL-2.0-only": "gpl-2.0",
    "GPL-2.0-or-later": "gpl-2.0", "GPL-3.0-only": "gpl-3.0", "GPL-3.0-or-later": "gpl-3.0",
    "LGPL-2.1-only": "lgpl-2.1", "LGPL-2.1-or-later": "lgpl-2.1", "LGPL-3.0-only": "lgpl-3.0",
    "LGPL-3.0-or-later": "lgpl-3.0", "ODbL-1.0": "odbl",
}
TASK_TYPE = "tabular-classification"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def hf_metadata(document: dict[str, Any]) -> dict[str, Any]:
    """The YAML front matter of the Hugging Face model card, from the document."""
    algorithm, card = document.get("algorithm") or {}, document.get("card") or {}
    mlmodel = (document.get("artifacts") or {}).get("mlmodel") or {}
    languages = [code for code in card.get("language") or [] if isinstance(code, str) and _LANGUAGE.match(code)]
    meta: dict[str, Any] = {**_hf_license(algorithm), "language": languages or ["fr", "en"]}
    flavors = mlmodel.get("flavors") or {}
    if flavors:
        meta["library_name"] = "sklearn" if "sklearn" in flavors else "mlflow"
    if algorithm.get("kind") == "ml_model":
        meta["pipeline_tag"] = TASK_TYPE
    meta["tags"] = _tags(algorithm, bool(flavors))
    if datasets := _datasets(document):
        meta["datasets"] = datasets
    overall = [m for m in card.get("performance_metrics") or [] if not m.get("subgroup")]
    if overall:
        meta["metrics"] = list(dict.fromkeys(_slug(m["name"]) for m in overall))
        meta["model-index"] = [{"name": _slug(algorithm.get("slug") or algorithm.get("name") or "model"),
                                "results": _results(document, overall)}]
    return meta


def export_markdown(document: dict[str, Any], lang: str = "en") -> str:
    """README.md: Hugging Face YAML front matter, then the card's sections as Markdown prose and tables."""
    view = card_view(document, lang)
    fr = view["lang"] == "fr"
    front = yaml.safe_dump(hf_metadata(document), sort_keys=False, allow_unicode=True, width=1000)
    out = [f"---\n{front}---", f"# {_inline(view['title'])}"]
    if view["summary"]:
        out.append(_paragraph(view["summary"]))
    out.append("\n".join(f"- **{_inline(k)}** : {_inline(v)}" if fr else f"- **{_inline(k)}**: {_inline(v)}"
                         for k, v in view["facts"]))
    if view["description"]:
        out.append(markdown_without_html(view["description"]))
    derived_mark = " *(lu dans le modèle MLflow)*" if fr else " *(derived from the MLflow model)*"
    for section in view["sections"]:
        out.append(f"## {section['title']}")
        for row in section["rows"]:
            mark = derived_mark if row["derived"] else ""
            if row["kind"] == "md":
                out.append(f"### {row['label']}{mark}\n\n{markdown_without_html(row['value'])}")
            else:
                out.append(f"**{row['label']}**{mark} : {_inline(row['value'])}" if fr
                           else f"**{row['label']}**{mark}: {_inline(row['value'])}")
        for table in section["tables"]:
            out.append(f"### {table['title']}{derived_mark if table['derived'] else ''}\n\n" + _md_table(table))
    bibtex = export_bibtex(document).rstrip()
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", bibtex)), default=0))  # cannot be closed early
    out.append(f"## {'Citer' if fr else 'Citation'}\n\n{fence}bibtex\n{bibtex}\n{fence}")
    return "\n\n".join(out) + "\n"


def _hf_license(algorithm: dict[str, Any]) -> dict[str, str]:
    spdx = (algorithm.get("license") or "").strip()
    if not spdx:
        return {"license": "unknown"}
    if spdx in _HF_LICENSES:
        return {"license": _HF_LICENSES[spdx]}
    out = {"license": "other", "license_name": _slug(spdx)}
    ids = spdx_ids(spdx)
    if ids:
        out["license_link"] = f"https://spdx.org/licenses/{ids[0]}.html"
    elif repository := web_url(algorithm.get("code_repository_url")):
        out["license_link"] = repository
    return out


def _tags(algorithm: dict[str, Any], mlflow: bool) -> list[str]:
    tags = ["boas", "health", "model-card"]
    for key in ("kind", "objective", "clinical_domain", "data_source", "language"):
        if algorithm.get(key) and algorithm[key] != "other":
            tags.append(_slug(algorithm[key]))
    if mlflow:
        tags.append("mlflow")
    return list(dict.fromkeys(tags))


def _datasets(document: dict[str, Any]) -> list[str]:
    card = document.get("card") or {}
    names = [(card.get("training_data") or {}).get("name"), (card.get("validation") or {}).get("dataset")]
    names += [(a.get("dataset") or {}).get("name") for a in document.get("audits") or []]
    return list(dict.fromkeys(_slug(n) for n in names if n))


def _results(document: dict[str, Any], metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """model-index results: one per evaluation dataset, as the Hub groups them."""
    algorithm, card = document.get("algorithm") or {}, document.get("card") or {}
    default = (card.get("training_data") or {}).get("name") or "evaluation"
    task = {"type": TASK_TYPE, "name": _meta_text(str(algorithm.get("objective") or "prediction").replace("_", " "))}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for m in metrics:
        name = m["name"] if m.get("ci_low") is None else (
            f"{m['name']} ({number(round(m.get('level') or 0.95, 4) * 100, 'en')}% CI "
            f"{number(m['ci_low'], 'en')}-{number(m['ci_high'], 'en')})")
        grouped.setdefault(str(m.get("dataset") or default), []).append(
            {"type": _slug(m["name"]), "value": m["value"], "name": _meta_text(name)})
    return [{"task": dict(task), "dataset": {"name": _meta_text(ds), "type": _slug(ds)}, "metrics": ms}
            for ds, ms in grouped.items()]


def _meta_text(text: str) -> str:
    """Free text in the front matter: the Hub shows it in widgets, so it carries no markup either."""
    return re.sub(r"\s+", " ", str(text)).replace("<", "\u2039").replace(">", "\u203a").strip()


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "unnamed"


def _inline(text: Any) -> str:
    """Plain text made safe inside a Markdown line: no raw HTML, no link or emphasis syntax, no line breaks."""
    flat = re.sub(r"[\s\x00-\x1f\x7f]+", " ", str(text)).strip()
    html_safe = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]#~!])", r"\\\1", html_safe)


def _paragraph(text: Any) -> str:
    """Plain text as a paragraph of its own: it cannot start a list, a heading or a rule either."""
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([-+=>|])", r"\\\1", _inline(text)))


def _md_table(table: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        return _inline(value).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in table["headers"]) + " |",
             "|" + "---|" * len(table["headers"])]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table["rows"]]
    return "\n".join(lines)


FORMAT = Format("card.md", "text/markdown; charset=utf-8", "Markdown",
                lambda document, lang, _release: export_markdown(document, lang=lang).encode())
