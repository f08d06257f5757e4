"""The summary a patient, a clinician or a journalist reads in ten seconds, on cards and in result lists.

Two signals stay apart: how complete the documentation is, and what the bias audits found. The
audit outcome is the worst verdict over the audits shown: one disparity outside tolerance makes the
outcome "failed", whatever else passed. The headline names the failed disparity that matters most
to a patient (a missed diagnosis before a false alarm), from the numbers the viewer may see: public
views mask small cells, and a masked comparison is never picked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from audits.outcomes import FAILED, INSUFFICIENT, NOT_AUDITED, PASSED, verdict_counts
from boas.pages.i18n import attribute_label, fnumber, fpercent

# Which failed disparity a summary names first: the harms a patient feels before the others.
METRIC_PRIORITY = ("tpr", "fnr", "ppv", "npv", "fpr", "selection_rate", "accuracy", "prevalence")
ICONS = {FAILED: "✗", INSUFFICIENT: "?", PASSED: "✓", NOT_AUDITED: "–"}
LABELS = {FAILED: _l("Bias audit: disparity outside tolerance"),
          INSUFFICIENT: _l("Bias audit: insufficient evidence"),
          PASSED: _l("Bias audit: within tolerance"),
          NOT_AUDITED: _l("No published bias audit")}
HEADLINES = {
    "tpr": _l("Outside tolerance: sensitivity %(group)s is %(ratio)s times that %(reference)s "
              "(95%% CI %(low)s–%(high)s)."),
    "fnr": _l("Outside tolerance: the false negative rate %(group)s is %(ratio)s times that %(reference)s "
              "(95%% CI %(low)s–%(high)s)."),
    "ppv": _l("Outside tolerance: the positive predictive value %(group)s is %(ratio)s times that %(reference)s "
              "(95%% CI %(low)s–%(high)s)."),
    "npv": _l("Outside tolerance: the negative predictive value %(group)s is %(ratio)s times that %(reference)s "
              "(95%% CI %(low)s–%(high)s)."),
    "fpr": _l("Outside tolerance: the false positive rate %(group)s is %(ratio)s times that %(reference)s "
              "(95%% CI %(low)s–%(high)s)."),
    "selection_rate": _l("Outside tolerance: the selection rate %(group)s is %(ratio)s times that %(reference)s "
                         "(95%% CI %(low)s–%(high)s)."),
    "accuracy": _l("Outside tolerance: accuracy %(group)s is %(ratio)s times that %(reference)s "
                   "(95%% CI %(low)s–%(high)s)."),
    "prevalence": _l("Outside tolerance: prevalence %(group)s is %(ratio)s times that %(reference)s "
                     "(95%% CI %(low)s–%(high)s)."),
}
# Groups a sentence can name in plain words; any other group is quoted with its attribute.
GROUP_PHRASES = {("sex", "F"): _l("among women"), ("sex", "M"): _l("among men")}


@dataclass(frozen=True)
class Outcome:
    """The audits' outcome: which of the four, the verdict counts, and the failed disparity to name."""

    outcome: str
    audits: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    headline: dict[str, Any] | None = None
    failed_features: tuple[str, ...] = ()

    @property
    def icon(self) -> str:
        return ICONS[self.outcome]

    @property
    def label(self) -> str:
        return str(LABELS[self.outcome])


def _shown_ratio(disparity: dict[str, Any]) -> dict[str, float] | None:
    """The ratio and its interval when the viewer's result publishes all three; None otherwise."""
    ratio = disparity.get("ratio") or {}
    if disparity.get("suppressed") or ratio.get("ci_high_unbounded"):
        return None
    numbers = [ratio.get(k) for k in ("value", "ci_low", "ci_high")]
    if not all(isinstance(n, (int, float)) and n > 0 for n in numbers):
        return None
    return dict(zip(("value", "ci_low", "ci_high"), numbers, strict=True))


def _headline(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    candidates = []
    for result in results:
        for feature in result.get("features") or []:
            for disparity in feature.get("disparities") or []:
                ratio = _shown_ratio(disparity) if disparity.get("verdict") == "fail" else None
                if ratio is None:
                    continue
                metric = disparity.get("metric")
                rank = METRIC_PRIORITY.index(metric) if metric in METRIC_PRIORITY else len(METRIC_PRIORITY)
                candidates.append(((rank, -abs(math.log(ratio["value"]))), {
                    "metric": metric, "feature": feature.get("name"), "columns": feature.get("columns") or [],
                    "group": disparity.get("group"), "reference": feature.get("reference_group"), "ratio": ratio}))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def audit_outcome(results: Iterable[dict[str, Any] | None]) -> Outcome:
    """The worst verdict over these bias results (as the viewer may see them), and what to say first."""
    shown = [r for r in results if isinstance(r, dict)]
    if not shown:
        return Outcome(NOT_AUDITED)
    counts = {"pass": 0, "fail": 0, "insufficient_evidence": 0}
    for result in shown:
        for key, value in verdict_counts(result).items():
            counts[key] += value
    if counts["fail"]:
        features = dict.fromkeys(f.get("name") for r in shown for f in r.get("features") or []
                                 if any(d.get("verdict") == "fail" for d in f.get("disparities") or []))
        return Outcome(FAILED, len(shown), counts, _headline(shown), tuple(f for f in features if f))
    return Outcome(INSUFFICIENT if counts["insufficient_evidence"] else PASSED, len(shown), counts)


def bias_results(audits: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results of the succeeded bias audits among audit views (``audits.service.audit_view``)."""
    return [a["result"] for a in audits if a.get("kind") == "bias" and a.get("status") == "succeeded"
            and isinstance(a.get("result"), dict)]


def group_phrase(columns: list[str], feature: str | None, group: str | None) -> str:
    """"among women", or "in the group “75+” (age band)" for a group without a plain-words name."""
    if len(columns) == 1 and (columns[0], group) in GROUP_PHRASES:
        return str(GROUP_PHRASES[(columns[0], group)])
    name = " × ".join(attribute_label(c) for c in columns) if columns else attribute_label(feature or "")
    return _("in the group “%(group)s” (%(attribute)s)", group=group or "", attribute=name)


def headline_text(outcome: Outcome) -> str:
    """The failed disparity in one sentence, in the page's language; '' when there is none to name."""
    line = outcome.headline
    if not line or line["metric"] not in HEADLINES:
        return ""
    ratio = line["ratio"]
    return str(HEADLINES[line["metric"]]) % {
        "group": group_phrase(line["columns"], line["feature"], line["group"]),
        "reference": group_phrase(line["columns"], line["feature"], line["reference"]),
        "ratio": fnumber(ratio["value"], "0.00"), "low": fnumber(ratio["ci_low"], "0.00"),
        "high": fnumber(ratio["ci_high"], "0.00")}


def outcome_text(outcome: Outcome) -> str:
    """What the audits found, in plain words (the headline sentence when one disparity can be named)."""
    counts = outcome.counts
    if outcome.outcome == FAILED:
        failed = counts.get("fail", 0)
        text = headline_text(outcome)
        if not text:  # every failed comparison is masked in this view: say where, without a figure
            return ngettext("%(num)s disparity between groups lies outside tolerance, by %(attributes)s.",
                            "%(num)s disparities between groups lie outside tolerance, by %(attributes)s.", failed,
                            attributes=", ".join(attribute_label(f) for f in outcome.failed_features))
        if failed > 1:
            text += " " + ngettext("%(num)s other disparity is outside tolerance too.",
                                   "%(num)s other disparities are outside tolerance too.", failed - 1)
        return text
    if outcome.outcome == INSUFFICIENT:
        return _("No disparity is shown outside tolerance, but %(n)s comparisons lack the evidence to conclude "
                 "(groups too small or intervals too wide).", n=fnumber(counts.get("insufficient_evidence", 0)))
    if outcome.outcome == PASSED:
        return _("Every disparity measured (%(n)s) lies within tolerance.", n=fnumber(counts.get("pass", 0)))
    return _("No independent bias audit of this version is public yet.")


def documentation_text(baseline: dict[str, Any]) -> str:
    """How complete the documentation is, in one sentence (a separate signal from the audits)."""
    score, missing = fpercent(baseline.get("score")), baseline.get("missing")
    if missing:
        return _("Documentation: %(score)s of the quality baseline items are filled in; %(n)s mandatory items are "
                 "missing.", score=score, n=fnumber(len(missing)))
    return _("Documentation: %(score)s of the quality baseline items are filled in, including every mandatory "
             "one.", score=score)
