"""A synthetic French reference cohort, so bias audits can be demonstrated and tested without personal data.

Every value is drawn from a fixed generative model (no data is downloaded, no direct
identifier exists): age from a rough INSEE adult pyramid, sex rising towards women
with age, the 18 regions with rough population weights, an FDep-like deprivation
quintile shifted a little by region, five chronic conditions whose prevalence rises
with age and deprivation, and an unplanned hospitalisation within one year drawn from
a logistic model of all of the above. ``risk_score`` is a noisy but roughly
calibrated "reference model" of that true probability; ``prediction`` thresholds it
at ``DEFAULT_THRESHOLD``. A ``BiasSpec`` injects a known under-detection of one group.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Chosen so the reference model selects roughly one adult in six (close to the outcome's prevalence).
DEFAULT_THRESHOLD = 0.2

AGE_BANDS = ("18-39", "40-59", "60-74", "75+")
CONDITIONS = ("diabetes", "hypertension", "ckd", "copd", "heart_failure")
FEATURE_COLUMNS = ("age", "sex_f", "deprivation_quintile", *CONDITIONS)

# region: (population in millions, shift of the latent deprivation, extra diabetes log-odds)
REGIONS: dict[str, tuple[float, float, float]] = {
    "Auvergne-Rhône-Alpes": (8.1, -0.1, 0.0),
    "Bourgogne-Franche-Comté": (2.8, 0.05, 0.0),
    "Bretagne": (3.4, -0.15, 0.0),
    "Centre-Val de Loire": (2.6, 0.0, 0.0),
    "Corse": (0.35, 0.1, 0.0),
    "Grand Est": (5.6, 0.1, 0.0),
    "Hauts-de-France": (6.0, 0.2, 0.0),
    "Île-de-France": (12.3, 0.0, 0.0),
    "Normandie": (3.3, 0.05, 0.0),
    "Nouvelle-Aquitaine": (6.0, 0.0, 0.0),
    "Occitanie": (6.0, 0.1, 0.0),
    "Pays de la Loire": (3.8, -0.15, 0.0),
    "Provence-Alpes-Côte d'Azur": (5.1, 0.05, 0.0),
    "Guadeloupe": (0.38, 0.3, 0.15),
    "Martinique": (0.36, 0.3, 0.15),
    "Guyane": (0.29, 0.4, 0.1),
    "La Réunion": (0.87, 0.35, 0.2),
    "Mayotte": (0.31, 0.5, 0.1),
}

# Adults per five-year band (rough INSEE pyramid, per cent), spread evenly over the years of each band.
_AGE_PYRAMID = (
    (18, 24, 8.4), (25, 29, 5.7), (30, 34, 6.1), (35, 39, 6.4), (40, 44, 6.4), (45, 49, 6.6),
    (50, 54, 6.8), (55, 59, 6.7), (60, 64, 6.4), (65, 69, 6.0), (70, 74, 5.6), (75, 79, 4.2),
    (80, 84, 2.9), (85, 89, 2.0), (90, 94, 1.0), (95, 99, 0.25),
)  # fmt: skip
_DEPRIVATION_CUTS = np.array([-0.84, -0.25, 0.25, 0.84])  # standard-normal quintile cut points
_SCORE_NOISE = 0.4  # sd of the reference model's error on the logit scale
_MEAN_LOGIT = -2.1  # mean true log-odds of the outcome in the cohort
_SCORE_SHRINK = 0.82  # var(logit) / (var(logit) + noise²): the calibration slope of the noisy logit


@dataclass(frozen=True)
class BiasSpec:
    """A known under-detection of one group, injected so an audit's power can be checked."""

    feature: str
    group: str
    strength: float = 0.5


def generate_cohort(rows: int, seed: int, *, bias: BiasSpec | None = None) -> pd.DataFrame:
    """Draw a reproducible synthetic cohort of French adults with a reference model's scores."""
    if rows < 0:
        raise ValueError("rows must be non-negative")
    rng = np.random.default_rng(seed)
    age = _draw_age(rng, rows)
    female = rng.random(rows) < np.clip(0.5 + 0.005 * (age - 60), 0.5, 0.67)
    region_names = np.array(list(REGIONS), dtype=object)
    weights = np.array([w for w, _, _ in REGIONS.values()])
    region = rng.choice(len(REGIONS), size=rows, p=weights / weights.sum())
    dep_shift = np.array([s for _, s, _ in REGIONS.values()])[region]
    quintile = 1 + np.searchsorted(_DEPRIVATION_CUTS, dep_shift + rng.standard_normal(rows))
    diabetes_shift = np.array([d for _, _, d in REGIONS.values()])[region]
    conditions = _draw_conditions(rng, age, female, quintile, diabetes_shift)
    true_p = _expit(_outcome_logit(age, female, quintile, conditions))
    outcome = rng.random(rows) < true_p
    # Noise on the logit, shrunk towards the mean logit as a recalibration would, keeps the score calibrated.
    noisy = _logit(true_p) + rng.normal(0.0, _SCORE_NOISE, rows)
    score = _expit(_MEAN_LOGIT + _SCORE_SHRINK * (noisy - _MEAN_LOGIT))
    frame = pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype=np.int64),
            "age": age.astype(np.int64),
            "age_band": np.array(AGE_BANDS, dtype=object)[band_index(age)],
            "sex": np.where(female, "F", "M").astype(object),
            "region": region_names[region],
            "deprivation_quintile": quintile.astype(np.int64),
            **{name: values.astype(np.int64) for name, values in conditions.items()},
            "outcome": outcome.astype(np.int64),
        }
    )
    if bias is not None:
        if bias.feature not in frame.columns:
            raise ValueError(f"unknown bias feature: {bias.feature!r}")
        if not 0.0 <= bias.strength <= 1.0:
            raise ValueError("bias strength must lie in [0, 1]")
        levels = {"sex": {"F", "M"}, "age_band": set(AGE_BANDS), "region": set(REGIONS)}.get(bias.feature)
        if levels is not None and bias.group not in levels:
            raise ValueError(f"unknown {bias.feature} group: {bias.group!r}")  # a typo would inject nothing
        # The truth (outcome) is untouched: only the reference model under-scores the group.
        score = np.where(frame[bias.feature].astype(str).to_numpy() == bias.group, score * (1 - bias.strength), score)
    frame["risk_score"] = score
    frame["prediction"] = (score >= DEFAULT_THRESHOLD).astype(np.int64)
    frame.attrs["bias"] = None if bias is None else {**asdict(bias), "effect": "risk_score multiplied by 1 - strength"}
    return frame


def split_features(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Give the numeric model inputs and the label, so a scikit-learn model can be trained on the cohort."""
    features = df[["age", "deprivation_quintile", *CONDITIONS]].copy()
    features.insert(1, "sex_f", (df["sex"] == "F").astype(np.int64))
    return features[list(FEATURE_COLUMNS)], df["outcome"].copy()


def band_index(age: np.ndarray) -> np.ndarray:
    """Map ages to the index of their band in AGE_BANDS, so bands are computed one way everywhere."""
    return np.searchsorted(np.array([40, 60, 75]), age, side="right")


def _draw_age(rng: np.random.Generator, rows: int) -> np.ndarray:
    ages = np.arange(18, 100)
    weights = np.zeros(ages.size)
    for low, high, share in _AGE_PYRAMID:
        weights[low - 18 : high - 17] = share / (high - low + 1)
    return rng.choice(ages, size=rows, p=weights / weights.sum())


def _draw_conditions(rng, age, female, quintile, diabetes_shift) -> dict[str, np.ndarray]:
    decades = (age - 60) / 10
    dep = quintile - 3
    male = ~female
    frailty = rng.normal(0.0, 0.6, age.size)  # shared, so comorbidities cluster as they do
    diabetes = rng.random(age.size) < _expit(-2.9 + 0.45 * decades + 0.2 * dep + 0.2 * male + diabetes_shift + frailty)
    hypertension = rng.random(age.size) < _expit(-1.0 + 0.7 * decades + 0.12 * dep + 0.1 * male + 0.5 * frailty)
    ckd = rng.random(age.size) < _expit(
        -3.3 + 0.8 * decades + 0.15 * dep + 0.6 * diabetes + 0.5 * hypertension + frailty
    )
    copd = rng.random(age.size) < _expit(-3.3 + 0.5 * decades + 0.3 * dep + 0.2 * male + frailty)
    heart_failure = rng.random(age.size) < _expit(
        -4.6 + 0.9 * decades + 0.15 * dep + 0.6 * hypertension + 0.5 * diabetes + frailty
    )
    return {
        "diabetes": diabetes,
        "hypertension": hypertension,
        "ckd": ckd,
        "copd": copd,
        "heart_failure": heart_failure,
    }


def _outcome_logit(age, female, quintile, conditions) -> np.ndarray:
    effects = {"diabetes": 0.45, "hypertension": 0.3, "ckd": 0.6, "copd": 0.6, "heart_failure": 0.9}
    logit = -2.1 + 0.3 * (age - 60) / 10 + 0.12 * (quintile - 3) + 0.2 * ~female
    for name, effect in effects.items():
        logit = logit + effect * conditions[name]
    return logit


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)
