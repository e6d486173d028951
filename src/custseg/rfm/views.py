"""The order log as DuckDB views on one connection: typed columns, exact duplicates.

:class:`DuckLog` wraps a DuckDB connection on which the source (a DataFrame, a
Parquet file, or the Parquet copy of a CSV: :mod:`custseg.rfm.read` opens it)
is the view ``raw``, with the row number ``__custseg_row__`` (:data:`ROW`, from
1). :meth:`DuckLog.build` types the columns the roles name into the views
``tx`` and ``kept``, which the checks (:mod:`custseg.rfm.checks`) and the
aggregation (:mod:`custseg.rfm.sql`) read. Nothing here opens a file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
from typing import Any

import pandas as pd

from ..dates import DATE_FORMATS, detect_date_format
from ..errors import InputError
from .columns import ISO_DATE, NUMBER, WHOLE, YYYYMMDD, TransactionColumns

__all__ = ["DuckLog", "ROW", "ident", "literal", "date_literal", "query_error"]

#: The column of ``raw`` that numbers the rows of the log from 1.
ROW = "__custseg_row__"
_PARQUET_INDEX = re.compile(r"__index_level_\d+__")
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def date_literal(day: _dt.date) -> str:
    """An SQL date: ``DATE '2024-06-30'``."""
    return f"DATE '{day.isoformat()}'"


def query_error(where: str, exc: Exception) -> InputError:
    """The one-line error for a DuckDB error met reading the log ``where``."""
    text = str(exc)
    line = _CSV_LINE.search(text)
    lines = [part.strip() for part in text.strip().splitlines() if part.strip()]
    first = lines[0] if lines else type(exc).__name__
    if line:
        first += f" (line {line.group(1)})"
    return InputError(f"cannot read {where}: {first}",
                      fix="check that the file is complete and well-formed (one delimiter, quoted "
                          "fields), or convert it to Parquet")


_INT_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
              "UINTEGER", "UBIGINT", "UHUGEINT"}


def _kind(sql_type: str) -> str:
    """``int``, ``float``, ``time``, ``text`` or ``other``: what a DuckDB type holds."""
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


class DuckLog:
    """A transaction log as DuckDB views on one connection.

    ``raw`` holds the source's columns plus the row number ``__custseg_row__``
    (from 1); ``tx`` the typed columns (see :meth:`build`).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection on which the view (or table) ``raw`` exists.
    where : str
        ``"the log"`` or the file, for messages.
    text_typed : bool
        Every column is text (a CSV scanned by DuckDB): a customer id column of
        whole numbers is then read as integers, as pandas reads it.
    """

    def __init__(self, con: Any, where: str, *, text_typed: bool) -> None:
        self.con = con
        self.where = where
        self.text_typed = text_typed
        self._n_repeats: int | None = None
        #: the format of a text date column that is neither ISO nor yyyymmdd (DD/MM/YYYY
        #: ...), and whether it also read the other way round (see :meth:`_date_format`)
        self.date_format: str | None = None
        self.date_ambiguous = False
        #: a DataFrame DuckDB scans in place (registered): kept alive with the connection
        self.frame_ref: pd.DataFrame | None = None
        described = self.rows("DESCRIBE SELECT * FROM raw")
        self.types = {str(r[0]): str(r[1]) for r in described if r[0] != ROW}
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
            raise query_error(self.where, exc) from exc

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
            raise query_error(self.where, exc) from exc
        for i, column in enumerate(table.schema):
            if pa.types.is_date(column.type):
                table = table.set_column(i, column.name, table.column(i).cast(pa.timestamp("us")))
        return table.to_pandas(split_blocks=True, self_destruct=True)

    def close(self) -> None:
        """Close the connection (errors closing it are ignored)."""
        with contextlib.suppress(Exception):
            self.con.close()

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
        parts = [f"{ident(ROW)} AS row"]
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
                text = f"trim(CAST({ident(name)} AS VARCHAR))"
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
            listed = ", ".join(ident(c) for c in self.columns)
            self.rows("CREATE OR REPLACE TEMP TABLE dup_hashes AS SELECT h FROM "
                      f"(SELECT hash({listed}) AS h FROM raw) GROUP BY h HAVING count(*) > 1")
            if self.one("SELECT count(*) FROM dup_hashes")[0]:
                self.rows(f"CREATE OR REPLACE TEMP TABLE dup_groups AS SELECT {listed}, "
                          f"count(*) AS __n, min({ident(ROW)}) AS __first FROM raw "
                          f"WHERE hash({listed}) IN (SELECT h FROM dup_hashes) GROUP BY ALL "
                          "HAVING count(*) > 1")
                self._n_repeats = int(self.one("SELECT coalesce(sum(__n - 1), 0) FROM dup_groups")[0])
            else:
                self._n_repeats = 0
        return self._n_repeats

    def repeats_sql(self) -> str:
        """SQL for the row numbers (``row``) of the rows repeating an earlier row."""
        same = " AND ".join(f"r.{ident(c)} IS NOT DISTINCT FROM g.{ident(c)}" for c in self.columns)
        return (f"SELECT r.{ident(ROW)} AS row FROM raw r JOIN dup_groups g ON {same} "
                f"WHERE r.{ident(ROW)} > g.__first")

    def _customer(self, name: str) -> tuple[str, str]:
        """SQL for the customer id and for "the id is missing" (NULL, blank text or NaN)."""
        q, kind = ident(name), _kind(self.types[name])
        if kind == "text":
            text = q if self.types[name].upper() == "VARCHAR" else f"CAST({q} AS VARCHAR)"
            missing = f"({q} IS NULL OR trim({text}) = '')"
            if self.text_typed:  # as pandas types a column of whole numbers
                whole = self.one(f"SELECT bool_and(regexp_full_match(trim({q}), {literal(WHOLE)})) "
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
        q, kind = ident(name), _kind(self.types[name])
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
            parsed = (f"CASE WHEN regexp_full_match({t}, {literal(ISO_DATE)}) "
                      f"THEN CAST(TRY_CAST({t} AS TIMESTAMP) AS DATE) "
                      f"WHEN regexp_full_match({t}, {literal(YYYYMMDD)}) "
                      f"THEN CAST(TRY_STRPTIME({t}, '%Y%m%d') AS DATE) END")
            found = self._date_format(q, t)
            if found is not None:  # 31/01/2024, 01/31/2024, 31.01.2024: read by their format
                self.date_format, self.date_ambiguous = found
                day = f"split_part(replace({t}, 'T', ' '), ' ', 1)"
                parsed = (f"CAST(TRY_STRPTIME({day}, {literal(DATE_FORMATS[found[0]])}) "
                          "AS DATE)")
        else:
            parsed = "NULL::DATE"
        return parsed, missing, text

    def _date_format(self, q: str, t: str) -> tuple[str, bool] | None:
        """The format of a text date column that is neither ISO nor yyyymmdd, or None.

        Judged on up to 5,000 distinct values (see :func:`custseg.dates.detect_date_format`).
        """
        sample = self.frame(f"SELECT DISTINCT {t} AS v FROM raw WHERE {q} IS NOT NULL AND "
                            f"{t} <> '' LIMIT 5000")["v"]
        iso = sample.str.fullmatch(ISO_DATE) | sample.str.fullmatch(YYYYMMDD)
        if not len(sample) or iso.mean() >= 0.95:
            return None
        found = detect_date_format(sample)
        return None if found is None or found[0] in ("YYYY-MM-DD", "YYYYMMDD") else found

    def _number(self, name: str) -> tuple[str, str, str, str]:
        q, kind = ident(name), _kind(self.types[name])
        text = f"CAST({q} AS VARCHAR)"
        if kind in ("int", "float"):
            value = f"CAST({q} AS DOUBLE)"
            return value, f"({q} IS NULL OR isnan({value}))", f"coalesce(isinf({value}), FALSE)", text
        if kind == "text":
            t = f"trim({text})"
            value = f"CASE WHEN regexp_full_match({t}, {literal(NUMBER)}) THEN TRY_CAST({t} AS DOUBLE) END"
            missing = f"({q} IS NULL OR {t} = '')"
            bad = f"(NOT {missing} AND coalesce(isinf({value}), TRUE))"
            return value, missing, bad, text
        return "NULL::DOUBLE", f"({q} IS NULL)", f"({q} IS NOT NULL)", text
