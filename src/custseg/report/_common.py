"""Shared pieces of the report renderers: number formats, colours and chart data.

Everything here is pure: it reads the plain ``analysis`` dict (see
:mod:`custseg.report`) and returns plain Python values. The three renderers
(static figures, HTML, Markdown) use the same helpers, so a number reads the
same everywhere and every chart is built from the same matrices.
"""

from __future__ import annotations

import math
from typing import Any

from ..explore.formatting import finite, format_p

__all__ = [
    "PALETTE", "DIVERGING", "SEQUENTIAL", "ACTION_LABELS", "MEASURE_SYMBOLS", "finite", "fmt_num",
    "fmt_fixed", "fmt_int", "fmt_pct", "fmt_p", "fmt_p_eq", "fmt_lift", "fmt_signed", "fmt_ci",
    "fmt_evidence", "segment_color", "segment_names", "value_columns", "numeric_columns",
    "association_matrix", "cut_height", "log1p_ticks", "crosstab_share_kind",
    "chosen_votes", "headlines", "all_actions", "top_lifts", "significant_pairs", "level_marks",
    "evidence_items", "extra_fields",
]

#: diverging colour scale (red below, white at the middle, blue above), as matplotlib's RdBu
DIVERGING = [[0.0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"],
             [1.0, "#2166ac"]]
#: sequential scale (white to dark blue), as matplotlib's Blues
SEQUENTIAL = [[0.0, "#f7fbff"], [0.35, "#c6dbef"], [0.7, "#4292c6"], [1.0, "#08306b"]]

#: segment colours (Tableau 10): distinct, colour-blind tolerant, readable on white
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



# ----------------------------------------------------------------------- numbers


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number for people: ``1,234``, ``162.2``, ``4.27``, ``0.0312``; ``–`` if undefined.

    Whole numbers print without decimals; from 1,000 up with thousands separators
    and no decimals; from 10 one decimal; from 1 two; below 1 ``digits``
    significant digits.
    """
    x = finite(value)
    if x is None:
        return "–"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.{digits}g}"


def fmt_fixed(value: Any, decimals: int = 2) -> str:
    """``0.41``: a fixed number of decimals (for bounded measures); ``–`` if undefined."""
    x = finite(value)
    return "–" if x is None else f"{x:.{decimals}f}"


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
    """A p-value in a table: ``< 0.001``, ``0.032``, ``0.41``, ``> 0.99``, ``n/a``."""
    return format_p(value, prefix=False)


def fmt_p_eq(value: Any) -> str:
    """A p-value in a sentence, as in the analysis text: ``p < 0.001``, ``p = 0.032``."""
    return format_p(value)


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

    ``*share*`` -> percent; ``*_pct`` (already in percent) -> ``+28%``; ``*lift*``,
    ``*ratio*``, ``*index*`` -> ``1.23×``; ``p``, ``p_*``, ``*_p`` -> p-value; ``z``,
    ``z_*``, ``*_z``, ``*residual*``, ``*biserial*`` -> signed; whole numbers ->
    thousands separators; anything else -> :func:`fmt_num`.
    """
    key = name.lower()
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or finite(value) is None:
        return "–"
    if key.endswith("_pct") or key == "pct":
        return f"{finite(value):+.0f}%"
    if "share" in key:
        return fmt_pct(value)
    if "lift" in key or "ratio" in key or "index" in key:
        return fmt_lift(value)
    if key == "p" or key.startswith("p_") or key.endswith("_p"):
        return fmt_p(value)
    if (key == "z" or key.startswith("z_") or key.endswith("_z") or "residual" in key
            or "biserial" in key):
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


def numeric_columns(analysis: dict) -> list[str]:
    """The numeric columns profiled in the segments (keys of ``numeric``), in first-seen order."""
    cols: dict[str, None] = {}
    for p in analysis.get("segments") or []:
        for c in (p.get("numeric") or {}):
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


# ------------------------------------------------------------------ view helpers


def chosen_votes(analysis: dict) -> tuple[int, int]:
    """How many criteria picked the chosen k, and how many criteria gave a pick."""
    sel = analysis.get("selection") or {}
    picks = [v for v in (sel.get("picks") or {}).values() if v is not None]
    return sum(1 for v in picks if v == sel.get("k")), len(picks)


def headlines(analysis: dict) -> list[dict]:
    """The headline numbers of the overview: ``{"label", "value", "note"}`` dicts.

    ``value`` and ``note`` may contain data strings: renderers escape them.
    """
    ov = analysis.get("overview") or {}
    summary = (analysis.get("data_quality") or {}).get("summary") or {}
    out = [{"label": "Customers", "value": fmt_int(ov.get("n_customers")),
            "note": "synthetic data" if analysis.get("synthetic") else "analysed"}]
    votes, n_crit = chosen_votes(analysis)
    out.append({"label": "Segments", "value": str(ov.get("k", "–")),
                "note": f"picked by {votes} of {n_crit} criteria" if n_crit else ""})
    for col in value_columns(analysis)[:1]:
        num = (summary.get("numeric") or {}).get(col) or {}
        mean, n = finite(num.get("mean")), finite(num.get("n"))
        if mean is not None and n is not None:
            out.append({"label": f"Total {col}", "value": fmt_num(mean * n),
                        "note": f"median {fmt_num(num.get('median'))} per customer"})
        segs = [p for p in analysis.get("segments") or [] if finite(p.get("share"))]
        if segs:
            best = max(segs, key=lambda p: (finite((p.get("value_share") or {}).get(col)) or 0)
                       / p["share"])
            out.append({"label": "Most valuable segment",
                        "value": str(best.get("name") or f"Segment {best['segment']}"),
                        "note": (f"{fmt_pct(best['share'])} of customers bring "
                                 f"{fmt_pct((best.get('value_share') or {}).get(col))} of {col}")})
    drivers = [q for q in analysis.get("question1") or []
               if q.get("significant") and finite(q.get("variance_explained")) is not None]
    if drivers:
        top = max(drivers, key=lambda q: q["variance_explained"])
        out.append({"label": f"Strongest driver of {top.get('value_word') or top['target']}",
                    "value": str(top["attribute"]),
                    "note": f"explains {fmt_pct(top['variance_explained'])} of its variation"})
    return out


def all_actions(analysis: dict) -> list[dict]:
    """Every recommendation (segments first, then cells) with a display target.

    Each item is the REC dict plus ``target_text`` (segment name or
    ``attribute = level``) and ``anchor`` (``segment-3``, or None).
    """
    recs = analysis.get("recommendations") or {}
    seg_recs = recs.get("segments")
    if seg_recs is None:
        seg_recs = [r for p in analysis.get("segments") or [] for r in p.get("recommendations") or []]
    names = segment_names(analysis)
    out = []
    for rec in list(seg_recs) + list(recs.get("cells") or []):
        item = dict(rec)
        if rec.get("segment") is not None:
            s = int(rec["segment"])
            item["target_text"] = f"Segment {s}: {names.get(s, '')}"
            item["anchor"] = f"segment-{s}"
        elif rec.get("cell"):
            cell = rec["cell"]
            text = f"{cell.get('attribute', '')} = {cell.get('level', '')}"
            if cell.get("group"):
                text += f" ({cell['group']})"
            item["target_text"] = text
            item["anchor"] = None
        else:
            item["target_text"] = ""
            item["anchor"] = None
        out.append(item)
    return out


def top_lifts(segment: dict, n: int = 4, min_lift: float = 1.2, min_share: float = 0.05) -> list[dict]:
    """The category levels most over-represented in a segment, highest lift first.

    Each ``{"column", "label", "share", "lift"}``.
    """
    levels = []
    for col, items in (segment.get("categorical") or {}).items():
        for lv in items:
            lift, share = finite(lv.get("lift")), finite(lv.get("share"))
            if lift is not None and share is not None and lift >= min_lift and share >= min_share:
                levels.append({"column": col, "label": lv.get("label", lv.get("code")),
                               "share": share, "lift": lift})
    levels.sort(key=lambda d: (-d["lift"], str(d["column"]), str(d["label"])))
    return levels[:n]


def significant_pairs(compare: dict) -> list[dict]:
    """Pairwise comparisons significant after Holm, largest effect first."""
    pairs = [p for p in compare.get("pairwise") or [] if p.get("significant")]
    return sorted(pairs, key=lambda p: -abs(finite(p.get("rank_biserial")) or 0))


def level_marks(compare: dict) -> dict[str, str]:
    """Level code -> ``"best"`` / ``"worst"`` for the levels significantly above / below the rest."""
    marks = {lv["code"]: "worst" for lv in compare.get("worst_levels") or []}
    marks.update({lv["code"]: "best" for lv in compare.get("best_levels") or []})
    return marks


def evidence_items(evidence: dict | None) -> list[tuple[str, str]]:
    """``(name, formatted value)`` pairs of a recommendation's evidence, names made readable."""
    return [(str(k).replace("_", " "), fmt_evidence(str(k), v)) for k, v in (evidence or {}).items()]


def extra_fields(item: dict, skip: tuple[str, ...] = ("code", "message")) -> list[tuple[str, str]]:
    """Other scalar fields of a warning or problem, formatted, for a details line."""
    out = []
    for k, v in item.items():
        if k in skip or isinstance(v, dict):
            continue
        if isinstance(v, list):
            if not v or not all(isinstance(x, int | float | str) for x in v):
                continue
            shown = ", ".join(fmt_evidence(k, x) if not isinstance(x, str) else x for x in v[:8])
            out.append((str(k).replace("_", " "), shown + (", …" if len(v) > 8 else "")))
        elif v is not None:
            out.append((str(k).replace("_", " "), v if isinstance(v, str) else fmt_evidence(k, v)))
    return out
