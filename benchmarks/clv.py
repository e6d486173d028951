"""Time ``custseg clv``'s work on 1,000,000 simulated customers (daily unit).

Usage::

    PYTHONPATH=src python benchmarks/clv.py [--customers 1000000] [--seed 0]
        [--out benchmarks/out/clv] [--repeat 3]

1. The log (not timed): :func:`custseg.datasets.clv.make_clv_transactions`
   (BG/NBD and Gamma-Gamma with the planted truth ``CLV_TRUTH``, customers
   acquired uniformly over 2023-01-01 .. 2024-06-30), written to Parquet (about
   2.25 rows per customer).
2. Timed, in this process, each stage and their sum (the best of ``--repeat``):
   the log validated and aggregated per customer by DuckDB in the lifetimes
   convention (``custseg.rfm.validate_and_aggregate``, what ``custseg clv`` calls),
   both models fitted (``custseg.clv.value.fit_models``: BG/NBD and Gamma-Gamma,
   three starts each, standard errors) and every customer scored
   (``score_customers``: P(alive), expected purchases and CLV over 12 months).
   The I/O floor is reading the Parquet log into memory with pyarrow.
3. ``custseg clv`` end to end in a fresh process (outputs written: clv.json,
   customers.parquet, customers.csv with 1M rows, report.html), once: the
   difference to the sum above is start-up and writing the outputs.

Prints a JSON line with the figures, the 1-minute load average and the fitted
parameters beside the truth.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/clv"))
    args = ap.parse_args()

    import pyarrow.parquet as pq

    from custseg.clv import BGNBD
    from custseg.clv.value import fit_models, score_customers
    from custseg.datasets.clv import CLV_TRUTH, make_clv_transactions
    from custseg.rfm import TransactionColumns, validate_and_aggregate

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"log_{args.customers}_{args.seed}.parquet"
    make_clv_transactions(args.customers, seed=args.seed).to_parquet(path, index=False)
    rows = pq.read_metadata(path).num_rows
    cols = TransactionColumns("customer_id", "date", "amount")
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pq.read_table(path)
        t1 = time.perf_counter()
        table, _ = validate_and_aggregate(path, cols, convention="lifetimes")
        t2 = time.perf_counter()
        fitted = fit_models(table, BGNBD)
        t3 = time.perf_counter()
        score_customers(table, BGNBD, fitted.purchase.theta, fitted.spend.theta, unit="day")
        t4 = time.perf_counter()
        times = {"io_floor_read": t1 - t0, "aggregate": t2 - t1, "fit": t3 - t2, "score": t4 - t3,
                 "total": t4 - t1}
        best = {k: min(v, best.get(k, np.inf)) for k, v in times.items()}
    out_dir = args.out / "run"
    env = dict(os.environ)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "custseg", "clv", str(path), "-o", str(out_dir),
                    "--overwrite", "--quiet"], check=True, env=env, stdout=subprocess.DEVNULL)
    command = time.perf_counter() - t0
    print(json.dumps({
        "customers": args.customers, "rows": rows, "distinct_customers": int(len(table)),
        "seconds": {k: round(v, 3) for k, v in best.items()}, "command_seconds": round(command, 2),
        "load_1min": os.getloadavg()[0],
        "params": fitted.purchase.params, "spend_params": fitted.spend.params, "truth": CLV_TRUTH,
    }))


if __name__ == "__main__":
    main()
