"""The registry of clustering algorithms, by name.

Each entry is an :class:`Algorithm`: a ``fit(X, k, *, n_init, seed, init=None)``
function returning a :class:`ClusterFit`, and what the algorithm can do. Every
algorithm's result is described by centroids (the mean of each segment in the
feature space), so profiles, names and the model file work the same for all of
them; how new customers are assigned is recorded in the model (nearest
centroid; most probable component for ``gmm``; nearest exemplar, or unassigned
beyond the noise distance, for ``hdbscan``).

========================  ==========================================================
name                      what it is
========================  ==========================================================
``kmeans``                Lloyd's k-means, k-means++ starts, best of ``n_init``
``minibatch-kmeans``      mini-batch k-means (faster on large data, a little worse)
``ward``                  agglomerative Ward clustering (exact up to the Ward limit,
                          else on micro-clusters), the cut then settled by Lloyd
                          steps; new customers go to the nearest segment centroid
``gmm``                   Gaussian mixture (full covariances), best of ``n_init``;
                          BIC and AIC per k; soft membership probabilities
``hdbscan``               density-based clusters of any shape (scikit-learn's
                          HDBSCAN); finds k itself; noise becomes an explicit
                          "unassigned" segment
``kprototypes``           k-prototypes for mixed data: numeric distance plus
                          gamma x category mismatches, no one-hot (batch numpy
                          iterations; the kmodes package as ``engine="kmodes"``)
========================  ==========================================================
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture

from .._threads import one_thread
from ..errors import ParameterError
from .assign import gmm_components, kprototypes_segments, nearest_centroid

__all__ = ["ClusterFit", "Algorithm", "ALGORITHMS", "register", "get_algorithm", "fit_kmeans",
           "centroids_of", "settle", "NOISE"]

SETTLE_STEPS_WARD = 100  # Lloyd steps at most that settle a Ward tree cut (see settle)
SETTLE_STEPS_MINIBATCH = 10  # ... and mini-batch k-means (a few: it is chosen for speed)
SMALL_WORK = 5_000_000  # rows x k below which k-means runs on one thread (measured faster)
NOISE = -1


@dataclass
class ClusterFit:
    """The result of one clustering of a matrix.

    Attributes
    ----------
    labels : ndarray of int
        Segment of each row; ``NOISE`` (-1) for rows a density method leaves out.
    centers : ndarray of shape (k, n_features)
        Segment centroids (noise excluded).
    inertia : float
        Within-cluster sum of squared distances to the centroids (noise excluded).
    proba : ndarray of shape (n, k), optional
        Soft membership probabilities (``gmm``).
    extra : dict
        Algorithm-specific numbers for the selection table (e.g. BIC, AIC).
    model : dict
        What assigning new customers needs beyond centroids (e.g. GMM covariances).
    """

    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    n_iter: int = 0
    proba: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)


@dataclass
class Algorithm:
    """A registered algorithm: its fit function and abilities."""

    name: str
    fit: Callable[..., ClusterFit]
    chooses_k: bool = False  # finds the number of segments itself (no k sweep)
    soft: bool = False  # gives membership probabilities
    samples_itself: bool = False  # the final fit takes all rows (it samples internally)
    needs_layout: bool = False  # needs to know which features are one-hot groups
    description: str = ""


ALGORITHMS: dict[str, Algorithm] = {}


def register(name: str, **abilities):
    """Decorator adding a fit function to :data:`ALGORITHMS` under ``name``."""

    def deco(fn):
        ALGORITHMS[name] = Algorithm(name=name, fit=fn, **abilities)
        return fn

    return deco


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ALGORITHMS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"unknown algorithm {name!r}{hint}",
            fix=f"use one of {', '.join(sorted(ALGORITHMS))}",
        ) from None


def centroids_of(X: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Mean of each label 0..k-1 (noise ignored) and the within-cluster sum of squares."""
    ok = labels >= 0
    counts = np.bincount(labels[ok], minlength=k).astype(float)
    sums = np.column_stack([np.bincount(labels[ok], weights=X[ok, j], minlength=k)
                            for j in range(X.shape[1])])
    centers = sums / np.maximum(counts, 1)[:, None]
    diff = X[ok] - centers[labels[ok]]
    return centers, float(np.einsum("ij,ij->", diff, diff))


def settle(X: np.ndarray, labels: np.ndarray, k: int, *,
           max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, int]:
    """Lloyd steps from ``labels`` until every row is in the segment of its nearest centroid.

    A segmentation is *settled* when each row's label is its nearest centroid (by
    :func:`custseg.model.nearest_centroid`, the rule a model assigns with) and each
    centroid is the mean of its rows. Ward's tree cut and mini-batch k-means are not
    settled (a customer near a boundary can sit nearer another segment's centroid),
    so a model would assign their training customers elsewhere; this moves them,
    recomputes the centroids and repeats until nothing moves. Each step lowers the
    within-cluster sum of squares (Ward's own objective). Deterministic.

    An empty segment is given the row farthest from its own centroid. If ``max_iter``
    steps do not settle, the labels are the nearest of the last centroids and those
    centroids are returned (not the exact means): the assignment rule still holds.

    Returns
    -------
    labels : ndarray of int64
    centers : ndarray of shape (k, n_features)
    n_iter : int
        Steps taken (0: the labels were already settled).
    """
    labels = np.asarray(labels, dtype=np.int64)
    for step in range(max_iter + 1):
        centers, _ = centroids_of(X, labels, k)
        new, dist = _nearest_with_distance(X, centers)
        empty = np.flatnonzero(np.bincount(new, minlength=k) == 0)
        for c in empty:  # give it the row farthest from its centroid (deterministic)
            far = int(np.argmax(dist))
            new[far] = c
            dist[far] = -1.0
        if not empty.size and np.array_equal(new, labels):
            return labels, centers, step
        labels = new
    # not settled: keep the rule exact with the last centroids
    return _nearest(X, centers), centers, max_iter


def _threads(X: np.ndarray, k: int):
    """Thread limits for one fit: one thread below ``SMALL_WORK`` rows x k.

    OpenMP and BLAS threads only pay off on large inputs; on small ones their
    start-up and spin-waiting cost far more than the work, worst on a busy
    machine.
    """
    if X.shape[0] * k >= SMALL_WORK:
        return contextlib.nullcontext()
    return one_thread()


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return _nearest_with_distance(X, centers)[0]


def _nearest_with_distance(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return nearest_centroid(X, centers)


@register("kmeans", description="Lloyd's k-means with k-means++ starts")
def fit_kmeans(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
               init: np.ndarray | None = None, tol: float = 1e-4,
               max_iter: int = 300, copy_x: bool = True) -> ClusterFit:
    """k-means (Lloyd) with k-means++ starts, keeping the best of ``n_init``.

    With ``init`` (a k x p array of starting centroids) a single run starts there.
    ``tol=0`` runs until no label changes (cheaper at scale than scikit-learn's
    centre-shift check); ``copy_x=False`` lets scikit-learn centre ``X`` in place
    and restore it (no copy of a large matrix).
    """
    if init is None:
        km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed,
                    tol=tol, max_iter=max_iter, copy_x=copy_x)
    else:
        km = KMeans(n_clusters=k, init=np.asarray(init, dtype=X.dtype), n_init=1,
                    random_state=seed, tol=tol, max_iter=max_iter, copy_x=copy_x)
    with _threads(X, k):
        km.fit(X)
    return ClusterFit(labels=km.labels_.astype(np.int64),
                      centers=km.cluster_centers_.astype(np.float64),
                      inertia=float(km.inertia_), n_iter=int(km.n_iter_))


@register("minibatch-kmeans", description="mini-batch k-means")
def fit_minibatch(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
                  init: np.ndarray | None = None) -> ClusterFit:
    """Mini-batch k-means, then at most ``SETTLE_STEPS_MINIBATCH`` full Lloyd steps on every
    row (:func:`settle`), so each row's label is its nearest centroid, as a model assigns."""
    mb = MiniBatchKMeans(n_clusters=k, init="k-means++" if init is None else init,
                         n_init=n_init if init is None else 1, random_state=seed,
                         batch_size=min(4096, X.shape[0]))
    with _threads(X, k):
        mb.fit(X)
    labels, centers, steps = settle(X, _nearest(X, mb.cluster_centers_), k,
                                    max_iter=SETTLE_STEPS_MINIBATCH)
    _, inertia = centroids_of(X, labels, k)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia,
                      n_iter=int(mb.n_iter_) + steps)


@register("ward", description="agglomerative Ward clustering")
def fit_ward(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
             init: np.ndarray | None = None, exact_max: int = 10_000) -> ClusterFit:
    """Ward clustering; above ``exact_max`` rows, Ward on k-means micro-clusters.

    With ``init`` (centroids from a sample) every row starts at the nearest one. The
    labels are then settled (:func:`settle`, at most ``SETTLE_STEPS_WARD`` Lloyd steps)
    so that every row is in the segment of its nearest centroid, the rule that
    assigns new customers.
    """
    if init is not None:
        labels = _nearest(X, init)
    elif X.shape[0] <= exact_max:
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(X)
    else:
        from .hierarchy import ward_tree

        labels = ward_tree(X, exact_max=exact_max, seed=seed).cut(k)
    # the tree cut is not the nearest-centroid rule new customers are assigned by:
    # settle it (Lloyd steps lower the within-cluster sum of squares, Ward's objective)
    labels, centers, steps = settle(X, labels, k, max_iter=SETTLE_STEPS_WARD)
    _, inertia = centroids_of(X, labels, k)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia, n_iter=steps)


@register("gmm", soft=True, description="Gaussian mixture with full covariances")
def fit_gmm(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
            init: np.ndarray | None = None, max_rows: int = 20_000) -> ClusterFit:
    """Gaussian mixture; BIC and AIC recorded; hard labels = most probable component
    (computed by :func:`custseg.cluster.assign.gmm_components`, the rule a model assigns with).

    EM runs on at most ``max_rows`` rows (a fixed-seed sample above; recorded as
    ``fitted_on_rows`` in the model): a mixture of at most a few dozen parameters per
    component is estimated as well from 20,000 rows, and EM's cost grows with the
    rows. Probabilities, labels, BIC and AIC are then computed on every row.
    """
    n = X.shape[0]
    rows = (np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
            if n > max_rows else slice(None))
    gm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed,
                         n_init=1 if init is not None else max(1, min(n_init, 3)),
                         means_init=init, reg_covar=1e-6)
    with _threads(X, k):
        gm.fit(X[rows])
    proba = gm.predict_proba(X)
    model = {"weights": gm.weights_.tolist(), "means": gm.means_.tolist(),
             "covariances": gm.covariances_.tolist(), "fitted_on_rows": int(min(n, max_rows))}
    # hard labels by the very rule a model assigns with (the most probable component
    # from the stored parameters); the same as proba.argmax(1) except at a tie within
    # rounding, where the model's rule wins
    labels = gmm_components(X, model)
    centers, inertia = centroids_of(X, labels, k)
    return ClusterFit(
        labels=labels, centers=centers, inertia=inertia, n_iter=int(gm.n_iter_), proba=proba,
        extra={"bic": float(gm.bic(X)), "aic": float(gm.aic(X))}, model=model,
    )


@register("hdbscan", chooses_k=True, description="density-based clustering (HDBSCAN)")
def fit_hdbscan(X: np.ndarray, k: int | None = None, *, n_init: int = 10, seed: int = 0,
                init: np.ndarray | None = None, min_cluster_size: int | None = None,
                max_rows: int = 20_000) -> ClusterFit:
    """HDBSCAN on at most ``max_rows`` rows (a fixed-seed sample above); the rest, and new
    customers, go to the nearest exemplar, or to noise beyond the noise distance.

    ``k`` is ignored: the number of clusters is found from the density.
    """
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else np.arange(n)
    Xs = X[rows]
    mcs = min_cluster_size or max(10, int(0.01 * Xs.shape[0]))
    mcs = max(2, min(mcs, Xs.shape[0] // 2))  # never more than the rows can give
    hd = HDBSCAN(min_cluster_size=mcs, copy=True).fit(Xs)
    lab_s = hd.labels_.astype(np.int64)
    kk = int(lab_s.max() + 1) if (lab_s >= 0).any() else 0
    if kk == 0:  # everything noise: one cluster of all
        lab_s = np.zeros(Xs.shape[0], dtype=np.int64)
        kk = 1
    # exemplars: up to 200 members per cluster, fixed seed
    exemplars, owner = [], []
    for c in range(kk):
        members = np.flatnonzero(lab_s == c)
        pick = members if members.size <= 200 else np.sort(rng.choice(members, 200, replace=False))
        exemplars.append(Xs[pick])
        owner += [c] * pick.size
    E = np.vstack(exemplars)
    owner_arr = np.asarray(owner, dtype=np.int64)
    member = lab_s >= 0
    # how far members lie from the nearest exemplar other than themselves
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(2, E.shape[0])).fit(E)
    dist, _ = nn.kneighbors(Xs[member])
    d = np.where(dist[:, 0] > 0, dist[:, 0], dist[:, -1])
    noise_distance = float(np.quantile(d, 0.99)) if d.size else 0.0
    while True:
        idx_all, d_all = nearest_centroid(X, E)
        labels = owner_arr[idx_all]
        labels[d_all > noise_distance] = NOISE  # the same rule assigns new customers
        sizes = np.bincount(labels[labels >= 0], minlength=kk)
        if (sizes > 0).all() or kk == 1:
            break
        # a cluster whose exemplars all lose to another's (duplicated rows): drop it
        # and its exemplars, and assign again, so every segment is used and every row
        # still follows the rule with the exemplars kept
        new_of_old = np.full(kk, -1, dtype=np.int64)
        new_of_old[sizes > 0] = np.arange(int((sizes > 0).sum()))
        keep = new_of_old[owner_arr] >= 0
        E, owner_arr, kk = E[keep], new_of_old[owner_arr[keep]], int((sizes > 0).sum())
    centers, inertia = centroids_of(X, labels, kk)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia,
                      extra={"min_cluster_size": mcs, "noise_share": float((labels < 0).mean())},
                      model={"exemplars": E.tolist(), "exemplar_segment": owner_arr.tolist(),
                             "noise_distance": noise_distance,
                             "fitted_on_rows": int(Xs.shape[0])})


@register("kprototypes", samples_itself=True, needs_layout=True,
          description="k-prototypes for mixed numeric and categorical data")
def fit_kprototypes(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
                    init: np.ndarray | None = None, layout: list | None = None,
                    max_rows: int = 20_000, engine: str = "numpy") -> ClusterFit:
    """k-prototypes (Huang): squared distance on the scaled numeric columns plus gamma
    times the number of mismatched categories, without one-hot distances.

    Fitted on at most ``max_rows`` rows (a fixed-seed sample above; the sample size is
    recorded as ``fitted_on_rows`` in the model); every row, and every new customer,
    then goes to the nearest prototype by the same rule (:func:`kprototypes_segments`).

    ``engine="numpy"`` (default) runs batch iterations (assign every row to its
    nearest prototype, then prototypes = numeric means and category modes) from
    k-means++-style starts, best of ``min(n_init, 3)`` by total cost, with the kmodes
    package's gamma (half the mean standard deviation of the numeric columns).
    ``engine="kmodes"`` uses the kmodes package's ``KPrototypes`` (Cao starts, Huang's
    row-by-row updates): the same cost, but a Python loop over rows, about 1,000 times
    slower (243 s for 20,000 rows at k = 8 on the benchmark machine).
    """
    layout = layout or [(j, 1, False) for j in range(X.shape[1])]
    numeric = [start for start, _, cat in layout if not cat]
    groups = [(start, width) for start, width, cat in layout if cat]
    if not groups:
        raise ParameterError("kprototypes needs at least one categorical clustering column",
                             fix="use --cluster-on with a categorical column, or kmeans")
    if engine not in ("numpy", "kmodes"):
        raise ParameterError(f"The 'engine' parameter of kprototypes must be one of "
                             f"('numpy', 'kmodes'). Got {engine!r} instead.")
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else np.arange(n)
    Xs = X[rows]
    num = Xs[:, numeric]
    codes = np.column_stack([Xs[:, s:s + w].argmax(1) for s, w in groups]).astype(np.int64)
    gamma = float(0.5 * np.mean(num.std(axis=0))) if numeric else 1.0
    if engine == "kmodes":
        numeric_centers, modes, gamma = _kprototypes_kmodes(num, codes, k, gamma, seed, n_init)
    else:
        numeric_centers, modes = _kprototypes_numpy(num, codes, [w for _, w in groups], k,
                                                    gamma, rng, max(1, min(n_init, 3)))
    model = {"numeric_columns": numeric, "groups": [list(g) for g in groups],
             "numeric_centers": numeric_centers.tolist(), "modes": modes.tolist(),
             "gamma": gamma, "fitted_on_rows": int(rows.size)}
    labels = kprototypes_segments(X, model)
    centers, inertia = centroids_of(X, labels, k)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia,
                      extra={"gamma": gamma}, model=model)


def _kprototypes_cost(num: np.ndarray, codes: np.ndarray, centers: np.ndarray,
                      modes: np.ndarray, gamma: float) -> np.ndarray:
    """(rows x prototypes) cost: squared numeric distance + gamma x category mismatches."""
    cost = np.zeros((num.shape[0], centers.shape[0]))
    for j in range(num.shape[1]):
        cost += (num[:, j, None] - centers[None, :, j]) ** 2
    for g in range(codes.shape[1]):
        cost += gamma * (codes[:, g, None] != modes[None, :, g])
    return cost


def _kprototypes_numpy(num: np.ndarray, codes: np.ndarray, widths: list[int], k: int,
                       gamma: float, rng: np.random.Generator, n_init: int,
                       max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Batch k-prototypes: best (lowest total cost) of ``n_init`` runs."""
    n = num.shape[0]
    best = None
    for _ in range(n_init):
        # k-means++-style starts on the k-prototypes cost
        pick = [int(rng.integers(n))]
        near = _kprototypes_cost(num, codes, num[pick], codes[pick], gamma)[:, 0]
        for _ in range(1, k):
            total = near.sum()
            nxt = int(rng.choice(n, p=near / total)) if total > 0 else int(rng.integers(n))
            pick.append(nxt)
            near = np.minimum(near, _kprototypes_cost(num, codes, num[[nxt]], codes[[nxt]],
                                                      gamma)[:, 0])
        centers, modes = num[pick].copy(), codes[pick].copy()
        labels = None
        for _ in range(max_iter):
            cost = _kprototypes_cost(num, codes, centers, modes, gamma)
            new = cost.argmin(1)
            own = cost[np.arange(n), new]
            for c in np.flatnonzero(np.bincount(new, minlength=k) == 0):
                far = int(np.argmax(own))  # an empty prototype takes the worst-fitting row
                new[far], own[far] = c, -1.0
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            counts = np.bincount(labels, minlength=k).astype(float)
            for j in range(num.shape[1]):
                centers[:, j] = np.bincount(labels, weights=num[:, j], minlength=k) / counts
            for g, w in enumerate(widths):
                tally = np.bincount(labels * w + codes[:, g], minlength=k * w).reshape(k, w)
                modes[:, g] = tally.argmax(1)
        total = float(_kprototypes_cost(num, codes, centers, modes, gamma).min(1).sum())
        if best is None or total < best[0]:
            best = (total, centers, modes)
    return best[1], best[2]


def _kprototypes_kmodes(num: np.ndarray, codes: np.ndarray, k: int, gamma: float, seed: int,
                        n_init: int) -> tuple[np.ndarray, np.ndarray, float]:
    try:
        from kmodes.kprototypes import KPrototypes
    except ImportError:  # pragma: no cover - the dependency is declared
        raise ParameterError("the kmodes engine of kprototypes needs the kmodes package",
                             fix="pip install kmodes, or use engine='numpy'") from None
    M = np.column_stack([num, codes])
    p = num.shape[1]
    kp = KPrototypes(n_clusters=k, init="Cao", n_init=max(1, min(n_init, 3)), gamma=gamma,
                     random_state=seed, n_jobs=1)
    kp.fit(M, categorical=list(range(p, p + codes.shape[1])))
    centroids = np.asarray(kp.cluster_centroids_, dtype=float)
    return centroids[:, :p], centroids[:, p:].astype(np.int64), float(kp.gamma)
