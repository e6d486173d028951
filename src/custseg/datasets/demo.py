"""A synthetic look-alike of the 365 customer-segmentation case study.

The real case-study file (``customer_segmentation_data.csv``, 3,834 customers,
columns ``minutes_watched, CLV, region, channel``) may not be redistributed, so
custseg ships :func:`make_customers`, which draws a table with the same columns,
codes, shares and distribution shapes, plus effects planted on purpose so that a
statistical analysis and a clustering have something real to find.

What the real file looks like
-----------------------------
Aggregate statistics measured on the real file with pandas (no rows are copied):

* 3,834 rows; 109 empty ``minutes_watched`` (2.84 %), no other empty cell;
  43 rows (1.1 %) fully duplicate an earlier row (25 among complete rows):
  about what whole minutes, plan prices and few codes give by chance (the
  look-alike, which copies no row, has about 40 at the same size). The legend
  calls CLV an integer, but 65 % of its values have cents.
* ``region`` shares: 0 (USA/Canada/UK/Australia) 35.6 %, 1 (Western Europe)
  12.0 %, 2 (Rest of the world) 52.3 %.
* ``channel`` shares: 1 Google 17.5 %, 2 Facebook 8.0 %, 3 YouTube 28.5 %,
  4 LinkedIn 17.0 %, 5 Twitter 1.5 %, 6 Instagram 7.5 %, 7 Friend 12.5 %,
  8 Other 7.5 %.
* region x channel (row %, channels 1..8)::

      region 0: 19.2  6.4 33.4 13.8 0.7  6.6  9.0 10.8
      region 1: 17.6  6.7 27.5 15.2 0.7 11.9 11.7  8.7
      region 2: 16.3  9.3 25.5 19.5 2.2  7.2 15.0  5.0

  chi-square 137.8 (14 df), p = 2e-22. The "social" group (Facebook, YouTube,
  LinkedIn, Twitter, Instagram) is 61.0 %, 62.0 % and 63.7 % of regions 0, 1, 2
  (chi-square p = 0.28): the association lives in single channels (Rest of the
  world over-represents Facebook, LinkedIn, Twitter and Friend; Western Europe
  Instagram; region 0 YouTube, Google and Other), not in the social share.
* ``minutes_watched`` (non-empty): whole numbers; 1.0 % zeros; quantiles
  5 % 12, 10 % 39, 25 % 159, 50 % 512, 75 % 1,521, 90 % 3,958, 95 % 7,349,
  99 % 24,705, max 288,508; mean 1,972; skewness 20.5; 124 values above
  10,000 and 13 above 50,000. On the log1p scale: mean 6.09, sd 1.90,
  skewness -0.58 (a long left tail of customers who barely watched).
* ``CLV``: two decimals, 0.26 % zeros; quantiles 1 % 14.25, 5 % 25.65,
  10 % 36.00, 25 % 62.58, 50 % 119.00, 75 % 149.99, 90 % 184.44, 95 % 240.00,
  99 % 349.44, max 626.40; mean 118.4; skewness 1.35; 2.5 % above 300.
  Values pile up on plan prices: 1,045 distinct values, the ten most common
  cover 44.7 % of rows (119.00 alone 12.4 %, 62.58 10.1 %, 149.99 4.5 %,
  36.00 4.2 %, 174.00 3.9 %, 19.00 2.8 %); 34.7 % are whole numbers.
* By region, CLV median / mean: 122.7 / 136.6, 145.7 / 158.1, 78.9 / 96.8
  (Kruskal-Wallis p = 6e-116; the Rest of the world pays regional prices, e.g.
  62.58 is 18.4 % of its rows and under 2 % elsewhere). Minutes median:
  353, 662, 615 (p = 5e-19); empty minutes 3.7 %, 2.8 %, 2.3 %.
* By channel, CLV mean 121.2, 108.3, 129.0, 107.4, 93.2, 115.2, 113.7, 123.2
  for channels 1..8 (Kruskal-Wallis p = 1e-13; YouTube highest, Twitter
  lowest, LinkedIn narrowest with 20 % of its rows at exactly 119.00). Minutes
  median 534, 574, 467, 520, 360, 540, 583, 454 (p = 0.09: no clear channel
  effect on engagement; Friend referrals watch most on the log scale).
* Minutes and CLV are nearly independent: Spearman 0.04 (p = 0.02), Pearson
  0.12 (driven by the outliers), 0.05 on log1p scales; the CLV median is
  119.00 in every quintile of minutes.
* k-means on standardised (log1p minutes, CLV) peaks at k = 4 (silhouette
  0.39): a light-viewer group, a low-value group, a high-value group and a
  middle group, overlapping heavily.

What the look-alike plants
--------------------------
Each customer first gets a region (real shares), then a channel given the
region, then one of five latent behavioural types whose odds depend on region
and channel, then minutes and CLV drawn from that type. Population figures
(2,000,000 rows, seed 0; medians after regional prices and plan-price snapping):

================  =====  ==============  ==========  ===========================
type              share  minutes median  CLV median  over-represented in
================  =====  ==============  ==========  ===========================
dabblers          17 %   17 (light)      62.58       Twitter, Instagram, Other,
                                                     region 0
bargain learners  18 %   550             36.00 (low) Twitter, Facebook,
                                                     Instagram, Rest of the world
subscribers       32 %   500             119.00      LinkedIn, Friend
heavy viewers     17 %   6,000 (heavy)   128         YouTube, Friend, regions 1-2
big spenders      17 %   160 (light)     225 (high)  Google, YouTube, Western
                                                     Europe
================  =====  ==============  ==========  ===========================

* Channel -> value: CLV mean by channel 129.6, 96.0, 126.4, 107.5, 80.7,
  103.1, 118.0, 126.8 (Google, YouTube and Other high; Twitter, Facebook and
  Instagram low) -- the real ordering, made stronger. Kruskal-Wallis across
  channels on CLV: p < 1e-15 at 3,834 rows for each of seeds 0-59.
* Channel -> engagement: minutes median 339, 417, 472, 458, 368, 379, 531, 348
  (Friend and YouTube watch most). Kruskal-Wallis p < 1e-4 at 3,834 rows for
  seeds 0-59 (the real file shows only p = 0.09).
* Region -> value and engagement: regional prices multiply CLV by 1.00, 1.10,
  0.72, and Western Europe has more big spenders, so CLV median / mean is
  122.7 / 139.0, 150.0 / 167.3, 88.9 / 91.9 (real: 122.7 / 136.6,
  145.7 / 158.1, 78.9 / 96.8). Region 0 has more dabblers, so its minutes
  median is lowest: 316, 433, 503 (real 353, 662, 615).
* Region -> channel: the real channel mix per region, nudged so that the social
  share really differs: 54.3 %, 62.0 %, 69.6 % for regions 0, 1, 2 (chi-square
  p < 1e-11 at 3,834 rows for seeds 0-59), which the real file does not show.
  Overall channel shares stay within 0.7 points of the real ones.
* Clusters: k-means on standardised (log1p minutes, CLV), k = 2..10, has its
  best silhouette (about 0.44) at k = 5 for 14 of seeds 0-19 (else 3, 6 or
  8), with one cluster per type;
  on (log1p minutes, log1p CLV) the silhouette is flatter and favours k = 3
  (dabblers / big spenders / the rest). Minutes and CLV stay nearly
  independent overall (Spearman about 0.07; real 0.04).
* CLV shape: 55 % of values snap to the nearest plan price (19.00, 36.00,
  62.58, 119.00, 149.99, 174.00, 184.44, 240.00, 349.00) when within 25 % of
  it, giving the real file's spikes (the ten most common values cover about
  48 % of rows, 32 % are whole numbers); 0.3 % of CLV are 0 (refunds).
  Quantiles 1 % 19.00, 5 % 25.8, 10 % 36.00, 25 % 62.58, 50 % 119.00,
  75 % 149.99, 90 % 216, 95 % 240.00, 99 % 349.00; 2.3 % above 300; mean
  117.7; skewness 1.0.
* Minutes: log-normal per type, plus 1.2 % exact zeros (bought, never
  watched) and 0.7 % "binge" outliers around 35,000 minutes, so that a few
  values pass 100,000 at 3,834 rows; capped at 525,600 (a year of minutes:
  about 25 rows per million reach it). Quantiles 10 % 20, 25 % 135, 50 % 427,
  75 % 1,081, 90 % 5,600, 99 % 14,300: the upper middle is heavier than the
  real file's (90 % 3,958) because heavy viewers form a cluster of their own.
* Empty minutes: 3.7 %, 2.8 %, 2.3 % by region (2.84 % overall), independent
  of everything else given the region.

Determinism
-----------
All randomness comes from one ``numpy.random.Generator(PCG64(seed))`` drawn in
a fixed order, with tables held in NumPy arrays (no dict or set iteration), so
the same ``(n_rows, seed)`` gives the same frame on any machine with the same
NumPy release. Values are rounded (whole minutes, CLV to cents), so last-bit
differences of ``exp`` across CPUs do not reach the output in practice. NumPy
does not promise the same streams across major releases (NEP 19); the tests pin
properties, not values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DEMO_LABELS", "DEMO_TYPES", "make_customers", "demo_spec_text"]

#: Labels of the category codes, as in the case study's legend.
DEMO_LABELS: dict[str, dict[str, str]] = {
    "region": {
        "0": "USA/Canada/UK/Australia",
        "1": "Western Europe",
        "2": "Rest of the world",
    },
    "channel": {
        "1": "Google",
        "2": "Facebook",
        "3": "YouTube",
        "4": "LinkedIn",
        "5": "Twitter",
        "6": "Instagram",
        "7": "Friend",
        "8": "Other",
    },
}

#: Names of the latent behavioural types, in the order of the tables below.
DEMO_TYPES: tuple[str, ...] = (
    "dabblers", "bargain learners", "subscribers", "heavy viewers", "big spenders",
)

SPEC_RESOURCE = "customers_spec.toml"

# ------------------------------------------------------------------ region, channel
_REGION_P = np.array([0.356, 0.120, 0.524])

# P(channel | region), channels 1..8 (columns). Real row shares, nudged so the
# social share (channels 2-6) is ~54 % / 62 % / 70 % for regions 0 / 1 / 2.
_CHANNEL_P = np.array([
    [0.225, 0.055, 0.300, 0.120, 0.007, 0.060, 0.110, 0.123],
    [0.176, 0.067, 0.275, 0.152, 0.007, 0.119, 0.117, 0.087],
    [0.140, 0.100, 0.275, 0.210, 0.025, 0.085, 0.125, 0.040],
])

# ------------------------------------------------------------------ latent types
# Log-odds of the types (columns, in DEMO_TYPES order): a base, plus a region
# row, plus a channel row.
_TYPE_BASE = np.array([-0.45, -0.4, 0.2, -0.6, -0.5])
_TYPE_BY_REGION = np.array([
    [0.45, -0.4, 0.0, -0.35, 0.1],    # USA/Canada/UK/Australia: more dabblers
    [-0.4, -0.4, 0.0, 0.2, 0.4],      # Western Europe: more big spenders
    [-0.1, 0.35, 0.0, 0.25, -0.3],    # Rest of the world: bargains, heavy viewers
])
_TYPE_BY_CHANNEL = np.array([
    [0.0, -0.2, 0.0, -0.2, 0.45],     # Google: search intent, buyers
    [0.4, 0.45, 0.0, 0.0, -0.3],      # Facebook: dabblers, bargain hunters
    [-0.2, -0.1, -0.15, 0.55, 0.35],  # YouTube: engaged and valuable
    [-0.3, 0.1, 0.55, -0.3, -0.1],    # LinkedIn: steady subscribers
    [0.8, 0.6, 0.0, -0.4, -0.6],      # Twitter: dabblers
    [0.5, 0.3, 0.0, -0.1, -0.3],      # Instagram: dabblers
    [-0.3, 0.0, 0.2, 0.55, 0.0],      # Friend: referrals watch more
    [0.1, 0.0, 0.0, 0.0, 0.1],        # Other
])

# Per type: log1p(minutes) mean and sd; log(CLV) mean and sd (before the price factor).
_MIN_MU = np.log1p(np.array([18.0, 550.0, 500.0, 6000.0, 160.0]))
_MIN_SD = np.array([1.0, 0.7, 0.7, 0.45, 1.0])
_CLV_MU = np.log(np.array([80.0, 42.0, 130.0, 160.0, 240.0]))
_CLV_SD = np.array([0.45, 0.35, 0.18, 0.25, 0.22])
_MIN_ZERO_P = np.array([0.05, 0.002, 0.003, 0.0, 0.01])

_REGION_PRICE = np.array([1.00, 1.10, 0.72])
_PLAN_PRICES = np.array([19.00, 36.00, 62.58, 119.00, 149.99, 174.00, 184.44, 240.00, 349.00])
_SNAP_P = 0.55
_SNAP_WITHIN = 0.25  # snap only values within 25 % of a plan price
_CLV_ZERO_P = 0.003
_BINGE_P = 0.007
_BINGE_MU = np.log(35_000.0)
_BINGE_SD = 1.0
_MINUTES_CAP = 525_600.0  # a year of minutes
_MISSING_P = np.array([0.037, 0.028, 0.023])  # empty minutes by region


def _type_cum() -> np.ndarray:
    """Cumulative type probabilities per (region, channel) cell, shape (24, 5)."""
    logits = (_TYPE_BASE[None, None, :] + _TYPE_BY_REGION[:, None, :]
              + _TYPE_BY_CHANNEL[None, :, :])
    p = np.exp(logits)
    p /= p.sum(axis=2, keepdims=True)
    return np.cumsum(p, axis=2).reshape(-1, len(DEMO_TYPES))


_GRID = 4096  # bins of u per cell in the lookup table of _draw_conditional (a power of 2)


def _draw_conditional(cell: np.ndarray | int, cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw one category per row by inverting the cumulative table row of its cell.

    The category of a uniform ``u`` is the number of interior cumulative edges
    ``<= u``. A lookup table over ``_GRID`` equal bins of ``u`` per cell gives
    the category directly wherever a bin holds no edge; the few rows whose bin
    straddles an edge are resolved by comparing against the edges. The result
    is exact (``u * _GRID`` is exact for a power of 2) and needs one gather per
    row instead of a binary search.

    Parameters
    ----------
    cell : numpy.ndarray of int or int
        The table row of each draw.
    cum : numpy.ndarray, shape (n_cells, n_categories)
        Cumulative probabilities, one row per cell (each row ends at 1).
    u : numpy.ndarray
        Uniform draws in [0, 1), one per row; left unchanged.

    Returns
    -------
    numpy.ndarray of int8
        The category index (0-based) within each row's cell.
    """
    inner = cum[:, :-1]  # the last edge (1) is never <= u
    lo = np.arange(_GRID) / _GRID
    hi = np.arange(1, _GRID + 1) / _GRID
    first = (inner[:, None, :] <= lo[None, :, None]).sum(axis=2)  # category at a bin's start
    last = (inner[:, None, :] < hi[None, :, None]).sum(axis=2)    # ... just before its end
    table = np.where(first == last, first, -1).astype(np.int8).ravel()

    key = np.multiply(u, _GRID).astype(np.intp)
    if np.ndim(cell):
        key += np.multiply(cell, _GRID, dtype=np.intp)
    else:
        key += int(cell) * _GRID
    out = table[key]
    del key
    todo = np.flatnonzero(out < 0)
    if todo.size:
        rows = inner[cell[todo] if np.ndim(cell) else np.full(todo.size, cell)]
        out[todo] = (rows <= u[todo, None]).sum(axis=1)
    return out


def make_customers(n_rows: int = 3834, seed: int = 0) -> pd.DataFrame:
    """Draw a synthetic customer table like the 365 case study.

    Parameters
    ----------
    n_rows : int, default 3834
        Number of customers (the real file has 3,834).
    seed : int, default 0
        Seed of the ``numpy.random.Generator(PCG64(seed))`` that makes every draw.

    Returns
    -------
    pandas.DataFrame
        Columns ``minutes_watched`` (float64, whole minutes, about 3 % NaN,
        heavy-tailed, >= 0), ``CLV`` (float64, two decimals, >= 0),
        ``region`` (int64, codes 0-2) and ``channel`` (int64, codes 1-8), on a
        ``RangeIndex``. Labels of the codes are in :data:`DEMO_LABELS`.

    Raises
    ------
    ValueError
        If ``n_rows`` is below 1 or ``seed`` is negative.
    TypeError
        If ``n_rows`` is not an integer.

    Notes
    -----
    See the module docstring for the real file's statistics and the planted
    effects. Ten million rows take a few seconds and well under 1.5 GB.

    Examples
    --------
    >>> df = make_customers(1000, seed=1)
    >>> list(df.columns)
    ['minutes_watched', 'CLV', 'region', 'channel']
    """
    return _generate(n_rows, seed)[0]


def _generate(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`make_customers` plus each row's latent type (index into DEMO_TYPES)."""
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer):
        raise TypeError(f"n_rows must be an integer, got {type(n_rows).__name__}")
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n = int(n_rows)
    rng = np.random.Generator(np.random.PCG64(int(seed)))

    # region, then channel given region, then type given (region, channel)
    u = rng.random(n)
    region = _draw_conditional(0, np.cumsum(_REGION_P)[None, :], u)
    u = rng.random(n, out=u)
    channel0 = _draw_conditional(region, np.cumsum(_CHANNEL_P, axis=1), u)  # 0-based
    cell = region * _CHANNEL_P.shape[1]
    cell += channel0
    u = rng.random(n, out=u)
    kind = _draw_conditional(cell, _type_cum(), u)
    del cell

    # minutes: log-normal per type, binge outliers, exact zeros, cap, rounding
    z = rng.standard_normal(n)
    minutes = _MIN_SD[kind]
    minutes *= z
    minutes += _MIN_MU[kind]
    u = rng.random(n, out=u)
    binge = u < _BINGE_P
    z = rng.standard_normal(n, out=z)
    minutes[binge] = _BINGE_MU + _BINGE_SD * z[binge]
    del binge
    np.expm1(minutes, out=minutes)
    np.clip(minutes, 0.0, _MINUTES_CAP, out=minutes)
    np.round(minutes, out=minutes)
    u = rng.random(n, out=u)
    minutes[u < _MIN_ZERO_P[kind]] = 0.0

    # CLV: log-normal per type, regional price factor, plan-price snapping, refunds
    z = rng.standard_normal(n, out=z)
    clv = _CLV_SD[kind]
    clv *= z
    clv += _CLV_MU[kind]
    np.exp(clv, out=clv)
    clv *= _REGION_PRICE[region]
    u = rng.random(n, out=u)
    snap = np.flatnonzero(u < _SNAP_P)
    clv[snap] = _nearest_price(clv[snap])
    del snap
    u = rng.random(n, out=u)
    clv[u < _CLV_ZERO_P] = 0.0
    np.round(clv, 2, out=clv)

    # empty minutes, by region
    u = rng.random(n, out=u)
    minutes[u < _MISSING_P[region]] = np.nan
    del u, z

    channel0 += 1
    frame = pd.DataFrame(
        {
            "minutes_watched": minutes,
            "CLV": clv,
            "region": region.astype(np.int64, copy=False),
            "channel": channel0.astype(np.int64, copy=False),
        },
        copy=False,
    )
    return frame, kind


def _nearest_price(values: np.ndarray) -> np.ndarray:
    """Each value moved to its nearest plan price, when within ``_SNAP_WITHIN`` of it.

    Ties go to the lower price; values far from every price (the tails) stay.
    """
    hi = np.searchsorted(_PLAN_PRICES, values)
    np.clip(hi, 1, len(_PLAN_PRICES) - 1, out=hi)
    lo_price = _PLAN_PRICES[hi - 1]
    hi_price = _PLAN_PRICES[hi]
    price = np.where(values - lo_price <= hi_price - values, lo_price, hi_price)
    return np.where(np.abs(values - price) <= _SNAP_WITHIN * price, price, values)


def demo_spec_text() -> str:
    """The data dictionary (spec TOML) of the demo and of the real case-study file.

    Returns
    -------
    str
        The text of ``custseg/datasets/customers_spec.toml``; parse it with
        :func:`custseg.spec.parse_spec`.
    """
    from importlib.resources import files

    return files("custseg.datasets").joinpath(SPEC_RESOURCE).read_text(encoding="utf-8")
