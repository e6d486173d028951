"""Fit a purchase model and the spend model, score customers, sum up the result.

:func:`fit_models` fits both on a per-customer table in the ``lifetimes``
convention (``frequency``, ``recency``, ``T``, ``monetary_value``, times in the
chosen unit) and collects the warnings; :func:`score_customers` adds, per
customer, ``p_alive``, ``expected_purchases`` (repeat purchases over the
horizon), ``expected_avg_value`` and ``clv``:

    clv = expected_avg_value * sum_{i=1..H} (E[Y(i m)] - E[Y((i - 1) m)]) / (1 + d)^i

over ``H`` months of ``m`` = 365.25 / 12 days (:data:`MONTH_DAYS`) with the
monthly discount rate ``d`` (``lifetimes`` takes 30 days a month in days and
4.345 weeks in weeks). A fit that does not converge raises
:class:`~custseg.errors.ModelError`; it is never used silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError, ParameterError
from .data import collapse
from .fit import FitResult, fit
from .gammagamma import GAMMAGAMMA, SpendData

__all__ = ["UNITS", "MONTH_DAYS", "CLVFit", "fit_models", "score_customers", "spend_data",
           "CORRELATION_WARN", "value_concentration", "check_options"]

#: days per unit of time
UNITS = {"day": 1.0, "week": 7.0}
#: days in a month of the horizon and of the discount rate
MONTH_DAYS = 365.25 / 12
#: |correlation| of frequency and mean spend above which the Gamma-Gamma assumption is doubtful
CORRELATION_WARN = 0.3


@dataclass
class CLVFit:
    """A fitted purchase model and spend model, with the warnings of the fit."""

    model: Any
    purchase: FitResult
    spend: FitResult
    unit: str
    warnings: list[dict[str, str]] = field(default_factory=list)
    spend_correlation: float | None = None


def check_options(model: str, unit: str, horizon_months: float, discount_rate: float,
                  penalizer: float, models: dict) -> None:
    """Raise :class:`ParameterError` for an unknown model or unit or a bad number."""
    if model not in models:
        raise ParameterError(f"--model must be one of {', '.join(models)}, got {model!r}")
    if unit not in UNITS:
        raise ParameterError(f"--unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if not (np.isfinite(horizon_months) and horizon_months > 0):
        raise ParameterError(f"--horizon-months must be a positive number, got {horizon_months!r}",
                             fix="e.g. --horizon-months 12")
    if not (np.isfinite(discount_rate) and 0 <= discount_rate < 1):
        raise ParameterError(f"--discount-rate must be a monthly rate in [0, 1), got "
                             f"{discount_rate!r}", fix="e.g. --discount-rate 0.01 (1% a month)")
    if not (np.isfinite(penalizer) and penalizer >= 0):
        raise ParameterError(f"--penalizer must be 0 or more, got {penalizer!r}")


def spend_data(customers: pd.DataFrame) -> tuple[SpendData, int]:
    """The repeat buyers with a positive mean spend, and how many repeat buyers spent 0."""
    x = customers["frequency"].to_numpy(dtype=np.float64)
    m = customers["monetary_value"].to_numpy(dtype=np.float64)
    repeat = x > 0
    keep = repeat & (m > 0)
    return SpendData(x[keep], m[keep], np.ones(int(keep.sum()))), int((repeat & ~keep).sum())


def _not_converged(what: str, result: FitResult) -> ModelError:
    return ModelError(f"the {what} fit did not converge: {result.message}",
                      fix="try --penalizer 0.001 (or larger), --unit week, or a longer log")


def fit_models(customers: pd.DataFrame, model, *, unit: str = "day",
               penalizer: float = 0.0) -> CLVFit:
    """Fit ``model`` (a purchase model of :data:`custseg.clv.PURCHASE_MODELS`) and Gamma-Gamma.

    ``customers`` has ``frequency``, ``recency``, ``T`` (in ``unit``) and
    ``monetary_value``. Raises :class:`ModelError` when no repeat buyer is there,
    when a fit does not converge, or when the spend model has no finite mean.
    """
    warnings: list[dict[str, str]] = []
    n = len(customers)
    x = customers["frequency"].to_numpy(dtype=np.float64)
    if n == 0:
        raise ModelError("no customer to fit the models to", fix="check the log and the dates")
    if not (x > 0).any():
        raise ModelError(f"every one of the {n:,} customers bought on one day only: no purchase "
                         "model can be fitted without repeat purchases",
                         fix="use a longer log (or a later --calibration-end)")
    hist, _ = collapse(x, customers["recency"], customers["T"])
    t_max = float(np.max(hist.T)) or 1.0
    purchase = fit(model, hist, scale_names=model.time_params, scale=10.0 / t_max,
                   penalizer=penalizer)
    if not purchase.converged:
        raise _not_converged(model.title, purchase)
    if any(v is None for v in purchase.se.values()):
        warnings.append({"code": "clv-no-standard-errors",
                         "message": f"{model.title}: {purchase.message}"})
    data, zero = spend_data(customers)
    if zero:
        warnings.append({"code": "clv-zero-spend",
                         "message": f"{zero:,} repeat buyers whose mean repeat spend is 0 are "
                                    "left out of the spend model (Gamma-Gamma needs positive "
                                    "amounts)"})
    if len(data.x) < 3:
        raise ModelError(f"only {len(data.x)} repeat buyers with a positive spend: the spend "
                         "model (Gamma-Gamma) needs more", fix="use a longer log")
    corr = None
    if np.std(data.x) > 0 and np.std(data.m) > 0:
        corr = float(np.corrcoef(data.x, data.m)[0, 1])
        if abs(corr) > CORRELATION_WARN:
            warnings.append({"code": "clv-spend-depends-on-frequency",
                             "message": f"frequency and mean spend of repeat buyers correlate "
                                        f"({corr:+.2f}, above {CORRELATION_WARN} in absolute "
                                        "value): the Gamma-Gamma model assumes they are "
                                        "independent, so expected values are less reliable"})
    spend = fit(GAMMAGAMMA, data, scale_names=GAMMAGAMMA.money_params,
                scale=1.0 / float(np.mean(data.m)), penalizer=penalizer)
    if not spend.converged:
        raise _not_converged("Gamma-Gamma", spend)
    if spend.params["q"] <= 1.0:
        raise ModelError(f"the spend model's q is {spend.params['q']:.3f} (at most 1): the mean "
                         "purchase value has no finite expectation",
                         fix="check the amounts for extreme values")
    if any(v is None for v in spend.se.values()):
        warnings.append({"code": "clv-no-standard-errors", "message": f"Gamma-Gamma: {spend.message}"})
    return CLVFit(model, purchase, spend, unit, warnings, corr)


def score_customers(customers: pd.DataFrame, model, purchase_params, spend_params, *,
                    unit: str, horizon_months: float = 12.0,
                    discount_rate: float = 0.01) -> pd.DataFrame:
    """``customers`` with ``p_alive``, ``expected_purchases``, ``expected_avg_value``, ``clv``.

    Predictions are made once per distinct (frequency, recency, T).
    """
    out = customers.copy()
    hist, inverse = collapse(out["frequency"], out["recency"], out["T"])
    month = MONTH_DAYS / UNITS[unit]
    months = int(np.ceil(horizon_months))
    theta = tuple(purchase_params)
    with np.errstate(all="ignore"):
        alive = model.p_alive(theta, hist)
        cumulative = [np.zeros(len(hist.x))]
        for i in range(1, months + 1):
            cumulative.append(model.expected(theta, min(i, horizon_months) * month, hist))
        discounted = np.zeros(len(hist.x))
        for i in range(1, months + 1):
            discounted += (cumulative[i] - cumulative[i - 1]) / (1.0 + discount_rate) ** i
    value = GAMMAGAMMA.expected_value(tuple(spend_params), out["frequency"], out["monetary_value"])
    bad = ~np.isfinite(cumulative[-1]) | ~np.isfinite(discounted)
    if bad.any():
        raise ModelError(f"the predictions of {int(np.bincount(inverse, minlength=len(bad))[bad].sum()):,} "
                         "customers are not finite at the fitted parameters",
                         fix="try another --model, --unit week or --penalizer 0.001")
    out["p_alive"] = alive[inverse]
    out["expected_purchases"] = cumulative[-1][inverse]
    out["expected_avg_value"] = value
    out["clv"] = value * discounted[inverse]
    return out


def value_concentration(clv: np.ndarray, top: float = 0.10) -> float | None:
    """The share of the total predicted value held by the top ``top`` of customers."""
    clv = np.sort(np.asarray(clv, dtype=np.float64))[::-1]
    total = clv.sum()
    if len(clv) == 0 or total <= 0:
        return None
    k = max(1, int(np.ceil(top * len(clv))))
    return float(clv[:k].sum() / total)
