"""Time the Spark engine (local mode) beside the local engine at 1M and 10M customers.

Usage::

    python benchmarks/spark_bench.py --rows 1M,10M [--k-range 2-10] [--engines spark,local]
        [--master local[*]] [--timeout 7200]

For each size, ``make_customers(n, seed=0)`` is written once as Parquet under
``benchmarks/out/spark/data``; each engine then runs in a fresh Python process
(read, validate, features, choice of k, final fit, profiles, analysis, run
directory written; for Spark the JVM start-up is included). The wall time, the
stage timings from the manifest, the final within-cluster cost and the 1-minute
load average before and after (the machine is shared) go to
``benchmarks/out/spark/results.json`` and are printed as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "spark"

CHILD = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from custseg.datasets import demo_spec_text
from custseg.pipeline import RunOptions
from custseg.rundir import write_run
from custseg.spec import parse_spec
engine, data, out, lo, hi, master = sys.argv[1:7]
spec = parse_spec(demo_spec_text())
opts = RunOptions(k_range=(int(lo), int(hi)))
if engine == "spark":
    from custseg.engines import finish_run, run_engine
    res = run_engine("spark", None, spec, opts, source=data, master=master or None)
    write_run(res, out, overwrite=True)
    finish_run(res, out)
else:
    from custseg import io
    from custseg.pipeline import segment
    res = segment(io.read_table(Path(data)), spec, opts)
    write_run(res, out, overwrite=True)
print(json.dumps({"seconds": time.perf_counter() - t0, "k": int(res.segmenter.k_),
                  "inertia": float(res.segmenter.inertia_),
                  "timings": res.manifest["timings"]}))
"""


def parse_rows(text: str) -> int:
    """``1M`` -> 1_000_000, ``100k`` -> 100_000, ``1e6`` -> 1_000_000."""
    t = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def make_data(n: int) -> Path:
    """``make_customers(n, seed=0)`` as Parquet, made once."""
    path = OUT / "data" / f"customers-{n}.parquet"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        code = ("import sys; from custseg.datasets import make_customers; "
                "make_customers(int(sys.argv[1]), seed=0).to_parquet(sys.argv[2])")
        subprocess.run([sys.executable, "-c", code, str(n), str(path)], check=True)
    return path


def run_one(engine: str, data: Path, n: int, k_range: tuple[int, int], master: str,
            timeout: float) -> dict:
    out = OUT / "runs" / f"{engine}-{n}"
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, engine, str(data), str(out),
                               str(k_range[0]), str(k_range[1]), master],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    except subprocess.TimeoutExpired:
        return {"engine": engine, "rows": n, "status": f"timeout after {timeout:.0f} s",
                "load_before": load_before, "load_after": os.getloadavg()[0]}
    wall = time.perf_counter() - t0
    row = {"engine": engine, "rows": n, "wall_seconds": round(wall, 1),
           "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
    if proc.returncode != 0:
        row["status"] = "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
        return row
    row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    row["status"] = "ok"
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1M,10M")
    ap.add_argument("--engines", default="spark,local")
    ap.add_argument("--k-range", default="2-10")
    ap.add_argument("--master", default="")
    ap.add_argument("--timeout", type=float, default=7200)
    args = ap.parse_args(argv)
    lo, hi = (int(x) for x in args.k_range.split("-"))
    results_path = OUT / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else []
    for n in [parse_rows(r) for r in args.rows.split(",")]:
        data = make_data(n)
        for engine in args.engines.split(","):
            row = run_one(engine, data, n, (lo, hi), args.master, args.timeout)
            row["k_range"] = args.k_range
            row["cpus"] = os.cpu_count()
            print(json.dumps(row), flush=True)
            results.append(row)
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(results, indent=2) + "\n")
    print("\n| engine | rows | k range | wall (s) | final cost | load before/after | status |")
    print("|---|---:|---|---:|---:|---|---|")
    for r in results:
        print(f"| {r['engine']} | {r['rows']:,} | {r.get('k_range')} | "
              f"{r.get('wall_seconds', '-')} | {r.get('inertia', '-')} | "
              f"{r.get('load_before')}/{r.get('load_after')} | {r['status']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
