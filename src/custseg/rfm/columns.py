"""The columns of an order log: which column plays which role, and what its values look like.

:class:`TransactionColumns` names the columns of a transaction log (customer,
date and amount required; quantity, order and currency optional);
:func:`guess_transaction_columns` guesses them from a table (what ``custseg
init`` and ``custseg run`` on an order log do) and :func:`transactions_spec_text`
writes them as a ``kind = "transactions"`` spec. The patterns of the values the
log may hold (:data:`ISO_DATE`, :data:`YYYYMMDD`, :data:`NUMBER`, :data:`WHOLE`)
are shared by the guess, by :func:`to_date` (date parameters such as ``as_of``)
and by the SQL that types the log (:mod:`custseg.rfm.views`).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from .._messages import did_you_mean
from ..errors import ParameterError

__all__ = ["TransactionColumns", "as_columns", "guess_transaction_columns", "transactions_spec_text",
           "to_date", "ISO_DATE", "YYYYMMDD", "NUMBER", "WHOLE"]

#: An ISO 8601 date or date-time, optionally with fractional seconds and an offset.
ISO_DATE = (r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
            r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?")
#: A yyyymmdd date written as digits (CDNOW's ``19970101``).
YYYYMMDD = r"[0-9]{8}"
#: A plain decimal number (an amount or quantity written as text).
NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
#: A whole number that fits in 64 bits (a customer id pandas would read as an integer).
WHOLE = r"-?[0-9]{1,18}"


@dataclass(frozen=True)
class TransactionColumns:
    """The names of the columns of a transaction log.

    Parameters
    ----------
    customer : str
        The customer id.
    date : str
        The date (or date-time) of the transaction.
    amount : str
        Its value; negative for a return.
    quantity : str, optional
        Number of items (summed into ``total_quantity``).
    order : str, optional
        Order id: rows of one order count as one order in ``frequency_orders``.
    currency : str, optional
        Currency code; a log with several currencies is an error.

    Raises
    ------
    ParameterError
        A name is not a non-empty string, or two roles name the same column.
    """

    customer: str
    date: str
    amount: str
    quantity: str | None = None
    order: str | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for role, name in self.roles().items():
            if not isinstance(name, str) or not name.strip():
                raise ParameterError(f"the {role!r} column name of TransactionColumns must be a "
                                     f"non-empty string, got {name!r}")
            if name in seen:
                raise ParameterError(f"column {name!r} is given as both the {seen[name]} and the "
                                     f"{role} column of the log",
                                     fix="give each role its own column")
            seen[name] = role
        for role in ("quantity", "order", "currency"):
            value = getattr(self, role)
            if value is not None and not isinstance(value, str):
                raise ParameterError(f"the {role!r} column name of TransactionColumns must be a "
                                     f"string or None, got {value!r}")

    def roles(self) -> dict[str, str]:
        """Role -> column name, for the roles that are given (required ones first)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> TransactionColumns:
        """Build from a mapping such as a spec's table (unknown keys are an error).

        Parameters
        ----------
        mapping : mapping
            Keys among ``customer, date, amount, quantity, order, currency``.

        Returns
        -------
        TransactionColumns

        Raises
        ------
        ParameterError
            An unknown key (with the closest known key), or a required key is missing.
        """
        known = [f.name for f in fields(cls)]
        for key in mapping:
            if key not in known:
                raise ParameterError(f"unknown transaction column role {key!r}"
                                     f"{did_you_mean(key, known, ignore_case=True)}",
                                     fix=f"use the roles {', '.join(known)}")
        missing = [k for k in ("customer", "date", "amount") if k not in mapping]
        if missing:
            raise ParameterError(f"the transaction columns need {', '.join(map(repr, missing))}",
                                 fix="name the customer, date and amount columns of the log")
        return cls(**dict(mapping))



def as_columns(cols: TransactionColumns | Mapping[str, Any]) -> TransactionColumns:
    """``cols`` as :class:`TransactionColumns` (a mapping through :meth:`TransactionColumns.from_dict`)."""
    if isinstance(cols, TransactionColumns):
        return cols
    if isinstance(cols, Mapping):
        return TransactionColumns.from_dict(cols)
    raise ParameterError(f"the 'cols' parameter must be a TransactionColumns or a dict, got "
                         f"{type(cols).__name__}")


_ROLE_WORDS = {
    "customer": re.compile(r"cust|client|user|member|buyer|account|shopper|household", re.I),
    "date": re.compile(r"date|day|time|when|_at$|^at$|period", re.I),
    "amount": re.compile(r"amount|amt|value|revenue|sales|total|spend|dollar|paid|turnover|net|gross|"
                         r"eur|usd|gbp|sum", re.I),
    "quantity": re.compile(r"qty|quantit|units|items|number_of|num_|count|pieces|cds", re.I),
    "order": re.compile(r"order|invoice|transaction|txn|receipt|basket|ticket|purchase_id", re.I),
    "currency": re.compile(r"currenc|ccy|^cur$", re.I),
}


def _looks_like_dates(s: pd.Series) -> bool:
    values = s.dropna()
    if values.empty:
        return False
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    text = values.astype(str).str.strip().str.removesuffix(".0")
    iso = text.str.fullmatch(ISO_DATE)
    ymd = (text.str.fullmatch(YYYYMMDD) & text.str[:2].isin(["19", "20"])
           & text.str[4:6].between("01", "12") & text.str[6:8].between("01", "31"))
    if (iso | ymd).mean() >= 0.95:
        return True
    from ..dates import detect_date_format  # 31/01/2024, 01/31/2024, 31.01.2024

    return detect_date_format(text) is not None


def guess_transaction_columns(frame: pd.DataFrame, *, sample: int = 10_000) -> TransactionColumns | None:
    """Guess whether a table is a transaction log, and which columns play which role.

    A heuristic for ``custseg init``: a log has a date column (dates, ISO text or
    yyyymmdd numbers), a customer id that repeats across rows, and a numeric
    amount; names decide between candidates (``customer_id``, ``date``,
    ``dollar_value``, ``qty``, ``order_id``, ``currency`` ...).

    Parameters
    ----------
    frame : DataFrame
        The table (only its first ``sample`` rows are looked at).
    sample : int, default 10000
        Rows to look at.

    Returns
    -------
    TransactionColumns or None
        The guessed roles, or None when the table does not look like a log (no
        date column, no repeating customer id, or no numeric amount). Show the
        guess to the user to confirm; it is not validated.

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": [1, 1, 2], "date": [19970101, 19970105, 19970102],
    ...                     "number_of_cds": [1, 2, 1], "dollar_value": [11.77, 29.33, 12.0]})
    >>> guess_transaction_columns(log)
    TransactionColumns(customer='customer_id', date='date', amount='dollar_value', \
quantity='number_of_cds', order=None, currency=None)
    """
    head = frame.head(sample)
    names = [c for c in head.columns if isinstance(c, str)]
    dates = [c for c in names if _looks_like_dates(head[c])]
    if not dates or len(head) < 2:
        return None
    date = max(dates, key=lambda c: (bool(_ROLE_WORDS["date"].search(c)), -names.index(c)))
    numeric = [c for c in names if c != date and pd.api.types.is_numeric_dtype(head[c])
               and not pd.api.types.is_bool_dtype(head[c])]

    def pick(role: str, pool: list[str]) -> str | None:
        named = [c for c in pool if _ROLE_WORDS[role].search(c)]
        return named[0] if named else None

    customers = [c for c in names if c != date and head[c].nunique() < head[c].notna().sum()]
    customer = pick("customer", customers)
    if customer is None:
        return None
    rest = [c for c in numeric if c != customer]
    # a unit price is not the value of the row (Online Retail needs Quantity * UnitPrice first)
    money = [c for c in rest if not re.search(r"price|unit|cost|rate", c, re.I)]
    amount = pick("amount", money)
    if amount is None:  # the only float column that is not a quantity
        floats = [c for c in money if pd.api.types.is_float_dtype(head[c])
                  and not _ROLE_WORDS["quantity"].search(c)]
        amount = floats[0] if len(floats) == 1 else None
    if amount is None:
        return None
    used = {customer, date, amount}
    quantity = pick("quantity", [c for c in rest if c not in used
                                 and pd.api.types.is_integer_dtype(head[c])])
    order = pick("order", [c for c in names if c not in used | {quantity}])
    currency = pick("currency", [c for c in names if c not in used | {quantity, order}
                                 and not pd.api.types.is_numeric_dtype(head[c])])
    return TransactionColumns(customer=customer, date=date, amount=amount, quantity=quantity,
                              order=order, currency=currency)


def transactions_spec_text(cols: TransactionColumns, *, header: str = "") -> str:
    """A commented ``kind = "transactions"`` spec for a log with these columns."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [
        'kind = "transactions"',
        "",
        "# The order log's columns. Optional: quantity, order, currency;",
        "# as_of = \"YYYY-MM-DD\" (observation end; default: the last transaction's date);",
        "# returns = \"net\" | \"drop\" | \"error\" (negative amounts); drop_duplicates = true.",
        "[transactions]",
    ]
    for role, name in cols.roles().items():
        lines.append(f"{role} = {json.dumps(name, ensure_ascii=False)}")
    lines += [
        "",
        "# R, F, M scores 1-5 by quintiles (ties share a score), or explicit cut points, e.g.",
        "# cuts = { recency = [30, 90, 180, 365] }. Named segments follow the default rule table",
        "# (Champions, Loyal, ..., Lost) unless [[rfm.segments]] tables give your own.",
        "[rfm]",
        "bins = 5",
        "",
    ]
    return "\n".join(lines)


def to_date(value: Any, name: str) -> _dt.date | None:
    """A date from a date, date-time, ISO text or yyyymmdd number (None stays None)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ParameterError(f"the {name!r} parameter must be a date, got NaT")
        return value.date()
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, np.datetime64):
        return to_date(pd.Timestamp(value), name)
    text = str(value).strip()
    if isinstance(value, (int, np.integer, str)) and not isinstance(value, bool):
        try:
            if re.fullmatch(YYYYMMDD, text):
                return _dt.datetime.strptime(text, "%Y%m%d").date()
            if isinstance(value, str) and re.fullmatch(ISO_DATE, text):
                return pd.Timestamp(text.replace("Z", "")).tz_localize(None).date()
        except ValueError:
            pass
    raise ParameterError(f"the {name!r} parameter must be a date such as '2024-06-30', got {value!r}",
                         fix=f"pass {name} as an ISO date (2024-06-30) or a datetime.date")
