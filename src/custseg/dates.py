"""Date columns: read by a stated format, segmented as the days from the date to the observation date.

A ``kind = "date"`` column (``Signup Date``, ``Last Purchase Date``) is not dropped as
text: :func:`custseg.derive.derive_columns` replaces it by the number of days from each date to the
observation date ``as_of`` (the spec's, else the newest date in the data), named
``<column> (days)``: tenure for a sign-up date, days since for a last-purchase date.
Everything after that (validation, features, profiles, the model) sees an ordinary
numeric column. :func:`detect_date_format` is the guess spec inference makes, said
in the spec; :data:`DATE_FORMATS` the formats a spec may name. Pure.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .errors import SpecError

__all__ = ["DATE_FORMATS", "DAYS_SUFFIX", "days_name", "parse_dates", "detect_date_format",
           "parse_as_of", "latest", "newest_date"]

#: the formats a spec's ``format`` may name for a date column, and their strptime form;
#: a time of day after the date (``2024-03-01 14:05:00`` or ``T14:05``) is allowed
DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "YYYY/MM/DD": "%Y/%m/%d",
    "YYYYMMDD": "%Y%m%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "DD-MM-YYYY": "%d-%m-%Y",
    "MM-DD-YYYY": "%m-%d-%Y",
}
_SHAPES = {  # what a cell of each format looks like (the time of day aside)
    "YYYY-MM-DD": r"\d{4}-\d{1,2}-\d{1,2}",
    "YYYY/MM/DD": r"\d{4}/\d{1,2}/\d{1,2}",
    "YYYYMMDD": r"(?:19|20)\d{2}[01]\d[0-3]\d",
    "DD/MM/YYYY": r"\d{1,2}/\d{1,2}/\d{4}",
    "MM/DD/YYYY": r"\d{1,2}/\d{1,2}/\d{4}",
    "DD.MM.YYYY": r"\d{1,2}\.\d{1,2}\.\d{4}",
    "DD-MM-YYYY": r"\d{1,2}-\d{1,2}-\d{4}",
    "MM-DD-YYYY": r"\d{1,2}-\d{1,2}-\d{4}",
}
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
DAYS_SUFFIX = " (days)"


def days_name(column: str) -> str:
    """The feature a date column becomes: ``Signup Date (days)``."""
    return column + DAYS_SUFFIX


def parse_as_of(text: str, where: str = "as_of") -> pd.Timestamp:
    """An observation date written ``YYYY-MM-DD``, or a SpecError naming ``where``."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(text).strip()):
            raise ValueError
        return pd.Timestamp(str(text).strip())
    except ValueError:
        raise SpecError(f"{where} = {text!r} is not a date written YYYY-MM-DD",
                        fix="write it like 2026-11-30") from None


def parse_dates(s: pd.Series, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates (``datetime64[ns]``, NaT where missing or bad) and a mask of present-but-bad cells."""
    text = s.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    shape = text.str.fullmatch(_SHAPES[fmt] + _TIME).fillna(False).to_numpy(dtype=bool)
    day = text.str.slice(0, 10 if fmt != "YYYYMMDD" else 8)
    day = day.str.extract(r"^(" + _SHAPES[fmt] + ")", expand=False)
    parsed = pd.to_datetime(day.where(pd.Series(shape, index=s.index)), format=DATE_FORMATS[fmt],
                            errors="coerce")
    values = parsed.to_numpy(dtype="datetime64[ns]")
    bad = present & np.isnat(values)
    return values, bad


def latest(parsed) -> str | None:
    """The newest day (YYYY-MM-DD) among arrays of parsed dates (NaT ignored), or None."""
    found = [v[~np.isnat(v)].max() for v in parsed if (~np.isnat(v)).any()]
    return str(pd.Timestamp(max(found)).date()) if found else None


def newest_date(frame: pd.DataFrame, formats: dict[str, str]) -> str | None:
    """The newest day (YYYY-MM-DD) in the columns of ``frame`` named in ``formats`` (column
    to date format), read by :func:`parse_dates`; None when there is none."""
    return latest(parse_dates(frame[name], fmt)[0] for name, fmt in formats.items()
                  if name in frame.columns)


def detect_date_format(s: pd.Series, *, sample: int = 5_000) -> tuple[str, bool] | None:
    """The date format that reads every non-empty cell, and whether another reads them too.

    None when no format reads them all (at least 95%: the rest are errors validation
    names). Day-first and month-first both reading every date (all days 12 or less) is
    ambiguous; month-first is then chosen only when no day-first format reads them.
    """
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return None
    if len(s) > 2_000 and detect_date_format(s.head(1_000), sample=sample) is None:
        return None  # the first thousand are not dates: the rest need not be read
    text = s.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    distinct = pd.Series(text.unique()[:sample])
    reads = {}
    for name in DATE_FORMATS:
        values, bad = parse_dates(distinct, name)
        share = float((~bad).mean())
        if share >= 0.95:
            reads[name] = values
    if not reads:
        return None
    order = list(DATE_FORMATS)
    best = min(reads, key=order.index)
    ambiguous = any(not np.array_equal(v, reads[best]) for v in reads.values())
    return best, ambiguous
