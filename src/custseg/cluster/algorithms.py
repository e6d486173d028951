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
                          else on micro-clusters); new customers go to the nearest
                          segment centroid
``gmm``                   Gaussian mixture (full covariances), best of ``n_init``;
                          BIC and AIC per k; soft membership probabilities
``hdbscan``               density-based clusters of any shape (scikit-learn's
                          HDBSCAN); finds k itself; noise becomes an explicit
                          "unassigned" segment
``kprototypes``           k-prototypes for mixed data (kmodes package): numeric
                          distance plus gamma x category mismatches, no one-hot
========================  ==========================================================
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from ..errors import ParameterError

__all__ = ["ClusterFit", "Algorithm", "ALGORITHMS", "register", "get_algorithm", "fit_kmeans",
           "centroids_of", "NOISE"]

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


def _threads(X: np.ndarray, k: int):
    # OpenMP threads only pay off on large inputs; on small ones their start-up and
    # spin-waiting cost far more than the work, worst on a busy machine.
    return threadpool_limits(limits=1 if X.shape[0] * k < SMALL_WORK else None,
                             user_api="openmp")


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    from ..model import nearest_centroid

    return nearest_centroid(X, centers)[0]


@register("kmeans", description="Lloyd's k-means with k-means++ starts")
def fit_kmeans(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
               init: np.ndarray | None = None, tol: float = 1e-4,
               max_iter: int = 300) -> ClusterFit:
    """k-means (Lloyd) with k-means++ starts, keeping the best of ``n_init``.

    With ``init`` (a k x p array of starting centroids) a single run starts there.
    """
    if init is None:
        km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed,
                    tol=tol, max_iter=max_iter)
    else:
        km = KMeans(n_clusters=k, init=init, n_init=1, random_state=seed, tol=tol,
                    max_iter=max_iter)
    with _threads(X, k):
        km.fit(X)
    return ClusterFit(labels=km.labels_.astype(np.int64), centers=km.cluster_centers_,
                      inertia=float(km.inertia_), n_iter=int(km.n_iter_))


@register("minibatch-kmeans", description="mini-batch k-means")
def fit_minibatch(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
                  init: np.ndarray | None = None) -> ClusterFit:
    """Mini-batch k-means; labels and inertia computed exactly on every row at the end."""
    mb = MiniBatchKMeans(n_clusters=k, init="k-means++" if init is None else init,
                         n_init=n_init if init is None else 1, random_state=seed,
                         batch_size=min(4096, X.shape[0]))
    with _threads(X, k):
        mb.fit(X)
    labels = _nearest(X, mb.cluster_centers_)
    centers, inertia = centroids_of(X, labels, k)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia, n_iter=int(mb.n_iter_))


@register("ward", description="agglomerative Ward clustering")
def fit_ward(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
             init: np.ndarray | None = None, exact_max: int = 10_000) -> ClusterFit:
    """Ward clustering; above ``exact_max`` rows, Ward on k-means micro-clusters.

    With ``init`` (centroids from a sample) every row goes to the nearest one.
    """
    if init is not None:
        labels = _nearest(X, init)
    elif X.shape[0] <= exact_max:
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(X)
    else:
        from .hierarchy import ward_tree

        labels = ward_tree(X, exact_max=exact_max, seed=seed).cut(k)
    labels = labels.astype(np.int64)
    centers, inertia = centroids_of(X, labels, k)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia)


@register("gmm", soft=True, description="Gaussian mixture with full covariances")
def fit_gmm(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
            init: np.ndarray | None = None) -> ClusterFit:
    """Gaussian mixture; BIC and AIC recorded; hard labels = most probable component."""
    gm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed,
                         n_init=1 if init is not None else max(1, min(n_init, 3)),
                         means_init=init, reg_covar=1e-6)
    with _threads(X, k):
        gm.fit(X)
    proba = gm.predict_proba(X)
    labels = proba.argmax(1).astype(np.int64)
    centers, inertia = centroids_of(X, labels, k)
    return ClusterFit(
        labels=labels, centers=centers, inertia=inertia, n_iter=int(gm.n_iter_), proba=proba,
        extra={"bic": float(gm.bic(X)), "aic": float(gm.aic(X))},
        model={"weights": gm.weights_.tolist(), "means": gm.means_.tolist(),
               "covariances": gm.covariances_.tolist()},
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
    from ..model import nearest_centroid

    member = lab_s >= 0
    # how far members lie from the nearest exemplar other than themselves
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(2, E.shape[0])).fit(E)
    dist, _ = nn.kneighbors(Xs[member])
    d = np.where(dist[:, 0] > 0, dist[:, 0], dist[:, -1])
    noise_distance = float(np.quantile(d, 0.99)) if d.size else 0.0
    idx_all, d_all = nearest_centroid(X, E)
    labels = owner_arr[idx_all]
    labels[d_all > noise_distance] = NOISE  # the same rule assigns new customers
    centers, inertia = centroids_of(X, labels, kk)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia,
                      extra={"min_cluster_size": mcs, "noise_share": float((labels < 0).mean())},
                      model={"exemplars": E.tolist(), "exemplar_segment": owner_arr.tolist(),
                             "noise_distance": noise_distance})


@register("kprototypes", samples_itself=True, needs_layout=True,
          description="k-prototypes for mixed numeric and categorical data (kmodes package)")
def fit_kprototypes(X: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0,
                    init: np.ndarray | None = None, layout: list | None = None,
                    max_rows: int = 20_000) -> ClusterFit:
    """k-prototypes (Huang): squared distance on the scaled numeric columns plus gamma
    times the number of mismatched categories, without one-hot distances.

    Fitted on at most ``max_rows`` rows (a fixed-seed sample above); every row, and
    every new customer, then goes to the nearest prototype by the same rule.
    """
    try:
        from kmodes.kprototypes import KPrototypes
    except ImportError:  # pragma: no cover - the dependency is declared
        raise ParameterError("the kprototypes algorithm needs the kmodes package",
                             fix="pip install kmodes") from None
    layout = layout or [(j, 1, False) for j in range(X.shape[1])]
    numeric = [start for start, _, cat in layout if not cat]
    groups = [(start, width) for start, width, cat in layout if cat]
    if not groups:
        raise ParameterError("kprototypes needs at least one categorical clustering column",
                             fix="use --cluster-on with a categorical column, or kmeans")
    M = np.column_stack([X[:, numeric]] + [X[:, s:s + w].argmax(1)[:, None] for s, w in groups])
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else np.arange(n)
    cat_idx = list(range(len(numeric), len(numeric) + len(groups)))
    kp = KPrototypes(n_clusters=k, init="Cao", n_init=max(1, min(n_init, 3)),
                     random_state=seed, n_jobs=1)
    kp.fit(M[rows], categorical=cat_idx)
    centroids = np.asarray(kp.cluster_centroids_, dtype=float)
    model = {"numeric_columns": numeric, "groups": [list(g) for g in groups],
             "numeric_centers": centroids[:, :len(numeric)].tolist(),
             "modes": centroids[:, len(numeric):].astype(int).tolist(), "gamma": float(kp.gamma)}
    labels = kprototypes_segments(X, model)
    centers, inertia = centroids_of(X, labels, k)
    return ClusterFit(labels=labels, centers=centers, inertia=inertia,
                      extra={"gamma": float(kp.gamma)}, model=model)


def kprototypes_segments(X: np.ndarray, model: dict) -> np.ndarray:
    """Nearest prototype: squared numeric distance + gamma x category mismatches."""
    num = np.asarray(model["numeric_centers"], dtype=float)
    modes = np.asarray(model["modes"], dtype=np.int64)
    cost = np.zeros((X.shape[0], num.shape[0]))
    if num.shape[1]:
        Xn = X[:, model["numeric_columns"]]
        cost += ((Xn[:, None, :] - num[None, :, :]) ** 2).sum(-1)
    for g, (start, width) in enumerate(model["groups"]):
        codes = X[:, start:start + width].argmax(1)
        unseen = X[:, start:start + width].max(1) <= X[:, start:start + width].min(1)
        mismatch = (codes[:, None] != modes[None, :, g]) | unseen[:, None]
        cost += model["gamma"] * mismatch
    return cost.argmin(1).astype(np.int64)
