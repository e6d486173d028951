"""The calibration/holdout check: predicted against actual repeat purchases after the split.

A model fitted on the calibration period predicts, for each customer seen in it,
the repeat purchases in the holdout period (calibration end, observation end];
they are compared with the purchase days actually there (counted as
``lifetimes`` counts them: distinct purchase days, zero-value purchases
included), in total, per customer (mean absolute error) and grouped by the
number of calibration repeat purchases (the standard chart of Fader, Hardie and
Lee, with the last group open: ``7+``).
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
    section = {
        "customers": int(len(actual)),
        "duration": float(duration),
        "predicted_purchases": float(predicted.sum()),
        "actual_purchases": float(actual.sum()),
        "mae": float(np.mean(np.abs(predicted - actual))) if len(actual) else None,
        "by_calibration_purchases": rows,
    }
    return section, predicted
