"""The diff of two versions as a reader meets it: labelled fields, locale numbers, better or worse.

``model_cards.diff`` names a change by its path (``performance_metrics[name=ROC AUC][dataset=…].ci_high``),
which the JSON API keeps. A page needs the field's name in the reader's language, taken from the same
FR/EN labels as the card (``model_cards.sections``), the list element named by its key in words
("ROC AUC — cohorte 2022"), numbers written the locale's way (Babel), and, for a performance measure's
value, whether the change is an improvement, in the direction ``model_cards.metrics`` gives. A path the
labels do not know keeps its raw form, flagged, so nothing is hidden.
"""

from __future__ import annotations

import json
from typing import Any

from babel.numbers import format_decimal

from model_cards import docpath, metrics
from model_cards.sections import SECTIONS
from model_cards.vocabularies import label as vocab_label

Pair = tuple[str, str]

# Card fields: "section › field", from the card's own reading order and labels.
CARD_LABELS: dict[str, tuple[Pair, Pair]] = {row.path: (title, row.label) for _id, title, rows in SECTIONS
                                             for row in rows}
VOCAB_FIELDS: dict[str, str] = {row.path: row.kind.split(":", 1)[1] for _id, _t, rows in SECTIONS for row in rows
                                if row.kind.startswith("vocab:")}
# Card fields the sections show as tables rather than rows.
LIST_LABELS: dict[str, Pair] = {
    "performance_metrics": ("Mesures de performance", "Performance measures"),
    "sensitive_attributes": ("Attributs sensibles", "Sensitive attributes"),
    "references": ("Références", "References"),
    "input_output.inputs": ("Entrées", "Inputs"),
    "input_output.outputs": ("Sorties", "Outputs"),
    "language": ("Langues de la fiche", "Card languages"),
    "keywords": ("Mots-clés", "Keywords"),
    "derived": ("Champs tirés de l’artefact", "Fields derived from the artifact"),
    "derived.fields": ("Champs tirés de l’artefact", "Fields derived from the artifact"),
}
# The fields of a list element (a measure, an attribute, an input, a reference).
ITEM_FIELDS: dict[str, Pair] = {
    "name": ("nom", "name"), "value": ("valeur", "value"), "ci_low": ("borne basse de l’IC", "CI lower bound"),
    "ci_high": ("borne haute de l’IC", "CI upper bound"), "level": ("niveau de confiance", "confidence level"),
    "dataset": ("données", "dataset"), "subgroup": ("sous-groupe", "subgroup"),
    "evaluation_data": ("origine des données", "evaluation data"), "category": ("catégorie", "category"),
    "used_as_input": ("entrée du modèle", "model input"), "groups": ("groupes", "groups"),
    "rationale": ("justification", "rationale"), "type": ("type", "type"), "required": ("obligatoire", "required"),
    "description": ("description", "description"), "title": ("titre", "title"), "url": ("lien", "link"),
    "doi": ("DOI", "DOI"), "kind": ("type", "kind"),
}
ITEM_VOCABULARIES = {"evaluation_data": "evaluation_data", "category": "metric_category", "kind": "reference_kind"}
ALGORITHM_LABELS: dict[str, Pair] = {
    "name": ("Nom", "Name"), "summary": ("Résumé", "Summary"), "description": ("Description", "Description"),
    "license": ("Licence", "License"), "code_repository_url": ("Dépôt de code", "Code repository"),
    "code_commit": ("Commit", "Commit"), "objective": ("Objectif", "Objective"),
    "clinical_domain": ("Domaine", "Clinical domain"), "data_source": ("Données d’application", "Data of application"),
    "language": ("Langage", "Language"), "validation_status": ("Validation", "Validation status"),
    "maintenance_status": ("Maintenance", "Maintenance status"), "owners": ("Responsables", "Owners"),
    "organisation": ("Organisme", "Organisation"), "kind": ("Type", "Kind"), "slug": ("Identifiant", "Identifier"),
}
ARTIFACT_LABELS: dict[str, Pair] = {
    "archive_sha256": ("Empreinte de l’archive (SHA-256)", "Archive digest (SHA-256)"),
    "archive_size": ("Taille de l’archive (octets)", "Archive size (bytes)"),
    "kind": ("Type d’artefact", "Artifact kind"), "mlmodel": ("Description MLflow du modèle", "MLflow model description"),
    "execution": ("Exécution du modèle", "Model execution"),
}
YES_NO: dict[bool, Pair] = {True: ("oui", "yes"), False: ("non", "no")}


def _pick(pair: Pair, lang: str) -> str:
    return pair[0] if lang == "fr" else pair[1]


def number(value: float | int, lang: str) -> str:
    """A number with the locale's signs (0,7364 / 0.7364; 12 000 / 12,000), without float noise."""
    return format_decimal(value, format="#,##0.######", locale="fr_FR" if lang == "fr" else "en_GB")


def _split(path: str) -> tuple[list[str], list[dict[str, str]], list[str]] | None:
    """(keys before the first list step, the list element's key, keys after it); None for a path not parsed."""
    try:
        steps = docpath.parse(path)
    except ValueError:
        return None
    head: list[str] = []
    item: list[dict[str, str]] = []
    tail: list[str] = []
    for kind, step in steps:
        if kind == "filter":
            if tail:
                return None  # a list inside a list element: left raw
            key, _, value = step.partition("=")
            if not item:
                item.append({})
            item[0][key] = value
        elif not item and step.isdigit() and head:
            item.append({"#": step})
        elif item:
            tail.append(step)
        else:
            head.append(step)
    return head, item, tail


def _item_name(prefix: str, key: dict[str, str], lang: str) -> str:
    if "#" in key:
        return f"nº {int(key['#']) + 1}" if lang == "fr" else f"no. {int(key['#']) + 1}"
    if prefix == "performance_metrics":
        extra = ", ".join(v for v in (key.get("dataset"), key.get("subgroup")) if v)
        return f"{key.get('name', '')} ({extra})" if extra else key.get("name", "")
    return next((v for v in key.values() if v), "")


def card_label(path: str, lang: str) -> str | None:
    """A card field's name in ``lang``: "Données d’entraînement › Effectif",
    "Mesures de performance › ROC AUC (cohorte 2022) › borne haute de l’IC"; None when not known."""
    parts = _split(path)
    if parts is None:
        return None
    head, item, tail = parts
    prefix = ".".join(head)
    if item:
        if prefix not in LIST_LABELS:
            return None
        words = [_pick(LIST_LABELS[prefix], lang), _item_name(prefix, item[0], lang)]
        if tail:
            field = ITEM_FIELDS.get(tail[0])
            if field is None:
                return None
            words.append(_pick(field, lang) + (f" ({'.'.join(tail[1:])})" if tail[1:] else ""))
        return " › ".join(w for w in words if w)
    for cut in range(len(head), 0, -1):  # the longest known field, then the raw keys below it (data names)
        known = ".".join(head[:cut])
        rest = ".".join(head[cut:])
        if known in CARD_LABELS:
            section, field = CARD_LABELS[known]
            words = [_pick(section, lang), _pick(field, lang)] + ([rest] if rest else [])
            return " › ".join(words)
        if known in LIST_LABELS:
            return " › ".join([_pick(LIST_LABELS[known], lang)] + ([rest] if rest else []))
    return None


def _flat_label(labels: dict[str, Pair], path: str, lang: str) -> str | None:
    first, _, rest = path.partition(".")
    if first not in labels:
        return None
    return _pick(labels[first], lang) + (f" › {rest}" if rest else "")


def value_text(value: Any, lang: str, vocabulary: str | None = None) -> str:
    """A value as the page shows it: locale numbers, yes/no, vocabulary labels, lists joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _pick(YES_NO[value], lang)
    if isinstance(value, (int, float)):
        return number(value, lang)
    if vocabulary and isinstance(value, str):
        return vocab_label(vocabulary, value, lang)
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(value_text(v, lang) for v in value)
    if isinstance(value, dict) and all(k in ITEM_FIELDS for k in value):
        colon = "\u202f: " if lang == "fr" else ": "
        return " · ".join(f"{_pick(ITEM_FIELDS[k], lang)}{colon}{value_text(v, lang, ITEM_VOCABULARIES.get(k))}"
                          for k, v in value.items() if docpath.filled(v))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _vocabulary(part: str, path: str) -> str | None:
    if part == "card":
        if path in VOCAB_FIELDS:
            return VOCAB_FIELDS[path]
        parts = _split(path)
        return ITEM_VOCABULARIES.get(parts[2][0]) if parts and parts[1] and len(parts[2]) == 1 else None
    if part == "algorithm" and path in ALGORITHM_LABELS and path not in ("name", "summary", "description"):
        return path
    return None


def _trend(change: dict[str, Any]) -> str | None:
    """Better/worse for the value of a performance measure found in both versions."""
    parts = _split(change["path"])
    if change["change"] != "changed" or not parts or parts[0] != ["performance_metrics"] or parts[2] != ["value"]:
        return None
    name = parts[1][0].get("name") if parts[1] else None
    return metrics.trend(name, change["old"], change["new"])


def _raw(value: Any) -> bool:
    """Whether ``value_text`` shows the value as JSON (data, in no language) rather than as words."""
    if isinstance(value, list):
        return any(isinstance(v, (dict, list)) for v in value)
    return isinstance(value, dict) and not all(k in ITEM_FIELDS for k in value)


def _expanded(changes: list[dict[str, Any]], part: str) -> list[dict[str, Any]]:
    """A whole object added or removed (a card section, ``dependencies``) as one change per field, so each
    gets its label; list elements (a measure) stay whole, and read as words."""
    out: list[dict[str, Any]] = []
    for change in changes:
        value = change["new"] if change["change"] == "added" else change["old"]
        parts = _split(change["path"]) if part == "card" else None
        if change["change"] in ("added", "removed") and isinstance(value, dict) and value and parts and not parts[1]:
            below = change["path"] + "."
            if any(path.startswith(below) for path in (*CARD_LABELS, *LIST_LABELS)):
                for key, sub in value.items():
                    if sub is None:
                        continue
                    old, new = (None, sub) if change["change"] == "added" else (sub, None)
                    out.extend(_expanded([{"path": f"{change['path']}.{key}", "change": change["change"],
                                           "old": old, "new": new}], part))
                continue
        out.append(change)
    return out


def human_diff(diff: dict[str, Any], lang: str) -> dict[str, Any]:
    """The diff with, on each change, ``label`` (None when unknown: show the path), ``old_text``,
    ``new_text`` and ``trend`` ("better", "worse", "same" or None). The input is left unchanged."""
    lang = "fr" if lang == "fr" else "en"
    shown: dict[str, Any] = dict(diff)
    for part in ("card", "algorithm", "manifest", "artifacts"):
        rows = []
        for change in _expanded(diff.get(part) or [], part):
            path = change["path"]
            if part == "card":
                label = card_label(path, lang)
            elif part == "algorithm":
                label = _flat_label(ALGORITHM_LABELS, path, lang)
            elif part == "artifacts":
                label = _flat_label(ARTIFACT_LABELS, path, lang)
            else:
                label = None  # a file: its path is its name
            vocabulary = _vocabulary(part, path)
            rows.append({**change, "label": label, "trend": _trend(change) if part == "card" else None,
                         "old_text": value_text(change["old"], lang, vocabulary),
                         "new_text": value_text(change["new"], lang, vocabulary),
                         "old_raw": _raw(change["old"]), "new_raw": _raw(change["new"])})
        shown[part] = rows
    return shown
