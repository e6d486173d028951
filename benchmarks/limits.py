"""How close one Lloyd (k-means) iteration comes to this machine's limits.

Usage::

    python benchmarks/limits.py [--rows 1000000 --rows 10000000] [--k 4 --k 8]
                                [--bw-gib 1] [--repeat 5] [--json FILE]

``benchmarks/run.py --limits`` runs it in a measured subprocess and puts its
table beside the others; it also runs alone. It measures, with numpy
(OpenBLAS) and scikit-learn as installed:

1. **Memory bandwidth**, best of ``--repeat``, over a float32 array of
   ``--bw-gib`` GiB (twice that for the copy), pages touched beforehand:

   * *read*: ``a.sum()``, bytes of ``a`` / seconds; one thread, and with one
     thread per usable core (each summing its own slice; numpy releases the
     GIL), which is what a multi-threaded k-means can draw on;
   * *copy*: ``np.copyto(b, a)``, counted as 2 x bytes (read + write; the
     write-allocate reads of a cache that does not stream are not counted).

2. **Matrix-multiply speed** (GFLOP/s, 2 m n p flops for (m x n) @ (n x p)),
   float32 and float64, best of ``--repeat``, with OpenBLAS's default threads
   and with one thread (``threadpoolctl``):

   * *square*: 2048 x 2048 @ 2048 x 2048, the compute roof;
   * *Lloyd-shaped*: (n x 13) @ (13 x k) at each ``--rows`` n and ``--k`` k, the
     distance computation of one Lloyd iteration done in one call.

3. **One Lloyd iteration** of ``sklearn.cluster.KMeans`` on the shape of
   custseg's feature matrix with ``--cluster-on all``: 13 float32 features
   (minutes_watched with empty cells as 0, CLV, 3 region and 8 channel one-hot
   columns, standardised) built from ``make_customers(n, seed=0)``; initial
   centers from ``kmeans_plusplus`` on a 20,000-row sample (seed 0). Times,
   best of ``--repeat`` (at most 3 above 1M rows), default threads and one
   thread:

   * *fit, max_iter=1*: ``KMeans(k, n_init=1, max_iter=1, init=centers, tol=0,
     copy_x=False).fit(X)``, as asked in issue #5. It holds more than one
     iteration: input checks, centring X, the row norms, the iteration, and a
     last assignment pass;
   * *per iteration*: (time of the same fit with ``max_iter=6`` - time with
     ``max_iter=1``) / (its ``n_iter_`` - 1): the marginal cost of one more
     iteration, with the fixed costs taken out.

   Two lower bounds for one iteration: *bytes / bandwidth* (the feature matrix,
   n x 13 x 4 bytes, read once at the best read bandwidth for that thread count)
   and *flops / GEMM speed* (2 n 13 k flops, the distance GEMM, at the square
   GEMM speed of float32 for that thread count). The fractions are bound /
   measured: 1.0 would be running at the machine's limit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

D = 13  # features of custseg's matrix with --cluster-on all on the 365 schema
CHUNK_SQUARE = 2048
SAMPLE = 20_000


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# ------------------------------------------------------------------ bandwidth
def bandwidth(gib: float, repeat: int) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    n = int(gib * 2**30) // 4
    a = np.ones(n, dtype=np.float32)
    b = np.zeros_like(a)
    b.fill(1)  # touch every page before timing
    nbytes = a.nbytes
    threads = _threads()
    parts = np.array_split(a, threads)

    def read_one():  # the faster of two reductions that read every byte once
        return min(_best(a.sum, repeat), _best(a.max, repeat))

    with ThreadPoolExecutor(threads) as pool:
        def read_all():
            list(pool.map(np.max, parts))
        read_mt = _best(read_all, repeat)
    return {
        "array_bytes": nbytes, "threads": threads,
        "read_1thread_GBps": nbytes / read_one() / 1e9,
        "read_all_threads_GBps": nbytes / read_mt / 1e9,
        "copy_1thread_GBps": 2 * nbytes / _best(lambda: np.copyto(b, a), repeat) / 1e9,
    }


# ------------------------------------------------------------------ GEMM
def gemm(rows: list[int], ks: list[int], repeat: int) -> dict[str, Any]:
    """GFLOP/s of square and Lloyd-shaped products (output preallocated: no page faults)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}

    def speed(A, B, flops, reps, suffix):
        C = np.matmul(A, B)  # allocates and touches the output once
        out[f"{suffix}_GFLOPs"] = flops / _best(lambda: np.matmul(A, B, out=C), reps) / 1e9
        with threadpool_limits(1):
            out[f"{suffix}_1thread_GFLOPs"] = (
                flops / _best(lambda: np.matmul(A, B, out=C), reps) / 1e9)

    for dtype in ("float32", "float64"):
        A = rng.standard_normal((CHUNK_SQUARE, CHUNK_SQUARE)).astype(dtype)
        speed(A, A.T.copy(), 2 * CHUNK_SQUARE**3, repeat, f"square_{dtype}")
    for n in rows:
        for dtype in ("float32", "float64"):
            X = rng.standard_normal((n, D)).astype(dtype)
            for k in ks:
                C = rng.standard_normal((D, k)).astype(dtype)
                speed(X, C, 2 * n * D * k, min(repeat, 3), f"lloyd_{n}_{dtype}_k{k}")
    return out


# ------------------------------------------------------------------ Lloyd
def feature_matrix(n: int):
    """custseg's --cluster-on all --transform none matrix of make_customers(n), float32."""
    import numpy as np
    import pandas as pd

    from custseg.datasets import make_customers

    df = make_customers(n, seed=0)
    df["minutes_watched"] = df["minutes_watched"].fillna(0)
    df = pd.get_dummies(df, columns=["region", "channel"])
    X = df.to_numpy(dtype=np.float64)
    del df
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return np.ascontiguousarray(X, dtype=np.float32)


def lloyd(n: int, ks: list[int], repeat: int, more_iter: int = 6) -> dict[str, Any]:
    import numpy as np
    from sklearn.cluster import KMeans, kmeans_plusplus
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    X = feature_matrix(n)
    built = time.perf_counter() - t0
    assert X.shape[1] == D, X.shape
    rng = np.random.default_rng(0)
    sample = X[np.sort(rng.choice(n, size=min(n, SAMPLE), replace=False))]
    reps = repeat if n <= 1_000_000 else min(repeat, 3)
    out: dict[str, Any] = {"rows": n, "features": D, "dtype": "float32",
                           "matrix_bytes": X.nbytes, "build_s": built, "k": {}}
    for k in ks:
        centers, _ = kmeans_plusplus(sample, k, random_state=0)
        res: dict[str, Any] = {}
        def fit(max_iter, k=k, centers=centers):
            return KMeans(n_clusters=k, n_init=1, max_iter=max_iter, init=centers, tol=0,
                          copy_x=False).fit(X)

        for label, limit in (("default", None), ("1thread", 1)):
            with threadpool_limits(limit):
                fit(1)  # warm-up: OpenMP pool, page cache of X
                one = _best(lambda: fit(1), reps)
                t_many, n_iter = float("inf"), None
                for _ in range(reps):
                    t = time.perf_counter()
                    km = fit(more_iter)
                    t = time.perf_counter() - t
                    if t < t_many:
                        t_many, n_iter = t, int(km.n_iter_)
            per_iter = (t_many - one) / (n_iter - 1) if n_iter and n_iter > 1 else None
            res[label] = {"fit_max_iter_1_s": one, f"fit_max_iter_{more_iter}_s": t_many,
                          "n_iter": n_iter, "per_iteration_s": per_iter}
        res["flops"] = 2 * n * D * k
        out["k"][str(k)] = res
    return out


def bounds(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Lower bounds of one iteration and the fractions measured / bound, per case."""
    bw, gm = result["bandwidth"], result["gemm"]
    rows = []
    for lr in result["lloyd"]:
        for k, res in lr["k"].items():
            for label in ("default", "1thread"):
                r = res[label]
                gbps = bw["read_all_threads_GBps"] if label == "default" else bw["read_1thread_GBps"]
                gflops = (gm["square_float32_GFLOPs"] if label == "default"
                          else gm["square_float32_1thread_GFLOPs"])
                t_bytes = lr["matrix_bytes"] / (gbps * 1e9)
                t_flops = res["flops"] / (gflops * 1e9)
                it = r["per_iteration_s"]
                rows.append({
                    "rows": lr["rows"], "k": int(k), "threads": label,
                    "bytes_bound_s": t_bytes, "flops_bound_s": t_flops,
                    "fit_max_iter_1_s": r["fit_max_iter_1_s"], "per_iteration_s": it,
                    "bytes_fraction_fit1": t_bytes / r["fit_max_iter_1_s"],
                    "flops_fraction_fit1": t_flops / r["fit_max_iter_1_s"],
                    "bytes_fraction_iter": t_bytes / it if it else None,
                    "flops_fraction_iter": t_flops / it if it else None,
                })
    return rows


def markdown(result: dict[str, Any]) -> str:
    """The machine's limits and the Lloyd fractions as markdown tables."""
    import _bench

    bw, gm = result["bandwidth"], result["gemm"]
    lines = [["machine limit", "one thread", f"{bw['threads']} threads (default)"],
             ["memory read (numpy sum / max, GB/s)", f"{bw['read_1thread_GBps']:.1f}",
              f"{bw['read_all_threads_GBps']:.1f}"],
             ["memory copy (read + write, GB/s)", f"{bw['copy_1thread_GBps']:.1f}", "-"]]
    for dtype in ("float32", "float64"):
        lines.append([f"GEMM {CHUNK_SQUARE}^3 {dtype} (GFLOP/s)",
                      f"{gm[f'square_{dtype}_1thread_GFLOPs']:.1f}",
                      f"{gm[f'square_{dtype}_GFLOPs']:.1f}"])
    for key, v in gm.items():
        if key.startswith("lloyd_") and "_1thread_" not in key:
            _, n, dtype, k, _ = key.split("_")
            lines.append([f"GEMM ({int(n):,} x {D}) @ ({D} x {k[1:]}) {dtype} (GFLOP/s)",
                          f"{gm[key.replace('_GFLOPs', '_1thread_GFLOPs')]:.1f}", f"{v:.1f}"])
    text = _bench.markdown_table(lines)

    def s(x):
        return "-" if x is None else f"{x:.3f}"

    def pct(x):
        return "-" if x is None else f"{100 * x:.0f} %"

    rows = [["rows", "k", "threads", "fit max_iter=1 (s)", "per iteration (s)",
             "bytes / bandwidth (s)", "flops / GEMM (s)", "bytes fraction", "flops fraction"]]
    for b in bounds(result):
        rows.append([f"{b['rows']:,}", str(b["k"]), b["threads"], s(b["fit_max_iter_1_s"]),
                     s(b["per_iteration_s"]), s(b["bytes_bound_s"]), s(b["flops_bound_s"]),
                     f"{pct(b['bytes_fraction_iter'])} ({pct(b['bytes_fraction_fit1'])})",
                     f"{pct(b['flops_fraction_iter'])} ({pct(b['flops_fraction_fit1'])})"])
    return text + "\n\n" + _bench.markdown_table(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    import _bench

    p = argparse.ArgumentParser(description="Memory bandwidth, GEMM speed and one Lloyd "
                                            "iteration of k-means on this machine.")
    p.add_argument("--rows", action="append", type=_bench.parse_rows,
                   help="rows of the Lloyd iteration; repeat (default 1M and 10M)")
    p.add_argument("--k", action="append", type=int, dest="ks", help="k; repeat (default 4, 8)")
    p.add_argument("--bw-gib", type=float, default=1.0, help="GiB of the bandwidth array")
    p.add_argument("--repeat", type=int, default=5, help="best of this many")
    p.add_argument("--json", type=Path, default=None, help="where the results go")
    a = p.parse_args(argv)
    a.rows = sorted(set(a.rows or [1_000_000, 10_000_000]))
    a.ks = sorted(set(a.ks or [4, 8]))
    return a


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    a = parse_args(argv)
    result: dict[str, Any] = {"bw_gib": a.bw_gib, "repeat": a.repeat}
    t0 = time.perf_counter()
    result["bandwidth"] = bandwidth(a.bw_gib, a.repeat)
    result["gemm"] = gemm(a.rows, a.ks, a.repeat)
    result["lloyd"] = [lloyd(n, a.ks, a.repeat) for n in a.rows]
    result["bounds"] = bounds(result)
    result["total_s"] = time.perf_counter() - t0
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
