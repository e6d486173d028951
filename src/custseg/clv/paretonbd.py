"""The Pareto/NBD model (Schmittlein, Morrison and Colombo 1987) on (frequency, recency, T).

While alive a customer buys at rate lambda ~ Gamma(r, alpha) and dies at rate
mu ~ Gamma(s, beta), independently. The log-likelihood is Fader and Hardie's
(2005, "A note on deriving the Pareto/NBD model and related expressions",
equations 18 to 20)::

    L = G(r + x) alpha^r beta^s / G(r) * [ 1 / ((alpha + T)^(r + x) (beta + T)^s)
                                           + s / (r + s + x) * A0 ]

with, for alpha >= beta (the other case swaps alpha and beta and uses
``r + x`` for ``s + 1``)::

    A0 = 2F1(r + s + x, s + 1; r + s + x + 1; (alpha - beta) / (alpha + t_x)) / (alpha + t_x)^(r + s + x)
       - 2F1(r + s + x, s + 1; r + s + x + 1; (alpha - beta) / (alpha + T)) / (alpha + T)^(r + s + x)

computed in log space (the difference with signed ``logsumexp``). ``alpha`` and
``beta`` are in the time unit of the data. The gradient is left to finite
differences. P(alive) is their equation 37 and the conditional expectation of
purchases in the next ``t`` their equation 41.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1, logsumexp

from .data import Histories

__all__ = ["PARETONBD", "ParetoNBD"]


class ParetoNBD:
    """Pareto/NBD: likelihood, predictions (no analytical gradient)."""

    name = "paretonbd"
    title = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")
    time_params = ("alpha", "beta")
    starts = ((1.0, 1.0, 1.0, 1.0), (0.5, 5.0, 0.5, 10.0), (2.0, 1.0, 0.3, 3.0))
    grad = None

    @staticmethod
    def _log_a0(params, h: Histories) -> np.ndarray:
        r, alpha, s, beta = params
        if alpha >= beta:
            big, small, second = alpha, beta, s + 1.0
        else:
            big, small, second = beta, alpha, r + h.x
        rsx = r + s + h.x
        q1, q2 = big + h.tx, big + h.T
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.log(hyp2f1(rsx, second, rsx + 1.0, (big - small) / q1))
            f2 = np.log(hyp2f1(rsx, second, rsx + 1.0, (big - small) / q2))
            out = logsumexp(np.stack([f1 - rsx * np.log(q1), f2 - rsx * np.log(q2)]), axis=0,
                            b=np.array([[1.0], [-1.0]]))
        return out

    def loglik(self, params, h: Histories) -> np.ndarray:
        r, alpha, s, beta = params
        x = h.x
        rx = r + x
        a1 = (gammaln(r + h.ux) - gammaln(r))[h.ix] + r * np.log(alpha) + s * np.log(beta)
        first = -rx * np.log(alpha + h.T) - s * np.log(beta + h.T)
        second = np.log(s) - np.log(r + s + x) + self._log_a0(params, h)
        return a1 + np.logaddexp(first, second)

    def p_alive(self, params, h: Histories) -> np.ndarray:
        r, alpha, s, beta = params
        x = h.x
        log_ratio = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + h.T)
                     + s * np.log(beta + h.T) + self._log_a0(params, h))
        return 1.0 / (1.0 + np.exp(log_ratio))

    def expected(self, params, t, h: Histories) -> np.ndarray:
        r, alpha, s, beta = params
        x = h.x
        t = np.asarray(t, dtype=np.float64)
        ll = self.loglik(params, h)
        first = ((gammaln(r + h.ux) - gammaln(r))[h.ix] + r * np.log(alpha) + s * np.log(beta)
                 - (r + x) * np.log(alpha + h.T) - s * np.log(beta + h.T))
        second = np.log(r + x) + np.log(beta + h.T) - np.log(alpha + h.T)
        log_q = np.log((beta + h.T) / (beta + h.T + t))
        if abs(s - 1.0) < 1e-9:  # the limit of (1 - q^(s - 1)) / (s - 1)
            third = np.log(-log_q)
        else:
            third = np.log(-np.expm1((s - 1.0) * log_q) / (s - 1.0))
        return np.exp(first + second + third - ll)


PARETONBD = ParetoNBD()
