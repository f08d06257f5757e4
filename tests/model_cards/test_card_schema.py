"""The card schema: marshmallow and the generated JSON Schema accept and refuse the same cards."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from model_cards.examples import example_mlmodel, load_example_card
from model_cards.schema import (
    CARD_SCHEMA_ID,
    CARD_SCHEMA_VERSION,
    CardSchema,
    card_json_schema,
    prefill_from_mlmodel,
    validate_card,
)
from registry_db.errors import ValidationFailed


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(card_json_schema())


def _marshmallow_errors(card: dict) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as exc:
        validate_card(card)
    assert exc.value.status == 422
    return exc.value.errors


def test_example_card_validates_and_comes_back_unchanged():
    card = load_example_card()
    assert validate_card(card) == card


def test_example_card_validates_against_the_generated_json_schema():
    schema = card_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert list(_validator().iter_errors(load_example_card())) == []


def test_json_schema_is_draft_2020_12_with_an_id_and_defs():
    schema = card_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == CARD_SCHEMA_ID and CARD_SCHEMA_VERSION in CARD_SCHEMA_ID
    assert schema["properties"]["training_data"] == {"$ref": "#/$defs/TrainingData"}
    assert schema["properties"]["performance_metrics"]["items"] == {"$ref": "#/$defs/PerformanceMetric"}
    assert "#/components" not in json.dumps(schema)


def test_json_schema_follows_the_marshmallow_schema_field_for_field():
    schema = card_json_schema()
    assert set(schema["properties"]) == set(CardSchema().fields)
    assert schema["additionalProperties"] is False
    assert all(d["additionalProperties"] is False for d in schema["$defs"].values())
    metric = schema["$defs"]["PerformanceMetric"]
    assert metric["required"] == ["name", "value"]
    assert schema["$defs"]["IntendedUse"]["properties"]["decision_role"]["enum"] == ["informs", "augments", "replaces"]
    assert schema["$defs"]["TrainingData"]["properties"]["period_start"]["format"] == "date"
    assert schema["properties"]["limitations"]["contentMediaType"] == "text/markdown"
    assert schema["$defs"]["Derived"]["properties"]["fields"]["type"] == "array"


BAD_CARDS = [
    ("unknown top-level field", {"colour": "blue"}, "colour"),
    ("unknown nested field", {"training_data": {"rows": 3}}, "training_data.rows"),
    ("size as a string", {"training_data": {"size": "250000"}}, "training_data.size"),
    ("size as a float", {"training_data": {"size": 2.5}}, "training_data.size"),
    ("boolean as a word", {"sensitive_attributes": [{"name": "sexe", "used_as_input": "yes"}]},
     "sensitive_attributes.0.used_as_input"),
    ("decision role outside the vocabulary", {"intended_use": {"decision_role": "decides"}},
     "intended_use.decision_role"),
    ("data source outside the taxonomy", {"training_data": {"source": "twitter"}}, "training_data.source"),
    ("metric value as a string", {"performance_metrics": [{"name": "AUROC", "value": "0.8"}]},
     "performance_metrics.0.value"),
    ("metric without a value", {"performance_metrics": [{"name": "AUROC"}]}, "performance_metrics.0.value"),
    ("confidence level of 1", {"performance_metrics": [{"name": "AUROC", "value": 0.8, "level": 1}]},
     "performance_metrics.0.level"),
    ("negative age", {"intended_population": {"age_min": -1}}, "intended_population.age_min"),
    ("object given as a list", {"intended_population": ["65+"]}, "intended_population"),
    ("hyper-parameters as a list", {"model_details": {"hyperparameters": [1, 2]}}, "model_details.hyperparameters"),
    ("text too long", {"limitations": "x" * 20_001}, "limitations"),
    ("null instead of omitting", {"funding": None}, "funding"),
]


@pytest.mark.parametrize(("case", "card", "path"), BAD_CARDS, ids=[c[0] for c in BAD_CARDS])
def test_wrong_types_and_unknown_fields_are_refused_by_both_validators(case, card, path):
    assert path in _marshmallow_errors(card)
    assert list(_validator().iter_errors(card)), f"JSON Schema accepted: {case}"


def test_every_error_is_reported_at_once_with_dotted_paths():
    card = load_example_card()
    card["performance_metrics"][0]["ci_low"] = 0.9  # above the value 0.781
    card["performance_metrics"][2]["ci_high"] = 0.5  # below the value 0.97
    card["training_data"]["size"] = "many"
    card["model_details"]["contact"] = "not an e-mail"
    card["bogus"] = True
    errors = _marshmallow_errors(card)
    assert set(errors) == {
        "performance_metrics.0.ci_low", "performance_metrics.2.ci_high", "training_data.size",
        "model_details.contact", "bogus",
    }
    assert errors["performance_metrics.0.ci_low"] == ["ci_low must not be greater than value"]


def test_a_confidence_interval_needs_both_bounds():
    errors = _marshmallow_errors({"performance_metrics": [{"name": "AUROC", "value": 0.8, "ci_low": 0.7}]})
    assert errors == {"performance_metrics.0.ci_high": ["give both bounds of the confidence interval"]}


def test_an_interval_that_contains_the_value_is_accepted_including_its_bounds():
    card = {"performance_metrics": [{"name": "AUROC", "value": 0.8, "ci_low": 0.8, "ci_high": 0.8, "level": 0.95}]}
    assert validate_card(card) == card


def test_a_period_that_ends_before_it_starts_is_refused():
    errors = _marshmallow_errors({"training_data": {"period_start": "2020-01-01", "period_end": "2019-12-31"}})
    assert errors == {"training_data.period_start": ["period_start must not be after period_end"]}


def test_an_age_range_upside_down_is_refused():
    errors = _marshmallow_errors({"intended_population": {"age_min": 80, "age_max": 65}})
    assert "intended_population.age_min" in errors


def test_a_partial_draft_is_valid():
    draft = {"intended_use": {"primary_uses": "À compléter"}, "training_data": {"period_start": "2018-01-01"}}
    assert validate_card(draft) == draft
    assert validate_card({}) == {}


def test_a_card_that_is_not_an_object_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        validate_card(["not", "a", "card"])  # type: ignore[arg-type]
    assert exc.value.errors == {"_schema": ["expected a JSON object"]}


def test_validated_card_is_plain_json():
    card = validate_card(load_example_card())
    assert json.loads(json.dumps(card)) == card
    assert card["training_data"]["period_start"] == "2017-01-01"


# --- prefill from an MLflow model ---------------------------------------------------------


def test_prefill_reads_the_signature_requirements_and_flavors():
    card = prefill_from_mlmodel(example_mlmodel())
    inputs = card["input_output"]["inputs"]
    assert [f["name"] for f in inputs] == [f["name"] for f in load_example_card()["input_output"]["inputs"]]
    assert inputs[0] == {"name": "age", "type": "long", "required": True}
    assert card["input_output"]["outputs"] == [{"name": "risque_hospitalisation_12m", "type": "double", "required": True}]
    assert card["dependencies"]["runtime"][0] == "python==3.11.7"
    assert "scikit-learn==1.5.2" in card["dependencies"]["runtime"]
    assert card["model_details"]["model_type"] == "sklearn"
    assert card["derived"] == {
        "source": "mlflow",
        "fields": ["input_output.inputs", "input_output.outputs", "dependencies.runtime", "model_details.model_type"],
        "mlflow_version": "3.17.2",
        "run_id": "4f1c2d9e8b7a4c3f9e0d1a2b3c4d5e6f",
        "model_uuid": "9b8e7c6d5f4a43219e8d7c6b5a4f3e2d",
    }
    assert validate_card(card) == card


def test_prefill_names_the_model_class_when_the_flavor_records_it():
    mlmodel = {"flavors": {"python_function": {"loader_module": "mlflow.xgboost"},
                           "xgboost": {"model_class": "xgboost.sklearn.XGBClassifier", "data": "model.xgb"}}}
    card = prefill_from_mlmodel(mlmodel)
    assert card["model_details"]["model_type"] == "xgboost: XGBClassifier"
    assert card["derived"]["fields"] == ["model_details.model_type"]


def test_prefill_describes_tensor_signatures_and_skips_what_is_absent():
    mlmodel = {
        "flavors": {"python_function": {"loader_module": "my_loader"}},
        "loader_module": "my_loader",
        "signature": {"inputs": [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}],
                      "outputs": None, "params": None},
        "requirements": [],
    }
    card = prefill_from_mlmodel(mlmodel)
    assert card["input_output"] == {"inputs": [{"type": "tensor(float64, shape=[-1, 4])"}]}
    assert card["model_details"]["model_type"] == "python_function (my_loader)"
    assert "dependencies" not in card and "run_id" not in card["derived"]
    assert validate_card(card) == card


def test_prefill_of_an_empty_model_records_only_its_source():
    assert prefill_from_mlmodel({}) == {"derived": {"source": "mlflow", "fields": []}}


def test_prefill_from_a_real_mlflow_model(tmp_path):
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from boas.registry.artifacts.mlmodel import read_mlmodel

    X = pd.DataFrame({"age": [66.0, 71.0, 80.0, 90.0], "nb_ald": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    path = tmp_path / "model"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(X, model.predict(X)))
    card = prefill_from_mlmodel(read_mlmodel(path).as_dict())
    assert [f["name"] for f in card["input_output"]["inputs"]] == ["age", "nb_ald"]
    assert card["model_details"]["model_type"] == "sklearn"
    assert any(r.startswith("python==3.") for r in card["dependencies"]["runtime"])
    assert card["derived"]["mlflow_version"] == mlflow.__version__
    merged = copy.deepcopy(load_example_card()) | card
    assert validate_card(merged)["derived"]["fields"] == card["derived"]["fields"]
