"""The draft-card editor form, generated from the card's marshmallow schema so it cannot miss a field.

Scalar fields get a matching control (text, Markdown textarea, number, date, select); lists of text get
one-per-line textareas; lists of objects and mappings get a labelled JSON textarea. Submitting the form
yields a JSON merge patch of the whole card (an emptied field removes its key), which the same
``cards.update_card`` service as the API validates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_babel import gettext as _
from markupsafe import Markup, escape
from marshmallow import fields, validate

from boas.pages.messages import ROW, Field, Localiser, path_words
from boas.registry.algorithms import EDITABLE_FIELDS
from model_cards import docpath
from model_cards.schema import CardSchema
from model_cards.sections import SECTIONS

EXTRA_FIELDS: dict[str, tuple[str, tuple[str, str]]] = {  # path -> (section it joins, (fr, en) label)
    "language": ("general", ("Langues de la fiche (codes ISO 639)", "Card languages (ISO 639 codes)")),
    "keywords": ("general", ("Mots-clés", "Keywords")),
    "input_output.inputs": ("input_output", ("Entrées", "Inputs")),
    "input_output.outputs": ("input_output", ("Sorties", "Outputs")),
    "performance_metrics": ("performance", ("Mesures de performance", "Performance measures")),
    "sensitive_attributes": ("fairness", ("Attributs sensibles", "Sensitive attributes")),
    "references": ("governance", ("Références", "References")),
}
JSON_EXAMPLES = {
    "sensitive_attributes": [{"name": "sex", "used_as_input": True, "groups": ["female", "male"],
                              "rationale": "..."}],
    "performance_metrics": [{"name": "AUC", "value": 0.81, "ci_low": 0.79, "ci_high": 0.83, "level": 0.95,
                             "dataset": "...", "subgroup": "women"}],
    "input_output.inputs": [{"name": "age", "type": "integer", "required": True, "description": "..."}],
    "input_output.outputs": [{"name": "risk", "type": "double", "description": "..."}],
    "references": [{"title": "...", "doi": "10.1234/abcd", "kind": "publication"}],
    "model_details.hyperparameters": {"max_depth": 3, "learning_rate": 0.1},
}


@dataclass(frozen=True)
class CardField:
    """One control of the editor: ``path`` is relative to the card (``training_data.size``)."""

    path: str
    kind: str  # markdown, line, choice, integer, number, date, email, url, lines, json
    label: tuple[str, str]
    choices: tuple[str, ...] = ()
    vocabulary: str | None = None

    @property
    def name(self) -> str:
        return f"card.{self.path}"

    @property
    def id(self) -> str:
        return field_id(self.path)

    @property
    def example(self) -> str:
        example = JSON_EXAMPLES.get(self.path)
        return json.dumps(example, ensure_ascii=False) if example is not None else ""


METRICS_PATH = "performance_metrics"
# The columns of a performance measure's row: (key, kind, (fr, en) header). Numbers are read in the page's locale.
METRIC_COLUMNS: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("name", "text", ("Mesure", "Measure")), ("value", "number", ("Valeur", "Value")),
    ("ci_low", "number", ("IC, borne basse", "CI low")), ("ci_high", "number", ("IC, borne haute", "CI high")),
    ("level", "number", ("Niveau de l’IC (0–1)", "CI level (0–1)")), ("dataset", "text", ("Données", "Dataset")),
    ("subgroup", "text", ("Sous-groupe", "Subgroup")),
    ("evaluation_data", "vocab:evaluation_data", ("Origine des données", "Evaluation data")),
    ("category", "vocab:metric_category", ("Catégorie", "Category")),
)


def field_id(path: str) -> str:
    return "card-" + path.replace(".", "-")


def _schema_field(path: str) -> fields.Field:
    schema_fields = CardSchema().fields
    parts = path.split(".")
    for part in parts[:-1]:
        schema_fields = schema_fields[part].schema.fields
    return schema_fields[parts[-1]]


def _kind(field: fields.Field) -> tuple[str, tuple[str, ...]]:
    if isinstance(field, fields.List):
        return ("json" if isinstance(field.inner, fields.Nested) else "lines"), ()
    simple = ((fields.Dict, "json"), (fields.Date, "date"), (fields.Integer, "integer"), (fields.Float, "number"),
              (fields.Email, "email"), (fields.Url, "url"))
    for cls, kind in simple:
        if isinstance(field, cls):
            return kind, ()
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return "choice", tuple(validator.choices)
    return ("markdown" if field.metadata.get("x-markdown") else "line"), ()


@lru_cache(maxsize=1)
def form_sections() -> tuple[tuple[str, tuple[str, str], tuple[CardField, ...]], ...]:
    """The editor's fieldsets, in the card's reading order."""
    extras: dict[str, list[tuple[str, tuple[str, str]]]] = {}
    for path, (section, label) in EXTRA_FIELDS.items():
        extras.setdefault(section, []).append((path, label))
    layout = [("general", ("Général", "General"), ()), *SECTIONS]
    sections = []
    for section_id, title, rows in layout:
        listed = [(row.path, row.label, row.kind) for row in rows]
        extra = [(path, label, "") for path, label in extras.get(section_id, [])]
        # Sensitive attributes are declared before the mitigations; other extras close their section.
        entries = extra + listed if section_id == "fairness" else listed + extra
        built = []
        for path, label, row_kind in entries:
            kind, choices = ("metrics", ()) if path == METRICS_PATH else _kind(_schema_field(path))
            vocabulary = row_kind.split(":", 1)[1] if row_kind.startswith("vocab:") else None
            built.append(CardField(path, kind, label, choices, vocabulary))
        sections.append((section_id, title, tuple(built)))
    return tuple(sections)


def all_fields() -> list[CardField]:
    return [field for _id, _title, section in form_sections() for field in section]


def field_for(path: str) -> CardField | None:
    """The control that edits a card path (the longest field path it starts with)."""
    matches = [f for f in all_fields() if path == f.path or path.startswith(f.path + ".")]
    return max(matches, key=lambda f: len(f.path), default=None)


def display_value(field: CardField, card: dict[str, Any]) -> str:
    """A card value as the control shows it."""
    found = docpath.resolve(card, field.path)
    value = found[0] if found else None
    if value is None:
        return ""
    if field.kind in ("json", "metrics"):
        return json.dumps(value, ensure_ascii=False, indent=2)
    if field.kind == "lines":
        return "\n".join(str(item) for item in value)
    return str(value)


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _convert(field: CardField, raw: str) -> Any:
    text = raw.replace("\r\n", "\n")
    if not text.strip():
        return None
    if field.kind == "integer":
        return int(text.strip())
    if field.kind == "number":
        return float(text.strip().replace(",", "."))
    if field.kind == "lines":
        return [line.strip() for line in text.split("\n") if line.strip()]
    if field.kind in ("json", "metrics"):
        return json.loads(text)
    return text.rstrip() if field.kind == "markdown" else text.strip()


def metric_rows(card: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """The card's performance measures as the rows of the editor, numbers written the locale's way."""
    rows = []
    for metric in card.get(METRICS_PATH) or []:
        if not isinstance(metric, dict):
            continue
        rows.append({key: (format_decimal(metric[key], format="0.##########", locale=_LOCALES[lang])
                           if kind == "number" and isinstance(metric.get(key), (int, float))
                           and not isinstance(metric.get(key), bool)
                           else str(metric.get(key) if metric.get(key) is not None else ""))
                     for key, kind, _label in METRIC_COLUMNS})
    return rows


_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def parse_number(text: str, lang: str) -> float:
    """A decimal written the page's way: 0,73 in French, 0.73 in English. The other locale's separator is
    refused rather than guessed (is "1.234" in French one thousand two hundred and thirty-four?)."""
    cleaned = text.strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    wrong = "." if lang == "fr" else ","
    if wrong in cleaned:
        raise ValueError(_("Write decimals with a comma, as in 0,73.") if lang == "fr"
                         else _("Write decimals with a point, as in 0.73."))
    try:
        number = float(parse_decimal(cleaned, locale=_LOCALES[lang], strict=True))
    except (NumberFormatError, ValueError):
        raise ValueError(_("Enter a number.")) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(_("Enter a number."))
    return number


def _metric_form(form, lang: str) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[str]] | None:
    """(measures, raw rows, errors) from the row controls, or None when no row holds anything (then the
    JSON field, which the API's clients and older forms send, is read instead). Blank and removed rows
    are dropped; a row's index in errors is its index among the measures kept, as the service names it."""
    prefix = f"card.{METRICS_PATH}."
    indexes = sorted({int(part) for key in form for part in [key[len(prefix):].split(".")[0]]
                      if key.startswith(prefix) and part.isdigit() and len(part) < 5})
    measures: list[dict[str, Any]] = []
    raw_rows: list[dict[str, str]] = []
    errors: list[str] = []
    touched = False
    for index in indexes:
        cells = {key: form.get(f"{prefix}{index}.{key}", "").strip() for key, _kind, _label in METRIC_COLUMNS}
        if not any(cells.values()):
            continue
        touched = True
        if form.get(f"{prefix}{index}.remove") == "1":
            continue
        raw_rows.append(cells)
        measure: dict[str, Any] = {}
        for key, kind, label in METRIC_COLUMNS:
            if not cells[key]:
                continue
            if kind == "number":
                try:
                    measure[key] = parse_number(cells[key], lang)
                except ValueError as exc:
                    errors.append(_("Row %(row)s, %(column)s: %(message)s", row=len(raw_rows),
                                    column=label[0] if lang == "fr" else label[1], message=str(exc)))
            else:
                measure[key] = cells[key]
        measures.append(measure)
    return (measures, raw_rows, errors) if touched else None


def parse_card_form(form, lang: str = "en") -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Any]]:
    """(merge patch, errors by card path, raw values by card path) from the submitted editor."""
    patch: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    raw_values: dict[str, Any] = {}
    rows = _metric_form(form, "fr" if lang == "fr" else "en")
    if rows is not None:
        measures, raw_values[f"{METRICS_PATH}.rows"], row_errors = rows
        patch[METRICS_PATH] = measures or None
        if row_errors:
            errors[METRICS_PATH] = row_errors
    for field in all_fields():
        if field.path == METRICS_PATH and rows is not None:
            continue
        raw = form.get(field.name, "")
        raw_values[field.path] = raw
        try:
            _set(patch, field.path, _convert(field, raw))
        except json.JSONDecodeError as exc:
            errors[field.path] = [_("Not valid JSON: %(message)s (line %(line)s, column %(column)s).",
                                    message=exc.msg, line=exc.lineno, column=exc.colno)]
        except ValueError:
            errors[field.path] = [_("Enter a whole number.") if field.kind == "integer" else _("Enter a number.")]
    return patch, errors, raw_values


def card_fields(lang: str) -> dict[str, Field]:
    """The editor's controls as the error summary names them: id and label in the page's language."""
    return {f.path: Field(f.id, f.label[0] if lang == "fr" else f.label[1]) for f in all_fields()}


def _rest_words(field: CardField, rest: list[str], localise: Localiser) -> Markup | None:
    if field.path == METRICS_PATH:  # a measure's row and its column, as the rows of controls show them
        columns = {key: header[0] if localise.lang == "fr" else header[1] for key, _kind, header in METRIC_COLUMNS}
        return path_words(rest, localise, row=ROW, columns=columns)
    return path_words(rest, localise)


def card_fold(localise: Localiser) -> Callable[[str], tuple[str | None, Markup | None]]:
    """Service errors on card paths (``performance_metrics.2.value``) onto the control that edits them, the
    rest of the path said as a reader would ("row 3 › Value"); a path no control edits is named as data."""
    def fold(key: str) -> tuple[str | None, Markup | None]:
        field = field_for(key)
        if field is None:
            return None, None if key == "_schema" else Markup('<span translate="no">{}</span>').format(key)
        return field.path, _rest_words(field, key[len(field.path) + 1:].split("."), localise)
    return fold


def card_path_label(path: str, localise: Localiser) -> Markup:
    """A card path as a reader names it: its control's label, then the rest of the path ("Performance
    measures › row 3 › Value"), for forms that carry the card whole (the upload's JSON)."""
    field = field_for(path)
    if field is None:
        return Markup('<span translate="no">{}</span>').format(path)
    label = escape(field.label[0] if localise.lang == "fr" else field.label[1])
    rest = _rest_words(field, path[len(field.path) + 1:].split("."), localise)
    return Markup(" › ").join([label, rest]) if rest else label


def fix_link(path: str) -> tuple[str, str | None]:
    """Where a baseline item is fixed: ("field", anchor), ("algorithm", anchor), ("upload"|"audit"|"none", None)."""
    if path.startswith("card."):
        field = field_for(path[len("card."):].replace(".*", ""))
        return ("field", field.id) if field else ("none", None)
    if path.startswith("algorithm."):
        name = path.split(".")[1]
        return ("algorithm", f"algorithm-{name}") if name in EDITABLE_FIELDS else ("none", None)
    if path.startswith("artifacts."):
        return "upload", None
    if path.startswith("audits"):
        return "audit", None
    return "none", None
