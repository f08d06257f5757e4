"""The upload checks read by columns and compare keys with arrays: the same refusals as whole tables and sets.

The reference each test compares against is the check as it was before (a whole ``read_table`` of both files,
``set(keys.tolist())`` of the keys), kept below word for word, so any refusal that changed shows up here.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import datasets, identifiers, tabular
from audits.synth import generate_cohort
from registry_db.errors import ValidationFailed
from tests.audits.test_identifiers import BIRTHS, ISSUE_EXAMPLES, N, full_names, iban_fr, nir, realistic_cohort

META = {"name": "c", "label_column": "outcome", "sensitive_columns": ["sex", "region"], "row_key": "row_id",
        "labels": {}, "datasheet": {}}


# --- the checks as they were (whole tables, Python sets) ---------------------------------------------------

def old_dataset_problems(frame, meta, in_metadata):
    errors: dict[str, list[str]] = {}
    row_key = meta["row_key"] if meta["row_key"] in frame.columns else None
    refused = identifiers.describe([*identifiers.screen_table(frame, row_key=row_key), *in_metadata])
    if refused:
        errors["file"] = list(refused.values())
    declared = [meta["label_column"], meta["row_key"], *meta["sensitive_columns"]]
    missing = [c for c in declared if c is not None and c not in frame.columns]
    if missing:
        errors["metadata"] = [f"column '{c}' is not in the table" for c in missing]
    unknown = [c for c in meta.get("labels") or {} if c not in frame.columns]
    if unknown:
        errors["labels"] = [f"column '{c}' is not in the table" for c in unknown]
    if meta["label_column"] in frame.columns:
        label = frame[meta["label_column"]]
        if not set(label.dropna().unique().tolist()) <= {0, 1}:
            errors.setdefault("label_column", []).append("the label column must hold 0/1 outcomes")
        if label.isna().any():
            errors.setdefault("label_column", []).append(
                f"the label column has {int(label.isna().sum())} missing values: every row needs its 0/1 outcome")
    for column in meta["sensitive_columns"]:
        if column in frame.columns and frame[column].isna().any():
            errors.setdefault("sensitive_columns", []).append(
                f"column '{column}' has {int(frame[column].isna().sum())} missing values: code them as a level "
                f"of their own (for example 'inconnu') so that the audit reports them as a group")
    individuals = meta["datasheet"].get("unique_individuals")
    if individuals is not None and individuals > len(frame):
        errors.setdefault("datasheet.unique_individuals", []).append(
            f"the table has {len(frame)} rows: it cannot describe more people than that")
    if meta["row_key"] in frame.columns and frame[meta["row_key"]].duplicated().any():
        errors.setdefault("row_key", []).append("the row key has duplicate values")
    return errors


def old_check_predictions(frame, reference, row_key):
    key = row_key or "row_number"
    errors = tabular.required_columns_messages(key, [str(c) for c in frame.columns])
    if errors:
        raise ValidationFailed("invalid predictions file", {"file": errors})
    keys = datasets.row_keys(reference, row_key)
    missing = set(keys.tolist()) - set(frame[key].tolist())
    extra = set(frame[key].tolist()) - set(keys.tolist())
    errors = tabular.PredictionProblems(
        key, duplicates=bool(frame[key].duplicated().any()), missing=len(missing), extra=len(extra),
        bad_prediction=not set(frame["prediction"].dropna().unique().tolist()) <= {0, 1}
        or bool(frame["prediction"].isna().any()),
    ).messages()
    if "score" in frame.columns:
        score = frame["score"]
        if score.isna().any() or not ((score >= 0) & (score <= 1)).all():
            errors.append("'score' must be a probability in [0, 1] on every row")
    if errors:
        raise ValidationFailed("invalid predictions file", {"file": errors})
    return "score" in frame.columns


def outcome(call):
    """What a check decided: its return value, or the refusal's message and fields."""
    try:
        return ("accepted", call())
    except ValidationFailed as exc:
        return ("refused", exc.message, exc.errors)


# --- datasets: by columns, as whole ----------------------------------------------------------------------

def survey_both_ways(path: Path, meta=META):
    """The new survey of a plain Parquet file by columns, and the old checks and description of the whole."""
    in_metadata = identifiers.screen_file_metadata(path, "parquet")
    columns = tabular.parquet_columns(path)
    assert columns is not None
    whole = tabular.read_table(path, "parquet")
    old_errors = old_dataset_problems(whole, meta, in_metadata)
    # the whole table was described only once accepted (a nested column cannot be)
    old = (old_errors, tabular.describe_table(whole, "parquet").columns if not old_errors else None)
    new_errors, described = datasets._survey_dataset(columns, meta, in_metadata)
    new = (new_errors, described if not new_errors else None)
    # and the screening itself, finding for finding (shares included), column by column as whole
    row_key = meta["row_key"] if meta["row_key"] in columns.names else None
    by_columns = [f for name in columns.names
                  for f in identifiers.screen_column(name, columns.column(name), row_key=name == row_key)]
    assert by_columns == identifiers.screen_table(whole, row_key=row_key)
    return old, new


def hidden_among_many(frame: pd.DataFrame, column: str, values) -> pd.DataFrame:
    """``column`` put in the middle of 40 ordinary columns beside the cohort."""
    rng = np.random.default_rng(5)
    filler = {f"var_{i:02d}": rng.integers(0, 50, len(frame)) for i in range(40)}
    filler.update({f"cat_{i:02d}": rng.choice(["a", "b", "c"], len(frame)) for i in range(10)})
    names = list(filler)
    spread = {**{n: filler[n] for n in names[:25]}, column: values, **{n: filler[n] for n in names[25:]}}
    return pd.concat([frame.drop(columns=[column], errors="ignore"), pd.DataFrame(spread)], axis=1)


@pytest.mark.parametrize(("column", "values", "detector"), ISSUE_EXAMPLES)
def test_each_identifier_hidden_among_many_columns_is_refused_by_columns_as_whole(tmp_path, column, values,
                                                                                   detector):
    path = tmp_path / "t.parquet"
    hidden_among_many(generate_cohort(N, seed=3), column, values).to_parquet(path, index=False)
    old, new = survey_both_ways(path)
    assert new == old
    assert any(f"'{column}'" in m and detector in m for m in new[0]["file"])


def test_typed_parquet_columns_and_a_realistic_cohort_survey_as_whole(tmp_path):
    typed = pa.table({
        "row_id": pa.array(range(N), pa.int64()),
        "outcome": pa.array([i % 2 for i in range(N)], pa.int8()),
        "sex": pa.array(["F", "M"] * (N // 2)).dictionary_encode(),
        "region": pa.array(["a", None, "b", "c"] * (N // 4)),
        "a": pa.array([int(nir(i)) for i in range(N)], pa.int64()),
        "c": pa.array([Decimal(nir(i)) for i in range(N)], pa.decimal128(20, 0)),
        "d": pa.array(BIRTHS, pa.date32()),
        "e": pa.array([dt.datetime(b.year, b.month, b.day) for b in BIRTHS], pa.timestamp("ms")),
        "f": pa.array(full_names()).dictionary_encode(),
        "g": pa.array([n.encode() for n in full_names()], pa.binary()),
        "h": pa.array([612345678 + 1009 * i for i in range(N)], pa.uint32()),
        "i": pa.array([[n] for n in full_names()], pa.list_(pa.string())),
        "j": pa.array([iban_fr(i) if i % 50 == 0 else "-" for i in range(N)]),
        "k": pa.array([float(i % 3) if i % 7 else None for i in range(N)], pa.float32()),
    })
    pq.write_table(typed, tmp_path / "typed.parquet")
    old, new = survey_both_ways(tmp_path / "typed.parquet", {**META, "labels": {"zz": "x"},
                                                              "datasheet": {"unique_individuals": N + 1}})
    assert new == old
    assert {"file", "labels", "sensitive_columns", "datasheet.unique_individuals"} <= set(new[0])

    realistic_cohort(3000, seed=9).to_parquet(tmp_path / "ok.parquet", index=False)
    old, new = survey_both_ways(tmp_path / "ok.parquet")
    assert new == old and new[0] == {} and len(new[1]) == 33


def test_label_sensitive_and_key_refusals_by_columns_as_whole(tmp_path):
    frame = generate_cohort(N, seed=4)
    cases = {
        "label 2": frame.assign(outcome=[2] + [0] * (N - 1)),
        "label -1 and gaps": frame.assign(outcome=[-1.0, np.nan] + [1.0] * (N - 2)),
        "label text": frame.assign(outcome=["1", "0"] * (N // 2)),
        "label booleans": frame.assign(outcome=[True, False] * (N // 2)),
        "label floats": frame.assign(outcome=[1.0, 0.0] * (N // 2)),
        "label epoch dates": frame.assign(outcome=pd.to_datetime([0, 1] * (N // 2))),
        "label decimals": frame.assign(outcome=[Decimal(1), Decimal(0)] * (N // 2)),
        "sensitive gaps": frame.assign(sex=[None] * 3 + ["F"] * (N - 3), region=[np.nan] + ["x"] * (N - 1)),
        "duplicate keys": frame.assign(row_id=[0, 0, *list(range(2, N))]),
        "duplicate NaN keys": frame.assign(row_id=[np.nan, np.nan, *list(range(2, N))]),
        "duplicate text keys": frame.assign(row_id=["a", "a"] + [f"k{i}" for i in range(2, N)]),
        "undeclared columns": frame.drop(columns=["outcome", "row_id"]),
    }
    for name, table in cases.items():
        path = tmp_path / f"{name}.parquet"
        pa_table = pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(pa_table, path)
        old, new = survey_both_ways(path)
        assert new == old, name
        # 1.0, True and Decimal(1) are 1 to Python: those labels pass, as they always did; the rest are refused
        assert bool(new[0]) is (name not in ("label booleans", "label floats", "label decimals")), name


def test_parquet_files_that_are_not_plain_are_read_whole(tmp_path):
    frame = generate_cohort(50, seed=1)
    frame.set_index("region").to_parquet(tmp_path / "index.parquet")  # a RangeIndex is metadata, this is not
    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"]), tmp_path / "dup.parquet")
    pq.write_table(pa.table({"Unnamed: 0": [1], "b": [2]}), tmp_path / "unnamed.parquet")
    pq.write_table(pa.table({" ": [1], "b": [2]}), tmp_path / "blank.parquet")
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), tmp_path / "empty.parquet")
    pq.write_table(pa.table({f"c{i}": [1] for i in range(tabular.MAX_COLUMNS + 1)}), tmp_path / "wide.parquet")
    multi = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")]))
    multi.to_parquet(tmp_path / "multi.parquet")
    for name in ("index", "dup", "unnamed", "blank", "empty", "wide", "multi"):
        assert tabular.parquet_columns(tmp_path / f"{name}.parquet") is None, name
    (tmp_path / "junk.parquet").write_bytes(b"PAR1" + b"\0" * 100)
    assert tabular.parquet_columns(tmp_path / "junk.parquet") is None
    frame.to_parquet(tmp_path / "plain.parquet", index=False)
    plain = tabular.parquet_columns(tmp_path / "plain.parquet")
    assert plain is not None and plain.names == list(frame.columns) and plain.row_count == 50
    pd.testing.assert_series_equal(plain.column("sex"), tabular.read_table(tmp_path / "plain.parquet", "parquet")["sex"])


# --- predictions: keys compared with arrays, as the sets compared them --------------------------------------

def write(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    else:
        path.write_text(frame.to_csv(index=False))
    return path


def both_checks(dataset: Path, dataset_fmt: str, predictions: Path, fmt: str, row_key: str | None):
    """(the old check: both tables whole and sets; the new one: the key column alone and arrays)."""
    frame = tabular.read_table(predictions, fmt)
    old = outcome(lambda: old_check_predictions(frame, tabular.read_table(dataset, dataset_fmt), row_key))
    keys = datasets.dataset_row_keys(dataset, dataset_fmt, row_key)
    new = outcome(lambda: datasets._check_predictions_against(frame, keys, row_key))
    return old, new


def prediction_cases():
    n = 40
    data = pd.DataFrame({"row_id": range(n), "outcome": [i % 2 for i in range(n)]})
    good = pd.DataFrame({"row_id": list(range(n))[::-1], "prediction": [i % 2 for i in range(n)],
                         "score": np.linspace(0, 1, n)})
    text_keys = data.assign(row_id=[f"p{i:03d}" for i in range(n)])
    yield "accepted", data, good
    yield "missing rows", data, good.iloc[5:]
    yield "extra rows", data, pd.concat([good, good.iloc[:3].assign(row_id=[100, 101, 102])])
    yield "duplicate keys", data, pd.concat([good, good.iloc[:2]])
    yield "keys as text vs integers", data, good.assign(row_id=[str(i) for i in good["row_id"]])
    yield "keys as floats", data, good.assign(row_id=good["row_id"].astype(float))
    yield "fractional keys", data, good.assign(row_id=good["row_id"] + 0.5)
    yield "NaN keys", data, good.assign(row_id=[np.nan, np.nan, *list(good["row_id"][2:])])
    yield "NaN dataset key", data.assign(row_id=[np.nan, *list(range(1, n))]), good
    yield "mixed duplicate keys", data, pd.concat([good.assign(row_id=good["row_id"].astype(object)),
                                                    good.iloc[:3].assign(row_id=["1", 1.0, True])])
    yield "text keys accepted", text_keys, good.assign(row_id=list(text_keys["row_id"])[::-1])
    yield "text keys, one missing, one new", text_keys, good.assign(row_id=["zzz", *list(text_keys["row_id"])[:0:-1]])
    yield "text keys with gaps", text_keys.assign(row_id=[None, *list(text_keys["row_id"][1:])]), \
        good.assign(row_id=[None, None, *list(text_keys["row_id"])[2:][::-1]])
    yield "big integers as floats", data.assign(row_id=[2**53 + 1 + i for i in range(n)]), \
        good.assign(row_id=[float(2**53 + 1 + i) for i in range(n)][::-1])
    yield "predictions 2, -1, NaN", data, good.assign(prediction=[2, -1, np.nan] + [0] * (n - 3))
    yield "predictions as text", data, good.assign(prediction=["1", "0"] * (n // 2))
    yield "predictions as booleans", data, good.assign(prediction=[True, False] * (n // 2))
    yield "predictions as floats", data, good.assign(prediction=[1.0, 0.0] * (n // 2))
    yield "scores out of range", data, good.assign(score=[1.5, -0.1] + [0.5] * (n - 2))
    yield "NaN scores", data, good.assign(score=[np.nan] + [0.5] * (n - 1))
    yield "no prediction column", data, good.drop(columns="prediction")
    yield "everything at once", data, pd.concat([good.iloc[3:], good.iloc[3:5]]).assign(prediction=2, score=7.0)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("dataset_fmt", ["parquet", "csv"])
def test_every_predictions_refusal_is_the_same_as_with_sets(tmp_path, fmt, dataset_fmt):
    refused = unwritable = 0
    for name, data, predictions in prediction_cases():
        try:
            dataset = write(data, tmp_path / f"d.{dataset_fmt}", dataset_fmt)
            upload = write(predictions, tmp_path / f"p.{fmt}", fmt)
        except pa.ArrowException:  # a column of mixed types has no Parquet type: that case is a CSV's
            assert "parquet" in (fmt, dataset_fmt) and name == "mixed duplicate keys"
            unwritable += 1
            continue
        old, new = both_checks(dataset, dataset_fmt, upload, fmt, "row_id")
        assert new == old, name
        refused += new[0] == "refused"
    assert refused >= 15  # the hostile cases are refusals, not all accepted by a check that does nothing


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_row_numbers_as_keys_are_compared_as_with_sets(tmp_path, fmt):
    data = write(pd.DataFrame({"outcome": [0, 1] * 10}), tmp_path / f"d.{fmt}", fmt)
    for row_number in (list(range(20)), list(range(1, 21)), [float(i) for i in range(20)], [*list(range(19)), 3]):
        upload = write(pd.DataFrame({"row_number": row_number, "prediction": 1}), tmp_path / f"p.{fmt}", fmt)
        old, new = both_checks(data, fmt, upload, fmt, None)
        assert new == old


POOLS = {
    "int64": lambda rng, n: rng.integers(-3, 6, n),
    "uint64": lambda rng, n: rng.integers(0, 6, n).astype(np.uint64),
    "bool": lambda rng, n: rng.integers(0, 2, n).astype(bool),
    "float64": lambda rng, n: rng.choice([0.0, -0.0, 1.0, 2.5, 3.0, np.nan, np.inf, -np.inf, 2.0**63, 1e300], n),
    "float32": lambda rng, n: rng.choice([0.0, 1.0, 2.5, np.nan], n).astype(np.float32),
    "str": lambda rng, n: pd.array(rng.choice(["1", "a", "b", "é", ""], n).astype(object), dtype="str"),
    "str with gaps": lambda rng, n: pd.Series(rng.choice(["1", "a", None], n), dtype="str"),
    "Int64": lambda rng, n: pd.array([None if v < 0 else int(v) for v in rng.integers(-1, 5, n)], dtype="Int64"),
    "objects": lambda rng, n: np.array([[1, 1.0, True, False, 0, "1", None, np.nan, float("nan"), Decimal(1),
                                         Decimal("2.5"), 2.5, b"1", pd.NA, pd.NaT, "x", 2**70][i]
                                        for i in rng.integers(0, 17, n)], dtype=object),
    "dates": lambda rng, n: pd.to_datetime(rng.choice(["2020-01-01", "2021-06-30", None], n)),
    "big uint64": lambda rng, n: rng.choice(np.array([1, 2**63 + 1, 2**64 - 1], dtype=np.uint64), n),
}


def test_key_counts_match_python_sets_on_random_mixes_of_types():
    rng = np.random.default_rng(7)
    seen_nonzero = 0
    for trial in range(600):
        a_kind, b_kind = rng.choice(list(POOLS), 2)
        a = pd.Series(POOLS[a_kind](rng, int(rng.integers(0, 12))))
        b = a.sample(frac=1, random_state=trial) if trial % 5 == 0 else pd.Series(POOLS[b_kind](rng, int(rng.integers(0, 12))))
        expected = (len(set(a.tolist()) - set(b.tolist())), len(set(b.tolist()) - set(a.tolist())))
        assert tabular.distinct_differences(a, b) == expected, (a_kind, b_kind, a.tolist(), b.tolist())
        if tabular.same_distinct_keys(a, b):
            assert expected == (0, 0) and not b.duplicated().any(), (a.tolist(), b.tolist())
        seen_nonzero += expected != (0, 0)
    assert seen_nonzero > 300


def test_the_usual_case_is_proved_without_counting():
    keys = pd.Series(np.arange(100_000))
    shuffled = pd.Series(np.random.default_rng(1).permutation(100_000))
    assert tabular.same_distinct_keys(keys, shuffled)
    assert not tabular.same_distinct_keys(keys, shuffled.replace(5, 100_000))
    assert not tabular.same_distinct_keys(keys, shuffled.replace(5, 6))
    assert not tabular.same_distinct_keys(keys, shuffled.astype(float))
    text = pd.Series([f"k{i}" for i in range(1000)], dtype="str")
    assert tabular.same_distinct_keys(text, text.iloc[::-1].reset_index(drop=True))
    assert not tabular.same_distinct_keys(text, text.replace("k1", "k2"))
    assert tabular.distinct_differences(keys, shuffled.replace(5, 100_000)) == (1, 1)


def test_a_csv_read_whole_and_a_parquet_read_by_column_give_the_same_dataset_keys(tmp_path):
    frame = generate_cohort(200, seed=2).assign(row_id=[f"id{i}" for i in range(200)])
    csv = write(frame, tmp_path / "d.csv", "csv")
    parquet = write(frame, tmp_path / "d.parquet", "parquet")
    pd.testing.assert_series_equal(datasets.dataset_row_keys(csv, "csv", "row_id"),
                                   datasets.dataset_row_keys(parquet, "parquet", "row_id"))
    assert datasets.dataset_row_keys(parquet, "parquet", None).tolist() == list(range(200))



def test_distinct_values_are_counted_as_nunique_counts_them():
    rng = np.random.default_rng(3)
    for values in (rng.integers(-5, 5, 1000), rng.integers(0, 2**63 - 1, 1000, dtype=np.int64),
                   rng.integers(0, 2, 1000).astype(bool), np.array([0.0, -0.0, np.nan, np.nan, np.inf, 1.5, -np.inf]),
                   rng.choice([1.0, 2.0, np.nan], 1000).astype(np.float32), np.array([], dtype=np.int64),
                   np.array([2**64 - 1, 0, 2**64 - 1], dtype=np.uint64)):
        series = pd.Series(values)
        assert tabular.describe_column("x", series)["distinct"] == series.nunique(dropna=True)


def test_nested_cells_in_the_label_or_row_key_are_refused_not_a_crash(tmp_path):
    nested = pa.array([[i] for i in range(N)], pa.list_(pa.int64()))
    table = pa.Table.from_pandas(generate_cohort(N, seed=6), preserve_index=False)
    table = table.set_column(table.schema.get_field_index("row_id"), "row_id", nested)
    table = table.set_column(table.schema.get_field_index("outcome"), "outcome", nested)
    pq.write_table(table, tmp_path / "nested.parquet")
    columns = tabular.parquet_columns(tmp_path / "nested.parquet")
    errors, _ = datasets._survey_dataset(columns, META, [])
    assert errors["label_column"] == ["the label column must hold 0/1 outcomes"]
    assert any("'row_id'" in m and "nested_values" in m for m in errors["file"])
    assert any("'outcome'" in m and "nested_values" in m for m in errors["file"])
    assert datasets._dataset_problems(tabular.read_table(tmp_path / "nested.parquet", "parquet"), META, []) == errors


def test_nested_prediction_keys_are_refused_as_matching_no_row_not_a_crash(tmp_path):
    dataset = write(pd.DataFrame({"row_id": range(10), "outcome": [0, 1] * 5}), tmp_path / "d.parquet", "parquet")
    table = pa.table({"row_id": pa.array([[i] for i in range(10)], pa.list_(pa.int64())),
                      "prediction": pa.array([0, 1] * 5)})
    pq.write_table(table, tmp_path / "p.parquet")
    frame = tabular.read_table(tmp_path / "p.parquet", "parquet")
    with pytest.raises(TypeError):  # the sets could not hold them: the former check failed
        old_check_predictions(frame, tabular.read_table(dataset, "parquet"), "row_id")
    keys = datasets.dataset_row_keys(dataset, "parquet", "row_id")
    with pytest.raises(ValidationFailed) as refused:
        datasets._check_predictions_against(frame, keys, "row_id")
    assert refused.value.errors == {"file": ["10 dataset rows have no prediction", "10 predictions match no dataset row"]}


def _with_pandas_index(table: pa.Table, index_columns: list) -> pa.Table:
    meta = json.loads(table.schema.metadata[b"pandas"])
    return table.replace_schema_metadata({b"pandas": json.dumps({**meta, "index_columns": index_columns}).encode()})


@pytest.mark.parametrize("index", [
    # two ranges make a MultiIndex whose names (and values) the whole-table screening refuses
    [{"kind": "range", "name": "nir", "start": 0, "stop": 40, "step": 1},
     {"kind": "range", "name": "date_naissance", "start": 0, "stop": 40, "step": 1}],
    [{"kind": "range", "name": "nir", "start": 0, "stop": 40, "step": 1}],  # a named range
    [{"kind": "range", "name": None, "start": 185017512345600, "stop": 185017512345640, "step": 1}],  # NIR-like values
])
def test_a_stored_index_other_than_the_default_range_is_screened_with_the_whole_table(tmp_path, index):
    frame = pd.DataFrame({"y": [0, 1] * 20, "v": range(40)})
    path = tmp_path / "indexed.parquet"
    pq.write_table(_with_pandas_index(pa.Table.from_pandas(frame, preserve_index=False), index), path)
    assert tabular.parquet_columns(path) is None  # read whole: the screening decides on the index as before
    if len(index) > 1:
        assert identifiers.screen_table(tabular.read_table(path, "parquet")) != []  # the columns alone miss it
    default = tmp_path / "default.parquet"
    frame.to_parquet(default)  # pandas' own unnamed 0..n-1 range: read by columns
    assert tabular.parquet_columns(default) is not None


def test_a_footer_that_overstates_its_rows_is_read_whole_and_a_column_that_disagrees_is_a_422(tmp_path):
    path = tmp_path / "lying.parquet"
    pq.write_table(pa.table({"y": [0, 1] * 38 + [0], "v": list(range(77))}), path)
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - length
    at = data.find(b"\x16\x9a\x01", start)  # the file's num_rows, 77 as a zigzag varint
    assert at > 0
    data[at + 1] = 0x9C  # 78
    path.write_bytes(bytes(data))
    assert pq.ParquetFile(path).metadata.num_rows == 78
    assert tabular.parquet_columns(path) is None  # the whole read decides, as it did before
    lying = tabular.ParquetColumns(path=path, names=["y", "v"], row_count=78)
    refused = outcome(lambda: lying.column("y"))
    assert refused[:2] == ("refused", "malformed parquet file")
    assert refused[2] == {"file": ["the file says it holds 78 rows, but its column 'y' holds 77"]}


@pytest.mark.parametrize("hostile", ["time zone", "field name"])
def test_hostile_pandas_metadata_is_a_422_not_a_crash(tmp_path, hostile):
    frame = pd.DataFrame({"y": [0, 1] * 10, "t": pd.date_range("2020-01-01", periods=20, tz="UTC")})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = json.loads(table.schema.metadata[b"pandas"])
    if hostile == "time zone":
        meta["columns"][1]["metadata"] = {"timezone": "Not/AZone"}
    else:
        meta["columns"][0]["field_name"] = 5
    path = tmp_path / "hostile.parquet"
    pq.write_table(table.replace_schema_metadata({b"pandas": json.dumps(meta).encode()}), path)
    refused = outcome(lambda: tabular.read_table(path, "parquet"))
    assert refused[:2] == ("refused", "malformed parquet file"), refused
