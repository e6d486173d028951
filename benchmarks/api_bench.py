"""Latency and throughput of the HTTP API (``custseg serve``) on loopback.

Usage::

    python benchmarks/api_bench.py [--requests 2000] [--batch 10000] [--batch-repeat 10]
                                   [--max-batch 100000] [--load-requests 4000]
                                   [--clients 4] [--json OUT.json]

What it does:

1. Model: ``CustomerSegmenter(demo spec, stability_runs=0)`` fitted on
   ``custseg.datasets.make_customers(5000, seed=0)`` and saved as ``model.json`` in a
   temporary directory (not timed). Customers to assign come from
   ``make_customers(..., seed=1)`` (empty cells sent as ``null``). Single-customer
   requests use only customers without empty cells: one customer with an empty
   cell is refused (422, "entirely empty" column) by the library's validation.
2. Server: ``python -m custseg serve MODEL --host 127.0.0.1 --port P`` (a free port)
   in a subprocess, exactly as a user starts it: uvicorn, one worker, no access
   log. ``startup`` is the time until ``GET /healthz`` first answers 200.
3. Single customer: ``--requests`` sequential ``POST /v1/assign`` with one
   customer object each, over one persistent ``httpx.Client`` (keep-alive), after
   50 warm-up requests. Each latency is ``time.perf_counter()`` around
   ``client.post``: client-side JSON encoding, loopback, the server's work and
   reading the answer. Reported: p50, p90, p99, max and requests per second.
4. Batch: one ``POST /v1/assign`` of ``--batch`` customers (``{"customers":
   [...]}``), repeated ``--batch-repeat`` times (median and min); and one of
   ``--max-batch`` customers (the server's limit by default), 3 times.
5. Load: ``--load-requests`` single-customer requests in total, split evenly over
   ``--clients`` threads, each with its own ``httpx.Client``, sent back to back;
   it stops by itself when they are done. Answers are counted by status; every
   answer other than 200 and every transport error is an error. Reported: throughput and latency
   percentiles under load.
6. Memory: the server's peak resident set size (``VmHWM`` of
   ``/proc/PID/status``; Linux only) after all of the above.
7. Shutdown: SIGTERM, then the time until the process has exited.

The client runs on the same machine as the server, so they share its CPUs.
Results, the machine and the library versions go to ``--json`` when given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

import custseg
from custseg.datasets import demo_spec_text, make_customers

WARMUP = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def customers(n: int, seed: int = 1) -> list[dict]:
    df = make_customers(n, seed=seed)
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict("records")]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, like numpy's default."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(latencies: list[float]) -> dict:
    ms = [x * 1000 for x in latencies]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms), "mean_ms": statistics.fmean(ms)}


def fit_model(directory: Path) -> tuple[Path, int]:
    spec = custseg.parse_spec(demo_spec_text())
    seg = custseg.CustomerSegmenter(spec, stability_runs=0).fit(make_customers(5000, seed=0))
    path = directory / "model.json"
    custseg.save_model(seg.model_, path)
    return path, seg.model_.k


def start_server(model_path: Path, port: int) -> tuple[subprocess.Popen, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("CUSTSEG_API_TOKEN", "CUSTSEG_MODEL_KEY")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "custseg", "serve", str(model_path), "--host", "127.0.0.1",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit("the server exited: " + proc.stderr.read().decode(errors="replace"))
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the server did not answer /healthz within 60 s")
        time.sleep(0.02)


def single_latency(base: str, pool: list[dict], n: int) -> dict:
    latencies = []
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(WARMUP):
            client.post("/v1/assign", json=pool[i % len(pool)])
        t0 = time.perf_counter()
        for i in range(n):
            start = time.perf_counter()
            r = client.post("/v1/assign", json=pool[i % len(pool)])
            latencies.append(time.perf_counter() - start)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        wall = time.perf_counter() - t0
    errors = sum(c for code, c in statuses.items() if code != 200)
    return {**summary(latencies), "errors": errors, "req_per_s": n / wall,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def batch_latency(base: str, batch: list[dict], repeat: int) -> dict:
    body = json.dumps({"customers": batch}).encode()
    times = []
    with httpx.Client(base_url=base, timeout=300) as client:
        for _ in range(repeat):
            start = time.perf_counter()
            r = client.post("/v1/assign", content=body, headers={"content-type": "application/json"})
            answer = r.content
            times.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise SystemExit(f"batch of {len(batch)} failed: {r.status_code} {r.text[:300]}")
    med = statistics.median(times)
    return {"customers": len(batch), "body_bytes": len(body), "answer_bytes": len(answer),
            "repeat": repeat, "median_s": med, "min_s": min(times), "max_s": max(times),
            "customers_per_s": len(batch) / med}


def load_run(base: str, pool: list[dict], total: int, clients: int) -> dict:
    per_client = total // clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[dict[int, int]] = [{} for _ in range(clients)]
    transport_errors = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get("/healthz")  # open the connection before the clock starts
            barrier.wait()
            for i in range(per_client):
                start = time.perf_counter()
                try:
                    r = client.post("/v1/assign", json=pool[(k * per_client + i) % len(pool)])
                except httpx.TransportError:
                    transport_errors[k] += 1
                    continue
                latencies[k].append(time.perf_counter() - start)
                statuses[k][r.status_code] = statuses[k].get(r.status_code, 0) + 1

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    merged: dict[int, int] = {}
    for s in statuses:
        for code, count in s.items():
            merged[code] = merged.get(code, 0) + count
    sent = per_client * clients
    errors = sum(transport_errors) + sum(c for code, c in merged.items() if code != 200)
    return {**summary([x for lat in latencies for x in lat]), "clients": clients, "requests": sent,
            "errors": errors, "statuses": {str(k): v for k, v in sorted(merged.items())},
            "transport_errors": sum(transport_errors), "wall_s": wall, "req_per_s": sent / wall}


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stop_server(proc: subprocess.Popen) -> float:
    start = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return float("inf")
    return time.perf_counter() - start


def table(results: dict) -> str:
    s, b, m, load = results["single"], results["batch"], results["max_batch"], results["load"]
    rows = [
        ("server start-up (to first /healthz 200)", f"{results['startup_s']:.2f} s"),
        (f"single customer, {s['n']:,} sequential: p50 / p90 / p99 / max",
         f"{s['p50_ms']:.2f} / {s['p90_ms']:.2f} / {s['p99_ms']:.2f} / {s['max_ms']:.1f} ms"),
        ("single customer, sequential throughput",
         f"{s['req_per_s']:,.0f} req/s; statuses {s['statuses']}"),
        (f"batch of {b['customers']:,} ({b['body_bytes'] / 1e6:.2f} MB): median / min "
         f"of {b['repeat']}", f"{b['median_s'] * 1000:,.0f} / {b['min_s'] * 1000:,.0f} ms "
         f"({b['customers_per_s']:,.0f} customers/s)"),
        (f"batch of {m['customers']:,} ({m['body_bytes'] / 1e6:.2f} MB): median / min "
         f"of {m['repeat']}", f"{m['median_s'] * 1000:,.0f} / {m['min_s'] * 1000:,.0f} ms "
         f"({m['customers_per_s']:,.0f} customers/s)"),
        (f"load: {load['requests']:,} requests over {load['clients']} clients",
         f"{load['req_per_s']:,.0f} req/s in {load['wall_s']:.1f} s; statuses "
         f"{load['statuses']}, {load['transport_errors']} transport errors"),
        ("load: p50 / p99 / max", f"{load['p50_ms']:.2f} / {load['p99_ms']:.2f} / "
         f"{load['max_ms']:.1f} ms"),
        ("server peak RSS (VmHWM)", "n/a" if results["server_peak_rss_mb"] is None
         else f"{results['server_peak_rss_mb']:.0f} MB"),
        ("shutdown (SIGTERM to exit)", f"{results['shutdown_s']:.2f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  result", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential single requests")
    parser.add_argument("--batch", type=int, default=10_000, help="customers in the batch")
    parser.add_argument("--batch-repeat", type=int, default=10)
    parser.add_argument("--max-batch", type=int, default=100_000,
                        help="customers in the largest batch (the server's default limit)")
    parser.add_argument("--load-requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="custseg-api-bench-") as tmp:
        model_path, k = fit_model(Path(tmp))
        pool = customers(max(args.max_batch, args.batch, 1000))
        complete = [c for c in pool if None not in c.values()]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc, startup = start_server(model_path, port)
        try:
            results = {
                "k": k,
                "startup_s": startup,
                "single": single_latency(base, complete, args.requests),
                "batch": batch_latency(base, pool[:args.batch], args.batch_repeat),
                "max_batch": batch_latency(base, pool[:args.max_batch], 3),
                "load": load_run(base, complete, args.load_requests, args.clients),
                "server_peak_rss_mb": peak_rss_mb(proc.pid),
            }
        finally:
            shutdown = stop_server(proc)
        results["shutdown_s"] = shutdown
    results["loadavg_1min"] = {"before": load_before,
                               "after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    results["custseg_path"] = os.path.dirname(custseg.__file__)
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count(), "custseg": custseg.__version__,
                          "httpx": httpx.__version__}
    try:
        import fastapi
        import uvicorn

        results["machine"].update(fastapi=fastapi.__version__, uvicorn=uvicorn.__version__)
    except ImportError:  # pragma: no cover - the server could not have started
        pass
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"results: {args.json}")
    failed = results["single"]["errors"] + results["load"]["errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
