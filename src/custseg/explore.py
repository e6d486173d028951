"""Descriptive statistics and tests that answer the marketing questions.

Two questions drive this module:

* **Does an attribute (e.g. acquisition channel) influence a numeric outcome
  (minutes watched, CLV), and which levels bring the best customers?** ->
  :func:`compare_levels`.
* **Where is a group of customers (e.g. those who found the product through
  social media) concentrated, and what are they worth?** -> :func:`group_share`.

Around them, :func:`summarize_columns` describes each column and
:func:`associations` measures every pair of columns with the measure that fits
their kinds. Categorical columns hold *nominal codes*: they are never correlated
as numbers. Codes are compared as text, so ``1``, ``1.0`` and ``"1"`` are the
same level.

The module is pure: it takes pandas objects and plain parameters and returns
plain JSON-safe dicts and lists (``str``, ``int``, ``float``, ``bool``, ``None``;
no NumPy scalars and no NaN -- an undefined number is ``None``), so a report can
be rendered from them. It draws nothing, reads and writes nothing.

Speed
-----
No float array is ever argsorted. Each numeric column is sorted once (``np.sort``,
SIMD-accelerated) and each level's values are gathered by a stable radix sort of
the small level codes and sorted on their own. Rank statistics come from those
sorts: Kruskal-Wallis rank sums and level-vs-rest Mann-Whitney U from
``searchsorted`` into the sorted outcome, pairwise U from ``searchsorted``
between the sorted levels, Spearman's mid-ranks from the sorted column's
distinct values; nothing is re-ranked per test. A :class:`PreparedFrame` keeps
each column's conversion, codes and sort across calls, and
:func:`compare_levels_many` shares the bootstrap draws of a level between
outcomes. Bootstrap intervals (only for levels with at most ``boot_max_rows``
rows) are vectorised:

* median: each replicate's median is drawn *exactly* from its bootstrap
  distribution without materialising the resample. The sorted resample is
  ``x[ceil(n * U_(k))]`` for the order statistics ``U_(k)`` of ``n`` uniforms, and
  ``U_(m) ~ Beta(m, n - m + 1)``; for even ``n`` the next one is
  ``U_(m) + (1 - U_(m)) * Beta(1, n - m)``. Cost ``O(n_boot)`` per level.
* mean: resampled in blocks of an ``(rows, n)`` index matrix of at most
  ``2**18`` entries (bounded memory), cost ``O(n * n_boot)``: a few tenths of a second for a
  50,000-row level with ``n_boot=2000``. Levels run on a few threads (numpy
  releases the GIL while it draws and gathers); each level's generator is seeded
  by ``(seed, crc32(code))``, so the numbers never depend on the threads.

Larger levels use the analytic t interval for the mean and the binomial
order-statistic interval for the median.
"""

from __future__ import annotations

import difflib
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError, ParameterError
from .spec import code_str

__all__ = [
    "PreparedFrame",
    "summarize_columns",
    "associations",
    "compare_levels",
    "compare_levels_many",
    "group_share",
    "holm",
    "format_p",
]

_BOOT_BLOCK = 1 << 18  # entries of one bootstrap index block (bounds memory, stays in cache)
_SMALL_MWU = 200  # pairs with at most this many rows use scipy (exact p when it applies)
_MAX_PAIRWISE_LEVELS = 30  # more tested levels than this: pairwise tests are skipped
_HEAVY_TAIL_SKEW = 2.0
_BOOT_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                            else os.cpu_count() or 1))  # threads for the bootstrap of the levels
_BOOT_PARALLEL_WORK = 20_000_000  # fewer resampled values than this: one thread is enough

# --------------------------------------------------------------------------- helpers


def _num(value: Any) -> float | None:
    """A finite python float, or None."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _clean(obj: Any) -> Any:
    """Recursively turn an output into JSON-safe python objects (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _num(obj)
    return obj


def _natural_key(code: str) -> tuple[int, float, str]:
    try:
        number = float(code)
    except ValueError:
        return (1, 0.0, code)
    return (0, number, code) if math.isfinite(number) else (1, 0.0, code)


def _factorize_raw(raw: np.ndarray, uniques: Any, n: int) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 = missing) and level names in natural code order, from ``pandas.factorize``.

    Codes are compared as text (``1``, ``1.0`` and ``"1"`` are one level); blank
    strings count as missing.
    """
    names = [code_str(u) for u in uniques]
    levels = sorted({n for n in names if n != ""}, key=_natural_key)
    if not names:
        return np.full(n, -1, dtype=np.int64), []
    position = {name: i for i, name in enumerate(levels)}
    # the smallest integer type that holds the codes (a quarter of the memory or less)
    dtype = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                 if len(levels) <= np.iinfo(t).max)
    mapping = np.array([position.get(n, -1) for n in names] + [-1], dtype=dtype)
    return mapping[raw], levels  # raw == -1 picks the trailing -1


def _compact(codes: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
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

    Every function of this module accepts a ``PreparedFrame`` wherever it takes
    ``df``. Each column is converted to floats (or factorized into category
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
        _check_frame("PreparedFrame", df)
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


def _frame(func: str, df: Any) -> PreparedFrame:
    """``df`` as a :class:`PreparedFrame` (a DataFrame is wrapped; anything else is refused)."""
    if isinstance(df, PreparedFrame):
        return df
    _check_frame(func, df)
    return PreparedFrame(df)


def _labels_map(labels: Mapping[Any, Any] | None) -> dict[str, str]:
    return {code_str(k): str(v) for k, v in (labels or {}).items()}


def _fmt_pct(share: float) -> str:
    """0.483 -> '48%', 0.052 -> '5.2%'."""
    value = 100 * share
    return f"{value:.0f}%" if abs(value) >= 10 else f"{value:.1f}%"


def _fmt_num(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


# ------------------------------------------------------------------ validation (edge)


def _bad(func: str, name: str, allowed: str, got: Any) -> ParameterError:
    return ParameterError(
        f"The {name!r} parameter of {func} must be {allowed}. Got {got!r} instead."
    )


def _check_frame(func: str, df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise _bad(func, "df", "a pandas DataFrame", type(df).__name__)


def _check_columns(func: str, df: pd.DataFrame, columns: Sequence[str]) -> None:
    present = [str(c) for c in df.columns]
    for column in columns:
        if column not in df.columns:
            close = difflib.get_close_matches(str(column), present, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"use one of {present}"
            raise ParameterError(f"column {column!r} is not in the data ({func})", fix=fix)


def _check_names(func: str, name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _bad(func, name, "a list of column names", value)
    if not all(isinstance(v, str) for v in value):
        raise _bad(func, name, "a list of column names (str)", value)
    return list(value)


def _check_alpha(func: str, alpha: Any) -> float:
    ok = isinstance(alpha, int | float) and not isinstance(alpha, bool)
    if not ok or not 0 < float(alpha) < 1:
        raise _bad(func, "alpha", "a float in (0, 1)", alpha)
    return float(alpha)


def _check_int(func: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise _bad(func, name, f"an int >= {minimum}", value)
    return int(value)


def _check_labels(func: str, name: str, labels: Any) -> None:
    if labels is not None and not isinstance(labels, Mapping):
        raise _bad(func, name, "a dict of code -> label or None", labels)


# ----------------------------------------------------------------- small public pieces


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
    raw = [_num(p) for p in pvalues]
    family = sorted((i for i, p in enumerate(raw) if p is not None), key=lambda i: raw[i])
    out: list[float | None] = [None] * len(raw)
    running = 0.0
    for rank, i in enumerate(family):
        running = max(running, min(1.0, (len(family) - rank) * raw[i]))
        out[i] = running
    return out


def format_p(p: float | None) -> str:
    """A p-value as text: ``"p < 0.001"``, ``"p = 0.032"``, ``"p = 0.41"``.

    Parameters
    ----------
    p : float or None
        The p-value; ``None`` or NaN gives ``"p = n/a"``.

    Returns
    -------
    str
        Two significant digits (``"p = 0.20"``), ``"p < 0.001"`` below 0.001 and
        ``"p > 0.99"`` above 0.99.
    """
    value = _num(p)
    if value is None:
        return "p = n/a"
    if value < 0.001:
        return "p < 0.001"
    if value > 0.99:
        return "p > 0.99"
    return f"p = {value:#.2g}"


# ------------------------------------------------------------------- rank machinery


def _median_sorted(s: np.ndarray) -> float:
    n = len(s)
    return float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2)


def _uniq(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and counts of a sorted array."""
    if len(s) == 0:
        return s, np.zeros(0)
    cuts = np.flatnonzero(s[1:] != s[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    counts = np.diff(np.concatenate((starts, [len(s)]))).astype(float)
    return s[starts], counts


def _tie_sum(counts: np.ndarray) -> float:
    return float(np.sum(counts**3 - counts))


def _split_sorted(x: np.ndarray, codes: np.ndarray, n_levels: int,
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


def _avg_ranks(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based, ties averaged) of ``x``, given ``s = np.sort(x)``."""
    vals, counts = _uniq(s)
    starts = np.cumsum(counts) - counts
    return (starts + (counts + 1) / 2)[np.searchsorted(vals, x)]


def _mwu_p(u: float, n1: int, n2: int, ties: float) -> float:
    """Two-sided normal-approximation p of Mann-Whitney U (tie and continuity corrected)."""
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    big = max(u, n1 * n2 - u)
    if var <= 0:
        return 1.0
    z = (big - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    return float(min(1.0, 2 * stats.norm.sf(z)))


def _mwu_pair(a: np.ndarray, b: np.ndarray, ua: tuple[np.ndarray, np.ndarray],
              ub: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """U of ``a`` against ``b`` (both sorted) and the two-sided p."""
    na, nb = len(a), len(b)
    if na + nb <= _SMALL_MWU:
        res = stats.mannwhitneyu(a, b, alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    vals, cnt = ua
    less = np.searchsorted(b, vals, side="left")
    equal = np.searchsorted(b, vals, side="right") - less
    u = float(np.sum(cnt * (less + equal / 2)))
    ties = _tie_sum(ua[1]) + _tie_sum(ub[1]) + float(np.sum(3 * cnt * equal * (cnt + equal)))
    return u, _mwu_p(u, na, nb, ties)


def _kruskal(groups: list[np.ndarray], s_all: np.ndarray) -> dict | None:
    """Kruskal-Wallis from sorted groups and their sorted union (None if undefined)."""
    n = len(s_all)
    k = len(groups)
    if k < 2 or n < 3 or s_all[0] == s_all[-1]:
        return None
    rank_sums = []
    for g in groups:
        vals, cnt = _uniq(g)
        left = np.searchsorted(s_all, vals, side="left")
        right = np.searchsorted(s_all, vals, side="right")
        rank_sums.append(float(np.sum(cnt * (left + 1 + right) / 2)))
    sizes = np.array([len(g) for g in groups], dtype=float)
    mean_rank = np.array(rank_sums) / sizes
    h = 12 / (n * (n + 1)) * float(np.sum(sizes * (mean_rank - (n + 1) / 2) ** 2))
    h /= 1 - _tie_sum(_uniq(s_all)[1]) / (n**3 - n)
    dof = k - 1
    return {
        "h": h,
        "dof": dof,
        "p_value": float(stats.chi2.sf(h, dof)),
        "epsilon_squared": h / (n - 1),
        "rank_sums": rank_sums,
    }


def _anova(groups: list[np.ndarray]) -> dict:
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


def _median_excluding(s_all: np.ndarray, sub: np.ndarray) -> float | None:
    m = len(s_all) - len(sub)
    if m <= 0:
        return None
    if m % 2:
        return _kth_excluding(s_all, sub, m // 2 + 1)
    return (_kth_excluding(s_all, sub, m // 2) + _kth_excluding(s_all, sub, m // 2 + 1)) / 2


# ------------------------------------------------------------------ confidence intervals


def _boot_medians(s: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Exact draws from the bootstrap distribution of the median of sorted ``s``."""
    return _boot_medians_many([s], n_boot, rng)[0]


def _boot_medians_many(ss: list[np.ndarray], n_boot: int,
                       rng: np.random.Generator) -> list[np.ndarray]:
    """:func:`_boot_medians` of several sorted arrays of one length, from the same draws."""
    n = len(ss[0])
    m = (n + 1) // 2 if n % 2 else n // 2
    u = rng.beta(m, n - m + 1, size=n_boot)
    lower_at = np.clip(np.ceil(n * u).astype(np.int64) - 1, 0, n - 1)
    if n % 2:
        return [s[lower_at] for s in ss]
    u2 = u + (1 - u) * rng.beta(1, n - m, size=n_boot)
    upper_at = np.clip(np.ceil(n * u2).astype(np.int64) - 1, 0, n - 1)
    return [(s[lower_at] + s[upper_at]) / 2 for s in ss]


def _boot_means_many(ss: list[np.ndarray], n_boot: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Bootstrap means of several arrays of one length, resampled with the same indices.

    Indices are drawn in blocks of at most ``_BOOT_BLOCK`` entries (bounded
    memory). Each array's means are exactly what resampling it alone with this
    generator would give; sharing the draws only saves drawing them again.
    """
    n = len(ss[0])
    rows = max(1, min(n_boot, _BOOT_BLOCK // n))
    out = [np.empty(n_boot) for _ in ss]
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        for s, o in zip(ss, out, strict=True):
            o[start:stop] = s[idx].mean(axis=1)
    return out


def _median_ci_binomial(s: np.ndarray, alpha: float) -> tuple[float, float]:
    """Distribution-free order-statistic interval for the median (coverage >= 1 - alpha)."""
    n = len(s)
    k0 = int(stats.binom.ppf(alpha / 2, n, 0.5))
    low = k0 if stats.binom.cdf(k0, n, 0.5) > alpha / 2 else k0 + 1
    low = min(max(low, 1), (n + 1) // 2)
    high = n - low + 1
    return float(s[low - 1]), float(s[high - 1])


def _level_cis(ss: list[np.ndarray], code: str, *, seed: int, n_boot: int, boot_max_rows: int,
               alpha: float) -> list[dict[str, Any]]:
    """Intervals of one level for several outcomes (sorted, all of one length)."""
    n = len(ss[0])
    none = {"mean_low": None, "mean_high": None, "median_low": None, "median_high": None}
    if n < 2:
        return [{**none, "ci_method": None} for _ in ss]
    if n <= boot_max_rows:
        rng = np.random.default_rng([seed, zlib.crc32(code.encode())])
        q = [alpha / 2, 1 - alpha / 2]
        means = [np.quantile(b, q) for b in _boot_means_many(ss, n_boot, rng)]
        medians = [np.quantile(b, q) for b in _boot_medians_many(ss, n_boot, rng)]
        return [{"mean_low": mean[0], "mean_high": mean[1], "median_low": median[0],
                 "median_high": median[1], "ci_method": "bootstrap"}
                for mean, median in zip(means, medians, strict=True)]
    out = []
    t = stats.t.ppf(1 - alpha / 2, n - 1)
    for s in ss:
        half = t * s.std(ddof=1) / math.sqrt(n)
        mean = s.mean()
        low, high = _median_ci_binomial(s, alpha)
        out.append({"mean_low": mean - half, "mean_high": mean + half, "median_low": low,
                    "median_high": high, "ci_method": "analytic"})
    return out


def _all_level_cis(groups: list[list[np.ndarray]], levels: list[list[str]],
                   **kw: Any) -> list[list[dict]]:
    """Intervals of every level of every outcome: ``groups[t][j]`` is level ``levels[t][j]``.

    A level with the same number of rows under several outcomes is resampled
    once for all of them (its generator is seeded by ``(seed, crc32(code))`` and
    draws the same indices for any outcome of that length), and the bootstrap
    levels run on a few threads (numpy releases the GIL while it draws and
    gathers). The numbers are exactly those of one outcome and one level at a time.
    """
    tasks: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for t, (gs, codes) in enumerate(zip(groups, levels, strict=True)):
        for j, (g, code) in enumerate(zip(gs, codes, strict=True)):
            tasks.setdefault((code, len(g)), []).append((t, j))
    out: list[list[dict]] = [[{}] * len(gs) for gs in groups]

    def run(key: tuple[str, int]) -> None:
        members = tasks[key]
        cis = _level_cis([groups[t][j] for t, j in members], key[0], **kw)
        for (t, j), ci in zip(members, cis, strict=True):
            out[t][j] = ci

    boot = [key for key in tasks if 2 <= key[1] <= kw["boot_max_rows"]]
    work = sum(n for _, n in boot) * kw["n_boot"]
    workers = min(_BOOT_THREADS, len(boot))
    if workers < 2 or work < _BOOT_PARALLEL_WORK:
        for key in tasks:
            run(key)
        return out
    from concurrent.futures import ThreadPoolExecutor

    # largest bootstrap levels first, so the threads finish together
    order = sorted(tasks, key=lambda key: (key not in boot, -key[1], key[0]))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(run, key) for key in order]:
            future.result()
    return out


# ------------------------------------------------------------------ summarize_columns


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
        out["heavy_tailed"] = out["skewness"] > _HEAVY_TAIL_SKEW
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
        non-missing) and ``heavy_tailed`` (skewness > 2). A categorical entry has
        ``n, missing, missing_share, n_levels`` and ``levels``: a list, in code
        order, of ``{"code", "label", "count", "share"}`` (share of non-missing).
    """
    func = "summarize_columns"
    frame = _frame(func, df)
    numeric = _check_names(func, "numeric", numeric)
    categorical = _check_names(func, "categorical", categorical)
    _check_labels(func, "labels", labels)
    _check_columns(func, frame.df, numeric + categorical)
    labels = labels or {}
    n_rows = len(frame.df)
    return _clean({
        "n_rows": n_rows,
        "numeric": {c: _summarize_numeric(n_rows, frame.sorted(c)) for c in numeric},
        "categorical": {
            c: _summarize_categorical(*frame.codes(c), _labels_map(labels.get(c)))
            for c in categorical
        },
    })


# ----------------------------------------------------------------------- associations


def _kept(frame: PreparedFrame, column: str, keep: np.ndarray, n_kept: int) -> tuple[
        np.ndarray, np.ndarray | None]:
    """A numeric column's kept rows, and their sort when it is the column's cached one."""
    x = frame.numeric(column)
    s = frame.sorted(column)
    if n_kept == len(x):
        return x, s
    return x[keep], s if n_kept == len(s) else None


def _spearman(x: np.ndarray, y: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value (t approximation, as ``scipy.stats.spearmanr``).

    The ranks come from the sorted columns (no argsort).
    """
    rho = float(np.corrcoef(_avg_ranks(x, sx), _avg_ranks(y, sy))[0, 1])
    dof = len(x) - 2
    if abs(rho) < 1:
        t = rho * math.sqrt(max(dof / ((rho + 1.0) * (1.0 - rho)), 0.0))
    else:
        t = math.copysign(math.inf, rho)
    return rho, float(2 * stats.t.sf(abs(t), dof))


def _assoc_numeric(frame: PreparedFrame, a: str, b: str) -> dict[str, Any]:
    keep = ~np.isnan(frame.numeric(a)) & ~np.isnan(frame.numeric(b))
    n = int(keep.sum())
    x, sx = _kept(frame, a, keep, n)
    y, sy = _kept(frame, b, keep, n)
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
    y, s_all = _kept(frame, b, keep, n)
    codes, used = _compact(codes if n == len(codes) else codes[keep], len(levels))
    row: dict[str, Any] = {"a": a, "b": b, "kinds": "categorical-numeric", "measure": "eta",
                           "value": None, "p_value": None, "test": "Kruskal-Wallis",
                           "n": n, "n_levels": len(used), "eta_squared": None,
                           "kruskal_h": None, "dof": None, "epsilon_squared": None}
    s_all, groups = _split_sorted(y, codes, len(used), s_all)
    kw = _kruskal(groups, s_all) if n else None
    if kw is None:
        row["note"] = "undefined: fewer than 2 levels or 3 rows, or a constant outcome"
        return row
    eta2 = _anova(groups)["eta_squared"]
    row.update(value=math.sqrt(eta2) if eta2 is not None else None, eta_squared=eta2,
               kruskal_h=kw["h"], dof=kw["dof"], p_value=kw["p_value"],
               epsilon_squared=kw["epsilon_squared"])
    return row


def _cramers_v(table: np.ndarray) -> dict[str, Any]:
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
    ia, used_a = _compact(ca[keep], len(la))
    ib, used_b = _compact(cb[keep], len(lb))
    row: dict[str, Any] = {"a": a, "b": b, "kinds": "categorical-categorical",
                           "measure": "cramers_v_corrected", "value": None, "p_value": None,
                           "test": "chi-square test of independence", "n": int(keep.sum()),
                           "cramers_v": None, "chi2": None, "dof": None, "min_expected": None}
    ra, rb = len(used_a), len(used_b)
    if ra < 2 or rb < 2:
        row["note"] = "undefined: a column has fewer than 2 levels in the complete rows"
        return row
    table = np.bincount(ia.astype(np.int64) * rb + ib, minlength=ra * rb).reshape(ra, rb)
    res = _cramers_v(table)
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
    frame = _frame(func, df)
    numeric = _check_names(func, "numeric", numeric)
    categorical = _check_names(func, "categorical", categorical)
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise _bad(func, "categorical", "disjoint from 'numeric'", both)
    _check_columns(func, frame.df, numeric + categorical)
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
    return _clean(rows)


# --------------------------------------------------------------------- compare_levels


def _compare_verdict(attribute: str, word: str, out: dict[str, Any],
                     labels: dict[str, str]) -> str:
    kw = out["kruskal"]
    if kw is None:
        reason = "; ".join(out["notes"][-1:]) or "too little data"
        return _sentence(f"cannot test whether {attribute} affects {word}: {reason}")
    p_text = f"Kruskal-Wallis {format_p(kw['p_value'])}"
    if not out["significant"]:
        return _sentence(f"no evidence that {attribute} affects {word} ({p_text})")
    explained = out["variance_explained"]
    if explained is None:
        explained = kw["epsilon_squared"]
    share = "less than 0.1%" if explained < 0.001 else f"{100 * explained:.1f}%"
    head = f"{attribute} explains {share} of {word} variation ({p_text})"

    def describe(level: dict[str, Any], direction: str) -> str:
        name = labels.get(level["code"], level["code"])
        pct = level["median_vs_rest_pct"]
        if pct is not None and abs(pct) >= 1 and (pct > 0) == (direction == "above"):
            return f"{name} customers' median {word} is {abs(pct):.0f}% {direction} the rest"
        rest = level["median_rest"]
        rest_text = f" vs {_fmt_num(rest)}" if rest is not None else ""
        return (f"{name} customers tend to have {'higher' if direction == 'above' else 'lower'} "
                f"{word} than the rest (rank-biserial {level['rank_biserial']:+.2f}; median "
                f"{_fmt_num(level['median'])}{rest_text})")

    for key, direction in (("best_levels", "above"), ("worst_levels", "below")):
        ranked = out[key]
        if ranked:
            text = f"{head}; {describe(ranked[0], direction)}"
            others = []
            for lv in ranked[1:]:
                name, pct = labels.get(lv["code"], lv["code"]), lv["median_vs_rest_pct"]
                others.append(f"{name} ({pct:+.0f}%)" if pct is not None and abs(pct) >= 1
                              else name)
            if others:
                text += f" (also significantly {direction}: {', '.join(others)})"
            return _sentence(text)
    return _sentence(f"{head}, but no single {attribute} level stands out from the rest "
                     "after correction")


def compare_levels(
    df: pd.DataFrame,
    attribute: str,
    target: str,
    *,
    labels: dict[str, str] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    boot_max_rows: int = 50_000,
    alpha: float = 0.05,
    value_word: str | None = None,
) -> dict:
    """Does a categorical attribute influence a numeric target, and which levels are best?

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    attribute : str
        Categorical column (e.g. ``"channel"``); codes are compared as text.
    target : str
        Numeric column (e.g. ``"CLV"``). Rows missing either column are dropped.
    labels : dict of str to str, optional
        Label for each attribute code, used in the output and the verdict.
    seed : int, default 0
        Seed of the bootstrap; each level gets its own generator seeded by
        ``(seed, crc32(code))``, so results do not depend on the other levels.
    n_boot : int, default 2000
        Bootstrap replicates.
    boot_max_rows : int, default 50_000
        Levels with at most this many rows get percentile-bootstrap intervals;
        larger levels get the t interval (mean) and the binomial order-statistic
        interval (median). See the module docstring for how the bootstrap is done.
    alpha : float, default 0.05
        Significance level; intervals have level ``1 - alpha``.
    value_word : str, optional
        How the verdict names the target (default: the column name).

    Returns
    -------
    dict
        Keys: ``attribute, target, value_word, alpha, ci_level, n`` (rows
        analysed), ``n_dropped, n_levels``;

        * ``levels``: list in code order of ``{code, label, n, tested, mean, sd,
          mean_low, mean_high, median, median_low, median_high, ci_method``
          (``"bootstrap"``, ``"analytic"`` or None), ``total, share_of_total,
          median_rest, median_vs_rest_pct, vs_rest}``: ``median_rest`` is the
          median of all other analysed rows, ``median_vs_rest_pct`` the level's
          median relative to it in percent (None if it is 0); ``vs_rest`` is None
          or ``{u, p_value, p_adjusted, rank_biserial}`` (Mann-Whitney, level vs
          the other tested rows, Holm across levels);
        * ``kruskal``: None or ``{h, dof, p_value, epsilon_squared}``;
        * ``welch``: None or ``{f, df1, df2, p_value}`` (Welch's ANOVA);
        * ``variance_explained`` (eta^2, between/total sum of squares) and
          ``omega_squared``;
        * ``pairwise``: list of ``{a, b, a_label, b_label, n_a, n_b, u, p_value,
          p_adjusted, rank_biserial, median_a, median_b, median_diff,
          significant}`` (two-sided Mann-Whitney, Holm across pairs;
          ``rank_biserial > 0`` means ``a`` tends to be higher);
        * ``best_levels`` / ``worst_levels``: levels whose median is significantly
          above / below the rest, ranked, each ``{code, label, n, median,
          median_rest, median_vs_rest_pct, rank_biserial, p_adjusted}``; empty
          unless the Kruskal-Wallis test is significant (protected procedure);
        * ``significant`` (Kruskal-Wallis p < alpha), ``verdict`` (one sentence),
          ``notes`` (list of str).

        Levels with fewer than 2 rows are reported (``tested`` False) but left out
        of every test.
    """
    func = "compare_levels"
    frame = _frame(func, df)
    for name, value in (("attribute", attribute), ("target", target)):
        if not isinstance(value, str):
            raise _bad(func, name, "a column name (str)", value)
    if attribute == target:
        raise _bad(func, "target", "a different column than 'attribute'", target)
    _check_columns(func, frame.df, [attribute, target])
    _check_labels(func, "labels", labels)
    seed = _check_int(func, "seed", seed, 0)
    n_boot = _check_int(func, "n_boot", n_boot, 1)
    boot_max_rows = _check_int(func, "boot_max_rows", boot_max_rows, 0)
    alpha = _check_alpha(func, alpha)
    if value_word is not None and not isinstance(value_word, str):
        raise _bad(func, "value_word", "a str or None", value_word)
    return _compare(frame, attribute, [target], label_of=_labels_map(labels), seed=seed,
                    n_boot=n_boot, boot_max_rows=boot_max_rows, alpha=alpha,
                    words=[value_word or target])[0]


def compare_levels_many(
    df: pd.DataFrame,
    attribute: str,
    targets: list[str],
    *,
    labels: dict[str, str] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    boot_max_rows: int = 50_000,
    alpha: float = 0.05,
) -> list[dict]:
    """:func:`compare_levels` of one attribute against several targets, sharing work.

    Returns the list ``[compare_levels(df, attribute, t, ...) for t in targets]``,
    identical number for number, but faster: a level with the same rows under
    several targets is bootstrapped from one set of resampling indices (the
    generator of a level is seeded by ``(seed, crc32(code))``, so separate calls
    would draw the very same indices), and the attribute is factorized once.

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    attribute : str
        Categorical column.
    targets : list of str
        Numeric columns, none of them ``attribute``.
    labels, seed, n_boot, boot_max_rows, alpha
        As in :func:`compare_levels`.

    Returns
    -------
    list of dict
        One :func:`compare_levels` result per target, in order.
    """
    func = "compare_levels_many"
    frame = _frame(func, df)
    if not isinstance(attribute, str):
        raise _bad(func, "attribute", "a column name (str)", attribute)
    targets = _check_names(func, "targets", targets)
    if attribute in targets:
        raise _bad(func, "targets", "columns other than 'attribute'", targets)
    _check_columns(func, frame.df, [attribute, *targets])
    _check_labels(func, "labels", labels)
    seed = _check_int(func, "seed", seed, 0)
    n_boot = _check_int(func, "n_boot", n_boot, 1)
    boot_max_rows = _check_int(func, "boot_max_rows", boot_max_rows, 0)
    alpha = _check_alpha(func, alpha)
    return _compare(frame, attribute, targets, label_of=_labels_map(labels), seed=seed,
                    n_boot=n_boot, boot_max_rows=boot_max_rows, alpha=alpha, words=targets)


def _compare(frame: PreparedFrame, attribute: str, targets: list[str], *,
             label_of: dict[str, str], seed: int, n_boot: int, boot_max_rows: int,
             alpha: float, words: list[str]) -> list[dict]:
    """The work of :func:`compare_levels` for each target (inputs already validated)."""
    prepared = []
    for target in targets:
        codes, levels = frame.codes(attribute)
        keep = (codes >= 0) & ~np.isnan(frame.numeric(target))
        n_kept = int(keep.sum())
        x, s_all = _kept(frame, target, keep, n_kept)
        n_dropped = len(keep) - n_kept
        codes, used = _compact(codes if n_dropped == 0 else codes[keep], len(levels))
        levels = [levels[i] for i in used]
        s_all, groups = _split_sorted(x, codes, len(levels), s_all)
        prepared.append((target, x, n_dropped, levels, s_all, groups))
    cis = _all_level_cis([p[5] for p in prepared], [p[3] for p in prepared], seed=seed,
                         n_boot=n_boot, boot_max_rows=boot_max_rows, alpha=alpha)
    return [_compare_one(attribute, *p, level_cis, label_of=label_of, alpha=alpha, word=word)
            for p, level_cis, word in zip(prepared, cis, words, strict=True)]


def _compare_one(attribute: str, target: str, x: np.ndarray, n_dropped: int, levels: list[str],
                 s_all: np.ndarray, groups: list[np.ndarray], cis: list[dict], *,
                 label_of: dict[str, str], alpha: float, word: str) -> dict:
    notes: list[str] = []
    if n_dropped:
        notes.append(f"{n_dropped} rows with a missing {attribute} or {target} were left out")
    total_sum = float(x.sum()) if len(x) else 0.0
    out: dict[str, Any] = {
        "attribute": attribute, "target": target, "value_word": word, "alpha": alpha,
        "ci_level": 1 - alpha, "n": len(x), "n_dropped": n_dropped, "n_levels": len(levels),
        "levels": [], "kruskal": None, "welch": None, "variance_explained": None,
        "omega_squared": None, "pairwise": [], "best_levels": [], "worst_levels": [],
        "significant": False, "verdict": "", "notes": notes,
    }
    for code, g, ci in zip(levels, groups, cis, strict=True):
        median = _median_sorted(g)
        rest = _median_excluding(s_all, g)
        pct = None
        if rest is not None and rest != 0:
            pct = 100 * (median - rest) / abs(rest)
        entry = {
            "code": code, "label": label_of.get(code, code), "n": len(g), "tested": len(g) >= 2,
            "mean": float(g.mean()), "sd": float(g.std(ddof=1)) if len(g) >= 2 else None,
            "median": median, **ci, "total": float(g.sum()),
            "share_of_total": float(g.sum()) / total_sum if total_sum else None,
            "median_rest": rest, "median_vs_rest_pct": pct, "vs_rest": None,
        }
        out["levels"].append(entry)

    small = [lv["label"] for lv in out["levels"] if not lv["tested"]]
    if small:
        notes.append(f"{len(small)} {attribute} level(s) with fewer than 2 rows are left out of "
                     f"the tests: {', '.join(small)}")
    tested = [j for j, lv in enumerate(out["levels"]) if lv["tested"]]
    if len(tested) < 2:
        notes.append(f"fewer than 2 {attribute} levels have 2 or more rows, so there is "
                     "nothing to compare")
    elif min(groups[j][0] for j in tested) == max(groups[j][-1] for j in tested):
        notes.append(f"{target} is constant ({_fmt_num(float(groups[tested[0]][0]))} for every "
                     "row), so the tests are undefined")
    else:
        _run_tests(out, [groups[j] for j in tested], tested, alpha,
                   s_all if len(tested) == len(groups) else None)
    out["verdict"] = _compare_verdict(attribute, word, out, label_of)
    return _clean(out)


def _run_tests(out: dict[str, Any], groups: list[np.ndarray], tested: list[int],
               alpha: float, s_tested: np.ndarray | None) -> None:
    """Omnibus, level-vs-rest and pairwise tests on the tested levels (fills ``out``).

    ``s_tested`` is the sorted union of ``groups`` when the caller has it.
    """
    levels = out["levels"]
    if s_tested is None:
        s_tested = np.sort(np.concatenate(groups))
    n = len(s_tested)
    kw = _kruskal(groups, s_tested)
    anova = _anova(groups)
    out["welch"] = anova["welch"]
    out["variance_explained"] = anova["eta_squared"]
    out["omega_squared"] = anova["omega_squared"]
    if anova["welch"] is None:
        out["notes"].append("Welch's ANOVA is undefined: a level has no variation")
    if kw is None:
        out["notes"].append("Kruskal-Wallis test is undefined")
        return
    ties_all = _tie_sum(_uniq(s_tested)[1])
    vs_rest = []
    for j, g, rank_sum in zip(tested, groups, kw.pop("rank_sums"), strict=True):
        n1, n2 = len(g), n - len(g)
        u = rank_sum - n1 * (n1 + 1) / 2
        if n <= _SMALL_MWU:
            rest = np.concatenate([h for h in groups if h is not g])
            p = float(stats.mannwhitneyu(g, rest, alternative="two-sided").pvalue)
        else:
            p = _mwu_p(u, n1, n2, ties_all)
        vs_rest.append({"u": u, "p_value": p, "rank_biserial": 2 * u / (n1 * n2) - 1})
        levels[j]["vs_rest"] = vs_rest[-1]
    for entry, adjusted in zip(vs_rest, holm([v["p_value"] for v in vs_rest]), strict=True):
        entry["p_adjusted"] = adjusted
    out["kruskal"] = kw
    out["significant"] = kw["p_value"] < alpha

    if len(tested) > _MAX_PAIRWISE_LEVELS:
        out["notes"].append(f"pairwise tests skipped: {len(tested)} levels (more than "
                            f"{_MAX_PAIRWISE_LEVELS}); use the level-vs-rest tests")
    else:
        uniq = [_uniq(g) for g in groups]
        pairs = []
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                la, lb = levels[tested[a]], levels[tested[b]]
                u, p = _mwu_pair(groups[a], groups[b], uniq[a], uniq[b])
                pairs.append({
                    "a": la["code"], "b": lb["code"], "a_label": la["label"],
                    "b_label": lb["label"], "n_a": la["n"], "n_b": lb["n"], "u": u,
                    "p_value": p, "rank_biserial": 2 * u / (la["n"] * lb["n"]) - 1,
                    "median_a": la["median"], "median_b": lb["median"],
                    "median_diff": la["median"] - lb["median"],
                })
        for pair, adjusted in zip(pairs, holm([q["p_value"] for q in pairs]), strict=True):
            pair["p_adjusted"] = adjusted
            pair["significant"] = adjusted < alpha
        out["pairwise"] = pairs

    if not out["significant"]:
        return
    for key, sign in (("best_levels", 1), ("worst_levels", -1)):
        chosen = [
            levels[j] for j in tested
            if levels[j]["vs_rest"]["p_adjusted"] < alpha
            and sign * levels[j]["vs_rest"]["rank_biserial"] > 0
        ]
        chosen.sort(key=lambda lv: (-sign * (lv["median_vs_rest_pct"] or 0.0),
                                    -sign * lv["vs_rest"]["rank_biserial"]))
        out[key] = [
            {"code": lv["code"], "label": lv["label"], "n": lv["n"], "median": lv["median"],
             "median_rest": lv["median_rest"], "median_vs_rest_pct": lv["median_vs_rest_pct"],
             "rank_biserial": lv["vs_rest"]["rank_biserial"],
             "p_adjusted": lv["vs_rest"]["p_adjusted"]}
            for lv in chosen
        ]


# ------------------------------------------------------------------------ group_share


def _member_mask(func: str, df: pd.DataFrame, member: Any) -> np.ndarray:
    """Membership as float (1, 0, NaN = unknown), aligned to ``df``."""
    if isinstance(member, pd.Series):
        if not member.index.equals(df.index):
            if not df.index.is_unique or not member.index.is_unique:
                raise _bad(func, "member", "a boolean Series with the same index as df",
                           "a Series with a different, non-unique index")
            member = member.reindex(df.index)
        series = member
    else:
        array = np.asarray(member)
        if array.ndim != 1 or len(array) != len(df):
            raise _bad(func, "member", f"a boolean Series or array of length {len(df)}",
                       f"an array of shape {array.shape}")
        series = pd.Series(array)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        out = series.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(out) & (out != 0) & (out != 1)
    else:
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype=object)
        truth = {True: 1.0, False: 0.0}
        out = np.array([np.nan if m else truth.get(v, -1.0) if isinstance(v, bool | np.bool_)
                        else -1.0 for v, m in zip(values, missing, strict=True)])
        bad = out == -1.0
    if bad.any():
        examples = list(pd.unique(series[bad]))[:3]
        raise _bad(func, "member", "boolean (True/False or 1/0) with optional missing values",
                   examples)
    return out


def _wilson(count: np.ndarray, nobs: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (as statsmodels ``proportion_confint(method="wilson")``)."""
    z = stats.norm.isf(alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = count / nobs
        denom = 1 + z**2 / nobs
        centre = (p + z**2 / (2 * nobs)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / nobs + z**2 / (4 * nobs**2))
    return centre - half, centre + half


def _value_summary(v: np.ndarray, grand_total: float) -> dict[str, Any]:
    v = v[~np.isnan(v)]
    total = float(v.sum()) if len(v) else 0.0
    return {
        "count": len(v),
        "mean": float(v.mean()) if len(v) else None,
        "median": float(np.median(v)) if len(v) else None,
        "total": total,
        "share_of_total": total / grand_total if grand_total else None,
    }


def _group_verdict(out: dict[str, Any], attribute: str, group: str, word: str | None) -> str:
    overall = _fmt_pct(out["overall_share"]) if out["overall_share"] is not None else "n/a"
    chi = out["chi2"]
    if chi is None:
        return _sentence(f"cannot test whether {group} varies by {attribute}: "
                         f"{'; '.join(out['notes'][-1:]) or 'too little data'}")
    if chi["p_value"] >= out["alpha"]:
        return _sentence(f"no evidence that {group} varies by {attribute} "
                         f"(chi-square {format_p(chi['p_value'])}); {overall} overall")
    if not out["over_represented"]:
        return _sentence(f"{group} varies by {attribute} (chi-square {format_p(chi['p_value'])}, "
                         f"Cramer's V {chi['cramers_v']:.2f}), but no {attribute} level is "
                         f"significantly above the overall {overall} after correction")
    top = out["over_represented"][0]
    text = (f"{group} is most concentrated in {top['label']}: {_fmt_pct(top['share'])} of "
            f"customers vs {overall} overall (adjusted residual "
            f"{top['adjusted_residual']:.1f}, {format_p(top['p_adjusted'])})")
    value = top.get("value")
    if value is not None and value["in_group"]["share_of_total"] is not None:
        text += (f"; those {top['in_group']:,} customers hold "
                 f"{_fmt_pct(value['in_group']['share_of_total'])} of {word}")
    return _sentence(text)


def group_share(
    df: pd.DataFrame,
    attribute: str,
    member: pd.Series,
    *,
    group_name: str,
    value: str | None = None,
    labels: dict[str, str] | None = None,
    alpha: float = 0.05,
    value_word: str | None = None,
) -> dict:
    """Where is a group of customers concentrated, and what are they worth?

    Parameters
    ----------
    df : pandas.DataFrame or PreparedFrame
        The customer table.
    attribute : str
        Categorical column to break the group down by (e.g. ``"region"``).
    member : pandas.Series of bool
        Group membership per row (e.g. ``df["channel"].isin(social)``), aligned
        to ``df`` by index (or an array of ``len(df)``). True/False or 1/0;
        missing values drop the row.
    group_name : str
        How the verdict names the group (e.g. ``"social-media discovery"``).
    value : str, optional
        Numeric column (e.g. ``"CLV"``) whose in-group worth is reported per level.
    labels : dict of str to str, optional
        Label for each attribute code.
    alpha : float, default 0.05
        Significance level; Wilson intervals have level ``1 - alpha``.
    value_word : str, optional
        How the verdict names ``value`` (default: the column name).

    Returns
    -------
    dict
        Keys: ``attribute, group_name, value, alpha, ci_level, n, n_dropped,
        in_group`` (count), ``overall_share``;

        * ``levels``: list in code order of ``{code, label, n, in_group, out_group,
          share, share_low, share_high`` (Wilson), ``lift`` (share / overall
          share), ``expected_in_group, adjusted_residual`` (Agresti's adjusted
          standardized residual of the in-group cell; the out-group cell's is its
          negative), ``p_value`` (two-sided normal), ``p_adjusted`` (Holm across
          levels), ``value}``, where ``value`` is None or ``{"in_group": S,
          "out_group": S}`` with ``S = {count, mean, median, total,
          share_of_total}`` (share of the value of all analysed rows);
        * ``crosstab``: ``{levels, labels, columns, counts, adjusted_residuals}``
          (rows = levels, columns = [in group, not in group]);
        * ``chi2``: None or ``{chi2, dof, p_value, cramers_v, cramers_v_corrected,
          min_expected}`` (no continuity correction);
        * ``over_represented`` / ``under_represented``: level dicts (as in
          ``levels``) whose share is significantly above / below the overall share
          (``p_adjusted < alpha``), ranked by share (highest / lowest first);
        * ``total_value`` (None without ``value``), ``significant`` (chi-square
          p < alpha), ``verdict`` (one sentence) and ``notes``.
    """
    func = "group_share"
    frame = _frame(func, df)
    df = frame.df
    if not isinstance(attribute, str):
        raise _bad(func, "attribute", "a column name (str)", attribute)
    if not isinstance(group_name, str) or not group_name.strip():
        raise _bad(func, "group_name", "a non-empty str", group_name)
    if value is not None and not isinstance(value, str):
        raise _bad(func, "value", "a column name (str) or None", value)
    _check_columns(func, df, [attribute] + ([value] if value else []))
    _check_labels(func, "labels", labels)
    alpha = _check_alpha(func, alpha)
    label_of = _labels_map(labels)
    word = value_word or value

    mask = _member_mask(func, df, member)
    codes, levels = frame.codes(attribute)
    keep = (codes >= 0) & ~np.isnan(mask)
    notes: list[str] = []
    n_dropped = int(len(keep) - keep.sum())
    if n_dropped:
        notes.append(f"{n_dropped} rows with a missing {attribute} or membership were left out")
    inside = mask[keep] == 1
    codes, used = _compact(codes[keep], len(levels))
    levels = [levels[i] for i in used]
    k, n = len(levels), int(keep.sum())
    n_in = np.bincount(codes[inside], minlength=k).astype(float)
    n_lv = np.bincount(codes, minlength=k).astype(float)
    total_in = float(n_in.sum())
    overall = total_in / n if n else None

    values = total_value = None
    if value is not None:
        values = frame.numeric(value)[keep]
        total_value = float(np.nansum(values))
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            notes.append(f"{n_missing} rows with a missing {value} count in the shares but not "
                         "in the value totals")

    out: dict[str, Any] = {
        "attribute": attribute, "group_name": group_name, "value": value, "alpha": alpha,
        "ci_level": 1 - alpha, "n": n, "n_dropped": n_dropped, "in_group": int(total_in),
        "overall_share": overall, "levels": [], "crosstab": None, "chi2": None,
        "over_represented": [], "under_represented": [], "total_value": total_value,
        "significant": False, "verdict": "", "notes": notes,
    }
    low, high = _wilson(n_in, n_lv, alpha)
    residual = np.full(k, np.nan)
    expected = n_lv * (overall or 0.0)
    if k >= 2 and 0 < total_in < n:
        col = overall
        residual = (n_in - expected) / np.sqrt(expected * (1 - n_lv / n) * (1 - col))
        residual[~np.isfinite(residual)] = np.nan
    p_raw = [_num(2 * stats.norm.sf(abs(r))) for r in residual]
    p_adj = holm(p_raw)
    for j, code in enumerate(levels):
        share = n_in[j] / n_lv[j]
        entry = {
            "code": code, "label": label_of.get(code, code), "n": int(n_lv[j]),
            "in_group": int(n_in[j]), "out_group": int(n_lv[j] - n_in[j]), "share": share,
            "share_low": low[j], "share_high": high[j],
            "lift": share / overall if overall else None,
            "expected_in_group": expected[j], "adjusted_residual": residual[j],
            "p_value": p_raw[j], "p_adjusted": p_adj[j], "value": None,
        }
        if values is not None:
            level_rows = codes == j
            entry["value"] = {
                "in_group": _value_summary(values[level_rows & inside], total_value),
                "out_group": _value_summary(values[level_rows & ~inside], total_value),
            }
        out["levels"].append(entry)
    out["crosstab"] = {
        "levels": levels, "labels": [lv["label"] for lv in out["levels"]],
        "columns": [group_name, f"not {group_name}"],
        "counts": [[int(a), int(b - a)] for a, b in zip(n_in, n_lv, strict=True)],
        "adjusted_residuals": [[_num(r), _num(-r)] for r in residual],
    }

    if k < 2:
        notes.append(f"fewer than 2 {attribute} levels, so there is nothing to compare")
    elif not 0 < total_in < n:
        notes.append(f"every customer is {'in' if total_in else 'outside'} {group_name}, "
                     "so the test is undefined")
    else:
        table = np.column_stack([n_in, n_lv - n_in])
        chi = _cramers_v(table)
        out["chi2"] = chi
        out["significant"] = chi["p_value"] < alpha
        if chi["min_expected"] < 5:
            notes.append(f"smallest expected count is {chi['min_expected']:.1f} (< 5): the "
                         "chi-square approximation may be poor")
        for key, sign in (("over_represented", 1), ("under_represented", -1)):
            chosen = [e for e in out["levels"] if e["p_adjusted"] is not None
                      and e["p_adjusted"] < alpha and sign * e["adjusted_residual"] > 0]
            chosen.sort(key=lambda e: (-sign * e["share"], -abs(e["adjusted_residual"])))
            out[key] = chosen
    out["verdict"] = _group_verdict(out, attribute, group_name, word)
    return _clean(out)
