"""The checks of an order log: every problem at once, each a one-line message with example rows.

:func:`validate_log` runs them on a typed log (:class:`~custseg.rfm.views.DuckLog`)
and returns a :class:`TxValidation`; the public functions that take a path or a
DataFrame (:func:`custseg.rfm.validate_transactions` and the others) open the
log and call it. The validation reads the log a fixed number of times whatever
it finds: one pass counts every problem and finds the date range, one more
collects the example rows of all the problems found (only if there are any),
exact duplicates are found by grouping a hash of each row (rows whose hash
repeats are then compared column by column), and one GROUP BY makes the
per-customer checks (:func:`check_customers`; or they read the aggregation's
per-customer table).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._messages import (
    MAX_EXAMPLES,
    count_text,
    did_you_mean,
    examples_text,
    more_text,
    number_mistakes,
    rows_text,
    short_text,
)
from ..errors import Findings, ParameterError, Problem
from .columns import TransactionColumns
from .sql import per_customer_sql, valid_rows
from .views import DuckLog, date_literal

__all__ = ["TxValidation", "validate_log", "check_customers", "check_choice", "not_numeric",
           "DATE_FIX"]

#: The fix of a date that is not a date.
DATE_FIX = ("write dates as ISO dates (2024-01-31), ISO date-times (2024-01-31 14:05:00) "
            "or yyyymmdd numbers (20240131)")


@dataclass
class TxValidation(Findings):
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
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def _add(self, code: str, message: str, column: str | None = None, rows: Sequence[int] = (),
             count: int = 0, severity: str = "error") -> None:
        self.problems.append(Problem(code=code, severity=severity, message=" ".join(message.split()),
                                     column=column, rows=[int(r) for r in rows], count=int(count)))


def check_choice(name: str, value: Any, choices: Sequence[str], function: str) -> str:
    """``value`` if it is one of ``choices``, else a ParameterError naming the parameter of ``function``."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(
            f"the {name!r} parameter of {function} must be one of "
            f"{', '.join(map(repr, choices))}, got {value!r}"
            f"{did_you_mean(str(value), choices, ignore_case=True)}")
    return value


def validate_log(log: DuckLog, cols: TransactionColumns, *, as_of: _dt.date | None, returns: str,
                 drop_duplicates: bool, today: _dt.date, customers: bool = True) -> TxValidation:
    """Every problem of the log (see :func:`custseg.rfm.validate_transactions`).

    With ``customers=False`` the per-customer checks (returns exceeding purchases,
    zero-value customers; warnings only) are left out, so that
    :func:`custseg.rfm.validate_and_aggregate` can run them on its per-customer table instead
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
            hint = did_you_mean(name, others, ignore_case=True).removeprefix("; ")
            add("missing-column",
                f"column {name!r} given as the {role} column is missing from {log.where} "
                f"(columns there: {shown or 'none'}); fix: {hint + ' ' if hint else ''}"
                f"pass the name of the {role} column as it is in the log", column=name)
    log.build(cols, drop_duplicates=drop_duplicates)
    have = {role: name in log.types for role, name in roles.items()}

    valid = valid_rows(returns)
    limit = date_literal(as_of) if as_of is not None else "DATE '9999-12-31'"
    checks = {"cust_missing": None, "d_missing": None, "d_bad": "d_text",
              f"d > {date_literal(today)}": "d_text", "amt_missing": None, "amt_bad": "amt_text",
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
                f"d > {date_literal(today)}": have["date"], "amt_missing": have["amount"],
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

    def empty(code: str, column: str, what: str, its: str, count: int, condition: str) -> None:
        rows, _ = examples(condition)
        add(code, f"column {column!r} ({what}) is empty in {count_text(count, 'row')} "
            f"({rows_text(rows, count)}); fix: give every transaction its {its}, or remove "
            "those rows", column=column, rows=rows, count=count)

    if have["date"] and log.date_format is not None:
        add("date-format",
            f"column {cols.date!r} holds dates written {log.date_format}, read so"
            + ("; every date there also reads the other way round (no day above 12): check "
               "that the days come first" if log.date_ambiguous and log.date_format.startswith("DD")
               else "; every date there also reads the other way round (no day above 12): "
               "check that the months come first" if log.date_ambiguous else ""),
            column=cols.date, severity="warning")
    if have["customer"] and n_no_cust:
        empty("missing-customer", cols.customer, "the customer id", "customer's id", n_no_cust,
              "cust_missing")
    if have["date"]:
        if n_no_date:
            empty("missing-date", cols.date, "the date", "date", n_no_date, "d_missing")
        if n_bad_date:
            rows, values = examples("d_bad", "d_text")
            add("bad-date",
                f"column {cols.date!r} has {count_text(n_bad_date, 'value')} that "
                f"{'is not a date' if n_bad_date == 1 else 'are not dates'} "
                f"({examples_text(rows, values)}{more_text(rows, n_bad_date)}); fix: {DATE_FIX}",
                column=cols.date, rows=rows, count=n_bad_date)
        if n_future:
            rows, values = examples(f"d > {date_literal(today)}", "d_text")
            add("future-date",
                f"column {cols.date!r} has {count_text(n_future, 'date')} later than today, "
                f"{today.isoformat()} ({examples_text(rows, values)}{more_text(rows, n_future)}); fix: "
                f"correct {'it' if n_future == 1 else 'them'} (a wrong year, or day and month "
                f"swapped?) or remove {'that row' if n_future == 1 else 'those rows'}",
                column=cols.date, rows=rows, count=n_future)
    if have["amount"]:
        if n_no_amt:
            empty("missing-amount", cols.amount, "the amount", "amount", n_no_amt, "amt_missing")
        if n_bad_amt:
            rows, values = examples("amt_bad", "amt_text")
            add("not-numeric", not_numeric(cols.amount, "amounts", n_bad_amt, rows, values),
                column=cols.amount, rows=rows, count=n_bad_amt)
        if n_negative and returns == "error":
            rows, values = examples("amt < 0", "amt_text")
            add("negative-amount",
                f"column {cols.amount!r} has {count_text(n_negative, 'negative amount')}, i.e. "
                f"{'a return' if n_negative == 1 else 'returns'} "
                f"({examples_text(rows, values)}{more_text(rows, n_negative)}); fix: pass --returns net "
                "(returns = \"net\" in the spec) to net returns against the customer's purchases, "
                "or --returns drop to leave them out", column=cols.amount, rows=rows, count=n_negative)
        elif n_negative and returns == "drop":
            rows, _ = examples("amt < 0")
            add("dropped-returns",
                f"{count_text(n_negative, 'row')} with a negative amount (returns) in column "
                f"{cols.amount!r} {'is' if n_negative == 1 else 'are'} left out (returns=\"drop\"; "
                f"{rows_text(rows, n_negative)})", column=cols.amount, rows=rows,
                count=n_negative, severity="warning")
    if cols.quantity is not None and have["quantity"] and n_bad_qty:
        rows, values = examples("qty_bad", "qty_text")
        add("not-numeric", not_numeric(cols.quantity, "quantities", n_bad_qty, rows, values),
            column=cols.quantity, rows=rows, count=n_bad_qty)
    if cols.currency is not None and have["currency"]:
        found = log.rows("SELECT cur, count(*) AS n FROM tx WHERE cur IS NOT NULL GROUP BY cur "
                         "ORDER BY n DESC, cur")
        if len(found) > 1:
            listed = ", ".join(f"{short_text(c)}: {count_text(int(n), 'row')}" for c, n in found[:5])
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
    in_period = f"{valid} AND d <= {date_literal(end)}"
    if first is None:
        add("nothing-before-as-of",
            f"no transaction is dated on or before as_of ({end.isoformat()}); the log starts on "
            f"{start.isoformat()}; fix: pass a later as_of", column=cols.date)
        return result
    if as_of is not None and n_after:
        rows = [int(r[0]) for r in log.rows(f"SELECT row FROM kept WHERE {valid} AND "
                                            f"d > {date_literal(end)} ORDER BY row LIMIT {MAX_EXAMPLES}")]
        add("after-as-of",
            f"{count_text(n_after, 'transaction')} dated after as_of ({end.isoformat()}) "
            f"{'is' if n_after == 1 else 'are'} left out ({rows_text(rows, n_after)})",
            column=cols.date, rows=rows, count=n_after, severity="warning")
    result.first_date, result.last_date = first, last
    if customers:
        check_customers(log, cols, per_customer_sql(in_period), returns, result)
    return result


def not_numeric(column: str, what: str, count: int, rows: Sequence[int], values: Sequence[Any]) -> str:
    """The message for ``count`` values of ``column`` that are not numbers (``what``: amounts, quantities)."""
    mistakes = number_mistakes(values)
    if "thousands" in mistakes:
        fix = "export plain numbers without thousands separators (1234.5, not 1,234.5)"
    elif "decimal-comma" in mistakes:
        fix = "export numbers with a decimal point (12.5, not 12,5)"
    elif "placeholder" in mistakes:
        fix = f"give every transaction a number, or remove those rows ({what} cannot be missing)"
    else:
        fix = f"correct those cells: {what} must be plain numbers such as 12.50"
    verb = "is not a number" if count == 1 else "are not numbers"
    return (f"column {column!r} has {count_text(count, 'value')} that {verb} "
            f"({examples_text(rows, values)}{more_text(rows, count)}); fix: {fix}")


def _check_duplicates(log: DuckLog, add: Any) -> None:
    """A warning for rows that repeat an earlier row exactly."""
    n_dup = log.duplicate_groups()
    if not n_dup:
        return
    rows = [int(r[0]) for r in log.rows(f"{log.repeats_sql()} ORDER BY row LIMIT {MAX_EXAMPLES}")]
    add("duplicate-rows",
        f"{count_text(n_dup, 'row')} {'repeats' if n_dup == 1 else 'repeat'} an earlier row exactly "
        f"({rows_text(rows, n_dup)}); they are kept; fix: pass --drop-duplicates "
        "(drop_duplicates = true in the spec) if they are the same purchase recorded twice",
        rows=rows, count=n_dup, severity="warning")


def check_customers(log: DuckLog, cols: TransactionColumns, per: str, returns: str,
                    result: TxValidation) -> None:
    """Customers whose returns exceed their purchases, and those with only zero-value ones.

    ``per`` is SQL giving ``cust``, ``net``, ``n_buy`` and ``zero_only`` per customer
    (:func:`~custseg.rfm.sql.per_customer_sql`, or
    :data:`~custseg.rfm.sql.FROM_PER_CUSTOMER`).
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
        more = more_text(found, n_negative)
        add("negative-net",
            f"{count_text(n_negative, 'customer')} {'has' if n_negative == 1 else 'have'} returns "
            f"exceeding purchases (net spend below 0 in column {cols.amount!r}: {listed}{more}) "
            f"and {'is' if n_negative == 1 else 'are'} left out; fix: check those returns, or pass "
            "returns=\"drop\" to ignore returns", column=cols.amount, count=n_negative,
            severity="warning")
    if n_zero:
        found = first(zero_first)
        listed = ", ".join(_id(c) for c, _ in found) + more_text(found, n_zero)
        add("zero-value-only",
            f"{count_text(n_zero, 'customer')} {'has' if n_zero == 1 else 'have'} only zero-value "
            f"purchases in column {cols.amount!r} ({listed}); "
            f"{'it is' if n_zero == 1 else 'they are'} kept, with a monetary value of 0",
            column=cols.amount, count=n_zero, severity="warning")


def _id(value: Any) -> str:
    """A customer id as shown in messages: text quoted, numbers bare."""
    return repr(short_text(value)) if isinstance(value, str) else short_text(value)
