"""The feature space: a fitted transformer from typed customer data to the matrix
the clustering sees.

Steps, per column of ``cluster_on``: fill empty cells by the column's missing
policy (the fill value is learned), optionally ``log1p`` for heavy-tailed
non-negative numbers, one-hot encoding of categorical columns (every level, in the
spec's label order), then standard scaling of every column. All learned
parameters are plain data (:meth:`FeatureSpace.to_dict`) so a model file can
rebuild the exact transform without pickle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler

from .errors import ParameterError
from .spec import TRANSFORMS, UNKNOWN_LEVEL, Spec, skewness

__all__ = ["FeatureSpace", "SKEW_THRESHOLD"]

SKEW_THRESHOLD = 2.0


def _fill_value(values: np.ndarray, policy: str) -> float:
    present = values[~np.isnan(values)]
    if policy == "zero":
        return 0.0
    if present.size == 0:
        return 0.0
    if policy == "mean":
        return float(present.mean())
    return float(np.median(present))  # median, and the fallback for drop/error


def _mode(values: np.ndarray) -> str:
    present = pd.Series(values).dropna()
    if present.empty:
        return UNKNOWN_LEVEL
    counts = present.value_counts()
    top = counts[counts == counts.iloc[0]].index
    return str(sorted(map(str, top))[0])  # ties: the smallest code, deterministic


class FeatureSpace(TransformerMixin, BaseEstimator):
    """Impute, transform, encode and scale the clustering columns.

    Parameters
    ----------
    spec : Spec
        The data dictionary; ``spec.cluster_on`` names the columns used.
    log_transform : {"spec", "auto", "log", "none"}
        ``"spec"`` follows each column's own setting; the others override every
        numeric column: ``"auto"`` applies ``log1p`` where the column is
        non-negative and its skewness exceeds ``skew_threshold``.
    skew_threshold : float
        Skewness above which ``"auto"`` applies ``log1p``.
    exclude : tuple of str
        Columns of ``cluster_on`` to leave out (e.g. constant ones).
    """

    def __init__(self, spec: Spec, log_transform: str = "spec",
                 skew_threshold: float = SKEW_THRESHOLD, exclude: tuple[str, ...] = ()):
        self.spec = spec
        self.log_transform = log_transform
        self.skew_threshold = skew_threshold
        self.exclude = exclude

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, y=None, *, rows: np.ndarray | None = None):
        """Learn fill values, transforms, levels and scaling from typed data.

        ``rows`` optionally selects the rows to learn from (a boolean mask).
        """
        if self.log_transform not in ("spec", *TRANSFORMS):
            raise ParameterError(f"log_transform must be one of spec, {', '.join(TRANSFORMS)}, "
                                 f"got {self.log_transform!r}",
                                 fix=f"use one of spec, {', '.join(TRANSFORMS)}")
        spec = self.spec
        if rows is not None:
            frame = frame.loc[rows]
        self.fill_ = {}
        for name in spec.used:
            col = spec.columns[name]
            v = frame[name].to_numpy()
            if col.kind == "numeric":
                self.fill_[name] = _fill_value(v.astype(float), col.missing)
            else:
                self.fill_[name] = (_mode(v) if col.missing == "mode" else UNKNOWN_LEVEL)
        self.columns_ = [c for c in spec.cluster_on if c not in self.exclude]
        self.log_ = {}
        self.notes_ = []
        self.levels_ = {}
        for name in self.columns_:
            col = spec.columns[name]
            if col.kind == "numeric":
                v = self._filled_numeric(frame, name)
                mode = col.transform if self.log_transform == "spec" else self.log_transform
                sk = skewness(v)
                if mode == "log":
                    use = True
                    self.notes_.append(f"{name}: log1p applied (as configured; skewness {sk:.1f})")
                elif mode == "auto":
                    use = bool(sk > self.skew_threshold and np.nanmin(v) >= 0)
                    if use:
                        self.notes_.append(f"{name}: log1p applied because it is heavy-tailed "
                                           f"(skewness {sk:.1f} > {self.skew_threshold:g})")
                else:
                    use = False
                self.log_[name] = use
            else:
                codes = self._filled_codes(frame, name)
                seen = set(pd.unique(codes[pd.notna(codes)]).tolist())
                if col.labels:
                    levels = [c for c in col.labels]
                    levels += sorted(s for s in seen if s not in col.labels)
                else:
                    levels = sorted(seen, key=_natural_key)
                self.levels_[name] = levels
        X = self._raw_matrix(frame)
        scaler = StandardScaler().fit(X)
        self.mean_ = scaler.mean_.astype(float)
        self.scale_ = scaler.scale_.astype(float)
        self.feature_names_ = self._feature_names()
        self.n_features_ = len(self.feature_names_)
        return self

    def layout(self) -> list[tuple[int, int, bool]]:
        """(first feature, width, categorical?) for each clustering column."""
        out, j = [], 0
        for name in self.columns_:
            width = len(self.levels_[name]) if name in self.levels_ else 1
            out.append((j, width, name in self.levels_))
            j += width
        return out

    def _feature_names(self) -> list[str]:
        names = []
        for name in self.columns_:
            if name in self.levels_:
                names += [f"{name}={lvl}" for lvl in self.levels_[name]]
            else:
                names.append(name)
        return names

    # ------------------------------------------------------------ transform
    def _filled_numeric(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        v = frame[name].to_numpy(dtype=float, copy=True)
        v[np.isnan(v)] = self.fill_[name]
        return v

    def _filled_codes(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        v = frame[name].to_numpy(dtype=object, copy=True)
        v[pd.isna(v)] = self.fill_[name]
        return v

    def _raw_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        n = len(frame)
        width = sum(len(self.levels_[c]) if c in self.levels_ else 1 for c in self.columns_)
        X = np.zeros((n, width), dtype=np.float64)
        j = 0
        for name in self.columns_:
            if name in self.levels_:
                # -1 for a level never seen in training (its one-hot row stays all zero)
                codes = pd.Index(self.levels_[name]).get_indexer(self._filled_codes(frame, name))
                ok = codes >= 0
                X[np.flatnonzero(ok), j + codes[ok]] = 1.0
                j += len(self.levels_[name])
            else:
                v = self._filled_numeric(frame, name)
                X[:, j] = np.log1p(v) if self.log_[name] else v
                j += 1
        return X

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The scaled feature matrix (float64, C order) of typed data."""
        X = self._raw_matrix(frame)
        X -= self.mean_
        X /= self.scale_
        return X

    def unseen_levels(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows holding a category level the space never saw (one-hot all zero)."""
        out = np.zeros(len(frame), dtype=bool)
        for name, levels in self.levels_.items():
            codes = self._filled_codes(frame, name)
            out |= ~pd.Series(codes).isin(levels).to_numpy()
        return out

    def impute(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Every used column with empty cells filled by policy, in original units."""
        out = {}
        for name in self.spec.used:
            if name not in frame.columns:
                continue
            if self.spec.columns[name].kind == "numeric":
                out[name] = self._filled_numeric(frame, name)
            else:
                out[name] = self._filled_codes(frame, name)
        return pd.DataFrame(out, index=frame.index)

    def inverse_numeric(self, Z: np.ndarray) -> dict[str, np.ndarray]:
        """Numeric columns of points in feature space back in original units."""
        out = {}
        j = 0
        for name in self.columns_:
            if name in self.levels_:
                j += len(self.levels_[name])
                continue
            v = Z[:, j] * self.scale_[j] + self.mean_[j]
            out[name] = np.expm1(v) if self.log_[name] else v
            j += 1
        return out

    # ----------------------------------------------------------- plain data
    def to_dict(self) -> dict:
        return {
            "columns": list(self.columns_),
            "fill": {k: (float(v) if isinstance(v, float) else v) for k, v in self.fill_.items()},
            "log1p": {k: bool(v) for k, v in self.log_.items()},
            "levels": {k: list(v) for k, v in self.levels_.items()},
            "mean": [float(x) for x in self.mean_],
            "scale": [float(x) for x in self.scale_],
            "feature_names": list(self.feature_names_),
            "notes": list(self.notes_),
        }

    @classmethod
    def from_dict(cls, d: dict, spec: Spec) -> FeatureSpace:
        fs = cls(spec=spec)
        fs.columns_ = list(d["columns"])
        fs.fill_ = dict(d["fill"])
        fs.log_ = {k: bool(v) for k, v in d["log1p"].items()}
        fs.levels_ = {k: list(v) for k, v in d["levels"].items()}
        fs.mean_ = np.asarray(d["mean"], dtype=float)
        fs.scale_ = np.asarray(d["scale"], dtype=float)
        fs.feature_names_ = list(d["feature_names"])
        fs.n_features_ = len(fs.feature_names_)
        fs.notes_ = list(d.get("notes", []))
        return fs


def _natural_key(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)
