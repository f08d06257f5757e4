"""The quality baseline: the example passes, and each mandatory item alone blocks publication."""

from __future__ import annotations

import copy
import json

import pytest

from model_cards import baseline, docpath
from model_cards.examples import example_document
from model_cards.schema import CardSchema


def _check(document: dict, **kwargs) -> baseline.BaselineReport:
    context = {k: v for k, v in document.items() if k not in ("card", "audits")}
    return baseline.check(document["card"], document["audits"], context=context, **kwargs)


def _without(document: dict, path: str) -> dict:
    """A copy of the document with the value at ``path`` removed (an empty list for the audits)."""
    doc = copy.deepcopy(document)
    if path == "audits":
        doc["audits"] = []
        return doc
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    del node[leaf]
    return doc


def _rule_based_document() -> dict:
    doc = example_document()
    doc["algorithm"]["kind"] = "rule_based"
    doc["artifacts"] = {"kind": None, "archive_sha256": None, "manifest": [], "mlmodel": None}
    doc["audits"] = []
    return doc


def _mandatory_paths(document: dict, **kwargs) -> list[str]:
    return [i["path"] for i in _check(document, **kwargs).items if i["mandatory"]]


ML_MANDATORY = _mandatory_paths(example_document())
RULE_MANDATORY = _mandatory_paths(_rule_based_document())


def test_the_example_meets_the_baseline():
    report = _check(example_document())
    assert report.publishable
    assert report.missing == []
    assert report.score == 1.0
    assert all(p["score"] == 1.0 for p in report.as_dict()["pillars"].values())


def test_the_mandatory_items_of_a_machine_learning_model():
    assert set(ML_MANDATORY) == {
        "algorithm.name", "version.version", "card.model_details.developers", "card.model_details.contact",
        "artifacts.archive_sha256", "card.training_data.source", "card.training_data.period_start",
        "card.training_data.period_end", "card.model_details.change_summary", "card.training_data.size",
        "card.training_data.label_definition", "card.model_details.model_type", "card.performance_metrics",
        "card.sensitive_attributes", "audits", "card.limitations", "card.intended_use.primary_uses",
        "card.intended_use.primary_users", "card.intended_use.decision_role", "card.intended_use.out_of_scope_uses",
        "card.intended_population.description", "card.intended_population.setting", "card.input_output.inputs",
        "card.input_output.output_description", "algorithm.license", "card.maintenance.schedule",
    }


def test_rule_based_algorithms_need_code_not_model_artifacts():
    assert {"algorithm.code_repository_url", "algorithm.code_commit"} <= set(RULE_MANDATORY)
    assert not {"artifacts.archive_sha256", "audits", "card.model_details.model_type"} & set(RULE_MANDATORY)
    assert _check(_rule_based_document()).publishable


@pytest.mark.parametrize("path", ML_MANDATORY)
def test_removing_one_mandatory_field_of_a_model_reports_exactly_that_field(path):
    report = _check(_without(example_document(), path))
    assert [m["path"] for m in report.missing] == [path]
    assert report.publishable is False
    assert report.missing[0]["message"]["fr"] and report.missing[0]["message"]["en"]


@pytest.mark.parametrize("path", RULE_MANDATORY)
def test_removing_one_mandatory_field_of_a_rule_based_algorithm_reports_exactly_that_field(path):
    report = _check(_without(_rule_based_document(), path))
    assert [m["path"] for m in report.missing] == [path]
    assert report.publishable is False


def test_a_performance_metric_without_confidence_interval_does_not_count():
    doc = example_document()
    for metric in doc["card"]["performance_metrics"]:
        del metric["ci_low"], metric["ci_high"]
    assert [m["id"] for m in _check(doc).missing] == ["performance_with_ci"]


def test_sensitive_attributes_must_say_whether_they_are_inputs():
    doc = example_document()
    del doc["card"]["sensitive_attributes"][1]["used_as_input"]
    assert [m["id"] for m in _check(doc).missing] == ["sensitive_attributes"]


def test_a_malformed_file_digest_does_not_count_as_traceable():
    doc = example_document()
    doc["artifacts"]["manifest"][0]["sha256"] = "not-a-digest"
    assert [m["id"] for m in _check(doc).missing] == ["artifact_digests"]


@pytest.mark.parametrize("audits", [
    [],
    [{"kind": "bias", "status": "failed"}],
    [{"kind": "bias", "status": "running"}],
    [{"kind": "drift", "status": "succeeded"}],
], ids=["none", "failed", "running", "drift only"])
def test_a_model_needs_a_succeeded_bias_audit_when_the_gate_is_on(audits):
    doc = example_document()
    doc["audits"] = audits
    report = _check(doc, require_bias_audit=True)
    assert [m["path"] for m in report.missing] == ["audits"]
    assert "bias audit" in report.missing[0]["message"]["en"]


def test_with_the_gate_off_a_model_without_audit_is_publishable_and_says_why():
    doc = example_document()
    doc["audits"] = []
    report = _check(doc, require_bias_audit=False)
    assert report.publishable
    item = next(i for i in report.items if i["id"] == "bias_audit")
    assert item["mandatory"] is False and item["satisfied"] is False
    assert "disabled" in item["message"]["en"] and "désactivée" in item["message"]["fr"]
    assert report.score < 1.0  # still counted: an audit remains recommended


def test_with_the_gate_off_a_present_audit_is_still_reported_and_the_gate_state_shown():
    report = _check(example_document(), require_bias_audit=False)
    item = next(i for i in report.items if i["id"] == "bias_audit")
    assert item["satisfied"] is True
    assert "disabled" in item["message"]["en"]
    assert report.as_dict()["require_bias_audit"] is False


def test_a_change_summary_is_required_only_when_there_is_a_previous_version():
    doc = example_document()
    doc["version"]["previous_version"] = None
    del doc["card"]["model_details"]["change_summary"]
    report = _check(doc)
    assert report.publishable
    assert "change_summary" not in [i["id"] for i in report.items]


def test_optional_items_lower_the_score_but_not_publication():
    doc = _without(example_document(), "card.bias_mitigations")
    report = _check(doc)
    assert report.publishable
    pillar = report.as_dict()["pillars"]["auditability_of_bias"]
    assert pillar["score"] == pytest.approx(5 / 6, abs=1e-4)
    assert 0 < report.score < 1


def test_an_empty_card_lists_every_mandatory_item_with_sentences_in_both_languages():
    doc = example_document()
    doc["card"], doc["audits"] = {}, []
    report = _check(doc)
    missing_paths = {m["path"] for m in report.missing}
    assert {p for p in ML_MANDATORY if p.startswith(("card.", "audits"))} == missing_paths
    assert all(m["message"]["fr"].endswith(".") and m["message"]["en"].endswith(".") for m in report.missing)
    assert report.errors("fr")["card.limitations"] == ["Décrivez les limites connues de l’algorithme."]


def test_an_unknown_kind_gets_the_stricter_model_rules():
    doc = example_document()
    doc["algorithm"]["kind"] = None
    doc["audits"] = []
    report = _check(doc)
    assert report.kind == "ml_model"
    assert [m["path"] for m in report.missing] == ["audits"]


def test_the_report_is_json_with_four_pillars():
    data = _check(example_document()).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data["pillars"]) == ["traceability", "transparency_of_training", "auditability_of_bias",
                                     "technical_documentation"]
    item = data["pillars"]["traceability"]["items"][0]
    assert set(item) == {"id", "pillar", "path", "mandatory", "satisfied", "label", "message"}
    assert item["label"] == {"fr": "Nom de l’algorithme", "en": "Algorithm name"}


def test_card_path_check_refuses_typos():
    assert card_path_exists("training_data.period_start")
    assert card_path_exists("performance_metrics.*.ci_low")
    assert not card_path_exists("training_data.period_begin")
    assert not card_path_exists("limitations.text")


def test_the_item_table_is_well_formed_and_its_card_paths_exist_in_the_schema():
    ids = [i.id for i in baseline.ITEMS]
    assert len(ids) == len(set(ids))
    for item in baseline.ITEMS:
        assert item.pillar in baseline.PILLARS and item.check in baseline.CHECKS
        docpath.parse(item.path)
        if item.path.startswith("card."):
            assert card_path_exists(item.path.removeprefix("card.")), item.path


def card_path_exists(path: str) -> bool:
    """Whether a card path (without "card.") names declared CardSchema fields; ``*`` and filters are skipped."""
    schema = CardSchema()
    steps = [step for kind, step in docpath.parse(path) if kind == "key" and step != "*"]
    for n, step in enumerate(steps):
        fields = {f.data_key or name: f for name, f in schema.fields.items()}
        if step not in fields:
            return False
        inner = getattr(fields[step], "inner", fields[step])  # a List's element field
        if not hasattr(inner, "schema"):
            return n == len(steps) - 1  # a leaf: nothing may follow it
        schema = inner.schema
    return True
