"""What the score metrics and the Fairlearn cross-check add to a bias audit, next to the engine itself, in one run.

    .venv/bin/python benchmarks/scores_bench.py                    # 1M rows, with and without intersections
    .venv/bin/python benchmarks/scores_bench.py --rows 100000 1000000

Same conventions as ``audit_bench.py``: the cohort is ``generate_cohort(rows, seed=42)`` with the
sensitive features sex, age_band and region; every measurement runs in a fresh Python subprocess;
wall time is time.perf_counter around the computation only, CPU time time.process_time (steadier
when other processes share the cores); "peak" is the subprocess's
ru_maxrss with the high-water mark reset after the cohort is generated, "+MB" what the
computation added. Tasks, each as the worker runs it (``audits.runner._bias``):

* engine: ``run_bias_audit`` with scores (AUC, calibration deciles) and n_boot=1000;
* scores: ``audits.scores.score_metrics`` on the engine's result (curves, sweep, calibration with
  its bootstrap, n_boot=1000 capped at scores.MAX_BOOT);
* crosscheck: ``audits.crosscheck.fairlearn_crosscheck`` (stratified 50,000-row sample, the engine
  on it without bootstrap, one Fairlearn MetricFrame per feature).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ["sex", "age_band", "region"]
SEED = 42
N_BOOT = 1000


def run_child(task: str, rows: int, intersections: bool) -> dict:
    """Generate the cohort (and the engine's result when needed), then time one task."""
    sys.path.insert(0, str(ROOT))
    from audits.crosscheck import fairlearn_crosscheck
    from audits.fairness import BiasAuditParams, run_bias_audit
    from audits.scores import score_metrics
    from audits.synth import generate_cohort

    frame = generate_cohort(rows, seed=SEED)
    y_pred, y_score = frame["prediction"].to_numpy(), frame["risk_score"].to_numpy()
    params = BiasAuditParams(sensitive_features=FEATURES, intersections=intersections, n_boot=N_BOOT, seed=SEED)
    result = None
    if task == "scores":
        result = run_bias_audit(frame, label="outcome", sensitive=FEATURES, y_pred=y_pred, y_score=None,
                                params=BiasAuditParams(sensitive_features=FEATURES, intersections=intersections,
                                                       n_boot=0))
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = _resident_kb()
    start, cpu = time.perf_counter(), time.process_time()
    detail: dict = {}
    if task == "engine":
        run_bias_audit(frame, label="outcome", sensitive=FEATURES, y_pred=y_pred, y_score=y_score, params=params)
    elif task == "scores":
        found = score_metrics(frame, result, label="outcome", y_score=y_score, params=params)
        detail["groups"] = 1 + sum(len(f["groups"]) for f in found["features"])
        detail["json_kb"] = len(json.dumps(found)) / 1024
    else:
        record = fairlearn_crosscheck(frame, label="outcome", sensitive=FEATURES, y_pred=y_pred, params=params,
                                      seed=SEED)
        detail["max_abs_difference"] = record["max_abs_difference"]
        detail["sample_rows"] = record["sample_rows"]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall": wall, "cpu": cpu, "peak_mb": peak / 1024, "added_mb": (peak - before) / 1024, **detail}


def _resident_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark needs Linux)")


def measure(task: str, rows: int, intersections: bool) -> dict:
    """Run one task in a fresh interpreter."""
    command = [sys.executable, __file__, "--child", task, str(rows), str(int(intersections))]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{task} on {rows} rows failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse options and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000], help="cohort sizes (default 1000000)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, rows, intersections = args.child
        print(json.dumps(run_child(task, int(rows), bool(int(intersections)))))
        return
    header = ("rows", "intersections", "engine (n_boot=1000)", "score metrics", "cross-check", "added / engine")
    lines = []
    for rows in args.rows:
        for intersections in (False, True):
            print(f"  {rows:,} rows, intersections={intersections} ...", file=sys.stderr, flush=True)
            engine, found, check = (measure(t, rows, intersections) for t in ("engine", "scores", "crosscheck"))
            lines.append((
                f"{rows:,}", "yes" if intersections else "no",
                f"{engine['wall']:.2f} s ({engine['cpu']:.2f} s CPU), +{engine['added_mb']:.0f} MB",
                f"{found['wall']:.2f} s ({found['cpu']:.2f} s CPU), +{found['added_mb']:.0f} MB "
                f"({found['groups']} groups, {found['json_kb']:.0f} KB)",
                f"{check['wall']:.2f} s ({check['cpu']:.2f} s CPU), +{check['added_mb']:.0f} MB "
                f"({check['sample_rows']:,} rows, max diff {check['max_abs_difference']})",
                f"{(found['cpu'] + check['cpu']) / engine['cpu']:.1f}x CPU",
            ))
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
