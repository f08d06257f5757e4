"""The coarsened drift report: no bin of fewer than 11 people, no exact extreme value, nothing unknown kept.

``disclosures`` is the check the end-to-end tests also run on served reports: it parses the report's
dashboard data and lists every number equal to a minimum or maximum of a numeric column (JSON numbers,
and numbers written in distribution labels such as "< 40") and every distribution count in (0, 11).
Evidently's counters and test sentences (verdicts, drift scores, thresholds) are statistics, not
values of anyone, and are not scanned; layout sizes neither.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from audits.drift import compute_drift
from audits.drift_report import MIN_CELL, OTHER, categorical_bins, coarsen_report, nice_step, numeric_bins
from audits.synth import generate_cohort

BLOCK = re.compile(r"var (metric_\w+) = (.*?);\n\s*var additional_graphs_\1 = (.*?);\n</script>", re.S)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
LAYOUT = {"size", "pageSize", "rowsPerPage"}
NUMERIC = ["age", "deprivation_quintile"]
COLUMNS = [*NUMERIC, "sex", "region"]


def report_data(html: str) -> tuple[dict, dict]:
    blocks = BLOCK.findall(html)
    assert len(blocks) == 1, "one dashboard data block expected"
    return json.loads(blocks[0][1]), json.loads(blocks[0][2])


def extremes_of(frames: list[pd.DataFrame], numeric: list[str]) -> set[float]:
    return {float(v) for f in frames for c in numeric for v in (f[c].min(), f[c].max())}


def disclosures(html: str, frames: list[pd.DataFrame], numeric: list[str]) -> dict[str, list]:
    """Numbers equal to a column's extreme, and distribution counts in (0, 11), anywhere in the report's data."""
    extremes = extremes_of(frames, numeric)
    found: dict[str, list] = {"extremes": [], "small_counts": [], "distributions": []}

    def number(value, where):
        if float(value) in extremes:
            found["extremes"].append((where, value))

    def walk(node, key=""):
        if isinstance(node, dict):
            if isinstance(node.get("x"), list) and isinstance(node.get("y"), list):
                xs, ys = node["x"], node["y"]
                found["distributions"].append((key, xs, ys))
                for x in xs:
                    if isinstance(x, str):
                        for text in NUMBER.findall(x):
                            number(float(text), f"{key}.x label {x!r}")
                    elif isinstance(x, int | float) and not isinstance(x, bool):
                        number(x, f"{key}.x")
                if len(xs) == len(ys):  # one count per bin or category (a density histogram has one edge more)
                    found["small_counts"] += [(key, x, y) for x, y in zip(xs, ys, strict=True)
                                              if isinstance(y, int | float) and 0 < y < MIN_CELL]
                for k, v in node.items():
                    if k not in ("x", "y"):
                        walk(v, k)
                return
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, int | float) and not isinstance(node, bool) and key not in LAYOUT:
            number(node, key)

    for part in report_data(html):
        walk(part)
    return found


@pytest.fixture(scope="module")
def small_cohorts():
    """A small reference and an older current cohort: Evidently's bins and regions hold fewer than 11 people."""
    reference = generate_cohort(400, seed=61)[COLUMNS]
    current = generate_cohort(250, seed=62)[COLUMNS]
    current["age"] = (current["age"] + 9).clip(upper=99)
    result = compute_drift(reference, current, columns=COLUMNS)
    return reference, current, result.html, coarsen_report(result.html, reference, current)


def test_the_raw_report_discloses_extremes_and_small_cells_the_check_sees_them(small_cohorts):
    reference, current, raw, _coarse = small_cohorts
    found = disclosures(raw, [reference, current], NUMERIC)
    values = {v for _where, v in found["extremes"]}
    assert float(reference["age"].min()) in values and float(reference["age"].max()) in values
    assert any(x in ("Corse", "Mayotte", "Guyane") for _k, x, _y in found["small_counts"])


def test_the_coarsened_report_discloses_no_extreme_and_no_small_cell(small_cohorts):
    reference, current, _raw, coarse = small_cohorts
    found = disclosures(coarse, [reference, current], NUMERIC)
    assert found["extremes"] == [] and found["small_counts"] == []
    distributions = {}
    for _key, xs, ys in found["distributions"]:
        assert len(xs) == len(ys) and all(isinstance(y, int) and y >= MIN_CELL for y in ys)
        distributions.setdefault(tuple(xs), []).append(sum(ys))
    assert len(found["distributions"]) == 2 * len(COLUMNS)  # reference and current, per column
    rows = {r["column_name"]: r for w in report_data(coarse)[0]["widgets"] for c in w["widgets"]
            if c["type"] == "big_table" for r in c["params"]["data"]}
    age_labels = rows["age"]["reference_distribution"]["x"]
    assert age_labels == rows["age"]["current_distribution"]["x"]  # one grid for both datasets
    assert age_labels[0].startswith("< ") and age_labels[-1].startswith("≥ ")  # open-ended outer bins
    totals = sorted({s for sums in distributions.values() for s in sums})
    assert totals == [250, 400]  # every person counted once, in each dataset


def test_the_coarsened_report_keeps_verdicts_and_drops_details_and_unknown_widgets(small_cohorts):
    reference, current, raw, coarse = small_cohorts
    dashboard, graphs = report_data(coarse)
    raw_dashboard, raw_graphs = report_data(raw)
    assert graphs == {} and raw_graphs  # the per-column details (chunk means, fine bins) are gone

    def types(widgets):
        return [(w["type"], types(w["widgets"])) for w in widgets]

    assert types(dashboard["widgets"]) == types(raw_dashboard["widgets"])  # counters, table, tests kept
    rows = {r["column_name"]: r for w in dashboard["widgets"] for c in w["widgets"] if c["type"] == "big_table"
            for r in c["params"]["data"]}
    raw_rows = {r["column_name"]: r for w in raw_dashboard["widgets"] for c in w["widgets"]
                if c["type"] == "big_table" for r in c["params"]["data"]}
    assert set(rows) == set(COLUMNS)
    for name, row in rows.items():
        assert "details" not in row
        assert (row["data_drift"], row["drift_score"], row["stattest_name"]) == \
            (raw_rows[name]["data_drift"], raw_rows[name]["drift_score"], raw_rows[name]["stattest_name"])
    assert "Value Drift for column age" in coarse and coarse.rstrip().endswith("</html>")
    unknown = json.loads(BLOCK.search(raw).group(2))
    unknown["widgets"].append({"type": "big_graph", "params": {"data": [{"x": [18.0], "y": [1]}]}, "widgets": []})
    patched = raw.replace(BLOCK.search(raw).group(2), json.dumps(unknown))
    assert len(report_data(coarsen_report(patched, reference, current))[0]["widgets"]) == len(dashboard["widgets"])


def test_an_unexpected_layout_is_refused_rather_than_served():
    with pytest.raises(RuntimeError, match="unexpected Evidently HTML layout"):
        coarsen_report("<html><script>var x = 1;</script></html>", pd.DataFrame(), pd.DataFrame())


@pytest.mark.parametrize("seed", range(40))
def test_numeric_bins_hold_eleven_people_in_both_datasets_and_hide_the_extremes(seed):
    rng = np.random.default_rng(seed)
    n_ref, n_cur = int(rng.integers(15, 400)), int(rng.integers(11, 400))
    shape = seed % 4
    if shape == 0:
        ref, cur = rng.normal(55, 12, n_ref), rng.normal(60, 15, n_cur)
    elif shape == 1:
        ref, cur = rng.lognormal(3, 1, n_ref), rng.lognormal(3.2, 1, n_cur)  # long right tail
    elif shape == 2:
        ref, cur = rng.integers(1, 6, n_ref).astype(float), rng.integers(1, 6, n_cur).astype(float)
    else:
        ref, cur = rng.integers(18, 100, n_ref).astype(float), rng.integers(30, 100, n_cur).astype(float)
    ref[: int(rng.integers(0, 5))] = np.nan  # missing values are not counted
    labels, ref_counts, cur_counts = numeric_bins(pd.Series(ref), pd.Series(cur))
    assert min(ref_counts) >= MIN_CELL and min(cur_counts) >= MIN_CELL
    assert sum(ref_counts) == np.isfinite(ref).sum() and sum(cur_counts) == n_cur
    extremes = {np.nanmin(ref), np.nanmax(ref), cur.min(), cur.max()}
    shown = {float(t) for label in labels for t in NUMBER.findall(label)}
    assert not shown & extremes
    if len(labels) > 1:
        assert labels[0].startswith("< ") and labels[-1].startswith("≥ ")
        edges = [float(NUMBER.findall(label)[0]) for label in labels[1:]]
        assert edges == sorted(edges)
        lows = np.searchsorted(edges, ref[np.isfinite(ref)], side="right")
        assert np.bincount(lows, minlength=len(labels)).tolist() == ref_counts  # labels match the counts


def test_whole_number_columns_get_one_bin_per_level_when_each_is_large_enough():
    ref = pd.Series(np.repeat([1, 2, 3, 4, 5], 40))
    cur = pd.Series(np.repeat([1, 2, 3, 4, 5], [12, 30, 30, 30, 5]))
    labels, ref_counts, cur_counts = numeric_bins(ref, cur)
    assert labels == ["< 1.5", "1.5 – 2.5", "2.5 – 3.5", "≥ 3.5"]  # level 5 (5 people) merged into level 4
    assert ref_counts == [40, 40, 40, 80] and cur_counts == [12, 30, 30, 35]


def test_a_dataset_of_fewer_than_eleven_values_shows_no_distribution():
    assert numeric_bins(pd.Series(range(100)), pd.Series(range(10))) is None
    assert categorical_bins(pd.Series(["a"] * 50), pd.Series(["a"] * 10)) is None
    assert numeric_bins(pd.Series([7.0] * 30), pd.Series([7.0] * 30)) == (["all values"], [30], [30])


def test_small_categories_are_folded_into_other_until_it_holds_eleven():
    ref = pd.Series(["A"] * 100 + ["B"] * 50 + ["C"] * 5 + ["D"] * 3)
    cur = pd.Series(["A"] * 80 + ["B"] * 12 + ["C"] * 20 + ["D"] * 2)
    labels, ref_counts, cur_counts = categorical_bins(ref, cur)
    # C and D are small in one dataset each; "other" then holds 8 and 22, so B (the smallest) joins it
    assert labels == ["A", OTHER] and ref_counts == [100, 58] and cur_counts == [80, 34]
    labels, ref_counts, cur_counts = categorical_bins(pd.Series(["x"] * 30 + ["y"] * 30), pd.Series(["x"] * 30))
    # "y" is absent from the current dataset: no bin may hold 0 < n < 11 or nobody on one side, so all merge
    assert (labels, ref_counts, cur_counts) == ([OTHER], [60], [30])


@pytest.mark.parametrize(("raw", "step"), [(8.1, 10), (0.07, 0.1), (0.4, 0.5), (2.2, 2.5), (1e-9, 1e-9), (0, 1)])
def test_steps_are_round_numbers(raw, step):
    assert nice_step(raw) == pytest.approx(step)
