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


def non_customer_rows(df: pd.DataFrame) -> tuple[np.ndarray, list[Problem]]:
    """A mask of the rows that are not customers, and one warning per kind found.

    - empty: every cell empty (or only spaces);
    - a repeated header: every non-empty cell equals its column's name, and at least
      half of the cells are non-empty;
    - a summary row: a text cell reads ``Total``, ``Grand total``, ``Sum``, ``Summe``
      ... and no other text cell of the row holds anything else but numbers.
    """
    n = len(df)
    if n == 0 or df.shape[1] == 0:
        return np.zeros(n, dtype=bool), []
    text_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])
                 or pd.api.types.is_bool_dtype(df[c])]
    blank = np.ones(n, dtype=bool)
    filled = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=bool)
    for c in df.columns:
        s = df[c]
        if c in text_cols:
            stripped = s.astype("string").str.strip()
            empty = (stripped.isna() | (stripped == "")).to_numpy(dtype=bool)
        else:
            empty = s.isna().to_numpy(dtype=bool)
        blank &= empty
        filled += ~empty
    if text_cols:
        header = np.ones(n, dtype=bool)
        other_text = np.zeros(n, dtype=np.int64)
        for c in text_cols:
            stripped = df[c].astype("string").str.strip()
            present = ~(stripped.isna() | (stripped == "")).to_numpy(dtype=bool)
            header &= ~present | (stripped == str(c).strip()).fillna(False).to_numpy(dtype=bool)
            is_total = stripped.str.match(TOTAL_WORDS.pattern, case=False).fillna(False).to_numpy(
                dtype=bool)
            total |= is_total
            numberish = stripped.str.match(r"^[\s\d.,'$€£%()+-]*$").fillna(False).to_numpy(
                dtype=bool)
            other_text += present & ~is_total & ~numberish
        numeric_cols = [c for c in df.columns if c not in text_cols]
        for c in numeric_cols:  # a header row in a column read as numbers cannot be: no text
            header &= df[c].isna().to_numpy(dtype=bool)
        header &= ~blank & (filled * 2 >= df.shape[1])
        total &= (other_text == 0) & ~header
    else:
        header = np.zeros(n, dtype=bool)
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
