"""The ten-second summary: the worst verdict wins, the named disparity is one the viewer may see, in plain words."""

from __future__ import annotations

from flask import Flask

from boas.pages import i18n
from boas.pages.summary import FAILED, INSUFFICIENT, NOT_AUDITED, PASSED, audit_outcome, bias_results, outcome_text


def disparity(group: str, metric: str, verdict: str, ratio=(0.73, 0.69, 0.78), suppressed: bool = False) -> dict:
    value, low, high = ratio if not suppressed else (None, None, None)
    return {"group": group, "metric": metric, "verdict": verdict, "suppressed": suppressed,
            "ratio": {"value": value, "ci_low": low, "ci_high": high, "ci_high_unbounded": False}}


def result(*disparities: dict, feature: str = "sex", reference: str = "M") -> dict:
    return {"features": [{"name": feature, "columns": [feature], "reference_group": reference,
                          "disparities": list(disparities)}]}


def babel_app() -> Flask:
    app = Flask(__name__)
    i18n.init_app(app)
    return app


def test_one_failure_makes_the_outcome_failed_whatever_passed():
    passed = result(disparity("F", "tpr", "pass"), disparity("F", "fpr", "pass"))
    unsure = result(disparity("75+", "tpr", "insufficient_evidence"), feature="age_band", reference="40-59")
    failed = result(disparity("F", "fpr", "fail", (1.6, 1.4, 1.9)), disparity("F", "tpr", "fail"))
    assert audit_outcome([]).outcome == NOT_AUDITED
    assert audit_outcome([passed]).outcome == PASSED
    assert audit_outcome([passed, unsure]).outcome == INSUFFICIENT
    outcome = audit_outcome([passed, unsure, failed])
    assert outcome.outcome == FAILED and outcome.counts == {"pass": 2, "fail": 2, "insufficient_evidence": 1}
    assert outcome.headline["metric"] == "tpr"  # a missed diagnosis is named before a false alarm
    assert outcome.icon and outcome.label  # never colour alone


def test_a_masked_comparison_is_never_named():
    masked = result(disparity("F", "tpr", "fail", suppressed=True), disparity("F", "fpr", "fail", (0.5, 0.4, 0.6)))
    outcome = audit_outcome([masked])
    assert outcome.headline["metric"] == "fpr"
    only_masked = audit_outcome([result(disparity("F", "tpr", "fail", suppressed=True))])
    assert only_masked.outcome == FAILED and only_masked.headline is None
    with babel_app().test_request_context("/en/"):
        text = outcome_text(only_masked)
    assert text == "1 disparity between groups lies outside tolerance, by sex."


def test_the_headline_reads_in_french_with_locale_numbers():
    outcome = audit_outcome([result(disparity("F", "tpr", "fail"), disparity("F", "ppv", "fail", (0.9, 0.85, 0.95)))])
    app = babel_app()
    with app.test_request_context("/fr/"):
        fr = outcome_text(outcome)
    with app.test_request_context("/en/"):
        en = outcome_text(outcome)
    assert fr.startswith("Écart hors tolérance\u202f: la sensibilité chez les femmes vaut 0,73 fois celle observée "
                         "chez les hommes (IC 95\u202f% 0,69–0,78).")
    assert "1 autre écart est hors tolérance" in fr
    assert en.startswith("Outside tolerance: sensitivity among women is 0.73 times that among men (95% CI 0.69–0.78).")


def test_only_succeeded_bias_audits_count():
    audits = [{"kind": "bias", "status": "succeeded", "result": {"features": []}},
              {"kind": "bias", "status": "failed", "result": None},
              {"kind": "drift", "status": "succeeded", "result": {"columns": []}}]
    assert bias_results(audits) == [{"features": []}]
