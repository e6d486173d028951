"""Numbers as the explore results hold them and as their sentences print them.

:func:`finite` and :func:`json_safe` make results plain JSON-safe data (no NumPy
scalars, no NaN: an undefined number is ``None``). :func:`format_p` writes a
p-value; the report uses it too, so a p-value reads the same in ``analysis.json``'s
verdicts and in the rendered tables. :func:`format_pct`, :func:`format_num` and
:func:`sentence` write the verdicts' numbers and sentences.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["finite", "json_safe", "format_p", "format_pct", "format_num", "sentence"]


def finite(value: Any) -> float | None:
    """A finite python float, or None (None, NaN, +-inf, bools, text that is no number,
    and anything else ``float()`` refuses give None)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except Exception:  # noqa: BLE001 - text, None-like and template placeholders alike
        return None
    return out if math.isfinite(out) else None


def json_safe(obj: Any) -> Any:
    """Recursively turn an output into JSON-safe python objects (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return finite(obj)
    return obj


def format_p(p: Any, *, prefix: bool = True) -> str:
    """A p-value as text: ``"p < 0.001"``, ``"p = 0.032"``, ``"p = 0.41"``.

    Parameters
    ----------
    p : float or None
        The p-value; ``None``, NaN or anything that is not a number (see
        :func:`finite`) gives ``"p = n/a"``.
    prefix : bool, default True
        Write the ``"p = "`` / ``"p "`` in front (for a sentence). Without it the
        text is the table form: ``"< 0.001"``, ``"0.032"``, ``"> 0.99"``, ``"n/a"``.

    Returns
    -------
    str
        Two significant digits (``"p = 0.20"``), ``"p < 0.001"`` below 0.001 and
        ``"p > 0.99"`` above 0.99.
    """
    value = finite(p)
    if value is None:
        text = "n/a"
    elif value < 0.001:
        text = "< 0.001"
    elif value > 0.99:
        text = "> 0.99"
    else:
        text = f"{value:#.2g}"
    if not prefix:
        return text
    return f"p {text}" if text[0] in "<>" else f"p = {text}"


def format_pct(share: float) -> str:
    """A share in a sentence: 0.483 -> '48%', 0.052 -> '5.2%'."""
    value = 100 * share
    return f"{value:.0f}%" if abs(value) >= 10 else f"{value:.1f}%"


def format_num(value: float) -> str:
    """A number in a sentence: 4 significant digits below a million, else whole."""
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def sentence(text: str) -> str:
    """``text`` stripped, with a capital first letter and a final full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
