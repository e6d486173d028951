"""The assignment kernels: which segment each row of a feature matrix belongs to.

One rule per kind of model, shared by the fit (so that a training customer is
assigned where the fit put it), the portable model (:class:`custseg.model.SegmentModel`)
and through it the ``assign`` command and the API: the nearest centroid (k-means
and every algorithm described by centroids, HDBSCAN's exemplars), the most probable
Gaussian-mixture component, and the nearest k-prototype.
"""

from __future__ import annotations

import numpy as np

from .._threads import one_blas_thread

__all__ = ["nearest_centroid", "nearest_chunk_rows", "gmm_components", "kprototypes_segments",
           "NEAREST_BUDGET_BYTES", "NEAREST_MAX_ROWS"]

# Memory for the (rows x centres) matrix of squared distances in nearest_centroid:
# rows per chunk are chosen so that it stays within this budget (issue #7: with
# ~2,400 HDBSCAN exemplars a fixed 262,144-row chunk needed 5 GB per matrix).
NEAREST_BUDGET_BYTES = 64 * 2**20
NEAREST_MAX_ROWS = 262_144


def nearest_chunk_rows(n_centres: int, budget: int | None = None) -> int:
    """Rows per chunk of :func:`nearest_centroid` for ``n_centres`` centres.

    The float64 distance matrix of a chunk (rows x centres x 8 bytes) stays within
    ``budget`` bytes (default :data:`NEAREST_BUDGET_BYTES`), with at most
    :data:`NEAREST_MAX_ROWS` and at least 1 row.
    """
    if budget is None:
        budget = NEAREST_BUDGET_BYTES
    return int(max(1, min(NEAREST_MAX_ROWS, budget // (8 * max(1, int(n_centres))))))


def nearest_centroid(Z: np.ndarray, centers: np.ndarray,
                     chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index of and Euclidean distance to the nearest centre for each row of ``Z``.

    Works through ``Z`` in chunks of ``chunk`` rows (default
    :func:`nearest_chunk_rows`, so memory is bounded whatever the number of
    centres). The nearest centre is the argmin of ``|z|^2 - 2 z.c + |c|^2``; the
    distance returned is recomputed from the difference, so it is exact.
    """
    n = Z.shape[0]
    centers = np.asarray(centers, dtype=np.float64)
    if chunk is None:
        chunk = nearest_chunk_rows(centers.shape[0])
    labels = np.empty(n, dtype=np.int64)
    dist = np.empty(n, dtype=np.float64)
    if n >= 65_536 and centers.shape[1] <= 16:
        # BLAS on one thread: for thin products (few features) a second thread does not
        # pay, and on a busy machine its spin-waiting makes them 10-40x slower; the
        # results are the same bits either way (each entry is computed by one thread)
        with one_blas_thread():
            _nearest_chunks(Z, centers, chunk, labels, dist)
    else:
        _nearest_chunks(Z, centers, chunk, labels, dist)
    return labels, dist


def _nearest_chunks(Z: np.ndarray, centers: np.ndarray, chunk: int, labels: np.ndarray,
                    dist: np.ndarray) -> None:
    d = centers.shape[1]
    c2 = (centers ** 2).sum(1)
    columns = [np.ascontiguousarray(centers[:, j]) for j in range(d)]
    for start in range(0, Z.shape[0], chunk):
        z = Z[start:start + chunk]
        # the same operations, in the same order, as |z|^2 - (2z) @ C.T + |c|^2,
        # in place: one (rows x centres) matrix at a time
        d2 = (2.0 * z) @ centers.T
        np.subtract(_row_sums_of_squares(z), d2, out=d2)
        d2 += c2[None, :]
        lab = np.argmin(d2, axis=1)
        del d2
        labels[start:start + chunk] = lab
        if d < 8:  # the same sums as ((z - C[lab]) ** 2).sum(1), a column at a time
            acc = (z[:, 0] - columns[0][lab]) ** 2
            for j in range(1, d):
                acc += (z[:, j] - columns[j][lab]) ** 2
        else:
            acc = ((z - centers[lab]) ** 2).sum(1)
        dist[start:start + chunk] = np.sqrt(acc)


def _row_sums_of_squares(z: np.ndarray) -> np.ndarray:
    """``(z ** 2).sum(1)[:, None]``, bit for bit; a column at a time for fewer than 8 columns.

    (numpy sums a row of fewer than 8 values left to right, as the loop does.)
    """
    d = z.shape[1]
    if d >= 8 or d == 0:
        return (z ** 2).sum(1)[:, None]
    acc = z[:, 0] ** 2
    for j in range(1, d):
        acc += z[:, j] ** 2
    return acc[:, None]


def gmm_components(Z: np.ndarray, m: dict) -> np.ndarray:
    """Most probable component of each row under a Gaussian mixture's parameters."""
    weights = np.asarray(m["weights"], dtype=float)
    means = np.asarray(m["means"], dtype=float)
    covs = np.asarray(m["covariances"], dtype=float)
    logp = np.empty((Z.shape[0], weights.size))
    for c in range(weights.size):
        L = np.linalg.cholesky(covs[c])
        sol = np.linalg.solve(L, (Z - means[c]).T)
        logdet = 2.0 * np.log(np.diag(L)).sum()
        logp[:, c] = np.log(weights[c]) - 0.5 * (logdet + (sol ** 2).sum(0))
    return logp.argmax(1).astype(np.int64)


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
