"""Framework coverage: each item of each framework maps to card fields, and one field flips the expected items."""

from __future__ import annotations

import json

import pytest

from model_cards import docpath, frameworks
from model_cards.examples import example_document
from tests.model_cards.test_baseline import card_path_exists

EXPECTED_COUNTS = {  # covered, missing, out_of_scope for the example card
    "mitchell_2019": (9, 0, 0),
    "eu_ai_act_annex_iv": (20, 0, 3),
    "eu_ai_act_art_10": (9, 0, 0),
    "eu_ai_act_art_13_3": (11, 0, 1),
    "onc_hti1": (28, 3, 0),
    "tripod_ai": (27, 0, 0),
    "chai_applied_model_card": (37, 1, 2),
}


def _statuses(document: dict) -> dict[tuple[str, str], str]:
    return {(fid, item["id"]): item["status"]
            for fid, fw in frameworks.coverage(document).items() for item in fw["items"]}


def _flipped(before: dict, after: dict) -> dict[tuple[str, str], tuple[str, str]]:
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


def test_the_example_reports_counts_for_every_framework():
    result = frameworks.coverage(example_document())
    assert {fid: (fw["counts"]["covered"], fw["counts"]["missing"], fw["counts"]["out_of_scope"])
            for fid, fw in result.items()} == EXPECTED_COUNTS
    assert all(fw["counts"]["total"] == len(fw["items"]) for fw in result.values())
    assert json.loads(json.dumps(result)) == result


def test_the_example_misses_what_it_does_not_document():
    result = frameworks.coverage(example_document())
    missing = {(fid, i["id"]) for fid, fw in result.items() for i in fw["items"] if i["status"] == "missing"}
    assert missing == {("onc_hti1", "outcome_evaluation"), ("onc_hti1", "local_validity"),
                       ("onc_hti1", "local_fairness"), ("chai_applied_model_card", "clinical_trial")}
    local = next(i for i in result["onc_hti1"]["items"] if i["id"] == "local_validity")
    assert local["missing_paths"] == ["card.performance_metrics[evaluation_data=local].value"]


def test_hti1_has_31_source_attributes_in_nine_groups():
    hti = frameworks.coverage(example_document())["onc_hti1"]
    assert len(hti["items"]) == 31
    assert [g["id"] for g in hti["groups"]] == [
        "details_output", "purpose", "out_of_scope_use", "development", "fairness", "external_validation",
        "quantitative_performance", "ongoing_maintenance", "update_schedule",
    ]
    assert sum(g["counts"]["total"] for g in hti["groups"]) == 31
    assert all(i["group"] for i in hti["items"])


def test_tripod_ai_has_its_27_items_and_annex_iv_its_nine_points():
    result = frameworks.coverage(example_document())
    assert [i["id"] for i in result["tripod_ai"]["items"]] == [str(n) for n in range(1, 28)]
    points = {i["id"][0] for i in result["eu_ai_act_annex_iv"]["items"]}
    assert points == {str(n) for n in range(1, 10)}


def test_removing_who_validated_flips_the_hti1_tester_and_tripod_item_16():
    before = _statuses(example_document())
    doc = example_document()
    del doc["card"]["validation"]["performed_by"]
    assert _flipped(before, _statuses(doc)) == {
        ("onc_hti1", "tester"): ("covered", "missing"),
        ("tripod_ai", "16"): ("covered", "missing"),
    }


def test_an_internal_only_validation_leaves_the_external_validation_attributes_missing():
    doc = example_document()
    doc["card"]["validation"]["type"] = "internal"
    flipped = _flipped(_statuses(example_document()), _statuses(doc))
    assert set(flipped) == {("onc_hti1", a) for a in
                            ("data_source_setting", "tester", "external_representativeness", "validation_process")}


def test_an_any_item_stays_covered_while_one_alternative_remains():
    doc = example_document()
    for metric in doc["card"]["performance_metrics"]:
        metric.pop("subgroup", None)
    fairness = next(i for i in frameworks.coverage(doc)["chai_applied_model_card"]["items"] if i["id"] == "fairness")
    assert fairness["mode"] == "any" and fairness["status"] == "covered"  # the bias audit still answers it
    doc["audits"] = [{**doc["audits"][0], "status": "failed"}]
    fairness = next(i for i in frameworks.coverage(doc)["chai_applied_model_card"]["items"] if i["id"] == "fairness")
    assert fairness["status"] == "missing"
    assert fairness["missing_paths"] == fairness["paths"]


def test_out_of_scope_items_give_a_reason_and_map_to_no_path():
    result = frameworks.coverage(example_document())
    out = [i for fw in result.values() for i in fw["items"] if i["status"] == "out_of_scope"]
    assert out and all(i["reason"] and i["paths"] == [] for i in out)
    conformity = next(i for i in result["eu_ai_act_annex_iv"]["items"] if i["id"] == "8")
    assert conformity["status"] == "out_of_scope" and "outside BOAS" in conformity["reason"]


def test_an_empty_card_covers_only_what_the_registry_itself_records():
    doc = example_document()
    doc["card"], doc["audits"] = {}, []
    covered = {(fid, i["id"]) for fid, fw in frameworks.coverage(doc).items()
               for i in fw["items"] if i["status"] == "covered"}
    assert ("tripod_ai", "1") in covered and ("chai_applied_model_card", "release_version") in covered
    assert all(fid != "mitchell_2019" for fid, _ in covered)


@pytest.mark.parametrize("framework_id", list(frameworks.FRAMEWORKS))
def test_every_mapped_path_is_well_formed_and_card_paths_exist_in_the_schema(framework_id):
    for _group, _title, rows in frameworks.FRAMEWORKS[framework_id]["groups"]:
        for row in rows:
            for path in row[2] if len(row) == 4 else ():
                docpath.parse(path)
                assert path.split(".")[0].split("[")[0] in {"card", "algorithm", "version", "artifacts", "audits"}
                if path.startswith("card."):
                    assert card_path_exists(path.removeprefix("card.")), path
