"""The choice of k: a sweep of metrics over a range of k and a documented rule.

For every k the sweep records the within-cluster sum of squares (WCSS, inertia),
the silhouette (exact up to ``silhouette_max`` rows, above that on a fixed-seed
sample of ``silhouette_sample`` rows), the
Calinski-Harabasz and Davies-Bouldin indices, and the agreement (adjusted Rand)
between k-means and the Ward tree cut at the same k.

The rule (:func:`choose_k`): four criteria each vote for one k: the knee of the
WCSS curve (Kneedle: the point farthest below the chord of the normalised curve),
the highest silhouette, the highest Calinski-Harabasz and the lowest
Davies-Bouldin. The k with most votes wins; ties go to the higher silhouette.
The reason names every criterion's pick, so disagreement is visible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from .algorithms import ClusterFit, get_algorithm
from .hierarchy import WardTree

__all__ = ["sweep", "knee_point", "choose_k", "CRITERIA"]

CRITERIA = ("elbow", "silhouette", "calinski_harabasz", "davies_bouldin")


def knee_point(ks: list[int], values: list[float]) -> int | None:
    """The knee of a decreasing curve (Kneedle), or None when it has none.

    Both axes are scaled to [0, 1]; the knee is the point farthest below the
    straight line from the first to the last point.
    """
    x = np.asarray(ks, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.size < 3 or y[0] == y[-1]:
        return None
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y.min()) / (y.max() - y.min())
    diff = (1.0 - xn) - yn
    i = int(np.argmax(diff))
    if diff[i] <= 1e-12 or i in (0, x.size - 1):
        return None
    return int(ks[i])


def sweep(
    X: np.ndarray,
    ks: list[int],
    *,
    algorithm: str = "kmeans",
    n_init: int = 10,
    seed: int = 0,
    ward: WardTree | None = None,
    silhouette_max: int = 20_000,
    silhouette_sample: int = 10_000,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict], dict[int, ClusterFit]]:
    """Fit every k in ``ks`` and compute the selection metrics.

    Returns the metric rows (one dict per k) and the fits by k.
    """
    fit = get_algorithm(algorithm)
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    sil_rows = (np.sort(rng.choice(n, size=min(silhouette_sample, silhouette_max, n),
                                   replace=False))
                if n > silhouette_max else None)
    rows, fits = [], {}
    for k in ks:
        if progress:
            progress(f"k = {k}")
        f = fit(X, k, n_init=n_init, seed=seed)
        fits[k] = f
        n_labels = np.unique(f.labels).size
        row = {"k": int(k), "inertia": float(f.inertia), "silhouette": None,
               "calinski_harabasz": None, "davies_bouldin": None, "ward_ari": None}
        if 1 < n_labels < n:
            if sil_rows is None:
                row["silhouette"] = float(silhouette_score(X, f.labels))
            else:
                sl = f.labels[sil_rows]
                if 1 < np.unique(sl).size < sil_rows.size:
                    row["silhouette"] = float(silhouette_score(X[sil_rows], sl))
            row["calinski_harabasz"] = float(calinski_harabasz_score(X, f.labels))
            row["davies_bouldin"] = float(davies_bouldin_score(X, f.labels))
        if ward is not None and k <= ward.n_leaves:
            row["ward_ari"] = float(adjusted_rand_score(ward.cut(k), f.labels))
        rows.append(row)
    return rows, fits


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"


def choose_k(rows: list[dict], sample_note: str = "") -> tuple[int, str, dict]:
    """Pick k from sweep rows by the documented vote; return k, a reason and the votes."""
    ks = [r["k"] for r in rows]
    picks: dict[str, int | None] = {c: None for c in CRITERIA}
    if len(rows) == 1:
        k = ks[0]
        return k, f"k = {k} is the only value in the range", picks
    picks["elbow"] = knee_point(ks, [r["inertia"] for r in rows])

    def best(key, sign):
        vals = [(r[key], r["k"]) for r in rows if r[key] is not None]
        if not vals:
            return None
        return max(vals, key=lambda t: (sign * t[0], -t[1]))[1]

    picks["silhouette"] = best("silhouette", 1)
    picks["calinski_harabasz"] = best("calinski_harabasz", 1)
    picks["davies_bouldin"] = best("davies_bouldin", -1)
    votes: dict[int, list[str]] = {}
    for crit, k in picks.items():
        if k is not None:
            votes.setdefault(k, []).append(crit)
    by_k = {r["k"]: r for r in rows}
    if not votes:
        k = ks[0]
        return k, f"k = {k}: no criterion could be computed; the smallest k is used", picks

    def sil(k):
        s = by_k[k]["silhouette"]
        return -np.inf if s is None else s

    k = max(votes, key=lambda kk: (len(votes[kk]), sil(kk), -kk))
    r = by_k[k]
    words = {
        "elbow": lambda kk: f"the elbow of the within-cluster sum of squares is at k = {kk}",
        "silhouette": lambda kk: f"the best silhouette is {by_k[kk]['silhouette']:.2f} at k = {kk}",
        "calinski_harabasz": lambda kk: (f"the highest Calinski-Harabasz index is "
                                         f"{_fmt(by_k[kk]['calinski_harabasz'])} at k = {kk}"),
        "davies_bouldin": lambda kk: (f"the lowest Davies-Bouldin index is "
                                      f"{by_k[kk]['davies_bouldin']:.2f} at k = {kk}"),
    }
    n_crit = sum(v is not None for v in picks.values())
    agree = [words[c](k) for c in votes[k]]
    disagree = [words[c](kk) for c, kk in picks.items() if kk is not None and kk != k]
    reason = (f"k = {k}: {len(votes[k])} of {n_crit} criteria agree ({'; '.join(agree)})")
    if disagree:
        reason += f"; against: {'; '.join(disagree)}"
    if picks["elbow"] is None:
        reason += "; the WCSS curve has no clear elbow"
    if r.get("ward_ari") is not None:
        ari = r["ward_ari"]
        verb = "agree" if ari >= 0.8 else "partly agree" if ari >= 0.5 else "disagree"
        reason += f". Ward and k-means {verb} at k = {k} (adjusted Rand {ari:.2f})"
    if sample_note:
        reason += f". {sample_note}"
    return k, reason + ".", picks
