"""The calibration/holdout check: predicted against actual repeat purchases after the split.

A model fitted on the calibration period predicts, for each customer seen in it,
the repeat purchases in the holdout period (calibration end, observation end];
they are compared with the purchase days actually there (counted as
``lifetimes`` counts them: distinct purchase days, zero-value purchases
included), in total (actual minus predicted, with a 95% interval from the
per-customer differences: an interval that holds 0 is no detectable difference at
this size), per customer (mean absolute error, beside that of the naive forecast
"each customer's calibration rate, x / T, times the holdout length") and grouped
by the number of calibration repeat purchases (the standard chart of Fader,
Hardie and Lee, with the last group open: ``7+``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import collapse

__all__ = ["holdout_check", "GROUPS"]

#: calibration repeat purchases of the chart: 0 .. GROUPS - 1, then GROUPS or more
GROUPS = 7


def holdout_check(calibration: pd.DataFrame, actual: np.ndarray, duration: float, model,
                  params) -> tuple[dict, np.ndarray]:
    """The holdout section of ``clv.json`` and the per-customer predictions.

    ``calibration`` has each calibration customer's ``frequency``, ``recency`` and
    ``T``; ``actual`` their repeat purchases in the holdout period, which lasts
    ``duration`` (in the same unit).
    """
    hist, inverse = collapse(calibration["frequency"], calibration["recency"], calibration["T"])
    with np.errstate(all="ignore"):
        predicted = model.expected(tuple(params), duration, hist)[inverse]
    actual = np.asarray(actual, dtype=np.float64)
    x = calibration["frequency"].to_numpy(dtype=np.float64)
    group = np.minimum(x, GROUPS).astype(int)
    rows = []
    for g in range(GROUPS + 1):
        inside = group == g
        if not inside.any():
            continue
        rows.append({"calibration_purchases": str(g) if g < GROUPS else f"{GROUPS}+",
                     "customers": int(inside.sum()),
                     "predicted_mean": float(predicted[inside].mean()),
                     "actual_mean": float(actual[inside].mean())})
    n = len(actual)
    diff = actual - predicted
    # the naive forecast a reader would make without a model: each customer's own rate so far
    T = calibration["T"].to_numpy(dtype=np.float64)
    naive = np.where(T > 0, x / np.where(T > 0, T, 1.0), 0.0) * duration
    half = 1.96 * float(np.std(diff, ddof=1)) * np.sqrt(n) if n > 1 else None
    section = {
        "customers": int(n),
        "duration": float(duration),
        "predicted_purchases": float(predicted.sum()),
        "actual_purchases": float(actual.sum()),
        "difference": float(diff.sum()),
        "difference_ci95": None if half is None else [float(diff.sum()) - half, float(diff.sum()) + half],
        "mae": float(np.mean(np.abs(diff))) if n else None,
        "naive_mae": float(np.mean(np.abs(naive - actual))) if n else None,
        "by_calibration_purchases": rows,
    }
    return section, predicted
