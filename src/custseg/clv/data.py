"""Customers' purchase histories collapsed to distinct (frequency, recency, T) triples.

Every purchase model's likelihood depends on a customer only through
``(x, t_x, T)``: frequency (repeat purchases), recency (time of the last repeat
purchase since the first purchase) and T (time since the first purchase). Many
customers share a triple (all one-time buyers acquired on one day do), so the
models are fitted on the distinct triples with their counts (:class:`Histories`).
Terms that depend on the frequency alone are computed once per distinct
frequency (``ux``, ``ix``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Histories", "collapse"]


@dataclass(frozen=True)
class Histories:
    """Distinct histories with their counts (the argument of every likelihood).

    ``x``, ``tx``, ``T`` and ``w`` (counts) are float arrays of one length; ``ux``
    are the distinct frequencies and ``ix`` the index of each row's frequency in
    ``ux`` (``ux[ix] == x``).
    """

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray
    ux: np.ndarray
    ix: np.ndarray

    @property
    def n(self) -> float:
        """The number of customers (the sum of the counts)."""
        return float(self.w.sum())

    def scaled(self, factor: float) -> Histories:
        """The same histories with every time multiplied by ``factor``."""
        return Histories(self.x, self.tx * factor, self.T * factor, self.w, self.ux, self.ix)


def collapse(frequency, recency, T, weights=None) -> tuple[Histories, np.ndarray]:
    """Collapse per-customer histories to distinct triples.

    Returns the :class:`Histories` and, for each input row, the index of its
    triple (so that a per-triple prediction ``p`` is ``p[inverse]`` per customer).
    """
    x = np.asarray(frequency, dtype=np.float64)
    tx = np.asarray(recency, dtype=np.float64)
    t = np.asarray(T, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(x) == 0:
        empty = np.empty(0)
        return Histories(empty, empty, empty, empty, empty, np.empty(0, dtype=np.intp)), \
            np.empty(0, dtype=np.intp)
    # one int64 key per row from the codes of each column (a 1-D sort, much faster than
    # np.unique(axis=0)); the key's order is the lexicographic order of (x, tx, T)
    ux, cx = np.unique(x, return_inverse=True)
    utx, ctx = np.unique(tx, return_inverse=True)
    uT, cT = np.unique(t, return_inverse=True)
    key = (cx.reshape(-1).astype(np.int64) * len(utx) + ctx.reshape(-1)) * len(uT) + cT.reshape(-1)
    ukey, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, weights=w, minlength=len(ukey))
    kx, rest = np.divmod(ukey, len(utx) * len(uT))
    ktx, kT = np.divmod(rest, len(uT))
    return Histories(ux[kx], utx[ktx], uT[kT], counts, ux, kx), inverse
