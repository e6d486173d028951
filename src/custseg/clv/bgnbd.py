"""The BG/NBD model and its modified form, MBG/NBD, on (frequency, recency, T).

BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2)): while alive a
customer buys at rate lambda ~ Gamma(r, alpha); after each *repeat* purchase she
drops out with probability p ~ Beta(a, b). Its log-likelihood (their equation 6)::

    L = B(a, b + x) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + T)^(r + x))
        + [x > 0] B(a + 1, b + x - 1) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + t_x)^(r + x))

MBG/NBD (Batislam, Denizel and Filiztekin 2007) lets a customer drop out right
after her first purchase too: the same formula with ``b + x + 1`` and
``b + x`` in the two beta functions and no ``[x > 0]``. Both are one family here,
``shift`` 0 (BG/NBD) or 1 (MBG/NBD).

``alpha`` is in the time unit of the data; ``r``, ``a``, ``b`` have no unit.
The gradient is analytical. Predictions follow the papers: P(alive) (FHL's
equation in their technical note, or 1 for a one-time buyer under BG/NBD) and
the conditional expectation of purchases in the next ``t`` (FHL equation 10), its
Gauss hypergeometric function taken in Euler's transformed form
``2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z)`` where the
direct form overflows (heavy buyers).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from .data import Histories

__all__ = ["BGNBD", "MBGNBD", "BetaGeometricNBD"]


class BetaGeometricNBD:
    """BG/NBD (``shift=0``) or MBG/NBD (``shift=1``): likelihood, gradient, predictions."""

    param_names = ("r", "alpha", "a", "b")
    #: parameters measured in the data's time unit (rescaled with it)
    time_params = ("alpha",)
    #: starting points of the fit (time scaled so that the longest T is 10)
    starts = ((1.0, 1.0, 1.0, 1.0), (0.25, 4.0, 0.8, 2.5), (2.0, 0.5, 3.0, 8.0))

    def __init__(self, name: str, shift: int, title: str):
        self.name = name
        self.shift = shift
        self.title = title

    def _terms(self, params, h: Histories):
        """Per row: the common log term, the two branch terms A2 and A3 (A3 = -inf where absent)."""
        r, alpha, a, b = params
        k = self.shift
        ux = h.ux
        common = (gammaln(r + ux) - gammaln(r) + r * np.log(alpha))[h.ix]
        bab = betaln(a, b)
        b2 = (betaln(a, b + ux + k) - bab)[h.ix]
        has3 = (ux > 0) if k == 0 else np.ones(len(ux), dtype=bool)
        safe = np.where(has3, ux, 1.0)
        b3 = np.where(has3, betaln(a + 1.0, b + safe + k - 1.0) - bab, -np.inf)[h.ix]
        rx = r + h.x
        a2 = b2 - rx * np.log(alpha + h.T)
        a3 = b3 - rx * np.log(alpha + h.tx)
        return common, a2, a3

    def loglik(self, params, h: Histories) -> np.ndarray:
        """The log-likelihood of each distinct history (not weighted by its count)."""
        common, a2, a3 = self._terms(params, h)
        return common + np.logaddexp(a2, a3)

    def grad(self, params, h: Histories) -> np.ndarray:
        """The gradient of the count-weighted total log-likelihood in the parameters."""
        r, alpha, a, b = params
        k = self.shift
        _, a2, a3 = self._terms(params, h)
        w3 = np.exp(a3 - np.logaddexp(a2, a3))  # weight of the second branch
        w2 = 1.0 - w3
        ux = h.ux
        rx = r + h.x
        lT, ltx = np.log(alpha + h.T), np.log(alpha + h.tx)
        d_r = (digamma(r + ux) - digamma(r) + np.log(alpha))[h.ix] - w2 * lT - w3 * ltx
        d_alpha = r / alpha - rx * (w2 / (alpha + h.T) + w3 / (alpha + h.tx))
        dab = digamma(a + b)
        common_a = -digamma(a) + dab
        common_b = -digamma(b) + dab
        safe = np.where((ux > 0) | (k == 1), ux, 1.0)
        d2a = (digamma(a) - digamma(a + b + ux + k) + common_a)[h.ix]
        d3a = (digamma(a + 1.0) - digamma(a + b + safe + k) + common_a)[h.ix]
        d2b = (digamma(b + ux + k) - digamma(a + b + ux + k) + common_b)[h.ix]
        d3b = (digamma(b + safe + k - 1.0) - digamma(a + b + safe + k) + common_b)[h.ix]
        d_a = w2 * d2a + w3 * d3a
        d_b = w2 * d2b + w3 * d3b
        return np.array([np.dot(h.w, d) for d in (d_r, d_alpha, d_a, d_b)])

    def value_and_grad(self, params, h: Histories) -> tuple[float, np.ndarray]:
        """The count-weighted total log-likelihood and its gradient in one pass."""
        r, alpha, a, b = params
        k = self.shift
        common, a2, a3 = self._terms(params, h)
        lse = np.logaddexp(a2, a3)
        value = float(np.dot(h.w, common + lse))
        w3 = np.exp(a3 - lse)
        ux = h.ux
        # per distinct frequency: the counts, and the count-weighted branch weights
        wx = np.bincount(h.ix, weights=h.w, minlength=len(ux))
        ww3 = h.w * w3
        w3x = np.bincount(h.ix, weights=ww3, minlength=len(ux))
        w2x = wx - w3x
        ww2 = h.w - ww3
        rx = r + h.x
        lT, ltx = np.log(alpha + h.T), np.log(alpha + h.tx)
        d_r = (float(np.dot(wx, digamma(r + ux) - digamma(r) + np.log(alpha)))
               - float(np.dot(ww2, lT)) - float(np.dot(ww3, ltx)))
        d_alpha = r / alpha * float(wx.sum()) - float(np.dot(rx, ww2 / (alpha + h.T) + ww3 / (alpha + h.tx)))
        dab = digamma(a + b)
        safe = np.where((ux > 0) | (k == 1), ux, 1.0)
        d2a = digamma(a) - digamma(a + b + ux + k) - digamma(a) + dab
        d3a = digamma(a + 1.0) - digamma(a + b + safe + k) - digamma(a) + dab
        d2b = digamma(b + ux + k) - digamma(a + b + ux + k) - digamma(b) + dab
        d3b = digamma(b + safe + k - 1.0) - digamma(a + b + safe + k) - digamma(b) + dab
        d_a = float(np.dot(w2x, d2a) + np.dot(w3x, d3a))
        d_b = float(np.dot(w2x, d2b) + np.dot(w3x, d3b))
        return value, np.array([d_r, d_alpha, d_a, d_b])

    def p_alive(self, params, h: Histories) -> np.ndarray:
        """P(alive) at T of each history (1 for a one-time buyer under BG/NBD)."""
        _, a2, a3 = self._terms(params, h)
        return np.exp(a2 - np.logaddexp(a2, a3))

    def expected(self, params, t, h: Histories) -> np.ndarray:
        """Expected repeat purchases in (T, T + t] given each history (FHL eq. 10)."""
        r, alpha, a, b = params
        k = self.shift
        t = np.asarray(t, dtype=np.float64)
        x = h.x
        z = t / (alpha + h.T + t)
        # q^(r + x) 2F1(r + x, b + x + k; a + b + x + k - 1; z) with q = 1 - z; where it is not
        # finite (heavy buyers: the function overflows) by Euler's transform
        c = a + b + x + k - 1.0
        with np.errstate(all="ignore"):
            tail = (1.0 - z) ** (r + x) * hyp2f1(r + x, b + x + k, c, z)
            bad = ~np.isfinite(tail)
            if bad.any():
                zb = z[bad] if z.ndim else z
                tail[bad] = (1.0 - zb) ** (a - 1.0) * hyp2f1(c[bad] - r - x[bad], a - 1.0, c[bad], zb)
        return (c / (a - 1.0)) * (1.0 - tail) * self.p_alive(params, h)


BGNBD = BetaGeometricNBD("bgnbd", 0, "BG/NBD")
MBGNBD = BetaGeometricNBD("mbgnbd", 1, "MBG/NBD")
