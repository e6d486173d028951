"""Shared plumbing of the component benchmarks (assign, algorithms, rfm, report).

Not a benchmark itself. It provides:

* :func:`wait_for_quiet`: blocks until no other benchmark of this repository is
  running (``pgrep -f "benchmarks/run.py"`` and ``pgrep -f
  "benchmarks/api_bench.py"`` both find nothing), polling with sleep, so that
  two benchmarks never share the machine's two cores;
* :func:`run_measured`: runs one command in a fresh Python subprocess (with
  ``PYTHONPATH`` pointing at this checkout's ``src``) under a tiny wrapper that,
  however the command ends, writes the process's peak resident set size
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), its ``VmHWM`` (Linux) and CPU
  time to a JSON file; wall time is ``time.perf_counter()`` around the
  subprocess, start-up included. An optional time cap kills the subprocess's
  whole process group. On Linux a child's ``ru_maxrss`` starts from the parent's
  peak RSS (the high-water mark survives fork and exec), so the harnesses keep
  their own process small (data generation and model fitting run in
  subprocesses, :func:`run_setup`) and record their own peak beside every
  measurement;
* machine, library and source descriptions for the JSON result files;
* a plain-text table printer and a row-count parser (``100000``, ``100k``,
  ``1M``, ``1e6``).

Importing this module puts ``<repo>/src`` first on ``sys.path``, so the
benchmarks measure this checkout's custseg even if the editable install points
elsewhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
# The bracket keeps the pattern from matching a shell whose own command line holds it.
OTHER_BENCHMARKS = ("benchmarks/[r]un\\.py", "benchmarks/[a]pi_bench\\.py")

# Runs `python -c WRAPPER OUT.json MODE ARGS...`: MODE "cli" runs custseg's command
# line (exactly what the console script does), MODE "script" runs a Python file as
# __main__. Whatever the outcome, peak RSS and CPU time go to OUT.json.
WRAPPER = r"""
import json, os, resource, runpy, sys
out, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    if mode == "cli":
        sys.argv = ["custseg", *args]
        from custseg.cli import main
        main()
    else:
        sys.argv = args
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")
finally:
    me = resource.getrusage(resource.RUSAGE_SELF)
    try:  # the high-water mark of this process's own memory (Linux)
        hwm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    except OSError:
        hwm = []
    with open(out, "w") as f:
        json.dump({"maxrss": me.ru_maxrss, "cpu": me.ru_utime + me.ru_stime,
                   "vmhwm": hwm[0] if hwm else None}, f)
"""


def env() -> dict[str, str]:
    """The environment of every measured subprocess: this checkout's sources first."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(SRC)
    return e


# ------------------------------------------------------------------ other benchmarks
def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return pids


def other_benchmarks() -> list[str]:
    """Command lines of other benchmark processes now running (empty when quiet)."""
    mine = _ancestors()
    found = []
    for pattern in OTHER_BENCHMARKS:
        done = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
        for line in done.stdout.splitlines():
            pid, _, cmd = line.partition(" ")
            if pid.isdigit() and int(pid) not in mine:
                found.append(f"{pid} {cmd[:120]}")
    return found


def wait_for_quiet(poll: float = 15.0, settle: float = 5.0) -> float:
    """Sleep until no other benchmark runs; return the seconds waited."""
    t0 = time.monotonic()
    told = False
    while True:
        busy = other_benchmarks()
        if not busy:
            if told:  # let the page cache and the load settle a little
                time.sleep(settle)
                if other_benchmarks():
                    continue
            return time.monotonic() - t0
        if not told:
            print(f"  waiting: another benchmark is running ({busy[0]})", flush=True)
            told = True
        time.sleep(poll)


# ------------------------------------------------------------------ measuring
def run_measured(mode: str, args: list[str], *, timeout: float | None = None,
                 wait: bool = True, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``custseg ARGS`` (mode "cli") or ``python ARGS`` (mode "script") in the wrapper.

    Returns wall seconds, exit code, peak RSS (bytes), CPU seconds, the load
    average before and after, whether another benchmark appeared meanwhile, the
    tail of stderr and stdout, and ``timed_out`` when the cap was hit.
    """
    waited = wait_for_quiet() if wait else 0.0
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        usage_file = Path(handle.name)
    cmd = [sys.executable, "-c", WRAPPER, str(usage_file), mode, *args]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(), cwd=cwd, start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call started, and only it
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    try:
        usage = json.loads(usage_file.read_text()) if usage_file.stat().st_size else {}
    finally:
        usage_file.unlink(missing_ok=True)
    result: dict[str, Any] = {
        "wall_s": wall, "returncode": proc.returncode, "timed_out": timed_out,
        "loadavg_1min_before": load_before, "loadavg_1min_after": os.getloadavg()[0],
        "waited_for_other_benchmark_s": round(waited, 1),
        "other_benchmark_after": other_benchmarks(),
        "stdout_tail": stdout[-3000:], "stderr_tail": stderr[-3000:],
    }
    if usage:
        result["peak_rss_bytes"] = usage["maxrss"] * MAXRSS_UNIT
        result["vmhwm_bytes"] = usage["vmhwm"]
        result["cpu_s"] = usage["cpu"]
    result["harness_peak_rss_bytes"] = harness_peak_rss()
    return result


def harness_peak_rss() -> int:
    """Peak RSS of this harness process.

    On Linux a child's ``ru_maxrss`` starts from its parent's peak at the time it
    was started (the high-water mark survives fork and exec), so the harness keeps
    itself small: data generation and model fitting run in subprocesses. This
    figure, recorded with every measurement, must stay well below the measured
    peaks; ``vmhwm_bytes`` (``VmHWM`` of ``/proc/self/status``, the child's own
    high-water mark) is recorded as a cross-check.
    """
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * MAXRSS_UNIT


def run_setup(args: list[str]) -> None:
    """Run a preparation step (``python ARGS``) in a subprocess, not measured."""
    subprocess.run([sys.executable, *args], check=True, env=env())


# ------------------------------------------------------------------ descriptions
def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.machine()


def machine_info() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("custseg", "numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "duckdb",
                 "kmodes", "matplotlib", "plotly"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    mem = None
    try:
        found = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
        mem = int(found.group(1)) * 1024 if found else None
    except OSError:
        pass
    return {"cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "mem_total_bytes": mem, "platform": platform.platform(), "versions": versions}


def source_state() -> dict[str, Any]:
    """Where custseg is imported from in the subprocesses, a digest of it, and git state."""
    pkg = SRC / "custseg"
    digest = hashlib.sha256()
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".toml", ".html", ".css", ".js", ".j2", ".json"):
            digest.update(str(path.relative_to(pkg)).encode() + b"\0" + path.read_bytes())
    state: dict[str, Any] = {"custseg_path": str(pkg), "sources_sha256": digest.hexdigest()}
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10)
        if done.returncode == 0:
            state["git"] = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def header(argv: list[str]) -> dict[str, Any]:
    return {"started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": [Path(sys.executable).name, *argv], "machine": machine_info(),
            "source": source_state()}


def finish(result: dict[str, Any], path: Path) -> None:
    """Write the JSON result (noting a change of the sources during the run)."""
    if source_state()["sources_sha256"] != result["source"]["sources_sha256"]:
        result["source"]["changed_during_benchmark"] = True
        print("warning: the custseg sources changed while the benchmark ran", file=sys.stderr)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["harness_peak_rss_bytes"] = harness_peak_rss()
    print(f"harness peak RSS {mib(result['harness_peak_rss_bytes'])} MiB (the floor of every "
          "child's ru_maxrss; VmHWM is the child's own)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nresults written to {path}")


# ------------------------------------------------------------------ small helpers
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
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"row count must be a whole number >= 1, got {text!r}")
    return int(value)


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f}"


def print_table(lines: list[list[str]]) -> None:
    """Print rows of cells; the first row is the header; first column left-aligned."""
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    for i, row in enumerate(lines):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
