"""Throughput and peak memory of ``custseg assign`` on a large file of new customers.

Usage::

    PYTHONPATH=src python benchmarks/assign_bench.py --rows 10000000
        [--chunk-size 250000 --chunk-size 1000000] [--input csv --input parquet]
        [--output csv --output parquet] [--control-rows 1000000] [--no-profile]
        [--out benchmarks/out/assign] [--json FILE]

What it measures and how:

Data generation and model fitting run in a subprocess of their own, so that the
harness process stays small (on Linux a child's ``ru_maxrss`` starts from its
parent's peak); the harness's own peak is recorded with every measurement, and
each measured process's ``VmHWM`` as a cross-check.

1. Model (not timed): ``CustomerSegmenter(parse_spec(demo_spec_text()),
   stability_runs=0).fit(make_customers(100_000, seed=0))``, saved with
   ``custseg.modelfile.save_model`` as ``OUT/model.json``.
2. Data (not timed): ``make_customers(ROWS, seed=1)`` written once as
   ``OUT/data/new-ROWS.csv`` (``pyarrow.csv.write_csv``; empty minutes are empty
   cells) and ``OUT/data/new-ROWS.parquet`` (``pyarrow.parquet``, one file).
   Files already there from an earlier run with the same rows and seed are
   reused (a sidecar ``.meta.json`` records them). The first ``--control-rows``
   rows are also written as a small CSV (see 5).
3. For every chunk size x input format x output format: ``custseg assign
   OUT/model.json DATA -o OUT/assigned/... --chunk-size N --overwrite --quiet`` in
   a fresh Python subprocess (``PYTHONPATH`` = this checkout's ``src``), run by a
   tiny ``python -c`` wrapper that calls ``custseg.cli.main()`` (what the console
   script does) and, however it ends, records
   ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak RSS of that process) and
   its CPU time. Wall time is ``time.perf_counter()`` around the subprocess, so
   it includes interpreter start-up, imports, loading and verifying the model,
   reading, validating, assigning and writing. rows/s = rows / wall time. The
   row count is checked from the command's own summary line.
4. Baseline: the same wrapper running only the imports ``assign`` needs plus
   ``load_model`` gives the fixed start-up time and memory; "rows/s after
   start-up" divides by (wall - that start-up).
5. Memory bounded by the chunk size: the peak RSS per chunk size on ROWS rows,
   and the same command (CSV to CSV) on the ``--control-rows`` file: if the peak
   is the same for a file 10x smaller, memory depends on the chunk size, not on
   the file size.
6. If the best throughput misses the target (1,000,000 rows/s), ONE run (the
   slowest configuration at the largest chunk size) is repeated under
   ``python -m cProfile`` and the top functions by own time and by cumulative
   time are printed and saved to ``OUT/profile.txt`` (``OUT/profile.pstats``).

Before each measurement the script waits until no other benchmark
(``benchmarks/run.py``, ``benchmarks/api_bench.py``) is running. The results, the
machine, library versions and a digest of the custseg sources go to
``OUT/results.json`` (or ``--json``); a table is printed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _bench

TARGET_ROWS_PER_S = 1_000_000

BASELINE = """
import sys
import custseg.cli, custseg.scoring, custseg.io, pandas, pyarrow.parquet, pyarrow.csv
from custseg.modelfile import load_model
load_model(sys.argv[1])
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time `custseg assign` (rows/s) and its peak memory.")
    p.add_argument("--rows", type=_bench.parse_rows, default=10_000_000,
                   help="new customers to assign (default 10M)")
    p.add_argument("--train-rows", type=_bench.parse_rows, default=100_000,
                   help="customers the model is fitted on (default 100k)")
    p.add_argument("--chunk-size", action="append", type=_bench.parse_rows, dest="chunks",
                   help="--chunk-size of assign; repeat (default 250k and 1M)")
    p.add_argument("--input", action="append", choices=("csv", "parquet"), dest="inputs",
                   help="input format; repeat (default both)")
    p.add_argument("--output", action="append", choices=("csv", "parquet"), dest="outputs",
                   help="output format; repeat (default both)")
    p.add_argument("--control-rows", type=_bench.parse_rows, default=1_000_000,
                   help="rows of the smaller control file (0 to skip; default 1M)")
    p.add_argument("--repeat", type=int, default=1, help="measurements per configuration")
    p.add_argument("--no-profile", action="store_true", help="never profile")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/assign"))
    p.add_argument("--json", type=Path, default=None, help="default OUT/results.json")
    p.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.chunks = sorted(set(a.chunks or [250_000, 1_000_000]))
    a.inputs = list(dict.fromkeys(a.inputs or ["csv", "parquet"]))
    a.outputs = list(dict.fromkeys(a.outputs or ["csv", "parquet"]))
    return a


# ------------------------------------------------------------------ setup
def fit_model(path: Path, train_rows: int) -> dict[str, Any]:
    import custseg
    from custseg.datasets import demo_spec_text, make_customers
    from custseg.modelfile import save_model

    df = make_customers(train_rows, seed=0)
    t0 = time.perf_counter()
    seg = custseg.CustomerSegmenter(custseg.parse_spec(demo_spec_text()), stability_runs=0).fit(df)
    fit_s = time.perf_counter() - t0
    save_model(seg.model_, path)
    return {"train_rows": train_rows, "k": int(seg.k_), "fit_s": round(fit_s, 2),
            "names": list(seg.segment_names_)}


def write_data(rows: int, control_rows: int, data_dir: Path) -> dict[str, Path]:
    """CSV and Parquet of make_customers(rows, seed=1), reused when already written."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from custseg.datasets import make_customers

    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": data_dir / f"new-{rows}.csv", "parquet": data_dir / f"new-{rows}.parquet"}
    if control_rows:
        paths["control"] = data_dir / f"new-{rows}-first-{control_rows}.csv"
    meta = data_dir / f"new-{rows}.meta.json"
    want = {"rows": rows, "seed": 1, "control_rows": control_rows, "generator": "make_customers"}
    if (meta.is_file() and json.loads(meta.read_text()) == want
            and all(p.is_file() for p in paths.values())):
        print(f"reusing the data in {data_dir}", flush=True)
        return paths
    print(f"generating {rows:,} new customers ...", end=" ", flush=True)
    t0 = time.perf_counter()
    table = pa.Table.from_pandas(make_customers(rows, seed=1), preserve_index=False)
    for kind, path in paths.items():
        tmp = path.with_name(path.name + ".tmp")
        if kind == "csv":
            pacsv.write_csv(table, tmp)
        elif kind == "parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table.slice(0, control_rows), tmp)
        tmp.replace(path)
    meta.write_text(json.dumps(want))
    print(f"{time.perf_counter() - t0:.0f} s", flush=True)
    return paths


# ------------------------------------------------------------------ measuring
def assigned_rows(stdout: str) -> int | None:
    found = re.search(r"([\d,]+) customers assigned", stdout)
    return int(found.group(1).replace(",", "")) if found else None


def measure_assign(model: Path, data: Path, out: Path, chunk: int) -> dict[str, Any]:
    args = ["assign", str(model), str(data), "-o", str(out), "--chunk-size", str(chunk),
            "--overwrite", "--quiet"]
    r = _bench.run_measured("cli", args)
    r["rows_assigned"] = assigned_rows(r["stdout_tail"])
    r["output_bytes"] = out.stat().st_size if out.is_file() else None
    if r["returncode"] == 0:
        r.pop("stdout_tail")
        r.pop("stderr_tail")
    return r


def profile_one(model: Path, data: Path, out: Path, chunk: int, out_dir: Path) -> str:
    """Run one assign under cProfile; return the top of the report (also saved)."""
    import pstats

    stats_file = out_dir / "profile.pstats"
    _bench.wait_for_quiet()
    cmd = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "custseg", "assign",
           str(model), str(data), "-o", str(out), "--chunk-size", str(chunk), "--overwrite",
           "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=_bench.env(), capture_output=True)
    wall = time.perf_counter() - t0
    text_file = out_dir / "profile.txt"
    with text_file.open("w") as fh:
        fh.write(f"{' '.join(cmd[3:])}\nwall under cProfile: {wall:.1f} s\n\n")
        st = pstats.Stats(str(stats_file), stream=fh)
        st.strip_dirs()
        fh.write("=== top 25 by own time (tottime)\n")
        st.sort_stats("tottime").print_stats(25)
        fh.write("=== top 40 by cumulative time\n")
        st.sort_stats("cumulative").print_stats(40)
    return text_file.read_text()


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = out / "model.json"
    if a.setup:  # in a subprocess, so that the harness stays small (see _bench.harness_peak_rss)
        info = fit_model(model, a.train_rows)
        print(f"model: k = {info['k']}, fitted on {a.train_rows:,} rows in {info['fit_s']:.1f} s",
              flush=True)
        paths = write_data(a.rows, a.control_rows, out / "data")
        (out / "setup.json").write_text(json.dumps(
            {"model": info, "paths": {k: str(p) for k, p in paths.items()}}))
        return 0
    result = _bench.header(sys.argv if argv is None else ["assign_bench.py", *argv])
    _bench.wait_for_quiet()
    _bench.run_setup([str(Path(__file__).resolve()), "--setup", *(argv if argv is not None
                                                                   else sys.argv[1:])])
    setup = json.loads((out / "setup.json").read_text())
    result["model"] = setup["model"]
    paths = {k: Path(p) for k, p in setup["paths"].items()}
    result["data"] = {k: {"path": str(p), "bytes": p.stat().st_size} for k, p in paths.items()}

    base = [_bench.run_measured("script", [str(_write_baseline(out)), str(model)]) for _ in range(3)]
    startup = statistics.median(b["wall_s"] for b in base)
    result["baseline"] = {"wall_s_median": startup,
                          "peak_rss_bytes": max(b.get("peak_rss_bytes", 0) for b in base),
                          "vmhwm_bytes": max(b.get("vmhwm_bytes") or 0 for b in base),
                          "runs": base}
    print(f"baseline (imports + load_model): {startup:.2f} s, "
          f"{_bench.mib(result['baseline']['peak_rss_bytes'])} MiB", flush=True)

    assigned = out / "assigned"
    assigned.mkdir(exist_ok=True)
    runs: list[dict[str, Any]] = []
    for chunk in a.chunks:
        for fin in a.inputs:
            for fout in a.outputs:
                for rep in range(a.repeat):
                    target = assigned / f"{fin}-to-{fout}-chunk{chunk}.{fout}"
                    print(f"{a.rows:,} rows {fin} -> {fout}, chunk {chunk:,} ...", end=" ", flush=True)
                    r = measure_assign(model, paths[fin], target, chunk)
                    r.update(rows=a.rows, input=fin, output=fout, chunk=chunk, repeat=rep)
                    _finish_run(r, startup)
                    runs.append(r)
                    target.unlink(missing_ok=True)  # 10M-row outputs are large
        if a.control_rows:
            target = assigned / f"control-chunk{chunk}.csv"
            print(f"{a.control_rows:,} rows csv -> csv, chunk {chunk:,} (control) ...", end=" ",
                  flush=True)
            r = measure_assign(model, paths["control"], target, chunk)
            r.update(rows=a.control_rows, input="csv", output="csv", chunk=chunk, repeat=0,
                     control=True)
            _finish_run(r, startup)
            runs.append(r)
            target.unlink(missing_ok=True)
    result["runs"] = runs

    ok = [r for r in runs if r["returncode"] == 0 and not r.get("control")]
    best = max((r["rows_per_s"] for r in ok), default=0.0)
    result["target"] = {"rows_per_s": TARGET_ROWS_PER_S, "best_rows_per_s": best,
                        "met": best >= TARGET_ROWS_PER_S}
    print()
    print_summary(runs, result["baseline"])
    print(f"\ntarget >= {TARGET_ROWS_PER_S:,} rows/s end to end: best {best:,.0f} rows/s -> "
          f"{'met' if best >= TARGET_ROWS_PER_S else 'MISSED'}")

    if ok and best < TARGET_ROWS_PER_S and not a.no_profile:
        big = max(a.chunks)
        slowest = min((r for r in ok if r["chunk"] == big), key=lambda r: r["rows_per_s"])
        print(f"\nprofiling one run: {slowest['input']} -> {slowest['output']}, chunk {big:,} ...",
              flush=True)
        target = assigned / f"profiled.{slowest['output']}"
        text = profile_one(model, paths[slowest["input"]], target, big, out)
        target.unlink(missing_ok=True)
        result["profile"] = {"input": slowest["input"], "output": slowest["output"], "chunk": big,
                             "report": str(out / "profile.txt")}
        print("\n".join(text.splitlines()[:60]))
    _bench.finish(result, a.json or out / "results.json")
    return 0 if all(r["returncode"] == 0 for r in runs) else 1


def _write_baseline(out: Path) -> Path:
    path = out / "baseline.py"
    path.write_text(BASELINE)
    return path


def _finish_run(r: dict[str, Any], startup: float) -> None:
    if r["returncode"] != 0:
        print(f"FAILED (exit {r['returncode']}): {r.get('stderr_tail', '')[-400:]}", flush=True)
        return
    if r["rows_assigned"] != r["rows"]:
        r["row_count_mismatch"] = True
    r["rows_per_s"] = r["rows"] / r["wall_s"]
    # only meaningful when the work dwarfs the start-up (whose own noise is ~0.5 s)
    work = r["wall_s"] - startup
    r["rows_per_s_after_startup"] = r["rows"] / work if work > 0.5 * r["wall_s"] else None
    busy = " (another benchmark appeared meanwhile)" if r["other_benchmark_after"] else ""
    print(f"{r['wall_s']:.1f} s, {r['rows_per_s']:,.0f} rows/s, peak "
          f"{_bench.mib(r.get('peak_rss_bytes'))} MiB{busy}", flush=True)


def print_summary(runs: list[dict[str, Any]], baseline: dict[str, Any]) -> None:
    lines = [["rows", "input", "output", "chunk", "wall s", "CPU s", "rows/s",
              "rows/s after start-up", "peak RSS MiB", "VmHWM MiB", "output MB", "load avg"]]
    for r in runs:
        if r["returncode"] != 0:
            lines.append([f"{r['rows']:,}", r["input"], r["output"], f"{r['chunk']:,}", "failed",
                          *["-"] * 7])
            continue
        lines.append([
            f"{r['rows']:,}" + (" (control)" if r.get("control") else ""), r["input"], r["output"],
            f"{r['chunk']:,}", f"{r['wall_s']:.1f}", f"{r.get('cpu_s', 0):.1f}",
            f"{r['rows_per_s']:,.0f}",
            f"{r['rows_per_s_after_startup']:,.0f}" if r["rows_per_s_after_startup"] else "-",
            _bench.mib(r.get("peak_rss_bytes")), _bench.mib(r.get("vmhwm_bytes")),
            f"{(r['output_bytes'] or 0) / 1e6:,.0f}", f"{r['loadavg_1min_after']:.1f}"])
    lines.append(["baseline: imports + load_model", "", "", "", f"{baseline['wall_s_median']:.2f}", "",
                  "", "", _bench.mib(baseline["peak_rss_bytes"]),
                  _bench.mib(baseline["vmhwm_bytes"]), "", ""])
    _bench.print_table(lines)


if __name__ == "__main__":
    sys.exit(main())
