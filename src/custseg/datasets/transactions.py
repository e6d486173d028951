"""A synthetic order log for RFM analysis (:func:`make_transactions`).

Many teams hold an order log, not a customer table; this generator draws one with
the shape such logs have, to demonstrate and test :mod:`custseg.rfm`:

* 18 months of trading, 2023-01-01 to 2024-06-30 (:data:`PERIOD_START`,
  :data:`PERIOD_END`). Customers are acquired uniformly over the period.
* Three latent kinds of customer: one-time buyers (50 %), occasional buyers
  (38 %, a repeat order every 90 days on average) and a loyal core (12 %,
  every 14 days). Repeat buyers stay active for an exponentially distributed
  time (mean 300 days for occasional, 400 for loyal buyers) and then lapse, so
  recency varies. Because customers acquired near the end have little time to
  come back, about half of all customers (50 %) have exactly one order;
  the loyal core (about 12 % of customers) places about half of all orders.
* Each customer has a typical basket value (log-normal, median 40; 25 % more
  for the loyal core); each order varies around it (log-normal, sd 0.4), at
  least 1.00, in cents. Quantity is 1 + Poisson(line amount / 30).
* About 20 % of orders have two lines (two rows with the same ``order_id`` and
  date), so counting orders differs from counting rows.
* About 2 % of rows are returns: a later row (1 to 30 days after the purchase,
  at most the last day) with the same customer and ``order_id`` and a negative
  amount and quantity, returning a purchase line in full (70 %) or in part. A
  return never exceeds the line it returns, so no customer's net spend is
  negative.

Rows are in chronological order; within a day the order lines come first (by
order id), then the returns (by the order they return). Order ids
(``"O00000001"``, ...) number the orders by date. Everything is vectorised: one
million customers (about 4.6 million rows) take a few seconds.
All randomness comes from one ``numpy.random.Generator(PCG64(seed))`` drawn in
a fixed order, so ``(n_customers, seed)`` fixes the log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_transactions", "PERIOD_START", "PERIOD_END"]

#: First day of the generated log.
PERIOD_START = "2023-01-01"
#: Last day of the generated log.
PERIOD_END = "2024-06-30"

_N_DAYS = int((np.datetime64(PERIOD_END) - np.datetime64(PERIOD_START)).astype(int)) + 1  # 547
_KIND_P = np.array([0.50, 0.38, 0.12])  # one-time, occasional, loyal core
_GAP_DAYS = np.array([np.inf, 90.0, 14.0])  # mean days between repeat orders
_ACTIVE_DAYS = np.array([0.0, 300.0, 400.0])  # mean active time before lapsing
_VALUE_FACTOR = np.array([1.0, 1.0, 1.25])
_TWO_LINES_P = 0.20
_RETURN_P = 0.02
_FULL_RETURN_P = 0.70


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """Strings such as ``C000001`` for the numbers, as a ``str`` Series (vectorised)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pa.array(numbers, type=pa.int64()).cast(pa.string()), width, "0")
    return pd.Series(pc.binary_join_element_wise(prefix, digits, ""), dtype="str")


def make_transactions(n_customers: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Draw a synthetic transaction log (orders and returns of ``n_customers``).

    Parameters
    ----------
    n_customers : int, default 2000
        Number of customers; every one has at least one order.
    seed : int, default 0
        Seed of the ``numpy.random.Generator(PCG64(seed))`` that makes every draw.

    Returns
    -------
    pandas.DataFrame
        One row per order line or return, on a ``RangeIndex``, with columns
        ``customer_id`` (str, ``"C000001"``...; wider above 999,999 customers),
        ``date`` (``datetime64[s]``, whole days from 2023-01-01 to 2024-06-30),
        ``amount`` (float64, two decimals, negative for returns), ``quantity``
        (int64, negative for returns) and ``order_id`` (str, ``"O00000001"``...).

    Raises
    ------
    TypeError
        ``n_customers`` or ``seed`` is not an integer.
    ValueError
        ``n_customers`` is below 1 or ``seed`` is negative.

    Notes
    -----
    See the module docstring for what is planted. With the default convention of
    :func:`custseg.rfm.aggregate`, about half of the customers have
    ``frequency_orders == 1``.

    Examples
    --------
    >>> log = make_transactions(100, seed=1)
    >>> list(log.columns)
    ['customer_id', 'date', 'amount', 'quantity', 'order_id']
    """
    for name, value in (("n_customers", n_customers), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    n = int(n_customers)
    rng = np.random.Generator(np.random.PCG64(int(seed)))

    # ---------------------------------------------------------------- customers
    kind = rng.choice(3, size=n, p=_KIND_P)
    first = rng.integers(0, _N_DAYS, size=n)
    remaining = _N_DAYS - 1 - first
    active = np.minimum(remaining, np.ceil(rng.exponential(1.0, size=n) * _ACTIVE_DAYS[kind]))
    active = active.astype(np.int64)
    rate = np.where(kind > 0, 1.0 / _GAP_DAYS[kind], 0.0)
    repeats = np.where((kind > 0) & (active > 0), 1 + rng.poisson(rate * active), 0)
    basket = np.exp(rng.normal(np.log(40.0), 0.5, size=n)) * _VALUE_FACTOR[kind]

    # ---------------------------------------------------------------- orders
    n_orders = 1 + repeats
    owner = np.repeat(np.arange(n), n_orders)
    starts = np.cumsum(n_orders) - n_orders
    position = np.arange(owner.size) - np.repeat(starts, n_orders)
    span = active[owner]
    offset = np.where(position == 0, 0, 1 + np.floor(rng.random(owner.size) * np.maximum(span, 1)))
    day = first[owner] + offset.astype(np.int64)
    value = np.maximum(1.0, np.round(basket[owner] * np.exp(rng.normal(0.0, 0.4, size=owner.size)), 2))
    # number the orders by date, then customer: a stable (radix) sort of the small day
    # numbers keeps the customers of a day in order
    chrono = np.argsort(day.astype(np.int16), kind="stable")
    owner, day, value = owner[chrono], day[chrono], value[chrono]
    n_all = owner.size

    # ---------------------------------------------------------------- lines
    lines = 1 + (rng.random(n_all) < _TWO_LINES_P)
    line_order = np.repeat(np.arange(n_all), lines)
    second = np.zeros(line_order.size, dtype=bool)
    second[1:] = line_order[1:] == line_order[:-1]
    # split two-line orders in whole cents, never into two equal lines (which would be
    # exact duplicate rows)
    cents = np.round(value * 100).astype(np.int64)
    split = np.clip(np.round(cents * rng.uniform(0.3, 0.7, size=n_all)).astype(np.int64), 1,
                    np.maximum(cents - 1, 1))
    split = np.where((2 * split == cents) & (cents > 2), split + 1, split)
    two = lines[line_order] == 2
    line_cents = np.where(two, np.where(second, cents[line_order] - split[line_order], split[line_order]),
                          cents[line_order])
    amount = line_cents / 100.0
    quantity = 1 + rng.poisson(amount / 30.0)
    line_day = day[line_order]
    line_owner = owner[line_order]

    # ---------------------------------------------------------------- returns
    returned = np.flatnonzero(rng.random(line_order.size) < _RETURN_P)
    # at most one return per order, so no two returns can be exact duplicates
    returned = returned[~(second[returned] & np.isin(returned - 1, returned))]
    full = rng.random(returned.size) < _FULL_RETURN_P
    fraction = np.where(full, 1.0, rng.uniform(0.2, 0.8, size=returned.size))
    back_amount = -np.minimum(amount[returned], np.maximum(0.01, np.round(amount[returned] * fraction, 2)))
    back_qty = -np.where(full, quantity[returned], np.minimum(quantity[returned], 1))
    back_day = np.minimum(line_day[returned] + rng.integers(1, 31, size=returned.size), _N_DAYS - 1)

    all_order = np.concatenate([line_order, line_order[returned]])
    all_owner = np.concatenate([line_owner, line_owner[returned]])
    all_day = np.concatenate([line_day, back_day])
    all_amount = np.concatenate([amount, back_amount])
    all_qty = np.concatenate([quantity, back_qty]).astype(np.int64)
    # purchases are already in order: a stable sort by day puts each day's returns after its
    # order lines
    rows = np.argsort(all_day.astype(np.int16), kind="stable")

    width = max(6, len(str(n)))
    customers = _ids("C", np.arange(1, n + 1), width)
    orders = _ids("O", all_order[rows] + 1, max(8, len(str(n_all))))
    dates = (np.datetime64(PERIOD_START, "D") + all_day[rows]).astype("datetime64[s]")
    return pd.DataFrame({
        "customer_id": customers.take(all_owner[rows]).reset_index(drop=True),
        "date": dates,
        "amount": np.round(all_amount[rows], 2),
        "quantity": all_qty[rows],
        "order_id": orders,
    })
