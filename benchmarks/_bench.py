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
* :func:`make_data`: writes ``make_customers(n, seed=0)`` as CSV and/or Parquet
  from a subprocess, timing the generation, and reuses files made by the same
  generator code;
* machine, library and source descriptions for the JSON result files;
* plain-text and markdown table printers and a row-count parser (``100000``,
  ``100k``, ``1M``, ``1e6``).

Importing this module puts ``<repo>/src`` first on ``sys.path``, so the
benchmarks measure this checkout's custseg even if the editable install points
elsewhere. To measure another copy of the sources (a frozen ``git archive`` of a
commit, say), set ``PYTHONPATH`` to its ``src``: when the first ``PYTHONPATH``
entry holds a ``custseg`` package, that one is measured instead, in the harness
and in every subprocess.
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


def _src() -> Path:
    """This checkout's ``src``, or the first ``PYTHONPATH`` entry if it holds custseg."""
    first = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
    if first and (Path(first) / "custseg" / "__init__.py").is_file():
        return Path(first).resolve()
    return ROOT / "src"


SRC = _src()
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
# The bracket keeps the pattern from matching a shell whose own command line holds it.
OTHER_BENCHMARKS = ("benchmarks/[r]un\\.py", "benchmarks/[a]pi_bench\\.py")

# Runs `python -c WRAPPER OUT.json MODE ARGS...`: MODE "cli" runs custseg's command
# line (exactly what the console script does), MODE "script" runs a Python file as
# __main__. Whatever the outcome, peak RSS, VmHWM, CPU time and the wall-clock
# times at which main() started and ended go to OUT.json, and (under "in_run")
# the seconds spent in the functions named by the environment variable
# CUSTSEG_BENCH_TIMED ("module:function=key;..."), each wrapped as soon as the
# program imports its module (the wrapper imports nothing itself); a function
# that does not exist is left out.
WRAPPER = r"""
import functools, importlib.abc, json, os, resource, runpy, sys, time
out, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
spent = {}
pending = {}  # module -> [(function, key)]: wrapped when the program imports the module
def wrap(fn, key):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
    return wrapper
def patch(mod):
    for name, key in pending.pop(mod.__name__, []):
        fn = getattr(mod, name, None)
        if fn is not None:
            setattr(mod, name, wrap(fn, key))
class WrapOnImport(importlib.abc.MetaPathFinder):
    # Importing the modules here, before the program starts, would change what is
    # measured (the CLI imports its heavy modules in a second thread while it reads
    # the data); so each is wrapped right after the program itself imports it.
    def find_spec(self, fullname, path, target=None):
        if fullname not in pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module
                def exec_module(module, run=run):
                    run(module)
                    patch(module)
                spec.loader.exec_module = exec_module
                return spec
        return None
for item in filter(None, os.environ.get("CUSTSEG_BENCH_TIMED", "").split(";")):
    target, key = item.split("=")
    module, name = target.split(":")
    pending.setdefault(module, []).append((name, key))
for module in [m for m in pending if m in sys.modules]:
    patch(sys.modules[module])
sys.meta_path.insert(0, WrapOnImport())
clock = {}
try:
    if mode == "cli":
        sys.argv = ["custseg", *args]
        from custseg._entry import main  # the console script's entry point
        clock["main_start"] = time.time()
        main()
    else:
        sys.argv = args
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        clock["main_start"] = time.time()
        runpy.run_path(args[0], run_name="__main__")
finally:
    clock["main_end"] = time.time()
    me = resource.getrusage(resource.RUSAGE_SELF)
    try:  # the high-water mark of this process's own memory (Linux)
        hwm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    except OSError:
        hwm = []
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # every child waited for by now
    with open(out, "w") as f:
        json.dump({"maxrss": me.ru_maxrss, "cpu": me.ru_utime + me.ru_stime,
                   "children_cpu": kids.ru_utime + kids.ru_stime,
                   "vmhwm": hwm[0] if hwm else None, "in_run": spent, "clock": clock}, f)
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
def speed_probe() -> float:
    """Seconds this machine takes right now for a fixed workload on both cores (0.12 s or more).

    Two numpy sorts of 3M floats in two threads at once (the sort releases the
    GIL), then a pure-Python loop of 2M steps: on a shared machine the same run
    takes longer when the host is busy even at the same load average, and this
    says how fast the CPUs were just before a measurement (a snapshot: it cannot
    see what happens during the run).
    """
    import threading

    import numpy as np

    arrays = [np.random.default_rng(i).random(3_000_000) for i in range(2)]
    t0 = time.perf_counter()
    sorts = [threading.Thread(target=np.sort, args=(a,)) for a in arrays]
    for t in sorts:
        t.start()
    for t in sorts:
        t.join()
    total = 0
    for i in range(2_000_000):
        total += i & 7
    return time.perf_counter() - t0


def run_measured(mode: str, args: list[str], *, timeout: float | None = None,
                 wait: bool = True, cwd: Path | None = None,
                 timed: dict[str, str] | None = None,
                 extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``custseg ARGS`` (mode "cli") or ``python ARGS`` (mode "script") in the wrapper.

    Returns wall seconds, exit code, peak RSS (bytes), VmHWM, CPU seconds, the
    seconds before the command's main() started (interpreter start-up and the
    imports it needs) and after it ended (exit), the load average before and
    after, :func:`speed_probe` just before, whether another benchmark appeared
    meanwhile, the tail of stderr and stdout, and ``timed_out`` when the cap was
    hit.
    ``timed`` maps ``"module:function"`` to a key: the seconds spent in each
    such function inside the run come back under ``in_run``.
    """
    waited = wait_for_quiet() if wait else 0.0
    probe = speed_probe()
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        usage_file = Path(handle.name)
    cmd = [sys.executable, "-c", WRAPPER, str(usage_file), mode, *args]
    run_env = env()
    run_env.update(extra_env or {})
    if timed:
        run_env["CUSTSEG_BENCH_TIMED"] = ";".join(f"{t}={k}" for t, k in timed.items())
    load_before = os.getloadavg()[0]
    spawned = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=run_env, cwd=cwd, start_new_session=True)
    tree = TreeMemory(proc.pid)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call started, and only it
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    tree_peak = tree.stop()
    ended = time.time()
    try:
        usage = json.loads(usage_file.read_text()) if usage_file.stat().st_size else {}
    finally:
        usage_file.unlink(missing_ok=True)
    result: dict[str, Any] = {
        "wall_s": wall, "returncode": proc.returncode, "timed_out": timed_out,
        "loadavg_1min_before": load_before, "loadavg_1min_after": os.getloadavg()[0],
        "speed_probe_s": probe,
        "waited_for_other_benchmark_s": round(waited, 1),
        "other_benchmark_after": other_benchmarks(),
        "stdout_tail": stdout[-3000:], "stderr_tail": stderr[-3000:],
    }
    if usage:
        result["peak_rss_bytes"] = usage["maxrss"] * MAXRSS_UNIT
        result["vmhwm_bytes"] = usage["vmhwm"]
        result["cpu_s"] = usage["cpu"]
        result["children_cpu_s"] = usage.get("children_cpu")
        result["in_run"] = usage.get("in_run", {})
        clock = usage.get("clock", {})
        if "main_start" in clock:  # start-up: interpreter and the imports before main()
            result["startup_in_run_s"] = clock["main_start"] - spawned
        if "main_end" in clock:  # after main(): writing the usage file and interpreter exit
            result["exit_in_run_s"] = ended - clock["main_end"]
    result["tree_peak_pss_bytes"] = tree_peak
    result["harness_peak_rss_bytes"] = harness_peak_rss()
    return result


class TreeMemory:
    """Peak memory of a process and every process it starts, sampled in a thread.

    The measured command runs in a session of its own (``start_new_session``), so
    its processes are its descendants (or, where ``/proc/PID/task/TID/children``
    is missing, those whose session id is its pid): its joblib worker processes
    as well as itself. Every ``interval`` seconds (a sample
    costs 1-3 ms of CPU, 1-2 % of one core) the
    proportional set sizes (``Pss`` of ``/proc/PID/smaps_rollup``: a page shared by
    n processes counts 1/n in each, so pages shared between processes count once)
    are summed over them; :meth:`stop` returns the largest sum, or None where
    ``/proc`` cannot tell (not Linux). A peak shorter than the interval can be
    missed: ``VmHWM`` stays the exact figure for the main process.
    """

    def __init__(self, session: int, interval: float = 0.2) -> None:
        import threading

        self.session, self.interval = session, interval
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _members(self) -> list[int]:
        # the process and its descendants, from each thread's list of children
        # (cheap); where that list is missing, the session's members from a scan
        if Path(f"/proc/{self.session}/task/{self.session}/children").exists():
            found, todo = [], [self.session]
            while todo:
                pid = todo.pop()
                found.append(pid)
                try:
                    for task in os.scandir(f"/proc/{pid}/task"):
                        todo += [int(c) for c in
                                 Path(f"{task.path}/children").read_text().split()]
                except OSError:  # it ended meanwhile
                    continue
            return found
        pids = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            # fields after the parenthesised command: state ppid pgrp session ...
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 3 and int(fields[3]) == self.session:
                pids.append(int(entry.name))
        return pids

    def _sample(self) -> None:
        if not Path("/proc/self/smaps_rollup").exists():
            return
        while not self._stop.wait(self.interval):
            total = sum(proc_kib_bytes(f"/proc/{pid}/smaps_rollup", "Pss") or 0
                        for pid in self._members())
            if total and (self.peak is None or total > self.peak):
                self.peak = total

    def stop(self) -> int | None:
        self._stop.set()
        self._thread.join()
        return self.peak


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


# Generates make_customers(n, seed=0) and writes it in each format; prints the
# seconds taken by make_customers and by each writer as JSON.
MAKE_DATA = r"""
import json, sys, time
from pathlib import Path
from custseg.datasets import make_customers
n, out = int(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
df = make_customers(n, seed=0)
spent = {"make_customers_s": time.perf_counter() - t0}
for fmt in sys.argv[3:]:
    path = out / f"customers-{n}.{fmt}"
    tmp = path.with_name(f".{path.name}.tmp")
    t0 = time.perf_counter()
    if fmt == "csv":
        df.to_csv(tmp, index=False, lineterminator="\n")
    else:
        df.to_parquet(tmp, index=False, engine="pyarrow")
    tmp.replace(path)
    spent[f"write_{fmt}_s"] = time.perf_counter() - t0
print(json.dumps(spent))
"""


def _generator_digest() -> str:
    """Digest of the code that draws the synthetic customers (files made by it are reused)."""
    digest = hashlib.sha256()
    for path in sorted((SRC / "custseg" / "datasets").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def make_data(n: int, formats: list[str], data_dir: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """``make_customers(n, seed=0)`` as ``data_dir/customers-n.FORMAT``, made in a subprocess.

    Files made earlier by the same generator code (a sidecar ``.meta.json``
    holds its digest) are reused. Returns the paths and what it took: the
    seconds of ``make_customers`` and of each writer, or ``reused``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    digest = _generator_digest()
    paths = {fmt: data_dir / f"customers-{n}.{fmt}" for fmt in formats}
    meta_path = data_dir / f"customers-{n}.meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if meta.get("generator_sha256") != digest:
        meta = {"generator_sha256": digest, "rows": n}
    missing = [f for f, p in paths.items() if not (p.is_file() and f"write_{f}_s" in meta)]
    info: dict[str, Any] = {"reused": [f for f in formats if f not in missing]}
    if missing:
        done = subprocess.run([sys.executable, "-c", MAKE_DATA, str(n), str(data_dir), *missing],
                              check=True, env=env(), capture_output=True, text=True)
        spent = json.loads(done.stdout.strip().splitlines()[-1])
        meta.update(spent)
        info.update(spent)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    else:
        info["when_made"] = {k: v for k, v in meta.items() if k.endswith("_s")}
    info["bytes"] = {f: p.stat().st_size for f, p in paths.items()}
    return paths, info


def proc_kib_bytes(path: str, key: str) -> int | None:
    """The ``KEY:   N kB`` line of a ``/proc`` file (Linux) in bytes, else None."""
    try:
        found = re.search(rf"^{key}:\s*(\d+) kB", Path(path).read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def mem_available_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` (Linux), else None."""
    return proc_kib_bytes("/proc/meminfo", "MemAvailable")


def vmhwm_bytes() -> int | None:
    """This process's resident high-water mark, ``VmHWM`` of ``/proc/self/status``, else None."""
    return proc_kib_bytes("/proc/self/status", "VmHWM")


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
    # Read-only: --no-optional-locks keeps git from refreshing the index of a
    # working tree that others are using. Asked where the measured sources are,
    # so a frozen copy outside any checkout says so instead of naming this one.
    git = ["git", "--no-optional-locks"]
    try:
        done = subprocess.run([*git, "describe", "--always", "--dirty"], cwd=SRC,
                              capture_output=True, text=True, timeout=10)
        if done.returncode == 0:
            state["git"] = done.stdout.strip()
            status = subprocess.run([*git, "status", "--porcelain", "--", "."], cwd=SRC,
                                    capture_output=True, text=True, timeout=10).stdout
            state["uncommitted"] = [line[3:] for line in status.splitlines()]
        else:
            state["git"] = "not a git checkout"
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def compile_bytecode() -> bool:
    """Compile the measured custseg's modules to bytecode (``__pycache__``), as an install does.

    ``pip install .`` compiles every module; an editable install in an
    environment with ``PYTHONDONTWRITEBYTECODE`` set (as this machine's is) never
    does, and every run would then compile custseg's sources again (about 0.2 s
    at start-up). False if they could not be written (a read-only location).
    """
    import compileall

    return bool(compileall.compile_dir(SRC / "custseg", quiet=1))


def header(argv: list[str]) -> dict[str, Any]:
    return {"started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": [Path(sys.executable).name, *argv], "machine": machine_info(),
            "source": source_state(), "bytecode_compiled": compile_bytecode()}


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


def markdown_table(lines: list[list[str]]) -> str:
    """Rows of cells as a markdown table; the first row is the header, first column left."""
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    out = []
    for i, row in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                     for j, (c, w) in enumerate(zip(row, widths, strict=True)))
                   + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) if j == 0 else "-" * (w + 1) + ":"
                                      for j, w in enumerate(widths)) + "|")
    return "\n".join(out)


def print_table(lines: list[list[str]]) -> None:
    """Print rows of cells; the first row is the header; first column left-aligned."""
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    for i, row in enumerate(lines):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
