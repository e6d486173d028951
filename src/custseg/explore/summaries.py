"""Column summaries: counts, missing values, quantiles and skewness; levels and shares."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..spec import HEAVY_TAIL_SKEW
from ._checks import check_columns, check_labels, check_names
from .formatting import json_safe
from .prepared import as_frame, labels_map

__all__ = ["summarize_columns"]


def _summarize_numeric(total: int, x: np.ndarray) -> dict[str, Any]:
    """Summary of ``total`` cells whose non-missing values, sorted, are ``x``."""
    n = len(x)
    out: dict[str, Any] = {"n": n, "missing": total - n,
                           "missing_share": (total - n) / total if total else None}
    keys = ("mean", "sd", "min", "q1", "median", "q3", "max", "skewness", "zero_share")
    out.update(dict.fromkeys(keys))
    out["heavy_tailed"] = False
    if n == 0:
        return out
    q = np.quantile(x, [0, 0.25, 0.5, 0.75, 1])
    mean = float(x.mean())
    zeros = np.searchsorted(x, 0.0, "right") - np.searchsorted(x, 0.0, "left")
    out.update(mean=mean, min=q[0], q1=q[1], median=q[2], q3=q[3], max=q[4],
               zero_share=float(zeros / n))
    if n >= 2:
        out["sd"] = float(x.std(ddof=1))
    dev = x - mean
    m2 = float(np.mean(dev**2))
    if n >= 3 and m2 > 0:
        g1 = float(np.mean(dev**3)) / m2**1.5
        out["skewness"] = g1 * math.sqrt(n * (n - 1)) / (n - 2)
        out["heavy_tailed"] = out["skewness"] > HEAVY_TAIL_SKEW
    return out


def _summarize_categorical(codes: np.ndarray, levels: list[str],
                           labels: dict[str, str]) -> dict[str, Any]:
    total = len(codes)
    present = codes >= 0
    n = int(present.sum())
    counts = np.bincount(codes[present], minlength=len(levels))
    return {
        "n": n,
        "missing": total - n,
        "missing_share": (total - n) / total if total else None,
        "n_levels": len(levels),
        "levels": [
            {"code": code, "label": labels.get(code, code), "count": int(c),
             "share": c / n if n else None}
            for code, c in zip(levels, counts, strict=True)
        ],
    }


def summarize_columns(
    df: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    labels: dict[str, dict[str, str]] | None = None,
) -> dict:
    """Describe numeric and categorical columns.

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    numeric : list of str
        Numeric columns. Non-numeric text raises :class:`~custseg.errors.InputError`;
        empty cells and +-inf count as missing.
    categorical : list of str
        Categorical (nominal) columns; codes are compared as text, blanks are missing.
    labels : dict of str to dict of str to str, optional
        ``labels[column][code]`` is the label shown for a code.

    Returns
    -------
    dict
        ``{"n_rows", "numeric": {column: {...}}, "categorical": {column: {...}}}``.
        A numeric entry has ``n, missing, missing_share, mean, sd, min, q1, median,
        q3, max, skewness`` (adjusted Fisher-Pearson G1), ``zero_share`` (among
        non-missing) and ``heavy_tailed`` (skewness > 2,
        :data:`custseg.spec.HEAVY_TAIL_SKEW`). A categorical entry has ``n, missing,
        missing_share, n_levels`` and ``levels``: a list, in code order, of
        ``{"code", "label", "count", "share"}`` (share of non-missing).
    """
    func = "summarize_columns"
    frame = as_frame(func, df)
    numeric = check_names(func, "numeric", numeric)
    categorical = check_names(func, "categorical", categorical)
    check_labels(func, "labels", labels)
    check_columns(func, frame.df, numeric + categorical)
    labels = labels or {}
    n_rows = len(frame.df)
    return json_safe({
        "n_rows": n_rows,
        "numeric": {c: _summarize_numeric(n_rows, frame.sorted(c)) for c in numeric},
        "categorical": {
            c: _summarize_categorical(*frame.codes(c), labels_map(labels.get(c)))
            for c in categorical
        },
    })
