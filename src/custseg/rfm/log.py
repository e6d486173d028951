"""The public functions on an order log given as a DataFrame or the path of a file.

Each opens the log (:func:`custseg.rfm.read.open_log`), checks its parameters,
and calls the core: the checks (:mod:`custseg.rfm.checks`), the aggregation
(:mod:`custseg.rfm.sql`) and the scores (:mod:`custseg.rfm.scores`).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .._messages import did_you_mean
from ..errors import InputError, ParameterError, ValidationError
from .checks import TxValidation, check_choice, check_customers, validate_log
from .columns import TransactionColumns, as_columns, to_date
from .read import open_log
from .scores import rfm_scores, rfm_segment_summary, rfm_segments
from .sql import (
    CONVENTIONS,
    DEFAULT_COLUMNS,
    FROM_PER_CUSTOMER,
    LIFETIMES_COLUMNS,
    RETURNS,
    customer_frame,
    per_customer_table,
)

__all__ = ["validate_transactions", "check_transactions", "validate_and_aggregate", "aggregate",
           "customer_table", "log_columns"]


def validate_transactions(source: pd.DataFrame | str | os.PathLike[str],
                          cols: TransactionColumns | Mapping[str, Any], *,
                          as_of: Any = None, returns: str = "net", drop_duplicates: bool = False,
                          today: Any = None) -> TxValidation:
    """List every problem of a transaction log at once.

    Parameters
    ----------
    source : DataFrame, str or os.PathLike
        The log, or the path of a file (Parquet and delimited text are scanned
        out of core by DuckDB; see :mod:`custseg.rfm`).
    cols : TransactionColumns or dict
        Names of the columns.
    as_of : date-like, optional
        End of the observation period; default the last transaction's date.
        Transactions after it are left out (a warning counts them).
    returns : {"net", "drop", "error"}, default "net"
        What negative amounts mean (see :mod:`custseg.rfm`).
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
    cols = as_columns(cols)
    returns = check_choice("returns", returns, RETURNS, "validate_transactions")
    as_of_date = to_date(as_of, "as_of")
    today_date = to_date(today, "today") or _dt.date.today()
    with open_log(source) as log:
        return validate_log(log, cols, as_of=as_of_date, returns=returns,
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
        Which columns to compute; :mod:`custseg.rfm` defines both side by side.
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
    cols = as_columns(cols)
    returns = check_choice("returns", returns, RETURNS, "aggregate")
    convention = check_choice("convention", convention, CONVENTIONS, "aggregate")
    as_of_date = to_date(as_of, "as_of")
    today_date = to_date(today, "today") or _dt.date.today()
    clash = [c for c in (DEFAULT_COLUMNS if convention == "default" else LIFETIMES_COLUMNS)
             if c == cols.customer]
    if clash:
        raise ParameterError(f"the customer column {cols.customer!r} has the name of an output column",
                             fix="rename the customer column of the log")
    found = None
    with open_log(source) as log:
        if check:
            found = validate_log(log, cols, as_of=as_of_date, returns=returns,
                                 drop_duplicates=bool(drop_duplicates), today=today_date,
                                 customers=False)
            if found.errors:
                raise ValidationError(found.problems)
        else:
            missing = [name for name in (cols.customer, cols.date, cols.amount) if name not in log.types]
            if missing:
                hint = did_you_mean(missing[0], log.columns, ignore_case=True)
                raise InputError(f"{log.where} has no column {missing[0]!r}",
                                 fix=f"pass the right column names{hint}")
            log.build(cols, drop_duplicates=bool(drop_duplicates))
        # the log is grouped per customer once: the per-customer checks read that table
        per_customer_table(log, cols, as_of=as_of_date, convention=convention, returns=returns)
        if found is not None:
            check_customers(log, cols, FROM_PER_CUSTOMER, returns, found)
        out = customer_frame(log, cols, as_of=as_of_date, convention=convention, returns=returns)
    return out, found


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


def log_columns(transactions: str | os.PathLike[str] | pd.DataFrame, *, spec: Any = None,
                columns: dict[str, str | None] | None = None, as_of: str | None = None,
                returns: str | None = None, drop_duplicates: bool = False):
    """The source, columns and options of an order log, as ``custseg rfm`` and ``custseg clv`` take it.

    The columns come from ``columns`` (``customer``, ``date``, ``amount``,
    ``quantity``, ``order``, ``currency``), then a transactions ``spec``, and are
    guessed from the data when the customer, date or amount column is not named
    (the log is then read here and returned as a DataFrame). Returns ``(source,
    TransactionColumns, transaction options, rfm options of the spec)``.
    """
    from .. import io
    from .columns import guess_transaction_columns

    tx: dict = {}
    rfm_opts: dict = {}
    if spec is not None:
        tx, rfm_opts = dict(spec.transactions), dict(spec.rfm)
    tx.update({k: v for k, v in (columns or {}).items() if v is not None})
    if as_of is not None:
        tx["as_of"] = as_of
    if returns is not None:
        tx["returns"] = returns
    if drop_duplicates:
        tx["drop_duplicates"] = True
    source: Any = transactions
    if not all(tx.get(k) for k in ("customer", "date", "amount")):
        df = transactions if isinstance(transactions, pd.DataFrame) else io.read_table(transactions)
        guess = guess_transaction_columns(df)
        if guess is None:
            raise ParameterError("cannot tell which columns hold the customer, date and amount",
                                 fix="pass --customer, --date and --amount")
        for role, name in guess.roles().items():
            tx.setdefault(role, name)
        source = df
    cols = TransactionColumns.from_dict(
        {k: tx[k] for k in ("customer", "date", "amount", "quantity", "order", "currency")
         if tx.get(k)})
    return source, cols, tx, rfm_opts
