"""The portable segment model: plain data that assigns new customers.

A :class:`SegmentModel` holds the spec, the fitted feature space, the centroids,
the segment names and the training distances. It is what ``model.json`` stores
(see :mod:`custseg.modelfile` for the file format) and what everything that
assigns customers uses: :class:`~custseg.segmenter.CustomerSegmenter.predict`, the
``assign`` command and the API.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .cluster.assign import gmm_components, kprototypes_segments, nearest_centroid, nearest_chunk_rows
from .features import Columns, FeatureSpace, n_rows
from .spec import Spec

__all__ = ["SegmentModel", "nearest_centroid", "nearest_chunk_rows", "FORMAT_VERSION",
           "READABLE_VERSIONS"]

FORMAT_VERSION = 2
#: format versions this custseg reads: 1, and 2 (which adds the optional ``clv`` section);
#: a model without a ``clv`` section is written as version 1, readable by older versions
READABLE_VERSIONS = (1, 2)
DISTANCE_QUANTILES = (0.5, 0.9, 0.95, 0.99)


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
        from .derive import derive_spec

        #: the spec as written (date columns under their own names); ``spec`` is what
        #: validation, features and profiles see (a date column as ``<column> (days)``)
        self.input_spec = spec
        self.spec = derive_spec(spec)
        self.features = features
        self.centers = np.asarray(centers, dtype=np.float64)
        self.names = list(names)
        self.distance_quantiles = distance_quantiles
        self.info = info or {}

    @property
    def format_version(self) -> int:
        """The model.json format version of this model: 2 with a ``clv`` section, else 1."""
        return FORMAT_VERSION if "clv" in self.info else 1

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

    @property
    def has_derived(self) -> bool:
        """Whether the model reads date or yes/no columns (see :mod:`custseg.derive`)."""
        return self.input_spec is not self.spec

    def with_derived(self, df: pd.DataFrame, *, as_of: str | None = None,
                  row_offset: int = 0) -> tuple[pd.DataFrame, list]:
        """``df`` with each date column as its days to ``as_of`` (default: the newest date
        in ``df``) and each yes/no column as ``yes``/``no``, as the model reads them; and
        the warnings. Raises ValidationError for cells that are neither. Data without
        such columns comes back as it is."""
        from .derive import derive_columns
        from .errors import ValidationError

        if not self.has_derived:
            return df, []
        source = replace(self.input_spec, as_of=None)
        df, _, _, dated = derive_columns(df, source, as_of=as_of,
                                      row_numbers=np.arange(len(df)) + row_offset)
        if any(p.severity == "error" for p in dated):
            raise ValidationError(dated)
        return df, dated

    def assign(self, df: pd.DataFrame, *, row_offset: int = 0,
               as_of: str | None = None) -> tuple[pd.DataFrame, list]:
        """Assign raw data (as read) to segments.

        Returns the assignments (the id column when the data has the spec's id,
        else ``row`` counted from ``row_offset + 1``; then ``segment``,
        ``segment_name``, ``distance``, ``unfamiliar``) and the validation warnings.
        Rows left out by a ``missing = "drop"`` policy get segment -1. Raises
        :class:`~custseg.errors.ValidationError` when the data breaks the spec. A
        date column counts days to ``as_of`` (YYYY-MM-DD; default: the newest date
        in ``df``, not the training data's).
        """
        from .errors import ValidationError
        from .validate import validate

        df, dated = self.with_derived(df, as_of=as_of, row_offset=row_offset)
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
        return out, dated + checked.warnings

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
            "format_version": self.format_version,
            "spec": self.input_spec.to_dict(),
            "features": self.features.to_dict(),
            "centers": [[float(x) for x in row] for row in self.centers],
            "names": list(self.names),
            "distance_quantiles": self.distance_quantiles,
            **self.info,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SegmentModel:
        from .derive import derive_spec

        spec = Spec.from_dict(d["spec"], source="model.json spec")
        features = FeatureSpace.from_dict(d["features"], derive_spec(spec))
        info = {k: v for k, v in d.items() if k not in
                ("format_version", "spec", "features", "centers", "names", "distance_quantiles",
                 "checksum", "signature")}
        return cls(spec, features, np.asarray(d["centers"], dtype=float), d["names"],
                   d["distance_quantiles"], info)
