"""The draft-card editor form: complete, lossless, and every baseline item points at a control."""

from __future__ import annotations

from marshmallow import fields as mfields
from werkzeug.datastructures import MultiDict

from boas.pages import forms
from boas.pages.messages import Localiser, localise_errors
from boas.registry.algorithms import EDITABLE_FIELDS
from model_cards.baseline import ITEMS
from model_cards.examples import load_example_card
from model_cards.patch import merge_patch
from model_cards.schema import CardSchema, validate_card


def _leaves(schema, prefix=""):
    for name, field in schema.fields.items():
        if name == "derived":
            continue
        if isinstance(field, mfields.Nested):
            yield from _leaves(field.schema, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_every_card_field_has_a_control():
    paths = {f.path for f in forms.all_fields()}
    assert set(_leaves(CardSchema())) == paths


def test_the_form_round_trips_the_complete_example_card():
    card = load_example_card()
    card.pop("derived", None)
    submitted = MultiDict({f.name: forms.display_value(f, card) for f in forms.all_fields()})
    patch, errors, _raw = forms.parse_card_form(submitted)
    assert errors == {}
    assert validate_card(merge_patch({}, patch)) == validate_card(card)


def test_emptied_fields_are_removed_and_bad_input_is_reported_per_field():
    card = load_example_card()
    submitted = MultiDict({f.name: forms.display_value(f, card) for f in forms.all_fields()})
    submitted["card.limitations"] = "   "
    submitted["card.training_data.size"] = "beaucoup"
    submitted["card.performance_metrics"] = '[{"name": "AUC",'
    patch, errors, raw = forms.parse_card_form(submitted)
    assert patch["limitations"] is None
    assert set(errors) == {"training_data.size", "performance_metrics"}
    assert raw["training_data.size"] == "beaucoup"


def test_service_errors_land_on_the_control_that_edits_them():
    english = Localiser(lambda message: message, "en")
    errors = localise_errors({
        "performance_metrics.0.ci_low": ["ci_low must not be greater than value"],
        "intended_use.decision_role": ["must be one of: informs, augments, replaces"],
        "_schema": ["expected a JSON object"]}, forms.card_fields("en"), english, fold=forms.card_fold(english))
    metrics = next(f for f in forms.all_fields() if f.path == "performance_metrics")
    assert [str(m) for m in errors["performance_metrics"]] == ["row 1 › CI low: ci_low must not be greater than value"]
    assert "intended_use.decision_role" in errors
    lines = {item.anchor: (item.label, [str(m) for m in item.messages]) for item in errors.summary_items}
    assert lines[metrics.id][0] == "Performance measures"
    assert lines[None] == ("Other problems", ["expected a JSON object"])  # no control: a line without a link


def test_every_baseline_item_links_to_where_it_is_fixed():
    ids = {f.id for f in forms.all_fields()}
    for item in ITEMS:
        kind, anchor = forms.fix_link(item.path)
        if item.path.startswith("card."):
            assert kind == "field" and anchor in ids, item.path
        elif item.path.startswith("algorithm.") and item.path.split(".")[1] in EDITABLE_FIELDS:
            assert kind == "algorithm" and anchor == "algorithm-" + item.path.split(".")[1]
        else:
            assert kind in ("upload", "audit", "none"), item.path


def _rows_form(lang_rows: list[dict[str, str]], **extra: str) -> MultiDict:
    data = MultiDict({f"card.performance_metrics.{i}.{key}": value for i, row in enumerate(lang_rows)
                      for key, value in row.items()})
    data.update(extra)
    return data


def test_measures_entered_as_rows_read_decimals_the_page_s_way_and_refuse_the_other_way():
    french = _rows_form([{"name": "AUC", "value": "0,73", "ci_low": "0,70", "ci_high": "0,76", "level": "0,95",
                          "evaluation_data": "external"}, {"name": "", "value": ""}])
    patch, errors, raw = forms.parse_card_form(french, "fr")
    assert errors == {}
    assert patch["performance_metrics"] == [{"name": "AUC", "value": 0.73, "ci_low": 0.70, "ci_high": 0.76,
                                             "level": 0.95, "evaluation_data": "external"}]
    assert raw["performance_metrics.rows"][0]["value"] == "0,73"  # redrawn as typed
    english = _rows_form([{"name": "AUC", "value": "0.73"}])
    assert forms.parse_card_form(english, "en")[0]["performance_metrics"] == [{"name": "AUC", "value": 0.73}]
    ambiguous = _rows_form([{"name": "AUC", "value": "0.73", "ci_low": "beaucoup"}])
    _patch, errors, _raw = forms.parse_card_form(ambiguous, "fr")
    assert len(errors["performance_metrics"]) == 2
    assert "0,73" in errors["performance_metrics"][0] and "1" in errors["performance_metrics"][0]
    _patch, errors, _raw = forms.parse_card_form(_rows_form([{"name": "AUC", "value": "0,73"}]), "en")
    assert errors["performance_metrics"]  # a comma on an English page is not guessed


def test_a_removed_row_is_dropped_and_no_rows_leave_the_json_field_in_charge():
    form = _rows_form([{"name": "AUC", "value": "0,8"}, {"name": "Brier", "value": "0,1"}],
                      **{"card.performance_metrics.0.remove": "1"})
    assert forms.parse_card_form(form, "fr")[0]["performance_metrics"] == [{"name": "Brier", "value": 0.1}]
    legacy = MultiDict({"card.performance_metrics": '[{"name": "AUC", "value": 0.8}]'})
    assert forms.parse_card_form(legacy, "fr")[0]["performance_metrics"] == [{"name": "AUC", "value": 0.8}]
    card = {"performance_metrics": [{"name": "AUC", "value": 0.7364, "ci_low": 0.7}]}
    assert forms.metric_rows(card, "fr")[0]["value"] == "0,7364" and forms.metric_rows(card, "en")[0]["value"] == "0.7364"
