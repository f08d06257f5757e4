"""Bias-audit engine against Fairlearn's MetricFrame, on the same synthetic cohorts, in one run.

    .venv/bin/python benchmarks/audit_bench.py                 # 100k and 1M rows (~6-8 min on 2 cores)
    .venv/bin/python benchmarks/audit_bench.py --quick         # 20k and 100k rows, about a minute
    .venv/bin/python benchmarks/audit_bench.py --rows 100000 1000000 --fairlearn-boot 10 2

Every measurement runs in a fresh Python subprocess, so timings and memory do not leak between
them. Wall time is time.perf_counter around the computation only (the cohort is generated first).
Peak memory is the subprocess's resource.getrusage(RUSAGE_SELF).ru_maxrss read after the
computation, with the high-water mark reset just before it (Linux: "5" written to
/proc/self/clear_refs), so the cohort's generation does not count. "peak" is the whole process
(interpreter, libraries, cohort, computation); "+MB" is that peak minus the resident size just
before the computation, i.e. what the computation itself needed at its worst.

Both sides compute the same eight metrics (prevalence, selection rate, TPR, FPR, FNR, PPV, NPV,
accuracy, plus counts) for the sensitive features sex, age_band and region. Fairlearn uses one
MetricFrame per feature (three MetricFrames) and calls difference() and ratio() on each; the engine
runs one run_bias_audit over the three features, which also computes every closed-form interval
(Wilson, Newcombe, Koopman, to-overall), the Holm-adjusted verdicts and the bootstrapped extremes.
Fairlearn's bootstrap is run with a small n_boot and extrapolated linearly to 1000 replicates:
point time + (bootstrap run - point time) x 1000 / n_boot.

The floor: "one np.bincount pass" is the least work any exact count-based engine does on the same
data: pd.factorize each sensitive column (sorted, as the engine does), combine the codes, and count
the confusion cells of every combination with a single np.bincount. The engine's time with all its
intervals is printed as a multiple of that floor.
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
ENGINE_BOOT = 1000
SEED = 42



def run_child(task: str, rows: int, n_boot: int) -> dict:
    """Generate the cohort, then time one task and report its memory high-water marks."""
    sys.path.insert(0, str(ROOT))
    from fairlearn.metrics import MetricFrame, count

    from audits.crosscheck import fairlearn_metrics
    from audits.fairness import BiasAuditParams, run_bias_audit
    from audits.synth import generate_cohort

    frame = generate_cohort(rows, seed=SEED)
    y_true, y_pred, y_score = frame["outcome"], frame["prediction"], frame["risk_score"].to_numpy()
    metrics = {**fairlearn_metrics(), "count": count}  # the cross-check's definitions, as the engine is checked
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark: generation does not count
    before = _resident_kb()
    values: dict = {}
    start = time.perf_counter()
    if task == "bincount":
        import numpy as np
        import pandas as pd

        combined = np.zeros(len(frame), dtype=np.int64)
        for feature in FEATURES:
            codes, uniques = pd.factorize(frame[feature], sort=True)
            combined = combined * len(uniques) + codes
        cells = np.bincount(combined * 4 + 2 * y_true.to_numpy() + y_pred.to_numpy())
        values["cells"] = float(cells.sum())
    elif task.startswith("engine"):
        params = BiasAuditParams(sensitive_features=FEATURES, n_boot=n_boot, seed=SEED)
        score = y_score if task == "engine_full" else None
        result = run_bias_audit(
            frame, label="outcome", sensitive=FEATURES, y_pred=y_pred.to_numpy(), y_score=score, params=params
        )
        for feature in result["features"]:
            for group in feature["groups"]:
                for name, metric in group["metrics"].items():
                    values[f"{feature['name']}|{group['group']}|{name}"] = metric["value"]
    else:
        for feature in FEATURES:
            options = {"n_boot": n_boot, "ci_quantiles": [0.025, 0.975], "random_state": SEED} if n_boot else {}
            mf = MetricFrame(
                metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=frame[feature], **options
            )
            mf.difference(), mf.ratio()
            for group, row in mf.by_group.iterrows():
                for name in metrics:
                    if name != "count":
                        values[f"{feature}|{group}|{name}"] = float(row[name])
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall": wall, "peak_mb": peak / 1024, "added_mb": (peak - before) / 1024, "values": values}


def _resident_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark needs Linux)")


def measure(task: str, rows: int, n_boot: int) -> dict:
    """Run one task in a fresh interpreter."""
    command = [sys.executable, __file__, "--child", task, str(rows), str(n_boot)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{task} on {rows} rows failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_values(engine: dict, fairlearn: dict) -> float:
    """Largest absolute difference between the engine's and Fairlearn's per-group metrics."""
    assert engine.keys() == fairlearn.keys(), "the two sides disagree on groups or metrics"
    return max(abs(engine[key] - fairlearn[key]) for key in engine)


def bench_rows(rows: int, fairlearn_boot: int) -> list[tuple]:
    """Measure the five tasks on one cohort size and return printable table lines."""
    print(f"  {rows:,} rows ...", file=sys.stderr, flush=True)
    floor = min((measure("bincount", rows, 0) for _ in range(3)), key=lambda result: result["wall"])
    engine = measure("engine", rows, 0)
    fair = measure("fairlearn", rows, 0)
    engine_boot = measure("engine", rows, ENGINE_BOOT)
    full = measure("engine_full", rows, ENGINE_BOOT)
    fair_boot = measure("fairlearn", rows, fairlearn_boot)
    gap = compare_values(engine["values"], fair["values"])
    per_replicate = max(fair_boot["wall"] - fair["wall"], 0.0) / fairlearn_boot
    extrapolated = fair["wall"] + per_replicate * ENGINE_BOOT

    def mem(result: dict) -> str:
        return f"{result['peak_mb']:.0f} MB (+{result['added_mb']:.0f})"

    return [
        (f"{rows:,}", "one np.bincount pass (factorize + count, best of 3)", f"{floor['wall']:.3f} s", "", ""),
        ("", "engine with every interval, n_boot=0 (closed forms only)",
         f"{engine['wall']:.3f} s = {engine['wall'] / floor['wall']:.1f}x the bincount pass", "", ""),
        ("", f"engine with every interval, n_boot={ENGINE_BOOT} (extremes bootstrapped)",
         f"{engine_boot['wall']:.3f} s = {engine_boot['wall'] / floor['wall']:.1f}x the bincount pass", "", ""),
        ("", "point estimates (engine: with its closed-form intervals): wall", f"{engine['wall']:.2f} s", f"{fair['wall']:.1f} s",
         f"{fair['wall'] / engine['wall']:.0f}x"),
        ("", "point estimates: peak RSS", mem(engine), mem(fair), ""),
        ("", "max |engine - fairlearn|", f"{gap:.1e}", "", ""),
        ("", f"bootstrap n_boot={ENGINE_BOOT}: wall", f"{engine_boot['wall']:.2f} s",
         f"{extrapolated:.0f} s extrapolated", f"{extrapolated / engine_boot['wall']:.0f}x"),
        ("", f"  (Fairlearn measured at n_boot={fairlearn_boot})", "", f"{fair_boot['wall']:.1f} s", ""),
        ("", f"bootstrap n_boot={ENGINE_BOOT}: peak RSS", mem(engine_boot),
         f"{mem(fair_boot)} at n_boot={fairlearn_boot}", ""),
        ("", f"engine full audit (+AUC, calibration, n_boot={ENGINE_BOOT})", f"{full['wall']:.2f} s, {mem(full)}",
         "(no equivalent run)", ""),
    ]  # fmt: skip


def print_table(lines: list[tuple]) -> None:
    """Print aligned columns."""
    header = ("rows", "measure", "engine", "fairlearn (3 MetricFrames)", "fairlearn / engine")
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def main() -> None:
    """Parse options and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", help="cohort sizes (default 100000 1000000)")
    parser.add_argument("--fairlearn-boot", type=int, nargs="+", help="Fairlearn n_boot per size (default 10, 2)")
    parser.add_argument("--quick", action="store_true", help="20k and 100k rows, Fairlearn n_boot 5")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, rows, n_boot = args.child
        print(json.dumps(run_child(task, int(rows), int(n_boot))))
        return
    rows = args.rows or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    boots = args.fairlearn_boot or [5 if args.quick else 10 if n <= 100_000 else 2 for n in rows]
    if len(boots) == 1:
        boots = boots * len(rows)
    if len(boots) != len(rows):
        parser.error("give one --fairlearn-boot per --rows value, or one for all")
    started = time.perf_counter()
    lines = []
    for n, boot in zip(rows, boots, strict=True):
        lines += bench_rows(n, boot)
    print_table(lines)
    print(f"\nfeatures: {', '.join(FEATURES)}; total benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
