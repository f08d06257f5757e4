"""Freezing a public bias-audit view (primary tiers + the joint linear-programming audit) against the audit itself.

    .venv/bin/python benchmarks/suppression_bench.py            # the cases below, about a minute on 2 cores
    .venv/bin/python benchmarks/suppression_bench.py --rows 20000

For each case the bias audit is computed first (``run_bias_audit``, n_boot 0: the engine's own time is
the baseline printed beside), then its public view is frozen with ``freeze_public_view``, alone or
after the views listed in the case (frozen first, untimed). Printed per case: groups published
(intersections padded to every combination), unknowns of the programme, hidden small cells checked,
linear programmes solved, facts withdrawn by complementary suppression, and wall times.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from audits.fairness import BiasAuditParams, run_bias_audit
from audits.suppression import AuditRecord, freeze_public_view
from audits.synth import generate_cohort

CASES = [  # name, [(features, scores column, threshold, intersections)]: the last one is timed
    ("region", [(["region"], "risk_score", 0.2, False)]),
    ("sex x region", [(["sex", "region"], "risk_score", 0.2, True)]),
    ("sex x age x region (~140 groups)", [(["sex", "age_band", "region"], "risk_score", 0.2, True)]),
    ("same, after 2 frozen views", [(["sex", "region"], "risk_score", 0.2, True),
                                    (["age_band", "region"], "risk_score", 0.2, True),
                                    (["sex", "age_band", "region"], "risk_score", 0.2, True)]),
    ("second version, after 2 frozen views", [(["sex", "region"], "risk_score", 0.2, True),
                                              (["sex", "age_band"], "risk_score", 0.2, True),
                                              (["sex", "region"], "score_v2", 0.2, True)]),
    ("4 features (~270 groups)", [(["sex", "age_band", "region", "deprivation_quintile"], "risk_score", 0.2, True)]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    frame = generate_cohort(args.rows, seed=1)
    rng = np.random.default_rng(1)
    frame["score_v2"] = np.clip(frame["risk_score"].to_numpy() * np.exp(rng.normal(0, 0.5, len(frame))), 0, 1)
    print(f"{'case':40} {'groups':>6} {'unknowns':>8} {'checks':>6} {'LPs':>5} {'withdrawn':>9} "
          f"{'engine s':>8} {'freeze s':>8}")
    for name, plan in CASES:
        records = []
        for i, (features, score, threshold, intersections) in enumerate(plan):
            params = BiasAuditParams(sensitive_features=features, intersections=intersections, n_boot=0,
                                     threshold=threshold)
            scores = frame[score].to_numpy()
            started = time.perf_counter()
            result = run_bias_audit(frame, label="outcome", sensitive=features,
                                    y_pred=(scores >= threshold).astype(int), y_score=scores, params=params)
            engine = time.perf_counter() - started
            record = AuditRecord(str(i), result, f"{score}@{threshold}", score, threshold)
            started = time.perf_counter()
            frozen = freeze_public_view(record, records)
            freeze = time.perf_counter() - started
            records.append(AuditRecord(str(i), result, record.predictions, score, threshold, frozen.view))
        groups = 1 + sum(len(f["groups"]) for f in frozen.view["features"])
        o = frozen.outcome
        print(f"{name:40} {groups:6d} {o.variables:8d} {o.checks:6d} {o.solves:5d} {len(o.withdrawn):9d} "
              f"{engine:8.2f} {freeze:8.2f}" + (f"  fallback: {frozen.fallback}" if frozen.fallback else ""))


if __name__ == "__main__":
    main()
