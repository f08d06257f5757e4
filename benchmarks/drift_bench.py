"""Drift job on two Parquet files: streaming (every row tested, Evidently on a sample) vs in memory (Evidently on all).

    .venv/bin/python benchmarks/drift_bench.py                 # 1M rows per dataset
    .venv/bin/python benchmarks/drift_bench.py --rows 200000   # quicker
    .venv/bin/python benchmarks/drift_bench.py --quick         # 200k rows
    .venv/bin/python benchmarks/drift_bench.py --rows 5000000 --sides streaming

Each side runs in a fresh subprocess; wall time around the computation only, peak memory is the subprocess's
``ru_maxrss`` (interpreter, pandas and Evidently included: about 300 MB before any data). The table also says whether the two sides' per-column decisions (either test) agree.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["age", "bmi", "systolic_bp", "sex", "region", "stage"]


def write_cohorts(rows: int, into: Path) -> tuple[Path, Path]:
    """Reference and current cohorts: age shifted by 3 years and bmi's missing share 5 % -> 30 % in the current."""
    import numpy as np
    import pandas as pd

    paths = []
    for name, seed, shift, missing in (("reference", 1, 0.0, 0.05), ("current", 2, 3.0, 0.3)):
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame({
            "age": rng.normal(55 + shift, 12, rows), "bmi": rng.normal(27, 4, rows),
            "systolic_bp": rng.normal(130, 15, rows), "sex": rng.choice(["F", "M"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows), "stage": rng.integers(1, 4, rows)})
        frame.loc[rng.random(rows) < missing, "bmi"] = np.nan
        path = into / f"{name}.parquet"
        frame.to_parquet(path, index=False, row_group_size=262_144)
        paths.append(path)
    return paths[0], paths[1]


def run(mode: str, reference: Path, current: Path) -> dict:
    """One side, as the drift job computes it; returns its decisions, time and peak memory."""
    sys.path.insert(0, str(ROOT))
    from audits.drift import compute_drift
    from audits.drift_report import coarsen_report

    started = time.perf_counter()
    if mode == "streaming":
        from audits.drift_stream import stratified_sample, stream_drift

        summary = stream_drift(reference, current, columns=COLUMNS).summary
        samples = [stratified_sample(p, COLUMNS, seed=s)[0] for s, p in enumerate((reference, current))]
        sampled = compute_drift(*samples, columns=COLUMNS)
        coarsen_report(sampled.html, *samples)
    else:
        import pandas as pd

        frames = [pd.read_parquet(p) for p in (reference, current)]
        result = compute_drift(*frames, columns=COLUMNS)
        coarsen_report(result.html, *frames)
        summary = result.summary
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "decisions": {c["column"]: c["drifted_any"] for c in summary["columns"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sides", nargs="+", choices=["streaming", "in-memory"], default=["streaming", "in-memory"],
                        help="in memory past a few million rows needs several GB")
    parser.add_argument("--side", nargs=3, help=argparse.SUPPRESS)  # internal: mode reference current
    parser.add_argument("--write", nargs=2, help=argparse.SUPPRESS)  # internal: rows directory
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run(args.side[0], Path(args.side[1]), Path(args.side[2]))))
        return
    if args.write:
        write_cohorts(int(args.write[0]), Path(args.write[1]))
        return
    rows_list = [200_000] if args.quick else args.rows
    print(f"{'rows':>10} {'side':>10} {'seconds':>9} {'peak MB':>9}  decisions agree")
    for rows in rows_list:
        with tempfile.TemporaryDirectory() as tmp:
            # written by a subprocess too: Linux keeps a process's peak RSS across fork and exec, so this
            # process must never hold the cohorts
            subprocess.run([sys.executable, __file__, "--write", str(rows), tmp], check=True)
            reference, current = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
            out = {}
            for mode in args.sides:
                done = subprocess.run([sys.executable, __file__, "--side", mode, str(reference), str(current)],
                                      capture_output=True, text=True, check=True)
                out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            agree = out["streaming"]["decisions"] == out["in-memory"]["decisions"] if len(out) == 2 else "-"
            for mode, side in out.items():
                print(f"{rows:>10,} {mode:>10} {side['seconds']:>9.1f} {side['peak_mb']:>9.0f}  {agree}")


if __name__ == "__main__":
    main()
