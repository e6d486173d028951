"""From a transaction log to per-customer RFM features, scores and named segments.

Many teams hold an order log (one row per purchase or order line), not a
customer table. This module is the pure core that turns such a log into one row
per customer:

1. :func:`validate_transactions` lists every problem of the log at once, each a
   :class:`~custseg.errors.Problem` (error or warning); :func:`check_transactions`
   raises :class:`~custseg.errors.ValidationError` if any is an error.
2. :func:`aggregate` computes per-customer features with DuckDB SQL, in one of
   two conventions (below). :func:`validate_and_aggregate` does 1 and 2 on one
   DuckDB connection and groups the log per customer once (the per-customer
   checks read the aggregation's table): what ``custseg rfm`` and ``custseg run``
   use.
3. :func:`rfm_scores` adds ``R``, ``F``, ``M`` scores 1..5 (5 is best);
   :func:`rfm_segments` names each customer by the first matching rule of a
   table (:data:`DEFAULT_RFM_RULES`); :func:`rfm_segment_summary` sums up the
   segments.

The log
-------
:class:`TransactionColumns` names the columns: ``customer``, ``date`` and
``amount`` are required; ``quantity``, ``order`` and ``currency`` optional.
Dates may be dates, date-times (the time of day is dropped, an ISO offset such as
``+02:00`` is ignored: the date as written counts), ISO text (``2024-01-31``,
``2024-01-31 14:05:00``, ``2024-01-31T14:05:00Z``) or yyyymmdd integers or
text (CDNOW's ``19970101``). Amounts must be numbers (text such as ``"12.50"``
is accepted, ``"1,234.50"`` is not). A row with a negative amount is a return.

The source may be a DataFrame or a path. A Parquet file, or a delimited text
file (``.csv``, ``.tsv``, ``.txt``) in UTF-8 or Latin-1 with a comma,
semicolon, tab or pipe delimiter (detected as :func:`custseg.io.read_table`
does), is scanned by DuckDB without loading it, so logs larger than memory
work (text is parsed once into a temporary Parquet copy in the temporary
directory, ``TMPDIR``, removed afterwards). Any other file (whitespace-padded
text such as CDNOW's, other encodings, Excel, JSON, ...) is read whole with
:func:`custseg.io.read_table`. Text files scanned by DuckDB are typed like
``read_table`` types them: a customer column holding only whole numbers becomes
integers. Row numbers in messages count data rows from 1 whatever the source.

DuckDB works within :data:`DUCKDB_MEMORY` (4 GB; the environment variable
``CUSTSEG_DUCKDB_MEMORY``, e.g. ``2GB``, overrides it) and spills beyond it into
a temporary directory under ``TMPDIR``, removed afterwards. The validation reads
the log a fixed number of times whatever it finds: one pass counts every problem
and finds the date range, one more collects the example rows of all the problems
found (only if there are any), exact duplicates are found by grouping a hash of
each row (rows whose hash repeats are then compared column by column), and one
GROUP BY makes the per-customer checks. The aggregation reads it once.

Amounts are summed as exact decimals (rounded to 6 decimal places), so totals
do not depend on row order or threads, and a purchase fully returned nets to
exactly 0.

Negative amounts
----------------
``returns`` says what negative amounts (returns) mean:

``"net"`` (default)
    Returns net against the customer's purchases: ``monetary_total`` is
    purchases minus returns. A return never counts as an order or a purchase
    day. A customer whose net spend is below 0 is reported (warning) and left out.
``"drop"``
    Rows with a negative amount are left out (warning with their count).
``"error"``
    A negative amount is an error.

Exact duplicate rows (every column equal to an earlier row's) are a warning and
are kept unless ``drop_duplicates=True``.

The two conventions
-------------------
``as_of`` (the end of the observation period) defaults to the date of the last
transaction in the log, as in ``lifetimes``. Transactions after ``as_of`` are
left out. "Purchase rows" are rows with an amount >= 0 (zero-value purchases
count, as in ``lifetimes``); a "purchase day" is a date with at least one
purchase row. Every duration is in whole days between dates. Rows are sorted by
customer id; the customer id column keeps its name from the log.

At a glance (same log, same ``as_of``):

================ ============================================ ===========================================
measure          ``convention="default"``                     ``convention="lifetimes"``
================ ============================================ ===========================================
how often        ``frequency_orders``: orders, first included ``frequency``: purchase days - 1 (repeats)
how recent       ``recency_days``: ``as_of - last purchase``  ``recency``: ``last - first purchase day``
                 (small is good)                              (large is good; 0 for one-day customers)
how long known   ``tenure_days``: ``as_of - first purchase``  ``T``: the same, as a float
how much         ``monetary_total`` (net sum),                ``monetary_value``: mean spend of the
                 ``monetary_mean`` / ``avg_order_value``      repeat purchase days, 0 without repeats
                 (per order, first included)
returns          netted (``"net"``), dropped or an error      ignored (purchase rows only)
================ ============================================ ===========================================

``convention="default"`` in detail:

=========================== ==============================================================
column                      definition
=========================== ==============================================================
``first_purchase``          date of the first purchase row
``last_purchase``           date of the last purchase row
``recency_days``            ``as_of - last_purchase`` (days; 0 = bought on ``as_of``)
``frequency_orders``        distinct ``order`` values of the purchase rows (a row with
                            an empty order id counts as its own order); without an order
                            column, the number of purchase rows
``purchase_days``           distinct purchase days
``monetary_total``          sum of ``amount`` (purchases minus returns under ``"net"``)
``monetary_mean``           mean purchase value per order: purchases (before returns)
                            / ``frequency_orders``
``avg_order_value``         ``monetary_total / frequency_orders`` (net per order; equals
                            ``monetary_mean`` when there are no returns)
``tenure_days``             ``as_of - first_purchase`` (days)
``mean_interpurchase_days`` ``(last_purchase - first_purchase) / (purchase_days - 1)``;
                            null for a customer with one purchase day
``total_quantity``          sum of ``quantity`` (net of returns); only with a quantity
                            column
=========================== ==============================================================

``convention="lifetimes"`` in detail: exactly the columns and definitions of
``lifetimes.utils.summary_data_from_transaction_data(..., freq="D",
monetary_value_col=amount)``, as floats, beside the customer id column:

=================== ==================================== ==================================
column              definition                           closest default column
=================== ==================================== ==================================
``frequency``       purchase days - 1 (repeat days;      ``purchase_days - 1``
                    several purchases on one day count
                    once)
``recency``         days from the first to the last      ``tenure_days - recency_days``
                    purchase day (0 for one day)         (note: NOT ``recency_days``)
``T``               days from the first purchase day     ``tenure_days``
                    to ``as_of``
``monetary_value``  mean over the repeat purchase days   none (``monetary_mean`` is per
                    (every purchase day but the first)   order and includes the first)
                    of the day's total spend; 0 for a
                    one-day customer
=================== ==================================== ==================================

``lifetimes`` knows no returns: the lifetimes convention sees purchase rows only
(a return changes no column there; it still decides, under ``"net"``, whether
the customer is left out).

RFM scores and segments
-----------------------
See :func:`rfm_scores` for the quintile rule (ties share a score) and explicit
cut points, and :data:`DEFAULT_RFM_RULES` for the segment table.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem, ValidationError

__all__ = [
    "TransactionColumns",
    "TxValidation",
    "guess_transaction_columns",
    "validate_transactions",
    "check_transactions",
    "validate_and_aggregate",
    "aggregate",
    "rfm_scores",
    "rfm_segments",
    "rfm_segment_summary",
    "DEFAULT_COLUMNS",
    "LIFETIMES_COLUMNS",
    "DEFAULT_RFM_RULES",
    "FALLBACK_SEGMENT",
    "RETURNS",
    "CONVENTIONS",
]

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

#: Name given to a customer that no rule matches.
FALLBACK_SEGMENT = "Needs attention"

#: The default segment table of :func:`rfm_segments`, on scores 1..5 (5 = best).
#: The first matching rule wins, so the specific comes before the general:
#:
#: ====================== ============================ =====================================
#: segment                rule                         meaning
#: ====================== ============================ =====================================
#: Champions              R 4-5, F 4-5, M 4-5          bought recently, often, and much
#: Cannot lose them       R 1-2, F 4-5, M 4-5          were frequent big spenders; lapsing
#: At risk                R 1-2, F 3-5                 bought often, not lately
#: Loyal                  F 4-5                        buy often (and R 3-5 here)
#: Potential loyalists    R 4-5, F 2-3                 recent, a few purchases
#: New                    R 4-5, F 1                   recent, one purchase
#: Lost                   R 1, F 1                     one purchase, long ago
#: Hibernating            R 1-2, F 1-2                 few purchases, long ago
#: Needs attention        any (the fallback)           the rest: R 3 and F 1-3
#: ====================== ============================ =====================================
DEFAULT_RFM_RULES: tuple[dict[str, Any], ...] = (
    {"name": "Champions", "R": [4, 5], "F": [4, 5], "M": [4, 5]},
    {"name": "Cannot lose them", "R": [1, 2], "F": [4, 5], "M": [4, 5]},
    {"name": "At risk", "R": [1, 2], "F": [3, 5]},
    {"name": "Loyal", "F": [4, 5]},
    {"name": "Potential loyalists", "R": [4, 5], "F": [2, 3]},
    {"name": "New", "R": [4, 5], "F": [1, 1]},
    {"name": "Lost", "R": [1, 1], "F": [1, 1]},
    {"name": "Hibernating", "R": [1, 2], "F": [1, 2]},
    {"name": FALLBACK_SEGMENT},
)

MAX_EXAMPLES = 3

_ROW = "__custseg_row__"
_PARQUET_INDEX = re.compile(r"__index_level_\d+__")
# ISO 8601 date or date-time, optionally with fractional seconds and an offset.
_ISO_DATE = (r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
             r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?")
_YYYYMMDD = r"[0-9]{8}"
_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_WHOLE = r"-?[0-9]{1,18}"
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,.' ]\d{3})+([.,]\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_NAN_WORDS = {"nan", "na", "n/a", "null", "none", "-", "--", "?", "inf", "+inf", "-inf",
              "infinity", "-infinity", "#n/a", "#div/0!", "#value!"}
_DATE_FIX = ("write dates as ISO dates (2024-01-31), ISO date-times (2024-01-31 14:05:00) "
             "or yyyymmdd numbers (20240131)")


# ====================================================================== columns


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
                raise ParameterError(f"unknown transaction column role {key!r}{_suggest(key, known)}",
                                     fix=f"use the roles {', '.join(known)}")
        missing = [k for k in ("customer", "date", "amount") if k not in mapping]
        if missing:
            raise ParameterError(f"the transaction columns need {', '.join(map(repr, missing))}",
                                 fix="name the customer, date and amount columns of the log")
        return cls(**dict(mapping))


def _as_columns(cols: TransactionColumns | Mapping[str, Any]) -> TransactionColumns:
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
    iso = text.str.fullmatch(_ISO_DATE)
    ymd = (text.str.fullmatch(_YYYYMMDD) & text.str[:2].isin(["19", "20"])
           & text.str[4:6].between("01", "12") & text.str[6:8].between("01", "31"))
    return bool((iso | ymd).mean() >= 0.95)


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


# ====================================================================== validation result


@dataclass
class TxValidation:
    """What :func:`validate_transactions` found.

    Attributes
    ----------
    problems : list of Problem
        Errors and warnings, in the order checked. Row numbers count data rows
        from 1.
    n_rows : int
        Rows in the log.
    n_customers : int
        Customers that :func:`aggregate` would return (0 when errors prevent
        counting them).
    first_date, last_date : datetime.date or None
        Dates of the first and last usable transaction up to ``as_of``.
    as_of : datetime.date or None
        The end of the observation period (given, or the last transaction's date).
    """

    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0
    n_customers: int = 0
    first_date: _dt.date | None = None
    last_date: _dt.date | None = None
    as_of: _dt.date | None = None

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``"error"``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity ``"warning"``."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def _add(self, code: str, message: str, column: str | None = None, rows: Sequence[int] = (),
             count: int = 0, severity: str = "error") -> None:
        self.problems.append(Problem(code=code, severity=severity, message=" ".join(message.split()),
                                     column=column, rows=[int(r) for r in rows], count=int(count)))


# ====================================================================== small helpers


def _suggest(word: str, options: Sequence[str]) -> str:
    lowered = {str(o).lower(): str(o) for o in options}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _examples(rows: Sequence[int], values: Sequence[Any]) -> str:
    return ", ".join(f"row {r}: {_short(v)!r}" for r, v in zip(rows, values, strict=False))


def _id(value: Any) -> str:
    """A customer id as shown in messages: text quoted, numbers bare."""
    return repr(_short(value)) if isinstance(value, str) else _short(value)


def _rows_text(rows: Sequence[int], count: int) -> str:
    """``rows 3, 7 and 12 more`` (``row 3`` for one row)."""
    more = f" and {count - len(rows):,} more" if count > len(rows) else ""
    return ("row " if count == 1 else "rows ") + ", ".join(map(str, rows)) + more


def _q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def _lit(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _date_lit(day: _dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _check_choice(name: str, value: Any, choices: Sequence[str], function: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(
            f"the {name!r} parameter of {function} must be one of "
            f"{', '.join(map(repr, choices))}, got {value!r}{_suggest(str(value), choices)}")
    return value


def _to_date(value: Any, name: str) -> _dt.date | None:
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
        return _to_date(pd.Timestamp(value), name)
    text = str(value).strip()
    if isinstance(value, (int, np.integer, str)) and not isinstance(value, bool):
        try:
            if re.fullmatch(_YYYYMMDD, text):
                return _dt.datetime.strptime(text, "%Y%m%d").date()
            if isinstance(value, str) and re.fullmatch(_ISO_DATE, text):
                return pd.Timestamp(text.replace("Z", "")).tz_localize(None).date()
        except ValueError:
            pass
    raise ParameterError(f"the {name!r} parameter must be a date such as '2024-06-30', got {value!r}",
                         fix=f"pass {name} as an ISO date (2024-06-30) or a datetime.date")


# ====================================================================== the log in DuckDB

_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
              "UINTEGER", "UBIGINT", "UHUGEINT"}


def _kind(sql_type: str) -> str:
    t = sql_type.upper()
    if t in _INT_TYPES:
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return "time"
    if t == "VARCHAR" or t.startswith("ENUM"):
        return "text"
    return "other"


class _Log:
    """A transaction log as DuckDB views on one connection.

    ``raw`` holds the source's columns plus the row number ``__custseg_row__``
    (from 1); ``tx`` the typed columns (see :meth:`build`).
    """

    def __init__(self, con: Any, where: str, text_typed: bool, scratch: Path) -> None:
        self.con = con
        self.where = where  # "the log" or the file, for messages
        self.text_typed = text_typed  # every column is text (a CSV scanned by DuckDB)
        self.sep: str | None = None  # the delimiter of a CSV scanned by DuckDB
        self.scratch = scratch  # a temporary directory (DuckDB's spill files) removed on close
        self._n_repeats: int | None = None
        self.frame_ref: pd.DataFrame | None = None
        described = self.rows("DESCRIBE SELECT * FROM raw")
        self.types = {str(r[0]): str(r[1]) for r in described if r[0] != _ROW}
        self.columns = [c for c in self.types if not _PARQUET_INDEX.fullmatch(c)]
        # Row numbers are columns from here on, so no query relies on the order of rows (every
        # output has an ORDER BY): DuckDB may then aggregate without keeping that order.
        self.rows("SET preserve_insertion_order = false")

    # -------------------------------------------------------------- queries
    def rows(self, sql: str) -> list[tuple]:
        import duckdb

        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise _read_error(self.where, exc, self.sep) from exc

    def one(self, sql: str) -> tuple:
        return self.rows(sql)[0]

    def frame(self, sql: str, *, then: str | None = None) -> pd.DataFrame:
        """The result as a DataFrame, through Arrow (dates become ``datetime64[us]``).

        ``then``, SQL run once the result is fetched and before it becomes a
        DataFrame, frees what the query needed (tables, memory).
        """
        import duckdb
        import pyarrow as pa

        try:
            table = self.con.sql(sql).to_arrow_table()
            if then:
                self.con.execute(then).fetchall()
        except duckdb.Error as exc:
            raise _read_error(self.where, exc, self.sep) from exc
        for i, column in enumerate(table.schema):
            if pa.types.is_date(column.type):
                table = table.set_column(i, column.name, table.column(i).cast(pa.timestamp("us")))
        return table.to_pandas(split_blocks=True, self_destruct=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # -------------------------------------------------------------- typing
    def build(self, cols: TransactionColumns, *, drop_duplicates: bool) -> None:
        """Create the typed views ``tx`` (all rows) and ``kept`` (``tx`` minus repeats).

        Columns of ``tx``: ``row``; ``cust`` and ``cust_missing`` (NULL or blank; a
        blank text id stays as written in ``cust``, because grouping by the column as
        stored is faster, so test ``cust_missing``, never ``cust IS NULL``); ``d``
        (DATE, NULL when empty or not a date), ``d_missing``, ``d_bad``, ``d_text``; ``amt``
        (DOUBLE, NULL when empty or not a number), ``amt_missing``, ``amt_bad``,
        ``amt_text``; ``qty``, ``qty_bad``, ``qty_text``; ``ord``; ``cur``. A
        role whose column is absent gives NULLs.
        """
        present = set(self.types)
        parts = [f"{_q(_ROW)} AS row"]
        if cols.customer in present:
            cust, cust_missing = self._customer(cols.customer)
            parts += [f"{cust} AS cust", f"{cust_missing} AS cust_missing"]
        else:
            parts += ["NULL AS cust", "TRUE AS cust_missing"]
        if cols.date in present:
            parsed, missing, text = self._date(cols.date)
            parts += [f"{parsed} AS d", f"{missing} AS d_missing",
                      f"(NOT {missing} AND {parsed} IS NULL) AS d_bad", f"{text} AS d_text"]
        else:
            parts += ["NULL::DATE AS d", "FALSE AS d_missing", "FALSE AS d_bad", "NULL AS d_text"]
        for role, alias in (("amount", "amt"), ("quantity", "qty")):
            name = getattr(cols, role)
            if name is not None and name in present:
                value, missing, bad, text = self._number(name)
                parts += [f"CASE WHEN NOT ({missing}) AND NOT ({bad}) THEN {value} END AS {alias}",
                          f"{missing} AS {alias}_missing", f"{bad} AS {alias}_bad",
                          f"{text} AS {alias}_text"]
            else:
                parts += [f"NULL::DOUBLE AS {alias}", f"FALSE AS {alias}_missing",
                          f"FALSE AS {alias}_bad", f"NULL AS {alias}_text"]
        for role, alias, upper in (("order", "ord", False), ("currency", "cur", True)):
            name = getattr(cols, role)
            if name is not None and name in present:
                text = f"trim(CAST({_q(name)} AS VARCHAR))"
                text = f"upper({text})" if upper else text
                parts.append(f"NULLIF({text}, '') AS {alias}")
            else:
                parts.append(f"NULL::VARCHAR AS {alias}")
        views = "CREATE OR REPLACE TEMP VIEW tx AS SELECT " + ", ".join(parts) + " FROM raw; "
        if drop_duplicates and self.duplicate_groups():
            views += ("CREATE OR REPLACE TEMP VIEW kept AS SELECT * FROM tx WHERE row NOT IN "
                      f"(SELECT row FROM ({self.repeats_sql()}))")
        else:
            views += "CREATE OR REPLACE TEMP VIEW kept AS SELECT * FROM tx"
        self.rows(views)

    def duplicate_groups(self) -> int:
        """Rows repeating an earlier row exactly; the groups go to table ``dup_groups``.

        Two passes, so that the log's rows are never grouped by all their columns: one
        GROUP BY on a 64-bit hash of each row finds the hashes that repeat (equal rows
        have equal hashes; DuckDB hashes NULLs, -0.0 and NaN as it groups them), then
        only the rows with such a hash (usually none or few) are grouped by every
        column, so a hash collision never counts as a duplicate.
        """
        if self._n_repeats is None:
            if not self.columns:
                self._n_repeats = 0
                return 0
            listed = ", ".join(_q(c) for c in self.columns)
            self.rows("CREATE OR REPLACE TEMP TABLE dup_hashes AS SELECT h FROM "
                      f"(SELECT hash({listed}) AS h FROM raw) GROUP BY h HAVING count(*) > 1")
            if self.one("SELECT count(*) FROM dup_hashes")[0]:
                self.rows(f"CREATE OR REPLACE TEMP TABLE dup_groups AS SELECT {listed}, "
                          f"count(*) AS __n, min({_q(_ROW)}) AS __first FROM raw "
                          f"WHERE hash({listed}) IN (SELECT h FROM dup_hashes) GROUP BY ALL "
                          "HAVING count(*) > 1")
                self._n_repeats = int(self.one("SELECT coalesce(sum(__n - 1), 0) FROM dup_groups")[0])
            else:
                self._n_repeats = 0
        return self._n_repeats

    def repeats_sql(self) -> str:
        """SQL for the row numbers (``row``) of the rows repeating an earlier row."""
        same = " AND ".join(f"r.{_q(c)} IS NOT DISTINCT FROM g.{_q(c)}" for c in self.columns)
        return (f"SELECT r.{_q(_ROW)} AS row FROM raw r JOIN dup_groups g ON {same} "
                f"WHERE r.{_q(_ROW)} > g.__first")

    def _customer(self, name: str) -> tuple[str, str]:
        """SQL for the customer id and for "the id is missing" (NULL, blank text or NaN)."""
        q, kind = _q(name), _kind(self.types[name])
        if kind == "text":
            text = q if self.types[name].upper() == "VARCHAR" else f"CAST({q} AS VARCHAR)"
            missing = f"({q} IS NULL OR trim({text}) = '')"
            if self.text_typed:  # as pandas types a column of whole numbers
                whole = self.one(f"SELECT bool_and(regexp_full_match(trim({q}), {_lit(_WHOLE)})) "
                                 f"FROM raw WHERE trim({q}) <> ''")[0]
                if whole:
                    return f"CAST(NULLIF(trim({q}), '') AS BIGINT)", missing
            # the column as stored (blank ids are left out through ``missing``): grouping by a
            # stored column is much cheaper than by a computed one
            return text, missing
        if kind == "float":
            whole = self.one(f"SELECT bool_and({q} = floor({q}) AND abs({q}) < 1e18) FROM raw "
                             f"WHERE {q} IS NOT NULL AND NOT isnan({q})")[0]
            if whole:
                return (f"CASE WHEN NOT isnan({q}) THEN CAST({q} AS BIGINT) END",
                        f"({q} IS NULL OR isnan({q}))")
            return f"CASE WHEN NOT isnan({q}) THEN {q} END", f"({q} IS NULL OR isnan({q}))"
        return q, f"({q} IS NULL)"

    def _date(self, name: str) -> tuple[str, str, str]:
        q, kind = _q(name), _kind(self.types[name])
        text = f"CAST({q} AS VARCHAR)"
        missing = f"({q} IS NULL)"
        if kind == "time":
            parsed = f"CASE WHEN isfinite({q}) THEN CAST({q} AS DATE) END"
        elif kind == "int":
            parsed = (f"CASE WHEN {q} BETWEEN 10000101 AND 99991231 THEN "
                      f"CAST(TRY_STRPTIME(CAST({q} AS VARCHAR), '%Y%m%d') AS DATE) END")
        elif kind == "float":
            missing = f"({q} IS NULL OR isnan({q}))"
            parsed = (f"CASE WHEN {q} = floor({q}) AND {q} BETWEEN 10000101 AND 99991231 THEN "
                      f"CAST(TRY_STRPTIME(CAST(CAST({q} AS BIGINT) AS VARCHAR), '%Y%m%d') AS DATE) END")
            text = f"CASE WHEN {q} = floor({q}) THEN CAST(CAST({q} AS BIGINT) AS VARCHAR) ELSE {text} END"
        elif kind == "text":
            t = f"trim({text})"
            missing = f"({q} IS NULL OR {t} = '')"
            parsed = (f"CASE WHEN regexp_full_match({t}, {_lit(_ISO_DATE)}) "
                      f"THEN CAST(TRY_CAST({t} AS TIMESTAMP) AS DATE) "
                      f"WHEN regexp_full_match({t}, {_lit(_YYYYMMDD)}) "
                      f"THEN CAST(TRY_STRPTIME({t}, '%Y%m%d') AS DATE) END")
        else:
            parsed = "NULL::DATE"
        return parsed, missing, text

    def _number(self, name: str) -> tuple[str, str, str, str]:
        q, kind = _q(name), _kind(self.types[name])
        text = f"CAST({q} AS VARCHAR)"
        if kind in ("int", "float"):
            value = f"CAST({q} AS DOUBLE)"
            return value, f"({q} IS NULL OR isnan({value}))", f"coalesce(isinf({value}), FALSE)", text
        if kind == "text":
            t = f"trim({text})"
            value = f"CASE WHEN regexp_full_match({t}, {_lit(_NUMBER)}) THEN TRY_CAST({t} AS DOUBLE) END"
            missing = f"({q} IS NULL OR {t} = '')"
            bad = f"(NOT {missing} AND coalesce(isinf({value}), TRUE))"
            return value, missing, bad, text
        return "NULL::DOUBLE", f"({q} IS NULL)", f"({q} IS NOT NULL)", text


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _read_error(where: str, exc: Exception, sep: str | None = None) -> InputError:
    text = str(exc)
    line, fields_ = _CSV_LINE.search(text), _CSV_FIELDS.search(text)
    if sep is not None and line and fields_:
        from .io import ragged_fix

        return InputError(f"line {line.group(1)} of {where} has {fields_.group(2)} fields but the "
                          f"header has {fields_.group(1)}", fix=ragged_fix(sep))
    lines = [part.strip() for part in text.strip().splitlines() if part.strip()]
    first = lines[0] if lines else type(exc).__name__
    if line:
        first += f" (line {line.group(1)})"
    return InputError(f"cannot read {where}: {first}",
                      fix="check that the file is complete and well-formed (one delimiter, quoted "
                          "fields), or convert it to Parquet")


#: DuckDB's memory limit unless ``CUSTSEG_DUCKDB_MEMORY`` (e.g. ``"8GB"``) says otherwise.
#: Beyond it DuckDB spills to files in the temporary directory (``TMPDIR``), so a log larger
#: than memory works. A 50M-row log needs about 3.4 GiB without spilling; at 2 GB the
#: spilling made ``custseg rfm`` 1.7 times slower (BENCHMARKS.md, the RFM section).
DUCKDB_MEMORY = "4GB"


def _connect() -> tuple[Any, Path]:
    """A DuckDB connection and its scratch directory (removed again if this fails).

    UTC, no progress bar, bounded memory spilling into the scratch directory.
    """
    scratch = Path(tempfile.mkdtemp(prefix="custseg-log-"))
    try:
        return _configure(scratch), scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _configure(scratch: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    with contextlib.suppress(duckdb.Error):  # dates of TIMESTAMPTZ values in UTC
        con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute("SET enable_progress_bar = false").fetchall()
    con.execute(f"SET temp_directory = {_lit(str(scratch / 'spill'))}").fetchall()
    limit = os.environ.get("CUSTSEG_DUCKDB_MEMORY", "").strip() or DUCKDB_MEMORY
    try:
        con.execute(f"SET memory_limit = {_lit(limit)}").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise ParameterError(f"CUSTSEG_DUCKDB_MEMORY must be a size such as '2GB', got {limit!r}",
                             fix="unset it, or set it to a size such as 4GB") from exc
    return con


@contextlib.contextmanager
def _open(source: Any) -> Iterator[_Log]:
    """The source (DataFrame or path) as a :class:`_Log`; the connection is closed after."""
    if isinstance(source, pd.DataFrame):
        log = _open_frame(source, "the log")
    elif isinstance(source, (str, os.PathLike)):
        log = _open_path(Path(source).expanduser())
    else:
        raise ParameterError(f"the transaction log must be a DataFrame or the path of a file, got "
                             f"{type(source).__name__}")
    try:
        yield log
    finally:
        log.close()


def _open_frame(frame: pd.DataFrame, where: str) -> _Log:
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{where} has duplicate column names: {', '.join(map(repr, dup))}",
                         fix="rename the columns so that each name is unique")
    frame = frame.reset_index(drop=True)
    data: dict[str, Any] = {}
    for position, name in enumerate(names):
        s = frame.iloc[:, position]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_localize(None)  # the wall-clock date as written
        elif s.dtype == object:
            s = s.astype("string")  # mixed cells (e.g. from Excel): compare as text
        data[name] = s
    data[_ROW] = np.arange(1, len(frame) + 1, dtype=np.int64)
    prepared = pd.DataFrame(data, copy=False)
    con, scratch = _connect()
    con.register("raw_frame", prepared)
    con.execute("CREATE TEMP VIEW raw AS SELECT * FROM raw_frame").fetchall()
    log = _Log(con, where, text_typed=False, scratch=scratch)
    log.frame_ref = prepared  # DuckDB scans it in place: keep it alive with the connection
    return log


def _open_path(path: Path) -> _Log:
    from . import io

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        io.check_readable(path)
        con, scratch = _connect()
        log_sql = (f"CREATE TEMP VIEW raw AS SELECT * EXCLUDE (file_row_number), "
                   f"file_row_number + 1 AS {_q(_ROW)} FROM read_parquet({_lit(str(path))}, "
                   "file_row_number = true)")
        try:
            con.execute(log_sql).fetchall()
        except Exception as exc:
            con.close()
            shutil.rmtree(scratch, ignore_errors=True)
            raise io.unreadable_parquet_error(path) from exc
        return _Log(con, str(path), text_typed=False, scratch=scratch)
    if suffix in (".csv", ".tsv", ".txt"):
        io.check_readable(path)
        codec, sep, sample = io.sniff_text(path)
        duck_codec = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "latin-1": "latin-1",
                      "iso8859-1": "latin-1"}.get(codec)
        if sep in io.DELIMITERS and duck_codec is not None:
            import csv

            lines = sample.lstrip("\ufeff").splitlines()
            skip = next((i for i, line in enumerate(lines) if line.strip()), 0) + 1
            header = next(csv.reader([lines[skip - 1] if lines else ""], delimiter=sep), [])
            io.raise_on_duplicates(header, path)
            names = [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(header)]
            columns = "{" + ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in names) + "}"
            # null_padding: a short row gets empty cells, as pandas reads it
            options = (f"delim = {_lit(sep)}, header = false, skip = {skip}, columns = {columns}, "
                       f"quote = '\"', escape = '\"', encoding = {_lit(duck_codec)}, "
                       "auto_detect = false, strict_mode = true, null_padding = true")
            # Parse the text once into a temporary Parquet file (in the temporary directory,
            # TMPDIR), so that the several passes of the checks scan columns, not text.
            con, scratch = _connect()
            copy = scratch / "log.parquet"

            def copy_sql(opts: str) -> str:
                return (f"COPY (SELECT row_number() OVER () AS {_q(_ROW)}, * FROM "
                        f"read_csv({_lit(str(path))}, {opts})) TO {_lit(str(copy))} "
                        "(FORMAT parquet)")

            try:
                try:
                    con.execute(copy_sql(options)).fetchall()
                except Exception as exc:
                    # DuckDB's parallel scanner cannot pad short rows when a quoted field
                    # holds a line break; the serial one can (slower, so only then).
                    if "parallel=false" not in str(exc):
                        raise
                    con.execute(copy_sql(options + ", parallel = false")).fetchall()
                con.execute("CREATE TEMP VIEW raw AS SELECT * FROM "
                            f"read_parquet({_lit(str(copy))})").fetchall()
            except Exception as exc:
                con.close()
                shutil.rmtree(scratch, ignore_errors=True)
                raise _read_error(str(path), exc, sep) from exc
            log = _Log(con, str(path), text_typed=True, scratch=scratch)
            log.sep = sep
            return log
    return _open_frame(io.read_table(path), str(path))


# ====================================================================== validation


def validate_transactions(source: pd.DataFrame | str | os.PathLike[str],
                          cols: TransactionColumns | Mapping[str, Any], *,
                          as_of: Any = None, returns: str = "net", drop_duplicates: bool = False,
                          today: Any = None) -> TxValidation:
    """List every problem of a transaction log at once.

    Parameters
    ----------
    source : DataFrame, str or os.PathLike
        The log, or the path of a file (Parquet and delimited text are scanned
        out of core by DuckDB; see the module docstring).
    cols : TransactionColumns or dict
        Names of the columns.
    as_of : date-like, optional
        End of the observation period; default the last transaction's date.
        Transactions after it are left out (a warning counts them).
    returns : {"net", "drop", "error"}, default "net"
        What negative amounts mean (see the module docstring).
    drop_duplicates : bool, default False
        Whether exact duplicate rows are left out of the customer checks (and of
        :func:`aggregate`).
    today : date-like, optional
        Dates after it are an error; default the real current date.

    Returns
    -------
    TxValidation
        ``problems`` (each a :class:`~custseg.errors.Problem` with a one-line
        message naming the problem, the column, example rows counted from 1, and
        the fix), ``errors``, ``warnings`` and counts.

    Raises
    ------
    ParameterError
        A parameter is invalid (data problems are never raised, only listed).
    InputError
        ``source`` is a file that cannot be read.

    Notes
    -----
    Checks: missing columns (error, with the closest names); no rows (error);
    empty customer ids, dates or amounts (error); dates that are not dates
    (error); dates after ``today`` (error); amounts or quantities that are not
    numbers (error); several currencies (error naming them); negative amounts
    (by ``returns``: a warning per customer left out under ``"net"``, a warning
    with the row count under ``"drop"``, an error under ``"error"``); exact
    duplicate rows (warning: "N rows repeat an earlier row exactly", a pair
    counting 1); customers with only zero-value purchases (warning); no
    transaction up to ``as_of`` (error); transactions after ``as_of`` (warning).
    """
    cols = _as_columns(cols)
    returns = _check_choice("returns", returns, RETURNS, "validate_transactions")
    as_of_date = _to_date(as_of, "as_of")
    today_date = _to_date(today, "today") or _dt.date.today()
    with _open(source) as log:
        return _validate(log, cols, as_of=as_of_date, returns=returns,
                         drop_duplicates=bool(drop_duplicates), today=today_date)


def check_transactions(source: pd.DataFrame | str | os.PathLike[str],
                       cols: TransactionColumns | Mapping[str, Any], *,
                       as_of: Any = None, returns: str = "net", drop_duplicates: bool = False,
                       today: Any = None) -> TxValidation:
    """Like :func:`validate_transactions`, but raise if any problem is an error.

    Parameters
    ----------
    source, cols, as_of, returns, drop_duplicates, today
        As for :func:`validate_transactions`.

    Returns
    -------
    TxValidation
        The result, when it has no error (it may have warnings).

    Raises
    ------
    ValidationError
        Carrying every error found (``err.lines`` is one line per error).
    """
    result = validate_transactions(source, cols, as_of=as_of, returns=returns,
                                   drop_duplicates=drop_duplicates, today=today)
    if result.errors:
        raise ValidationError(result.problems)
    return result


def _validate(log: _Log, cols: TransactionColumns, *, as_of: _dt.date | None, returns: str,
              drop_duplicates: bool, today: _dt.date, customers: bool = True) -> TxValidation:
    """Every problem of the log (see :func:`validate_transactions`).

    With ``customers=False`` the per-customer checks (returns exceeding purchases,
    zero-value customers; warnings only) are left out, so that
    :func:`validate_and_aggregate` can run them on its per-customer table instead
    of grouping the log once more.
    """
    result = TxValidation()
    add = result._add

    present = log.columns
    roles = cols.roles()
    for role, name in roles.items():
        if name not in log.types:
            shown = ", ".join(present[:20]) + (", ..." if len(present) > 20 else "")
            others = [c for c in present if c not in roles.values()]
            hint = _suggest(name, others).removeprefix("; ")
            add("missing-column",
                f"column {name!r} given as the {role} column is missing from {log.where} "
                f"(columns there: {shown or 'none'}); fix: {hint + ' ' if hint else ''}"
                f"pass the name of the {role} column as it is in the log", column=name)
    log.build(cols, drop_duplicates=drop_duplicates)
    have = {role: name in log.types for role, name in roles.items()}

    valid = _valid_rows(returns)
    limit = _date_lit(as_of) if as_of is not None else "DATE '9999-12-31'"
    checks = {"cust_missing": None, "d_missing": None, "d_bad": "d_text",
              f"d > {_date_lit(today)}": "d_text", "amt_missing": None, "amt_bad": "amt_text",
              "amt < 0": "amt_text", "qty_bad": "qty_text"}
    # One scan counts every problem and finds the range of dates (the date range of ``kept``,
    # unless duplicates are dropped, is that of ``tx``); a second scan, only when problems
    # were found, collects the first rows of each at once.
    found = log.one(
        "SELECT count(*), " + ", ".join(f"count(*) FILTER (WHERE {c})" for c in checks) +
        f", min(d) FILTER (WHERE {valid}), min(d) FILTER (WHERE {valid} AND d <= {limit}), "
        f"max(d) FILTER (WHERE {valid} AND d <= {limit}), "
        f"count(*) FILTER (WHERE {valid} AND d > {limit}) FROM tx")
    n_rows, n_no_cust, n_no_date, n_bad_date, n_future, n_no_amt, n_bad_amt, n_negative, n_bad_qty = (
        int(c) for c in found[:9])
    date_range = found[9:]
    counted = dict(zip(checks, found[1:9], strict=True))
    reported = {"cust_missing": have["customer"], "d_missing": have["date"], "d_bad": have["date"],
                f"d > {_date_lit(today)}": have["date"], "amt_missing": have["amount"],
                "amt_bad": have["amount"], "amt < 0": have["amount"] and returns != "net",
                "qty_bad": cols.quantity is not None and have.get("quantity", False)}
    wanted = [c for c in checks if counted[c] and reported[c]]
    shown: dict[str, tuple[list[int], list[Any]]] = {}
    if wanted and n_rows:
        parts = []
        for c in wanted:
            # row and value in a struct: arg_min skips NULL arguments, a struct is never NULL
            value = checks[c] or "NULL"
            parts.append(f"arg_min({{'r': row, 'v': {value}}}, row, {MAX_EXAMPLES}) FILTER (WHERE {c})")
        lists = log.one("SELECT " + ", ".join(parts) + " FROM tx")
        for c, pairs in zip(wanted, lists, strict=True):
            pairs = sorted(pairs or [], key=lambda pair: pair["r"])
            shown[c] = [int(p["r"]) for p in pairs], [p["v"] for p in pairs]

    def examples(condition: str, value: str = "NULL") -> tuple[list[int], list[Any]]:
        return shown.get(condition, ([], []))

    result.n_rows = n_rows
    if n_rows == 0:
        add("no-rows", f"{log.where} has no rows; fix: check the file, or the filter that made the log")
        return result

    if have["customer"] and n_no_cust:
        rows, _ = examples("cust_missing")
        add("missing-customer",
            f"column {cols.customer!r} (the customer id) is empty in {_plural(n_no_cust, 'row')} "
            f"({_rows_text(rows, n_no_cust)}); fix: give every transaction its customer's id, "
            "or remove those rows", column=cols.customer, rows=rows, count=n_no_cust)
    if have["date"]:
        if n_no_date:
            rows, _ = examples("d_missing")
            add("missing-date",
                f"column {cols.date!r} (the date) is empty in {_plural(n_no_date, 'row')} "
                f"({_rows_text(rows, n_no_date)}); fix: give every transaction its date, "
                "or remove those rows", column=cols.date, rows=rows, count=n_no_date)
        if n_bad_date:
            rows, values = examples("d_bad", "d_text")
            add("bad-date",
                f"column {cols.date!r} has {_plural(n_bad_date, 'value')} that "
                f"{'is not a date' if n_bad_date == 1 else 'are not dates'} "
                f"({_examples(rows, values)}{_more(rows, n_bad_date)}); fix: {_DATE_FIX}",
                column=cols.date, rows=rows, count=n_bad_date)
        if n_future:
            rows, values = examples(f"d > {_date_lit(today)}", "d_text")
            add("future-date",
                f"column {cols.date!r} has {_plural(n_future, 'date')} later than today, "
                f"{today.isoformat()} ({_examples(rows, values)}{_more(rows, n_future)}); fix: "
                f"correct {'it' if n_future == 1 else 'them'} (a wrong year, or day and month "
                f"swapped?) or remove {'that row' if n_future == 1 else 'those rows'}",
                column=cols.date, rows=rows, count=n_future)
    if have["amount"]:
        if n_no_amt:
            rows, _ = examples("amt_missing")
            add("missing-amount",
                f"column {cols.amount!r} (the amount) is empty in {_plural(n_no_amt, 'row')} "
                f"({_rows_text(rows, n_no_amt)}); fix: give every transaction its amount, "
                "or remove those rows", column=cols.amount, rows=rows, count=n_no_amt)
        if n_bad_amt:
            rows, values = examples("amt_bad", "amt_text")
            add("not-numeric", _not_numeric(cols.amount, "amounts", n_bad_amt, rows, values),
                column=cols.amount, rows=rows, count=n_bad_amt)
        if n_negative and returns == "error":
            rows, values = examples("amt < 0", "amt_text")
            add("negative-amount",
                f"column {cols.amount!r} has {_plural(n_negative, 'negative amount')}, i.e. "
                f"{'a return' if n_negative == 1 else 'returns'} "
                f"({_examples(rows, values)}{_more(rows, n_negative)}); fix: pass --returns net "
                "(returns = \"net\" in the spec) to net returns against the customer's purchases, "
                "or --returns drop to leave them out", column=cols.amount, rows=rows, count=n_negative)
        elif n_negative and returns == "drop":
            rows, _ = examples("amt < 0")
            add("dropped-returns",
                f"{_plural(n_negative, 'row')} with a negative amount (returns) in column "
                f"{cols.amount!r} {'is' if n_negative == 1 else 'are'} left out (returns=\"drop\"; "
                f"{_rows_text(rows, n_negative)})", column=cols.amount, rows=rows,
                count=n_negative, severity="warning")
    if cols.quantity is not None and have["quantity"] and n_bad_qty:
        rows, values = examples("qty_bad", "qty_text")
        add("not-numeric", _not_numeric(cols.quantity, "quantities", n_bad_qty, rows, values),
            column=cols.quantity, rows=rows, count=n_bad_qty)
    if cols.currency is not None and have["currency"]:
        found = log.rows("SELECT cur, count(*) AS n FROM tx WHERE cur IS NOT NULL GROUP BY cur "
                         "ORDER BY n DESC, cur")
        if len(found) > 1:
            listed = ", ".join(f"{_short(c)}: {_plural(int(n), 'row')}" for c, n in found[:5])
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            add("several-currencies",
                f"column {cols.currency!r} holds {len(found)} currencies ({listed}{more}) and "
                "custseg does not convert between them; fix: convert the amounts to one currency "
                "first, or analyse each currency separately (filter the log to one)",
                column=cols.currency, count=len(found))
    _check_duplicates(log, add)

    if not all(have[r] for r in ("customer", "date", "amount")):
        return result
    if drop_duplicates and log.duplicate_groups():
        date_range = log.one(
            f"SELECT min(d), min(d) FILTER (WHERE d <= {limit}), max(d) FILTER (WHERE d <= {limit}), "
            f"count(*) FILTER (WHERE d > {limit}) FROM kept WHERE {valid}")
    start, first, last, n_after = date_range
    if start is None:
        return result
    end = as_of if as_of is not None else last
    result.as_of = end
    in_period = f"{valid} AND d <= {_date_lit(end)}"
    if first is None:
        add("nothing-before-as-of",
            f"no transaction is dated on or before as_of ({end.isoformat()}); the log starts on "
            f"{start.isoformat()}; fix: pass a later as_of", column=cols.date)
        return result
    if as_of is not None and n_after:
        rows = [int(r[0]) for r in log.rows(f"SELECT row FROM kept WHERE {valid} AND "
                                            f"d > {_date_lit(end)} ORDER BY row LIMIT {MAX_EXAMPLES}")]
        add("after-as-of",
            f"{_plural(n_after, 'transaction')} dated after as_of ({end.isoformat()}) "
            f"{'is' if n_after == 1 else 'are'} left out ({_rows_text(rows, n_after)})",
            column=cols.date, rows=rows, count=n_after, severity="warning")
    result.first_date, result.last_date = first, last
    if customers:
        _check_customers(log, cols, _per_customer_sql(in_period), returns, result)
    return result


def _more(rows: Sequence[int], count: int) -> str:
    return f" and {count - len(rows):,} more" if count > len(rows) else ""


def _not_numeric(column: str, what: str, count: int, rows: Sequence[int], values: Sequence[Any]) -> str:
    texts = [str(v).strip() for v in values]
    if any(_THOUSANDS.match(t) for t in texts):
        fix = "export plain numbers without thousands separators (1234.5, not 1,234.5)"
    elif any(_DECIMAL_COMMA.match(t) for t in texts):
        fix = "export numbers with a decimal point (12.5, not 12,5)"
    elif any(t.lower() in _NAN_WORDS for t in texts):
        fix = f"give every transaction a number, or remove those rows ({what} cannot be missing)"
    else:
        fix = f"correct those cells: {what} must be plain numbers such as 12.50"
    verb = "is not a number" if count == 1 else "are not numbers"
    return (f"column {column!r} has {_plural(count, 'value')} that {verb} "
            f"({_examples(rows, values)}{_more(rows, count)}); fix: {fix}")


def _exact(column: str) -> str:
    """The column as DECIMAL(38, 6): sums are then exact, whatever the order of the rows."""
    return f"CAST(round({column}, 6) AS DECIMAL(38, 6))"


def _valid_rows(returns: str) -> str:
    """SQL condition for the rows a customer's features are built from."""
    condition = "NOT cust_missing AND d IS NOT NULL AND amt IS NOT NULL"
    return condition + (" AND amt >= 0" if returns == "drop" else "")


def _check_duplicates(log: _Log, add: Any) -> None:
    n_dup = log.duplicate_groups()
    if not n_dup:
        return
    rows = [int(r[0]) for r in log.rows(f"{log.repeats_sql()} ORDER BY row LIMIT {MAX_EXAMPLES}")]
    add("duplicate-rows",
        f"{_plural(n_dup, 'row')} {'repeats' if n_dup == 1 else 'repeat'} an earlier row exactly "
        f"({_rows_text(rows, n_dup)}); they are kept; fix: pass --drop-duplicates "
        "(drop_duplicates = true in the spec) if they are the same purchase recorded twice",
        rows=rows, count=n_dup, severity="warning")


def _per_customer_sql(in_period: str) -> str:
    """Per customer of the log: ``cust``, ``net``, ``n_buy`` and ``zero_only``."""
    return (f"SELECT cust, sum({_exact('amt')}) AS net, count(*) FILTER (WHERE amt >= 0) AS n_buy, "
            "coalesce(bool_and(amt = 0) FILTER (WHERE amt >= 0), FALSE) AS zero_only "
            f"FROM kept WHERE {in_period} GROUP BY cust")


#: The same columns from the aggregation's ``per_customer`` table (no further pass over the log).
_FROM_PER_CUSTOMER = ("SELECT cust, net, n_buy, (n_buy > 0 AND coalesce(gross = 0, FALSE)) AS zero_only "
                      "FROM per_customer")


def _check_customers(log: _Log, cols: TransactionColumns, per: str, returns: str,
                     result: TxValidation) -> None:
    """Customers whose returns exceed their purchases, and those with only zero-value ones.

    ``per`` is SQL giving ``cust``, ``net``, ``n_buy`` and ``zero_only`` per customer
    (:func:`_per_customer_sql`, or :data:`_FROM_PER_CUSTOMER`).
    """
    add = result._add
    # one GROUP BY gives the counts and the first customers (by id) of each kind
    negative, zero = "net < 0", "zero_only AND net >= 0"
    n_kept, n_negative, n_zero, negative_first, zero_first = log.one(
        "SELECT count(*) FILTER (WHERE net >= 0 AND n_buy > 0), "
        f"count(*) FILTER (WHERE {negative}), count(*) FILTER (WHERE {zero}), "
        f"arg_min({{'c': cust, 'n': net}}, cust, {MAX_EXAMPLES}) FILTER (WHERE {negative}), "
        f"arg_min({{'c': cust, 'n': net}}, cust, {MAX_EXAMPLES}) FILTER (WHERE {zero}) FROM ({per})")
    n_kept, n_negative, n_zero = int(n_kept), int(n_negative), int(n_zero)

    def first(found: list[dict] | None) -> list[tuple[Any, Any]]:
        return sorted(((f["c"], f["n"]) for f in found or []), key=lambda pair: pair[0])

    result.n_customers = n_kept
    if n_negative and returns == "net":
        found = first(negative_first)
        listed = ", ".join(f"{_id(c)}: {net:.2f}" for c, net in found)
        more = _more(found, n_negative)
        add("negative-net",
            f"{_plural(n_negative, 'customer')} {'has' if n_negative == 1 else 'have'} returns "
            f"exceeding purchases (net spend below 0 in column {cols.amount!r}: {listed}{more}) "
            f"and {'is' if n_negative == 1 else 'are'} left out; fix: check those returns, or pass "
            "returns=\"drop\" to ignore returns", column=cols.amount, count=n_negative,
            severity="warning")
    if n_zero:
        found = first(zero_first)
        listed = ", ".join(_id(c) for c, _ in found) + _more(found, n_zero)
        add("zero-value-only",
            f"{_plural(n_zero, 'customer')} {'has' if n_zero == 1 else 'have'} only zero-value "
            f"purchases in column {cols.amount!r} ({listed}); "
            f"{'it is' if n_zero == 1 else 'they are'} kept, with a monetary value of 0",
            column=cols.amount, count=n_zero, severity="warning")


# ====================================================================== aggregation


def validate_and_aggregate(source: pd.DataFrame | str | os.PathLike[str],
                           cols: TransactionColumns | Mapping[str, Any], *,
                           as_of: Any = None, convention: str = "default", returns: str = "net",
                           drop_duplicates: bool = False,
                           today: Any = None) -> tuple[pd.DataFrame, TxValidation]:
    """:func:`check_transactions` then :func:`aggregate`, grouping the log per customer once.

    Both run on one DuckDB connection, and the per-customer checks (returns
    exceeding purchases, zero-value customers) read the aggregation's
    per-customer table instead of grouping the log a second time. The result is
    what ``check_transactions`` then ``aggregate(..., check=False)`` give.

    Parameters
    ----------
    source, cols, as_of, convention, returns, drop_duplicates, today
        As for :func:`aggregate`.

    Returns
    -------
    customers : DataFrame
        As :func:`aggregate` returns it.
    validation : TxValidation
        As :func:`check_transactions` returns it (warnings only).

    Raises
    ------
    ValidationError
        The log has errors (every one is listed).
    ParameterError, InputError
        As for :func:`aggregate`.
    """
    out, found = _aggregate(source, cols, as_of=as_of, convention=convention, returns=returns,
                            drop_duplicates=drop_duplicates, today=today, check=True)
    assert found is not None
    return out, found


def aggregate(source: pd.DataFrame | str | os.PathLike[str],
              cols: TransactionColumns | Mapping[str, Any], *,
              as_of: Any = None, convention: str = "default", returns: str = "net",
              drop_duplicates: bool = False, today: Any = None, check: bool = True) -> pd.DataFrame:
    """Per-customer features of a transaction log, computed with DuckDB SQL.

    Parameters
    ----------
    source : DataFrame, str or os.PathLike
        The log, or the path of a file. Parquet and delimited text files are
        scanned out of core; a DataFrame is registered as a DuckDB view.
    cols : TransactionColumns or dict
        Names of the columns.
    as_of : date-like, optional
        End of the observation period (inclusive); default the date of the last
        transaction. Later transactions are left out.
    convention : {"default", "lifetimes"}, default "default"
        Which columns to compute; the module docstring defines both side by side.
    returns : {"net", "drop", "error"}, default "net"
        What negative amounts mean.
    drop_duplicates : bool, default False
        Leave out rows that repeat an earlier row exactly.
    today : date-like, optional
        Passed to the validation (dates after it are an error).
    check : bool, default True
        Validate first and raise on errors. With False the log is assumed valid:
        rows with an empty or unreadable customer, date or amount are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by customer id, on a ``RangeIndex``: the
        customer id column (named as in the log) and :data:`DEFAULT_COLUMNS`
        (dates as ``datetime64``, day counts and order counts as int64, money as
        float64) or :data:`LIFETIMES_COLUMNS` (float64, as ``lifetimes``).

    Raises
    ------
    ValidationError
        With ``check=True``, the log has errors (see :func:`validate_transactions`).
    ParameterError
        A parameter is invalid.
    InputError
        ``source`` is a file that cannot be read.

    Examples
    --------
    >>> log = pd.DataFrame({"id": ["a", "a", "b"], "day": ["2024-01-01", "2024-01-11", "2024-01-05"],
    ...                     "eur": [10.0, 30.0, 5.0]})
    >>> cols = TransactionColumns(customer="id", date="day", amount="eur")
    >>> aggregate(log, cols, today="2024-12-31")[["id", "recency_days", "monetary_total"]]
      id  recency_days  monetary_total
    0  a             0            40.0
    1  b             6             5.0
    """
    return _aggregate(source, cols, as_of=as_of, convention=convention, returns=returns,
                      drop_duplicates=drop_duplicates, today=today, check=check)[0]


def _aggregate(source: pd.DataFrame | str | os.PathLike[str],
               cols: TransactionColumns | Mapping[str, Any], *, as_of: Any, convention: str,
               returns: str, drop_duplicates: bool, today: Any,
               check: bool) -> tuple[pd.DataFrame, TxValidation | None]:
    cols = _as_columns(cols)
    returns = _check_choice("returns", returns, RETURNS, "aggregate")
    convention = _check_choice("convention", convention, CONVENTIONS, "aggregate")
    as_of_date = _to_date(as_of, "as_of")
    today_date = _to_date(today, "today") or _dt.date.today()
    clash = [c for c in (DEFAULT_COLUMNS if convention == "default" else LIFETIMES_COLUMNS)
             if c == cols.customer]
    if clash:
        raise ParameterError(f"the customer column {cols.customer!r} has the name of an output column",
                             fix="rename the customer column of the log")
    found = None
    with _open(source) as log:
        if check:
            found = _validate(log, cols, as_of=as_of_date, returns=returns,
                              drop_duplicates=bool(drop_duplicates), today=today_date,
                              customers=False)
            if found.errors:
                raise ValidationError(found.problems)
        else:
            missing = [name for name in (cols.customer, cols.date, cols.amount) if name not in log.types]
            if missing:
                raise InputError(f"{log.where} has no column {missing[0]!r}",
                                 fix=f"pass the right column names{_suggest(missing[0], log.columns)}")
            log.build(cols, drop_duplicates=bool(drop_duplicates))
        out = _aggregate_sql(log, cols, as_of=as_of_date, convention=convention, returns=returns,
                             validation=found)
    return out, found


def _aggregate_sql(log: _Log, cols: TransactionColumns, *, as_of: _dt.date | None, convention: str,
                   returns: str, validation: TxValidation | None = None) -> pd.DataFrame:
    """The customer table; ``validation`` (when given) gets the per-customer checks."""
    valid = _valid_rows(returns)
    has_qty = cols.quantity is not None and cols.quantity in log.types
    has_order = cols.order is not None and cols.order in log.types
    cust = _q(cols.customer)
    # Plain GROUP BYs (no DISTINCT aggregates, no semi-joins) keep this fast on large logs: per
    # (customer, day) the purchases and the net, then per customer, into a table. Without
    # as_of the observation end is the last date of any usable row (returns included), which
    # that table holds per customer, so the log is scanned once.
    in_period = valid if as_of is None else f"{valid} AND d <= {_date_lit(as_of)}"
    qty = _exact("qty") if has_qty else "NULL"
    base = (f"base AS (SELECT cust, d, {_exact('amt')} AS amt, {qty} AS qty, ord "
            f"FROM kept WHERE {in_period})")
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
    if validation is not None:
        _check_customers(log, cols, _FROM_PER_CUSTOMER, returns, validation)
    if as_of is None:
        last = log.one("SELECT max(last_any) FROM per_customer")[0]
        as_of = last if last is not None else _dt.date(1970, 1, 1)
    end = _date_lit(as_of)
    common = "WITH dsum AS (SELECT * FROM per_customer WHERE n_buy > 0 AND net >= 0) "
    # The result (one row per customer) is held three times at its peak: in DuckDB's sort, as
    # Arrow and as the DataFrame. DuckDB gets a quarter of its memory (at most 512 MB) for the
    # sorted result (it spills the rest); the per-customer table goes before the DataFrame is made.
    log.rows(f"SET memory_limit = {_lit(_quarter(log))}")
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


def _quarter(log: _Log) -> str:
    """A quarter of the connection's memory limit, 64 to 512 MB, as DuckDB size text."""
    limit = log.one("SELECT current_setting('memory_limit')")[0]
    found = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]i?B)\s*", str(limit))
    if not found:
        return str(limit)
    scale = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20,
             "GiB": 2**30, "TiB": 2**40}[found.group(2)]
    return f"{max(64, min(512, int(float(found.group(1)) * scale / 4 / 1e6)))}MB"


# ====================================================================== scores


_MEASURES = {"recency": "R", "frequency": "F", "monetary": "M"}


def rfm_scores(customers: pd.DataFrame, *, recency: str = "recency_days",
               frequency: str = "frequency_orders", monetary: str = "monetary_total",
               bins: int = 5, cuts: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """Add ``R``, ``F`` and ``M`` scores 1..``bins`` (``bins`` = best) to a customer table.

    Parameters
    ----------
    customers : DataFrame
        One row per customer, e.g. from :func:`aggregate`.
    recency, frequency, monetary : str
        The columns to score. Lower recency is better (a recent buyer gets
        ``R = bins``); higher frequency and monetary are better.
    bins : int, default 5
        Number of score levels (quintiles by default).
    cuts : dict, optional
        Explicit cut points per measure instead of quantiles, keys among
        ``"recency"``, ``"frequency"``, ``"monetary"``, each ``bins - 1``
        increasing numbers. Each cut is the inclusive upper end of a band:
        ``{"recency": [30, 90, 180, 365]}`` scores recency <= 30 days 5,
        31-90 days 4, 91-180 days 3, 181-365 days 2, more 1, and
        ``{"frequency": [1, 2, 4, 8]}`` scores 1 order 1, 2 orders 2, 3-4 orders
        3, 5-8 orders 4, more 5.

    Returns
    -------
    pandas.DataFrame
        A copy of ``customers`` with int64 columns ``R``, ``F``, ``M``.

    Raises
    ------
    ParameterError
        A column is missing (with the closest name), not numeric or has missing
        values; ``bins`` is below 2; ``cuts`` has an unknown key or cut points
        that are not ``bins - 1`` increasing numbers.

    Notes
    -----
    The tie rule: without cuts, a score comes from the customer's rank,
    ``rank = 1 + (number of customers with a strictly worse value)`` (pandas'
    ``rank(method="min")``) and ``score = 1 + floor(bins * (rank - 1) / n)``
    for ``n`` customers. Customers with equal values always get equal scores,
    so a measure can have fewer than ``bins`` levels: if every value is equal,
    every score is 1; in CDNOW about half of the customers bought once, so they
    all share ``F = 1`` and the next level is ``F = 3`` (F takes 4 distinct
    values, not 5). Scores never depend on row order.

    Examples
    --------
    >>> df = pd.DataFrame({"recency_days": [1, 50, 300, 300], "frequency_orders": [5, 1, 1, 2],
    ...                    "monetary_total": [90.0, 10.0, 20.0, 30.0]})
    >>> rfm_scores(df, bins=4)[["R", "F", "M"]].to_numpy().tolist()
    [[4, 4, 4], [3, 1, 1], [1, 1, 2], [1, 3, 3]]
    """
    if not isinstance(customers, pd.DataFrame):
        raise ParameterError(f"rfm_scores needs a DataFrame of customers, got {type(customers).__name__}")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ParameterError(f"the 'bins' parameter of rfm_scores must be an integer >= 2, got {bins!r}")
    bins = int(bins)
    cuts = dict(cuts or {})
    for key in cuts:
        if key not in _MEASURES:
            raise ParameterError(f"unknown key {key!r} in the RFM cuts{_suggest(str(key), list(_MEASURES))}",
                                 fix="use the keys recency, frequency, monetary")
    out = customers.copy(deep=False)  # copy-on-write: the new columns never reach customers
    present = [str(c) for c in customers.columns]
    for measure, column in (("recency", recency), ("frequency", frequency), ("monetary", monetary)):
        if column not in customers.columns:
            raise ParameterError(f"column {column!r} (the {measure} to score) is missing from the "
                                 f"customer table{_suggest(str(column), present)}",
                                 fix=f"pass {measure}= with one of its columns")
        s = customers[column]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_timedelta64_dtype(s)) or \
                pd.api.types.is_bool_dtype(s):
            raise ParameterError(f"column {column!r} (the {measure} to score) is not numeric "
                                 f"(dtype {s.dtype})", fix=f"pass {measure}= with a numeric column")
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            n = int(np.isnan(values).sum())
            raise ParameterError(f"column {column!r} (the {measure} to score) has "
                                 f"{_plural(n, 'missing value')}",
                                 fix="fill them or leave those customers out before scoring")
        better_low = measure == "recency"
        if measure in cuts:
            out[_MEASURES[measure]] = _cut_scores(values, _check_cuts(cuts[measure], measure, bins),
                                                  bins, better_low)
        else:
            out[_MEASURES[measure]] = _rank_scores(values, bins, better_low)
    return out


def _rank_scores(values: np.ndarray, bins: int, better_low: bool) -> np.ndarray:
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    key = -values if better_low else values
    rank = _min_rank(key)
    return (1 + np.floor(bins * (rank - 1) / n)).astype(np.int64)


def _min_rank(key: np.ndarray) -> np.ndarray:
    """``pandas.Series(key).rank(method="min")``: 1 + the number of values strictly below.

    Whole numbers in a narrow range (days, order counts) are ranked by counting, in
    linear time; other values by pandas' sort.
    """
    lo, hi = float(key.min()), float(key.max())
    if math.isfinite(lo) and math.isfinite(hi) and hi - lo <= 4 * len(key) + 1024 \
            and bool((key == np.floor(key)).all()):
        offsets = (key - lo).astype(np.int64)
        counts = np.bincount(offsets)
        below = np.cumsum(counts) - counts
        return (below[offsets] + 1).astype(np.float64)
    return pd.Series(key).rank(method="min").to_numpy()


def _check_cuts(points: Any, measure: str, bins: int) -> np.ndarray:
    try:
        arr = np.asarray(list(points), dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.ndim != 1 or len(arr) != bins - 1 or not np.isfinite(arr).all() or (np.diff(arr) <= 0).any():
        raise ParameterError(f"the {measure} cuts must be {bins - 1} increasing numbers (one fewer "
                             f"than bins={bins}), got {points!r}",
                             fix=f"e.g. {measure} = {[30, 90, 180, 365] if bins == 5 else 'a list'}")
    return arr


def _cut_scores(values: np.ndarray, cuts: np.ndarray, bins: int, better_low: bool) -> np.ndarray:
    below = np.searchsorted(cuts, values, side="left")  # number of cuts strictly below the value
    return (bins - below if better_low else 1 + below).astype(np.int64)


# ====================================================================== segments

_RULE_KEYS = ("name", "R", "F", "M")


def _check_rules(rules: Any) -> list[dict[str, Any]]:
    if isinstance(rules, (str, bytes, Mapping)) or not isinstance(rules, Sequence) or not rules:
        raise ParameterError("the RFM segment rules must be a non-empty list of tables such as "
                             "{\"name\": \"Champions\", \"R\": [4, 5]}")
    checked = []
    for number, rule in enumerate(rules, start=1):
        where = f"RFM segment rule {number}"
        if not isinstance(rule, Mapping):
            raise ParameterError(f"{where} must be a table, got {type(rule).__name__}",
                                 fix="write it as {\"name\": \"Champions\", \"R\": [4, 5]}")
        for key in rule:
            if key not in _RULE_KEYS:
                raise ParameterError(f"unknown key {key!r} in {where}{_suggest(str(key), _RULE_KEYS)}",
                                     fix=f"allowed keys are {', '.join(_RULE_KEYS)}")
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"{where} needs a \"name\" (a non-empty string), got {name!r}")
        ranges = {}
        for score in ("R", "F", "M"):
            if score not in rule:
                continue
            value = rule[score]
            if isinstance(value, int | np.integer) and not isinstance(value, bool):
                value = [value, value]
            ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
                  and all(isinstance(v, int | float | np.number) and not isinstance(v, bool)
                          and math.isfinite(v) for v in value) and value[0] <= value[1])
            if not ok:
                raise ParameterError(f"{score} in {where} ({name!r}) must be [low, high] with "
                                     f"low <= high, got {rule[score]!r}",
                                     fix=f"e.g. \"{score}\": [4, 5]")
            ranges[score] = (float(value[0]), float(value[1]))
        checked.append({"name": name, **ranges})
    return checked


def rfm_segments(scored: pd.DataFrame, rules: Sequence[Mapping[str, Any]] | None = None) -> pd.Series:
    """Name each customer by the first rule its scores match.

    Parameters
    ----------
    scored : DataFrame
        Customers with ``R``, ``F``, ``M`` columns (from :func:`rfm_scores`).
    rules : list of dict, optional
        The segment table, first match wins; default :data:`DEFAULT_RFM_RULES`.
        Each rule is ``{"name": str, "R": [lo, hi], "F": [lo, hi], "M": [lo, hi]}``
        with inclusive bounds; an omitted score matches any value and a single
        number ``n`` means ``[n, n]``.

    Returns
    -------
    pandas.Series
        The segment name per customer, named ``"segment"``, on the index of
        ``scored``. Customers no rule matches get :data:`FALLBACK_SEGMENT`.

    Raises
    ------
    ParameterError
        A rule has an unknown key (with the closest key), no name or a bad range,
        or ``scored`` lacks a score column a rule uses.

    Examples
    --------
    >>> scores = pd.DataFrame({"R": [5, 1, 3], "F": [5, 1, 2], "M": [5, 1, 1]})
    >>> rfm_segments(scores).tolist()
    ['Champions', 'Lost', 'Needs attention']
    """
    checked = _check_rules(DEFAULT_RFM_RULES if rules is None else rules)
    used = sorted({k for rule in checked for k in rule if k != "name"})
    for score in used:
        if score not in scored.columns:
            raise ParameterError(f"column {score!r} is missing from the scored customers",
                                 fix="compute the scores with rfm_scores first")
    import pyarrow as pa

    values = {s: scored[s].to_numpy(dtype=np.float64, na_value=np.nan) for s in used}
    labels = list(dict.fromkeys([rule["name"] for rule in checked] + [FALLBACK_SEGMENT]))
    codes = np.full(len(scored), labels.index(FALLBACK_SEGMENT), dtype=np.int32)
    open_ = np.ones(len(scored), dtype=bool)
    for rule in checked:
        match = open_.copy()
        for score in used:
            if score in rule:
                lo, hi = rule[score]
                match &= (values[score] >= lo) & (values[score] <= hi)
        codes[match] = labels.index(rule["name"])
        open_ &= ~match
    # decoded by Arrow: far faster than numpy strings for millions of customers
    names = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels, pa.large_string()))
    text = names.cast(pa.large_string()).to_pandas(
        types_mapper={pa.large_string(): pd.StringDtype(na_value=np.nan)}.get)
    return pd.Series(text.array, index=scored.index, name="segment")


def rfm_segment_summary(scored: pd.DataFrame, names: pd.Series, value: str = "monetary_total",
                        rules: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Size, value share and mean scores of each segment, as JSON-safe dicts.

    Parameters
    ----------
    scored : DataFrame
        Customers with ``R``, ``F``, ``M`` and the ``value`` column.
    names : Series
        Segment per customer (from :func:`rfm_segments`), aligned with ``scored``.
    value : str, default "monetary_total"
        The column whose share each segment holds.
    rules : list of dict, optional
        Order of the segments (default :data:`DEFAULT_RFM_RULES`); segments not
        in the rules follow, largest first.

    Returns
    -------
    list of dict
        One per non-empty segment: ``segment``, ``n``, ``share`` (of customers),
        ``value_share`` (of the total ``value``; None when the total is 0),
        ``mean_R``, ``mean_F``, ``mean_M``.

    Raises
    ------
    ParameterError
        A column is missing, or ``names`` does not have one name per customer.
    """
    if len(names) != len(scored):
        raise ParameterError(f"names has {len(names)} entries but there are {len(scored)} customers",
                             fix="pass the segments computed from the same table")
    for column in ("R", "F", "M", value):
        if column not in scored.columns:
            raise ParameterError(f"column {column!r} is missing from the scored customers"
                                 f"{_suggest(str(column), [str(c) for c in scored.columns])}",
                                 fix="compute the scores with rfm_scores first, or pass value=")
    frame = pd.DataFrame({
        "segment": np.asarray(names, dtype=object),
        "R": scored["R"].to_numpy(dtype=np.float64), "F": scored["F"].to_numpy(dtype=np.float64),
        "M": scored["M"].to_numpy(dtype=np.float64),
        "value": scored[value].to_numpy(dtype=np.float64, na_value=np.nan),
    })
    n_total = len(frame)
    total_value = float(np.nansum(frame["value"].to_numpy()))
    grouped = frame.groupby("segment", sort=False).agg(
        n=("R", "size"), mean_R=("R", "mean"), mean_F=("F", "mean"), mean_M=("M", "mean"),
        value=("value", "sum"))
    order = [r["name"] for r in _check_rules(DEFAULT_RFM_RULES if rules is None else rules)]
    rank = {name: i for i, name in enumerate(dict.fromkeys(order))}
    keys = sorted(grouped.index, key=lambda s: (rank.get(s, len(rank)), -int(grouped.at[s, "n"]), str(s)))
    out = []
    for segment in keys:
        row = grouped.loc[segment]
        out.append({
            "segment": str(segment),
            "n": int(row["n"]),
            "share": float(row["n"]) / n_total,
            "value_share": (float(row["value"]) / total_value) if total_value else None,
            "mean_R": float(row["mean_R"]),
            "mean_F": float(row["mean_F"]),
            "mean_M": float(row["mean_M"]),
        })
    return out


def customer_table(source: pd.DataFrame | str | os.PathLike[str], spec: Any, *,
                   today: Any = None) -> tuple[pd.DataFrame, TxValidation, list[dict[str, Any]], str]:
    """From a transaction log to the customer table a ``kind = "transactions"`` spec describes.

    Validates the log (raising :class:`~custseg.errors.ValidationError` on errors),
    aggregates it, adds ``R``, ``F``, ``M`` scores and the named ``rfm_segment``.

    Returns
    -------
    customers : DataFrame
        One row per customer: the default-convention columns, R, F, M, rfm_segment.
    validation : TxValidation
        Its warnings are the run's.
    summary : list of dict
        Size and value share per RFM segment (:func:`rfm_segment_summary`).
    as_of : str
        The observation end (ISO date).
    """
    tx = dict(spec.transactions)
    cols = TransactionColumns.from_dict(
        {k: tx[k] for k in ("customer", "date", "amount", "quantity", "order", "currency")
         if tx.get(k)})
    options = {"as_of": tx.get("as_of"), "returns": tx.get("returns", "net"),
               "drop_duplicates": bool(tx.get("drop_duplicates", False))}
    customers, validation = validate_and_aggregate(source, cols, today=today, **options)
    as_of = str(customers.attrs.get("as_of", ""))
    rfm = dict(spec.rfm)
    scored = rfm_scores(customers, bins=int(rfm.get("bins", 5)), cuts=rfm.get("cuts"))
    rules = rfm.get("segments")
    names = rfm_segments(scored, rules)
    scored["rfm_segment"] = names.to_numpy()
    summary = rfm_segment_summary(scored, names, rules=rules)
    scored.attrs["as_of"] = as_of
    return scored, validation, summary, as_of


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
