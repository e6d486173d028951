"""Render a ``clv.json`` summary (:mod:`custseg.clv`) as one offline HTML page.

The page has the look of the segmentation report (its stylesheet, inlined) and
draws its charts as inline SVG built here from numbers only, so it needs no
script and no network. Every string from the data goes through Jinja's
autoescape; the SVG text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import html
from importlib import resources

import jinja2
from markupsafe import Markup

__all__ = ["render_clv_html", "clv_sentences"]

_W, _H, _PAD = 640, 260, 44


def _svg_bars(labels: list[str], series: list[tuple[str, list[float], str]], *, title: str,
              y_label: str) -> Markup:
    """Grouped bar chart as SVG (series: name, values, colour)."""
    n, k = len(labels), max(1, len(series))
    top = max([v for _, vals, _ in series for v in vals if v is not None] + [1e-12])
    plot_w, plot_h = _W - 2 * _PAD, _H - 2 * _PAD
    group_w = plot_w / max(n, 1)
    bar_w = group_w * 0.8 / k
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
             f'aria-label="{html.escape(title)}" class="clv-chart">',
             f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#9aa5b1"/>',
             f'<text x="{_PAD}" y="{_PAD - 12}" font-size="12" fill="#616e7c">'
             f'{html.escape(y_label)} (max {top:,.3g})</text>']
    for j, (name, vals, colour) in enumerate(series):
        for i, v in enumerate(vals):
            h = 0.0 if v is None else plot_h * v / top
            x = _PAD + i * group_w + group_w * 0.1 + j * bar_w
            parts.append(f'<rect x="{x:.1f}" y="{_H - _PAD - h:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{html.escape(name)}, '
                         f'{html.escape(labels[i])}: {0 if v is None else v:,.4g}</title></rect>')
        parts.append(f'<rect x="{_W - _PAD - 150}" y="{_PAD - 30 + 16 * j}" width="10" height="10" '
                     f'fill="{colour}"/><text x="{_W - _PAD - 135}" y="{_PAD - 21 + 16 * j}" '
                     f'font-size="12">{html.escape(name)}</text>')
    step = max(1, n // 12)
    for i, lab in enumerate(labels):
        if i % step == 0:
            x = _PAD + (i + 0.5) * group_w
            parts.append(f'<text x="{x:.1f}" y="{_H - _PAD + 16}" font-size="11" '
                         f'text-anchor="middle" fill="#616e7c">{html.escape(lab)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def _fmt(x, spec: str = ",.3f") -> str:
    return "n/a" if x is None else format(x, spec)


def clv_sentences(s: dict) -> list[str]:
    """Plain sentences on what the fitted parameters and the checks mean."""
    unit = s["unit"]
    p = s["params"]
    out = []
    if s["model"] in ("bgnbd", "mbgnbd"):
        rate = p["r"] / p["alpha"]
        drop = p["a"] / (p["a"] + p["b"])
        out.append(f"While active, customers buy on average {rate:.3g} times a {unit} "
                   f"(about {rate * (365.25 if unit == 'day' else 365.25 / 7):.2g} times a year); "
                   f"purchase rates vary widely between customers (shape r = {p['r']:.3g}: the "
                   "smaller, the more uneven).")
        out.append(f"After each {'purchase' if s['model'] == 'mbgnbd' else 'repeat purchase'} a "
                   f"customer stops buying with probability {drop:.1%} on average.")
    else:
        rate = p["r"] / p["alpha"]
        out.append(f"While active, customers buy on average {rate:.3g} times a {unit}.")
        if p["s"] > 1:
            out.append(f"Customers stay active {p['beta'] / (p['s'] - 1):,.0f} {unit}s on average.")
        out.append(f"Customers drop out at {p['s'] / p['beta']:.3g} a {unit} on average.")
    sp = s["spend_params"]
    if sp["q"] > 1:
        out.append(f"A typical purchase is worth {sp['p'] * sp['v'] / (sp['q'] - 1):,.2f} on "
                   "average across customers (Gamma-Gamma); each customer's expected value "
                   "moves from there towards their own mean as they buy more.")
    t = s["totals"]
    if t.get("top10_value_share") is not None:
        out.append(f"The top 10% of customers hold {t['top10_value_share']:.0%} of the predicted "
                   f"value of the next {s['horizon_months']:g} months.")
    h = s.get("holdout")
    if h:
        ratio = (h["predicted_purchases"] / h["actual_purchases"] - 1) if h["actual_purchases"] else None
        out.append(f"Checked on the holdout period ({h['duration']:,.1f} {unit}s after "
                   f"{s['calibration_end']}): the model predicted {h['predicted_purchases']:,.0f} "
                   f"repeat purchases and {h['actual_purchases']:,.0f} happened"
                   + ("" if ratio is None else f" ({ratio:+.1%})")
                   + f"; per customer the mean absolute error is {h['mae']:.3f} purchases.")
    return out




def render_clv_html(summary: dict) -> str:
    """The HTML page of a ``clv.json`` summary."""
    env = jinja2.Environment(autoescape=True)
    css = (resources.files("custseg.report") / "templates" / "report.css").read_text(encoding="utf-8")
    s = summary
    holdout_chart = Markup("")
    if s.get("holdout"):
        rows = s["holdout"]["by_calibration_purchases"]
        holdout_chart = _svg_bars([r["calibration_purchases"] for r in rows],
                                  [("predicted", [r["predicted_mean"] for r in rows], "#2f6fb0"),
                                   ("actual", [r["actual_mean"] for r in rows], "#e08a2c")],
                                  title="holdout", y_label="mean repeat purchases")
    d = s["distributions"]
    alive_labels = [f"{e:.1f}" for e in d["p_alive"]["edges"][:-1]]
    alive_chart = _svg_bars(alive_labels, [("customers", d["p_alive"]["counts"], "#2f6fb0")],
                            title="P(alive)", y_label="customers")
    clv_labels = [f"{e:,.0f}" for e in d["clv"]["edges"][:-1]]
    clv_chart = _svg_bars(clv_labels, [("customers", d["clv"]["counts"], "#2f7d4f")],
                          title="CLV", y_label="customers")
    template = (resources.files("custseg.report") / "templates" / "clv.html.j2").read_text(
        encoding="utf-8")
    return env.from_string(template).render(
        s=s, t=s["totals"], css=Markup(css), fmt=_fmt, sentences=clv_sentences(s),  # noqa: S704
        holdout_chart=holdout_chart, alive_chart=alive_chart, clv_chart=clv_chart)
