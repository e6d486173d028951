"""The pieces every one-line message is made of: counts, values, example rows, suggestions.

custseg's messages say what is wrong, where and the fix, in one line
(:mod:`custseg.errors`). The validation of a customer table
(:mod:`custseg.validate`), of a spec (:mod:`custseg.spec`) and of an order log
(:mod:`custseg.rfm`) word their counts, example values and rows with these
functions, so that the same thing reads the same way everywhere:

>>> count_text(30658, "value")
'30,658 values'
>>> examples_text([3, 7], ["1,234.50", "n/a"])
"row 3: '1,234.50', row 7: 'n/a'"
>>> rows_text([3, 7, 12], 5)
'rows 3, 7, 12 and 2 more'
>>> did_you_mean("amuont", ["customer_id", "amount"])
"; did you mean 'amount'?"
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["MAX_EXAMPLES", "count_text", "short_text", "examples_text", "more_text", "rows_text",
           "did_you_mean", "number_mistakes", "THOUSANDS", "DECIMAL_COMMA", "NAN_WORDS"]

#: Example rows (or values) a message shows at most.
MAX_EXAMPLES = 3

#: A number written with thousands separators (``1,234.50``, ``1.234,5``, ``1 234``).
THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,.' ]\d{3})+([.,]\d+)?$")
#: A number written with a decimal comma (``12,5``).
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
#: Words that exports write for a missing or infinite number (compared in lower case).
NAN_WORDS = frozenset({"nan", "na", "n/a", "null", "none", "-", "--", "?", "inf", "+inf", "-inf",
                       "infinity", "-infinity", "#n/a", "#div/0!", "#value!"})


def count_text(count: int, one: str, many: str | None = None) -> str:
    """A count and its noun: ``1 value``, ``3 values``, ``30,658 values``.

    Parameters
    ----------
    count : int
        The number, written with thousands separators.
    one : str
        The noun for one.
    many : str, optional
        The noun for any other count; default ``one + "s"``.
    """
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def short_text(value: Any) -> str:
    """``value`` as text, cut to 40 characters (the last three ``...``) for a message."""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def examples_text(rows: Sequence[int], values: Sequence[Any]) -> str:
    """Example cells with their rows: ``row 3: '1,234.50', row 7: 'n/a'`` (values shortened, quoted)."""
    return ", ".join(f"row {r}: {short_text(v)!r}" for r, v in zip(rows, values, strict=False))


def more_text(shown: Sequence[Any], count: int) -> str:
    """`` and 12 more`` when ``count`` exceeds the examples ``shown``, else the empty string."""
    return f" and {count - len(shown):,} more" if count > len(shown) else ""


def rows_text(rows: Sequence[int], count: int) -> str:
    """The first ``rows`` of ``count``: ``rows 3, 5 and 2 more``, or ``row 3`` for one."""
    return ("row " if count == 1 else "rows ") + ", ".join(map(str, rows)) + more_text(rows, count)


def did_you_mean(word: Any, options: Iterable[Any], *, ignore_case: bool = False) -> str:
    """``; did you mean 'x'?`` naming the option closest to ``word``, or the empty string.

    Parameters
    ----------
    word : str
        What was given.
    options : iterable
        What could have been meant (compared as text).
    ignore_case : bool, default False
        Compare in lower case (``'Amount'`` then matches ``'amount'`` exactly); the
        option is named as it is spelt. Of options that differ only in case, the
        last one is named.

    Notes
    -----
    An option is close when :func:`difflib.get_close_matches` finds it with
    a cutoff of 0.6.
    """
    if ignore_case:
        lowered = {str(o).lower(): str(o) for o in options}
        close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
        return f"; did you mean {lowered[close[0]]!r}?" if close else ""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def number_mistakes(values: Iterable[Any]) -> set[str]:
    """Which common mistakes example cells that are not numbers show.

    Returns a subset of ``{"placeholder", "thousands", "decimal-comma"}``: a word
    for a missing or infinite number (:data:`NAN_WORDS`), thousands separators
    (:data:`THOUSANDS`), a decimal comma (:data:`DECIMAL_COMMA`). Each caller
    words the fix, in its own order of precedence.

    >>> sorted(number_mistakes(["1,234.50", " N/A "]))
    ['placeholder', 'thousands']
    """
    found = set()
    for text in (str(v).strip() for v in values):
        if text.lower() in NAN_WORDS:
            found.add("placeholder")
        if THOUSANDS.match(text):
            found.add("thousands")
        if DECIMAL_COMMA.match(text):
            found.add("decimal-comma")
    return found
