"""The customer table as the explore functions read it: floats, category codes, sorts.

A numeric column becomes a float array with NaN for missing (and for +-inf); a
categorical column becomes small integer codes (-1 for missing and blank) with
its level names in natural order (numbers by value, then text). Codes are
compared as text (:func:`custseg.spec.code_str`), so ``1``, ``1.0`` and ``"1"``
are one level. A :class:`PreparedFrame` does each column's work once, on first
use, and keeps it for every later call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..spec import code_str, natural_key
from ._checks import check_frame

__all__ = ["PreparedFrame", "as_frame", "compact", "kept", "labels_map"]


def _factorize_raw(raw: np.ndarray, uniques: Any, n: int) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 = missing) and level names in natural code order, from ``pandas.factorize``.

    Codes are compared as text (``1``, ``1.0`` and ``"1"`` are one level); blank
    strings count as missing.
    """
    names = [code_str(u) for u in uniques]
    levels = sorted({n for n in names if n != ""}, key=natural_key)
    if not names:
        return np.full(n, -1, dtype=np.int64), []
    position = {name: i for i, name in enumerate(levels)}
    # the smallest integer type that holds the codes (a quarter of the memory or less)
    dtype = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                 if len(levels) <= np.iinfo(t).max)
    mapping = np.array([position.get(n, -1) for n in names] + [-1], dtype=dtype)
    return mapping[raw], levels  # raw == -1 picks the trailing -1


def compact(codes: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber codes (all >= 0) to 0..m-1 over the levels present; also return those levels."""
    counts = np.bincount(codes, minlength=n_levels)
    used = np.flatnonzero(counts)
    if len(used) == n_levels:
        return codes, used
    remap = np.full(n_levels, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return remap[codes], used


def _numeric(df: pd.DataFrame, column: str) -> np.ndarray:
    """A float array of a column with NaN for missing (and for +-inf)."""
    series = df[column]
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
    else:
        coerced = pd.to_numeric(series, errors="coerce")
        text = series.astype("object")
        blank = text.map(lambda v: isinstance(v, str) and v.strip() == "")
        bad = coerced.isna() & series.notna() & ~blank
        if bad.any():
            examples = ", ".join(repr(v) for v in pd.unique(series[bad])[:3])
            raise InputError(
                f"column {column!r} has {int(bad.sum())} non-numeric values (e.g. {examples})",
                fix="clean those cells or declare the column categorical",
            )
        values = coerced.to_numpy(dtype=float, na_value=np.nan)
    values = np.asarray(values, dtype=float)
    infinite = np.isinf(values)
    if infinite.any():  # else no copy: the caller must not write (PreparedFrame freezes it)
        values = np.where(infinite, np.nan, values)
    return values


class PreparedFrame:
    """A customer table whose per-column work is done once and shared between calls.

    Every function of :mod:`custseg.explore` accepts a ``PreparedFrame`` wherever it
    takes ``df``. Each column is converted to floats (or factorized into category
    codes) and sorted at most once, on first use, so several calls on the same
    table -- a summary, every association, each attribute x outcome comparison,
    as :func:`custseg.analysis.build_analysis` makes -- do not repeat that work.
    The results are identical to passing the DataFrame itself.

    Parameters
    ----------
    df : pandas.DataFrame
        The customer table. It must not change while the ``PreparedFrame`` is in
        use (the remembered columns would go stale).
    """

    def __init__(self, df: pd.DataFrame) -> None:
        check_frame("PreparedFrame", df)
        self.df = df
        self._numeric: dict[str, np.ndarray] = {}
        self._sorted: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, list[str]]] = {}

    def numeric(self, column: str) -> np.ndarray:
        """The column as a read-only float array, NaN for missing (and for +-inf)."""
        if column not in self._numeric:
            values = _numeric(self.df, column)
            values.flags.writeable = False
            self._numeric[column] = values
        return self._numeric[column]

    def sorted(self, column: str) -> np.ndarray:
        """The non-missing values of a numeric column, sorted (read-only)."""
        if column not in self._sorted:
            x = self.numeric(column)
            s = np.sort(x[~np.isnan(x)])
            s.flags.writeable = False
            self._sorted[column] = s
        return self._sorted[column]

    def codes(self, column: str) -> tuple[np.ndarray, list[str]]:
        """Category codes (-1 = missing, blanks too; the smallest integer type that holds
        them) and the level names in natural order."""
        if column not in self._codes:
            raw, uniques = pd.factorize(self.df[column], use_na_sentinel=True)
            codes, levels = _factorize_raw(raw, uniques, len(self.df))
            codes.flags.writeable = False
            self._codes[column] = (codes, levels)
        return self._codes[column]


def as_frame(func: str, df: Any) -> PreparedFrame:
    """``df`` as a :class:`PreparedFrame` (a DataFrame is wrapped; anything else is refused)."""
    if isinstance(df, PreparedFrame):
        return df
    check_frame(func, df)
    return PreparedFrame(df)


def kept(frame: PreparedFrame, column: str, keep: np.ndarray, n_kept: int) -> tuple[
        np.ndarray, np.ndarray | None]:
    """A numeric column's kept rows, and their sort when it is the column's cached one."""
    x = frame.numeric(column)
    s = frame.sorted(column)
    if n_kept == len(x):
        return x, s
    return x[keep], s if n_kept == len(s) else None


def labels_map(labels: Mapping[Any, Any] | None) -> dict[str, str]:
    """``labels`` keyed by canonical code text (:func:`custseg.spec.code_str`)."""
    return {code_str(k): str(v) for k, v in (labels or {}).items()}
