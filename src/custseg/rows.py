"""Rows of a customer file that are not customers: empty rows, repeated headers, totals.

Exports carry them: Excel's empty ``,,,,`` rows, the header repeated where two
exports were concatenated, a ``Total`` row at the end. Read as customers they
become a segment of one, stop the id column being unique, or turn a number column
into text. :func:`non_customer_rows` finds them; the caller leaves them out and
keeps the warnings, which name the rows (numbered as the data rows of the file:
row 1 is the first row under the header). Pure: a DataFrame in, a mask and
problems out.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ._messages import count_text, rows_text
from .errors import Problem

__all__ = ["non_customer_rows", "TOTAL_WORDS"]

#: a cell that labels a summary row (compared stripped, in lower case)
TOTAL_WORDS = re.compile(r"^(grand[\s_-]*|sub[\s_-]*)?(total|totals|sum|summe|gesamt|"
                         r"gesamtsumme|totaal|totale|somme|suma|summa)\s*:?$", re.I)
MAX_LISTED = 5


def _spellings() -> list[str]:
    """The cells that label a summary row, as written (a set to look up, not a pattern to run
    on every cell: ten million ids are checked in a fraction of a second)."""
    words = ["total", "totals", "sum", "summe", "gesamt", "gesamtsumme", "totaal", "totale",
             "somme", "suma", "summa", "grand total", "grand totals", "subtotal", "sub-total",
             "sub total"]
    out = []
    for w in words:
        for form in (w, w.title(), w.upper(), w.capitalize()):
            out += [form, form + ":"]
    return sorted(set(out))


_TOTALS = _spellings()


def non_customer_rows(df: pd.DataFrame) -> tuple[np.ndarray, list[Problem]]:
    """A mask of the rows that are not customers, and one warning per kind found.

    - empty: every cell empty;
    - a repeated header: every non-empty cell equals its column's name, and at least
      half of the cells are non-empty;
    - a summary row: a text cell reads ``Total``, ``Grand total``, ``Sum``, ``Summe``
      ... (:data:`TOTAL_WORDS`) and no other text cell of the row holds anything but
      numbers.

    Whole columns are only compared and looked up; the rows that may be a header or a
    summary (a handful) are then checked one by one.
    """
    n = len(df)
    if n == 0 or df.shape[1] == 0:
        return np.zeros(n, dtype=bool), []
    text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])
                 or pd.api.types.is_bool_dtype(df[c])]
    blank = np.ones(n, dtype=bool)
    no_number = np.ones(n, dtype=bool)  # every non-text cell empty
    header_candidates = np.zeros(n, dtype=bool)
    total_candidates = np.zeros(n, dtype=bool)
    for c in df.columns:
        s = df[c]
        empty = s.isna().to_numpy(dtype=bool, copy=True)
        if c in text_cols:
            empty |= (s == "").fillna(False).to_numpy(dtype=bool)
            header_candidates |= (s == str(c)).fillna(False).to_numpy(dtype=bool)
            total_candidates |= s.isin(_TOTALS).to_numpy(dtype=bool)
        else:
            no_number &= empty
        blank &= empty
    # cells of only spaces are empty too: looked at in the rows with no number only
    spaced = np.flatnonzero(no_number & ~blank)
    if spaced.size and text_cols:
        rest = df.iloc[spaced][text_cols].astype("string")
        only_spaces = np.ones(spaced.size, dtype=bool)
        for c in text_cols:
            only_spaces &= (rest[c].isna() | (rest[c].str.strip() == "")).to_numpy(dtype=bool)
        blank[spaced[only_spaces]] = True
    header = np.zeros(n, dtype=bool)
    total = np.zeros(n, dtype=bool)
    for i in np.flatnonzero((header_candidates | total_candidates) & ~blank):
        row = df.iloc[i]
        cells = {c: row[c] for c in df.columns if not _empty(row[c])}
        if all(c in text_cols and str(v).strip() == str(c).strip() for c, v in cells.items()) \
                and len(cells) * 2 >= df.shape[1]:
            header[i] = True
            continue
        labels = [c for c, v in cells.items() if c in text_cols
                  and TOTAL_WORDS.match(str(v).strip())]
        others = [v for c, v in cells.items() if c in text_cols and c not in labels]
        if labels and all(_NUMBERISH.match(str(v)) for v in others):
            total[i] = True
    problems = []
    for mask, code, what, fix in (
        (blank, "empty-rows", ("is empty", "are empty"), "remove them, or ignore this warning"),
        (header, "header-rows", ("repeats the header", "repeat the header"),
         "remove them from the file (two exports joined together?)"),
        (total, "total-rows", ("is a summary row (Total), not a customer",
                               "are summary rows (Total), not customers"),
         "remove them from the export, or ignore this warning"),
    ):
        if mask.any():
            idx = np.flatnonzero(mask)
            rows = [int(i) + 1 for i in idx[:MAX_LISTED]]
            count = int(idx.size)
            problems.append(Problem(
                code=code, severity="warning", rows=rows, count=count,
                message=f"{count_text(count, 'row')} {what[count != 1]}, left out "
                        f"({rows_text(rows, count)}); fix: {fix}"))
    return blank | header | total, problems


_NUMBERISH = re.compile(r"^[\s\d.,'$€£%()+-]*$")


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA \
        or (isinstance(value, str) and value == "")
