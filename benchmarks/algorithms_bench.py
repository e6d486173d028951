"""Fit time, per-stage time and peak memory of every clustering algorithm.

Usage::

    PYTHONPATH=src python benchmarks/algorithms_bench.py --rows 100000 --rows 1000000
        [--algorithm kmeans ...] [--cap 600] [--out benchmarks/out/algorithms] [--json FILE]

What it measures and how, for every size given with ``--rows``:

1. Data (not timed): ``custseg.datasets.make_customers(n, seed=0)`` written as
   ``OUT/data/customers-n.parquet`` by a subprocess (so that the harness stays
   small: on Linux a child's ``ru_maxrss`` starts from its parent's peak); the spec is
   ``custseg.parse_spec(custseg.datasets.demo_spec_text())`` (clusters on
   ``minutes_watched`` and ``CLV``).
2. Cases: ``kmeans``, ``minibatch-kmeans``, ``ward``, ``gmm``, ``hdbscan`` on the
   spec's ``cluster_on``; ``kprototypes``, which needs a categorical clustering
   column, with ``cluster_on=["minutes_watched", "CLV", "region"]``; and, for
   comparability with it, ``kmeans`` with that same ``cluster_on``
   (``kmeans+region`` in the table).
3. Each case runs in its own fresh Python subprocess (``PYTHONPATH`` = this
   checkout's ``src``), which reads the Parquet file with pandas and times
   ``CustomerSegmenter(spec, algorithm=name, cluster_on=..., stability_runs=0)
   .fit(df)`` with ``time.perf_counter()``, and records ``k_``,
   ``timings_`` (custseg's own per-stage times: validate, preprocess, ward,
   choose_k, final_fit, stability, profiles), ``selection_sample_size_`` (rows k is
   chosen on) and ``silhouette_sample_size_``. The subprocess runs under a
   wrapper that records ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak RSS,
   interpreter, imports and the DataFrame included; the RSS after reading the
   data is recorded too, and ``VmHWM`` as a cross-check). Everything else uses the estimator's defaults
   (k from 2 to 10, ``n_init=10``, seed 0).
4. Time cap: a case still running after ``--cap`` seconds (default 600, start-up
   included) is killed (its process group) and recorded as "over 600 s". A case
   over the cap at one size is not run at larger sizes (recorded as such).
5. The consensus choice of k at 1M rows is the ``choose_k`` stage of the default
   ``kmeans`` case: the k sweep and every criterion, on a fixed-seed sample of
   ``selection_sample_size_`` rows (100,000 above 100,000). Target: under 30 s.
   The ``ward`` stage (the Ward tree the criteria compare against) is reported
   beside it.

Before each case the script waits until no other benchmark
(``benchmarks/run.py``, ``benchmarks/api_bench.py``) is running, unless
``--no-wait``; the 1-minute load average before and after each case is recorded
either way. ``hdbscan`` and ``kprototypes`` fit a fixed-seed sample of at most
20,000 rows and then assign every row by their own rule ("fit sample" in the
table; the model records it as ``fitted_on_rows``). Results go to
``OUT/results.json`` (or ``--json``) and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import _bench

ALGORITHMS = ("kmeans", "minibatch-kmeans", "ward", "gmm", "hdbscan", "kprototypes")
MIXED = ["minutes_watched", "CLV", "region"]
STAGES = ("validate", "preprocess", "ward", "choose_k", "final_fit", "stability", "profiles")
#: earlier names of the same stages in ``CustomerSegmenter.timings_``
STAGE_ALIASES = {"preprocess": "features", "final_fit": "fit", "profiles": "profile"}
CHOOSE_K_ROWS = 1_000_000
CHOOSE_K_TARGET_S = 30.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time CustomerSegmenter.fit for every algorithm.")
    p.add_argument("--rows", action="append", type=_bench.parse_rows,
                   help="customers; repeat (default 100k and 1M)")
    p.add_argument("--algorithm", action="append", choices=ALGORITHMS, dest="algorithms",
                   help="algorithms to run; repeat (default all)")
    p.add_argument("--cap", type=float, default=600.0, help="seconds before a case is killed")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/algorithms"))
    p.add_argument("--json", type=Path, default=None, help="default OUT/results.json")
    p.add_argument("--no-wait", action="store_true",
                   help="do not wait for other benchmarks to finish (the load average is "
                        "recorded either way)")
    p.add_argument("--make-data", nargs=2, metavar=("ROWS", "PATH"), help=argparse.SUPPRESS)
    p.add_argument("--child", nargs=4, metavar=("DATA", "ALGORITHM", "CLUSTER_ON", "RESULT"),
                   help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.rows = sorted(set(a.rows or [100_000, 1_000_000]))
    a.algorithms = list(dict.fromkeys(a.algorithms or ALGORITHMS))
    return a


def cases(algorithms: list[str]) -> list[tuple[str, str, list[str] | None]]:
    """(label, algorithm, cluster_on) for every case."""
    out: list[tuple[str, str, list[str] | None]] = []
    for name in algorithms:
        out.append((name, name, MIXED if name == "kprototypes" else None))
    if "kprototypes" in algorithms and "kmeans" in algorithms:
        out.append(("kmeans+region", "kmeans", MIXED))
    return out


# ------------------------------------------------------------------ the measured child
def child(data: str, algorithm: str, cluster_on: str, result_file: str) -> None:
    """Runs in the measured subprocess: read, fit, write what was learnt."""
    import resource
    import time

    import pandas as pd

    import custseg
    from custseg.datasets import demo_spec_text

    t0 = time.perf_counter()
    df = pd.read_parquet(data)
    read_s = time.perf_counter() - t0
    rss_after_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _bench.MAXRSS_UNIT
    spec = custseg.parse_spec(demo_spec_text())
    cols = None if cluster_on == "-" else cluster_on.split(",")
    t0 = time.perf_counter()
    seg = custseg.CustomerSegmenter(spec, algorithm=algorithm, cluster_on=cols,
                                    stability_runs=0).fit(df)
    fit_s = time.perf_counter() - t0
    Path(result_file).write_text(json.dumps({
        "read_s": read_s, "fit_s": fit_s, "k": int(seg.k_), "timings": dict(seg.timings_),
        "selection_sample_size": int(seg.selection_sample_size_),
        "silhouette_sample_size": int(seg.silhouette_sample_size_),
        "ward_method": seg.ward_.method, "peak_rss_after_read_bytes": rss_after_read,
        "cluster_on": list(seg.features_.columns_), "k_reason": seg.k_reason_,
        # rows the final fit itself ran on (hdbscan and kprototypes fit a fixed-seed
        # sample, then assign every row by their rule); None: every row
        "fit_sample_rows": ((seg.model_.info.get("algorithm") or {}).get("model") or {})
        .get("fitted_on_rows"),
        "noise_segment": seg.noise_segment_,
    }))


# ------------------------------------------------------------------ the harness
def make_data(n: int, path: Path) -> None:
    from custseg.datasets import make_customers

    tmp = path.with_name(path.name + ".tmp")
    make_customers(n, seed=0).to_parquet(tmp, index=False, engine="pyarrow")
    tmp.replace(path)


def write_data(n: int, data_dir: Path) -> Path:
    """The data file, generated in a subprocess (the harness stays small)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"customers-{n}.parquet"
    if not path.is_file():
        _bench.run_setup([str(Path(__file__).resolve()), "--make-data", str(n), str(path)])
    return path


def measure(data: Path, algorithm: str, cluster_on: list[str] | None, cap: float,
            result_file: Path, wait: bool = True) -> dict[str, Any]:
    result_file.unlink(missing_ok=True)
    r = _bench.run_measured("script", [str(Path(__file__).resolve()), "--child", str(data),
                                       algorithm, ",".join(cluster_on) if cluster_on else "-",
                                       str(result_file)], timeout=cap, wait=wait)
    if r["returncode"] == 0 and result_file.is_file():
        r.update(json.loads(result_file.read_text()))
        r.pop("stdout_tail")
        r.pop("stderr_tail")
    return r


def status(r: dict[str, Any], cap: float) -> str:
    if r.get("skipped"):
        return r["skipped"]
    if r["timed_out"]:
        return f"over {cap:.0f} s"
    if r["returncode"] != 0:
        return f"failed (exit {r['returncode']})"
    return f"{r['fit_s']:.1f}"


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.child:
        child(*a.child)
        return 0
    if a.make_data:
        make_data(int(a.make_data[0]), Path(a.make_data[1]))
        return 0
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = _bench.header(sys.argv if argv is None else ["algorithms_bench.py", *argv])
    result["cap_s"] = a.cap
    runs: list[dict[str, Any]] = []
    too_slow: dict[str, int] = {}
    for n in a.rows:
        if not a.no_wait:
            _bench.wait_for_quiet()
        data = write_data(n, out / "data")
        for label, algorithm, cluster_on in cases(a.algorithms):
            base = {"rows": n, "case": label, "algorithm": algorithm,
                    "cluster_on_requested": cluster_on}
            if label in too_slow:
                r = {**base, "skipped": f"not run: over {a.cap:.0f} s at {too_slow[label]:,} rows",
                     "timed_out": False, "returncode": None}
                runs.append(r)
                print(f"{n:>10,} {label:<17} {r['skipped']}", flush=True)
                continue
            print(f"{n:>10,} {label:<17} ...", end=" ", flush=True)
            r = {**base, **measure(data, algorithm, cluster_on, a.cap, out / "child.json",
                                      wait=not a.no_wait)}
            runs.append(r)
            if r["timed_out"]:
                too_slow[label] = n
                print(f"over {a.cap:.0f} s (killed)", flush=True)
            elif r["returncode"] != 0:
                print(f"FAILED: {r.get('stderr_tail', '')[-400:]}", flush=True)
            else:
                busy = " (another benchmark appeared meanwhile)" if r["other_benchmark_after"] else ""
                print(f"fit {r['fit_s']:.1f} s (wall {r['wall_s']:.1f} s, CPU "
                      f"{r.get('cpu_s') or 0:.1f} s), k = {r['k']}, peak "
                      f"{_bench.mib(r.get('peak_rss_bytes'))} MiB{busy}", flush=True)
    result["runs"] = runs

    verdict = None
    for r in runs:
        if r["case"] == "kmeans" and r["rows"] == CHOOSE_K_ROWS and r.get("timings"):
            t = r["timings"]["choose_k"]
            verdict = {"rows": CHOOSE_K_ROWS, "choose_k_s": t, "ward_s": r["timings"]["ward"],
                       "selection_sample_size": r["selection_sample_size"],
                       "silhouette_sample_size": r["silhouette_sample_size"],
                       "target_s": CHOOSE_K_TARGET_S, "met": t < CHOOSE_K_TARGET_S}
    result["choose_k_target"] = verdict

    print()
    def stage(t: dict, s: str) -> str:
        v = t.get(s, t.get(STAGE_ALIASES.get(s, s)))
        return "-" if v is None else f"{v:.2f}"

    lines = [["rows", "case", "cluster_on", "fit s", "wall s", "CPU s", *STAGES, "k", "k sample",
              "sil. sample", "fit sample", "peak RSS MiB", "VmHWM MiB", "RSS after read MiB",
              "load avg before/after"]]
    for r in runs:
        t = r.get("timings") or {}
        done = "fit_s" in r
        lines.append([
            f"{r['rows']:,}", r["case"], "+region" if r["cluster_on_requested"] else "spec",
            status(r, a.cap), f"{r['wall_s']:.1f}" if done else "-",
            f"{r['cpu_s']:.1f}" if done and r.get("cpu_s") is not None else "-",
            *[stage(t, s) for s in STAGES],
            str(r.get("k", "-")), f"{r['selection_sample_size']:,}" if done else "-",
            f"{r['silhouette_sample_size']:,}" if done else "-",
            (f"{r['fit_sample_rows']:,}" if r.get("fit_sample_rows") else "all") if done else "-",
            _bench.mib(r.get("peak_rss_bytes")) if done else "-",
            _bench.mib(r.get("vmhwm_bytes")) if done else "-",
            _bench.mib(r.get("peak_rss_after_read_bytes")) if done else "-",
            (f"{r['loadavg_1min_before']:.1f}/{r['loadavg_1min_after']:.1f}"
             if "loadavg_1min_after" in r else "-")])
    _bench.print_table(lines)
    if verdict:
        print(f"\nconsensus choice of k at {CHOOSE_K_ROWS:,} rows (kmeans, choose_k stage): "
              f"{verdict['choose_k_s']:.1f} s on a sample of {verdict['selection_sample_size']:,} "
              f"rows (silhouette on {verdict['silhouette_sample_size']:,}); Ward tree "
              f"{verdict['ward_s']:.1f} s; target < {CHOOSE_K_TARGET_S:.0f} s -> "
              f"{'met' if verdict['met'] else 'MISSED'}")
    _bench.finish(result, a.json or out / "results.json")
    return 0 if all(r["returncode"] in (0, None) or r["timed_out"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
