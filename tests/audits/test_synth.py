"""The synthetic reference cohort: reproducible, plausible, identifier-free, with a known injected bias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from audits.identifiers import find_identifier_columns
from audits.synth import AGE_BANDS, CONDITIONS, DEFAULT_THRESHOLD, BiasSpec, generate_cohort, split_features

REGIONS = {
    "Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne", "Centre-Val de Loire", "Corse", "Grand Est",
    "Hauts-de-France", "Île-de-France", "Normandie", "Nouvelle-Aquitaine", "Occitanie", "Pays de la Loire",
    "Provence-Alpes-Côte d'Azur", "Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte",
}  # fmt: skip
COLUMNS = [
    "row_id", "age", "age_band", "sex", "region", "deprivation_quintile", *CONDITIONS, "outcome", "risk_score",
    "prediction",
]  # fmt: skip


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort(60_000, seed=1)


def test_same_seed_gives_the_same_cohort_and_another_seed_another():
    pd.testing.assert_frame_equal(generate_cohort(2000, seed=5), generate_cohort(2000, seed=5))
    assert not generate_cohort(2000, seed=5).equals(generate_cohort(2000, seed=6))


def test_columns_and_types_are_the_documented_ones(cohort):
    assert list(cohort.columns) == COLUMNS
    integers = ["row_id", "age", "deprivation_quintile", *CONDITIONS, "outcome", "prediction"]
    assert all(pd.api.types.is_integer_dtype(cohort[c]) for c in integers)
    assert pd.api.types.is_float_dtype(cohort["risk_score"])
    assert all(pd.api.types.is_string_dtype(cohort[c]) for c in ("age_band", "sex", "region"))
    assert (cohort["row_id"].to_numpy() == np.arange(len(cohort))).all()
    assert len(generate_cohort(7, seed=0)) == 7


def test_no_column_identifies_a_person(cohort):
    identifying = ("name", "nom", "prenom", "birth", "naissance", "nir", "ssn", "address", "adresse", "phone", "email")
    assert not [c for c in cohort.columns if any(word in c.lower() for word in identifying)]
    assert cohort["age"].nunique() <= 82  # ages in whole years only, no dates
    assert find_identifier_columns(cohort) == {}  # the upload guard for reference datasets accepts it


def test_the_eighteen_regions_are_present_with_insee_names(cohort):
    assert set(cohort["region"]) == REGIONS
    shares = cohort["region"].value_counts(normalize=True)
    assert shares.index[0] == "Île-de-France" and 0.15 < shares.iloc[0] < 0.22
    assert shares["Mayotte"] < 0.01


def test_ages_sex_and_bands_look_like_french_adults(cohort):
    assert cohort["age"].between(18, 99).all()
    assert 45 < cohort["age"].mean() < 55
    assert 0.50 < (cohort["sex"] == "F").mean() < 0.54
    assert set(cohort["sex"]) == {"F", "M"}
    bands = pd.cut(cohort["age"], [17, 39, 59, 74, 99], labels=list(AGE_BANDS)).astype(str)
    assert (bands == cohort["age_band"]).all()
    assert (cohort.loc[cohort["age"] >= 85, "sex"] == "F").mean() > 0.6


def test_deprivation_is_quintile_like_and_heavier_overseas(cohort):
    shares = cohort["deprivation_quintile"].value_counts(normalize=True)
    assert sorted(shares.index) == [1, 2, 3, 4, 5] and shares.between(0.15, 0.25).all()
    mean_by_region = cohort.groupby("region")["deprivation_quintile"].mean()
    assert mean_by_region["Mayotte"] > mean_by_region["Bretagne"] + 0.3


def test_conditions_and_outcome_rise_with_age_and_deprivation(cohort):
    assert 0.10 <= cohort["outcome"].mean() <= 0.20
    by_band = cohort.groupby("age_band")[[*CONDITIONS, "outcome"]].mean().loc[list(AGE_BANDS)]
    assert (by_band.diff().dropna() > 0).all().all()
    by_quintile = cohort.groupby("deprivation_quintile")[[*CONDITIONS, "outcome"]].mean()
    assert (by_quintile.loc[5] > by_quintile.loc[1]).all()
    overall = cohort[list(CONDITIONS)].mean()
    assert 0.15 < overall["hypertension"] < 0.35 and 0.04 < overall["diabetes"] < 0.10
    assert overall["heart_failure"] < overall["diabetes"] < overall["hypertension"]


def test_the_reference_score_is_calibrated_and_thresholded(cohort):
    score = cohort["risk_score"]
    assert score.between(0, 1).all()
    assert abs(score.mean() - cohort["outcome"].mean()) < 0.01
    deciles = pd.qcut(score, 10, labels=False)
    observed = cohort.groupby(deciles)["outcome"].mean()
    predicted = score.groupby(deciles).mean()
    assert (abs(observed - predicted) < 0.04).all()
    assert roc_auc_score(cohort["outcome"], score) > 0.65
    assert (cohort["prediction"] == (score >= DEFAULT_THRESHOLD)).all()
    assert 0.10 < cohort["prediction"].mean() < 0.30


def test_an_injected_bias_lowers_only_that_groups_scores_and_keeps_the_truth():
    plain = generate_cohort(20_000, seed=3)
    biased = generate_cohort(20_000, seed=3, bias=BiasSpec("sex", "F", 0.5))
    women = plain["sex"] == "F"
    pd.testing.assert_series_equal(plain["outcome"], biased["outcome"])
    np.testing.assert_allclose(biased.loc[women, "risk_score"], 0.5 * plain.loc[women, "risk_score"])
    pd.testing.assert_frame_equal(plain[~women], biased[~women])
    assert biased.loc[women, "prediction"].mean() < 0.5 * plain.loc[women, "prediction"].mean()
    assert biased.attrs["bias"] == {
        "feature": "sex",
        "group": "F",
        "strength": 0.5,
        "effect": "risk_score multiplied by 1 - strength",
    }
    assert plain.attrs["bias"] is None


def test_a_bias_on_an_unknown_column_or_strength_is_refused():
    with pytest.raises(ValueError, match="unknown bias feature"):
        generate_cohort(100, seed=0, bias=BiasSpec("ethnicity", "x"))
    with pytest.raises(ValueError, match="strength"):
        generate_cohort(100, seed=0, bias=BiasSpec("sex", "F", 1.5))
    with pytest.raises(ValueError, match="unknown region group"):
        generate_cohort(100, seed=0, bias=BiasSpec("region", "Hauts de France"))


def test_split_features_gives_numeric_inputs_a_model_can_learn_from(cohort):
    features, label = split_features(cohort)
    assert list(features.columns) == ["age", "sex_f", "deprivation_quintile", *CONDITIONS]
    assert all(pd.api.types.is_numeric_dtype(features[c]) for c in features.columns)
    assert set(features["sex_f"]) == {0, 1} and (features["sex_f"] == (cohort["sex"] == "F")).all()
    assert label.equals(cohort["outcome"])
    train, test = slice(0, 40_000), slice(40_000, None)
    model = LogisticRegression(max_iter=1000).fit(features[train], label[train])
    assert roc_auc_score(label[test], model.predict_proba(features[test])[:, 1]) > 0.65
