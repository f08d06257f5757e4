"""Identifier screening vs reading the same upload: screening must stay a small part of an upload's cost.

    .venv/bin/python benchmarks/identifiers_bench.py            # 100k and 1M rows, ~2 min on 2 cores
    .venv/bin/python benchmarks/identifiers_bench.py --rows 200000

For each size, two tables are written as CSV to a temporary directory, then read back with
``audits.tabular.read_table`` (the baseline: what every upload already pays) and screened with
``audits.identifiers.screen_table``:
- *cohort*: ``generate_cohort`` plus the columns of an SNDS-like extract (ICD-10 and ATC codes,
  départements, months and days of care, costs, counts, a 32-hex pseudonymous key, a short free
  text): 26 columns, the realistic case;
- *wide keys*: 10 columns of distinct 32-hex keys, the worst case (every column is sampled by
  rows and then scanned whole for rare strong identifiers).
Wall time is ``time.perf_counter`` around each call, best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from audits import tabular
from audits.identifiers import screen_table
from audits.synth import generate_cohort


def cohort(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = generate_cohort(rows, seed=seed)
    frame["cim10"] = rng.choice(["E11", "I10", "C50.9", "J44.1", "N18.3", "E66.0", "F32", "I50.9"], rows)
    frame["atc"] = rng.choice(["A10BA02", "C09AA05", "N02BE01", "C10AA05", "B01AC06"], rows)
    frame["departement"] = rng.choice(["75", "13", "69", "2A", "2B", "971", "974", "59"], rows)
    frame["mois_soin"] = [f"20{y}-{m:02d}" for y, m in zip(rng.integers(19, 24, rows), rng.integers(1, 13, rows),
                                                             strict=True)]
    frame["date_soin"] = (pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1460, rows), unit="D"))
    frame["cout"] = np.round(rng.gamma(2.0, 800.0, rows), 2)
    frame["nb_actes"] = rng.poisson(6, rows)
    frame["duree_sejour"] = rng.integers(0, 60, rows)
    frame["cle"] = [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, (rows, 2))]
    frame["motif"] = rng.choice(["consultation de suivi", "bilan annuel", "urgence", "hospitalisation programmée",
                                 "renouvellement d'ordonnance"], rows)
    return frame


def wide_keys(rows: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"k{i}": [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, (rows, 2))]
                         for i in range(10)})


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"{'table':<10} {'rows':>9} {'cols':>4} {'read (s)':>9} {'screen (s)':>10} {'screen/read':>11} findings")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            for label, frame in (("cohort", cohort(rows)), ("wide keys", wide_keys(rows))):
                path = Path(tmp) / f"{label}-{rows}.csv"
                frame.to_csv(path, index=False)
                read_s, table = best_of(args.repeat, lambda p=path: tabular.read_table(p, "csv"))
                screen_s, found = best_of(args.repeat, lambda t=table: screen_table(t, row_key="row_id"))
                print(f"{label:<10} {rows:>9} {table.shape[1]:>4} {read_s:>9.2f} {screen_s:>10.2f} "
                      f"{screen_s / read_s:>11.2f} {len(found)}")


if __name__ == "__main__":
    main()
