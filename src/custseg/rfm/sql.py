"""The aggregation of an order log per customer, in DuckDB SQL, in two conventions.

The conventions (``"default"`` and ``"lifetimes"``, :data:`CONVENTIONS`) and
what negative amounts mean (:data:`RETURNS`) are defined side by side in
:mod:`custseg.rfm`. Two steps on a typed log (:class:`~custseg.rfm.views.DuckLog`):
:func:`per_customer_table` groups the log once, per customer and day then per
customer; :func:`customer_frame` derives the columns of the convention from that
table. Between them the per-customer checks (:func:`custseg.rfm.checks.check_customers`)
may read the same table (:data:`FROM_PER_CUSTOMER`), so that the log is grouped once.

Amounts are summed as exact decimals (rounded to 6 decimal places, :func:`exact`),
so totals do not depend on row order or threads.
"""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np
import pandas as pd

from .columns import TransactionColumns
from .views import DuckLog, date_literal, ident, literal

__all__ = ["RETURNS", "CONVENTIONS", "DEFAULT_COLUMNS", "LIFETIMES_COLUMNS", "exact", "valid_rows",
           "per_customer_sql", "FROM_PER_CUSTOMER", "per_customer_table", "customer_frame"]

#: Accepted values of ``returns``.
RETURNS = ("net", "drop", "error")
#: Accepted values of ``convention``.
CONVENTIONS = ("default", "lifetimes")

#: Columns of :func:`aggregate` with ``convention="default"`` after the customer id
#: (``total_quantity`` only with a quantity column).
DEFAULT_COLUMNS = (
    "first_purchase",
    "last_purchase",
    "recency_days",
    "frequency_orders",
    "purchase_days",
    "monetary_total",
    "monetary_mean",
    "avg_order_value",
    "tenure_days",
    "mean_interpurchase_days",
    "total_quantity",
)
#: Columns of :func:`aggregate` with ``convention="lifetimes"`` after the customer id.
LIFETIMES_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def exact(column: str) -> str:
    """The column as DECIMAL(38, 6): sums are then exact, whatever the order of the rows."""
    return f"CAST(round({column}, 6) AS DECIMAL(38, 6))"


def valid_rows(returns: str) -> str:
    """SQL condition for the rows a customer's features are built from."""
    condition = "NOT cust_missing AND d IS NOT NULL AND amt IS NOT NULL"
    return condition + (" AND amt >= 0" if returns == "drop" else "")


def per_customer_sql(in_period: str) -> str:
    """Per customer of the log: ``cust``, ``net``, ``n_buy`` and ``zero_only``."""
    return (f"SELECT cust, sum({exact('amt')}) AS net, count(*) FILTER (WHERE amt >= 0) AS n_buy, "
            "coalesce(bool_and(amt = 0) FILTER (WHERE amt >= 0), FALSE) AS zero_only "
            f"FROM kept WHERE {in_period} GROUP BY cust")


#: The same columns from the aggregation's ``per_customer`` table (no further pass over the log).
FROM_PER_CUSTOMER = ("SELECT cust, net, n_buy, (n_buy > 0 AND coalesce(gross = 0, FALSE)) AS zero_only "
                     "FROM per_customer")


def _base(log: DuckLog, cols: TransactionColumns, as_of: _dt.date | None, returns: str) -> tuple[str, bool]:
    """The CTE ``base`` (the rows a customer's features are built from) and whether there is a quantity."""
    valid = valid_rows(returns)
    has_qty = cols.quantity is not None and cols.quantity in log.types
    in_period = valid if as_of is None else f"{valid} AND d <= {date_literal(as_of)}"
    qty = exact("qty") if has_qty else "NULL"
    base = (f"base AS (SELECT cust, d, {exact('amt')} AS amt, {qty} AS qty, ord "
            f"FROM kept WHERE {in_period})")
    return base, has_qty


def per_customer_table(log: DuckLog, cols: TransactionColumns, *, as_of: _dt.date | None,
                       convention: str, returns: str) -> None:
    """Create the temporary table ``per_customer``: one row per customer of the typed log.

    Columns: ``cust``, ``n_days`` (purchase days), ``first`` and ``last`` (purchase
    days), ``gross`` (purchases), ``n_buy`` (purchase rows), ``net`` (purchases less
    returns), and as needed ``net_qty``, ``last_any`` (without ``as_of``: the last
    date of any usable row) and ``first_spend`` (lifetimes: the first day's spend).
    :data:`FROM_PER_CUSTOMER` reads the per-customer checks' columns from it;
    :func:`customer_frame` turns it into the customer table.
    """
    # Plain GROUP BYs (no DISTINCT aggregates, no semi-joins) keep this fast on large logs: per
    # (customer, day) the purchases and the net, then per customer, into a table. Without
    # as_of the observation end is the last date of any usable row (returns included), which
    # that table holds per customer, so the log is scanned once.
    base, has_qty = _base(log, cols, as_of, returns)
    # only the aggregates that are used: each costs a little per group of tens of millions
    per_day = ", sum(qty) AS net_qty" if has_qty else ""
    wanted = (", sum(net_qty) AS net_qty" if has_qty else "") + (
        ", max(d) AS last_any" if as_of is None else "") + (
        ", arg_min(spend, d) FILTER (WHERE n_buy > 0) AS first_spend"
        if convention == "lifetimes" else "")
    log.rows(
        f"CREATE OR REPLACE TEMP TABLE per_customer AS WITH {base}, "
        "days AS (SELECT cust, d, sum(amt) FILTER (WHERE amt >= 0) AS spend, "
        f"count(*) FILTER (WHERE amt >= 0) AS n_buy, sum(amt) AS net{per_day} "
        "FROM base GROUP BY cust, d) "
        "SELECT cust, count(*) FILTER (WHERE n_buy > 0) AS n_days, "
        "min(d) FILTER (WHERE n_buy > 0) AS first, max(d) FILTER (WHERE n_buy > 0) AS last, "
        f"sum(spend) AS gross, sum(n_buy) AS n_buy, sum(net) AS net{wanted} FROM days GROUP BY cust")


def customer_frame(log: DuckLog, cols: TransactionColumns, *, as_of: _dt.date | None, convention: str,
                   returns: str) -> pd.DataFrame:
    """The customer table of ``convention`` from the table ``per_customer``, which it drops.

    One row per customer, sorted by customer id, on a ``RangeIndex``; ``attrs["as_of"]``
    is the observation end (ISO date): ``as_of``, or without it the last date of any
    usable row. The arguments are those :func:`per_customer_table` was given.
    """
    has_order = cols.order is not None and cols.order in log.types
    cust = ident(cols.customer)
    base, has_qty = _base(log, cols, as_of, returns)
    if as_of is None:
        last = log.one("SELECT max(last_any) FROM per_customer")[0]
        as_of = last if last is not None else _dt.date(1970, 1, 1)
    end = date_literal(as_of)
    common = "WITH dsum AS (SELECT * FROM per_customer WHERE n_buy > 0 AND net >= 0) "
    # The result (one row per customer) is held three times at its peak: in DuckDB's sort, as
    # Arrow and as the DataFrame. DuckDB gets a quarter of its memory (at most 512 MB) for the
    # sorted result (it spills the rest); the per-customer table goes before the DataFrame is made.
    log.rows(f"SET memory_limit = {literal(_quarter(log))}")
    release = "DROP TABLE per_customer"
    if convention == "lifetimes":
        sql = common + (
            f"SELECT s.cust AS {cust}, CAST(s.n_days - 1 AS DOUBLE) AS frequency, "
            "CAST(date_diff('day', s.first, s.last) AS DOUBLE) AS recency, "
            f"CAST(date_diff('day', s.first, {end}) AS DOUBLE) AS \"T\", "
            "CASE WHEN s.n_days > 1 THEN CAST(s.gross - s.first_spend AS DOUBLE) / (s.n_days - 1) "
            "ELSE 0.0 END AS monetary_value "
            "FROM dsum s ORDER BY s.cust")
        out = log.frame(sql, then=release)
    else:
        if has_order:  # an empty order id makes each of its rows an order
            orders = (f"{base}, ords AS (SELECT cust, sum(n) AS n_orders FROM (SELECT cust, ord, "
                      "CASE WHEN ord IS NULL THEN count(*) ELSE 1 END AS n FROM base WHERE amt >= 0 "
                      "GROUP BY cust, ord) GROUP BY cust) ")
            orders_join, n_orders = "JOIN ords o ON s.cust = o.cust ", "o.n_orders"
        else:
            orders, orders_join, n_orders = "", "", "s.n_buy"
        quantity = ", CAST(s.net_qty AS DOUBLE) AS total_quantity" if has_qty else ""
        sql = common + (", " + orders if orders else "") + (
            f"SELECT s.cust AS {cust}, s.first AS first_purchase, s.last AS last_purchase, "
            f"CAST(date_diff('day', s.last, {end}) AS BIGINT) AS recency_days, "
            f"CAST({n_orders} AS BIGINT) AS frequency_orders, CAST(s.n_days AS BIGINT) AS purchase_days, "
            "CAST(s.net AS DOUBLE) AS monetary_total, "
            f"CAST(s.gross AS DOUBLE) / {n_orders} AS monetary_mean, "
            f"CAST(s.net AS DOUBLE) / {n_orders} AS avg_order_value, "
            f"CAST(date_diff('day', s.first, {end}) AS BIGINT) AS tenure_days, "
            "CASE WHEN s.n_days > 1 THEN CAST(date_diff('day', s.first, s.last) AS DOUBLE) "
            f"/ (s.n_days - 1) END AS mean_interpurchase_days{quantity} "
            f"FROM dsum s {orders_join}ORDER BY s.cust")
        out = log.frame(sql, then=release)
        for name in ("first_purchase", "last_purchase"):
            out[name] = pd.to_datetime(out[name])
        out["mean_interpurchase_days"] = out["mean_interpurchase_days"].astype(np.float64)
        if has_qty:
            q = out["total_quantity"].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isfinite(q).all() and (q == np.round(q)).all() and (np.abs(q) < 2**53).all():
                out["total_quantity"] = q.astype(np.int64)
    out.attrs["as_of"] = as_of.isoformat()
    return out.reset_index(drop=True)


def _quarter(log: DuckLog) -> str:
    """A quarter of the connection's memory limit, 64 to 512 MB, as DuckDB size text."""
    limit = log.one("SELECT current_setting('memory_limit')")[0]
    found = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]i?B)\s*", str(limit))
    if not found:
        return str(limit)
    scale = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20,
             "GiB": 2**30, "TiB": 2**40}[found.group(2)]
    return f"{max(64, min(512, int(float(found.group(1)) * scale / 4 / 1e6)))}MB"
