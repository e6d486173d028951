"""Shared pieces of the report renderers: number formats, colours and chart data.

Everything here is pure: it reads the plain ``analysis`` dict (see
:mod:`custseg.report`) and returns plain Python values. The three renderers
(static figures, HTML, Markdown) use the same helpers, so a number reads the
same everywhere and every chart is built from the same matrices.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "PALETTE", "ACTION_LABELS", "MEASURE_SYMBOLS", "finite", "fmt_num", "fmt_int", "fmt_pct",
    "fmt_p", "fmt_lift", "fmt_signed", "fmt_ci", "fmt_evidence", "segment_color",
    "segment_names", "value_columns", "association_matrix", "cut_height", "log1p_ticks",
    "crosstab_share_kind", "CHART_TITLES",
]

# Tableau 10: distinct, colour-blind tolerant, readable on white.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]

ACTION_LABELS = {
    "invest": "Invest", "retain": "Retain", "monetise": "Monetise",
    "reconsider": "Reconsider", "nurture": "Nurture",
}

MEASURE_SYMBOLS = {
    "spearman_rho": ("ρ", "Spearman's ρ"),
    "eta": ("η", "correlation ratio η"),
    "cramers_v_corrected": ("V", "Cramér's V (bias-corrected)"),
    "cramers_v": ("V", "Cramér's V"),
    "pearson_r": ("r", "Pearson's r"),
}

CHART_TITLES = {
    "associations": "How strongly the columns are related",
    "scatter": "Engagement vs value by segment",
    "dendrogram": "Ward hierarchy and the cut for k",
    "selection": "Choice of k: elbow and quality criteria",
    "segments": "Share of customers vs share of value",
    "profile_heatmap": "What sets each segment apart",
    "pca": "Segments in a 2-D projection",
    "crosstab": "Cross-tabulation",
}


# ----------------------------------------------------------------------- numbers


def finite(value: Any) -> float | None:
    """A finite float, or None (None, NaN, inf, text and bools give None)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number for people: ``1,234``, ``119.0``, ``4.27``, ``0.0312``; ``–`` if undefined."""
    x = finite(value)
    if x is None:
        return "–"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.{digits}g}"


def fmt_int(value: Any) -> str:
    """``12,345``; ``–`` if undefined."""
    x = finite(value)
    return "–" if x is None else f"{round(x):,}"


def fmt_pct(value: Any, signed: bool = False) -> str:
    """A share as a percentage: ``48.3%``, ``5.2%``, ``<0.1%``; ``–`` if undefined."""
    x = finite(value)
    if x is None:
        return "–"
    p = 100 * x
    sign = "+" if signed and p > 0 else ""
    if p != 0 and abs(p) < 0.1:
        return f"{'-' if p < 0 else sign}<0.1%"
    return f"{sign}{p:.1f}%"


def fmt_p(value: Any) -> str:
    """A p-value as in the analysis text: ``< 0.001``, ``0.032``, ``0.41``, ``> 0.99``."""
    x = finite(value)
    if x is None:
        return "n/a"
    if x < 0.001:
        return "< 0.001"
    if x > 0.99:
        return "> 0.99"
    return f"{x:#.2g}"


def fmt_lift(value: Any) -> str:
    """A ratio: ``1.82×``."""
    x = finite(value)
    return "–" if x is None else f"{x:.2f}×"


def fmt_signed(value: Any, digits: int = 2) -> str:
    """``+1.24`` / ``-0.50``."""
    x = finite(value)
    return "–" if x is None else f"{x:+.{digits}f}"


def fmt_ci(estimate: Any, low: Any, high: Any) -> str:
    """``119 [105, 130]``; just the estimate when the interval is undefined."""
    est = fmt_num(estimate)
    if finite(low) is None or finite(high) is None:
        return est
    return f"{est} [{fmt_num(low)}, {fmt_num(high)}]"


def fmt_evidence(name: str, value: Any) -> str:
    """Format one evidence number by its name.

    ``*share*`` -> percent, ``*lift*``/``*ratio*`` -> ``1.23×``, ``p``/``p_*`` -> p-value,
    ``z``/``z_*``/``*residual*`` -> signed, whole numbers -> thousands separators.
    """
    key = name.lower()
    if isinstance(value, bool) or finite(value) is None:
        return "–" if not isinstance(value, str) else value
    if "share" in key or key.endswith("_pct_of_total"):
        return fmt_pct(value)
    if "lift" in key or "ratio" in key:
        return fmt_lift(value)
    if key == "p" or key.startswith("p_") or key.endswith("_p"):
        return fmt_p(value)
    if key == "z" or key.startswith("z_") or "residual" in key:
        return fmt_signed(value)
    if isinstance(value, int):
        return fmt_int(value)
    return fmt_num(value)


# ---------------------------------------------------------------------- segments


def segment_color(segment: int) -> str:
    return PALETTE[int(segment) % len(PALETTE)]


def segment_names(analysis: dict) -> dict[int, str]:
    """Segment id -> name (``"Segment 3"`` when the name is empty)."""
    out = {}
    for p in analysis.get("segments") or []:
        s = int(p["segment"])
        out[s] = str(p.get("name") or f"Segment {s}")
    return out


def value_columns(analysis: dict) -> list[str]:
    """The value columns (keys of the segments' ``value_share``), in first-seen order."""
    cols: dict[str, None] = {}
    for p in analysis.get("segments") or []:
        for c in (p.get("value_share") or {}):
            cols.setdefault(str(c), None)
    return list(cols)


# ------------------------------------------------------------------- chart data


def association_matrix(pairs: list[dict]) -> dict:
    """A symmetric matrix of association strengths from the ``associations`` pairs.

    Returns ``{"columns", "values"`` (None on the diagonal and for undefined
    pairs), ``"measures"`` (symbol per cell, e.g. ``"ρ"``), ``"pairs"`` (the pair
    dict per cell or None)}``.
    """
    columns: dict[str, None] = {}
    for pair in pairs:
        columns.setdefault(str(pair["a"]), None)
        columns.setdefault(str(pair["b"]), None)
    names = list(columns)
    index = {c: i for i, c in enumerate(names)}
    n = len(names)
    values: list[list[float | None]] = [[None] * n for _ in range(n)]
    measures: list[list[str]] = [[""] * n for _ in range(n)]
    cells: list[list[dict | None]] = [[None] * n for _ in range(n)]
    for pair in pairs:
        i, j = index[str(pair["a"])], index[str(pair["b"])]
        symbol = MEASURE_SYMBOLS.get(pair.get("measure"), (str(pair.get("measure", "")), ""))[0]
        for a, b in ((i, j), (j, i)):
            values[a][b] = finite(pair.get("value"))
            measures[a][b] = symbol
            cells[a][b] = pair
    return {"columns": names, "values": values, "measures": measures, "pairs": cells}


def cut_height(dendro: dict, k: int | None) -> float | None:
    """The height where the tree is cut into ``k`` clusters.

    ``dendro["cut_height"]`` when given; otherwise halfway between the merges
    that leave ``k - 1`` and ``k`` clusters (read from ``dcoord``: the top of
    each link is its merge height).
    """
    given = finite(dendro.get("cut_height"))
    if given is not None:
        return given
    if not k or k < 2:
        return None
    heights = sorted((max(d[1], d[2]) for d in dendro.get("dcoord") or []), reverse=True)
    if len(heights) < k - 1:
        return None
    upper = heights[k - 2]
    lower = heights[k - 1] if len(heights) >= k else 0.0
    return (upper + lower) / 2


def log1p_ticks(values: list[float]) -> tuple[list[float], list[str]]:
    """Tick positions on a ``log1p`` axis (as log1p values) with their labels in original units."""
    finite_values = [v for v in (finite(x) for x in values) if v is not None and v >= 0]
    top = max(finite_values, default=1.0)
    ticks = [0.0]
    for power in range(0, 12):
        for mult in (1, 3):
            t = mult * 10.0**power
            if t <= top * 1.05:
                ticks.append(t)
    if len(ticks) > 9:  # thin to powers of ten
        ticks = [0.0] + [t for t in ticks[1:] if str(int(t)).startswith("1")]
    labels = [fmt_int(t) if t < 1e6 else f"{t:.0e}" for t in ticks]
    return [math.log1p(t) for t in ticks], labels


def crosstab_share_kind(crosstab: dict) -> str:
    """``"row"`` if every row of ``shares`` sums to 1, ``"col"`` if columns do, else ``"total"``."""
    given = crosstab.get("shares_of")
    if given in ("row", "col", "total"):
        return given
    shares = [[finite(v) or 0.0 for v in row] for row in crosstab.get("shares") or []]
    if shares and all(abs(sum(r) - 1) < 1e-6 for r in shares if any(r)):
        return "row"
    if shares and shares[0]:
        cols = [sum(r[j] for r in shares) for j in range(len(shares[0]))]
        if all(abs(c - 1) < 1e-6 for c in cols if c):
            return "col"
    return "total"
