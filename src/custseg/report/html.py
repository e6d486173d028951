"""The HTML report: one self-contained, offline file rendered from the ``analysis`` dict.

:func:`render_html` fills the Jinja2 template ``templates/report.html.j2`` with
the analysis and eight interactive Plotly charts. The file needs nothing from the
network: CSS is inline, plotly.js is inlined once, every chart is drawn by a small
inline script from data embedded in the page, and fonts are the system's.

Safety: the Jinja environment autoescapes, so every string from the data is
HTML-escaped; data handed to scripts is JSON, with ``<``, ``>``, ``&``, U+2028
and U+2029 written as ``\\uXXXX`` escapes (:func:`script_json`), so it can never
close the ``<script>`` element or start markup. Strings Plotly draws are
HTML-escaped before they go into the JSON (see :mod:`custseg.report._plotly`).
No data string is ever marked safe.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from . import _common as c
from ._plotly import FONT, chart_specs

__all__ = ["render_html", "script_json"]

_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}

PLOTLY_CONFIG = {
    "responsive": True,
    "displaylogo": False,
    "typesetMath": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}


def _jsonable(obj: Any) -> Any:
    """Non-finite floats -> None (JSON has no NaN), tuples -> lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def script_json(obj: Any) -> Markup:
    """``obj`` as JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 become ``\\u`` escapes, so the text
    can neither end the script (``</script>``), open a comment (``<!--``) nor
    break a JavaScript string; the JSON value is unchanged.
    """
    text = json.dumps(_jsonable(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Markup(text.translate(_SCRIPT_ESCAPES))  # noqa: S704 - escaped above


@functools.lru_cache(maxsize=1)
def _plotly_js() -> Markup:
    """plotly.min.js, read once per process straight from the installed plotly package.

    Reading the file directly avoids importing ``plotly`` (``plotly.offline``
    pulls in much of the package) only to read that same file.
    """
    spec = importlib.util.find_spec("plotly")
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js" if spec and spec.origin \
        else None
    if path is not None and path.is_file():
        js = path.read_text(encoding="utf-8")
    else:  # pragma: no cover - an unusual plotly install (zip, ...)
        from plotly.offline import get_plotlyjs

        js = get_plotlyjs()
    if "</script" in js.lower():  # pragma: no cover - guard against a future plotly.js
        raise RuntimeError("plotly.js contains '</script' and cannot be inlined safely")
    return Markup(js)  # noqa: S704 - the library itself, not data


@functools.lru_cache(maxsize=4)
def _asset(name: str) -> Markup:
    """A CSS or JS file shipped beside the template (our own code, inlined verbatim)."""
    text = (resources.files("custseg.report") / "templates" / name).read_text(encoding="utf-8")
    if "</" in text:  # pragma: no cover - would end the <style>/<script> element early
        raise RuntimeError(f"{name} must not contain '</'")
    return Markup(text)  # noqa: S704 - package asset, not data


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("custseg.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml", "j2"),
                                            default_for_string=True, default=True),
        undefined=jinja2.ChainableUndefined,  # a missing optional key renders as empty
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update({
        "num": c.fmt_num,
        "int": c.fmt_int,
        "pct": c.fmt_pct,
        "p": c.fmt_p,
        "p_eq": c.fmt_p_eq,
        "fixed": c.fmt_fixed,
        "lift": c.fmt_lift,
        "signed": c.fmt_signed,
        "script_json": script_json,
    })
    env.globals.update({
        "fmt_ci": c.fmt_ci,
        "fmt_evidence": c.fmt_evidence,
        "finite": c.finite,
        "segment_color": c.segment_color,
        "action_label": lambda a: c.ACTION_LABELS.get(a, str(a).capitalize()),
    })
    return env


def _context(analysis: dict) -> dict:
    charts = chart_specs(analysis)
    q1 = []
    for compare in analysis.get("question1") or []:
        q1.append({"c": compare, "pairs": c.significant_pairs(compare),
                   "marks": c.level_marks(compare)})
    q2 = []
    for share in analysis.get("question2") or []:
        over = {lv["code"] for lv in share.get("over_represented") or []}
        under = {lv["code"] for lv in share.get("under_represented") or []}
        q2.append({"g": share, "over": over, "under": under})
    segments = []
    names = c.segment_names(analysis)
    for p in analysis.get("segments") or []:
        segments.append({"p": p, "name": names[int(p["segment"])], "color": c.segment_color(p["segment"]),
                         "lifts": c.top_lifts(p)})
    sel = analysis.get("selection") or {}
    picks = sel.get("picks") or {}
    best_by_metric = {key: picks.get(crit) for key, crit in (
        ("inertia", "elbow"), ("silhouette", "silhouette"),
        ("calinski_harabasz", "calinski_harabasz"), ("davies_bouldin", "davies_bouldin"))}
    votes, n_crit = c.chosen_votes(analysis)
    summary = (analysis.get("data_quality") or {}).get("summary") or {}
    missing = [(col, d.get("missing"), d.get("missing_share"))
               for kind in ("numeric", "categorical")
               for col, d in (summary.get(kind) or {}).items() if d.get("missing")]
    pairs = sorted(analysis.get("associations") or [],
                   key=lambda r: -abs(c.finite(r.get("value")) or 0.0))
    return {
        "a": analysis,
        "rfm": analysis.get("rfm"),
        "clv": analysis.get("clv"),
        "algos": analysis.get("algorithms"),
        "ov": analysis.get("overview") or {},
        "dq": analysis.get("data_quality") or {},
        "summary": summary,
        "missing": missing,
        "pairs": pairs,
        "measure_names": {k: v[1] for k, v in c.MEASURE_SYMBOLS.items()},
        "headlines": c.headlines(analysis),
        "actions": c.all_actions(analysis),
        "q1": q1,
        "q2": q2,
        "sel": sel,
        "picks": picks,
        "best_by_metric": best_by_metric,
        "votes": votes,
        "n_crit": n_crit,
        "segments": segments,
        "value_columns": c.value_columns(analysis),
        "numeric_columns": c.numeric_columns(analysis),
        "warnings": [(w, c.extra_fields(w)) for w in analysis.get("warnings") or []],
        "problems": (analysis.get("data_quality") or {}).get("problems") or [],
        "charts": charts,
        "n_charts": sum(1 for ch in charts.values() if ch["spec"] is not None),
        "evidence_items": c.evidence_items,
        "plotly_js": _plotly_js(),
        "css": _asset("report.css"),
        "report_js": _asset("report.js"),
        "plotly_config": PLOTLY_CONFIG,
        "font": FONT,
    }


def render_html(analysis: dict) -> str:
    """Render the analysis as one self-contained HTML report.

    Parameters
    ----------
    analysis : dict
        The analysis dict (``analysis.json`` of a run; see :mod:`custseg.report`).

    Returns
    -------
    str
        A complete HTML document (about 5 MB, most of it plotly.js) with the
        sections ``overview``, ``data-quality``, ``question-1``, ``question-2``,
        ``choice-of-k``, ``segments``, ``warnings`` and ``methods``. The same
        analysis always gives the same text.
    """
    return _env().get_template("report.html.j2").render(**_context(analysis))
