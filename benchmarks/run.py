"""Benchmark of ``custseg run`` (issue #5): end to end, per stage, peak memory,
against the naive notebook pipeline, and against the machine's limits.

Usage::

    python benchmarks/run.py [--rows 100000 --rows 1000000 --rows 10000000]
                             [--format csv --format parquet] [--repeat 1]
                             [--naive | --no-naive] [--naive-rows 50000] [--naive-k K]
                             [--naive-force] [--limits] [--limits-rows N] [--limits-k K]
                             [--out benchmarks/out] [--json FILE] [--no-wait] [--check]
                             [--baseline OTHER/src]

Defaults: 100k, 1M and 10M rows, CSV and Parquet, one repetition; the naive
pipeline at every ``--rows`` size up to 50,000 (so not by default); no limits.

What it measures, for every size given with ``--rows`` and every ``--format``:

1. **Data** (not part of any timing, but the generation time is recorded):
   ``custseg.datasets.make_customers(n, seed=0)`` written by a subprocess as
   ``OUT/data/customers-N.csv`` (pandas) and/or ``.parquet`` (pyarrow); files
   made by the same generator code are reused. The data dictionary is the demo
   one (``custseg.datasets.demo_spec_text()``), ``OUT/data/spec.toml``.
2. **End to end** (custseg's modules compiled to bytecode first, as an install
   does; see ``_bench.compile_bytecode``): ``custseg run DATA --spec SPEC --out
   OUT/runs/FORMAT-N --quiet --overwrite`` in a fresh Python subprocess, with
   ``time.perf_counter()`` around it, so interpreter start-up, imports, reading,
   the pipeline, writing and the report are all in it. The subprocess is the wrapper of ``_bench.py``, which
   runs ``custseg._entry.main()`` in-process, as the console script does.
3. **Peak memory**: ``VmHWM`` of that process (its own resident high-water
   mark, Linux), with ``ru_maxrss`` beside it in the JSON. ``ru_maxrss`` is not
   used for the table because on Linux a child's starts from its parent's peak.
   Beside it, the peak of all the run's processes (itself and its joblib worker
   processes): the sum of their proportional set sizes, sampled
   every 0.2 s (``_bench.TreeMemory``). The memory target is checked against
   the larger of the two. CPU time is shown for the process and, separately, for
   its child processes.
4. **Per stage**: every key of the run's ``manifest.json`` ``timings``, in the
   manifest's order, as custseg measures them; whatever stages the installed
   custseg records are shown. Beside them:

   * *startup*: from just before the subprocess is spawned to the moment the
     wrapper calls ``custseg._entry.main()`` (interpreter start-up; the import
     of ``custseg.cli`` is inside ``main()``, so it counts in *other*), wall
     clock; beside it, for reference, a separate ``python -c "import
     custseg.cli, custseg.io, custseg.pipeline, custseg.rundir, custseg.spec"``
     (start-up and every import ``custseg run`` waits for), median of 3;
   * *exit*: from ``main()``'s return to the end of the process;
   * times the wrapper takes inside the run by wrapping ``custseg.io.read_table``,
     ``custseg.io.file_sha256``, ``custseg.rundir.write_run`` and (within it)
     ``custseg.report.files.write_report``, shown only while the manifest has no stage
     of its own for them (``read``, which also covers the checksum; ``write`` or
     ``report``), so that nothing is counted twice;
   * *other*: end to end minus all of the above (CLI glue, imports done lazily
     inside ``main()``, the summary print); a difference, so it carries the
     others' noise.
5. From the manifest: k, the selection and silhouette sample sizes, the Ward
   method.

**Naive pipeline** (``--naive``, on by default at sizes up to 50,000; or at
``--naive-rows N``, which needs no ``--rows N``), once per size, on the CSV:

* first ``custseg run DATA.csv --spec SPEC --cluster-on all --transform none
  [--k K]``: the same preprocessing as the notebook (empty minutes -> 0, one-hot
  region and channel, every column standardised; 13 features), measured as
  above;
* then ``benchmarks/naive.py`` (see its docstring: read_csv, fillna(0),
  get_dummies, StandardScaler, exact scipy Ward linkage, KMeans n_init=10 for
  k = 1..10, exact silhouette for k = 2..10, final KMeans) in the same wrapper,
  with the final k = ``--naive-k`` or, without it, the k custseg chose. It is
  skipped (and the harness records why; custseg's side is kept) when its exact
  Ward would not fit in the memory available now (about 8 n^2 bytes: 20 GB at
  50,000 rows), unless ``--naive-force``;
* the final inertia of both, computed here the same way from the labels each
  wrote (naive: ``.npy``; custseg: ``segments.parquet``): the sum of squared
  distances of every row to its cluster's mean, in the naive pipeline's
  standardised matrix rebuilt from the CSV. Beside it the adjusted Rand index
  between the two labelings and, as cross-checks, the inertias each reported;
* the speed ratio: naive end to end / custseg end to end (both with start-up).

**Limits** (``--limits``): ``benchmarks/limits.py`` in the same wrapper at
``--limits-rows`` (default 1M and 10M) and ``--limits-k`` (default 4 and 8):
memory bandwidth, GEMM speed, one Lloyd iteration of scikit-learn's KMeans on
custseg's 13-feature float32 matrix, and the fractions bytes / bandwidth and
flops / GEMM speed over the measured time (see its docstring).

Before each measured command the harness waits until no other benchmark
(``benchmarks/run.py``, ``benchmarks/api_bench.py``) runs (``--no-wait`` skips
this). Everything goes to ``OUT/results.json`` (or ``--json``): every
repetition, the machine, versions, the custseg sources' digest and git state;
the tables are printed as markdown and saved as ``results.md`` beside it.

``--baseline SRC`` times another version of custseg (its ``src`` folder: a git
worktree of an earlier commit, say) in the same harness run: every repetition runs
it and then this checkout, on the same files, and a table puts their median end
to end and peak memory side by side with the ratio (the machine is noisy: ratios
are only meaningful within one run). Targets are checked on this checkout only.

``--check`` exits with status 1 unless every run at a row count with a target
(``TARGETS``) meets it: at 1,000,000 rows end to end in at most 8 s (issue #5)
and under 60 s with peak memory under 4 GB (issue #2); at 10,000,000 rows in at
most 30 s with peak memory under 3 GB (issue #5); end to end is the median of the
repetitions, peak memory the largest of the run's own ``VmHWM`` and the sampled
peak of all its processes. At every naive size of 50,000 rows or more custseg
must be at least 30 times faster with a final inertia no higher (a naive side
that was skipped counts as missed). A failed run exits with 1 too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _bench

TARGETS = (  # (issue, rows, end to end: "<" or "<=" seconds, peak memory below (bytes) or None)
    ("#2", 1_000_000, ("<", 60.0), 4_000_000_000),
    ("#5", 1_000_000, ("<=", 8.0), None),
    ("#5", 10_000_000, ("<=", 30.0), 3_000_000_000),
)
TARGET_ROWS = sorted({rows for _, rows, _, _ in TARGETS})
NAIVE_MAX_DEFAULT = 50_000
NAIVE_TARGET_RATIO = 30.0
NAIVE_TARGET_ROWS = 50_000
STARTUP_IMPORTS = "import custseg.cli, custseg.io, custseg.pipeline, custseg.rundir, custseg.spec"
# Functions the wrapper times inside the run: "module:function" -> key.
IN_RUN = {"custseg.io:read_table": "read_table", "custseg.io:file_sha256": "sha256",
          "custseg.rundir:write_run": "write_run", "custseg.report.files:write_report": "report"}
HERE = Path(__file__).resolve().parent
NAIVE_STEPS = ("read_csv", "fillna", "get_dummies", "standard_scaler", "ward_linkage",
               "kmeans_elbow", "silhouette", "final_fit")


# ------------------------------------------------------------------ arguments
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time `custseg run` end to end and per stage, measure its peak memory, "
                    "compare it with the naive notebook pipeline and the machine's limits.")
    p.add_argument("--rows", action="append", type=_bench.parse_rows, metavar="N",
                   help="rows to generate; repeat (default 100k, 1M and 10M)")
    p.add_argument("--format", action="append", choices=("csv", "parquet"), dest="formats",
                   help="input format; repeat (default csv and parquet)")
    p.add_argument("--out", type=Path, default=HERE / "out",
                   help="data, runs and results (default benchmarks/out, git-ignored)")
    p.add_argument("--repeat", type=int, default=1, help="measurements per size and format")
    p.add_argument("--json", type=Path, default=None, help="result file (default OUT/results.json)")
    p.add_argument("--naive", action=argparse.BooleanOptionalAction, default=None,
                   help=f"run the naive notebook pipeline (default: at --rows sizes up to "
                        f"{NAIVE_MAX_DEFAULT:,}; --naive alone with no such size: at "
                        f"{NAIVE_MAX_DEFAULT:,})")
    p.add_argument("--naive-rows", action="append", type=_bench.parse_rows, metavar="N",
                   default=[], help="also compare with the naive pipeline at N rows; repeat")
    p.add_argument("--naive-k", type=int, default=None,
                   help="k of both final fits (default: the k custseg chooses)")
    p.add_argument("--naive-force", action="store_true",
                   help="run the naive pipeline even if its Ward step looks too big for the "
                        "memory available")
    p.add_argument("--limits", action="store_true",
                   help="measure bandwidth, GEMM speed and one Lloyd iteration (limits.py)")
    p.add_argument("--limits-rows", action="append", type=_bench.parse_rows, metavar="N",
                   help="rows of the Lloyd iteration; repeat (default 1M and 10M)")
    p.add_argument("--limits-k", action="append", type=int, metavar="K",
                   help="k of the Lloyd iteration; repeat (default 4 and 8)")
    p.add_argument("--baseline", type=Path, default=None, metavar="SRC",
                   help="also time another version of custseg (a src folder holding the custseg "
                        "package, e.g. a git worktree of an earlier commit) in the same run: each "
                        "repetition runs it and then this checkout, and the tables show both side "
                        "by side with the ratio; targets are checked on this checkout only")
    p.add_argument("--no-wait", dest="wait", action="store_false",
                   help="do not wait for other benchmarks to finish before each measurement")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless every run at a row count with a target meets it "
                        "(1M: <= 8 s, < 60 s and < 4 GB; 10M: <= 30 s and < 3 GB) and "
                        f"custseg is >= {NAIVE_TARGET_RATIO:.0f}x faster than the naive "
                        "pipeline with no higher inertia where that ran")
    a = p.parse_args(argv)
    a.rows = sorted(set(a.rows or [100_000, 1_000_000, 10_000_000]))
    a.formats = list(dict.fromkeys(a.formats or ["csv", "parquet"]))
    if a.repeat < 1:
        p.error("--repeat must be at least 1")
    if a.naive_k is not None and a.naive_k < 2:
        p.error("--naive-k must be at least 2")
    naive = set(a.naive_rows)
    if a.naive is not False:
        naive |= {n for n in a.rows if n <= NAIVE_MAX_DEFAULT}
        if a.naive and not naive:
            naive = {NAIVE_MAX_DEFAULT}
    a.naive_rows = sorted(naive)
    a.limits_rows = sorted(set(a.limits_rows or [1_000_000, 10_000_000]))
    a.limits_k = sorted(set(a.limits_k or [4, 8]))
    if a.baseline is not None:
        a.baseline = a.baseline.resolve()
        if not (a.baseline / "custseg" / "__init__.py").is_file():
            p.error(f"--baseline {a.baseline}: no custseg package there (give its src folder)")
    if (a.check and not set(TARGET_ROWS) & set(a.rows)
            and max(a.naive_rows, default=0) < NAIVE_TARGET_ROWS):
        sizes = " or ".join(f"--rows {r}" for r in TARGET_ROWS)
        p.error(f"--check needs {sizes} or --naive-rows {NAIVE_TARGET_ROWS} (the targets are "
                f"for those row counts and, against the naive pipeline, {NAIVE_TARGET_ROWS:,})")
    return a


# ------------------------------------------------------------------ custseg run
def time_startup() -> float:
    """Seconds for a fresh interpreter to import what ``custseg run`` needs before reading."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", STARTUP_IMPORTS], check=True, env=_bench.env())
    return time.perf_counter() - t0


def in_run_shown(timings: dict[str, float]) -> list[str]:
    """The wrapper's in-run times to show: those the manifest has no stage for."""
    keys = set(timings)
    shown = []
    if "read" not in keys:  # custseg's own "read" also covers the checksum (hashed alongside)
        shown += ["read_table", "sha256"]
    if not keys & {"write", "report"}:
        shown += ["write_run", "report"]  # report is part of write_run
    return shown


def run_custseg(data: Path, spec: Path, run_dir: Path, extra: list[str], *, wait: bool,
                startup: float, src: Path | None = None) -> dict[str, Any]:
    """``custseg run`` once in the wrapper: wall time, peak memory, manifest timings.

    ``src``: another version's sources to run instead of this checkout's.
    """
    args = ["run", str(data), "--spec", str(spec), *extra, "--out", str(run_dir), "--quiet",
            "--overwrite"]
    r = _bench.run_measured("cli", args, wait=wait, timed=IN_RUN,
                            extra_env=None if src is None else {"PYTHONPATH": str(src)})
    rec: dict[str, Any] = {
        "command": ["custseg", *args], "end_to_end": r["wall_s"], "returncode": r["returncode"],
        "peak_bytes": r.get("vmhwm_bytes"), "ru_maxrss_bytes": r.get("peak_rss_bytes"),
        "cpu_seconds": r.get("cpu_s"), "children_cpu_seconds": r.get("children_cpu_s"),
        "tree_peak_bytes": r.get("tree_peak_pss_bytes"),
        "loadavg_1min_before": r["loadavg_1min_before"],
        "loadavg_1min_after": r["loadavg_1min_after"], "speed_probe_s": r.get("speed_probe_s"),
        "other_benchmark_after": r["other_benchmark_after"], "in_run": r.get("in_run", {}),
        "startup_separate": startup, "startup": r.get("startup_in_run_s"),
        "exit": r.get("exit_in_run_s"), "file_bytes": data.stat().st_size,
    }
    if r["returncode"] != 0:
        rec["stderr"] = r["stderr_tail"][-2000:]
        return rec
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    timings = {k: v for k, v in manifest.get("timings", {}).items()
               if isinstance(v, int | float)}
    rec["timings"] = timings
    for key in ("k", "selection_sample_size", "silhouette_sample_size", "rows_segmented",
                "ward_method", "features"):
        rec[key] = manifest.get(key)
    shown = in_run_shown(timings)
    rec["in_run_shown"] = shown
    summed = [rec["in_run"].get(x, 0.0) for x in shown if x != "report"]
    if rec["startup"] is None:  # the wrapper could not tell: use the separate measurement
        rec["startup"] = startup
    rec["other"] = (rec["end_to_end"] - rec["startup"] - (rec["exit"] or 0.0)
                    - sum(timings.values()) - sum(summed))
    rec["report_written"] = (run_dir / "report.html").is_file()
    return rec


# ------------------------------------------------------------------ naive comparison
def naive_matrix(csv: Path):
    """The naive pipeline's standardised matrix, rebuilt from the CSV (float64)."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(csv)
    df["minutes_watched"] = df["minutes_watched"].fillna(0)
    X = pd.get_dummies(df, columns=["region", "channel"]).to_numpy(dtype=np.float64)
    X -= X.mean(axis=0)
    X /= X.std(axis=0)  # ddof = 0, as StandardScaler
    return X


def inertia(X, labels) -> float:
    """Sum of squared distances of the rows to the mean of their label."""
    import numpy as np

    labels = np.asarray(labels)
    _, inv = np.unique(labels, return_inverse=True)
    counts = np.bincount(inv).astype(float)
    means = np.stack([np.bincount(inv, weights=X[:, j]) for j in range(X.shape[1])], 1)
    means /= counts[:, None]
    diff = X - means[inv]
    return float(np.einsum("ij,ij->", diff, diff))


def custseg_labels(run_dir: Path, n: int):
    """Segment of every row of the input, in file order, from segments.parquet."""
    import numpy as np
    import pandas as pd

    seg = pd.read_parquet(run_dir / "segments.parquet")
    if "row" in seg.columns:
        out = np.full(n, -1, dtype=np.int64)
        out[seg["row"].to_numpy() - 1] = seg["segment"].to_numpy()
        return out
    return seg["segment"].to_numpy()


def compare_naive(n: int, csv: Path, spec: Path, out: Path, a: argparse.Namespace,
                  startup: float) -> dict[str, Any]:
    """custseg with the notebook's preprocessing against the naive pipeline, at n rows."""
    from naive import OVERHEAD, ward_bytes

    rec: dict[str, Any] = {"rows": n, "k_given": a.naive_k}
    extra = ["--cluster-on", "all", "--transform", "none"]
    if a.naive_k is not None:
        extra += ["--k", str(a.naive_k)]
    run_dir = out / "runs" / f"naive-{n}-custseg"
    print(f"{n:>12,} rows csv     custseg --cluster-on all --transform none ...", end=" ",
          flush=True)
    cs = run_custseg(csv, spec, run_dir, extra, wait=a.wait, startup=startup)
    rec["custseg"] = cs
    if cs["returncode"] != 0:
        rec["failed"] = f"custseg run: {cs.get('stderr', '')[-500:]}"
        print(f"FAILED: {cs.get('stderr', '')[-300:]}", flush=True)
        return rec
    print(f"{cs['end_to_end']:.1f} s, k = {cs['k']}", flush=True)
    k = a.naive_k or cs["k"]
    rec["k"] = k
    need, avail = ward_bytes(n) + OVERHEAD, _bench.mem_available_bytes()
    rec["naive_estimated_peak_bytes"], rec["mem_available_bytes"] = need, avail
    if not a.naive_force and avail is not None and need > avail:
        rec["skipped"] = (f"the naive pipeline needs about {need / 1e9:.1f} GB at {n:,} rows "
                          f"(exact Ward) and {avail / 1e9:.1f} GB is available now; rerun "
                          "when the machine is free, or with --naive-force")
        print(f"{n:>12,} rows csv     naive skipped: {rec['skipped']}", flush=True)
        return rec
    ndir = out / "naive"
    ndir.mkdir(parents=True, exist_ok=True)
    njson, nlabels = ndir / f"naive-{n}.json", ndir / f"naive-{n}-labels.npy"
    njson.unlink(missing_ok=True)
    nlabels.unlink(missing_ok=True)
    args = [str(HERE / "naive.py"), str(csv), "--k", str(k), "--json", str(njson),
            "--labels", str(nlabels)] + (["--force"] if a.naive_force else [])
    print(f"{n:>12,} rows csv     naive notebook pipeline, k = {k} ...", end=" ", flush=True)
    r = _bench.run_measured("script", args, wait=a.wait)
    nv: dict[str, Any] = {"command": ["python", *args], "end_to_end": r["wall_s"],
                          "returncode": r["returncode"], "peak_bytes": r.get("vmhwm_bytes"),
                          "ru_maxrss_bytes": r.get("peak_rss_bytes"),
                          "cpu_seconds": r.get("cpu_s"),
                          "loadavg_1min_before": r["loadavg_1min_before"],
                          "loadavg_1min_after": r["loadavg_1min_after"]}
    if njson.is_file():
        nv.update(json.loads(njson.read_text()))
    rec["naive"] = nv
    if r["returncode"] != 0:
        rec["skipped" if "skipped" in nv else "failed"] = nv.get("skipped", r["stderr_tail"][-500:])
        print(f"not done: {rec.get('skipped') or rec.get('failed')}", flush=True)
        return rec
    print(f"{nv['end_to_end']:.1f} s, peak {_bench.mib(nv['peak_bytes'])} MiB", flush=True)

    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    X = naive_matrix(csv)
    lab_naive = np.load(nlabels)
    lab_custseg = custseg_labels(run_dir, X.shape[0])
    rec["inertia_naive"] = inertia(X, lab_naive)
    rec["inertia_custseg"] = inertia(X, lab_custseg)
    rec["inertia_ratio"] = rec["inertia_custseg"] / rec["inertia_naive"]
    rec["adjusted_rand"] = float(adjusted_rand_score(lab_naive, lab_custseg))
    rec["custseg_unassigned_rows"] = int((lab_custseg < 0).sum())
    try:  # what custseg itself reported, as a cross-check
        model = json.loads((run_dir / "model.json").read_text())
        rec["inertia_custseg_reported"] = model["info"]["training"]["inertia"]
    except (OSError, KeyError, ValueError):
        pass
    rec["inertia_naive_reported"] = nv.get("final_inertia_sklearn")
    rec["speed_ratio"] = nv["end_to_end"] / cs["end_to_end"]
    rec["same_k"] = cs["k"] == k
    return rec


# ------------------------------------------------------------------ limits
def run_limits(a: argparse.Namespace, out: Path) -> dict[str, Any]:
    path = out / "limits.json"
    path.unlink(missing_ok=True)
    args = [str(HERE / "limits.py"), "--json", str(path)]
    for n in a.limits_rows:
        args += ["--rows", str(n)]
    for k in a.limits_k:
        args += ["--k", str(k)]
    print(f"limits (bandwidth, GEMM, Lloyd at {', '.join(f'{n:,}' for n in a.limits_rows)} "
          "rows) ...", end=" ", flush=True)
    r = _bench.run_measured("script", args, wait=a.wait)
    rec: dict[str, Any] = {"returncode": r["returncode"], "wall_s": r["wall_s"],
                           "peak_bytes": r.get("vmhwm_bytes"),
                           "loadavg_1min_before": r["loadavg_1min_before"],
                           "loadavg_1min_after": r["loadavg_1min_after"]}
    if r["returncode"] != 0 or not path.is_file():
        rec["stderr"] = r["stderr_tail"][-2000:]
        print("FAILED", flush=True)
        return rec
    print(f"{r['wall_s']:.0f} s", flush=True)
    rec.update(json.loads(path.read_text()))
    return rec


# ------------------------------------------------------------------ tables
def _med(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of every measured quantity over the repetitions of one case."""
    ok = [r for r in records if r["returncode"] == 0]
    s: dict[str, Any] = {"rows": records[0]["rows"], "format": records[0]["format"],
                         "version": records[0].get("version", "current"),
                         "repeats": len(records), "failed": len(records) - len(ok)}
    if not ok:
        return s
    for key in ("end_to_end", "cpu_seconds", "children_cpu_seconds", "peak_bytes",
                "tree_peak_bytes", "loadavg_1min_before", "startup",
                "startup_separate", "exit", "other", "speed_probe_s"):
        s[key] = _med([r.get(key) for r in ok])
    stages = list(dict.fromkeys(k for r in ok for k in r["timings"]))
    s["timings"] = {k: _med([r["timings"].get(k) for r in ok]) for k in stages}
    shown = list(dict.fromkeys(k for r in ok for k in r["in_run_shown"]))
    s["in_run"] = {k: _med([r["in_run"].get(k) for r in ok]) for k in shown}
    for key in ("k", "selection_sample_size", "silhouette_sample_size", "ward_method",
                "report_written", "file_bytes"):
        s[key] = ok[-1].get(key)
    return s


def _cell(stats: dict[str, float] | None, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    if stats is None:
        return "-"
    med, lo, hi = (stats[x] / scale for x in ("median", "min", "max"))
    text = fmt.format(med)
    return text + (f" ({fmt.format(lo)}-{fmt.format(hi)})" if hi > lo else "")


STAGE_LABELS = {"read_table": "read (`read_table`, in run)",
                "sha256": "input sha256 (in run)", "write_run": "write (`write_run`, in run)",
                "report": "&nbsp;&nbsp;of which the report (in run)"}


def run_table(summaries: list[dict[str, Any]], gen: dict[int, dict[str, Any]]) -> str:
    heads = [f"{s['rows']:,} {s['format']}" + (" (baseline)" if s["version"] == "baseline" else "")
             for s in summaries]
    lines = [["seconds: median (min-max)", *heads]]

    def row(label, fn):
        lines.append([label, *(fn(s) for s in summaries)])

    row("**end to end** (with interpreter start-up)", lambda s: _cell(s.get("end_to_end")))
    row("CPU time, user + sys", lambda s: _cell(s.get("cpu_seconds")))
    row("CPU time of its child processes (joblib's workers, once reaped)",
        lambda s: _cell(s.get("children_cpu_seconds")))
    row("**peak memory** (VmHWM, MiB)",
        lambda s: _cell(s.get("peak_bytes"), "{:,.0f}", 2**20))
    row("**peak memory, all its processes** (sum of PSS, sampled every 0.2 s; MiB)",
        lambda s: _cell(s.get("tree_peak_bytes"), "{:,.0f}", 2**20))
    row("interpreter start-up (in run)", lambda s: _cell(s.get("startup")))
    row("start-up and `custseg run`'s imports, separate process (median of 3)",
        lambda s: _cell(s.get("startup_separate")))
    stages = list(dict.fromkeys(k for s in summaries for k in s.get("timings", {})))
    for st in stages:
        row(f"stage `{st}`", lambda s, st=st: _cell(s.get("timings", {}).get(st)))
    extra = list(dict.fromkeys(k for s in summaries for k in s.get("in_run", {})))
    for key in extra:
        row(STAGE_LABELS.get(key, key), lambda s, key=key: _cell(s.get("in_run", {}).get(key)))
    row("exit (after `main()` returned)", lambda s: _cell(s.get("exit")))
    row("other (remainder: CLI glue, lazy imports, summary)", lambda s: _cell(s.get("other")))
    row("load average (1 min) before", lambda s: _cell(s.get("loadavg_1min_before")))
    row("speed probe before (s; the same work, lower = faster CPU)",
        lambda s: _cell(s.get("speed_probe_s")))
    row("k", lambda s: str(s.get("k", "-")))
    row("selection / silhouette sample",
        lambda s: f"{s.get('selection_sample_size') or 0:,} / "
                  f"{s.get('silhouette_sample_size') or 0:,}")
    row("Ward", lambda s: str(s.get("ward_method", "-")))
    row("input file (MB)", lambda s: f"{(s.get('file_bytes') or 0) / 1e6:,.1f}")
    row("`make_customers` (s, not in the run)",
        lambda s: (f"{gen[s['rows']]['make_customers_s']:.1f}"
                   if "make_customers_s" in gen.get(s["rows"], {}) else "reused"))
    row("runs (failed)", lambda s: f"{s['repeats']} ({s['failed']})")
    return _bench.markdown_table(lines)


def baseline_table(summaries: list[dict[str, Any]]) -> str:
    """This checkout against the baseline: median end to end and peak memory, and their ratio."""
    lines = [["rows, format", "baseline (s)", "this checkout (s)", "ratio", "baseline peak (MiB)",
              "this checkout's peak (MiB)"]]
    by = {(s["rows"], s["format"], s["version"]): s for s in summaries}
    for (rows, fmt, version), cur in by.items():
        base = by.get((rows, fmt, "baseline"))
        if version != "current" or base is None:
            continue
        b, c = (base.get("end_to_end") or {}).get("median"), (cur.get("end_to_end") or {}).get("median")

        def peak(s):
            values = [(s.get(k) or {}).get("max") for k in ("peak_bytes", "tree_peak_bytes")]
            values = [v for v in values if v is not None]
            return f"{max(values) / 2**20:,.0f}" if values else "-"

        lines.append([f"{rows:,} {fmt}", f"{b:.2f}" if b else "-", f"{c:.2f}" if c else "-",
                      f"{c / b:.3f}" if b and c else "-", peak(base), peak(cur)])
    return _bench.markdown_table(lines)


def naive_table(cmps: list[dict[str, Any]]) -> str:
    heads = [f"{c['rows']:,} rows" for c in cmps]
    lines = [["seconds unless stated", *heads]]

    def row(label, fn):
        lines.append([label, *(fn(c) for c in cmps)])

    row("naive: imports", lambda c: _num(c.get("naive", {}).get("imports_s")))
    for step in NAIVE_STEPS:
        row(f"naive: {step}", lambda c, step=step: _step(c, step))
    row("**naive: end to end**", lambda c: _num(c.get("naive", {}).get("end_to_end"), bold=True))
    row("naive: peak memory (VmHWM, MiB)",
        lambda c: _bench.mib(c.get("naive", {}).get("peak_bytes")))
    row("**custseg: end to end** (`--cluster-on all --transform none`)",
        lambda c: _num(c.get("custseg", {}).get("end_to_end"), bold=True))
    row("custseg: peak memory (VmHWM, MiB)",
        lambda c: _bench.mib(c.get("custseg", {}).get("peak_bytes")))
    row("**speed ratio** naive / custseg",
        lambda c: f"**{c['speed_ratio']:.1f}x**" if "speed_ratio" in c else "-")
    row("k (both final fits)", lambda c: str(c.get("k", "-")))
    row("final inertia, naive", lambda c: _num(c.get("inertia_naive"), "{:,.1f}"))
    row("final inertia, custseg", lambda c: _num(c.get("inertia_custseg"), "{:,.1f}"))
    row("custseg / naive inertia - 1",
        lambda c: f"{c['inertia_ratio'] - 1:+.2e}" if "inertia_ratio" in c else "-")
    row("adjusted Rand index, naive vs custseg labels",
        lambda c: _num(c.get("adjusted_rand"), "{:.4f}"))
    row("status", lambda c: ("skipped" if "skipped" in c else "failed" if "failed" in c
                             else "done"))
    return _bench.markdown_table(lines)


def _num(x, fmt: str = "{:.2f}", bold: bool = False) -> str:
    if x is None:
        return "-"
    text = fmt.format(x)
    return f"**{text}**" if bold else text


def _step(c: dict[str, Any], key: str) -> str:
    return _num(c.get("naive", {}).get("steps", {}).get(key))


# ------------------------------------------------------------------ verdicts
def verdicts(summaries: list[dict[str, Any]], cmps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per (run summary, target at its row count) and per naive comparison."""
    out = []
    for s in summaries:
        if s.get("version", "current") != "current":
            continue
        e2e = (s.get("end_to_end") or {}).get("median")
        # the larger of the main process's exact peak and the sampled peak of all
        # its processes (joblib's worker processes included)
        peaks = [(s.get(key) or {}).get("max") for key in ("peak_bytes", "tree_peak_bytes")]
        peak = max((p for p in peaks if p is not None), default=None)
        for issue, rows, (op, seconds), limit in TARGETS:
            if s["rows"] != rows:
                continue
            what = f"{issue}: {rows:,} rows {s['format']}: end to end {op} {seconds:g} s"
            ok = (s["failed"] == 0 and e2e is not None
                  and (e2e < seconds if op == "<" else e2e <= seconds))
            if limit is not None:
                what += f", peak < {limit / 1e9:g} GB"
                ok = ok and peak is not None and peak < limit
            out.append({"what": what, "ok": ok,
                        "value": f"{e2e or float('nan'):.2f} s, {(peak or 0) / 1e9:.2f} GB"})
    for c in cmps:
        if c["rows"] < NAIVE_TARGET_ROWS:
            continue
        if "speed_ratio" not in c:  # asked for but not measured: not met
            out.append({"what": f"{c['rows']:,} rows: >= {NAIVE_TARGET_RATIO:.0f}x faster than "
                                "the naive pipeline", "ok": False,
                        "value": f"not measured ({c.get('skipped') or c.get('failed')})"})
            continue
        out.append({"what": f"{c['rows']:,} rows: >= {NAIVE_TARGET_RATIO:.0f}x faster than the "
                            "naive pipeline, final inertia no higher",
                    "value": f"{c['speed_ratio']:.1f}x, inertia ratio {c['inertia_ratio']:.6f}",
                    "ok": c["speed_ratio"] >= NAIVE_TARGET_RATIO
                    and c["inertia_ratio"] <= 1 + 1e-9})
    return out


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    out = a.out.resolve()
    data_dir, runs_dir = out / "data", out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    from custseg.datasets import demo_spec_text

    spec = data_dir / "spec.toml"
    spec.write_text(demo_spec_text(), encoding="utf-8")
    result = _bench.header(sys.argv if argv is None else ["run.py", *argv])
    startup = statistics.median(time_startup() for _ in range(3))
    print(f"startup + imports of `custseg run`: {startup:.2f} s (median of 3)", flush=True)

    records: list[dict[str, Any]] = []
    gen: dict[int, dict[str, Any]] = {}
    paths: dict[int, dict[str, Path]] = {}
    for n in sorted(set(a.rows) | set(a.naive_rows)):
        fmts = list(a.formats) if n in a.rows else []
        if n in a.naive_rows and "csv" not in fmts:
            fmts.append("csv")
        paths[n], gen[n] = _bench.make_data(n, fmts, data_dir)
        if "make_customers_s" in gen[n]:
            print(f"{n:>12,} rows: make_customers {gen[n]['make_customers_s']:.1f} s, "
                  + ", ".join(f"{k[6:-2]} {v:.1f} s" for k, v in gen[n].items()
                              if k.startswith("write_")), flush=True)
        if n not in a.rows:
            continue
        versions = [("baseline", a.baseline)] if a.baseline is not None else []
        versions.append(("current", None))
        for fmt in a.formats:
            for i in range(a.repeat):
                for version, src in versions:
                    label = " baseline" if version == "baseline" else ""
                    print(f"{n:>12,} rows {fmt:<7} run {i + 1}/{a.repeat}{label} ...", end=" ",
                          flush=True)
                    r = run_custseg(paths[n][fmt], spec, runs_dir / f"{fmt}-{n}-{version}", [],
                                    wait=a.wait, startup=startup, src=src)
                    r.update(rows=n, format=fmt, repeat=i, version=version)
                    records.append(r)
                    if r["returncode"] == 0:
                        print(f"{r['end_to_end']:.1f} s, peak {_bench.mib(r['peak_bytes'])} MiB, "
                              f"k = {r['k']}", flush=True)
                    else:
                        print(f"FAILED (exit {r['returncode']}): {r.get('stderr', '')[-500:]}",
                              flush=True)
    cmps = [compare_naive(n, paths[n]["csv"], spec, out, a, startup) for n in a.naive_rows]
    limits = run_limits(a, out) if a.limits else None

    cases = list(dict.fromkeys((r["rows"], r["format"], r["version"]) for r in records))
    summaries = [summarise([r for r in records if (r["rows"], r["format"], r["version"]) == c])
                 for c in cases]
    command = " ".join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    md = [f"Command: `{command}`", ""]
    if summaries:
        md += ["### `custseg run`, end to end and per stage", "", run_table(summaries, gen), ""]
    if a.baseline is not None:
        md += [f"Baseline: `{a.baseline}`, run just before this checkout in every repetition.", "",
               baseline_table(summaries), ""]
    if cmps:
        md += ["### Against the naive notebook pipeline", "", naive_table(cmps), ""]
    if limits and limits.get("returncode") == 0:
        import limits as limits_mod

        md += ["### One Lloyd iteration against the machine's limits", "",
               limits_mod.markdown(limits), "",
               "Fractions: lower bound / per-iteration time (in brackets: / the whole "
               "`max_iter=1` fit).", ""]
    checks = verdicts(summaries, cmps)
    if checks:
        md += ["| target | measured | met? |", "|---|---|---|"]
        md += [f"| {v['what']} | {v['value']} | {'yes' if v['ok'] else '**no**'} |"
               for v in checks]
    text = "\n".join(md)
    print("\n" + text)

    result.update({"startup_s": startup, "data": {str(n): g for n, g in gen.items()},
                   "targets": {"runs": [{"issue": i, "rows": r, "end_to_end": f"{op} {t:g} s",
                                         "peak_bytes": b} for i, r, (op, t), b in TARGETS],
                               "naive_ratio": NAIVE_TARGET_RATIO,
                               "naive_rows": NAIVE_TARGET_ROWS},
                   "verdicts": checks, "summary": summaries, "runs": records,
                   "naive": cmps, "limits": limits, "markdown": text})
    json_path = a.json or out / "results.json"
    _bench.finish(result, json_path)
    json_path.with_suffix(".md").write_text(text + "\n", encoding="utf-8")

    failed = (any(r["returncode"] != 0 for r in records)
              or any("failed" in c for c in cmps)
              or (limits is not None and limits.get("returncode") != 0))
    if failed:
        print("some runs failed", file=sys.stderr)
        return 1
    if a.check and not all(v["ok"] for v in checks):
        print("targets missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
