"""The portable segment model: plain data that assigns new customers.

A :class:`SegmentModel` holds the spec, the fitted feature space, the centroids,
the segment names and the training distances. It is what ``model.json`` stores
(see :mod:`custseg.modelfile` for the file format) and what everything that
assigns customers uses: :class:`~custseg.segmenter.CustomerSegmenter.predict`, the
``assign`` command and the API.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .features import Columns, FeatureSpace, n_rows
from .spec import Spec

__all__ = ["SegmentModel", "nearest_centroid", "nearest_chunk_rows", "FORMAT_VERSION"]

FORMAT_VERSION = 1
DISTANCE_QUANTILES = (0.5, 0.9, 0.95, 0.99)


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


_BLAS: list = []  # a threadpoolctl controller, built on first use (it scans the libraries)


def _one_blas_thread():
    """Context: BLAS on one thread. For thin products (few features) a second thread
    does not pay, and on a busy machine its spin-waiting makes them 10-40x slower;
    the results are the same bits either way (each entry is computed by one thread)."""
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


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
        with _one_blas_thread():
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


class SegmentModel:
    """Assigns customers to the nearest segment centroid in the feature space.

    Parameters
    ----------
    spec : Spec
    features : FeatureSpace
        Fitted.
    centers : ndarray of shape (k, n_features)
    names : list of str
    distance_quantiles : list of dict
        Per segment, training distances at the 50th, 90th, 95th and 99th percentile.
    info : dict
        Algorithm, parameters, training summary and reference distributions.
    """

    def __init__(self, spec: Spec, features: FeatureSpace, centers: np.ndarray, names: list[str],
                 distance_quantiles: list[dict], info: dict | None = None):
        self.spec = spec
        self.features = features
        self.centers = np.asarray(centers, dtype=np.float64)
        self.names = list(names)
        self.distance_quantiles = distance_quantiles
        self.info = info or {}

    @property
    def k(self) -> int:
        return int(self.centers.shape[0])

    def segments_of(self, Z: np.ndarray) -> np.ndarray:
        """Segment of each row of the feature matrix, by the algorithm's own rule.

        Nearest centroid by default; the most probable component for a Gaussian
        mixture; the nearest exemplar's segment for HDBSCAN, or the unassigned
        (noise) segment beyond the noise distance.
        """
        m = (self.info.get("algorithm") or {}).get("model") or {}
        if "exemplars" in m:
            E = np.asarray(m["exemplars"], dtype=float)
            owner = np.asarray(m["exemplar_segment"], dtype=np.int64)
            idx, d = nearest_centroid(Z, E)
            labels = owner[idx]
            if "noise_segment" in m:
                labels[d > float(m["noise_distance"])] = int(m["noise_segment"])
            return labels
        if "covariances" in m:
            return gmm_components(Z, m)
        if "modes" in m:
            from .cluster.algorithms import kprototypes_segments

            return kprototypes_segments(Z, m)
        return nearest_centroid(Z, self.centers)[0]

    def assign_typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Segments of typed data (as :func:`custseg.validate.validate` returns)."""
        labels, dist, unfamiliar = self.assign_arrays(frame)
        return pd.DataFrame({
            "segment": labels,
            "segment_name": np.asarray(self.names, dtype=object)[labels],
            "distance": dist,
            "unfamiliar": unfamiliar,
        }, index=frame.index)

    def assign_arrays(self, frame: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segment, distance to its centroid and unfamiliar flag of each row of typed data.

        The assignment kernel of every path (:meth:`assign`, ``custseg assign``, the
        API): :meth:`FeatureSpace.transform <custseg.features.FeatureSpace.transform>`,
        then :meth:`segments_of`, the Euclidean distance to the segment's centroid,
        and unfamiliar = farther than the segment's 99th training percentile or a
        category level the model never saw. ``frame`` is typed, valid data: a
        DataFrame or a mapping of column name to 1-D array (see ``transform``).
        """
        Z = self.features.transform(frame)
        labels = self.segments_of(Z)
        diff = Z - self.centers[labels]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        p99 = np.array([q["0.99"] for q in self.distance_quantiles])
        unfamiliar = (dist > p99[labels]) | self.features.unseen_levels(frame)
        return labels, dist, unfamiliar

    def assign(self, df: pd.DataFrame, *, row_offset: int = 0) -> tuple[pd.DataFrame, list]:
        """Assign raw data (as read) to segments.

        Returns the assignments (the id column when the data has the spec's id,
        else ``row`` counted from ``row_offset + 1``; then ``segment``,
        ``segment_name``, ``distance``, ``unfamiliar``) and the validation warnings.
        Rows left out by a ``missing = "drop"`` policy get segment -1. Raises
        :class:`~custseg.errors.ValidationError` when the data breaks the spec.
        """
        from .errors import ValidationError
        from .validate import validate

        needed = list(self.features.columns_)
        extra = [c for c in self.spec.used if c not in needed and c in df.columns]
        checked = validate(df, self.spec, mode="assign", required=needed + extra,
                           row_offset=row_offset)
        if checked.errors:
            raise ValidationError(checked.problems)
        n = len(df)
        out = pd.DataFrame(index=pd.RangeIndex(n))
        if self.spec.id and self.spec.id in df.columns:
            out[self.spec.id] = df[self.spec.id].to_numpy()
        else:
            out["row"] = np.arange(row_offset + 1, row_offset + n + 1)
        keep = ~checked.drop
        res = self.assign_typed(checked.frame.loc[keep])
        seg = np.full(n, -1, dtype=np.int64)
        seg[keep] = res["segment"].to_numpy()
        names = np.full(n, "", dtype=object)
        names[keep] = res["segment_name"].to_numpy()
        dist = np.full(n, np.nan)
        dist[keep] = res["distance"].to_numpy()
        unfamiliar = np.ones(n, dtype=bool)
        unfamiliar[keep] = res["unfamiliar"].to_numpy()
        unfamiliar |= self.unseen_describing(checked.frame, extra)
        out["segment"] = seg
        out["segment_name"] = names
        out["distance"] = np.round(dist, 6)
        out["unfamiliar"] = unfamiliar
        return out, checked.warnings

    def known_codes(self, column: str) -> list[str]:
        """The category codes of ``column`` the model knows: the spec's labels, else the
        codes seen in training (the reference distribution); empty when neither is known."""
        labels = self.spec.columns[column].labels
        if labels:
            return list(labels)
        return list(((self.info.get("reference") or {}).get(column) or {}).get("shares", {}))

    def unseen_describing(self, frame: Columns, columns: list[str]) -> np.ndarray:
        """Rows holding, in one of the describing ``columns``, a category code the model
        never saw (:meth:`known_codes`); such customers are unfamiliar.

        ``frame`` is typed data (a DataFrame or a mapping of column name to 1-D
        array); numeric columns and columns without known codes are skipped.
        """
        out = np.zeros(n_rows(frame), dtype=bool)
        for col in columns:
            if self.spec.columns[col].kind != "categorical":
                continue
            known = self.known_codes(col)
            if known:
                codes, values = pd.factorize(frame[col], use_na_sentinel=True)  # empty: -1
                unknown = np.array([v not in known for v in values] + [False], dtype=bool)
                out |= unknown[codes]
        return out

    @staticmethod
    def quantiles_of(dist: np.ndarray, labels: np.ndarray, k: int) -> list[dict]:
        out = []
        for s in range(k):
            d = dist[labels == s]
            qs = np.quantile(d, DISTANCE_QUANTILES) if d.size else np.zeros(len(DISTANCE_QUANTILES))
            out.append({f"{q:g}": float(v) for q, v in zip(DISTANCE_QUANTILES, qs, strict=True)})
        return out

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "spec": self.spec.to_dict(),
            "features": self.features.to_dict(),
            "centers": [[float(x) for x in row] for row in self.centers],
            "names": list(self.names),
            "distance_quantiles": self.distance_quantiles,
            **self.info,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SegmentModel:
        spec = Spec.from_dict(d["spec"], source="model.json spec")
        features = FeatureSpace.from_dict(d["features"], spec)
        info = {k: v for k, v in d.items() if k not in
                ("format_version", "spec", "features", "centers", "names", "distance_quantiles",
                 "checksum", "signature")}
        return cls(spec, features, np.asarray(d["centers"], dtype=float), d["names"],
                   d["distance_quantiles"], info)
