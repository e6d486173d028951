"""The Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV: using iso-value
curves for customer base analysis"; Fader and Hardie, "The Gamma-Gamma model of monetary
value", 2013).

Each purchase's value z ~ Gamma(p, nu) (shape p, rate nu); across customers
nu ~ Gamma(q, v). The mean ``m`` of a customer's ``x`` repeat purchase values has
the density::

    f(m | p, q, v, x) = G(p x + q) / (G(p x) G(q)) * v^q m^(p x - 1) x^(p x) / (v + m x)^(p x + q)

fitted on repeat buyers (``x >= 1``) with a positive mean spend. The expected
average purchase value of a customer is ``p (v + x m) / (p x + q - 1)`` (the
population mean ``p v / (q - 1)`` for a one-time buyer), finite only for
``q > 1``. ``v`` is in money; ``p`` and ``q`` have no unit. The model assumes spend
is independent of frequency (check: their correlation among repeat buyers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import digamma, gammaln

__all__ = ["GAMMAGAMMA", "GammaGamma", "SpendData"]


@dataclass(frozen=True)
class SpendData:
    """Repeat buyers' frequency ``x`` and mean spend ``m`` (both > 0), with counts ``w``."""

    x: np.ndarray
    m: np.ndarray
    w: np.ndarray

    @property
    def n(self) -> float:
        return float(self.w.sum())

    @cached_property
    def by_frequency(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct frequencies and the count of customers with each (computed once)."""
        ux, ix = np.unique(self.x, return_inverse=True)
        return ux, np.bincount(ix.reshape(-1), weights=self.w)

    def scaled(self, factor: float) -> SpendData:
        """The same customers with every amount multiplied by ``factor``."""
        return SpendData(self.x, self.m * factor, self.w)


class GammaGamma:
    """Gamma-Gamma: likelihood, analytical gradient, expected average value."""

    name = "gammagamma"
    title = "Gamma-Gamma"
    param_names = ("p", "q", "v")
    #: parameters measured in money (rescaled with it)
    money_params = ("v",)
    starts = ((1.0, 1.0, 1.0), (5.0, 3.0, 2.0), (2.0, 10.0, 10.0))

    def loglik(self, params, d: SpendData) -> np.ndarray:
        p, q, v = params
        px = p * d.x
        return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
                + (px - 1.0) * np.log(d.m) + px * np.log(d.x) - (px + q) * np.log(v + d.x * d.m))

    def value_and_grad(self, params, d: SpendData) -> tuple[float, np.ndarray]:
        """The count-weighted total log-likelihood and its gradient, the terms in ``x`` alone
        summed once per distinct frequency (the same numbers as :meth:`loglik` and :meth:`grad`)."""
        p, q, v = params
        ux, wx = d.by_frequency
        lm = np.log(d.m)
        lvxm = np.log(v + d.x * d.m)
        pux = p * ux
        dg_pq, dg_px = digamma(pux + q), digamma(pux)
        n = wx.sum()
        sum_xlm = float(np.dot(d.w * d.x, lm))
        sum_xlvxm = float(np.dot(d.w * d.x, lvxm))
        sum_lvxm = float(np.dot(d.w, lvxm))
        value = (float(np.dot(wx, gammaln(pux + q) - gammaln(pux) + pux * np.log(ux)))
                 - n * gammaln(q) + n * q * np.log(v) + p * sum_xlm - float(np.dot(d.w, lm))
                 - p * sum_xlvxm - q * sum_lvxm)
        inv = d.w / (v + d.x * d.m)
        d_p = float(np.dot(wx, ux * (dg_pq - dg_px + np.log(ux)))) + sum_xlm - sum_xlvxm
        d_q = float(np.dot(wx, dg_pq)) - n * digamma(q) + n * np.log(v) - sum_lvxm
        d_v = n * q / v - p * float(np.dot(inv, d.x)) - q * float(inv.sum())
        return value, np.array([d_p, d_q, d_v])

    def grad(self, params, d: SpendData) -> np.ndarray:
        p, q, v = params
        px = p * d.x
        lvxm = np.log(v + d.x * d.m)
        d_p = d.x * (digamma(px + q) - digamma(px) + np.log(d.m) + np.log(d.x) - lvxm)
        d_q = digamma(px + q) - digamma(q) + np.log(v) - lvxm
        d_v = q / v - (px + q) / (v + d.x * d.m)
        return np.array([np.dot(d.w, g) for g in (d_p, d_q, d_v)])

    @staticmethod
    def expected_value(params, frequency, monetary_value) -> np.ndarray:
        """Expected average purchase value given ``x`` repeat purchases of mean ``m``."""
        p, q, v = params
        x = np.asarray(frequency, dtype=np.float64)
        m = np.where(x > 0, np.asarray(monetary_value, dtype=np.float64), 0.0)
        return p * (v + x * m) / (p * x + q - 1.0)


GAMMAGAMMA = GammaGamma()
