"""Interactive Plotly chart specifications built from the ``analysis`` dict.

Each ``*_spec`` function returns a plain ``{"data": [...], "layout": {...}}``
dict (the arguments of ``Plotly.newPlot``), or None when the analysis has no
data for that chart. The same eight charts as the static PNGs of
:mod:`custseg.report.figures`.

Plotly renders a small subset of HTML in every text it draws (``<b>``, ``<br>``,
``<a href>``; entities such as ``&lt;`` are decoded), so every string that comes
from the data (column names, labels, segment names) goes through :func:`_h`,
which HTML-escapes it: it then shows literally and can never become markup.
Numbers go through :func:`~custseg.report._common.finite` (NaN -> None).
"""

from __future__ import annotations

import html
import math
from typing import Any

from ._common import (
    DIVERGING,
    MEASURE_SYMBOLS,
    SEQUENTIAL,
    association_matrix,
    crosstab_share_kind,
    cut_height,
    finite,
    fmt_int,
    fmt_lift,
    fmt_num,
    fmt_p,
    fmt_pct,
    log1p_ticks,
    segment_color,
    segment_names,
    value_columns,
)
from .charts import CHARTS

__all__ = ["chart_specs", "SPECS", "FONT", "MAX_POINTS"]

#: most customer points drawn in one interactive chart (SVG stays responsive; the file stays small)
MAX_POINTS = 5_000

FONT = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
        "sans-serif")



def _h(value: Any, width: int | None = None) -> str:
    """A data string made inert for Plotly: whitespace collapsed, shortened, HTML-escaped.

    Braces are escaped too, so a label can never be read as a ``%{...}`` template.
    """
    text = " ".join(str(value).split())
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return html.escape(text, quote=False).replace("{", "&#123;").replace("}", "&#125;")


def _unique(labels: list[str]) -> list[str]:
    """Labels made distinct (shortening can make two equal; Plotly would merge their cells)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _layout(height: int, **extra: Any) -> dict:
    layout = {
        "height": height,
        "margin": {"l": 70, "r": 24, "t": 24, "b": 60},
        "font": {"family": FONT, "size": 12, "color": "#1f2933"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": {"family": FONT, "size": 12}},
        "legend": {"title": {"text": "segment"}},
    }
    layout.update(extra)
    return layout


def _axis(title: str = "", **extra: Any) -> dict:
    axis = {"title": {"text": title}, "gridcolor": "#e4e7eb", "zeroline": False,
            "linecolor": "#9aa5b1", "automargin": True}
    axis.update(extra)
    return axis


def _log1p(value: Any) -> float | None:
    x = finite(value)
    return None if x is None else math.copysign(math.log1p(abs(x)), x)


def _charts(analysis: dict) -> dict:
    return analysis.get("charts") or {}


def _top(values: Any) -> list[float]:
    """The largest finite value as a one-element list (what the tick maker needs), or []."""
    top = max((v for v in values if isinstance(v, int | float) and math.isfinite(v)),
              default=None)
    return [] if top is None else [float(top)]


def _thin(points: list, cap: int) -> list:
    """At most ``cap`` points, evenly spaced through the list (deterministic, no RNG)."""
    n = len(points)
    if n <= cap:
        return points
    return [points[i * n // cap] for i in range(cap)]


def _round(value: Any, digits: int = 6) -> float | None:
    """A finite float to ``digits`` significant digits (keeps the embedded JSON small)."""
    x = finite(value)
    return None if x is None else float(f"{x:.{digits}g}")


def _thin_note(shown: int, total: int) -> list[dict]:
    if shown >= total:
        return []
    return [{"xref": "paper", "x": 1, "xanchor": "right", "yref": "paper", "y": 1.0,
             "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": "#616e7c"},
             "text": f"showing {shown:,} of {total:,} customers (evenly spaced)"}]


# ---------------------------------------------------------------------- specs


def associations_spec(analysis: dict) -> dict | None:
    pairs = analysis.get("associations") or []
    if not pairs:
        return None
    m = association_matrix(pairs)
    names = _unique([_h(c, 30) for c in m["columns"]])
    n = len(names)
    text = [["" if i == j else (f"{m['measures'][i][j]} {m['values'][i][j]:.2f}"
                                if m["values"][i][j] is not None else "n/a")
             for j in range(n)] for i in range(n)]
    hover = []
    for i in range(n):
        row = []
        for j in range(n):
            pair = m["pairs"][i][j]
            if pair is None:
                row.append(names[i])
                continue
            symbol, long = MEASURE_SYMBOLS.get(pair.get("measure"), ("", _h(pair.get("measure", ""))))
            value = finite(pair.get("value"))
            row.append(
                f"<b>{_h(pair['a'])} × {_h(pair['b'])}</b><br>{long}: "
                f"{'n/a' if value is None else f'{value:.3f}'}<br>{_h(pair.get('test', ''))}, "
                f"p (Holm) {fmt_p(pair.get('p_adjusted'))}<br>n = {fmt_int(pair.get('n'))}"
                + (f"<br>{_h(pair['note'])}" if pair.get("note") else "")
            )
        hover.append(row)
    used = sorted({p.get("measure") for p in pairs if p.get("measure") in MEASURE_SYMBOLS})
    legend = "; ".join(f"{MEASURE_SYMBOLS[u][0]} = {MEASURE_SYMBOLS[u][1]}" for u in used)
    return {
        "data": [{
            "type": "heatmap", "z": m["values"], "x": names, "y": names, "text": text,
            "texttemplate": "%{text}", "hovertext": hover, "hoverinfo": "text",
            "colorscale": DIVERGING, "zmin": -1, "zmax": 1, "xgap": 2, "ygap": 2,
            "colorbar": {"title": {"text": "strength"}, "thickness": 14},
        }],
        "layout": _layout(max(340, 70 * n + 140),
                          xaxis=_axis(legend, type="category", showgrid=False, tickangle=-30),
                          yaxis=_axis("", type="category", showgrid=False, autorange="reversed")),
    }


def scatter_spec(analysis: dict) -> dict | None:
    sc = _charts(analysis).get("scatter")
    if not sc or not sc.get("points"):
        return None
    names = segment_names(analysis)
    x_label = _h(sc.get("x_label") or sc.get("x") or "x", 60)
    y_label = _h(sc.get("y_label") or sc.get("y") or "y", 60)
    points = _thin(sc["points"], MAX_POINTS)
    total = max(len(sc["points"]), int(finite(sc.get("n_total")) or 0))
    traces = []
    for s in sorted({int(p[2]) for p in points}):
        pts = [p for p in points if int(p[2]) == s]
        traces.append({
            "type": "scatter", "mode": "markers", "name": _h(f"{s}: {names.get(s, f'Segment {s}')}", 44),
            "x": [_round(_log1p(p[0]), 5) for p in pts], "y": [_round(_log1p(p[1]), 5) for p in pts],
            "customdata": [[_round(p[0]), _round(p[1])] for p in pts],
            "marker": {"color": segment_color(s), "size": 6, "opacity": 0.65},
            "hovertemplate": (f"<b>%{{fullData.name}}</b><br>{x_label}: %{{customdata[0]:,.4~g}}"
                              f"<br>{y_label}: %{{customdata[1]:,.4~g}}<extra></extra>"),
        })
    xt, xl = log1p_ticks(_top(p[0] for p in sc["points"]))
    yt, yl = log1p_ticks(_top(p[1] for p in sc["points"]))
    return {
        "data": traces,
        "layout": _layout(460, annotations=_thin_note(len(points), total),
                          xaxis=_axis(f"{x_label} (log scale)", tickvals=xt, ticktext=xl),
                          yaxis=_axis(f"{y_label} (log scale)", tickvals=yt, ticktext=yl)),
    }


def dendrogram_spec(analysis: dict) -> dict | None:
    dendro = _charts(analysis).get("dendrogram")
    if not dendro or not dendro.get("icoord"):
        return None
    xs: list[float | None] = []
    ys: list[float | None] = []
    tops_x, tops_y = [], []
    for ic, dc in zip(dendro["icoord"], dendro["dcoord"], strict=True):
        xs += [finite(v) for v in ic] + [None]
        ys += [finite(v) for v in dc] + [None]
        tops_x.append((ic[1] + ic[2]) / 2)
        tops_y.append(dc[1])
    leaves = dendro.get("leaf_labels") or []
    k = (analysis.get("selection") or {}).get("k") or (analysis.get("overview") or {}).get("k")
    cut = cut_height(dendro, k)
    shapes, annotations = [], []
    if cut is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": cut,
                       "y1": cut, "line": {"color": "#e15759", "width": 2, "dash": "dash"}})
        annotations.append({"xref": "paper", "x": 1, "xanchor": "right", "yref": "y", "y": cut,
                            "yanchor": "bottom", "text": f"<b>cut: k = {k}</b>", "showarrow": False,
                            "font": {"color": "#e15759"}})
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "hoverinfo": "skip",
             "line": {"color": "#52606d", "width": 1.5}, "showlegend": False},
            {"type": "scatter", "mode": "markers", "x": tops_x, "y": tops_y, "showlegend": False,
             "marker": {"size": 6, "color": "#52606d"},
             "hovertemplate": "merge at height %{y:.3~f}<extra></extra>"},
        ],
        "layout": _layout(
            420, shapes=shapes, annotations=annotations,
            xaxis=_axis("leaves; (n) = a group of n customers",
                        tickvals=[5 + 10 * i for i in range(len(leaves))],
                        ticktext=[_h(t, 16) for t in leaves], tickangle=-90, showgrid=False,
                        range=[0, 10 * max(1, len(leaves))]),
            yaxis=_axis("merge height (Ward distance)", rangemode="tozero"),
        ),
    }


_SELECTION_METRICS = [
    ("inertia", "Within-cluster sum of squares", "elbow"),
    ("silhouette", "Silhouette ↑", "silhouette"),
    ("calinski_harabasz", "Calinski-Harabasz ↑", "calinski_harabasz"),
    ("davies_bouldin", "Davies-Bouldin ↓", "davies_bouldin"),
]


def selection_spec(analysis: dict) -> dict | None:
    sel = analysis.get("selection") or {}
    rows = sorted(sel.get("rows") or [], key=lambda r: r["k"])
    if not rows:
        return None
    picks = sel.get("picks") or {}
    chosen = sel.get("k")
    traces, shapes, annotations = [], [], []
    layout_axes: dict[str, Any] = {}
    for i, (key, title, crit) in enumerate(_SELECTION_METRICS, start=1):
        suffix = "" if i == 1 else str(i)
        pts = [(r["k"], finite(r.get(key))) for r in rows]
        pts = [(k, v) for k, v in pts if v is not None]
        traces.append({
            "type": "scatter", "mode": "lines+markers", "x": [k for k, _ in pts],
            "y": [v for _, v in pts], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
            "name": title, "showlegend": False, "line": {"color": "#4e79a7", "width": 2},
            "marker": {"size": 7}, "hovertemplate": f"k = %{{x}}<br>{title}: %{{y:,.4~g}}<extra></extra>",
        })
        pick = picks.get(crit)
        for k, v in pts:
            if k == pick:
                traces.append({
                    "type": "scatter", "mode": "markers", "x": [k], "y": [v], "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}", "showlegend": False, "name": f"{crit} pick",
                    "marker": {"symbol": "star", "size": 17, "color": "#f28e2b",
                               "line": {"color": "#1f2933", "width": 1}},
                    "hovertemplate": f"picked by {crit.replace('_', '-')}: k = %{{x}}<extra></extra>",
                })
        if chosen is not None:
            shapes.append({"type": "line", "xref": f"x{suffix}", "x0": chosen, "x1": chosen,
                           "yref": f"y{suffix} domain", "y0": 0, "y1": 1,
                           "line": {"color": "#e15759", "width": 2}})
        annotations.append({"xref": f"x{suffix} domain", "x": 0, "xanchor": "left",
                            "yref": f"y{suffix} domain", "y": 1.02, "yanchor": "bottom",
                            "text": f"<b>{title}</b>" + (f" · picks k = {pick}" if pick else ""),
                            "showarrow": False, "font": {"size": 12}})
        layout_axes[f"xaxis{suffix}"] = _axis("k" if i > 2 else "", dtick=1)
        layout_axes[f"yaxis{suffix}"] = _axis("")
    return {
        "data": traces,
        "layout": _layout(560, shapes=shapes, annotations=annotations,
                          grid={"rows": 2, "columns": 2, "pattern": "independent",
                                "ygap": 0.28, "xgap": 0.12},
                          margin={"l": 60, "r": 24, "t": 36, "b": 50}, **layout_axes),
    }


def segments_spec(analysis: dict) -> dict | None:
    segs = analysis.get("segments") or []
    if not segs:
        return None
    labels = [_h(f"{p['segment']}: {p.get('name') or ''}", 40) for p in segs]
    series = [("share of customers", [p.get("share") for p in segs], "#9aa5b1")]
    colors = ["#4e79a7", "#59a14f", "#f28e2b", "#b07aa1"]
    for i, col in enumerate(value_columns(analysis)):
        series.append((f"share of {_h(col, 30)}",
                       [(p.get("value_share") or {}).get(col) for p in segs], colors[i % len(colors)]))
    traces = [{
        "type": "bar", "orientation": "h", "name": name, "y": labels,
        "x": [finite(v) for v in values], "text": [fmt_pct(v) for v in values],
        "textposition": "outside", "marker": {"color": color}, "cliponaxis": False,
        "hovertemplate": f"%{{y}}<br>{name}: %{{text}}<extra></extra>",
    } for name, values, color in series]
    return {
        "data": traces,
        "layout": _layout(max(300, 34 * len(segs) * len(series) + 110), barmode="group",
                          bargap=0.25, legend={"orientation": "h", "y": -0.12},
                          xaxis=_axis("", tickformat=".0%", rangemode="tozero"),
                          yaxis=_axis("", type="category", autorange="reversed", showgrid=False),
                          margin={"l": 70, "r": 50, "t": 16, "b": 40}),
    }


def profile_spec(analysis: dict) -> dict | None:
    prof = _charts(analysis).get("profile")
    if not prof or not prof.get("features"):
        return None
    feats = prof["features"]
    kinds = prof.get("kinds") or ["z"] * len(feats)
    segs = prof.get("segments") or []
    rows = [_h(f"{i}: {s}", 40) for i, s in enumerate(segs)]
    cols = _unique([_h(f, 34) for f in feats])
    z = [[finite(v) for v in row] for row in prof.get("z") or []]
    colour = [[None if v is None else max(-2.0, min(2.0, v)) for v in row] for row in z]
    text, hover = [], []
    for i, row in enumerate(z):
        trow, hrow = [], []
        for j, v in enumerate(row):
            if v is None:
                trow.append("")
                hrow.append(f"{rows[i]}<br>{cols[j]}: n/a")
            elif kinds[j] == "z":
                trow.append(f"{v:+.1f}")
                hrow.append(f"<b>{rows[i]}</b><br>{cols[j]}: z = {v:+.2f}<br>segment mean vs all "
                            "customers, in standard deviations")
            else:
                trow.append(fmt_lift(v + 1))
                hrow.append(f"<b>{rows[i]}</b><br>{cols[j]}: lift {fmt_lift(v + 1)}<br>share in "
                            "the segment ÷ share among all customers")
        text.append(trow)
        hover.append(hrow)
    n_z = sum(1 for k in kinds if k == "z")
    shapes = []
    if 0 < n_z < len(feats):
        shapes.append({"type": "line", "xref": "x", "x0": n_z - 0.5, "x1": n_z - 0.5,
                       "yref": "paper", "y0": 0, "y1": 1, "line": {"color": "#1f2933", "width": 2}})
    return {
        "data": [{
            "type": "heatmap", "z": colour, "x": cols, "y": rows, "text": text,
            "texttemplate": "%{text}", "hovertext": hover, "hoverinfo": "text",
            "colorscale": DIVERGING, "zmin": -2, "zmax": 2, "zmid": 0, "xgap": 1, "ygap": 1,
            "textfont": {"size": 11},
            "colorbar": {"title": {"text": "z / lift−1"}, "thickness": 14},
        }],
        "layout": _layout(max(280, 48 * len(rows) + 170), shapes=shapes,
                          xaxis=_axis("", type="category", tickangle=-40, showgrid=False),
                          yaxis=_axis("", type="category", autorange="reversed", showgrid=False)),
    }


def pca_spec(analysis: dict) -> dict | None:
    pca = _charts(analysis).get("pca") or {}
    if not pca.get("points"):
        return None
    points = _thin(pca["points"], MAX_POINTS)
    names = segment_names(analysis)
    explained = list(pca.get("explained") or []) + [None, None]
    traces = []
    for s in sorted({int(p[2]) for p in points}):
        pts = [p for p in points if int(p[2]) == s]
        traces.append({
            "type": "scatter", "mode": "markers", "name": _h(f"{s}: {names.get(s, f'Segment {s}')}", 44),
            "legendgroup": f"s{s}", "x": [_round(p[0], 5) for p in pts],
            "y": [_round(p[1], 5) for p in pts],
            "marker": {"color": segment_color(s), "size": 6, "opacity": 0.5},
            "hovertemplate": "<b>%{fullData.name}</b><br>PC1 %{x:.2f}, PC2 %{y:.2f}<extra></extra>",
        })
    centers = pca.get("centers") or []
    if centers:
        traces.append({
            "type": "scatter", "mode": "markers+text", "name": "segment centres",
            "x": [finite(c[0]) for c in centers], "y": [finite(c[1]) for c in centers],
            "text": [str(s) for s in range(len(centers))], "textposition": "top right",
            "textfont": {"size": 14, "color": "#1f2933"},
            "customdata": [_h(names.get(s, f"Segment {s}"), 44) for s in range(len(centers))],
            "marker": {"symbol": "x", "size": 16, "color": [segment_color(s) for s in range(len(centers))],
                       "line": {"color": "#1f2933", "width": 1.5}},
            "hovertemplate": "<b>centre of %{text}: %{customdata}</b><extra></extra>",
        })
    titles = [f"PC{i + 1}" + (f" ({fmt_pct(explained[i])} of variance)" if finite(explained[i]) is not None
                              else "") for i in range(2)]
    return {"data": traces, "layout": _layout(460, xaxis=_axis(titles[0]), yaxis=_axis(titles[1]),
                                              annotations=_thin_note(len(points), len(pca["points"])))}


def crosstab_spec(analysis: dict) -> dict | None:
    ct = _charts(analysis).get("crosstab")
    if not ct or not ct.get("shares"):
        return None
    rows = _unique([_h(r, 30) for r in ct.get("row_labels") or []])
    cols = _unique([_h(c, 24) for c in ct.get("col_labels") or []])
    shares = [[finite(v) for v in row] for row in ct["shares"]]
    counts = ct.get("counts") or [[None] * len(cols) for _ in rows]
    kind = crosstab_share_kind(ct)
    row_name, col_name = _h(ct.get("row", ""), 40), _h(ct.get("col", ""), 40)
    of = {"row": f"of this {row_name}", "col": f"of this {col_name}", "total": "of all customers"}[kind]
    text = [[f"{fmt_pct(v)}<br>({fmt_num(c)})" for v, c in zip(srow, crow, strict=True)]
            for srow, crow in zip(shares, counts, strict=True)]
    hover = [[f"<b>{rows[i]} × {cols[j]}</b><br>{fmt_pct(shares[i][j])} {of}<br>"
              f"{fmt_num(counts[i][j])} customers" for j in range(len(cols))] for i in range(len(rows))]
    return {
        "data": [{
            "type": "heatmap", "z": shares, "x": cols, "y": rows, "text": text,
            "texttemplate": "%{text}", "hovertext": hover, "hoverinfo": "text",
            "colorscale": SEQUENTIAL, "zmin": 0, "xgap": 2, "ygap": 2, "textfont": {"size": 11},
            "colorbar": {"title": {"text": "share"}, "tickformat": ".0%", "thickness": 14},
        }],
        "layout": _layout(max(260, 60 * len(rows) + 150),
                          xaxis=_axis(col_name, type="category", showgrid=False, side="bottom"),
                          yaxis=_axis(row_name, type="category", autorange="reversed", showgrid=False)),
    }


#: chart key -> the function building its Plotly spec (see :mod:`custseg.report.charts`)
SPECS = {
    "associations": associations_spec,
    "crosstab": crosstab_spec,
    "selection": selection_spec,
    "dendrogram": dendrogram_spec,
    "segments": segments_spec,
    "profile_heatmap": profile_spec,
    "scatter": scatter_spec,
    "pca": pca_spec,
}


def chart_specs(analysis: dict) -> dict[str, dict]:
    """Every chart as ``{key: {"id", "title", "png", "spec"}}``; ``spec`` is None without data."""
    return {c.key: {"id": c.element_id, "title": c.title, "png": c.figure,
                    "spec": SPECS[c.key](analysis)} for c in CHARTS}
