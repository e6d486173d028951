"""The parameter checks of the public explore functions, with one message template.

The public functions check their parameters here, at the edge; the internals
of the other modules assume valid input. A message names the parameter, the
function, what is allowed and the value received::

    The 'alpha' parameter of compare_levels must be a float in (0, 1). Got 1.5 instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["bad_parameter", "check_frame", "check_columns", "check_names", "check_alpha",
           "check_int", "check_labels"]


def bad_parameter(func: str, name: str, allowed: str, got: Any) -> ParameterError:
    """The error for parameter ``name`` of ``func``: must be ``allowed``, got ``got``."""
    return ParameterError(
        f"The {name!r} parameter of {func} must be {allowed}. Got {got!r} instead."
    )


def check_frame(func: str, df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise bad_parameter(func, "df", "a pandas DataFrame", type(df).__name__)


def check_columns(func: str, df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Every column is in ``df`` (else an error suggesting the closest name)."""
    present = [str(c) for c in df.columns]
    for column in columns:
        if column not in df.columns:
            close = difflib.get_close_matches(str(column), present, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"use one of {present}"
            raise ParameterError(f"column {column!r} is not in the data ({func})", fix=fix)


def check_names(func: str, name: str, value: Any) -> list[str]:
    """``value`` as a list of column names (a sequence of str, not a str)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise bad_parameter(func, name, "a list of column names", value)
    if not all(isinstance(v, str) for v in value):
        raise bad_parameter(func, name, "a list of column names (str)", value)
    return list(value)


def check_alpha(func: str, alpha: Any) -> float:
    ok = isinstance(alpha, int | float) and not isinstance(alpha, bool)
    if not ok or not 0 < float(alpha) < 1:
        raise bad_parameter(func, "alpha", "a float in (0, 1)", alpha)
    return float(alpha)


def check_int(func: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise bad_parameter(func, name, f"an int >= {minimum}", value)
    return int(value)


def check_labels(func: str, name: str, labels: Any) -> None:
    if labels is not None and not isinstance(labels, Mapping):
        raise bad_parameter(func, name, "a dict of code -> label or None", labels)
