"""Verdict reasons, base-rate notes and the verdict rule of a bias audit, rendered in the reader's language.

Audit results carry them as structured data (a ``code`` and named numbers, see ``audits.verdicts``):
each code has one translated sentence per variant, numbers are formatted for the locale. A public
view may have dropped numbers (small-cell suppression): a sentence then falls back to a variant
without them, and a size the table masks is never written out. Results stored before reasons were
structured hold plain English text, shown as it is.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from boas.pages.i18n import fnumber, fpercent

METHOD_NAMES = {
    "wilson": _l("Wilson score interval"),
    "newcombe_hybrid_score": _l("Newcombe's hybrid score interval"),
    "koopman_score": _l("Koopman's score interval"),
    "group_vs_rest_mapped": _l("the group's intervals against the rest of the population, mapped exactly"),
    "bootstrap_percentile": _l("percentile bootstrap"),
}


def fpvalue(value: float | None) -> str:
    """A p-value's relation as readers expect it: "= 0.012", or "< 0.001"."""
    if value is None:
        return ""
    return _("< %(limit)s", limit=fnumber(0.001)) if value < 0.001 else "= " + fnumber(value, "0.000")


def _has(reason: dict[str, Any], *names: str) -> bool:
    return all(isinstance(reason.get(name), (int, float)) for name in names)


def _settle(reason: dict[str, Any], masked: bool) -> str:
    parts = []
    if _has(reason, "detectable_below", "detectable_above"):
        parts.append(_("At this size, only a ratio below %(below)s or above %(above)s would be shown with %(power)s "
                       "power.", below=fnumber(reason["detectable_below"], "0.00"),
                       above=fnumber(reason["detectable_above"], "0.00"), power=fpercent(reason.get("power", 0.8))))
    elif _has(reason, "detectable_below"):
        parts.append(_("At this size, only a ratio below %(below)s would be shown with %(power)s power.",
                       below=fnumber(reason["detectable_below"], "0.00"), power=fpercent(reason.get("power", 0.8))))
    elif _has(reason, "detectable_above"):
        parts.append(_("At this size, only a ratio above %(above)s would be shown with %(power)s power.",
                       above=fnumber(reason["detectable_above"], "0.00"), power=fpercent(reason.get("power", 0.8))))
    if _has(reason, "group_n_needed") and not masked:
        parts.append(_("About %(n)s people in the group (the reference unchanged) would settle it.",
                       n=fnumber(reason["group_n_needed"])))
    elif _has(reason, "scale_needed"):
        parts.append(_("Both groups would need to be about %(factor)s times larger to settle it.",
                       factor=fnumber(reason["scale_needed"], "#,##0.0")))
    return " ".join(parts)


def reason_text(reason: Any, *, comparisons: int | None = None, sizes_masked: bool = False,
                values_masked: bool = False) -> str:
    """One verdict's reason as sentences.

    ``sizes_masked`` keeps sizes out when the table masks the group's or the reference's size;
    ``values_masked`` keeps out every figure computed from the cells when the table masks the values.
    """
    if isinstance(reason, str):
        return reason
    if not isinstance(reason, dict):
        return ""
    code = reason.get("code")
    if code == "small_group":
        if _has(reason, "group_n", "reference_n", "needed") and not (sizes_masked or values_masked):
            return _("Too few people to judge: %(group)s in the group and %(reference)s in the reference group, "
                     "%(needed)s needed in each.", group=fnumber(reason["group_n"]),
                     reference=fnumber(reason["reference_n"]), needed=fnumber(reason["needed"]))
        return _("Too few people to judge: the group or the reference group has fewer than %(needed)s people.",
                 needed=fnumber(reason.get("needed", 30)))
    if code == "metric_undefined":
        return {"group": _("The metric is undefined in the group (no one in its denominator)."),
                "reference": _("The metric is undefined in the reference group (no one in its denominator)."),
                }.get(reason.get("where"), _("The metric is undefined (no one in its denominator)."))
    if code == "interval_within":
        return _("The whole interval lies within the tolerance band.")
    if code == "interval_outside":
        below = reason.get("side") == "below"
        if comparisons:
            text = (_("The ratio lies below the tolerance band, even after adjustment for the %(m)s comparisons of "
                      "the audit (Holm).", m=fnumber(comparisons)) if below else
                    _("The ratio lies above the tolerance band, even after adjustment for the %(m)s comparisons of "
                      "the audit (Holm).", m=fnumber(comparisons)))
        else:
            text = (_("The ratio lies below the tolerance band, even after adjustment for multiple comparisons.")
                    if below else
                    _("The ratio lies above the tolerance band, even after adjustment for multiple comparisons."))
        return text
    if code == "not_significant_after_adjustment":
        text = (_("The interval lies outside the tolerance band, but the evidence does not survive the adjustment "
                  "for the %(m)s comparisons of the audit (Holm).", m=fnumber(comparisons)) if comparisons else
                _("The interval lies outside the tolerance band, but the evidence does not survive the adjustment "
                  "for multiple comparisons."))
        return " ".join(filter(None, [text, "" if values_masked else _settle(reason, sizes_masked)]))
    if code == "interval_straddles":
        return " ".join(filter(None, [_("The interval overlaps a boundary of the tolerance band."),
                                      "" if values_masked else _settle(reason, sizes_masked)]))
    if code == "masked":
        return _("The figures of this comparison describe fewer than %(k)s people: they are not published.",
                 k=fnumber(reason.get("min_cell", 11)))
    return ""


def note_text(note: Any) -> str:
    """The base-rate note of a selection-rate disparity, or ''."""
    if not isinstance(note, dict) or note.get("code") != "selection_follows_prevalence":
        return ""
    if _has(note, "prevalence_ratio", "expected_selection_ratio"):
        return _("This gap in selection rate follows the gap in prevalence (ratio %(prevalence)s): with the reference "
                 "group's sensitivity and false positive rate, the expected ratio is %(expected)s, within the "
                 "interval, and both error rates are within tolerance.",
                 prevalence=fnumber(note["prevalence_ratio"], "0.00"),
                 expected=fnumber(note["expected_selection_ratio"], "0.00"))
    return _("This gap in selection rate follows the gap in prevalence: sensitivity and false positive rate are "
             "within tolerance.")


def rule_paragraphs(result: dict[str, Any]) -> list[str]:
    """The verdict rule of a result, as paragraphs in the page's language."""
    rule = result.get("rule")
    if isinstance(rule, str):
        return [rule]
    if not isinstance(rule, dict):
        return []
    methods = result.get("methods") or {}
    band = rule.get("band") or result.get("tolerance_band") or [0.8, 1.25]

    def method(name: str) -> str:
        return str(METHOD_NAMES.get(methods.get(name), methods.get(name) or ""))

    paragraphs = [
        _("Each disparity is the ratio of a group's metric to its reference group's (by default the largest "
          "group), with a %(level)s confidence interval: %(proportion)s for each group, %(difference)s for "
          "differences, %(ratio)s for ratios.", level=fpercent(rule.get("ci_level", 0.95)),
          proportion=method("proportion"), difference=method("difference"), ratio=method("ratio")),
        _("A disparity is within tolerance when its whole interval lies within the band from %(low)s to %(high)s "
          "(Aequitas: 1 − τ to 1 / (1 − τ), τ = %(tolerance)s). It is outside tolerance when the ratio lies outside "
          "the band with a p-value below %(alpha)s after Holm's adjustment over the %(m)s judged comparisons of "
          "the audit (every feature, intersection, metric and group); the verdict without adjustment is shown "
          "beside it. Otherwise the evidence is insufficient: fewer than %(min)s people in the group or its "
          "reference, a metric with no one in its denominator, or an interval that overlaps a boundary of the band.",
          low=fnumber(band[0]), high=fnumber(band[1]), tolerance=fnumber(rule.get("tolerance", 0.2)),
          alpha=fnumber(rule.get("alpha", 0.05)), m=fnumber(rule.get("comparisons", 0)),
          min=fnumber(rule.get("min_group_size", 30))),
        _("Differences and ratios to the whole population (Fairlearn's “to overall”) are reported with %(overall)s, "
          "without a verdict. The largest gap between groups uses a %(extremes)s of %(n_boot)s resamples.",
          overall=method("to_overall"), extremes=method("extremes"), n_boot=fnumber(rule.get("n_boot", 0))),
    ]
    return paragraphs


def methods_text(result: dict[str, Any]) -> str:
    """The interval methods of a result, in one line ('' for results that do not state them)."""
    methods = result.get("methods")
    if not isinstance(methods, dict):
        return ""
    names = {key: str(METHOD_NAMES.get(methods.get(key), methods.get(key) or "")) for key in ("proportion",
                                                                                               "difference", "ratio")}
    return _("%(proportion)s (groups), %(difference)s (differences), %(ratio)s (ratios).", **names)
