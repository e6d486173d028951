"""The report's charts: one registry of what each is, where it goes and when it has data.

Every chart of a run's report is listed once here, in the order of its figure
files. Each is drawn two ways from the analysis dict: interactively in
``report.html`` (a Plotly spec from :data:`custseg.report._plotly.SPECS`) and as
a PNG in ``figures/`` for ``report.md`` (matplotlib, from
:data:`custseg.report.figures.PLOTS`); both renderer tables are keyed by
:attr:`Chart.key`, and a test checks that each covers exactly these charts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Chart", "CHARTS", "chart", "chart_of_figure"]


@dataclass(frozen=True)
class Chart:
    """One chart of the report."""

    key: str  # its name in the analysis and the renderer tables
    title: str  # its caption title, in both reports
    element_id: str  # the id of its element in report.html
    figure: str  # its file in figures/
    available: Callable[[dict], bool]  # does an analysis (or a part of one) have data for it?


def _charts(analysis: dict) -> dict:
    return analysis.get("charts") or {}


def _chart_has(name: str, key: str) -> Callable[[dict], bool]:
    return lambda a: bool((_charts(a).get(name) or {}).get(key))


CHARTS: tuple[Chart, ...] = (
    Chart("associations", "How strongly the columns are related", "chart-associations",
          "associations.png", lambda a: bool(a.get("associations"))),
    Chart("scatter", "Engagement vs value by segment", "chart-scatter", "scatter.png",
          _chart_has("scatter", "points")),
    Chart("dendrogram", "Ward hierarchy and the cut for k", "chart-dendrogram", "dendrogram.png",
          _chart_has("dendrogram", "icoord")),
    Chart("selection", "Choice of k: elbow and quality criteria", "chart-selection",
          "selection.png", lambda a: bool((a.get("selection") or {}).get("rows"))),
    Chart("segments", "Share of customers vs share of value", "chart-segments", "segments.png",
          lambda a: bool(a.get("segments"))),
    Chart("profile_heatmap", "What sets each segment apart", "chart-profile",
          "profile_heatmap.png", _chart_has("profile", "features")),
    Chart("pca", "Segments in a 2-D projection", "chart-pca", "pca.png", _chart_has("pca", "points")),
    Chart("crosstab", "Cross-tabulation", "chart-crosstab", "crosstab.png",
          _chart_has("crosstab", "shares")),
)

_BY_KEY = {c.key: c for c in CHARTS}
_BY_FIGURE = {c.figure: c for c in CHARTS}


def chart(key: str) -> Chart:
    """The chart registered as ``key``."""
    return _BY_KEY[key]


def chart_of_figure(name: str) -> Chart:
    """The chart drawn in the figure file ``name`` (e.g. ``"pca.png"``)."""
    return _BY_FIGURE[name]
