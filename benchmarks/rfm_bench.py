"""Time and peak memory of ``custseg rfm`` on a large synthetic order log (Parquet).

Usage::

    PYTHONPATH=src python benchmarks/rfm_bench.py --rows 50000000
        [--probe-rows 10000000] [--fallback-rows 20000000] [--max-minutes 10]
        [--batch-customers 1000000] [--out benchmarks/out/rfm] [--json FILE]
    PYTHONPATH=src python benchmarks/rfm_bench.py --sizes 1M,10M,50M

``--sizes`` measures each listed size in turn (no probe, no extrapolation). To
measure another version of custseg (before/after), put its ``src`` first on
``PYTHONPATH``: ``_bench`` then runs the subprocesses against it.

What it measures and how:

1. The log (not timed), generated without holding it in memory: batches of
   ``custseg.datasets.make_transactions(--batch-customers, seed=1000 + b)`` for
   b = 0, 1, ...; in each batch the customer numbers are shifted by the customers
   of earlier batches (``customer_id`` = ``"C"`` + 9 digits) and the order numbers
   by the orders of earlier batches (``order_id`` = ``"O"`` + 10 digits), so ids
   are unique across the file; ``date`` is stored as a Parquet date,
   ``amount`` as float64 (negative for returns, about 2 % of rows),
   ``quantity`` as int64. Each batch is appended with
   ``pyarrow.parquet.ParquetWriter`` (row groups of 1,048,576 rows); the last one
   is cut to give exactly ``ROWS`` rows (a chronological prefix of that batch, so
   no return loses its purchase). At most one batch (about 4.6 million rows)
   is in memory at a time. About 4.6 rows per customer, so 50 million rows hold
   about 11 million customers. A file already written with the same parameters
   is reused (sidecar ``.meta.json``). Generation runs in a subprocess, so that
   the harness stays small (on Linux a child's ``ru_maxrss`` starts from its
   parent's peak); ``VmHWM`` of the measured process is recorded as a cross-check.
2. The command, end to end: ``custseg rfm LOG.parquet -o customers.parquet
   --customer customer_id --date date --amount amount --overwrite --quiet`` (the
   default convention: validation of the log, DuckDB aggregation, RFM scores and
   segments, writing the Parquet output) in a fresh Python subprocess
   (``PYTHONPATH`` = this checkout's ``src``, working directory ``OUT``; DuckDB
   spills, if it needs to, into a temporary directory under ``TMPDIR``), under a
   tiny ``python -c`` wrapper that records
   ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak RSS of the process,
   DuckDB's memory included, as it runs in-process) and CPU time, however the
   command ends. Wall time is ``time.perf_counter()`` around the subprocess
   (start-up included). A thread of the harness also sums, every 0.1 s, the RSS
   of every descendant process (``/proc``): ``tree_peak_rss_bytes``, the peak of
   the whole process tree, as a cross-check that nothing runs outside the
   measured process.
3. Budget: first ``--probe-rows`` rows are measured. If a linear extrapolation
   of that time to ``ROWS`` exceeds ``--max-minutes``, ``ROWS`` is not run;
   ``--fallback-rows`` is measured instead and the time and memory at ``ROWS``
   are extrapolated linearly through the two measured sizes (stated as an
   extrapolation). Any measured run is capped at 1.5 x ``--max-minutes``.

With ``--profile-rows N`` the script instead runs the command once under
``python -m cProfile`` on an N-row log and writes ``OUT/profile.txt`` (custseg and
DuckDB calls by cumulative time), to show where the time goes.

Targets at ``ROWS`` rows: under 60 s and under 4 GB (4e9 bytes) peak RSS. Before
each measurement the script waits until no other benchmark
(``benchmarks/run.py``, ``benchmarks/api_bench.py``) is running. Results go to
``OUT/results.json`` (or ``--json``) and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _bench

TARGET_S = 60.0
TARGET_BYTES = 4_000_000_000
SEED_BASE = 1000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time `custseg rfm` on a large Parquet order log.")
    p.add_argument("--rows", type=_bench.parse_rows, default=50_000_000,
                   help="rows of the order log (default 50M)")
    p.add_argument("--probe-rows", type=_bench.parse_rows, default=10_000_000,
                   help="smaller size measured first, to predict the time at --rows (default 10M)")
    p.add_argument("--fallback-rows", type=_bench.parse_rows, default=20_000_000,
                   help="second size measured when --rows would take too long (default 20M)")
    p.add_argument("--max-minutes", type=float, default=10.0,
                   help="largest predicted time of the --rows run before it is skipped")
    p.add_argument("--batch-customers", type=_bench.parse_rows, default=1_000_000,
                   help="customers generated per batch (default 1M, about 4.6M rows)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/rfm"))
    p.add_argument("--json", type=Path, default=None, help="default OUT/results.json")
    p.add_argument("--profile-rows", type=_bench.parse_rows, default=None,
                   help="instead of timing, profile one run on a log of this many rows "
                        "(cProfile; OUT/profile.txt)")
    p.add_argument("--sizes", default=None,
                   help="comma-separated sizes to measure, all of them, instead of the probe "
                        "logic (e.g. 1M,10M,50M)")
    p.add_argument("--make-log", nargs=3, metavar=("ROWS", "BATCH", "PATH"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ------------------------------------------------------------------ the log
def _renumber(ids: Any, offset: int, prefix: str, width: int) -> Any:
    """``C000123`` -> ``prefix`` + zero-padded (123 + offset), vectorised with Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = pc.add(pc.cast(pc.utf8_slice_codeunits(ids, 1), pa.int64()), offset)
    digits = pc.utf8_lpad(pc.cast(numbers, pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def write_log(rows: int, batch_customers: int, path: Path) -> dict[str, Any]:
    """Write exactly ``rows`` rows to ``path`` batch by batch; reuse an identical file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from custseg.datasets import make_transactions

    meta = path.with_name(path.name + ".meta.json")
    want = {"rows": rows, "batch_customers": batch_customers, "seed_base": SEED_BASE,
            "generator": "make_transactions", "format": 2}
    if meta.is_file() and path.is_file():
        known = json.loads(meta.read_text())
        if {k: known.get(k) for k in want} == want:
            print(f"reusing {path.name}", flush=True)
            return known
    schema = pa.schema([("customer_id", pa.string()), ("date", pa.date32()),
                        ("amount", pa.float64()), ("quantity", pa.int64()),
                        ("order_id", pa.string())])
    tmp = path.with_name(path.name + ".tmp")
    t0 = time.perf_counter()
    written = customers = orders = batches = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        while written < rows:
            df = make_transactions(batch_customers, seed=SEED_BASE + batches)
            t = pa.Table.from_pandas(df, preserve_index=False)
            del df
            cust = _renumber(t["customer_id"].combine_chunks().cast(pa.string()), customers, "C", 9)
            order_numbers = pc.cast(pc.utf8_slice_codeunits(
                t["order_id"].combine_chunks().cast(pa.string()), 1), pa.int64())
            order = _renumber(t["order_id"].combine_chunks().cast(pa.string()), orders, "O", 10)
            batch = pa.table({"customer_id": cust, "date": t["date"].cast(pa.date32()),
                              "amount": t["amount"], "quantity": t["quantity"],
                              "order_id": order}, schema=schema)
            take = min(batch.num_rows, rows - written)
            writer.write_table(batch.slice(0, take), row_group_size=1 << 20)
            written += take
            customers += batch_customers
            orders += int(pc.max(order_numbers).as_py())
            batches += 1
            print(f"\r  generating {path.name}: {written:,} / {rows:,} rows", end="", flush=True)
    tmp.replace(path)
    seconds = time.perf_counter() - t0
    print(f" ({seconds:.0f} s)", flush=True)
    info = {**want, "batches": batches, "generate_s": round(seconds, 1),
            "bytes": path.stat().st_size}
    meta.write_text(json.dumps(info))
    return info


# ------------------------------------------------------------------ measuring
def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of every descendant of process ``root`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields_ = stat.rsplit(")", 1)[1].split()
        pid = int(entry)
        children.setdefault(int(fields_[1]), []).append(pid)
        rss[pid] = int(fields_[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class TreeSampler:
    """Polls the summed RSS of this harness's descendants (the measured command and any
    process it starts) every ``interval`` seconds; ``peak`` is the largest sum seen."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            with_children = _tree_rss(me)
            self.peak = max(self.peak, with_children)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        if Path("/proc/self/stat").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def measure(log: Path, out: Path, cap: float) -> dict[str, Any]:
    target = out / "customers.parquet"
    args = ["rfm", str(log), "-o", str(target), "--customer", "customer_id", "--date", "date",
            "--amount", "amount", "--overwrite", "--quiet"]
    with TreeSampler() as tree:
        r = _bench.run_measured("cli", args, timeout=cap, cwd=out)
    r["tree_peak_rss_bytes"] = tree.peak or None
    found = re.search(r"([\d,]+) customers \(observation end", r["stdout_tail"])
    r["customers_out"] = int(found.group(1).replace(",", "")) if found else None
    if target.is_file():
        r["output_bytes"] = target.stat().st_size
        target.unlink()
    if r["returncode"] == 0:
        r.pop("stderr_tail")
    return r


def run_size(n: int, a: argparse.Namespace, out: Path, cap: float) -> dict[str, Any]:
    _bench.wait_for_quiet()
    log = out / "data" / f"orders-{n}.parquet"
    log.parent.mkdir(parents=True, exist_ok=True)
    # in a subprocess: the harness stays small (a child's ru_maxrss starts from its parent's peak)
    _bench.run_setup([str(Path(__file__).resolve()), "--make-log", str(n), str(a.batch_customers),
                      str(log)])
    info = json.loads(log.with_name(log.name + ".meta.json").read_text())
    print(f"{n:>12,} rows ({info['bytes'] / 1e6:,.0f} MB Parquet) ...", end=" ", flush=True)
    r = {"rows": n, "log": info, **measure(log, out, cap)}
    if r["timed_out"]:
        print(f"over {cap:.0f} s (killed)", flush=True)
    elif r["returncode"] != 0:
        print(f"FAILED (exit {r['returncode']}): {r.get('stderr_tail', '')[-400:]}", flush=True)
    else:
        busy = " (another benchmark appeared meanwhile)" if r["other_benchmark_after"] else ""
        print(f"{r['wall_s']:.1f} s, peak {_bench.mib(r.get('peak_rss_bytes'))} MiB, "
              f"{r['customers_out']:,} customers{busy}", flush=True)
    return r


def profile(n: int, a: argparse.Namespace, out: Path) -> str:
    """One run under cProfile; the custseg and DuckDB calls by cumulative time."""
    import pstats
    import subprocess

    log = out / "data" / f"orders-{n}.parquet"
    log.parent.mkdir(parents=True, exist_ok=True)
    _bench.wait_for_quiet()
    _bench.run_setup([str(Path(__file__).resolve()), "--make-log", str(n), str(a.batch_customers),
                      str(log)])
    stats_file, target = out / "profile.pstats", out / "profiled.parquet"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "custseg", "rfm",
           str(log), "-o", str(target), "--customer", "customer_id", "--date", "date", "--amount",
           "amount", "--overwrite", "--quiet"]
    _bench.wait_for_quiet()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=_bench.env(), capture_output=True, cwd=out)
    wall = time.perf_counter() - t0
    target.unlink(missing_ok=True)
    text_file = out / "profile.txt"
    with text_file.open("w") as fh:
        fh.write(f"custseg rfm on {n:,} rows under cProfile: {wall:.1f} s\n\n")
        st = pstats.Stats(str(stats_file), stream=fh)
        st.sort_stats("cumulative").print_stats(r"custseg|duckdb|execute|fetch|to_parquet|write")
        st.sort_stats("tottime").print_stats(15)
    return text_file.read_text()


def extrapolate(points: list[tuple[int, float]], n: int) -> float:
    """Linear through two points (or proportional through one)."""
    if len(points) == 1:
        (x, y), = points
        return y * n / x
    (x0, y0), (x1, y1) = points[-2:]
    return y1 + (y1 - y0) / (x1 - x0) * (n - x1)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.make_log:
        write_log(int(a.make_log[0]), int(a.make_log[1]), Path(a.make_log[2]))
        return 0
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if a.profile_rows:
        print(profile(a.profile_rows, a, out))
        return 0
    result = _bench.header(sys.argv if argv is None else ["rfm_bench.py", *argv])
    cap = 1.5 * a.max_minutes * 60
    runs: list[dict[str, Any]] = []
    if a.sizes:
        for n in [_bench.parse_rows(t) for t in a.sizes.split(",")]:
            runs.append(run_size(n, a, out, cap))
        a.rows = max(r["rows"] for r in runs)
        a.probe_rows = a.rows
    elif a.probe_rows < a.rows:
        runs.append(run_size(a.probe_rows, a, out, cap))
    ok = [r for r in runs if r["returncode"] == 0]
    predicted = extrapolate([(r["rows"], r["wall_s"]) for r in ok], a.rows) if ok else None
    result["predicted_s_at_rows_from_probe"] = predicted
    if a.sizes:
        pass
    elif predicted is None or predicted <= a.max_minutes * 60:
        runs.append(run_size(a.rows, a, out, cap))
        if runs[-1]["timed_out"] and a.fallback_rows < a.rows:
            runs.append(run_size(a.fallback_rows, a, out, cap))
    else:
        print(f"predicted {predicted / 60:.1f} min at {a.rows:,} rows > {a.max_minutes:g} min: "
              f"measuring {a.fallback_rows:,} rows instead", flush=True)
        runs.append(run_size(a.fallback_rows, a, out, cap))
    result["runs"] = runs

    at_target = next((r for r in runs if r["rows"] == a.rows and r["returncode"] == 0), None)
    ok = sorted((r for r in runs if r["returncode"] == 0), key=lambda r: r["rows"])
    if at_target is not None:
        verdict = {"rows": a.rows, "measured": True, "wall_s": at_target["wall_s"],
                   "peak_rss_bytes": at_target.get("peak_rss_bytes")}
    elif ok:
        verdict = {"rows": a.rows, "measured": False,
                   "from_sizes": [r["rows"] for r in ok[-2:]],
                   "wall_s": extrapolate([(r["rows"], r["wall_s"]) for r in ok], a.rows),
                   "peak_rss_bytes": extrapolate([(r["rows"], r["peak_rss_bytes"]) for r in ok],
                                                 a.rows)}
    else:
        verdict = {"rows": a.rows, "measured": False, "wall_s": None, "peak_rss_bytes": None}
    if verdict["wall_s"] is not None:
        verdict["time_ok"] = verdict["wall_s"] < TARGET_S
        verdict["memory_ok"] = (verdict["peak_rss_bytes"] or 0) < TARGET_BYTES
    result["target"] = {"seconds": TARGET_S, "peak_rss_bytes": TARGET_BYTES, **verdict}

    print()
    lines = [["log rows", "customers", "Parquet MB", "wall s", "CPU s", "rows/s", "peak RSS MiB",
              "VmHWM MiB", "tree MiB", "output MB", "load avg", "generate s"]]
    for r in runs:
        done = r["returncode"] == 0
        lines.append([
            f"{r['rows']:,}", f"{r['customers_out']:,}" if r.get("customers_out") else "-",
            f"{r['log']['bytes'] / 1e6:,.0f}",
            f"{r['wall_s']:.1f}" if done else ("over cap" if r["timed_out"] else "failed"),
            f"{r.get('cpu_s', 0):.1f}", f"{r['rows'] / r['wall_s']:,.0f}" if done else "-",
            _bench.mib(r.get("peak_rss_bytes")), _bench.mib(r.get("vmhwm_bytes")),
            _bench.mib(r.get("tree_peak_rss_bytes")),
            f"{r.get('output_bytes', 0) / 1e6:,.0f}", f"{r['loadavg_1min_after']:.1f}",
            f"{r['log'].get('generate_s', 0):.0f}"])
    _bench.print_table(lines)
    if verdict["wall_s"] is not None:
        how = "measured" if verdict["measured"] else (
            "EXTRAPOLATED linearly from " + " and ".join(f"{n:,}" for n in verdict["from_sizes"]))
        print(f"\nat {a.rows:,} rows ({how}): {verdict['wall_s']:.1f} s (target < {TARGET_S:.0f} s: "
              f"{'met' if verdict['time_ok'] else 'MISSED'}), peak "
              f"{verdict['peak_rss_bytes'] / 1e9:.2f} GB (target < {TARGET_BYTES / 1e9:.0f} GB: "
              f"{'met' if verdict['memory_ok'] else 'MISSED'})")
    _bench.finish(result, a.json or out / "results.json")
    return 0 if all(r["returncode"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
