"""From a transaction log to per-customer RFM features, scores and named segments.

Many teams hold an order log (one row per purchase or order line), not a
customer table. This package turns such a log into one row per customer:

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
integers. A row with more or fewer fields than the header stops the reading, with
one line naming its line and both field counts, whichever way the file is read.
Row numbers in messages count data rows from 1 whatever the source.

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

Modules, one job each
---------------------
The core, which reads no file: ``columns`` (the roles of the log's columns, the
guess of them, the spec text of a transactions spec), ``views`` (the log as
typed DuckDB views on a connection), ``checks`` (the validation and its
messages, :class:`TxValidation`), ``sql`` (the aggregation in both conventions),
``scores`` (scores, segments, the segment summary). The edges: ``read`` (opening
a DataFrame or a file in DuckDB: connection, scratch directory, memory limit)
and ``log`` (the public functions that take a DataFrame or a path).
"""

from .checks import TxValidation
from .columns import TransactionColumns, guess_transaction_columns, transactions_spec_text
from .log import aggregate, check_transactions, customer_table, validate_and_aggregate, validate_transactions
from .read import DUCKDB_MEMORY
from .scores import DEFAULT_RFM_RULES, FALLBACK_SEGMENT, rfm_scores, rfm_segment_summary, rfm_segments
from .sql import CONVENTIONS, DEFAULT_COLUMNS, LIFETIMES_COLUMNS, RETURNS

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
    "customer_table",
    "transactions_spec_text",
    "DUCKDB_MEMORY",
]
