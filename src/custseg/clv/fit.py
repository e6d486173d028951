"""Maximum likelihood for the models of this package, on log-parameters.

:func:`fit` minimises the mean negative log-likelihood (plus an optional L2
penalty on the log-parameters as fitted, ``penalizer * sum(log(theta) ** 2)``,
which pulls every parameter towards 1 in the rescaled units and keeps a maximum
that would lie at 0 or infinity finite; ``lifetimes``' ``penalizer_coef``
penalises ``theta ** 2`` instead, which can push parameters to 0) over
``log(theta)`` with L-BFGS-B, from each of the model's starting points. Before fitting, times (or amounts) are
rescaled so that the largest is 10 (``lifetimes`` does the same): the parameters
measured in that unit are scaled back afterwards, as are their standard errors.

A fit is *converged* when the largest gradient component of the mean objective
in the log-parameters is below :data:`GRADIENT_TOL` (first-order optimality,
whatever L-BFGS-B's own stopping message), and no parameter sits at the bounds of the search (a
log-parameter of -20 or 20: the maximum is then at 0 or infinity, the model
does not fit the data). The best converged start wins; without one the result
says so (``converged`` False, ``message``) and the caller must not use it
silently. Standard errors come from the Hessian of the total negative
log-likelihood in the log-parameters (central differences of the gradient;
analytical where the model has one, else central differences of the objective),
inverted, then the delta method: ``se(theta) = theta * se(log theta)`` (with a
penalty, the Hessian of the penalised objective).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

__all__ = ["FitResult", "fit", "GRADIENT_TOL", "BOUND"]

#: largest gradient component (mean objective, log-parameters) of a converged fit
GRADIENT_TOL = 1e-5
#: search bounds of the log-parameters
BOUND = 20.0


@dataclass
class FitResult:
    """A fitted model: parameters in the data's units, standard errors, diagnostics."""

    model: str
    params: dict[str, float]
    se: dict[str, float | None]
    log_likelihood: float
    converged: bool
    message: str
    n: float
    penalizer: float = 0.0
    starts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def theta(self) -> tuple[float, ...]:
        return tuple(self.params.values())

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "params_se": dict(self.se),
                "log_likelihood": self.log_likelihood, "converged": self.converged,
                "message": self.message, "penalizer": self.penalizer}


def _objective(model, data, penalizer: float):
    """``fg(log_theta) -> (objective, gradient)``: the mean negative log-likelihood plus the
    penalty, and its gradient in the log-parameters (analytical where the model has
    ``value_and_grad``, else central differences)."""
    n = data.n
    fused = getattr(model, "value_and_grad", None)

    def f(log_theta):
        theta = np.exp(log_theta)
        with np.errstate(all="ignore"):
            value = -np.dot(data.w, model.loglik(theta, data)) / n
        if not np.isfinite(value):
            return 1e300
        return value + penalizer * float(np.sum(log_theta ** 2))

    def fg(log_theta):
        theta = np.exp(log_theta)
        if fused is not None:
            with np.errstate(all="ignore"):
                total, grad = fused(theta, data)
            value = -total / n + penalizer * float(np.sum(log_theta ** 2))
            if not np.isfinite(value):
                return 1e300, np.zeros(len(theta))
            return value, -grad / n * theta + 2.0 * penalizer * log_theta
        h = 1e-4  # the hypergeometric functions are accurate to ~1e-12 relative, not 1e-16
        out = np.empty(len(log_theta))
        for i in range(len(log_theta)):
            e = np.zeros(len(log_theta))
            e[i] = h
            out[i] = (f(log_theta + e) - f(log_theta - e)) / (2 * h)
        return f(log_theta), out

    return fg


def _hessian(g, log_theta, h: float = 1e-4) -> np.ndarray:
    k = len(log_theta)
    out = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        out[:, i] = (g(log_theta + e) - g(log_theta - e)) / (2 * h)
    return (out + out.T) / 2


def fit(model, data, *, scale_names: tuple[str, ...], scale: float, penalizer: float = 0.0,
        starts=None) -> FitResult:
    """Fit ``model`` to ``data`` (collapsed histories or spend data) by maximum likelihood.

    ``scale`` multiplies the data's times (or amounts) before fitting; the
    parameters named in ``scale_names`` are divided by it afterwards.
    """
    from .._threads import one_blas_thread

    # L-BFGS-B's small matrix products on several BLAS threads cost far more than they give
    # (ten times the fit's time on a busy 2-core machine): one thread, for this call only
    with one_blas_thread():
        return _fit(model, data, scale_names=scale_names, scale=scale, penalizer=penalizer,
                    starts=starts)


def _fit(model, data, *, scale_names, scale, penalizer, starts) -> FitResult:
    names = model.param_names
    scaled = data.scaled(scale)
    fg = _objective(model, scaled, penalizer)

    def g(log_theta):
        return fg(log_theta)[1]

    tried: list[dict[str, Any]] = []
    best = None
    for start in starts or model.starts:
        x0 = np.log(np.asarray(start, dtype=np.float64))
        res = minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=[(-BOUND, BOUND)] * len(x0),
                       options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8})
        grad = g(res.x)
        at_bound = bool(np.any(np.abs(res.x) >= BOUND - 1e-6))
        # first-order optimality decides (L-BFGS-B may stop on a failed line search at the optimum)
        ok = bool(np.isfinite(res.fun) and res.fun < 1e299 and np.all(np.isfinite(grad))
                  and np.max(np.abs(grad)) < GRADIENT_TOL and not at_bound)
        why = ("converged" if ok else "a parameter went to 0 or infinity" if at_bound
               else f"the gradient is not zero after {res.nit} iterations ({res.message})")
        tried.append({"start": [float(s) for s in start], "objective": float(res.fun),
                      "converged": ok, "iterations": int(res.nit), "message": why})
        if ok and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        last = min(tried, key=lambda t: t["objective"])
        return FitResult(model.name, {n: float("nan") for n in names}, {n: None for n in names},
                         float("nan"), False, f"no start converged ({last['message']})",
                         data.n, penalizer, tried)
    theta = np.exp(best.x)
    factor = np.array([1.0 / scale if n in scale_names else 1.0 for n in names])
    params = theta * factor
    se: dict[str, float | None] = {n: None for n in names}
    message = "converged"
    hess = _hessian(g, best.x) * scaled.n
    try:
        cov = np.linalg.inv(hess)
        var = np.diag(cov)
        if np.all(np.isfinite(var)) and np.all(var > 0) and np.all(np.linalg.eigvalsh(hess) > 0):
            se = {n: float(p * np.sqrt(v)) for n, p, v in zip(names, params, var, strict=True)}
        else:
            message = "converged, but the Hessian is not positive definite: no standard errors"
    except np.linalg.LinAlgError:
        message = "converged, but the Hessian is singular: no standard errors"
    with np.errstate(all="ignore"):
        ll = float(np.dot(data.w, model.loglik(params, data)))
    return FitResult(model.name, {n: float(p) for n, p in zip(names, params, strict=True)}, se,
                     ll, True, message, data.n, penalizer, tried)
