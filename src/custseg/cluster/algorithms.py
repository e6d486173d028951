"""The registry of clustering algorithms, by name.

Each entry is a function ``fit(X, k, *, n_init, seed, init=None) -> ClusterFit``.
Every algorithm ends in centroids, so new customers are assigned to the nearest
one whatever the algorithm (see :mod:`custseg.model`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from ..errors import ParameterError

__all__ = ["ClusterFit", "ALGORITHMS", "register", "get_algorithm", "fit_kmeans"]


@dataclass
class ClusterFit:
    """The result of one clustering of a matrix into k groups."""

    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    n_iter: int = 0


ALGORITHMS: dict[str, Callable[..., ClusterFit]] = {}
SMALL_WORK = 500_000  # rows x k below which k-means runs on one thread


def register(name: str):
    """Decorator adding a fit function to :data:`ALGORITHMS` under ``name``."""

    def deco(fn):
        ALGORITHMS[name] = fn
        return fn

    return deco


def get_algorithm(name: str) -> Callable[..., ClusterFit]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ALGORITHMS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"unknown algorithm {name!r}{hint}",
            fix=f"use one of {', '.join(sorted(ALGORITHMS))}",
        ) from None


@register("kmeans")
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
    # OpenMP threads only pay off on large inputs; on small ones their start-up and
    # spin-waiting cost far more than the work, worst on a busy machine.
    with threadpool_limits(limits=1 if X.shape[0] * k < SMALL_WORK else None,
                           user_api="openmp"):
        km.fit(X)
    return ClusterFit(labels=km.labels_.astype(np.int64), centers=km.cluster_centers_,
                      inertia=float(km.inertia_), n_iter=int(km.n_iter_))
