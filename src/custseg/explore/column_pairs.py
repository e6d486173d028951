"""Associations between every pair of columns, with the measure that fits their kinds.

Numeric pairs: Spearman's rho (and Pearson's r). A categorical column against a
numeric one: the correlation ratio eta, tested with Kruskal-Wallis. Categorical
pairs: Cramer's V (bias-corrected), chi-square test. Categorical codes are never
treated as numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import bad_parameter, check_columns, check_names
from .formatting import json_safe
from .prepared import PreparedFrame, as_frame, compact, kept
from .rank_tests import anova, avg_ranks, holm, kruskal, split_sorted

__all__ = ["associations", "cramers_v"]


def _spearman(x: np.ndarray, y: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value (t approximation, as ``scipy.stats.spearmanr``).

    The ranks come from the sorted columns (no argsort).
    """
    rho = float(np.corrcoef(avg_ranks(x, sx), avg_ranks(y, sy))[0, 1])
    dof = len(x) - 2
    if abs(rho) < 1:
        t = rho * math.sqrt(max(dof / ((rho + 1.0) * (1.0 - rho)), 0.0))
    else:
        t = math.copysign(math.inf, rho)
    return rho, float(2 * stats.t.sf(abs(t), dof))


def _assoc_numeric(frame: PreparedFrame, a: str, b: str) -> dict[str, Any]:
    keep = ~np.isnan(frame.numeric(a)) & ~np.isnan(frame.numeric(b))
    n = int(keep.sum())
    x, sx = kept(frame, a, keep, n)
    y, sy = kept(frame, b, keep, n)
    row: dict[str, Any] = {"a": a, "b": b, "kinds": "numeric-numeric", "measure": "spearman_rho",
                           "value": None, "p_value": None, "test": "Spearman rank correlation",
                           "n": n, "pearson_r": None, "pearson_p": None,
                           "spearman_rho": None, "spearman_p": None}
    sx = np.sort(x) if sx is None else sx
    sy = np.sort(y) if sy is None else sy
    if n < 3 or sx[0] == sx[-1] or sy[0] == sy[-1]:
        row["note"] = "undefined: fewer than 3 complete rows or a constant column"
        return row
    pearson = stats.pearsonr(x, y)
    rho, p = _spearman(x, y, sx, sy)
    row.update(pearson_r=pearson.statistic, pearson_p=pearson.pvalue,
               spearman_rho=rho, spearman_p=p, value=rho, p_value=p)
    return row


def _assoc_mixed(frame: PreparedFrame, a: str, b: str) -> dict[str, Any]:
    codes, levels = frame.codes(a)
    keep = (codes >= 0) & ~np.isnan(frame.numeric(b))
    n = int(keep.sum())
    y, s_all = kept(frame, b, keep, n)
    codes, used = compact(codes if n == len(codes) else codes[keep], len(levels))
    row: dict[str, Any] = {"a": a, "b": b, "kinds": "categorical-numeric", "measure": "eta",
                           "value": None, "p_value": None, "test": "Kruskal-Wallis",
                           "n": n, "n_levels": len(used), "eta_squared": None,
                           "kruskal_h": None, "dof": None, "epsilon_squared": None}
    s_all, groups = split_sorted(y, codes, len(used), s_all)
    kw = kruskal(groups, s_all) if n else None
    if kw is None:
        row["note"] = "undefined: fewer than 2 levels or 3 rows, or a constant outcome"
        return row
    eta2 = anova(groups)["eta_squared"]
    row.update(value=math.sqrt(eta2) if eta2 is not None else None, eta_squared=eta2,
               kruskal_h=kw["h"], dof=kw["dof"], p_value=kw["p_value"],
               epsilon_squared=kw["epsilon_squared"])
    return row


def cramers_v(table: np.ndarray) -> dict[str, Any]:
    """Chi-square test (no continuity correction) with plain and bias-corrected V."""
    n = table.sum()
    r, k = table.shape
    chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
    phi2 = chi2 / n
    plain = math.sqrt(phi2 / min(r - 1, k - 1))
    # Bergsma (2013) bias correction
    phi2c = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    rc = r - (r - 1) ** 2 / (n - 1)
    kc = k - (k - 1) ** 2 / (n - 1)
    denom = min(rc - 1, kc - 1)
    corrected = math.sqrt(phi2c / denom) if denom > 0 else None
    return {"chi2": float(chi2), "dof": int(dof), "p_value": float(p), "cramers_v": plain,
            "cramers_v_corrected": corrected, "min_expected": float(expected.min())}


def _assoc_categorical(frame: PreparedFrame, a: str, b: str) -> dict[str, Any]:
    (ca, la), (cb, lb) = frame.codes(a), frame.codes(b)
    keep = (ca >= 0) & (cb >= 0)
    ia, used_a = compact(ca[keep], len(la))
    ib, used_b = compact(cb[keep], len(lb))
    row: dict[str, Any] = {"a": a, "b": b, "kinds": "categorical-categorical",
                           "measure": "cramers_v_corrected", "value": None, "p_value": None,
                           "test": "chi-square test of independence", "n": int(keep.sum()),
                           "cramers_v": None, "chi2": None, "dof": None, "min_expected": None}
    ra, rb = len(used_a), len(used_b)
    if ra < 2 or rb < 2:
        row["note"] = "undefined: a column has fewer than 2 levels in the complete rows"
        return row
    table = np.bincount(ia.astype(np.int64) * rb + ib, minlength=ra * rb).reshape(ra, rb)
    res = cramers_v(table)
    row.update(value=res["cramers_v_corrected"], p_value=res["p_value"],
               cramers_v=res["cramers_v"], chi2=res["chi2"], dof=res["dof"],
               min_expected=res["min_expected"])
    return row


def associations(df: pd.DataFrame, numeric: list[str], categorical: list[str]) -> list[dict]:
    """Association between every pair of distinct columns, with the measure that fits.

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    numeric : list of str
        Numeric columns.
    categorical : list of str
        Categorical (nominal) columns; their codes are never treated as numbers.

    Returns
    -------
    list of dict
        One dict per pair, numeric pairs first, then categorical-numeric, then
        categorical-categorical. Common keys: ``a, b, kinds, measure, value,
        p_value, p_adjusted, test, n`` (complete rows of the pair: missing values
        are dropped pairwise) and, when the measure is undefined, ``note`` (then
        ``value`` and ``p_value`` are None). ``p_adjusted`` is Holm-adjusted across
        the whole table.

        * ``"numeric-numeric"``: measure ``spearman_rho`` (Spearman test); also
          ``pearson_r, pearson_p, spearman_rho, spearman_p``.
        * ``"categorical-numeric"`` (``a`` categorical): measure ``eta``, the
          correlation ratio (sqrt of the between/total sum of squares), tested with
          Kruskal-Wallis; also ``eta_squared, kruskal_h, dof, epsilon_squared,
          n_levels``.
        * ``"categorical-categorical"``: measure ``cramers_v_corrected`` (Bergsma
          2013), chi-square test without continuity correction; also ``cramers_v``
          (plain), ``chi2, dof, min_expected``.
    """
    func = "associations"
    frame = as_frame(func, df)
    numeric = check_names(func, "numeric", numeric)
    categorical = check_names(func, "categorical", categorical)
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise bad_parameter(func, "categorical", "disjoint from 'numeric'", both)
    check_columns(func, frame.df, numeric + categorical)
    names_n, names_c = list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical))
    for c in names_n:  # every non-numeric cell is reported before any work is done
        frame.numeric(c)
    rows = [_assoc_numeric(frame, a, b)
            for i, a in enumerate(names_n) for b in names_n[i + 1 :]]
    rows += [_assoc_mixed(frame, a, b) for a in names_c for b in names_n]
    rows += [_assoc_categorical(frame, a, b)
             for i, a in enumerate(names_c) for b in names_c[i + 1 :]]
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_adjusted"] = adjusted
    return json_safe(rows)
