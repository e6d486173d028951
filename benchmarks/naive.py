"""The naive notebook pipeline that ``custseg run`` replaces, timed step by step.

Usage::

    python benchmarks/naive.py DATA.csv --k K --json RESULT.json [--labels LABELS.npy]
                               [--seed 0] [--k-max 10] [--force]

``benchmarks/run.py --naive`` runs it in a measured subprocess (wall time with
interpreter start-up, peak memory) beside ``custseg run --cluster-on all
--transform none`` on the same file; it can also run alone.

The steps are those of the 365 customer-segmentation notebook, written the way
such a notebook is written (whole data set, library defaults, default threads):

1. ``pd.read_csv(DATA)``;
2. empty cells: ``df["minutes_watched"].fillna(0)``. An empty ``minutes_watched``
   means "bought but never watched", which is what the notebook's ``fillna(0)``
   and the demo data dictionary's ``missing = "zero"`` both say, so the two
   pipelines see the same numbers (filling with the mean instead would make the
   preprocessing differ from custseg's);
3. ``pd.get_dummies(df, columns=["region", "channel"])``: 2 numeric + 3 + 8
   one-hot columns = 13 features;
4. ``StandardScaler().fit_transform`` on all 13 columns (float64);
5. ``scipy.cluster.hierarchy.linkage(X, method="ward")``: the exact Ward tree
   the notebook draws as a dendrogram (the drawing itself is left out, which
   only flatters the naive side). It holds the condensed distance matrix twice
   (``pdist``, then the copy ``nn_chain`` works on): about 8 n^2 bytes, 20 GB at
   50,000 rows;
6. the elbow: ``KMeans(n_clusters=k, n_init=10, random_state=seed)`` for
   k = 1..k-max, keeping each ``inertia_``;
7. ``silhouette_score(X, labels)`` (exact, every row) for k = 2..k-max, on the
   labels of step 6 (a notebook that refits k-means here would be slower still);
8. the final fit at ``--k``: ``KMeans(n_clusters=K, n_init=10,
   random_state=seed)``, whose labels go to ``--labels`` (``.npy``, in file
   order) for the harness to score.

Every step is timed with ``time.perf_counter()``; after each one the process's
``VmHWM`` (peak resident memory so far, Linux) is recorded, which shows where
the peak comes from. The imports are timed from the start of the script.

Before reading anything, the script counts the rows and compares the Ward
step's estimated need (8 n^2 bytes + 1 GiB) with ``MemAvailable``: if it does
not fit it writes ``{"skipped": reason}`` and exits with status 3 instead of
pushing a shared machine into the out-of-memory killer. ``--force`` skips the
check.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402  (the imports are part of what is timed)
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.cluster.hierarchy import linkage  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import silhouette_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

T_IMPORTED = time.perf_counter()
SKIPPED = 3  # exit status when the machine has too little free memory
OVERHEAD = 2**30  # interpreter, libraries, data and the k-means work, generously


def _proc_kib(path: str, key: str) -> int | None:
    # as _bench.proc_kib_bytes; not imported from there, so that the notebook's timed
    # imports stay the notebook's own
    try:
        found = re.search(rf"^{key}:\s*(\d+) kB", Path(path).read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def _meminfo(key: str) -> int | None:
    return _proc_kib("/proc/meminfo", key)


def _vmhwm() -> int | None:
    return _proc_kib("/proc/self/status", "VmHWM")


def count_rows(path: Path) -> int:
    """Data rows of a CSV with a header line and one record per line."""
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n") - 1


def ward_bytes(n: int) -> int:
    """Memory of scipy's exact Ward linkage: two condensed distance matrices."""
    return 2 * 8 * (n * (n - 1) // 2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="The naive notebook segmentation pipeline, timed.")
    p.add_argument("data", type=Path, help="a CSV with minutes_watched, CLV, region, channel")
    p.add_argument("--k", type=int, required=True, help="k of the final fit")
    p.add_argument("--json", type=Path, required=True, help="where the timings go")
    p.add_argument("--labels", type=Path, default=None, help="final labels (.npy, file order)")
    p.add_argument("--seed", type=int, default=0, help="random_state of every KMeans")
    p.add_argument("--k-max", type=int, default=10, help="largest k of the elbow and silhouettes")
    p.add_argument("--force", action="store_true", help="skip the free-memory check")
    a = p.parse_args(argv)
    if a.k < 1 or a.k_max < 2:
        p.error("--k must be >= 1 and --k-max >= 2")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    n = count_rows(a.data)
    need = ward_bytes(n) + OVERHEAD
    available = _meminfo("MemAvailable")
    result: dict = {"rows": n, "k": a.k, "seed": a.seed, "k_max": a.k_max,
                    "fill": "minutes_watched NaN -> 0", "estimated_peak_bytes": need,
                    "mem_available_bytes": available,
                    "imports_s": T_IMPORTED - T_START, "steps": {}, "vmhwm_after": {}}
    if not a.force and available is not None and need > available:
        reason = (f"the naive pipeline's exact Ward linkage at {n:,} rows needs about "
                  f"{need / 1e9:.1f} GB and only {available / 1e9:.1f} GB is available now; "
                  "run it when the machine is free, on fewer rows, or with --force")
        result["skipped"] = reason
        a.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"naive pipeline skipped: {reason}", file=sys.stderr)
        return SKIPPED

    steps, hwm = result["steps"], result["vmhwm_after"]
    hwm["imports"] = _vmhwm()
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = now - clock[0]
        hwm[name] = _vmhwm()
        clock[0] = now

    df = pd.read_csv(a.data)
    lap("read_csv")
    df["minutes_watched"] = df["minutes_watched"].fillna(0)
    lap("fillna")
    df = pd.get_dummies(df, columns=["region", "channel"])
    lap("get_dummies")
    X = StandardScaler().fit_transform(df)
    result["features"] = list(df.columns)
    del df
    lap("standard_scaler")

    Z = linkage(X, method="ward")
    result["ward_top_merge_height"] = float(Z[-1, 2])
    del Z
    lap("ward_linkage")

    inertias, labels_of = {}, {}
    for k in range(1, a.k_max + 1):
        km = KMeans(n_clusters=k, n_init=10, random_state=a.seed).fit(X)
        inertias[k] = float(km.inertia_)
        labels_of[k] = km.labels_
    result["elbow_inertia"] = inertias
    lap("kmeans_elbow")

    result["silhouette"] = {k: float(silhouette_score(X, labels_of[k]))
                            for k in range(2, a.k_max + 1)}
    del labels_of
    lap("silhouette")

    final = KMeans(n_clusters=a.k, n_init=10, random_state=a.seed).fit(X)
    result["final_inertia_sklearn"] = float(final.inertia_)
    lap("final_fit")
    if a.labels is not None:
        np.save(a.labels, final.labels_.astype(np.int32))

    result["total_s"] = time.perf_counter() - T_START
    result["peak_vmhwm_bytes"] = _vmhwm()
    a.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
