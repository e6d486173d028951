"""End-to-end benchmark of ``custseg run`` on synthetic 365-style customer tables.

Usage::

    python benchmarks/run.py --rows 100000 --rows 1000000 [--format csv|parquet ...]
                             [--out benchmarks/out] [--repeat 1] [--check]

What it measures, for every size given with ``--rows`` and every ``--format``
(default: csv):

1. The data: ``custseg.datasets.make_customers(n, seed=0)`` written under the
   output directory (``OUT/data/customers-N.csv`` with pandas, or ``.parquet``
   with pyarrow), and the demo data dictionary
   (``custseg.datasets.demo_spec_text()``) as ``OUT/data/spec.toml``. Neither is
   timed.
2. End to end: ``custseg run DATA --spec SPEC --out OUT/runs/FORMAT-N --quiet
   --overwrite`` in a fresh Python subprocess; the wall time is
   ``time.perf_counter()`` around ``subprocess.run``, so it includes interpreter
   start-up, imports, reading, the pipeline, writing the run directory and the
   report.
3. Peak memory: the subprocess is a tiny wrapper (``python -c``) that runs
   ``custseg.cli.main()`` in-process -- exactly what the ``custseg`` console
   script does -- and, however the command ends, writes
   ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (and ``RUSAGE_CHILDREN``, in
   case the run ever starts processes of its own) to a JSON file. This is the
   peak resident set size of that one process, start-up included. A fresh
   process per measured command avoids the problem of ``RUSAGE_CHILDREN`` in
   this harness, which only holds the maximum over every child ever waited for.
   The same wrapper records the process's CPU time (user + system), and the
   harness the 1-minute load average before and after each run: on a shared
   machine a wall time far above the CPU time, or a load average above the
   core count, means the run waited for other processes.
4. Per-stage times: the ``timings`` of the run's ``manifest.json`` (validate,
   features, ward, choose_k, fit, stability, profile, analysis; any other
   timing the manifest holds is summed as "other manifest stages"), as measured
   by custseg itself. The CLI's other work is not in the manifest, so this
   script adds:

   * ``read``: ``custseg.io.read_table(DATA)`` timed in this harness process
     (same file, warm page cache, pandas already imported);
   * ``sha256``: ``custseg.io.file_sha256(DATA)`` (the CLI hashes its input for
     the manifest), timed the same way;
   * ``startup``: a separate subprocess that only imports what ``custseg run``
     imports before it reads the data (``custseg.cli``, ``custseg.io``,
     ``custseg.pipeline``, ``custseg.rundir``, ``custseg.spec``);
   * ``write + report``: the remainder, end to end minus all of the above. It
     holds writing segments.csv and the other run files, rendering report.html,
     report.md and figures/ (with the matplotlib import), the summary print and
     interpreter shutdown. Being a difference of separately measured times it
     carries their noise.

   As a cross-check the wrapper also times, inside the measured run, the calls
   the CLI makes to ``read_table``, ``file_sha256``, ``write_run`` and (within
   it) ``write_report``, by wrapping those functions; these are recorded as
   ``in_run`` in the JSON and shown in the table, and change nothing else.
5. From the manifest: k, ``selection_sample_size`` (the rows k is chosen on:
   every row up to 100,000, above that a fixed-seed sample of 100,000) and
   ``silhouette_sample_size`` (the rows the silhouette is computed on: every
   row of the selection sample up to 20,000, above that a sample of 10,000).

With ``--repeat R`` each (size, format) is measured R times; the table shows
the median (and the spread when R > 1). The results, every repetition, the
machine, the library versions and a digest of the custseg sources (taken before
and after, with a warning if they changed meanwhile) go to ``OUT/results.json``
(or ``--json``).

``--check`` exits with status 1 unless every 1,000,000-row run meets the
targets: end to end under 60 s (median over repetitions) and peak memory under
4 GB (4e9 bytes, the largest repetition). A failed run exits with status 1 too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_ROWS = 1_000_000
TARGET_SECONDS = 60.0
TARGET_BYTES = 4_000_000_000
STAGES = ("validate", "features", "ward", "choose_k", "fit", "stability", "profile", "analysis")
STARTUP_IMPORTS = "import custseg.cli, custseg.io, custseg.pipeline, custseg.rundir, custseg.spec"
MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux

# Runs the CLI in this process, as the console script does; whatever the outcome,
# writes the peak RSS and the times of the wrapped I/O calls to the file argv[1].
WRAPPER = r"""
import functools, json, resource, sys, time
import custseg.io, custseg.rundir
from custseg.cli import main
out, sys.argv = sys.argv[1], ["custseg", *sys.argv[2:]]
spent = {}
def timed(module, name, key):
    fn = getattr(module, name, None)
    if fn is None:  # renamed or gone: leave that one out
        return
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
    setattr(module, name, wrapper)
timed(custseg.io, "read_table", "read")
timed(custseg.io, "file_sha256", "sha256")
timed(custseg.rundir, "write_run", "write_run")
timed(custseg.rundir, "write_report", "report")
try:
    main()
finally:
    me = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, "w") as f:
        json.dump({"self": me.ru_maxrss, "cpu": me.ru_utime + me.ru_stime,
                   "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                   "in_run": spent}, f)
"""


# ------------------------------------------------------------------ arguments
def parse_rows(text: str) -> int:
    """A row count: 100000, 100_000, 100k, 1M or 1e6."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    scale = 1
    if t.endswith("k"):
        t, scale = t[:-1], 1_000
    elif t.endswith("m"):
        t, scale = t[:-1], 1_000_000
    try:
        value = float(t) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r}") from None
    if value != int(value) or value < 11:
        raise argparse.ArgumentTypeError(f"row count must be a whole number >= 11, got {text!r}")
    return int(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time `custseg run` end to end (and per stage) and measure its peak memory "
                    "on synthetic 365-style data.")
    parser.add_argument("--rows", action="append", type=parse_rows, metavar="N",
                        help="rows to generate; repeat for several sizes (default 100000 and "
                             "1000000)")
    parser.add_argument("--format", action="append", choices=("csv", "parquet"), dest="formats",
                        help="input file format; repeat for both (default csv)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out",
                        help="working directory for data, runs and results (default "
                             "benchmarks/out beside this script, git-ignored)")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size and format")
    parser.add_argument("--json", type=Path, default=None,
                        help="result file (default OUT/results.json)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 unless {TARGET_ROWS:,} rows run end to end in < "
                             f"{TARGET_SECONDS:.0f} s with peak memory < {TARGET_BYTES / 1e9:.0f} GB")
    args = parser.parse_args(argv)
    args.rows = sorted(set(args.rows or [100_000, TARGET_ROWS]))
    args.formats = list(dict.fromkeys(args.formats or ["csv"]))
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.check and TARGET_ROWS not in args.rows:
        parser.error(f"--check needs --rows {TARGET_ROWS} (the targets are for {TARGET_ROWS:,} rows)")
    return args


# ------------------------------------------------------------------ machine
def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.machine()


def _mem_total_bytes() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    found = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("custseg", "numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "matplotlib",
                 "threadpoolctl"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _source_state() -> dict[str, Any]:
    """The git revision, the files changed since it, and a digest of the custseg sources run."""
    import hashlib

    import custseg

    root = Path(custseg.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".toml", ".html", ".css", ".js", ".j2"):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    state: dict[str, Any] = {"custseg_path": str(root), "sources_sha256": digest.hexdigest()}
    try:  # the checkout the package is imported from (not necessarily this script's)
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                                   capture_output=True, text=True, timeout=10)
        if described.returncode == 0:
            state["git"] = described.stdout.strip()
            status = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout
            state["uncommitted"] = [line[3:] for line in status.splitlines()]
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def machine_info() -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    threads = {k: v for k, v in os.environ.items()
               if k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {"cpu_model": _cpu_model(), "cpu_count": os.cpu_count(), "cpus_usable": affinity,
            "mem_total_bytes": _mem_total_bytes(), "platform": platform.platform(),
            "versions": _versions(), "thread_env": threads}


# ------------------------------------------------------------------ data
def write_data(n: int, formats: list[str], data_dir: Path) -> dict[str, Path]:
    """Generate ``n`` rows (seed 0) and write them once per format; return the paths."""
    from custseg.datasets import make_customers

    df = make_customers(n, seed=0)
    paths = {}
    for fmt in formats:
        path = data_dir / f"customers-{n}.{fmt}"
        tmp = path.with_name(f".{path.name}.tmp")
        if fmt == "csv":
            df.to_csv(tmp, index=False, lineterminator="\n")
        else:
            df.to_parquet(tmp, index=False, engine="pyarrow")
        tmp.replace(path)
        paths[fmt] = path
    return paths


# ------------------------------------------------------------------ measurements
def time_startup() -> float:
    """Seconds for a fresh interpreter to import what ``custseg run`` needs before reading."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", STARTUP_IMPORTS], check=True)
    return time.perf_counter() - t0


def time_call(fn, *args) -> float:
    t0 = time.perf_counter()
    result = fn(*args)
    elapsed = time.perf_counter() - t0
    del result
    return elapsed


def measure_run(data: Path, spec: Path, run_dir: Path) -> dict[str, Any]:
    """Run ``custseg run`` once in the wrapper; wall time, peak RSS and the manifest."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        rss_file = Path(handle.name)
    cmd = [sys.executable, "-c", WRAPPER, str(rss_file), "run", str(data), "--spec", str(spec),
           "--out", str(run_dir), "--quiet", "--overwrite"]
    load = os.getloadavg()[0]
    try:
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        usage = json.loads(rss_file.read_text()) if rss_file.stat().st_size else {}
    finally:
        rss_file.unlink(missing_ok=True)
    result: dict[str, Any] = {"end_to_end": wall, "returncode": done.returncode,
                              "loadavg_1min_before": load,
                              "loadavg_1min_after": os.getloadavg()[0]}
    if usage:
        result["peak_rss_bytes"] = usage["self"] * MAXRSS_UNIT
        result["children_peak_rss_bytes"] = usage["children"] * MAXRSS_UNIT
        result["cpu_seconds"] = usage["cpu"]
        result["in_run"] = usage["in_run"]
    if done.returncode != 0:
        result["stderr"] = done.stderr.strip()[-2000:]
        return result
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    result["stages"] = {s: manifest["timings"].get(s) for s in STAGES}
    result["extra_timings"] = {s: v for s, v in manifest["timings"].items() if s not in STAGES}
    for key in ("k", "selection_sample_size", "silhouette_sample_size", "rows_segmented",
                "ward_method"):
        result[key] = manifest.get(key)
    result["report_written"] = (run_dir / "report.html").is_file()
    return result


def measure(n: int, fmt: str, data: Path, spec: Path, run_dir: Path, repeat_index: int,
            startup: float) -> dict[str, Any]:
    from custseg import io

    run = measure_run(data, spec, run_dir)
    record: dict[str, Any] = {"rows": n, "format": fmt, "repeat": repeat_index,
                              "file_bytes": data.stat().st_size, **run}
    if run["returncode"] != 0:
        return record
    # After the run, so that the file is as warm in the page cache as it was for the run.
    record["read"] = time_call(io.read_table, data)
    record["sha256"] = time_call(io.file_sha256, data)
    record["startup"] = startup
    extra = [v for v in run["extra_timings"].values() if isinstance(v, int | float)]
    if extra:  # stages added to the manifest since this script was written
        record["other_stages"] = sum(extra)
    accounted = record["read"] + record["sha256"] + startup + sum(extra) + sum(
        v for v in run["stages"].values() if v is not None)
    record["write_report"] = run["end_to_end"] - accounted
    return record


# ------------------------------------------------------------------ summary
ROWS = ["end_to_end", "cpu_seconds", "loadavg_1min_after", "peak_rss_bytes",
        "startup", "read", "sha256", *STAGES, "other_stages", "write_report",
        "in_run.read", "in_run.write_run", "in_run.report"]
LABELS = {"end_to_end": "end to end (s)", "cpu_seconds": "CPU user+sys (s)",
          "loadavg_1min_after": "load average after", "peak_rss_bytes": "peak RSS (MiB)",
          "startup": "startup + imports", "read": "read (harness)", "sha256": "sha256 (harness)",
          "other_stages": "other manifest stages", "write_report": "write + report (remainder)",
          "in_run.read": "[in run] read_table",
          "in_run.write_run": "[in run] write_run", "in_run.report": "[in run]   of it, report"}


def _get(record: dict[str, Any], key: str) -> float | None:
    if key.startswith("in_run."):
        return record.get("in_run", {}).get(key.split(".", 1)[1])
    if key in STAGES:
        return record.get("stages", {}).get(key)
    return record.get(key)


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of every measured quantity over the repetitions of one case."""
    ok = [r for r in records if r["returncode"] == 0]
    out: dict[str, Any] = {"rows": records[0]["rows"], "format": records[0]["format"],
                           "repeats": len(records), "failed": len(records) - len(ok)}
    if not ok:
        return out
    for key in ROWS:
        values = [v for v in (_get(r, key) for r in ok) if v is not None]
        if values:
            out[key] = {"median": statistics.median(values), "min": min(values),
                        "max": max(values)}
    for key in ("k", "selection_sample_size", "silhouette_sample_size", "ward_method",
                "report_written", "file_bytes"):
        out[key] = ok[-1].get(key)
    return out


def _cell(stats: dict[str, float] | None, key: str) -> str:
    if stats is None:
        return "-"
    if key == "peak_rss_bytes":
        med, lo, hi = (stats[s] / 2**20 for s in ("median", "min", "max"))
        text = f"{med:,.0f}"
        return text + (f" ({lo:,.0f}-{hi:,.0f})" if hi > lo else "")
    text = f"{stats['median']:.2f}"
    return text + (f" ({stats['min']:.2f}-{stats['max']:.2f})" if stats["max"] > stats["min"] else "")


def print_table(summaries: list[dict[str, Any]]) -> None:
    heads = [f"{s['rows']:,} {s['format']}" for s in summaries]
    lines = [["seconds (median, min-max)", *heads]]
    for key in ROWS:
        lines.append([LABELS.get(key, key), *(_cell(s.get(key), key) for s in summaries)])
    for key in ("k", "selection_sample_size", "silhouette_sample_size", "ward_method",
                "report_written", "failed"):
        lines.append([key.replace("_", " "), *(str(s.get(key, "-")) for s in summaries)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for i, line in enumerate(lines):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(line, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def check_targets(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per (1M rows, format): median end to end and largest peak RSS."""
    verdicts = []
    for s in summaries:
        if s["rows"] != TARGET_ROWS:
            continue
        e2e = s.get("end_to_end", {}).get("median")
        rss = s.get("peak_rss_bytes", {}).get("max")
        verdicts.append({
            "rows": s["rows"], "format": s["format"], "end_to_end_median_s": e2e,
            "peak_rss_max_bytes": rss,
            "time_ok": s["failed"] == 0 and e2e is not None and e2e < TARGET_SECONDS,
            "memory_ok": s["failed"] == 0 and rss is not None and rss < TARGET_BYTES,
        })
    return verdicts


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out.resolve()
    data_dir, runs_dir = out / "data", out / "runs"
    data_dir.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    from custseg.datasets import demo_spec_text

    spec = data_dir / "spec.toml"
    spec.write_text(demo_spec_text(), encoding="utf-8")

    started = datetime.now(UTC).isoformat(timespec="seconds")
    source = _source_state()
    startup = statistics.median(time_startup() for _ in range(3))
    print(f"startup + imports of `custseg run`: {startup:.2f} s (median of 3)", flush=True)
    records: list[dict[str, Any]] = []
    for n in args.rows:
        paths = write_data(n, args.formats, data_dir)
        for fmt in args.formats:
            for i in range(args.repeat):
                print(f"{n:>12,} rows {fmt:<7} run {i + 1}/{args.repeat} ...", end=" ", flush=True)
                r = measure(n, fmt, paths[fmt], spec, runs_dir / f"{fmt}-{n}", i, startup)
                records.append(r)
                if r["returncode"] == 0:
                    print(f"{r['end_to_end']:.1f} s, peak {r['peak_rss_bytes'] / 2**20:,.0f} MiB, "
                          f"k = {r['k']}", flush=True)
                else:
                    print(f"FAILED (exit {r['returncode']}): {r.get('stderr', '')[-500:]}",
                          flush=True)

    cases = list(dict.fromkeys((r["rows"], r["format"]) for r in records))
    summaries = [summarise([r for r in records if (r["rows"], r["format"]) == c]) for c in cases]
    print()
    print_table(summaries)
    verdicts = check_targets(summaries)
    result = {
        "started": started, "command": [Path(sys.executable).name, *sys.argv],
        "machine": machine_info(), "source": source, "startup_s": startup,
        "targets": {"rows": TARGET_ROWS, "end_to_end_s": TARGET_SECONDS,
                    "peak_rss_bytes": TARGET_BYTES},
        "verdicts": verdicts, "summary": summaries, "runs": records,
    }
    if _source_state()["sources_sha256"] != source["sources_sha256"]:
        result["source"]["changed_during_benchmark"] = True
        print("warning: the custseg sources changed while the benchmark ran; the runs may have "
              "measured different code", file=sys.stderr)
    json_path = args.json or out / "results.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {json_path}")

    for v in verdicts:
        print(f"target at {v['rows']:,} rows ({v['format']}): end to end "
              f"{v['end_to_end_median_s'] or float('nan'):.1f} s < {TARGET_SECONDS:.0f} s "
              f"{'met' if v['time_ok'] else 'MISSED'}; peak "
              f"{(v['peak_rss_max_bytes'] or 0) / 1e9:.2f} GB < {TARGET_BYTES / 1e9:.0f} GB "
              f"{'met' if v['memory_ok'] else 'MISSED'}")
    failed = any(r["returncode"] != 0 for r in records)
    missed = any(not (v["time_ok"] and v["memory_ok"]) for v in verdicts)
    if failed:
        print("some runs failed", file=sys.stderr)
        return 1
    if args.check and missed:
        print("targets missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
