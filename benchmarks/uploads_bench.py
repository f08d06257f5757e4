"""What the dataset and predictions upload checks cost, phase by phase: by columns and sorted keys vs whole tables and sets.

    .venv/bin/python benchmarks/uploads_bench.py                    # 10M rows, about 2 minutes on 2 cores
    .venv/bin/python benchmarks/uploads_bench.py --rows 1000000

The files are the end-to-end benchmark's (``streaming_bench.write_files``: the cohort as Parquet, 12 columns in
pandas' row groups of 1,048,576 rows, and its shuffled predictions keyed by ``row_id``). Each side runs in a fresh
subprocess, calling what the services call between staging the upload and recording it (no HTTP, no database):

* former: ``read_table`` of the whole dataset, the checks and the identifier screening of that frame,
  ``describe_table``, then the copy into row groups of 262,144 rows; for the predictions, ``read_table`` of
  the whole stored dataset and the key comparison with ``set(keys.tolist())`` (kept below as it was);
* current: ``audits.datasets._survey_dataset`` over ``tabular.parquet_columns`` (one column at a time) with
  the copy written alongside in a thread, as ``create_dataset`` does; for the predictions, the dataset's key
  column alone (``dataset_row_keys``) and the array comparison of ``_check_predictions_against``.

Wall time is ``time.perf_counter``; CPU time is ``time.process_time`` (all threads of the process, steadier on a
shared machine); peak is the subprocess's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
META = {"label_column": "outcome", "sensitive_columns": ["sex", "age_band", "region"], "row_key": "row_id",
        "labels": {}, "datasheet": {}}


def former_key_check(frame, reference, row_key):
    """The predictions check as it was before the keys were compared with arrays (Python sets of the keys)."""
    from audits import datasets, tabular
    from registry_db.errors import ValidationFailed

    key = row_key or "row_number"
    keys = datasets.row_keys(reference, row_key)
    missing = set(keys.tolist()) - set(frame[key].tolist())
    extra = set(frame[key].tolist()) - set(keys.tolist())
    errors = tabular.PredictionProblems(
        key, duplicates=bool(frame[key].duplicated().any()), missing=len(missing), extra=len(extra),
        bad_prediction=not set(frame["prediction"].dropna().unique().tolist()) <= {0, 1}
        or bool(frame["prediction"].isna().any()),
    ).messages()
    score = frame["score"]
    if score.isna().any() or not ((score >= 0) & (score <= 1)).all():
        errors.append("'score' must be a probability in [0, 1] on every row")
    if errors:
        raise ValidationFailed("invalid predictions file", {"file": errors})


def run_child(side: str, directory: Path) -> list[tuple[str, float, float, float]]:
    sys.path.insert(0, str(ROOT))
    from concurrent.futures import ThreadPoolExecutor

    from audits import datasets, identifiers, tabular

    phases = []
    clock = [time.perf_counter(), time.process_time()]

    def tick(name: str) -> None:
        phases.append((name, time.perf_counter() - clock[0], time.process_time() - clock[1],
                       resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
        clock[:] = [time.perf_counter(), time.process_time()]

    work = Path(tempfile.mkdtemp(dir=directory))
    path, converted, predictions = work / "table", work / "table.parquet", work / "predictions"
    shutil.copy(directory / "cohort.parquet", path)
    shutil.copy(directory / "predictions.parquet", predictions)
    clock[:] = [time.perf_counter(), time.process_time()]
    in_metadata = identifiers.screen_file_metadata(path, "parquet")
    if side == "former":
        frame = tabular.read_table(path, "parquet")
        tick("dataset: read whole")
        errors = datasets._dataset_problems(frame, META, in_metadata)
        tick("dataset: checks and identifier screening")
        tabular.describe_table(frame, "parquet")
        tick("dataset: describe")
        stored = datasets._stored_table(frame, path, "parquet", converted)
        tick("dataset: copy into row groups of 262,144")
        del frame
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            copying = pool.submit(datasets._stored_table, None, path, "parquet", converted)
            errors, _ = datasets._survey_dataset(tabular.parquet_columns(path), META, in_metadata)
            tick("dataset: by columns: read, screen, describe, checks")
        stored = copying.result()
        tick("dataset: copy into row groups (alongside: waiting)")
    assert not errors and stored == converted, errors
    frame = tabular.read_table(predictions, "parquet")
    tick("predictions: read the upload")
    if side == "former":
        reference = tabular.read_table(stored, "parquet")
        tick("predictions: read the dataset whole")
        former_key_check(frame, reference, "row_id")
        tick("predictions: checks (Python sets of keys)")
    else:
        keys = datasets.dataset_row_keys(stored, "parquet", "row_id")
        tick("predictions: read the dataset's key column")
        datasets._check_predictions_against(frame, keys, "row_id")
        tick("predictions: checks (sorted keys)")
    shutil.rmtree(work, ignore_errors=True)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], Path(args.child[1]))))
        return
    if args.write:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import streaming_bench

        streaming_bench.write_files(Path(args.write), args.rows, names=("cohort.parquet", "predictions.parquet"))
        return
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="boas-uploads-bench-") as tmp:
        directory = Path(tmp)
        # in a subprocess of its own: a child's peak RSS counts its parent's memory at the fork
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--write", str(directory)], cwd=ROOT,
                       check=True)
        results = {}
        for side in ("former", "current"):
            done = subprocess.run([sys.executable, __file__, "--child", side, str(directory)], cwd=ROOT,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            results[side] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{args.rows:,} rows")
    print(f"{'side':8s}  {'phase':55s}  {'wall':>7s}  {'CPU':>7s}  {'peak RSS':>9s}")
    for side, phases in results.items():
        for name, wall, cpu, peak in phases:
            print(f"{side:8s}  {name:55s}  {wall:6.2f}s  {cpu:6.2f}s  {peak:6,.0f} MB")
        for upload in ("dataset", "predictions"):
            wall = sum(p[1] for p in phases if p[0].startswith(upload))
            cpu = sum(p[2] for p in phases if p[0].startswith(upload))
            print(f"{side:8s}  {upload + ' in all':55s}  {wall:6.2f}s  {cpu:6.2f}s")
    print(f"\n{os.cpu_count()} CPUs; load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
