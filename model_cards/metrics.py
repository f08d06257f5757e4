"""Which way is better for a performance measure: the one place the diff (and anything else) asks.

A card names its measures in free text ("ROC AUC", "Brier score", "ECE"), so the direction is looked up
by a normalised name, then by a few unambiguous words. A measure not listed has no direction: a change
in it is shown without a better/worse marker rather than with a guessed one (a calibration slope is
best at 1, neither higher nor lower).
"""

from __future__ import annotations

import re

HIGHER, LOWER = 1, -1

# Normalised names (lower case, runs of spaces, dashes and underscores as one space) -> direction.
DIRECTIONS: dict[str, int] = {
    **dict.fromkeys((
        "auc", "roc auc", "auroc", "auc roc", "area under the roc curve", "c statistic", "c index", "concordance",
        "harrell c", "pr auc", "auprc", "average precision", "sensitivity", "recall", "true positive rate", "tpr",
        "specificity", "true negative rate", "tnr", "ppv", "positive predictive value", "precision", "npv",
        "negative predictive value", "accuracy", "balanced accuracy", "f1", "f1 score", "net benefit", "kappa",
        "cohen kappa", "r2", "sensibilité", "spécificité", "valeur prédictive positive",
        "valeur prédictive négative", "exactitude", "précision", "justesse", "aire sous la courbe roc",
    ), HIGHER),
    **dict.fromkeys((
        "brier", "brier score", "score de brier", "ece", "expected calibration error", "calibration error",
        "erreur de calibration", "erreur de calibration attendue", "log loss", "logloss", "cross entropy",
        "mae", "mse", "rmse", "mean absolute error", "false positive rate", "fpr", "false negative rate", "fnr",
        "taux de faux positifs", "taux de faux négatifs",
    ), LOWER),
}
# Words that decide alone when the whole name is not listed ("ROC AUC (bootstrap)", "Brier, 12 months").
KEYWORDS: tuple[tuple[str, int], ...] = (("brier", LOWER), ("calibration error", LOWER), ("auc", HIGHER),
                                          ("c statistic", HIGHER), ("c index", HIGHER))


def normalise(name: str) -> str:
    return re.sub(r"[\s_\-’']+", " ", str(name).lower()).strip()


def direction(name: str | None) -> int | None:
    """+1 when a higher value is better, -1 when lower is better, None when the card's name does not say."""
    if not name:
        return None
    key = normalise(name)
    if key in DIRECTIONS:
        return DIRECTIONS[key]
    words = f" {re.sub(r'[^0-9a-zà-ÿ ]+', ' ', key)} "
    for word, sense in KEYWORDS:
        if f" {word} " in words:
            return sense
    return None


def trend(name: str | None, old: object, new: object) -> str | None:
    """"better", "worse" or "same" for a change of a measure's value; None when it cannot be said."""
    sense = direction(name)
    numbers = [v for v in (old, new) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if sense is None or len(numbers) != 2:
        return None
    delta = (numbers[1] - numbers[0]) * sense
    return "better" if delta > 0 else "worse" if delta < 0 else "same"
