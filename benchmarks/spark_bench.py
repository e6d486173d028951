"""Time ``custseg run --engine spark`` (local mode) beside the local engine at 1M and 10M.

Usage::

    python benchmarks/spark_bench.py --rows 1M --rows 10M [--k-range 2-10] [--k 5]
        [--engines spark,local] [--master local[*]] [--repeat 1] [--timeout 7200]
        [--out benchmarks/out/spark]

For each size, ``make_customers(n, seed=0)`` is written once as Parquet under
``OUT/data`` (the generator's files are reused, as by ``run.py``). Each engine
then runs the command a user types, ``custseg run DATA --spec SPEC --engine
ENGINE --out RUN -q --overwrite``, in a fresh process under the harness's
wrapper (``_bench.run_measured``): the wall time includes interpreter and JVM
start-up and every output written (for Spark at 1M rows and more the
Spark-partitioned ``segments.parquet/``). Recorded per run: wall time, CPU time,
the peak memory of all the run's processes (the JVM included: the sum of their
``Pss``, sampled every 0.2 s), the stage timings of ``manifest.json``, the chosen
k, the final within-cluster cost of ``model.json`` and the 1-minute load average
before and after (the machine is shared).

With ``--k K`` both engines are forced to the same k (the selection table is
still computed), so their final costs are comparable, and the benchmark also
reports the cost ratio (Spark over local; issue #5 asks for at most 1.02) and
the adjusted Rand index between the two engines' segments of the same
customers. Results go to ``OUT/results.json`` (appended) and are printed as a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import _bench

HERE = Path(__file__).resolve().parent
COST_TARGET = 1.02


def run_one(engine: str, data: Path, spec: Path, out: Path, args: argparse.Namespace) -> dict:
    """One ``custseg run`` of ``engine`` on ``data``, measured."""
    cmd = ["run", str(data), "--spec", str(spec), "--engine", engine, "--out", str(out),
           "--quiet", "--overwrite", "--k-range", args.k_range]
    if args.k is not None:
        cmd += ["--k", str(args.k)]
    if engine == "spark" and args.master:
        cmd += ["--master", args.master]
    m = _bench.run_measured("cli", cmd, timeout=args.timeout, wait=args.wait)
    row: dict[str, Any] = {
        "engine": engine, "wall_s": round(m["wall_s"], 2), "cpu_s": m.get("cpu_s"),
        "children_cpu_s": m.get("children_cpu_s"),
        "peak_all_processes_bytes": m.get("tree_peak_pss_bytes"),
        "vmhwm_bytes": m.get("vmhwm_bytes"),
        "load_before": round(m["loadavg_1min_before"], 2),
        "load_after": round(m["loadavg_1min_after"], 2),
        "speed_probe_s": round(m["speed_probe_s"], 3)}
    if m["timed_out"]:
        row["status"] = f"timeout after {args.timeout:.0f} s"
        return row
    if m["returncode"] != 0:
        row["status"] = "failed: " + (m["stderr_tail"].strip().splitlines() or ["?"])[-1][:300]
        return row
    manifest = json.loads((out / "manifest.json").read_text())
    model = json.loads((out / "model.json").read_text())
    row.update(status="ok", k=manifest["k"], inertia=model["training"]["inertia"],
               timings=manifest["timings"], engine_info=manifest.get("engine"),
               partitioned=bool(manifest.get("segments_partitioned")))
    return row


def segment_labels(run: Path) -> Any:
    """The segment of each customer in input order (``segments.parquet``, file or folder)."""
    import pandas as pd

    seg = pd.read_parquet(run / "segments.parquet", columns=["row", "segment"])
    return seg.sort_values("row")["segment"].to_numpy()


def agreement(runs: dict[str, Path]) -> float:
    """Adjusted Rand index between the Spark and the local segments of the same customers."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(segment_labels(runs["local"]),
                                     segment_labels(runs["spark"])))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", action="append", type=_bench.parse_rows, metavar="N",
                    help="rows to generate; repeat (default 1M and 10M)")
    ap.add_argument("--engines", default="spark,local")
    ap.add_argument("--k-range", default="2-10")
    ap.add_argument("--k", type=int, default=None,
                    help="force this k in both engines (their costs are then comparable)")
    ap.add_argument("--master", default="")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=7200)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "spark")
    ap.add_argument("--no-wait", dest="wait", action="store_false",
                    help="do not wait for other benchmarks to finish before each run")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    out = args.out.resolve()
    from custseg.datasets import demo_spec_text

    spec = out / "data" / "spec.toml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(demo_spec_text(), encoding="utf-8")
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else []
    header = _bench.header(sys.argv if argv is None else ["spark_bench.py", *argv])
    for n in sorted(set(args.rows or [1_000_000, 10_000_000])):
        paths, made = _bench.make_data(n, ["parquet"], out / "data")
        for rep in range(args.repeat):
            runs: dict[str, Path] = {}
            rows = []
            for engine in engines:
                run = out / "runs" / f"{engine}-{n}"
                print(f"{n:>12,} rows {engine:<6} run {rep + 1}/{args.repeat} ...", end=" ",
                      flush=True)
                row = run_one(engine, paths["parquet"], spec, run, args)
                row.update(rows=n, k_range=args.k_range, k_forced=args.k, cpus=os.cpu_count(),
                           repetition=rep + 1, started=header["started"],
                           source=header["source"].get("git"))
                print(f"{row['status']}: {row['wall_s']:.1f} s"
                      + (f", k = {row['k']}, cost {row['inertia']:,.1f}" if "k" in row else ""),
                      flush=True)
                if row["status"] == "ok":
                    runs[engine] = run
                rows.append(row)
            by = {r["engine"]: r for r in rows if r["status"] == "ok"}
            if {"spark", "local"} <= set(by) and by["spark"]["k"] == by["local"]["k"]:
                ratio = by["spark"]["inertia"] / by["local"]["inertia"]
                ari = agreement(runs)
                for r in rows:
                    r.update(cost_ratio_spark_over_local=ratio, adjusted_rand=ari)
                print(f"{'':>12} same k: cost ratio spark/local {ratio:.4f} (target <= "
                      f"{COST_TARGET}), adjusted Rand {ari:.3f}", flush=True)
            results += rows
            results_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    lines = [["engine", "rows", "k range", "k", "wall (s)", "peak, all processes (MiB)",
              "final cost", "spark/local cost", "ARI", "load before/after", "status"]]
    for r in results:
        if r.get("started") != header["started"]:
            continue
        ratio, ari = r.get("cost_ratio_spark_over_local"), r.get("adjusted_rand")
        lines.append([r["engine"], f"{r['rows']:,}", r["k_range"], str(r.get("k", "-")),
                      f"{r['wall_s']:.1f}", _bench.mib(r.get("peak_all_processes_bytes")),
                      f"{r['inertia']:,.1f}" if "inertia" in r else "-",
                      "-" if ratio is None else f"{ratio:.4f}",
                      "-" if ari is None else f"{ari:.3f}",
                      f"{r['load_before']} / {r['load_after']}", r["status"]])
    print("\n" + _bench.markdown_table(lines))
    print(f"\nresults appended to {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
