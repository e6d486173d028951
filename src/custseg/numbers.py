"""Numbers as people write them: ``$1,234.50``, ``1.234,50 €``, ``12.5%``, ``N/A``, ``#DIV/0!``.

A spec states how a numeric column is written (:class:`NumberFormat`: ``format =
"$1,234.56"`` and ``na_values = ["N/A"]`` in ``spec.toml``); :func:`parse_numbers`
reads a column by that format and nothing else, so validation never guesses.
:func:`detect_format` is the guess, made once by spec inference and written into the
spec with a comment: it tries the usual ways of writing numbers on the column's
distinct values and keeps the one that reads the most of them. Pure: Series in,
arrays out.

The format is given by example: the number one thousand two hundred and thirty-four
and fifty-six hundredths written the way the file writes it, with its currency or
percent sign: ``"1234.56"``, ``"1,234.56"``, ``"1.234,56"``, ``"1 234,56"``,
``"1'234.56"``, ``"$1,234.56"``, ``"1.234,56 €"``, ``"1234.56%"`` (the number before
the sign is kept: ``12.5%`` reads 12.5). A cell may leave out the sign, and
accounting negatives ``(1,234.56)`` read as negative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["NumberFormat", "parse_format", "parse_numbers", "detect_format", "NA_SPELLINGS",
           "SPREADSHEET_ERRORS", "PLAIN"]

#: how exports spell a missing number (compared in lower case); not the infinities
NA_SPELLINGS = ("n/a", "na", "#n/a", "null", "none", "nan", "nil", "missing", "(blank)",
                "(null)", "-", "--", "?")
#: spreadsheet error values: read as missing only when the spec names them, with a warning
SPREADSHEET_ERRORS = ("#div/0!", "#value!", "#ref!", "#name?", "#num!", "#null!", "#spill!",
                      "#calc!", "#getting_data", "#field!")  # (#N/A means missing: a spelling)

_EXAMPLE = re.compile(r"^(?P<pre>[^\d]*?)\s*1(?P<t>[,.' \u00a0\u202f]?)234(?P<d>[.,])56"
                      r"\s*(?P<post>[^\d]*)$")
_SPACES = " \u00a0\u202f"


@dataclass(frozen=True)
class NumberFormat:
    """How a numeric column's cells are written (see the module docstring)."""

    decimal: str = "."
    thousands: str = ""
    prefix: str = ""
    suffix: str = ""
    na_values: tuple[str, ...] = field(default=())

    @property
    def example(self) -> str:
        """The ``format`` text of the spec (``"$1,234.56"``)."""
        number = f"1{self.thousands}234{self.decimal}56"
        return f"{self.prefix}{number}{(' ' if self.suffix and self.suffix != '%' else '')}{self.suffix}"

    @property
    def is_plain(self) -> bool:
        """Written as pandas reads numbers (``1234.56``): no format needed."""
        return (self.decimal, self.thousands, self.prefix, self.suffix) == (".", "", "", "")

    def describe(self) -> str:
        """Words for the spec comment and the manifest: ``currency '$', thousands ','``."""
        parts = []
        if self.prefix or self.suffix:
            sign = (self.prefix + self.suffix).strip()
            parts.append("percent" if sign == "%" else f"currency {sign!r}")
        if self.thousands:
            parts.append(f"thousands separator {_name(self.thousands)}")
        if self.decimal != ".":
            parts.append("decimal comma")
        return ", ".join(parts) or "plain numbers"


PLAIN = NumberFormat()


def _name(sep: str) -> str:
    return {" ": "space", "\u00a0": "no-break space", "\u202f": "narrow space"}.get(sep, repr(sep))


def parse_format(example: str, na_values: tuple[str, ...] = ()) -> NumberFormat | None:
    """The :class:`NumberFormat` of a ``format`` example, or None when it is not one."""
    m = _EXAMPLE.match(example.strip())
    if m is None or m["t"] == m["d"]:
        return None
    pre, post = m["pre"].strip(), m["post"].strip()
    if any(c in pre + post for c in "+-()") or (pre and post):
        return None
    return NumberFormat(decimal=m["d"], thousands=m["t"], prefix=pre, suffix=post,
                        na_values=tuple(na_values))


def _pattern(fmt: NumberFormat) -> str:
    """A regular expression (RE2 and Python) matching a well-formed cell without its sign."""
    d = re.escape(fmt.decimal)
    if fmt.thousands:
        t = "[" + (re.escape(_SPACES) if fmt.thousands in _SPACES else re.escape(fmt.thousands)) + "]"
        whole = rf"(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)"
    else:
        whole = "[0-9]+"
    return rf"^(?:{whole}(?:{d}[0-9]*)?|{d}[0-9]+)$"


def parse_numbers(s: pd.Series, fmt: NumberFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a column written in ``fmt``.

    Returns float64 values (NaN where missing or unreadable), a mask of cells that
    are present but not numbers in this format, and a mask of cells that hold one of
    ``fmt.na_values`` (read as missing).
    """
    text = s.astype("string[pyarrow]").str.strip(_SPACES + "\t")
    present = text.notna() & (text != "")
    lowered = text.str.lower()
    na = lowered.isin([v.lower() for v in fmt.na_values]).fillna(False) & present
    negative = text.str.match(r"^\(.*\)$").fillna(False)  # accounting: (1,234.56)
    body = text.where(~negative, text.str.slice(1, -1))
    sign = body.str.extract(r"^([+-]?)", expand=False).fillna("")
    body = body.str.replace(r"^[+-]", "", regex=True)
    if fmt.prefix:
        body = body.str.replace(rf"^{re.escape(fmt.prefix)}[{_SPACES}]*", "", regex=True)
        sign = sign.where(~body.str.match(r"^-").fillna(False), "-")  # $-5
        body = body.str.replace(r"^[+-]", "", regex=True)
    if fmt.suffix:
        body = body.str.replace(rf"[{_SPACES}]*{re.escape(fmt.suffix)}$", "", regex=True)
    well = body.str.match(_pattern(fmt)).fillna(False)
    digits = body
    if fmt.thousands:
        chars = _SPACES if fmt.thousands in _SPACES else fmt.thousands
        digits = digits.str.replace(f"[{re.escape(chars)}]", "", regex=True)
    if fmt.decimal != ".":
        digits = digits.str.replace(fmt.decimal, ".", regex=False)
    values = pd.to_numeric(digits.where(well), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    flip = ((sign == "-").fillna(False) ^ negative).to_numpy(dtype=bool)
    values = np.where(flip, -values, values)
    well_np = well.to_numpy(dtype=bool)
    bad = present.to_numpy(dtype=bool) & ~na.to_numpy(dtype=bool) & ~(well_np & np.isfinite(values))
    values[~well_np | na.to_numpy(dtype=bool)] = np.nan
    return values, bad, na.to_numpy(dtype=bool)


#: the ways of writing numbers tried by :func:`detect_format`, in order of preference
_CANDIDATES = ((".", ""), (".", ","), (",", ""), (",", "."), (",", " "), (".", " "), (".", "'"),
               (",", "'"))
_AFFIX = re.compile(r"^[+-]?\(?[+-]?\s*(?P<pre>[^\d\s.,+\-()]*)\s*[+-]?[\d.,' \u00a0\u202f]*?"
                    r"\s*(?P<post>[^\d\s.,()]*)\s*\)?$")


@dataclass(frozen=True)
class Detected:
    """What :func:`detect_format` found in a column."""

    fmt: NumberFormat
    share: float          # of the non-empty cells: read as numbers or as a missing spelling
    numbers: int          # cells read as numbers
    na_cells: int         # cells read as missing through fmt.na_values
    errors: tuple[str, ...]  # spreadsheet error values among fmt.na_values
    ambiguous: bool       # another way of writing reads as many cells to other numbers


def detect_format(s: pd.Series, *, sample: int = 20_000) -> Detected | None:
    """The way of writing numbers that reads the most of a text column, or None.

    Tried on (up to ``sample``) distinct values: the decimal point and thousands
    separators of :data:`_CANDIDATES`, the most common currency or percent sign
    before or after the digits, and the missing-value spellings and spreadsheet
    errors present. None when no candidate reads a single number.
    """
    text = pd.Series(s.dropna().astype(str).str.strip(_SPACES + "\t"))
    text = text[text != ""]
    if text.empty:
        return None
    counts = text.value_counts(sort=False)
    distinct = pd.Series(counts.index[:sample].astype(str))
    weights = counts.to_numpy()[:sample]
    lowered = distinct.str.lower()
    words = tuple(sorted({v for v, lw in zip(distinct, lowered, strict=True)
                          if lw in NA_SPELLINGS or lw in SPREADSHEET_ERRORS}))
    is_word = lowered.isin(NA_SPELLINGS + SPREADSHEET_ERRORS)
    affixes = distinct[~is_word].str.extract(_AFFIX)
    pre = _common(affixes["pre"])
    post = _common(affixes["post"]) if not pre else ""
    results = []
    for decimal, thousands in _CANDIDATES:
        fmt = NumberFormat(decimal, thousands, pre, post, words)
        values, bad, na = parse_numbers(distinct, fmt)
        read = ~bad & ~na & np.isfinite(values)
        results.append((int(weights[read].sum()), fmt, values, read, int(weights[na].sum())))
    best = max(results, key=lambda r: r[0])  # the first of the best: order is preference
    numbers, fmt, values, read, na_cells = best
    if numbers == 0:
        return None
    rivals = [r for r in results if r[0] == numbers and r[1] is not fmt]
    ambiguous = any(not np.allclose(r[2][read], values[read], equal_nan=True) for r in rivals)
    errors = tuple(w for w in words if w.lower() in SPREADSHEET_ERRORS)
    total = int(weights.sum())
    return Detected(fmt, (numbers + na_cells) / total, numbers, na_cells, errors, ambiguous)


#: the signs :func:`detect_format` takes for a currency (or percent) written beside the
#: digits; anything else there (``K12``) makes the column text, not numbers
SIGNS = frozenset({"%", "$", "€", "£", "¥", "₹", "₽", "₩", "₺", "₪", "฿", "₫", "₴", "₦", "US$", "R$",
                   "A$", "C$", "NZ$", "HK$", "S$", "kr", "zł", "Kč", "Ft", "lei", "USD", "EUR", "GBP",
                   "JPY", "CNY", "INR", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK",
                   "HUF", "BRL", "MXN", "ZAR", "RUB", "TRY", "KRW", "SGD", "HKD", "NZD"})


def _common(affix: pd.Series) -> str:
    """The currency or percent sign written on at least half of the cells, else ''."""
    found = affix.fillna("")
    found = found[found != ""]
    if found.empty:
        return ""
    top = found.value_counts()
    sign = str(top.index[0])
    return sign if top.iloc[0] * 2 >= len(affix) and sign in SIGNS else ""
