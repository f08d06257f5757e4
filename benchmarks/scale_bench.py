"""The streaming bias audit at 1M, 10M and 100M rows: time and peak memory side by side, in one run.

    .venv/bin/python benchmarks/scale_bench.py                          # 1M, 10M and 100M rows (~25 min on 2 cores)
    .venv/bin/python benchmarks/scale_bench.py --rows 1000000 10000000  # the two smaller sizes only

Issue #14 asks that a 100M-row Parquet cohort generated on disk be audited within a bounded memory of
at most 2 GB. A cohort of that size does not fit in memory (the in-memory engine needs about 35 GB at
100M rows, by ``streaming_bench.py``'s 3.5 GB at 10M), so it is written in chunks of ``CHUNK`` rows:
each chunk is ``audits.synth.generate_cohort(CHUNK, seed=42 + chunk number)`` with its ``row_id``
shifted to stay unique, appended to one Parquet dataset file (row groups of ``tabular.ROW_GROUP_ROWS``
rows, as uploads are stored) and to one predictions file (row key, prediction, score). The predictions
are not in the dataset's order: each chunk's rows are shuffled and the chunks are written in reverse,
so the join has no order to lean on.

Each size is then audited in a fresh subprocess exactly as a streaming job's worker does
(``streaming_bench.run_child("streaming+scores", ...)``: ``run_streaming_bias_audit`` with its on-disk
hash partitions, the engine's intervals and ``n_boot=1000`` bootstrap, the score metrics from per-group
histograms, and the Fairlearn cross-check on count-weighted cells). Printed: wall time, the subprocess's peak RSS (``ru_maxrss``: interpreter and
libraries included) and what the audit added to it, the disk the partitions used, and each size's
ratios to the smallest. The 2 GB bound is checked on the peak, not assumed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from streaming_bench import _child, print_table, run_child  # noqa: E402 - after the path above

CHUNK = 5_000_000
LIMIT_MB = 2048
SEED = 42


def write_chunked(directory: Path, rows: int) -> None:
    """The dataset and its predictions for ``rows`` rows, generated and appended chunk by chunk."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audits import tabular
    from audits.synth import generate_cohort

    sizes = [min(CHUNK, rows - start) for start in range(0, rows, CHUNK)]
    data_writer = pred_writer = None
    try:
        for number, size in enumerate(sizes):
            frame = generate_cohort(size, seed=SEED + number)
            frame["row_id"] += number * CHUNK
            data = pa.Table.from_pandas(frame.drop(columns=["prediction", "risk_score"]), preserve_index=False)
            if data_writer is None:
                data_writer = pq.ParquetWriter(directory / "data.parquet", data.schema)
            data_writer.write_table(data, row_group_size=tabular.ROW_GROUP_ROWS)
            del data
            # Reverse chunk order for the predictions: stage each chunk, then append them backwards below.
            order = np.random.default_rng(SEED + number).permutation(size)
            predictions = pa.table({"row_id": frame["row_id"].to_numpy()[order],
                                    "prediction": frame["prediction"].to_numpy()[order],
                                    "score": frame["risk_score"].to_numpy()[order]})
            pq.write_table(predictions, directory / f"pred-{number}.parquet")
            del frame, predictions
        for number in reversed(range(len(sizes))):
            chunk = pq.read_table(directory / f"pred-{number}.parquet")
            if pred_writer is None:
                pred_writer = pq.ParquetWriter(directory / "pred.parquet", chunk.schema)
            pred_writer.write_table(chunk, row_group_size=tabular.ROW_GROUP_ROWS)
            (directory / f"pred-{number}.parquet").unlink()
    finally:
        for writer in (data_writer, pred_writer):
            if writer is not None:
                writer.close()


def _disk_watch(directory: Path) -> subprocess.Popen:
    """A sampler of the partitions' disk use under ``directory`` (every 0.5 s), printing its maximum at exit."""
    code = ("import os,sys,time,signal\n"
            "top=0\n"
            "def done(*_):\n print(top); sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, done)\n"
            "while True:\n"
            " total=0\n"
            " for r,_d,fs in os.walk(sys.argv[1]):\n"
            "  for f in fs:\n"
            "   try: total+=os.stat(os.path.join(r,f)).st_size\n"
            "   except OSError: pass\n"
            " top=max(top,total); time.sleep(0.5)\n")
    return subprocess.Popen([sys.executable, "-c", code, str(directory)], stdout=subprocess.PIPE, text=True)


def measure(rows: int) -> dict:
    """Write one size's files, audit them streaming in a fresh subprocess, and return the measures."""
    with tempfile.TemporaryDirectory(prefix="boas-scale-bench-") as tmp:
        directory = Path(tmp)
        print(f"  {rows:,} rows: writing the files ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        _child("write", str(rows), str(directory), script=__file__)
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in directory.glob("*.parquet")) / 1e6
        print(f"  {rows:,} rows: files written in {written:.0f} s ({size:,.0f} MB); auditing ...", file=sys.stderr,
              flush=True)
        watch = _disk_watch(directory)
        try:
            result = json.loads(_child("streaming+scores", str(rows), str(directory), script=__file__))
        finally:
            watch.terminate()
            disk = int((watch.communicate(timeout=30)[0] or "0").strip() or 0) / 1e6
        free = shutil.disk_usage(directory).free / 1e9
    return {"rows": rows, "written_s": written, "files_mb": size, "disk_mb": disk - size, "free_gb": free, **result}


def main() -> None:
    """Parse options, measure each size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 100_000_000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, rows, directory = args.child
        if task == "write":
            write_chunked(Path(directory), int(rows))
        else:
            print(json.dumps(run_child(task, Path(directory))))
        return
    started = time.perf_counter()
    results = [measure(n) for n in sorted(args.rows)]
    base = results[0]
    header = ("rows", "files", "audit + cross-check", "of which audit", "peak RSS (+ added)", "partitions on disk",
              f"time / {base['rows']:,}", f"peak / {base['rows']:,}", f"peak <= {LIMIT_MB:,} MB")
    lines = [(f"{r['rows']:,}", f"{r['files_mb']:,.0f} MB", f"{r['wall']:.1f} s", f"{r['audit']:.1f} s",
              f"{r['peak_mb']:,.0f} MB (+{r['added_mb']:,.0f})", f"{r['disk_mb']:,.0f} MB",
              f"{r['wall'] / base['wall']:.1f}x", f"{r['peak_mb'] / base['peak_mb']:.2f}x",
              "yes" if r["peak_mb"] <= LIMIT_MB else "NO") for r in results]
    print_table(lines, header)
    verdicts = [{k: v for k, v in json.loads(r["result"])["verdicts"].items() if isinstance(v, int) and v}
                for r in results]
    print(f"\npartitions: {', '.join(str(r['partitions']) for r in results)}; row-group rows "
          f"{results[-1]['row_group_rows']:,}; batch rows {results[-1]['batch_rows']:,}; cross-check max |diff| "
          f"{', '.join(str(r['crosscheck']) for r in results)}")
    counts = "; ".join(f"{r['rows']:,}: {v}" for r, v in zip(results, verdicts, strict=True))
    print(f"verdict counts: {counts}")
    print(f"features: sex, age_band, region with intersections, n_boot=1000; total benchmark time "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
