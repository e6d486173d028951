"""The statistics of a campaign: every function takes counts or sums and returns arrays.

All functions are vectorised over segments (and over simulated campaigns in the
tests), so that a campaign of ten million customers is analysed from a handful of
numbers per segment and arm. Each one is a transcription of a published method,
written so that it equals statsmodels' function of the same method (tested to
1e-9):

* :func:`wilson_interval`: Wilson's score interval of one proportion
  (``statsmodels.stats.proportion.proportion_confint(method="wilson")``).
* :func:`newcombe_interval`: Newcombe's hybrid score interval of a difference
  of two proportions (Newcombe 1998, method 10;
  ``confint_proportions_2indep(method="newcomb")``).
* :func:`score_test`: the two-sided score test of equal proportions with the
  small-sample variance correction N / (N - 1) (Miettinen and Nurminen 1985;
  ``test_proportions_2indep(method="score")`` with its defaults).
* :func:`adjust_pvalues`: Holm and Benjamini-Hochberg adjusted p-values
  (``statsmodels.stats.multitest.multipletests``).
* :func:`welch_interval`: the Welch interval of a difference of two means.
* :func:`bootstrap_interval`: a percentile bootstrap interval of the same.
* :func:`interaction_test`: the likelihood-ratio test of a segment-by-arm
  interaction in a logistic regression, from counts per cell.
* :func:`srm_test`: the chi-square test of the sample ratio against the split.
* :func:`mde` and :func:`sample_size`: the minimum detectable difference at
  given sizes, and the sizes needed for a difference, by Cohen's arcsine
  effect size h (as statsmodels' ``NormalIndPower`` with ``proportion_effectsize``).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = ["wilson_interval", "newcombe_interval", "score_test", "adjust_pvalues",
           "welch_interval", "bootstrap_interval", "interaction_test", "srm_test", "mde",
           "sample_size", "SRM_ALPHA"]

#: p-value below which the sample ratio is called a mismatch (a strict level: the check
#: runs on every campaign, and a false alarm throws a valid test away)
SRM_ALPHA = 0.001


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def wilson_interval(count, nobs, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval of ``count / nobs`` (arrays broadcast); NaN where nobs is 0."""
    count = np.asarray(count, dtype=float)
    nobs = np.asarray(nobs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = count / nobs
        crit = _z(alpha)
        crit2 = crit**2
        denom = 1 + crit2 / nobs
        center = (q + crit2 / (2 * nobs)) / denom
        dist = crit * np.sqrt(q * (1.0 - q) / nobs + crit2 / (4.0 * nobs**2)) / denom
    return center - dist, center + dist


def newcombe_interval(count1, nobs1, count2, nobs2, alpha: float = 0.05
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval of ``count1/nobs1 - count2/nobs2``.

    Each proportion gets its Wilson interval; the distances from each estimate to
    its limits are combined in quadrature (Newcombe 1998, method 10).
    """
    count1, nobs1, count2, nobs2 = (np.asarray(a, dtype=float)
                                    for a in (count1, nobs1, count2, nobs2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = count1 / nobs1, count2 / nobs2
    low1, upp1 = wilson_interval(count1, nobs1, alpha)
    low2, upp2 = wilson_interval(count2, nobs2, alpha)
    diff = p1 - p2
    d_low = np.sqrt((p1 - low1) ** 2 + (upp2 - p2) ** 2)
    d_upp = np.sqrt((p2 - low2) ** 2 + (upp1 - p1) ** 2)
    return diff - d_low, diff + d_upp


def score_test(count1, nobs1, count2, nobs2) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided score test of ``p1 == p2``: ``(z, p_value)``.

    The variance is the pooled one, ``p (1 - p) (1/n1 + 1/n2)``, times the
    small-sample correction ``N / (N - 1)``. Where no one (or everyone) converted
    in both arms the variance is 0 and z and p are NaN (nothing can be tested).
    """
    count1, nobs1, count2, nobs2 = (np.asarray(a, dtype=float)
                                    for a in (count1, nobs1, count2, nobs2))
    nobs = nobs1 + nobs2
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (count1 + count2) / nobs
        var = (pooled * (1 - pooled) / nobs1 + pooled * (1 - pooled) / nobs2) * (nobs / (nobs - 1))
        z = (count1 / nobs1 - count2 / nobs2) / np.sqrt(var)
        z = np.where(var > 0, z, np.nan)
    return z, 2 * stats.norm.sf(np.abs(z))


def adjust_pvalues(pvalues, method: str) -> np.ndarray:
    """Holm (``"holm"``) or Benjamini-Hochberg (``"fdr_bh"``) adjusted p-values.

    Vectorised over the last axis (one family per row), so that a thousand
    simulated campaigns are corrected at once; equal to
    ``statsmodels.stats.multitest.multipletests(p, method=method)[1]`` row by row.
    NaN p-values (comparisons that could not be tested) stay NaN and are left out
    of the family.

    Holm: sorted ascending, the i-th smallest (from 0) times ``m - i``, running
    maximum, capped at 1. Benjamini-Hochberg: the i-th smallest times ``m / (i +
    1)``, running minimum from the largest, capped at 1.
    """
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"method must be 'holm' or 'fdr_bh', got {method!r}")
    p = np.asarray(pvalues, dtype=float)
    flat = np.atleast_2d(p)
    m = np.isfinite(flat).sum(axis=-1, keepdims=True)
    filled = np.where(np.isfinite(flat), flat, np.inf)  # NaN sorted last, outside the family
    order = np.argsort(filled, axis=-1, kind="stable")
    ranked = np.take_along_axis(filled, order, axis=-1)
    i = np.arange(flat.shape[-1])[None, :]
    with np.errstate(invalid="ignore"):
        if method == "holm":
            adj = np.maximum.accumulate(ranked * (m - i), axis=-1)
        else:
            adj = np.minimum.accumulate((ranked * m / (i + 1))[:, ::-1], axis=-1)[:, ::-1]
    adj = np.minimum(adj, 1.0)
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, axis=-1)
    out = np.where(np.isfinite(flat), out, np.nan)
    return out.reshape(p.shape)


def welch_interval(mean1, var1, n1, mean2, var2, n2, alpha: float = 0.05
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch's interval of ``mean1 - mean2`` from means, sample variances and sizes.

    Returns ``(low, high, p_value)``; NaN where a group has fewer than two members
    or both variances are 0.
    """
    mean1, var1, n1, mean2, var2, n2 = (np.asarray(a, dtype=float)
                                        for a in (mean1, var1, n1, mean2, var2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v2 = var1 / n1, var2 / n2
        se = np.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        bad = (n1 < 2) | (n2 < 2) | ~(se > 0)
        df = np.where(bad, np.nan, df)
        t = stats.t.isf(alpha / 2, df)
        diff = mean1 - mean2
        p = 2 * stats.t.sf(np.abs(diff / se), df)
    return diff - t * se, diff + t * se, p


def bootstrap_interval(values1: np.ndarray, values2: np.ndarray, *, n_boot: int = 1000,
                       seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(values1) - mean(values2)``.

    Each group is resampled with replacement on its own, ``n_boot`` times, by a
    ``numpy.random.Generator(PCG64(seed))``. NaN when a group is empty.
    """
    values1 = np.asarray(values1, dtype=float)
    values2 = np.asarray(values2, dtype=float)
    if values1.size == 0 or values2.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    step = max(1, 4_000_000 // max(values1.size + values2.size, 1))  # bounded memory
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        m1 = values1[rng.integers(0, values1.size, size=(b, values1.size))].mean(axis=1)
        m2 = values2[rng.integers(0, values2.size, size=(b, values2.size))].mean(axis=1)
        diffs[start:start + b] = m1 - m2
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _binomial_loglik(count: np.ndarray, nobs: np.ndarray, p: np.ndarray) -> float:
    """Sum of the Bernoulli log-likelihoods of ``count`` successes in ``nobs`` at rate ``p``
    (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(count > 0, count * np.log(p), 0.0)
        b = np.where(nobs - count > 0, (nobs - count) * np.log1p(-p), 0.0)
    return float(np.sum(a) + np.sum(b))


def interaction_test(segment, arm, count, nobs) -> dict:
    """Likelihood-ratio test of a segment-by-arm interaction in a logistic regression.

    Parameters
    ----------
    segment, arm : array-like
        The cell's segment and arm (any labels), one entry per cell.
    count, nobs : array-like
        Conversions and customers of each cell.

    Returns
    -------
    dict
        ``statistic``, ``df`` and ``p_value`` of the test of ``outcome ~ segment *
        arm`` against ``outcome ~ segment + arm``. The full model has one rate per
        cell, so its likelihood is the cells' own; the main-effects model is a
        binomial GLM fitted on the cell counts (the same likelihood, up to a
        constant that cancels, as a logistic regression on the customers).
        ``p_value`` is None when there is nothing to test (one segment, or no
        degrees of freedom).
    """
    import statsmodels.api as sm

    count = np.asarray(count, dtype=float)
    nobs = np.asarray(nobs, dtype=float)
    keep = nobs > 0
    seg_codes = np.unique(np.asarray(segment)[keep], return_inverse=True)[1]
    arm_codes = np.unique(np.asarray(arm)[keep], return_inverse=True)[1]
    count, nobs = count[keep], nobs[keep]
    n_seg, n_arm = seg_codes.max(initial=-1) + 1, arm_codes.max(initial=-1) + 1
    df = int(len(count) - (n_seg + n_arm - 1))
    if n_seg < 2 or n_arm < 2 or df < 1:
        return {"statistic": None, "df": max(df, 0), "p_value": None}
    full = _binomial_loglik(count, nobs, count / nobs)
    x = np.zeros((len(count), n_seg + n_arm - 1))
    x[:, 0] = 1.0
    x[np.arange(len(count))[seg_codes > 0], seg_codes[seg_codes > 0]] = 1.0
    x[np.arange(len(count))[arm_codes > 0], n_seg - 1 + arm_codes[arm_codes > 0]] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a cell without conversions: the fit still converges
        fit = sm.GLM(np.column_stack([count, nobs - count]), x,
                     family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    reduced = _binomial_loglik(count, nobs, np.clip(fit.fittedvalues, 0.0, 1.0))
    stat = max(2.0 * (full - reduced), 0.0)
    return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}


def srm_test(counts, shares) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square goodness-of-fit test of arm sizes against the planned split.

    ``counts`` has one row per group (e.g. segment) and one column per arm;
    ``shares`` the planned share of each arm (summing to 1). Returns
    ``(statistic, p_value)`` per row; NaN for a row without customers.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    shares = np.asarray(shares, dtype=float)
    total = counts.sum(axis=1, keepdims=True)
    expected = total * shares[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.sum((counts - expected) ** 2 / expected, axis=1)
    stat = np.where(total[:, 0] > 0, stat, np.nan)
    return stat, stats.chi2.sf(stat, counts.shape[1] - 1)


def _effective_n(n1, n2) -> np.ndarray:
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n1 > 0) & (n2 > 0), n1 * n2 / (n1 + n2), np.nan)


def mde(baseline, n_treatment, n_control, *, alpha: float = 0.05, power: float = 0.8
        ) -> np.ndarray:
    """The smallest increase over ``baseline`` detectable with these sizes.

    Two-sided test at ``alpha`` with ``power`` on Cohen's arcsine scale:
    ``h = (z(1 - alpha/2) + z(power)) / sqrt(n_t n_c / (n_t + n_c))``, turned back
    into a difference of proportions above the baseline (capped at ``1 -
    baseline``). This is ``NormalIndPower().solve_power(nobs1=n_c,
    ratio=n_t/n_c)`` without the negligible far tail of the power.
    """
    baseline = np.clip(np.asarray(baseline, dtype=float), 0.0, 1.0)
    h = (_z(alpha) + float(stats.norm.ppf(power))) / np.sqrt(_effective_n(n_treatment, n_control))
    angle = np.arcsin(np.sqrt(baseline)) + h / 2
    return np.where(angle < np.pi / 2, np.sin(np.minimum(angle, np.pi / 2)) ** 2, 1.0) - baseline


def sample_size(baseline: float, effect: float, *, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0) -> tuple[int, int]:
    """Customers needed ``(treatment, control)`` to detect ``baseline -> baseline + effect``.

    ``ratio`` is treatment over control customers. Cohen's h with the normal
    approximation, as :func:`mde` (its inverse), each arm rounded up.
    """
    h = abs(2 * np.arcsin(np.sqrt(baseline + effect)) - 2 * np.arcsin(np.sqrt(baseline)))
    n_eff = ((_z(alpha) + float(stats.norm.ppf(power))) / h) ** 2
    control = n_eff * (1 + ratio) / ratio
    return int(np.ceil(control * ratio - 1e-9)), int(np.ceil(control - 1e-9))
