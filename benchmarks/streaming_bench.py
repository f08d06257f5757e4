"""Streaming bias audit against the in-memory one, on the same Parquet files, in one run.

    .venv/bin/python benchmarks/streaming_bench.py                  # 1M and 10M rows (~3-4 min on 2 cores)
    .venv/bin/python benchmarks/streaming_bench.py --rows 1000000   # 1M rows only, under a minute
    .venv/bin/python benchmarks/streaming_bench.py --quick          # 200k rows

For each size, one subprocess writes the files a bias-audit job reads: the dataset
(``audits.synth.generate_cohort``, 13 columns, Parquet written by pandas, row groups of 1,048,576
rows) and its uploaded predictions (row key, prediction and score, rows shuffled: the join's worst
case). Then each side runs in a fresh subprocess and computes what the job's worker computes for a
bias audit from uploaded predictions, score metrics aside on the first two sides:

* in-memory: ``tabular.read_table`` of both files, the predictions aligned on the dataset's row key
  as ``audits.runner._predict`` aligns them, ``run_bias_audit`` (y_score=None) and the Fairlearn
  cross-check on its stratified sample of 50,000 rows;
* streaming: ``run_streaming_bias_audit`` (batches, on-disk hash partitions, counts) and the Fairlearn
  cross-check on count-weighted cells (every row);
* streaming with scores: the same, the scores histogrammed in the same pass, then the score metrics
  computed from the histograms (``audits.score_histograms``): what the job does when the predictions
  carry scores. Its lines say what the scores add to the streaming side.

Both: sensitive features sex, age_band and region with their intersections, n_boot=1000, seed 42.
Wall time is ``time.perf_counter`` around that work; "peak" is the subprocess's
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (interpreter and libraries included), "+MB" that peak
minus the resident size just before the work. "identical" compares the two results' features and
verdicts as JSON.
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
FEATURES = ["sex", "age_band", "region"]
N_BOOT = 1000
SEED = 42


def write_files(directory: Path, rows: int, names: tuple[str, str] = ("data.parquet", "pred.parquet")) -> None:
    """The dataset and its shuffled predictions (with scores), as a job finds them in the store; ``names`` are
    the two files' names (the end-to-end benchmark writes the same cohort under its own)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from audits.synth import generate_cohort

    frame = generate_cohort(rows, seed=SEED)
    frame.drop(columns=["prediction", "risk_score"]).to_parquet(directory / names[0], index=False)
    predictions = frame[["row_id", "prediction"]].assign(score=frame["risk_score"])
    predictions.iloc[np.random.default_rng(SEED).permutation(rows)].to_parquet(directory / names[1],
                                                                                index=False)


def run_child(task: str, directory: Path) -> dict:
    """Run one side on the files and report its time, memory and result."""
    sys.path.insert(0, str(ROOT))
    from audits import tabular
    from audits.crosscheck import fairlearn_crosscheck, fairlearn_crosscheck_counts
    from audits.fairness import BiasAuditParams, run_bias_audit, summarise_verdicts
    from audits.streaming import cell_table, run_streaming_bias_audit

    params = BiasAuditParams(sensitive_features=FEATURES, intersections=True, n_boot=N_BOOT, seed=SEED)
    dataset, predictions = directory / "data.parquet", directory / "pred.parquet"
    before = _resident_kb()
    start = time.perf_counter()
    if task == "in-memory":
        frame = tabular.read_table(dataset, "parquet")
        uploaded = tabular.read_table(predictions, "parquet")
        aligned = uploaded.set_index("row_id").loc[frame["row_id"].tolist()]
        y_pred = aligned["prediction"].to_numpy(dtype=int)
        result = run_bias_audit(frame, label="outcome", sensitive=FEATURES, y_pred=y_pred, y_score=None, params=params)
        audited = time.perf_counter()
        check = fairlearn_crosscheck(frame, label="outcome", sensitive=FEATURES, y_pred=y_pred, params=params,
                                     seed=SEED)
        extra: dict[str, float] = {}
    else:
        work = Path(tempfile.mkdtemp(dir=directory))
        scores = task == "streaming+scores"
        result, streamed = run_streaming_bias_audit(dataset, predictions, predictions_format="parquet",
                                                    label="outcome", row_key="row_id", params=params, workdir=work,
                                                    scores=scores)
        histogram = streamed.scores
        if histogram is not None:
            from audits.score_histograms import histogram_score_metrics

            counted = time.perf_counter()
            histogram_score_metrics(histogram, streamed.coding.groupings, result, params)
            score_seconds = time.perf_counter() - counted
        audited = time.perf_counter()
        cells, y_true, y_pred, weights = cell_table(streamed, FEATURES)
        check = fairlearn_crosscheck_counts(cells, y_true=y_true, y_pred=y_pred, weights=weights, result=result,
                                            rows=streamed.stats.rows)
        extra = {"partitions": streamed.stats.partitions, "row_group_rows": streamed.stats.row_group_rows,
                 "batch_rows": streamed.stats.batch_rows}
        if histogram is not None:
            extra.update(score_metrics_s=score_seconds, cells=histogram.cells)
    result["verdicts"] = summarise_verdicts(result)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall": wall, "audit": audited - start, "peak_mb": peak / 1024, "added_mb": (peak - before) / 1024,
            "crosscheck": check["max_abs_difference"], "compared_rows": check["sample_rows"],
            "result": json.dumps({"features": result["features"], "verdicts": result["verdicts"]}, sort_keys=True),
            **extra}


def _resident_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark needs Linux)")


def _child(*args: str, script: str = __file__) -> str:
    """Run ``script --child *args`` in a fresh interpreter and return the last line it printed."""
    done = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True, check=False,
                          cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def bench_rows(rows: int) -> list[tuple]:
    """Write the files for one size, measure both sides, and return printable lines."""
    print(f"  {rows:,} rows: writing the files ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="boas-streaming-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        _child("write", str(rows), str(directory))
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in directory.glob("*.parquet")) / 1e6
        print(f"  {rows:,} rows: files written in {written:.0f} s ({size:.0f} MB); measuring ...", file=sys.stderr,
              flush=True)
        memory = json.loads(_child("in-memory", str(rows), str(directory)))
        streaming = json.loads(_child("streaming", str(rows), str(directory)))
        scored = json.loads(_child("streaming+scores", str(rows), str(directory)))
    same = "yes" if memory["result"] == streaming["result"] else "NO"

    def mem(r: dict) -> str:
        return f"{r['peak_mb']:,.0f} MB (+{r['added_mb']:,.0f})"

    return [
        (f"{rows:,}", "wall time", f"{memory['wall']:.2f} s", f"{streaming['wall']:.2f} s",
         f"{streaming['wall'] / memory['wall']:.2f}x"),
        ("", "  of which the audit (reading, join, counts, intervals)", f"{memory['audit']:.2f} s",
         f"{streaming['audit']:.2f} s", f"{streaming['audit'] / memory['audit']:.2f}x"),
        ("", "  of which the Fairlearn cross-check", f"{memory['wall'] - memory['audit']:.2f} s",
         f"{streaming['wall'] - streaming['audit']:.2f} s", ""),
        ("", "peak RSS (+ added by the audit)", mem(memory), mem(streaming),
         f"{streaming['peak_mb'] / memory['peak_mb']:.2f}x (+{streaming['added_mb'] / memory['added_mb']:.2f}x)"),
        ("", "Fairlearn cross-check: rows compared, max |diff|",
         f"{memory['compared_rows']:,} (sample), {memory['crosscheck']}",
         f"{streaming['compared_rows']:,} (weighted cells), {streaming['crosscheck']}", ""),
        ("", "features and verdicts identical", same, same, ""),
        ("", "streaming: partitions, row-group rows, batch rows", "",
         f"{streaming['partitions']}, {streaming['row_group_rows']:,}, {streaming['batch_rows']:,}", ""),
        ("", "streaming with scores: wall time (score metrics from histograms)", "",
         f"{scored['wall']:.2f} s ({scored['score_metrics_s']:.2f} s)", f"{scored['wall'] / streaming['wall']:.2f}x"),
        ("", "streaming with scores: peak RSS (+ added), histogram cells", "", f"{mem(scored)}, {scored['cells']:,}",
         f"{scored['peak_mb'] / streaming['peak_mb']:.2f}x"),
        ("", "streaming with scores: features and verdicts identical", "",
         "yes" if scored["result"] == streaming["result"] else "NO", ""),
    ]


def print_table(lines: list[tuple], header: tuple = ("rows", "measure", "in-memory", "streaming",
                                                      "streaming / in-memory")) -> None:
    """Print aligned columns."""
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def main() -> None:
    """Parse options and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", help="cohort sizes (default 1000000 10000000)")
    parser.add_argument("--quick", action="store_true", help="200k rows")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, rows, directory = args.child
        if task == "write":
            write_files(Path(directory), int(rows))
        else:
            print(json.dumps(run_child(task, Path(directory))))
        return
    rows = args.rows or ([200_000] if args.quick else [1_000_000, 10_000_000])
    started = time.perf_counter()
    lines = []
    for n in rows:
        lines += bench_rows(n)
    print_table(lines)
    print(f"\nfeatures: {', '.join(FEATURES)} with intersections, n_boot={N_BOOT}; "
          f"total benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
