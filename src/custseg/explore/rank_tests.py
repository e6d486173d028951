"""Rank tests and order statistics from sorted arrays, and Holm's adjustment.

No float array is ever argsorted. Each numeric column is sorted once (``np.sort``,
SIMD-accelerated) and each level's values are gathered by a stable radix sort of
the small level codes and sorted on their own (:func:`split_sorted`). Rank
statistics come from those sorts: Kruskal-Wallis rank sums and level-vs-rest
Mann-Whitney U from ``searchsorted`` into the sorted outcome, pairwise U from
``searchsorted`` between the sorted levels, mid-ranks from the sorted column's
distinct values; nothing is re-ranked per test. Welch's ANOVA and the effect
sizes (eta^2, omega^2) come from the same groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from .formatting import finite

__all__ = ["SMALL_MWU", "holm", "median_sorted", "median_excluding", "uniq", "tie_sum",
           "split_sorted", "avg_ranks", "mwu_p", "mwu_pair", "kruskal", "anova"]

SMALL_MWU = 200  # pairs with at most this many rows use scipy (exact p when it applies)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjustment of a family of p-values.

    Parameters
    ----------
    pvalues : sequence of float or None
        Raw p-values. ``None`` (or NaN) entries are not part of the family and
        stay ``None``.

    Returns
    -------
    list of float or None
        Adjusted p-values in the input order, each in ``[0, 1]``.
    """
    raw = [finite(p) for p in pvalues]
    family = sorted((i for i, p in enumerate(raw) if p is not None), key=lambda i: raw[i])
    out: list[float | None] = [None] * len(raw)
    running = 0.0
    for rank, i in enumerate(family):
        running = max(running, min(1.0, (len(family) - rank) * raw[i]))
        out[i] = running
    return out


def median_sorted(s: np.ndarray) -> float:
    """The median of a sorted, non-empty array."""
    n = len(s)
    return float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2)


def _kth_excluding(s_all: np.ndarray, sub: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based) of the multiset ``s_all`` minus ``sub`` (both sorted)."""
    lo, hi = 0, len(s_all) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        v = s_all[mid]
        count = np.searchsorted(s_all, v, "right") - np.searchsorted(sub, v, "right")
        if count >= k:
            hi = mid
        else:
            lo = mid + 1
    return float(s_all[lo])


def median_excluding(s_all: np.ndarray, sub: np.ndarray) -> float | None:
    """The median of the multiset ``s_all`` minus ``sub`` (both sorted); None if empty."""
    m = len(s_all) - len(sub)
    if m <= 0:
        return None
    if m % 2:
        return _kth_excluding(s_all, sub, m // 2 + 1)
    return (_kth_excluding(s_all, sub, m // 2) + _kth_excluding(s_all, sub, m // 2 + 1)) / 2


def uniq(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and counts of a sorted array."""
    if len(s) == 0:
        return s, np.zeros(0)
    cuts = np.flatnonzero(s[1:] != s[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    counts = np.diff(np.concatenate((starts, [len(s)]))).astype(float)
    return s[starts], counts


def tie_sum(counts: np.ndarray) -> float:
    """The tie correction term: sum of t^3 - t over the tie counts t."""
    return float(np.sum(counts**3 - counts))


def split_sorted(x: np.ndarray, codes: np.ndarray, n_levels: int,
                 s_all: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sorted outcome and each level's sorted values.

    Rows are grouped by a stable radix sort of the (small) level codes and each
    level is sorted on its own; no float array is ever argsorted. ``s_all``
    (``np.sort(x)``) is reused when the caller already has it.
    """
    if s_all is None:
        s_all = np.sort(x)
    small = next(t for t in (np.int8, np.int16, np.int64) if n_levels <= np.iinfo(t).max)
    grouped = x[np.argsort(codes.astype(small), kind="stable")]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=n_levels))))
    groups = []
    for j in range(n_levels):
        g = grouped[bounds[j] : bounds[j + 1]]
        g.sort()
        groups.append(g)
    return s_all, groups


def avg_ranks(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based, ties averaged) of ``x``, given ``s = np.sort(x)``."""
    vals, counts = uniq(s)
    starts = np.cumsum(counts) - counts
    return (starts + (counts + 1) / 2)[np.searchsorted(vals, x)]


def mwu_p(u: float, n1: int, n2: int, ties: float) -> float:
    """Two-sided normal-approximation p of Mann-Whitney U (tie and continuity corrected)."""
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    big = max(u, n1 * n2 - u)
    if var <= 0:
        return 1.0
    z = (big - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    return float(min(1.0, 2 * stats.norm.sf(z)))


def mwu_pair(a: np.ndarray, b: np.ndarray, ua: tuple[np.ndarray, np.ndarray],
             ub: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """U of ``a`` against ``b`` (both sorted; ``ua``, ``ub`` their :func:`uniq`) and the
    two-sided p."""
    na, nb = len(a), len(b)
    if na + nb <= SMALL_MWU:
        res = stats.mannwhitneyu(a, b, alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    vals, cnt = ua
    less = np.searchsorted(b, vals, side="left")
    equal = np.searchsorted(b, vals, side="right") - less
    u = float(np.sum(cnt * (less + equal / 2)))
    ties = tie_sum(ua[1]) + tie_sum(ub[1]) + float(np.sum(3 * cnt * equal * (cnt + equal)))
    return u, mwu_p(u, na, nb, ties)


def kruskal(groups: list[np.ndarray], s_all: np.ndarray) -> dict | None:
    """Kruskal-Wallis from sorted groups and their sorted union (None if undefined)."""
    n = len(s_all)
    k = len(groups)
    if k < 2 or n < 3 or s_all[0] == s_all[-1]:
        return None
    rank_sums = []
    for g in groups:
        vals, cnt = uniq(g)
        left = np.searchsorted(s_all, vals, side="left")
        right = np.searchsorted(s_all, vals, side="right")
        rank_sums.append(float(np.sum(cnt * (left + 1 + right) / 2)))
    sizes = np.array([len(g) for g in groups], dtype=float)
    mean_rank = np.array(rank_sums) / sizes
    h = 12 / (n * (n + 1)) * float(np.sum(sizes * (mean_rank - (n + 1) / 2) ** 2))
    h /= 1 - tie_sum(uniq(s_all)[1]) / (n**3 - n)
    dof = k - 1
    return {
        "h": h,
        "dof": dof,
        "p_value": float(stats.chi2.sf(h, dof)),
        "epsilon_squared": h / (n - 1),
        "rank_sums": rank_sums,
    }


def anova(groups: list[np.ndarray]) -> dict:
    """Eta^2, omega^2 and Welch's ANOVA from groups of at least 2 rows."""
    sizes = np.array([len(g) for g in groups], dtype=float)
    means = np.array([g.mean() for g in groups])
    variances = np.array([g.var(ddof=1) if len(g) > 1 else 0.0 for g in groups])
    n, k = sizes.sum(), len(groups)
    grand = float(np.sum(sizes * means) / n)
    ss_between = float(np.sum(sizes * (means - grand) ** 2))
    ss_within = float(np.sum((sizes - 1) * variances))
    ss_total = ss_between + ss_within
    out: dict[str, Any] = {"eta_squared": None, "omega_squared": None, "welch": None}
    if ss_total > 0:
        ms_within = ss_within / (n - k)
        out["eta_squared"] = ss_between / ss_total
        out["omega_squared"] = (ss_between - (k - 1) * ms_within) / (ss_total + ms_within)
    if k >= 2 and np.all(sizes > 1) and np.all(variances > 0):
        w = sizes / variances
        w_sum = w.sum()
        mean_w = float(np.sum(w * means) / w_sum)
        a = float(np.sum(w * (means - mean_w) ** 2)) / (k - 1)
        tmp = float(np.sum((1 - w / w_sum) ** 2 / (sizes - 1)))
        b = 1 + 2 * (k - 2) / (k**2 - 1) * tmp
        f_stat = a / b
        df2 = (k**2 - 1) / (3 * tmp) if tmp > 0 else math.inf
        out["welch"] = {
            "f": f_stat,
            "df1": float(k - 1),
            "df2": df2,
            "p_value": float(stats.f.sf(f_stat, k - 1, df2)),
        }
    return out
