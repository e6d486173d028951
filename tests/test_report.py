"""The report renderers: HTML (structure, offline, escaping), Markdown, static figures."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from custseg.report import _common as c
from custseg.report.figures import FIGURE_FILES, plot_pca, plot_scatter, plot_segments, write_figures
from custseg.report.html import render_html, script_json
from custseg.report.markdown import md, render_markdown
from report_fixture import XSS_IMG, XSS_SCRIPT, build_analysis

SECTIONS = ["overview", "data-quality", "question-1", "question-2", "choice-of-k", "segments",
            "warnings", "methods"]
ALL_FIGURES = ["associations.png", "scatter.png", "dendrogram.png", "selection.png", "segments.png",
               "profile_heatmap.png", "pca.png", "crosstab.png"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTLY_BANNER = "* plotly.js v"


class _Collector(HTMLParser):
    """Records ids, start/end tag counts, URL-bearing attributes and script bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.starts: dict[str, int] = {}
        self.ends: dict[str, int] = {}
        self.urls: list[tuple[str, str, str]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.starts[tag] = self.starts.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
            if name in ("src", "href", "action", "poster", "data", "srcset", "formaction"):
                self.urls.append((tag, name, value or ""))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        self.ends[tag] = self.ends.get(tag, 0) + 1
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def analysis() -> dict:
    return build_analysis()


@pytest.fixture(scope="module")
def html(analysis) -> str:
    return render_html(analysis)


@pytest.fixture(scope="module")
def hostile() -> dict:
    return build_analysis(hostile=True, aggregate_only=True)


@pytest.fixture(scope="module")
def hostile_html(hostile) -> str:
    return render_html(hostile)


def _chart_calls(parsed: _Collector) -> list[tuple[str, dict]]:
    """(element id, spec) of every ``custsegPlot(id, spec);`` inline script."""
    calls = []
    for body in parsed.scripts:
        m = re.fullmatch(r"custsegPlot\((\"[^\"]*\"), (\{.*\})\);", body.strip(), flags=re.S)
        if m:
            calls.append((json.loads(m.group(1)), json.loads(m.group(2))))
    return calls


# ------------------------------------------------------------------------- HTML


def test_html_parses_and_has_every_section(html):
    parsed = _parse(html)
    assert html.startswith("<!DOCTYPE html>")
    for section in SECTIONS:
        assert section in parsed.ids, section
    assert parsed.starts["section"] == parsed.ends["section"] == len(SECTIONS)
    assert parsed.starts["table"] == parsed.ends["table"]
    assert len(parsed.ids) == len(set(parsed.ids)), "duplicate element ids"
    for link in [v for tag, attr, v in parsed.urls if tag == "a" and v.startswith("#")]:
        assert link[1:] in parsed.ids, f"table-of-contents link to a missing id: {link}"


def test_html_needs_no_network(html):
    parsed = _parse(html)
    external = [u for u in parsed.urls if re.match(r"\s*(https?:)?//", u[2], flags=re.I)]
    assert external == []
    assert "link" not in parsed.starts  # no stylesheet or font links
    assert "@import" not in html and "url(http" not in html
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert styles and all("http" not in s for s in styles)


def test_html_size_and_plotly_inlined_once(html, analysis):
    assert len(html.encode("utf-8")) < 10 * 1024 * 1024
    assert html.count(PLOTLY_BANNER) == 1
    parsed = _parse(html)
    calls = _chart_calls(parsed)
    assert [i for i, _ in calls] == ["chart-associations", "chart-crosstab", "chart-selection",
                                     "chart-dendrogram", "chart-segments", "chart-profile",
                                     "chart-scatter", "chart-pca"]
    assert all(spec["data"] and "layout" in spec for _, spec in calls)
    assert "<noscript>" in html and "figures/" in html


def test_html_chart_data_matches_the_analysis(html, analysis):
    specs = dict(_chart_calls(_parse(html)))
    scatter = specs["chart-scatter"]["data"]
    assert sum(len(t["x"]) for t in scatter) == len(analysis["charts"]["scatter"]["points"])
    assert len(scatter) == analysis["overview"]["k"]
    chosen = analysis["selection"]["k"]
    shapes = specs["chart-selection"]["layout"]["shapes"]
    assert {s["x0"] for s in shapes} == {chosen}
    seg = specs["chart-segments"]["data"][0]
    assert seg["x"] == pytest.approx([p["share"] for p in analysis["segments"]])


def test_html_sections_show_the_numbers(html, analysis):
    text = " ".join(" ".join(_parse(html).text).split())
    assert analysis["overview"]["k_reason"] in text
    for q in analysis["question1"] + analysis["question2"]:
        assert " ".join(q["verdict"].split()) in text
    for p in analysis["segments"]:
        assert p["name"] in text
    assert "heuristics" in text
    assert "Synthetic data." in text
    assert f"{analysis['overview']['n_customers']:,}" in text
    assert 'class="chosen"' in html


def test_html_escapes_hostile_strings(hostile_html):
    page = hostile_html
    for raw in (XSS_IMG, XSS_SCRIPT, "<img", "<script>alert"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = _parse(page)
    assert "img" not in parsed.starts
    # config, plotly.js, report.js, then one script per chart: nothing broke out of a script
    calls = _chart_calls(parsed)
    assert parsed.starts["script"] == 3 + len(calls)
    # inside the chart data, labels are HTML-escaped for Plotly's text renderer
    dumped = json.dumps([spec for _, spec in calls])
    assert "&lt;img src=x onerror=alert(1)&gt;" in dumped
    assert XSS_IMG not in dumped


def test_html_aggregate_only_has_no_point_charts(hostile_html):
    ids = [i for i, _ in _chart_calls(_parse(hostile_html))]
    assert "chart-scatter" not in ids and "chart-pca" not in ids
    assert "aggregate-only" in hostile_html


def test_html_thins_large_point_clouds(analysis):
    from custseg.report._plotly import MAX_POINTS

    big = json.loads(json.dumps(analysis))
    points = big["charts"]["scatter"]["points"]
    big["charts"]["scatter"].update(points=points * 125, n_total=len(points) * 125, sampled=True)
    page = render_html(big)
    assert len(page.encode("utf-8")) < 10 * 1024 * 1024
    scatter = dict(_chart_calls(_parse(page)))["chart-scatter"]
    assert sum(len(t["x"]) for t in scatter["data"]) == MAX_POINTS
    assert f"showing {MAX_POINTS:,} of {len(points) * 125:,}" in scatter["layout"]["annotations"][0]["text"]


def test_html_is_deterministic(analysis):
    assert render_html(analysis) == render_html(build_analysis())


def test_html_renders_a_sparse_analysis():
    sparse = {"title": "Empty run", "synthetic": False, "aggregate_only": True,
              "custseg_version": "0", "overview": {"n_customers": 0, "k": 2, "k_reason": "",
                                                    "key_findings": []},
              "charts": {}}
    page = render_html(sparse)
    parsed = _parse(page)
    assert all(s in parsed.ids for s in SECTIONS)
    assert _chart_calls(parsed) == []
    text = " ".join(parsed.text)
    assert "Undefined" not in text and "None" not in text


@pytest.mark.parametrize("value", [
    "</script><script>alert(1)</script>",
    "<!-- x --> & \u2028\u2029 'quotes' \"double\"",
    {"nested": ["</SCRIPT>", 1.5, None, True]},
])
def test_script_json_is_inert_and_round_trips(value):
    text = str(script_json(value))
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == value


def test_script_json_turns_nan_into_null():
    assert json.loads(str(script_json({"x": float("nan"), "y": [float("inf")]}))) == {"x": None,
                                                                                       "y": [None]}


# --------------------------------------------------------------------- Markdown


def _table_rows(text: str) -> list[list[str]]:
    """Tables of a Markdown text as lists of rows (cells split on unescaped pipes)."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(re.split(r"(?<!\\)\|", line)[1:-1])
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_markdown_has_every_section_and_figure(analysis):
    text = render_markdown(analysis)
    for heading in ("## Overview", "## Data quality", "## Question 1", "## Question 2",
                    "## Choice of k", "## Segments", "## Warnings", "## Methods"):
        assert heading in text
    for name in ALL_FIGURES:
        assert f"](figures/{name})" in text
    assert "heuristics" in text
    assert text == render_markdown(build_analysis())


def test_markdown_escapes_hostile_strings(hostile):
    text = render_markdown(hostile)
    for raw in (XSS_IMG, XSS_SCRIPT, "<img", "<script", "</script"):
        assert raw not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "](figures/scatter.png)" not in text and "](figures/pca.png)" not in text
    # a segment name with a pipe and a newline must not split a table row
    for rows in _table_rows(text):
        assert len({len(r) for r in rows}) == 1, rows


def test_markdown_renders_to_html_without_hostile_markup(hostile):
    markdown_it = pytest.importorskip("markdown_it")
    # raw HTML is allowed by the renderer, so any that the report emitted would survive
    renderer = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    parsed = _parse(renderer.render(render_markdown(hostile)))
    assert "script" not in parsed.starts
    images = [v for tag, attr, v in parsed.urls if tag == "img"]
    assert len(images) == parsed.starts["img"] == 6  # the figures, and nothing else
    assert all(re.fullmatch(r"figures/[a-z_]+\.png", v) for v in images)
    assert parsed.starts["table"] >= 10
    text = " ".join(parsed.text)
    assert XSS_IMG in text and XSS_SCRIPT in text


@pytest.mark.parametrize(("raw", "expected"), [
    ("a|b", "a\\|b"),
    ("two\nlines", "two lines"),
    ("<b>&", "&lt;b&gt;&amp;"),
    ("*bold* _it_ [x](y) `c`", "\\*bold\\* \\_it\\_ \\[x\\](y) \\`c\\`"),
    ("plain text 12.5%", "plain text 12.5%"),
])
def test_md_escapes(raw, expected):
    assert md(raw) == expected


# ---------------------------------------------------------------------- figures


def test_write_figures_writes_all_pngs(tmp_path, analysis):
    written = write_figures(analysis, tmp_path / "figures")
    assert written == ALL_FIGURES
    for name in ALL_FIGURES:
        data = (tmp_path / "figures" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000


def test_write_figures_skips_point_charts_when_aggregate_only(tmp_path, hostile):
    written = write_figures(hostile, tmp_path)
    assert written == [n for n in ALL_FIGURES if n not in ("scatter.png", "pca.png")]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)


def test_write_figures_is_byte_identical(tmp_path, hostile):
    first = write_figures(hostile, tmp_path / "a")
    write_figures(hostile, tmp_path / "b")
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_write_figures_with_worker_processes_is_byte_identical(tmp_path, analysis):
    order = []
    one = write_figures(analysis, tmp_path / "one")
    two = write_figures(analysis, tmp_path / "two", n_jobs=2,
                        meanwhile=lambda: order.append("meanwhile"))
    assert one == two == ALL_FIGURES and order == ["meanwhile"]
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


EARLY = ["associations.png", "dendrogram.png", "selection.png", "crosstab.png"]


def _part(analysis: dict) -> dict:
    """What custseg.analysis.partial_analysis gives after the profiles, from a whole analysis."""
    charts = analysis["charts"]
    return {"selection": analysis["selection"], "associations": analysis["associations"],
            "charts": {"dendrogram": charts["dendrogram"], "crosstab": charts["crosstab"]}}


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_figures_started_from_a_part_are_the_figures_of_the_whole(tmp_path, analysis, n_jobs):
    from custseg.report.figures import available_figures, start_figures

    part = _part(analysis)
    assert available_figures(part) == EARLY  # what the part has data for, in file order
    early = start_figures(part, EARLY, n_jobs=n_jobs)
    drawn = []
    for name, later in early.items():  # spy: the early figures are not drawn again
        real = later.result
        later.result = lambda real=real, name=name: drawn.append(name) or real()
    assert write_figures(analysis, tmp_path / "early", drawn=early, n_jobs=n_jobs) == ALL_FIGURES
    assert drawn == EARLY
    write_figures(analysis, tmp_path / "whole")
    for name in ALL_FIGURES:
        assert (tmp_path / "early" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_every_chart_has_both_renderers_and_nothing_else():
    from custseg.report._plotly import SPECS
    from custseg.report.charts import CHARTS
    from custseg.report.figures import PLOTS

    keys = [c.key for c in CHARTS]
    assert list(PLOTS) == keys and sorted(SPECS) == sorted(keys)
    assert [c.figure for c in CHARTS] == ALL_FIGURES
    assert len({c.element_id for c in CHARTS}) == len(CHARTS)


def test_plot_functions_draw_on_a_given_axes(analysis):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert plot_segments(analysis, ax=ax) is fig
    assert len(ax.patches) > 0
    assert set(FIGURE_FILES) == set(ALL_FIGURES)


@pytest.mark.parametrize("plot", [plot_scatter, plot_pca])
def test_point_plots_refuse_aggregate_only(plot, hostile):
    with pytest.raises(ValueError, match="aggregate-only"):
        plot(hostile)


# ------------------------------------------------------------------- formatting


@pytest.mark.parametrize(("fn", "value", "expected"), [
    (c.fmt_num, 1234.56, "1,235"),
    (c.fmt_num, 162.24, "162.2"),
    (c.fmt_num, 4.271, "4.27"),
    (c.fmt_num, 0.03123, "0.0312"),
    (c.fmt_num, 119.0, "119"),
    (c.fmt_num, None, "–"),
    (c.fmt_num, float("nan"), "–"),
    (c.fmt_int, 3834, "3,834"),
    (c.fmt_pct, 0.4834, "48.3%"),
    (c.fmt_pct, 0.0004, "<0.1%"),
    (c.fmt_p, 0.0004, "< 0.001"),
    (c.fmt_p, 0.0321, "0.032"),
    (c.fmt_p, 0.2, "0.20"),
    (c.fmt_p, 0.999, "> 0.99"),
    (c.fmt_p_eq, 0.0091, "p = 0.0091"),
    (c.fmt_p_eq, 1e-9, "p < 0.001"),
    (c.fmt_lift, 1.8234, "1.82×"),
])
def test_formats(fn, value, expected):
    assert fn(value) == expected


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("customer_share", 0.0962, "9.6%"),
    ("value_index", 2.254, "2.25×"),
    ("engagement_z", -0.383, "-0.38"),
    ("median_vs_rest_pct", 28.3, "+28%"),
    ("p_adjusted", 6.4e-56, "< 0.001"),
    ("n", 1365, "1,365"),
    ("median", 149.99, "150.0"),
])
def test_evidence_formats(name, value, expected):
    assert c.fmt_evidence(name, value) == expected


def test_cut_height_falls_back_to_the_merge_heights():
    dendro = {"dcoord": [[0, 1, 1, 0], [0, 2, 2, 0], [1, 5, 5, 2]], "cut_height": None}
    assert c.cut_height(dendro, 2) == pytest.approx((5 + 2) / 2)
    assert c.cut_height({**dendro, "cut_height": 3.0}, 2) == 3.0


def test_report_package_exports_lazily():
    import custseg.report as report

    assert report.render_html is render_html
    assert Path(report.__file__).name == "__init__.py"
