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

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import ParameterError
from .spec import HEAVY_TAIL_SKEW as SKEW_THRESHOLD  # re-exported: the default skew_threshold
from .spec import TRANSFORMS, UNKNOWN_LEVEL, Spec, natural_key, skewness

__all__ = ["FeatureSpace", "SKEW_THRESHOLD", "Columns", "n_rows"]

Columns = pd.DataFrame | Mapping[str, Any]
"""Typed data: a DataFrame, or a mapping of column name to a 1-D array (all of one length)."""


def n_rows(frame: Columns) -> int:
    """Rows of typed data (a DataFrame, or a mapping of column name to 1-D array)."""
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    for values in frame.values():
        return len(values)
    return 0


def _fill_value(values: np.ndarray, policy: str) -> float:
    present = values[~np.isnan(values)]
    if policy == "zero":
        return 0.0
    if present.size == 0:
        return 0.0
    if policy == "mean":
        return float(present.mean())
    if policy == "never":  # beyond every observed customer, beside a "<column> missing" flag
        return float(present.max())
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
                seen = set(self._observed_levels(frame, name))
                if col.labels:
                    levels = [c for c in col.labels]
                    levels += sorted(s for s in seen if s not in col.labels)
                else:
                    levels = sorted(seen, key=natural_key)
                self.levels_[name] = levels
        self.mean_, self.scale_ = self._scaling(frame)
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
    def _filled_numeric(self, frame: Columns, name: str) -> np.ndarray:
        values = frame[name]
        if isinstance(values, pd.Series):
            v = values.to_numpy(dtype=float, copy=True)
        else:
            v = np.array(values, dtype=float)
        v[np.isnan(v)] = self.fill_[name]
        return v

    def _factorized(self, frame: Columns, name: str) -> tuple[np.ndarray, list]:
        """Codes of a categorical column's cells (empty cells filled) and their values.

        Works on the column's distinct values, not on one Python object per row.
        """
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        values = list(uniques)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(values), codes)
            values.append(self.fill_[name])
        return codes, values

    def _observed_levels(self, frame: pd.DataFrame, name: str) -> list:
        _, values = self._factorized(frame, name)
        return [v for v in values if not pd.isna(v)]

    def _level_codes(self, frame: Columns, name: str) -> np.ndarray:
        """Index of each row's level in ``levels_[name]``; -1 for a level never seen.

        The distinct values are looked up in a dict (what ``pandas.Index.get_indexer``
        does with object levels, without building two indexes: a request of one
        customer pays microseconds, not a millisecond).
        """
        codes, values = self._factorized(frame, name)
        index = {level: i for i, level in enumerate(self.levels_[name])}
        where = np.array([index.get(v, -1) for v in values], dtype=np.intp)
        return where[codes] if codes.size else codes.astype(np.int64)

    def _numeric_feature(self, frame: Columns, name: str) -> np.ndarray:
        v = self._filled_numeric(frame, name)
        return np.log1p(v, out=v) if self.log_[name] else v

    def _scaling(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of every feature, column by column in float64.

        The same numbers as :class:`sklearn.preprocessing.StandardScaler` (a
        standard deviation of 0 becomes 1) without building the feature matrix:
        a one-hot feature of share p has mean p and standard deviation
        sqrt(p (1 - p)).
        """
        means, stds = [], []
        n = len(frame)
        for name in self.columns_:
            if name in self.levels_:
                codes = self._level_codes(frame, name)
                counts = np.bincount(codes[codes >= 0], minlength=len(self.levels_[name]))
                p = counts / max(n, 1)
                means += list(p)
                stds += list(np.sqrt(p * (1.0 - p)))
            else:
                v = self._numeric_feature(frame, name)
                mu = float(v.mean()) if n else 0.0
                means.append(mu)
                stds.append(float(np.sqrt(np.mean((v - mu) ** 2))) if n else 0.0)
        mean = np.asarray(means, dtype=np.float64)
        std = np.asarray(stds, dtype=np.float64)
        # StandardScaler's test for a constant feature (its variance is within the
        # rounding error of its computation) and its scale of 1 for one
        eps = np.finfo(np.float64).eps
        var = std**2
        std[var <= n * eps * var + (n * mean * eps) ** 2] = 1.0
        return mean, std

    def transform(self, frame: Columns, dtype=np.float64) -> np.ndarray:
        """The scaled feature matrix (C order, ``dtype``) of typed data.

        ``frame`` is typed data: a DataFrame (as :func:`custseg.validate.validate`
        returns it), or a mapping of column name to a 1-D array of equal length
        (numbers as floats with NaN for empty cells; category codes as text with
        None for empty cells, or a ``pandas.Categorical``). Built column by column:
        each feature is scaled in float64 and then stored in ``dtype`` (float32
        halves the memory of large tables).
        """
        n = n_rows(frame)
        X = np.empty((n, self.n_features_), dtype=dtype)
        j = 0
        for name in self.columns_:
            if name in self.levels_:
                width = len(self.levels_[name])
                mean, scale = self.mean_[j:j + width], self.scale_[j:j + width]
                X[:, j:j + width] = (-mean / scale).astype(dtype)
                # -1 for a level never seen in training (its one-hot row stays "all zero")
                codes = self._level_codes(frame, name)
                ok = np.flatnonzero(codes >= 0)
                hit = codes[ok]
                X[ok, j + hit] = ((1.0 - mean[hit]) / scale[hit]).astype(dtype)
                j += width
            else:
                v = self._numeric_feature(frame, name)
                v -= self.mean_[j]
                v /= self.scale_[j]
                X[:, j] = v
                j += 1
        return X

    def unseen_levels(self, frame: Columns) -> np.ndarray:
        """Rows holding a category level the space never saw (one-hot all zero)."""
        out = np.zeros(n_rows(frame), dtype=bool)
        for name in self.levels_:
            out |= self._level_codes(frame, name) < 0
        return out

    def impute(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Every used column with empty cells filled by policy, in original units.

        Categorical columns come back as ``pandas.Categorical`` (codes and the
        distinct values), which large tables hold and group far more cheaply
        than one string per row.
        """
        out = {}
        for name in self.spec.used:
            if name not in frame.columns:
                continue
            if self.spec.columns[name].kind == "numeric":
                out[name] = self._filled_numeric(frame, name)
            else:
                codes, values = self._factorized(frame, name)
                cats = pd.Index(values, dtype=object)
                if cats.has_duplicates:  # the fill value is also an observed level
                    unique = cats.unique()
                    codes = unique.get_indexer(cats)[codes]
                    cats = unique
                out[name] = pd.Categorical.from_codes(codes, categories=cats)
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
