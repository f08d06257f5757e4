"""Public views of bias audits that resist reconstruction (French practice: no cell under 11 people).

What is protected: the confusion cells (tn, fp, fn, tp) of every group, intersection and the overall
cohort. Every published number about a group is a linear fact about those cells (a rate times its
published denominator is one), so each group publishes one of five tiers, each a set of facts:

====== ===================================== =================================================
tier   facts (sums of cells)                 published fields
====== ===================================== =================================================
full   count, positives, predicted, tp       everything: every rate and interval, AUC, calibration
rates  count, positives, predicted           count, positives, prevalence, selection rate
margin count, positives                      count, positives, prevalence
count  count                                 count
hidden nothing                               labels only
====== ===================================== =================================================

Primary rule: a group is ``full`` only when all four cells count at least ``k``; otherwise it takes the
highest lower tier whose own facts leave each of its cells under ``k`` compatible with 0 and with ``k``
(``own_ranges``: so every sum it publishes counts at least ``k`` too).

Secondary rule, checked the way tau-ARGUS audits a table (``audits.linear_audit``): over every public
audit of the same dataset at once, a linear programme bounds each hidden cell under ``k`` (hidden:
its group is not ``full``; absent combinations included). The criterion: **every hidden cell under k
must stay compatible with 0 and with k or more** (its LP range contains [0, k]). So no hidden small
cell is pinned, bounded below k, or shown to be non-empty, and its range is at least k wide, far beyond
what integrality could close (the tests' integer programme confirms it on samples). While a cell fails,
a published fact its bound rests on (non-zero dual value) is withdrawn by lowering its group's tier,
cheapest first: groups already not ``full``, then the smallest step, then the smallest group. Facts of
views frozen earlier, and the dataset's size (public in the provenance), cannot be withdrawn: they are
constraints. A bound resting on facts that cannot be withdrawn alone (a dual solution without any
withdrawable fact: earlier views, the dataset's size and list of levels, the sizes a pass or fail
verdict implies) is accepted and counted in the outcome (never seen in the tests). Finally a withdrawn fact that line sums of published facts determine
anyway is shown again: a masked number is never recomputable from totals.

Everything else is an allow-list, so a new engine field is masked until someone decides otherwise:
parameters are copied; groups keep their label and levels; metric triples keep ``value``, ``ci_low``,
``ci_high``, ``defined``, flags and code-like strings; comparisons (to the reference or to the cohort)
publish numbers only when both compared groups publish the metric (a masked one's reason is the code
``masked``: "undefined" or "small group" would tell a zero or a size); a published reason keeps codes and the numbers named in ``REASON_NUMBERS``; p-values
likewise, Holm-adjusted ones only when every comparison of the audit is published (the step-down reads
them all); extremes are published only when every group of the feature and the cohort publish the
metric; verdicts are categories shown for every group. Any other key is dropped.
Intersections list every combination of their levels, absent ones as hidden groups, so the public
cannot tell an empty combination from a small one.

The package: ``tiers`` (what each group may publish), ``protect`` (the joint audit by linear
programming over every public view of the dataset) and ``document`` (the public JSON).
"""

from audits.suppression.document import public_result
from audits.suppression.protect import AuditRecord, Frozen, freeze_public_view, suppress_bias_result
from audits.suppression.tiers import (
    COUNT,
    FULL,
    HIDDEN,
    MARGINS,
    MIN_CELL,
    RATES,
    TIER_NAMES,
    _slots,
    cells_of,
    primary_tier,
)

__all__ = [
    "COUNT",
    "FULL",
    "HIDDEN",
    "MARGINS",
    "MIN_CELL",
    "RATES",
    "TIER_NAMES",
    "AuditRecord",
    "Frozen",
    "_slots",
    "cells_of",
    "freeze_public_view",
    "primary_tier",
    "public_result",
    "suppress_bias_result",
]
