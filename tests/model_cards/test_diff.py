"""Version diffs: exactly the fields and files that changed, named by dotted paths."""

from __future__ import annotations

import copy

from model_cards import docpath
from model_cards.diff import diff_documents
from model_cards.examples import example_document


def _pairs(changes: list[dict]) -> set[tuple[str, str]]:
    return {(c["path"], c["change"]) for c in changes}


def test_two_card_fields_and_one_file_changed_are_exactly_what_is_listed():
    old = example_document()
    new = copy.deepcopy(old)
    new["version"]["version"] = "1.2.0"
    new["card"]["training_data"]["size"] = 260_000
    new["card"]["sensitive_attributes"][2]["used_as_input"] = True
    new["artifacts"]["manifest"][2]["sha256"] = "f" * 64  # model.pkl
    diff = diff_documents(old, new)
    assert diff["versions"] == {"old": "1.1.0", "new": "1.2.0"}
    assert diff["card"] == [
        {"path": "sensitive_attributes[name=région].used_as_input", "change": "changed", "old": False, "new": True},
        {"path": "training_data.size", "change": "changed", "old": 250_000, "new": 260_000},
    ]
    assert diff["manifest"] == [
        {"path": "model.pkl", "change": "changed", "old": old["artifacts"]["manifest"][2]["sha256"], "new": "f" * 64},
    ]
    assert diff["algorithm"] == [] and diff["artifacts"] == []
    assert diff["changed"] is True


def test_identical_documents_have_no_changes():
    diff = diff_documents(example_document(), example_document())
    assert diff["card"] == diff["algorithm"] == diff["manifest"] == diff["artifacts"] == []
    assert diff["changed"] is False


def test_added_and_removed_fields_and_files():
    old = example_document()
    new = copy.deepcopy(old)
    del new["card"]["funding"]
    new["card"]["intended_use"]["instructions"] = None  # null and absent mean the same
    new["card"]["security"] = old["card"]["security"] + " Revue annuelle."
    new["artifacts"]["manifest"] = [f for f in new["artifacts"]["manifest"] if f["path"] != "conda.yaml"]
    new["artifacts"]["manifest"].append({"path": "registered_model_meta", "sha256": "a" * 64, "size": 12})
    diff = diff_documents(old, new)
    assert _pairs(diff["card"]) == {("funding", "removed"), ("intended_use.instructions", "removed"),
                                    ("security", "changed")}
    assert _pairs(diff["manifest"]) == {("conda.yaml", "removed"), ("registered_model_meta", "added")}


def test_metrics_are_matched_by_name_dataset_and_subgroup_not_position():
    old = example_document()
    new = copy.deepcopy(old)
    metrics = new["card"]["performance_metrics"]
    metrics.reverse()  # same metrics, another order: no change
    metrics.append({"name": "AUPRC", "value": 0.41, "ci_low": 0.39, "ci_high": 0.43, "dataset": "test interne (20 %)"})
    femmes = next(m for m in metrics if m.get("subgroup") == "femmes")
    femmes["ci_high"] = 0.79
    diff = diff_documents(old, new)
    assert _pairs(diff["card"]) == {
        ("performance_metrics[name=AUPRC][dataset=test interne (20 %)][subgroup=]", "added"),
        ("performance_metrics[name=AUROC][dataset=test interne (20 %)][subgroup=femmes].ci_high", "changed"),
    }
    changed = next(c for c in diff["card"] if c["change"] == "changed")
    assert docpath.resolve(new["card"], changed["path"]) == [0.79]  # diff paths resolve in the document


def test_lists_without_a_natural_key_are_compared_by_position():
    old = example_document()
    new = copy.deepcopy(old)
    new["card"]["input_output"]["outputs"] = [{"type": "double"}]
    old["card"]["input_output"]["outputs"] = [{"type": "long"}]
    diff = diff_documents(old, new)
    assert diff["card"] == [{"path": "input_output.outputs.0.type", "change": "changed", "old": "long", "new": "double"}]


def test_lists_of_plain_values_are_compared_as_a_whole():
    old = example_document()
    new = copy.deepcopy(old)
    new["card"]["dependencies"]["runtime"].append("shap==0.46.0")
    (change,) = diff_documents(old, new)["card"]
    assert change["path"] == "dependencies.runtime" and change["change"] == "changed"
    assert change["new"][-1] == "shap==0.46.0"


def test_algorithm_metadata_and_artifact_changes_are_reported_separately():
    old = example_document()
    new = copy.deepcopy(old)
    new["algorithm"]["license"] = "EUPL-1.2"
    new["algorithm"]["owners"].append("Inès Moreau")
    new["artifacts"]["archive_sha256"] = "b" * 64
    new["artifacts"]["mlmodel"]["run_id"] = "0" * 32
    diff = diff_documents(old, new)
    assert _pairs(diff["algorithm"]) == {("license", "changed"), ("owners", "changed")}
    assert _pairs(diff["artifacts"]) == {("archive_sha256", "changed"), ("mlmodel.run_id", "changed")}
    assert diff["card"] == [] and diff["manifest"] == []
