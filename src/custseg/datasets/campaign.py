"""A synthetic campaign on segmented customers, with a lift planted in one segment.

:func:`make_campaign` draws what ``custseg demo --campaign`` analyses: every
customer is put in the treatment or the control arm at random (50/50), converts
with a base rate that differs a little between segments, and, in the treatment
arm of one segment only, with a planted extra lift. Converters spend a
heavy-tailed (log-normal) amount; the others 0. Nothing else differs between the
arms, so a correct analysis finds the planted segment and no other (up to the
error rate its corrections allow).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_campaign", "customer_ids", "PLANTED_LIFT"]

#: the extra conversion rate of the treatment arm in the planted segment
PLANTED_LIFT = 0.10


def customer_ids(n: int) -> pd.Series:
    """Text ids ``C000001``, ``C000002``, ... (six digits at least)."""
    width = max(6, len(str(n)))
    return pd.Series([f"C{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def make_campaign(ids, segments, *, planted: int, lift: float = PLANTED_LIFT,
                  seed: int = 0) -> pd.DataFrame:
    """One row per customer: ``customer_id``, ``group``, ``converted``, ``revenue``.

    Parameters
    ----------
    ids : array-like
        The customers' ids (kept as given).
    segments : array-like of int
        Each customer's segment.
    planted : int
        The segment whose treatment arm converts ``lift`` more.
    lift : float
        The planted lift (absolute), default 0.10.
    seed : int
        Seed of the draws: a ``numpy.random.Generator`` seeded with ``[seed, 21]``, a
        stream apart from the customers' own (drawn with ``seed``): the same
        uniform numbers would put whole segments in one arm.
    """
    rng = np.random.default_rng([seed, 21])
    seg = np.asarray(segments, dtype=np.int64)
    n = seg.size
    treated = rng.random(n) < 0.5
    base = 0.04 + 0.01 * (seg % 4)
    p = base + np.where(treated & (seg == planted), lift, 0.0)
    converted = (rng.random(n) < p).astype(np.int64)
    amount = np.round(rng.lognormal(np.log(60.0), 0.8, n), 2)
    return pd.DataFrame({"customer_id": np.asarray(ids, dtype=object),
                         "group": np.where(treated, "treatment", "control"),
                         "converted": converted,
                         "revenue": np.where(converted == 1, amount, 0.0)})
