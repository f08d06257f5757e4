"""The diff as a reader meets it: labels from the card's own FR/EN names, locale numbers, better or worse."""

from __future__ import annotations

import copy

import pytest

from model_cards import metrics
from model_cards.diff import diff_documents
from model_cards.diff_view import human_diff
from model_cards.examples import load_example_card


@pytest.mark.parametrize(("name", "sense"), [
    ("ROC AUC", 1), ("AUROC", 1), ("AUC (bootstrap)", 1), ("Sensibilité", 1), ("C-statistic", 1),
    ("Brier score", -1), ("Score de Brier", -1), ("ECE", -1), ("Expected calibration error", -1),
    ("Calibration slope", None), ("Nombre de patients", None), ("", None),
])
def test_each_measure_has_one_direction_or_none(name, sense):
    assert metrics.direction(name) == sense


def test_a_trend_follows_the_direction_of_the_measure():
    assert metrics.trend("ROC AUC", 0.7364, 0.7341) == "worse"
    assert metrics.trend("ROC AUC", 0.70, 0.75) == "better"
    assert metrics.trend("Brier score", 0.09, 0.08) == "better"
    assert metrics.trend("ECE", 0.02, 0.05) == "worse"
    assert metrics.trend("AUROC", 0.8, 0.8) == "same"
    assert metrics.trend("Calibration slope", 0.9, 1.0) is None  # best at 1: no marker rather than a guess
    assert metrics.trend("AUROC", None, 0.8) is None


def _documents():
    old = {"version": {"version": "1.0.0"}, "card": load_example_card(), "algorithm": {"name": "A", "objective":
                                                                                     "risk_prediction"}}
    new = copy.deepcopy(old)
    new["version"] = {"version": "1.1.0"}
    new["algorithm"]["objective"] = "diagnosis_support"
    card = new["card"]
    card["performance_metrics"][0].update(value=0.7341, ci_high=0.79)  # AUROC down
    card["performance_metrics"][1]["value"] = 0.081  # Brier down: better
    card["performance_metrics"][2]["value"] = 1.0  # calibration slope: no direction
    card["training_data"]["size"] = 120000
    card["intended_population"]["setting"] = "hospital"
    return old, new


def test_every_change_of_a_card_gets_a_label_in_each_language_and_locale_numbers():
    old, new = _documents()
    raw = diff_documents(old, new)
    before = copy.deepcopy(raw)
    french, english = human_diff(raw, "fr"), human_diff(raw, "en")
    assert raw == before  # the API's diff is left as it is
    rows_fr = {c["path"]: c for c in french["card"]}
    rows_en = {c["path"]: c for c in english["card"]}
    assert all(c["label"] for c in french["card"] + french["algorithm"]), [c["path"] for c in french["card"]]
    auc = "performance_metrics[name=AUROC][dataset=test interne (20 %)][subgroup=].value"
    assert rows_fr[auc]["label"] == "Mesures de performance › AUROC (test interne (20 %)) › valeur"
    assert rows_en[auc]["label"] == "Performance measures › AUROC (test interne (20 %)) › value"
    assert (rows_fr[auc]["old_text"], rows_fr[auc]["new_text"]) == ("0,781", "0,7341")
    assert (rows_en[auc]["old_text"], rows_en[auc]["new_text"]) == ("0.781", "0.7341")
    assert rows_fr[auc]["trend"] == "worse"
    high = auc.replace(".value", ".ci_high")
    assert rows_fr[high]["label"].endswith("borne haute de l’IC") and rows_fr[high]["trend"] is None
    brier = "performance_metrics[name=Brier score][dataset=test interne (20 %)][subgroup=].value"
    assert rows_fr[brier]["trend"] == "better"
    slope = "performance_metrics[name=Calibration slope][dataset=test interne (20 %)][subgroup=].value"
    assert rows_fr[slope]["trend"] is None
    size = rows_fr["training_data.size"]
    assert size["label"] == "Données d’entraînement › Effectif"
    assert size["new_text"] == "120\u202f000" and rows_en["training_data.size"]["new_text"] == "120,000"
    setting = rows_fr["intended_population.setting"]
    assert setting["label"] == "Population et contexte › Contexte de soins" and "[" not in setting["new_text"]
    assert setting["new_text"] != "hospital" and rows_en["intended_population.setting"]["new_text"] != "hospital"
    objective = french["algorithm"][0]
    assert objective["label"] == "Objectif" and objective["new_text"] not in ("", "diagnosis_support")


def test_an_added_measure_reads_as_words_and_an_unknown_path_keeps_its_raw_form():
    old, new = _documents()
    new["card"]["performance_metrics"].append({"name": "ECE", "value": 0.031, "dataset": "cohorte 2022"})
    new["card"]["x_unknown"] = {"a": 1}
    rows = {c["path"]: c for c in human_diff(diff_documents(old, new), "fr")["card"]}
    added = rows["performance_metrics[name=ECE][dataset=cohorte 2022][subgroup=]"]
    assert added["label"] == "Mesures de performance › ECE (cohorte 2022)"
    assert added["new_text"] == "nom\u202f: ECE · valeur\u202f: 0,031 · données\u202f: cohorte 2022"
    assert rows["x_unknown"]["label"] is None  # shown as its path, never dropped


def test_a_section_added_whole_reads_field_by_field_and_json_is_flagged_as_data():
    old, new = _documents()
    dependencies = old["card"].pop("dependencies")
    new["card"]["dependencies"] = dependencies
    new["card"]["model_details"]["hyperparameters"] = {"max_depth": 4}
    rows = {c["path"]: c for c in human_diff(diff_documents(old, new), "fr")["card"]}
    assert "dependencies" not in rows
    assert rows["dependencies.hardware"]["label"] == "Dépendances › Matériel"
    assert rows["dependencies.runtime"]["new_raw"] is False
    changed = [c for path, c in rows.items() if path.startswith("model_details.hyperparameters")]
    assert changed and all(c["label"].startswith("Description du modèle › Hyperparamètres") for c in changed)
    mlmodel = human_diff({"artifacts": [{"path": "mlmodel", "change": "added", "old": None,
                                         "new": {"flavors": {"onnx": {"data": "model.onnx"}}}}]}, "fr")
    assert mlmodel["artifacts"][0]["new_raw"] is True and mlmodel["artifacts"][0]["label"].startswith("Description")
