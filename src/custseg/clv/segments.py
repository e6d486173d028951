"""Predicted value per segment, with bootstrap intervals.

For each segment of a run: the mean, median and total of the predicted CLV,
P(alive) and expected purchases, the segment's share of the total predicted
value, and percentile bootstrap 95% intervals (resampling the segment's
customers, :data:`N_BOOT` times, seeded; above :data:`BOOT_MAX` customers the normal
approximation) for the means and the share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["segment_figures", "N_BOOT", "BOOT_MAX"]

N_BOOT = 1000
_MEASURES = ("clv", "p_alive", "expected_purchases")


#: above this many customers in a segment the bootstrap distribution of a mean is taken as normal
BOOT_MAX = 20_000


def _resampled_sums(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sums of :data:`N_BOOT` bootstrap resamples (a normal approximation above BOOT_MAX)."""
    n = len(values)
    if n > BOOT_MAX:
        return rng.normal(values.sum(), np.sqrt(n) * values.std(), N_BOOT)
    return values[rng.integers(0, n, (N_BOOT, n))].sum(axis=1)


def _interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    means = _resampled_sums(values, rng) / len(values)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def segment_figures(customers: pd.DataFrame, id_col: str, segments: pd.DataFrame, *,
                    seed: int = 0) -> tuple[list[dict], list[dict[str, str]]]:
    """Per-segment figures of scored ``customers`` joined to a run's ``segments`` table.

    ``segments`` has the run's id column (the first column), ``segment`` and
    ``segment_name``. Returns the list for ``clv.json`` and warnings (customers
    in one table only).
    """
    warnings: list[dict[str, str]] = []
    seg_id = segments.columns[0]
    left = customers.copy()
    right = segments[[seg_id, "segment", "segment_name"]].copy()
    # ids are matched as text, as written
    left["_key"] = left[id_col].astype(str)
    right["_key"] = right[seg_id].astype(str)
    joined = left.merge(right[["_key", "segment", "segment_name"]], on="_key", how="inner")
    missing = len(left) - len(joined)
    if missing:
        warnings.append({"code": "clv-not-in-segments",
                         "message": f"{missing:,} customers of the log are not in the run's "
                                    "segments and are left out of the per-segment figures"})
    if len(joined) == 0:
        return [], warnings
    total = float(joined["clv"].sum())
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    for (seg, name), part in joined.groupby(["segment", "segment_name"], sort=True):
        entry = {"segment": int(seg) if isinstance(seg, (int, np.integer)) else str(seg),
                 "name": str(name), "customers": int(len(part))}
        for m in _MEASURES:
            v = part[m].to_numpy(dtype=np.float64)
            lo, hi = _interval(v, rng)
            entry[m] = {"mean": float(v.mean()), "median": float(np.median(v)),
                        "total": float(v.sum()), "mean_ci95": [lo, hi]}
        v = part["clv"].to_numpy(dtype=np.float64)
        # the share's interval resamples the segment only (the rest held fixed)
        rest = total - float(v.sum())
        sums = _resampled_sums(v, rng)
        shares = sums / (sums + rest) if total > 0 else np.zeros(N_BOOT)
        entry["value_share"] = float(v.sum() / total) if total > 0 else None
        entry["value_share_ci95"] = [float(x) for x in np.quantile(shares, [0.025, 0.975])]
        out.append(entry)
    return out, warnings
