"""Render a run's ``analysis`` dict (``analysis.json``) as reports.

The analysis is built by :func:`custseg.analysis.build_analysis`; this package only
turns that plain dict into outputs, and never computes statistics itself:

* :func:`custseg.report.figures.write_figures`: static PNG figures (matplotlib),
  each also available as a ``plot_*(analysis, ax=None) -> Figure`` function;
* :func:`custseg.report.html.render_html`: one self-contained, offline HTML file
  with interactive Plotly charts;
* :func:`custseg.report.markdown.render_markdown`: the same content as Markdown,
  referring to ``figures/*.png``.

The three names are also importable from here (lazily, so importing
``custseg.report`` loads neither matplotlib nor plotly).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["render_html", "render_markdown", "write_figures"]

_HOME = {"render_html": ".html", "render_markdown": ".markdown", "write_figures": ".figures"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
