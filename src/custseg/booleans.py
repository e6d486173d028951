"""Yes/no columns: ``yes``/``no``, ``true``/``false``, ``y``/``n``, ``1``/``0`` read as one pair.

A ``kind = "boolean"`` column (``Newsletter``, ``is_active``, ``has_app``) is a category
with exactly two levels, ``yes`` and ``no``, whatever the file's spelling:
:func:`parse_booleans` reads it, :func:`detect_booleans` is the guess spec inference
makes. Pure.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["YES", "NO", "parse_booleans", "detect_booleans", "BOOLEAN_NAMES"]

#: spellings of yes and of no (compared stripped, in lower case)
YES = frozenset({"yes", "y", "true", "t", "1", "1.0", "ja", "oui", "si", "sí", "x"})
NO = frozenset({"no", "n", "false", "f", "0", "0.0", "nein", "non"})
#: names that make a 0/1 column a yes/no one rather than a count or a code
BOOLEAN_NAMES = re.compile(r"^(is|has|was|can|did|opt(ed)?|allow|accept)[\s_-]|[\s_-]flag$|"
                           r"subscri|newsletter|opt[\s_-]?in|opt[\s_-]?out|consent|active$|"
                           r"churned$|verified$", re.I)


def _text(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.map({True: "true", False: "false"}).astype("string")
    return s.astype("string").str.strip().str.lower()


def parse_booleans(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``"yes"``/``"no"`` codes (missing where empty) and a mask of other present values."""
    text = _text(s)
    yes = text.isin(YES).fillna(False).to_numpy(dtype=bool)
    no = text.isin(NO).fillna(False).to_numpy(dtype=bool)
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    codes = np.full(len(s), None, dtype=object)
    codes[yes], codes[no] = "yes", "no"
    return (pd.Series(pd.array(codes, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
                      index=s.index, name=s.name), present & ~yes & ~no)


def detect_booleans(name: str, s: pd.Series) -> bool:
    """Whether a column is yes/no: booleans, two yes/no words, or 0/1 under a yes/no name.

    Two words must be one yes and one no spelling (``yes``/``no``, ``Y``/``N``,
    ``TRUE``/``FALSE``); a 0/1 column also needs a name that says yes/no
    (``is_active``, ``has_app``, ``newsletter``), else it stays a count or a code.
    """
    values = s.dropna()
    if values.empty:
        return False
    if pd.api.types.is_bool_dtype(values):
        return True
    if values.head(1_000).nunique() > 2:  # (a column of ids or amounts is out at once)
        return False
    text = _text(values)
    text = text[text != ""]
    levels = set(text.unique())
    if len(levels) != 2 or not (levels & YES and levels & NO and levels <= YES | NO):
        return False
    if levels <= {"0", "1", "0.0", "1.0"}:
        return bool(BOOLEAN_NAMES.search(name))
    return True
