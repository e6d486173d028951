"""Static report figures (PNG) drawn with matplotlib from the ``analysis`` dict.

Each ``plot_*`` function takes the analysis dict and an optional matplotlib
``Axes`` and returns the ``Figure`` it drew on, so a notebook can place a chart in
its own layout. :func:`write_figures` draws them all into a directory.

matplotlib is imported lazily, and only its object-oriented API is used (no
``pyplot``, no global state): figures are attached to an Agg canvas, so the
backend of the calling program is never changed. Output is deterministic:
the same analysis gives byte-identical PNGs (no timestamps, no "Software"
metadata, a fixed SVG hash salt).

Speed: with ``n_jobs`` of two or more, :func:`write_figures` has joblib worker
processes draw the figures while the caller renders the HTML report
(``meanwhile``), and :func:`start_figures` starts the figures whose data is
known before the run ends (the choice of k and the dendrogram after the final
fit). Point clouds are handed to matplotlib as numpy arrays (never as Python lists of
points).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._parallel import Later, beside_many
from ._common import (
    MEASURE_SYMBOLS,
    association_matrix,
    crosstab_share_kind,
    cut_height,
    finite,
    fmt_lift,
    fmt_num,
    fmt_pct,
    log1p_ticks,
    segment_color,
    segment_names,
    value_columns,
)
from .charts import CHARTS, chart

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "write_figures",
    "plot_associations",
    "plot_scatter",
    "plot_dendrogram",
    "plot_selection",
    "plot_segments",
    "plot_profile_heatmap",
    "plot_pca",
    "plot_crosstab",
    "render_figure",
    "PLOTS",
    "draw_figure",
    "available_figures",
    "start_figures",
    "FIGURE_FILES",
]

DPI = 110

_RC = {
    "svg.hashsalt": "custseg",
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": "#323f4b",
    "xtick.color": "#52606d",
    "ytick.color": "#52606d",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
}


@contextlib.contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(_RC):
        yield


def _text(value: Any, width: int = 38) -> str:
    """A user string made safe for matplotlib: shortened, ``$`` not read as mathtext."""
    text = " ".join(str(value).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("$", r"\$")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _charts(analysis: dict) -> dict:
    return analysis.get("charts") or {}


def _need(data: Any, what: str, why: str) -> Any:
    if data is None:
        raise ValueError(f"analysis has no {what} ({why}): there is nothing to draw")
    return data


def _points(points: list) -> tuple[Any, Any, Any]:
    """``[[x, y, segment], ...]`` as float arrays x, y (None -> NaN) and an int array."""
    import numpy as np

    xys = np.array(points, dtype=float).reshape(-1, 3)
    return xys[:, 0], xys[:, 1], xys[:, 2].astype(np.int64)


def _log1p_array(values: Any) -> Any:
    """Signed log1p of a float array (NaN and +-inf -> NaN, which matplotlib skips)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        out = np.sign(values) * np.log1p(np.abs(values))
    out[~np.isfinite(values)] = np.nan
    return out


# --------------------------------------------------------------------- charts


def plot_associations(analysis: dict, ax: Axes | None = None) -> Figure:
    """Heatmap of the association strength (the ``value``) of every pair of columns.

    Each cell is labelled with its measure: ρ (Spearman, numeric pairs), η
    (correlation ratio, categorical vs numeric) or V (bias-corrected Cramér's V).
    """
    import numpy as np

    m = association_matrix(analysis.get("associations") or [])
    n = len(m["columns"])
    with _style():
        fig, ax = _axes(ax, (max(4.8, 1.1 * n + 2.6), max(3.6, 0.9 * n + 1.8)))
        if n == 0:
            ax.text(0.5, 0.5, "no column pairs", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            return fig
        values = np.array([[math.nan if v is None else v for v in row] for row in m["values"]])
        image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu", vmin=-1, vmax=1)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                v = m["values"][i][j]
                label = f"{m['measures'][i][j]} {v:.2f}" if v is not None else "n/a"
                dark = v is not None and abs(v) > 0.6
                ax.text(j, i, label, ha="center", va="center", fontsize=8,
                        color="white" if dark else "#1f2933")
        names = [_text(c, 22) for c in m["columns"]]
        ax.set_xticks(range(n), names, rotation=30, ha="right")
        ax.set_yticks(range(n), names)
        ax.spines[:].set_visible(False)
        used = sorted({p["measure"] for p in analysis.get("associations") or []})
        legend = "; ".join(f"{MEASURE_SYMBOLS[u][0]} = {MEASURE_SYMBOLS[u][1]}"
                           for u in used if u in MEASURE_SYMBOLS)
        ax.set_title(chart("associations").title)
        ax.set_xlabel(legend, fontsize=8)
        fig.colorbar(image, ax=ax, shrink=0.8, label="association strength")
    return fig


def plot_scatter(analysis: dict, ax: Axes | None = None) -> Figure:
    """Engagement vs value of (sampled) customers on log1p axes, coloured by segment."""
    import numpy as np

    sc = _need(_charts(analysis).get("scatter"), "scatter data", "an aggregate-only run")
    names = segment_names(analysis)
    x, y, seg = _points(sc["points"])
    with _style():
        fig, ax = _axes(ax, (7.2, 4.8))
        lx, ly = _log1p_array(x), _log1p_array(y)
        for s in np.unique(seg).tolist():
            pick = seg == s
            ax.scatter(lx[pick], ly[pick], s=9, alpha=0.6, color=segment_color(s), linewidths=0,
                       label=_text(f"{s}: {names.get(s, f'Segment {s}')}"), rasterized=True)
        for axis, values in ((ax.xaxis, x), (ax.yaxis, y)):
            finite_values = values[np.isfinite(values)]
            ticks, labels = log1p_ticks([float(finite_values.max())] if len(finite_values) else [])
            axis.set_ticks(ticks, labels)
        ax.set_xlabel(_text(sc.get("x_label") or sc.get("x") or "x", 60) + " (log scale)")
        ax.set_ylabel(_text(sc.get("y_label") or sc.get("y") or "y", 60) + " (log scale)")
        title = chart("scatter").title
        if sc.get("sampled"):
            title += f" (sample of {len(sc['points']):,} of {int(sc.get('n_total') or 0):,})"
        ax.set_title(title)
        ax.grid(alpha=0.25)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=2, title="segment")
    return fig


def plot_dendrogram(analysis: dict, ax: Axes | None = None) -> Figure:
    """Ward dendrogram from scipy's ``icoord``/``dcoord``, with the cut for the chosen k."""
    dendro = _need(_charts(analysis).get("dendrogram"), "dendrogram", "no hierarchy was computed")
    k = (analysis.get("selection") or {}).get("k") or (analysis.get("overview") or {}).get("k")
    leaves = dendro.get("leaf_labels") or []
    with _style():
        fig, ax = _axes(ax, (max(6.5, 0.18 * len(leaves) + 2), 4.2))
        for xs, ys in zip(dendro["icoord"], dendro["dcoord"], strict=True):
            ax.plot(xs, ys, color="#52606d", linewidth=1.1)
        ax.set_xticks([5 + 10 * i for i in range(len(leaves))], [_text(t, 16) for t in leaves],
                      rotation=90, fontsize=7)
        if leaves:
            ax.set_xlim(0, 10 * len(leaves))
        cut = cut_height(dendro, k)
        if cut is not None:
            ax.axhline(cut, color="#e15759", linestyle="--", linewidth=1.2)
            ax.text(0.99, cut, f" cut: k = {k}", color="#e15759", ha="right", va="bottom",
                    transform=ax.get_yaxis_transform(), fontsize=8, fontweight="bold")
        method = dendro.get("method") or (analysis.get("selection") or {}).get("ward_method") or ""
        ax.set_title(chart("dendrogram").title + (f" ({_text(method, 20)})" if method else ""))
        ax.set_ylabel("merge height (Ward distance)")
        ax.set_xlabel("leaves (a number in brackets is a group of that many customers)")
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="x", length=0)
    return fig


_METRICS = [
    ("inertia", "Within-cluster sum of squares", "elbow", "elbow"),
    ("silhouette", "Silhouette (higher is better)", "silhouette", "best"),
    ("calinski_harabasz", "Calinski-Harabasz (higher is better)", "calinski_harabasz", "best"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)", "davies_bouldin", "best"),
]


def _selection_panel(ax: Axes, rows: list[dict], key: str, title: str, pick: int | None,
                     chosen: int | None, word: str) -> None:
    pts = [(r["k"], finite(r.get(key))) for r in rows]
    pts = [(k, v) for k, v in pts if v is not None]
    ax.plot([k for k, _ in pts], [v for _, v in pts], marker="o", markersize=4, color="#4e79a7")
    if chosen is not None:
        ax.axvline(chosen, color="#e15759", linewidth=1.2, alpha=0.8)
    for k, v in pts:
        if k == pick:
            ax.plot([k], [v], marker="*", markersize=13, color="#f28e2b", zorder=5,
                    label=f"{word}: k = {k}")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([k for k, _ in pts])
    ax.grid(alpha=0.25)
    if pick is not None:
        ax.legend(loc="best", fontsize=7)


def plot_selection(analysis: dict, ax: Axes | Sequence[Axes] | None = None) -> Figure:
    """Choice of k: the elbow (inertia vs k) and silhouette, Calinski-Harabasz and
    Davies-Bouldin in small multiples; the chosen k is a red line, each criterion's
    pick a star.

    ``ax`` may be one Axes (then only the elbow panel is drawn on it) or four.
    """
    sel = analysis.get("selection") or {}
    rows = sorted(sel.get("rows") or [], key=lambda r: r["k"])
    picks = sel.get("picks") or {}
    chosen = sel.get("k")
    with _style():
        if ax is None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            fig = Figure(figsize=(8.0, 5.4), layout="constrained")
            FigureCanvasAgg(fig)
            axes = list(fig.subplots(2, 2).ravel())
            fig.suptitle(chart("selection").title + f" (chosen k = {chosen}, red line)",
                         fontsize=11, fontweight="bold", x=0.01, ha="left")
        elif isinstance(ax, Sequence):
            axes = list(ax)[:4]
            fig = axes[0].figure
        else:
            axes = [ax]
            fig = ax.figure
        for panel, (key, title, crit, word) in zip(axes, _METRICS, strict=False):
            _selection_panel(panel, rows, key, title, picks.get(crit), chosen, word)
        for panel in axes[-2:]:
            panel.set_xlabel("k (number of segments)")
    return fig


def plot_segments(analysis: dict, ax: Axes | None = None) -> Figure:
    """Per segment: its share of customers next to its share of each value column."""
    segs = analysis.get("segments") or []
    cols = value_columns(analysis)
    series = [("customers", [p.get("share") for p in segs])]
    series += [(f"{c}", [(p.get("value_share") or {}).get(c) for p in segs]) for c in cols]
    colors = ["#9aa5b1", "#4e79a7", "#59a14f", "#f28e2b", "#b07aa1"]
    height = 0.8 / max(1, len(series))
    with _style():
        fig, ax = _axes(ax, (7.5, max(2.8, 0.55 * len(segs) * len(series) + 1.4)))
        for j, (label, shares) in enumerate(series):
            ys = [i + (j - (len(series) - 1) / 2) * height for i in range(len(segs))]
            vals = [finite(v) or 0.0 for v in shares]
            word = "share of customers" if j == 0 else f"share of {_text(label, 24)}"
            bars = ax.barh(ys, vals, height=height * 0.92, color=colors[j % len(colors)], label=word)
            ax.bar_label(bars, [fmt_pct(v) for v in shares], padding=3, fontsize=7.5)
        ax.set_yticks(range(len(segs)),
                      [_text(f"{p['segment']}: {p.get('name') or ''}", 34) for p in segs])
        ax.invert_yaxis()
        top = max([finite(v) or 0.0 for _, s in series for v in s] + [0.01])
        ax.set_xlim(0, top * 1.18)
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
        ax.set_title(chart("segments").title)
        ax.legend(loc="lower right")
        ax.grid(axis="x", alpha=0.25)
    return fig


def plot_profile_heatmap(analysis: dict, ax: Axes | None = None) -> Figure:
    """Segments x features: z-scores of numeric columns and lifts of category levels.

    The colour is the z-score or ``lift - 1`` clipped at ±2 (blue above the
    population, red below); cells are labelled ``+1.2`` (z) or ``1.80×`` (lift).
    """
    import numpy as np

    prof = _need(_charts(analysis).get("profile"), "profile matrix", "no segments")
    feats = prof.get("features") or []
    kinds = prof.get("kinds") or ["z"] * len(feats)
    z = np.array([[math.nan if finite(v) is None else float(v) for v in row]
                  for row in prof.get("z") or []], dtype=float).reshape(-1, len(feats))
    segs = prof.get("segments") or []
    with _style():
        fig, ax = _axes(ax, (max(6.5, 0.62 * len(feats) + 3.2), max(2.6, 0.5 * len(segs) + 2.2)))
        image = ax.imshow(np.ma.masked_invalid(np.clip(z, -2, 2)), cmap="RdBu", vmin=-2, vmax=2,
                          aspect="auto")
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                v = z[i, j]
                if math.isnan(v):
                    continue
                text = f"{v:+.1f}" if kinds[j] == "z" else fmt_lift(v + 1)
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if abs(v) > 1.3 else "#1f2933")
        ax.set_xticks(range(len(feats)), [_text(f, 28) for f in feats], rotation=40, ha="right")
        ax.set_yticks(range(len(segs)), [_text(f"{i}: {s}", 34) for i, s in enumerate(segs)])
        n_z = sum(1 for k in kinds if k == "z")
        if 0 < n_z < len(feats):
            ax.axvline(n_z - 0.5, color="#1f2933", linewidth=1.5)
        ax.spines[:].set_visible(False)
        ax.set_title(chart("profile_heatmap").title)
        fig.colorbar(image, ax=ax, shrink=0.85, label="z-score / lift − 1 (clipped at ±2)")
    return fig


def plot_pca(analysis: dict, ax: Axes | None = None) -> Figure:
    """Customers on the first two principal components, coloured by segment; centroids marked."""
    pca = _charts(analysis).get("pca") or {}
    points = _need(pca.get("points"), "projected points", "an aggregate-only run")
    import numpy as np

    names = segment_names(analysis)
    explained = pca.get("explained") or [None, None]
    x, y, seg = _points(points)
    with _style():
        fig, ax = _axes(ax, (7.2, 4.8))
        for s in np.unique(seg).tolist():
            pick = seg == s
            ax.scatter(x[pick], y[pick], s=9, alpha=0.45, linewidths=0, color=segment_color(s),
                       label=_text(f"{s}: {names.get(s, f'Segment {s}')}"), rasterized=True)
        for s, center in enumerate(pca.get("centers") or []):
            ax.scatter([center[0]], [center[1]], s=160, marker="X", color=segment_color(s),
                       edgecolors="#1f2933", linewidths=1.2, zorder=5)
            ax.annotate(str(s), (center[0], center[1]), xytext=(7, 7), textcoords="offset points",
                        fontsize=9, fontweight="bold")
        for i, axis_label in enumerate((ax.set_xlabel, ax.set_ylabel)):
            share = finite(explained[i]) if i < len(explained) else None
            axis_label(f"PC{i + 1}" + (f" ({fmt_pct(share)} of variance)" if share is not None else ""))
        ax.set_title(chart("pca").title + " (X = segment centre)")
        ax.grid(alpha=0.25)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=2, title="segment")
    return fig


def plot_crosstab(analysis: dict, ax: Axes | None = None) -> Figure:
    """Heatmap of the two-attribute crosstab (shares, counts in each cell)."""
    import numpy as np

    ct = _need(_charts(analysis).get("crosstab"), "crosstab", "fewer than two attributes")
    shares = np.array([[finite(v) or 0.0 for v in row] for row in ct["shares"]], dtype=float)
    counts = ct.get("counts") or [[None] * shares.shape[1] for _ in range(shares.shape[0])]
    kind = crosstab_share_kind(ct)
    rows, cols = ct.get("row_labels") or [], ct.get("col_labels") or []
    with _style():
        fig, ax = _axes(ax, (max(6.0, 0.95 * len(cols) + 3), max(2.8, 0.55 * len(rows) + 2)))
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=max(float(shares.max()), 1e-9),
                          aspect="auto")
        for i in range(shares.shape[0]):
            for j in range(shares.shape[1]):
                dark = shares[i, j] > 0.6 * shares.max()
                ax.text(j, i, f"{fmt_pct(shares[i, j])}\n({fmt_num(counts[i][j])})", ha="center",
                        va="center", fontsize=7, color="white" if dark else "#1f2933")
        ax.set_xticks(range(len(cols)), [_text(c, 18) for c in cols], rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), [_text(r, 26) for r in rows])
        ax.set_xlabel(_text(ct.get("col", ""), 40))
        ax.set_ylabel(_text(ct.get("row", ""), 40))
        ax.spines[:].set_visible(False)
        word = {"row": f"share of each {_text(ct.get('row', 'row'), 30)}",
                "col": f"share of each {_text(ct.get('col', 'column'), 30)}",
                "total": "share of all customers"}[kind]
        ax.set_title(f"{_text(ct.get('row', ''), 30)} × {_text(ct.get('col', ''), 30)} ({word})")
        fig.colorbar(image, ax=ax, shrink=0.85, format=lambda v, _pos: f"{100 * v:.0f}%")
    return fig


# ---------------------------------------------------------------------- writer


#: chart key -> its matplotlib plot function (see :mod:`custseg.report.charts`)
PLOTS: dict[str, Callable[..., Figure]] = {
    "associations": plot_associations,
    "scatter": plot_scatter,
    "dendrogram": plot_dendrogram,
    "selection": plot_selection,
    "segments": plot_segments,
    "profile_heatmap": plot_profile_heatmap,
    "pca": plot_pca,
    "crosstab": plot_crosstab,
}

#: figure file -> (plot function, does the analysis have data for it?), in file order
FIGURE_FILES: dict[str, tuple[Callable[..., Figure], Callable[[dict], bool]]] = {
    c.figure: (PLOTS[c.key], c.available) for c in CHARTS}


def render_figure(analysis: dict, name: str) -> bytes:
    """Figure ``name`` of :data:`FIGURE_FILES` drawn from ``analysis``, as PNG bytes."""
    import io

    plot, _ = FIGURE_FILES[name]
    buffer = io.BytesIO()
    with _style():
        fig = plot(analysis)
        fig.savefig(buffer, dpi=DPI, format="png", metadata={"Software": None})
    fig.clear()
    return buffer.getvalue()


def draw_figure(analysis: dict, out_dir: Path, name: str) -> None:
    """Draw one figure of :data:`FIGURE_FILES` as ``out_dir / name`` (PNG)."""
    (Path(out_dir) / name).write_bytes(render_figure(analysis, name))


def available_figures(analysis: dict) -> list[str]:
    """The names of :data:`FIGURE_FILES` that ``analysis`` (or a part of it) has data for."""
    return [name for name, (_, available) in FIGURE_FILES.items() if available(analysis)]


def start_figures(analysis: dict, names: Sequence[str], *, n_jobs: int | None = None
                  ) -> dict[str, Later]:
    """Start drawing figures ``names`` of ``analysis`` on joblib worker processes.

    With two jobs or more the workers draw while the caller goes on; with one job
    each figure is drawn when its value (PNG bytes) is asked for. ``analysis`` may
    be a part of the whole (see :func:`custseg.analysis.partial_analysis`): a
    figure drawn from a part is the same as one drawn from the whole.
    """
    laters = beside_many([(render_figure, (analysis, name), {}) for name in names],
                         n_jobs=n_jobs, prefer="processes")
    return dict(zip(names, laters, strict=True))


def write_figures(analysis: dict, out_dir: Path, *, n_jobs: int | None = None,
                  meanwhile: Callable[[], Any] | None = None,
                  drawn: Mapping[str, Later] | None = None) -> list[str]:
    """Draw every figure the analysis has data for, as PNG files in ``out_dir``.

    Parameters
    ----------
    analysis : dict
        The analysis dict (see :mod:`custseg.report`).
    out_dir : Path
        Directory to write into (created if missing), normally ``<run>/figures``.
    n_jobs : int, optional
        With two or more, the figures are drawn by joblib worker processes while
        ``meanwhile`` runs here; None or 1: all drawn in the calling thread. The
        files are byte-identical either way.
    meanwhile : callable, optional
        Called with no argument once the figures are started (e.g. to render the
        HTML report while they are drawn).
    drawn : mapping, optional
        Figures already started (:func:`start_figures`) from a part of the same
        analysis, by name; they are not drawn again.

    Returns
    -------
    list of str
        The file names written, in a fixed order (a subset of :data:`FIGURE_FILES`:
        ``scatter.png`` and ``pca.png`` are skipped when the run kept no row-level
        points, ``crosstab.png`` when there is no crosstab, and so on).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = available_figures(analysis)
    drawn = {name: later for name, later in (drawn or {}).items() if name in names}
    pending = {**drawn, **start_figures(analysis, [n for n in names if n not in drawn],
                                        n_jobs=n_jobs)}
    if meanwhile is not None:
        meanwhile()
    for name in names:
        (out_dir / name).write_bytes(pending[name].result())
    return names
