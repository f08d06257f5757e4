"""Groups keyed by typed values; intersections structured, never parsed back from a joined label."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

from audits.fairness import BiasAuditParams, run_bias_audit
from audits.groups import encode_key, json_value


def audit(frame, sensitive, **options):
    params = BiasAuditParams(sensitive_features=sensitive, n_boot=0, min_group_size=1, **options)
    return run_bias_audit(frame, label="y", sensitive=sensitive, y_pred=frame["pred"].to_numpy(), y_score=None,
                          params=params)


def mixed_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    values = np.array([1, "1", 2, "a"], dtype=object)
    frame = pd.DataFrame({"c": values[rng.integers(0, 4, n)], "d": rng.choice(["p", "q"], n)})
    frame["y"] = (rng.random(n) < 0.4).astype(int)
    frame["pred"] = (rng.random(n) < 0.5).astype(int)
    return frame


def test_the_number_1_and_the_text_1_are_two_groups_with_distinct_keys_and_labels():
    frame = mixed_frame()
    feature = audit(frame, ["c"])["features"][0]
    groups = {g["key"]: g for g in feature["groups"]}
    assert set(groups) == {'{"c":1}', '{"c":"1"}', '{"c":2}', '{"c":"a"}'}
    number, text = groups['{"c":1}'], groups['{"c":"1"}']
    assert number["levels"] == {"c": 1} and text["levels"] == {"c": "1"}
    assert isinstance(number["levels"]["c"], int) and isinstance(text["levels"]["c"], str)
    assert number["group"] == "1" and text["group"] == '"1"'  # labels spelled as JSON where they would clash
    assert groups['{"c":2}']["group"] == "2" and groups['{"c":"a"}']["group"] == "a"
    assert len({g["group"] for g in feature["groups"]}) == 4
    column = frame["c"].to_numpy()
    assert number["count"] == sum(1 for v in column if isinstance(v, int) and v == 1)
    assert text["count"] == sum(1 for v in column if v == "1")
    # Fairlearn groups the same rows: its by_group index holds 1 and "1" apart.
    mf = MetricFrame(metrics={"sr": selection_rate, "tpr": true_positive_rate}, y_true=frame["y"],
                     y_pred=frame["pred"], sensitive_features=frame["c"])
    for group in feature["groups"]:
        row = mf.by_group.loc[group["levels"]["c"]]
        assert group["metrics"]["selection_rate"]["value"] == row["sr"]
        assert group["metrics"]["tpr"]["value"] == row["tpr"]


def test_reference_group_takes_a_label_or_a_key_and_labels_are_unambiguous():
    frame = mixed_frame()
    by_label = audit(frame, ["c"], reference_group={"c": '"1"'})["features"][0]
    assert by_label["reference_key"] == '{"c":"1"}' and by_label["reference_group"] == '"1"'
    by_number = audit(frame, ["c"], reference_group={"c": "1"})["features"][0]
    assert by_number["reference_key"] == '{"c":1}'
    by_key = audit(frame, ["c"], reference_group={"c": '{"c":"1"}'})["features"][0]
    assert by_key["reference_key"] == '{"c":"1"}'
    assert '{"c":"1"}' not in {d["key"] for d in by_key["disparities"]}
    with pytest.raises(ValueError, match="reference group"):
        audit(frame, ["c"], reference_group={"c": "one"})


def test_intersections_are_structured_and_labels_with_the_separator_cannot_collide():
    # "p×q" with "r", and "p" with "q×r", would both print "p×q×r".
    frame = pd.DataFrame({"a": ["p×q", "p", "p", "p×q"] * 50, "b": ["r", "q×r", "r", "q×r"] * 50})
    frame["y"] = np.tile([0, 1, 1, 0, 1], 40)
    frame["pred"] = np.tile([1, 1, 0, 0], 50)
    result = audit(frame, ["a", "b"], intersections=True)
    pair = result["features"][2]
    assert pair["name"] == "a×b" and pair["columns"] == ["a", "b"] and pair["key"] == '["a","b"]'
    levels = [g["levels"] for g in pair["groups"]]
    assert {"a": "p×q", "b": "r"} in levels and {"a": "p", "b": "q×r"} in levels
    labels = [g["group"] for g in pair["groups"]]
    assert len(set(labels)) == len(labels)
    clashing = [g for g in pair["groups"] if g["levels"] in ({"a": "p×q", "b": "r"}, {"a": "p", "b": "q×r"})]
    assert all(g["group"] == g["key"] and json.loads(g["key"]) == g["levels"] for g in clashing)
    plain = next(g for g in pair["groups"] if g["levels"] == {"a": "p", "b": "r"})
    assert plain["group"] == "p×r"
    for group in pair["groups"]:
        rows = (frame["a"] == group["levels"]["a"]) & (frame["b"] == group["levels"]["b"])
        assert group["count"] == rows.sum()


def test_intersection_reference_groups_are_named_by_label_or_by_key():
    frame = pd.DataFrame({"a": [1, 2] * 100, "b": ["x"] * 120 + ["y"] * 80})
    frame["y"] = np.tile([0, 1, 1], 67)[:200]
    frame["pred"] = np.tile([1, 0], 100)
    result = audit(frame, ["a", "b"], intersections=True, reference_group={"a×b": "2×y", '["a"]': "2"})
    assert result["features"][0]["reference_key"] == '{"a":2}'
    assert result["features"][2]["reference_key"] == '{"a":2,"b":"y"}'
    with pytest.raises(ValueError, match="no audited feature"):
        audit(frame, ["a", "b"], reference_group={"a×b": "2×y"})  # no intersections requested


def test_values_keep_their_json_type_and_other_types_are_tagged():
    assert json_value(np.int64(3)) == 3 and isinstance(json_value(np.int64(3)), int)
    assert json_value(np.float64(0.5)) == 0.5 and json_value(np.bool_(True)) is True
    assert json_value(pd.Timestamp("2024-01-02")) == {"type": "Timestamp", "value": "2024-01-02 00:00:00"}
    assert json_value(float("inf")) == {"type": "float", "value": "inf"}
    assert encode_key({"sex": "F", "age": 3}) == '{"sex":"F","age":3}'
    frame = pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-06-01"] * 20), "flag": [True, False] * 20})
    frame["y"], frame["pred"] = [0, 1] * 20, [1, 1, 0, 0] * 10
    result = audit(frame, ["d", "flag"])
    assert [g["levels"] for g in result["features"][1]["groups"]] == [{"flag": False}, {"flag": True}]
    assert result["features"][0]["groups"][0]["levels"] == {"d": {"type": "Timestamp", "value": "2024-01-01 00:00:00"}}
    json.dumps(result, allow_nan=False)


def test_values_equal_in_python_are_one_group_as_in_pandas_and_fairlearn():
    frame = pd.DataFrame({"c": pd.Series([1, 1.0, True, 2] * 25, dtype=object)})
    frame["y"], frame["pred"] = [0, 1] * 50, [1, 0, 0, 1] * 25
    groups = audit(frame, ["c"])["features"][0]["groups"]
    assert [g["count"] for g in groups] == [75, 25]
