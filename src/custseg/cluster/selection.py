"""The choice of k: a sweep of metrics over a range of k and a documented rule.

For every k the sweep records the within-cluster sum of squares (WCSS, inertia),
the silhouette (exact up to ``silhouette_max`` rows, above that on a fixed-seed
sample of ``silhouette_sample`` rows), the
Calinski-Harabasz and Davies-Bouldin indices, and the agreement (adjusted Rand)
between k-means and the Ward tree cut at the same k.

Two more criteria are computed on a fixed-seed subsample of at most
``consensus_max`` rows: the gap statistic (Tibshirani, Walther and Hastie 2001:
log WCSS against its mean over ``n_refs`` uniform reference data sets in the
principal-axes bounding box, with its standard error) and bootstrap stability
(the mean adjusted Rand index between k-means fits on pairs of bootstrap
resamples, both labelling the whole subsample).

The rule (:func:`choose_k`): each criterion votes for one k: the knee of the WCSS
curve (Kneedle: the point farthest below the chord of the normalised curve), the
highest silhouette, the highest Calinski-Harabasz, the lowest Davies-Bouldin, the
gap statistic's standard-error rule (the smallest k with
``gap(k) >= gap(k+1) - se(k+1)``), stability (the k with the highest mean adjusted
Rand between bootstrap fits) and, for Gaussian mixtures, the lowest BIC. The k
with most votes wins; ties go to the higher silhouette, then the smaller k. The
reason names every criterion's pick, so disagreement is visible.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from .._parallel import Later, beside
from .._threads import one_thread
from .algorithms import ClusterFit, get_algorithm
from .assign import nearest_centroid
from .hierarchy import WardTree

__all__ = ["sweep", "consensus_beside", "forced_k", "silhouettes", "ch_db", "ari", "knee_point",
           "choose_k", "CRITERIA"]

CRITERIA = ("elbow", "silhouette", "calinski_harabasz", "davies_bouldin", "gap", "stability",
            "bic")


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


def gap_and_stability(X: np.ndarray, ks: list[int], *, seed: int = 0, n_refs: int = 10,
                      n_boot: int = 5, max_rows: int = 5_000) -> dict[int, dict]:
    """Gap statistic (with standard error) and bootstrap stability for each k."""
    from sklearn.metrics import adjusted_rand_score as ari

    from .algorithms import fit_kmeans

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    S = X[np.sort(rng.choice(n, size=max_rows, replace=False))] if n > max_rows else X
    m = S.shape[0]
    centred = S - S.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    lo, hi = rotated.min(0), rotated.max(0)
    refs = [rng.uniform(lo, hi, size=rotated.shape) @ vt for _ in range(n_refs)]
    boots = [(rng.integers(0, m, m), rng.integers(0, m, m)) for _ in range(n_boot)]
    out = {}
    for k in ks:
        if k >= m:
            out[k] = {"gap": None, "gap_se": None, "stability": None}
            continue
        w = fit_kmeans(S, k, n_init=3, seed=seed).inertia
        # one start per reference set, as Tibshirani et al. cluster each reference once
        ref_logs = np.log([max(fit_kmeans(R, k, n_init=1, seed=seed).inertia, 1e-300)
                           for R in refs])
        gap = float(ref_logs.mean() - np.log(max(w, 1e-300)))
        se = float(ref_logs.std() * np.sqrt(1 + 1 / n_refs))
        scores = []
        for a, b in boots:
            fa = fit_kmeans(S[a], k, n_init=3, seed=seed)
            fb = fit_kmeans(S[b], k, n_init=3, seed=seed)
            scores.append(ari(nearest_centroid(S, fa.centers)[0],
                              nearest_centroid(S, fb.centers)[0]))
        out[k] = {"gap": gap, "gap_se": se, "stability": float(np.mean(scores))}
    return out


def _gap_and_stability_one_thread(X: np.ndarray, ks: list[int], *, seed: int,
                                  max_rows: int) -> dict[int, dict]:
    """:func:`gap_and_stability` on one native thread (many small fits: more cost more), the
    numbers of a computation in the sweep's own one-thread context."""
    with one_thread():
        return gap_and_stability(X, ks, seed=seed, max_rows=max_rows)


def silhouettes(X: np.ndarray, label_sets: list[np.ndarray], *,
                block_bytes: int = 64 * 2**20) -> list[float | None]:
    """Exact mean silhouette of several labellings of the same rows, in one pass.

    The same definition as :func:`sklearn.metrics.silhouette_score` (euclidean;
    0 for a customer alone in its segment; None when a labelling has fewer than 2
    or as many segments as rows), but the pairwise distances are computed once
    for all labellings, in row blocks of at most ``block_bytes``, instead of once
    per labelling: for a k sweep of 9 values that is 9 times less distance work.
    """
    from sklearn.metrics.pairwise import euclidean_distances

    n = X.shape[0]
    out: list[float | None] = [None] * len(label_sets)
    usable, onehots, offsets = [], [], [0]
    for i, lab in enumerate(label_sets):
        _, codes = np.unique(lab, return_inverse=True)
        k = int(codes.max()) + 1 if n else 0
        if 1 < k < n:
            usable.append((i, codes, k))
            onehots.append(np.eye(k)[codes])
            offsets.append(offsets[-1] + k)
    if not usable:
        return out
    M = np.hstack(onehots)  # n x sum(k): membership of every row, every labelling
    sums = np.empty_like(M)
    rows = max(1, block_bytes // (8 * max(n, 1)))
    X64 = np.asarray(X, dtype=np.float64)
    for a in range(0, n, rows):
        D = euclidean_distances(X64[a:a + rows], X64)
        m = D.shape[0]
        D[np.arange(m), a + np.arange(m)] = 0.0  # a row's distance to itself
        sums[a:a + rows] = D @ M
    for (i, codes, k), lo in zip(usable, offsets, strict=False):
        S = sums[:, lo:lo + k]
        counts = np.bincount(codes, minlength=k).astype(float)
        own = counts[codes]
        idx = np.arange(n)
        a_ = S[idx, codes] / np.maximum(own - 1, 1)
        mean_other = S / counts[None, :]
        mean_other[idx, codes] = np.inf
        b_ = mean_other.min(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s_ = (b_ - a_) / np.maximum(a_, b_)
        s_[(own <= 1) | ~np.isfinite(s_)] = 0.0
        out[i] = float(s_.mean())
    return out


def ch_db(X: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Calinski-Harabasz and Davies-Bouldin indices of a labelling, in one pass.

    The definitions of :func:`sklearn.metrics.calinski_harabasz_score` and
    :func:`sklearn.metrics.davies_bouldin_score`, from per-segment sums
    (``bincount``) instead of one pass over the rows per segment.
    """
    codes = compact_codes(labels)
    k = int(codes.max()) + 1
    n = X.shape[0]
    X64 = np.asarray(X, dtype=np.float64)
    counts = np.bincount(codes, minlength=k).astype(float)
    centers = np.column_stack([np.bincount(codes, weights=X64[:, j], minlength=k)
                               for j in range(X64.shape[1])]) / counts[:, None]
    dist = np.sqrt(((X64 - centers[codes]) ** 2).sum(1))
    within = float((dist**2).sum())
    mean = X64.mean(0)
    between = float((counts * ((centers - mean) ** 2).sum(1)).sum())
    ch = 1.0 if within == 0.0 else between * (n - k) / (within * (k - 1.0))
    spread = np.bincount(codes, weights=dist, minlength=k) / counts
    gaps = np.sqrt(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1))
    if np.allclose(spread, 0) or np.allclose(gaps, 0):
        return float(ch), 0.0
    gaps[gaps == 0] = np.inf  # the diagonal and coincident centroids, as scikit-learn does
    db = float(np.mean(np.max((spread[:, None] + spread[None, :]) / gaps, axis=1)))
    return float(ch), db


def compact_codes(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..m-1 in sorted order (as ``np.unique(return_inverse=True)``).

    Small non-negative integers (segments, category codes) take an O(n)
    ``bincount`` route instead of a sort.
    """
    labels = np.asarray(labels)
    if (labels.dtype.kind in "iu" and labels.size
            and 0 <= labels.min() and labels.max() < 1 << 20):
        present = np.bincount(labels) > 0
        return (np.cumsum(present) - 1)[labels]
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index (as :func:`sklearn.metrics.adjusted_rand_score`), via bincount."""
    a = compact_codes(a)
    b = compact_codes(b)
    n = a.size
    kb = int(b.max()) + 1 if n else 1
    table = np.bincount(a * kb + b).astype(np.float64)
    sum_comb = float((table * (table - 1)).sum() / 2)
    rows = np.bincount(a).astype(np.float64)
    cols = np.bincount(b).astype(np.float64)
    sum_a = float((rows * (rows - 1)).sum() / 2)
    sum_b = float((cols * (cols - 1)).sum() / 2)
    total = n * (n - 1) / 2
    if total == 0 or (sum_a == sum_b == total) or (sum_a == sum_b == 0):
        return 1.0  # both labellings trivial: scikit-learn's convention
    expected = sum_a * sum_b / total
    top = (sum_a + sum_b) / 2
    return float((sum_comb - expected) / (top - expected)) if top != expected else 1.0


POLISHED_STARTS = 3  # best subsample starts refined on every row (fast path)


def starts_then_polish(fit, X: np.ndarray, k: int, *, n_init: int, seed: int, start_rows,
                        fit_kwargs: dict) -> ClusterFit:
    """``n_init`` k-means++ starts on a subsample; the best few refined on every row.

    Each start runs Lloyd to convergence on the subsample; the
    ``POLISHED_STARTS`` with the lowest subsample inertia are then refined by
    Lloyd on all rows of ``X`` and the lowest full inertia wins (a start that is
    best on the subsample is not always best on all rows).
    """
    if start_rows is None:
        return fit(X, k, n_init=n_init, seed=seed, **fit_kwargs)
    S = X[start_rows]
    starts = sorted((fit(S, k, n_init=1, seed=seed + i, **fit_kwargs) for i in range(n_init)),
                    key=lambda f: f.inertia)
    polished = [fit(X, k, n_init=1, seed=seed, init=f.centers, **fit_kwargs)
                for f in starts[:POLISHED_STARTS]]
    return min(polished, key=lambda f: f.inertia)


def sweep(
    X: np.ndarray,
    ks: list[int],
    *,
    algorithm: str = "kmeans",
    n_init: int = 10,
    seed: int = 0,
    ward: WardTree | None = None,
    silhouette_max: int = 20_000,
    silhouette_sample: int = 5_000,
    consensus_max: int | None = 5_000,
    start_max: int | None = None,
    progress: Callable[[str], None] | None = None,
    fit_kwargs: dict | None = None,
    consensus: Later | None = None,
    n_jobs: int | None = None,
) -> tuple[list[dict], dict[int, ClusterFit]]:
    """Fit every k in ``ks`` and compute the selection metrics.

    With ``start_max`` (k-means only) and more rows than that, the ``n_init``
    k-means++ starts run on a fixed-seed subsample of ``start_max`` rows and the
    best is then refined by Lloyd iterations on every row, so the metrics and
    centroids describe all of ``X`` at a fraction of the cost. The gap statistic
    and bootstrap stability (on their own subsample) are ``consensus`` if given
    (see :func:`consensus_beside`), else started here: with ``n_jobs`` of two or
    more in a worker process beside the sweep, else computed after it.

    Returns the metric rows (one dict per k) and the fits by k.
    """
    fit = get_algorithm(algorithm).fit
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    sil_rows = (np.sort(rng.choice(n, size=min(silhouette_sample, silhouette_max, n),
                                   replace=False))
                if n > silhouette_max else None)
    start_rows = None
    if start_max is not None and algorithm == "kmeans" and n > start_max:
        start_rows = np.sort(np.random.default_rng(seed + 7).choice(n, size=start_max,
                                                                     replace=False))
    if consensus is not None:
        return _sweep(X, ks, fit, n_init=n_init, seed=seed, ward=ward, sil_rows=sil_rows,
                      start_rows=start_rows, progress=progress, fit_kwargs=fit_kwargs or {},
                      consensus=consensus)
    with consensus_beside(X, ks, seed=seed, consensus_max=consensus_max, n_jobs=n_jobs) as mine:
        return _sweep(X, ks, fit, n_init=n_init, seed=seed, ward=ward, sil_rows=sil_rows,
                      start_rows=start_rows, progress=progress, fit_kwargs=fit_kwargs or {},
                      consensus=mine)


def _sweep(X: np.ndarray, ks: list[int], fit, *, n_init: int, seed: int, ward: WardTree | None,
           sil_rows: np.ndarray | None, start_rows: np.ndarray | None,
           progress: Callable[[str], None] | None, fit_kwargs: dict,
           consensus: Later | None) -> tuple[list[dict], dict[int, ClusterFit]]:
    n = X.shape[0]
    with one_thread():  # many small fits: native threads cost more than they give
        rows, fits = [], {}
        for k in ks:
            if progress:
                progress(f"k = {k}")
            f = starts_then_polish(fit, X, k, n_init=n_init, seed=seed, start_rows=start_rows,
                                    fit_kwargs=fit_kwargs)
            fits[k] = f
            n_labels = np.unique(f.labels).size
            row = {"k": int(k), "inertia": float(f.inertia), "silhouette": None,
                   "calinski_harabasz": None, "davies_bouldin": None, "ward_ari": None}
            if 1 < n_labels < n:
                row["calinski_harabasz"], row["davies_bouldin"] = ch_db(X, f.labels)
            if ward is not None and k <= ward.n_leaves:
                row["ward_ari"] = ari(ward.cut(k), f.labels)
            row.update(f.extra)
            rows.append(row)
        Xs = X if sil_rows is None else X[sil_rows]
        sils = silhouettes(Xs, [fits[k].labels if sil_rows is None else fits[k].labels[sil_rows]
                                for k in ks])
        for row, s_ in zip(rows, sils, strict=True):
            row["silhouette"] = s_ if 1 < np.unique(fits[row["k"]].labels).size < n else None
        if consensus is not None:
            if progress:
                progress("gap statistic and bootstrap stability")
            extra = consensus.result()
            for row in rows:
                row.update(extra[row["k"]])
    return rows, fits


@contextlib.contextmanager
def consensus_beside(X: np.ndarray, ks: list[int], *, seed: int = 0,
                     consensus_max: int | None = 5_000, n_jobs: int | None = None
                     ) -> Iterator[Later | None]:
    """Context giving :func:`gap_and_stability` of ``X`` for :func:`sweep`, started at once
    when ``n_jobs`` allows.

    With two jobs or more a joblib worker process computes it beside the caller's
    own work (the Ward tree, the sweep): its hundreds of small fits are mostly
    Python, which a thread would run in turns with the sweep's. With one job it is
    computed when the sweep asks for it. Either way on one native thread, so the
    numbers are the same. None when there is nothing to compute. ``X`` must not
    change meanwhile; a value not taken when the context ends is cancelled.
    """
    if not consensus_max or len(ks) < 2:
        yield None
        return
    later = beside(_gap_and_stability_one_thread, X, ks, seed=seed, max_rows=consensus_max,
                   n_jobs=n_jobs)
    try:
        yield later
    finally:
        later.cancel()  # (nothing to do once its value was taken)


def forced_k(k: int | None, best_k: int, reason: str) -> tuple[int, str]:
    """The k to fit and its reason: the user's ``k`` if given (the criteria's vote kept in
    the reason, so a disagreement stays visible), else the criteria's ``best_k``."""
    if k is None:
        return best_k, reason
    k = int(k)
    return k, (f"k = {k} was set by the user; left to the criteria, "
               + reason[0].lower() + reason[1:])


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
    gaps = [r for r in rows if r.get("gap") is not None]
    if len(gaps) > 1:
        picks["gap"] = next((a["k"] for a, b in zip(gaps, gaps[1:], strict=False)
                             if a["gap"] >= b["gap"] - b["gap_se"]), gaps[-1]["k"])
    stab = [r for r in rows if r.get("stability") is not None]
    if stab:
        picks["stability"] = best("stability", 1)
    if any(r.get("bic") is not None for r in rows):
        picks["bic"] = best("bic", -1)
    picks = {c: v for c, v in picks.items() if v is not None or c in CRITERIA[:4]}
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
        "gap": lambda kk: (f"the gap statistic's standard-error rule gives k = {kk} "
                           f"(gap {by_k[kk]['gap']:.2f})"),
        "stability": lambda kk: (f"the most stable k under bootstrap resampling is {kk} "
                                 f"(mean adjusted Rand {by_k[kk]['stability']:.2f})"),
        "bic": lambda kk: f"the lowest BIC is {_fmt(by_k[kk]['bic'])} at k = {kk}",
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
