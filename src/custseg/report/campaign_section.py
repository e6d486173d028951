"""The campaign report: ``report.html`` of ``custseg campaign``, from ``campaign.json``'s dict.

One self-contained, offline page in the look of the segmentation report (its
stylesheet is inlined): the split check first (a failed split invalidates the
rest), the whole campaign, a forest plot of the lift by segment with its 95 %
intervals (an inline SVG drawn here, no script), one sentence per segment, the
table of every number, revenue, the interaction test, warnings and methods.
Every string from the data is escaped by Jinja's autoescape; nothing is marked safe.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from . import _common as c
from .html import _asset

__all__ = ["render_campaign_html", "forest_rows"]

#: forest plot geometry (pixels)
_LABEL_W, _PLOT_W, _ROW_H, _TOP = 260, 520, 30, 34


def _pts(x: Any, signed: bool = True) -> str:
    v = c.finite(x)
    if v is None:
        return "–"
    return f"{v * 100:+.1f}" if signed else f"{v * 100:.1f}"


def forest_rows(summary: dict) -> dict:
    """Coordinates of the forest plot: one row per comparison (overall first), x in pixels.

    The x axis spans every interval and 0, with a margin; returns ``rows`` (label,
    lift, low, high, their x, y, verdict), ``zero`` (the x of no difference),
    ``ticks`` and the SVG's ``width`` and ``height``.
    """
    items = [("Whole campaign", summary["overall"], True)]
    for s in summary["segments"]:
        for comp in s.get("comparisons") or [s]:
            label = s["segment_name"] + (f" ({comp['arm']})" if "arm" in comp else "")
            items.append((f"{s['segment']} · {label}", comp, False))
    values = [0.0]
    for _, comp, _ in items:
        values += [v for v in (comp.get("lift"), *(comp.get("ci") or [])) if c.finite(v) is not None]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or 0.01
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return round(_LABEL_W + (v - lo) / (hi - lo) * _PLOT_W, 2)

    rows = []
    for i, (label, comp, overall) in enumerate(items):
        lift, (low, high) = c.finite(comp.get("lift")), comp.get("ci") or [None, None]
        ok = lift is not None and c.finite(low) is not None and c.finite(high) is not None
        rows.append({"label": label, "overall": overall, "ok": ok,
                     "verdict": comp.get("verdict", ""),
                     "lift": lift, "low": low, "high": high,
                     "x": x(lift) if ok else None, "x_low": x(low) if ok else None,
                     "x_high": x(high) if ok else None,
                     "y": _TOP + i * _ROW_H + (0 if overall else 10),
                     "text": f"{_pts(lift)} ({_pts(low)} to {_pts(high)})" if ok else "untestable"})
    step = _nice_step((hi - lo) * 100 / 6)
    first = int((lo * 100) // step) + 1
    ticks = []
    k = first
    while k * step <= hi * 100:
        v = k * step / 100
        ticks.append({"x": x(v), "label": f"{k * step:+g}" if k else "0"})
        k += 1
    height = _TOP + len(items) * _ROW_H + 40
    return {"rows": rows, "zero": x(0.0), "ticks": ticks, "width": _LABEL_W + _PLOT_W + 190,
            "height": height, "plot_left": _LABEL_W, "plot_right": _LABEL_W + _PLOT_W,
            "axis_y": height - 30}


def _nice_step(raw: float) -> float:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if step >= raw:
            return step
    return 100.0


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("custseg.report", "templates"),
        autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update({"int": c.fmt_int, "pct": c.fmt_pct, "p": c.fmt_p, "p_eq": c.fmt_p_eq,
                        "num": c.fmt_num, "pts": _pts})
    return env


def render_campaign_html(summary: dict) -> str:
    """The campaign report as one offline HTML page (see the module docstring)."""
    from ..campaign.summary import VERDICTS

    return _env().get_template("campaign.html.j2").render(
        s=summary, forest=forest_rows(summary), css=_asset("report.css"), verdicts=VERDICTS,
        treatment=", ".join(summary["arms"]["treatment"]), control=summary["arms"]["control"])
