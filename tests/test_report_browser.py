"""The HTML report in a real browser: headless Chromium driven by Playwright.

Skips when Chromium or the playwright package is missing, unless
``CUSTSEG_REQUIRE_ALL=1`` (then it fails). One browser serves every test.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from conftest import require_or_skip
from custseg.report.html import render_html
from report_fixture import XSS_IMG, XSS_SCRIPT, build_analysis

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ALL_CHARTS = ["chart-associations", "chart-crosstab", "chart-selection", "chart-dendrogram",
              "chart-segments", "chart-profile", "chart-scatter", "chart-pca"]


def _chromium() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require_or_skip(sync_playwright is not None, "the playwright package is not installed")
    require_or_skip(Path(_chromium()).is_file(), f"chromium not found at {_chromium()}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _Page:
    """A loaded report and everything it did: console errors, page errors, dialogs, requests."""

    def __init__(self, browser, path: Path) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri(), wait_until="load")
        # charts are drawn on DOMContentLoaded; wait until every chart div holds its svg
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('div.chart')].every(d => d.querySelector('.main-svg'))",
            timeout=15_000)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def report_page(browser, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(build_analysis()), encoding="utf-8")
    page = _Page(browser, path)
    yield page
    page.close()


@pytest.fixture(scope="module")
def hostile_page(browser, tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "report.html"
    path.write_text(render_html(build_analysis(hostile=True, aggregate_only=True)), encoding="utf-8")
    page = _Page(browser, path)
    yield page
    page.close()


def _chart_sizes(page) -> dict[str, list[float]]:
    return page.eval_on_selector_all(
        "div.chart",
        """els => Object.fromEntries(els.map(el => {
              const svg = el.querySelector('.main-svg');
              const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
              return [el.id, [box.width, box.height, el.querySelectorAll('svg *').length]];
           }))""")


def test_report_loads_without_errors_or_network(report_page):
    assert report_page.errors == []
    assert report_page.dialogs == []
    assert all(url.startswith("file://") for url in report_page.requests), report_page.requests


def test_every_chart_is_drawn(report_page):
    sizes = _chart_sizes(report_page.page)
    assert list(sizes) == ALL_CHARTS
    for chart, (width, height, n_elements) in sizes.items():
        assert width > 300 and height > 200 and n_elements > 20, (chart, width, height)


def test_every_section_is_reachable_from_the_contents(report_page):
    page = report_page.page
    links = page.eval_on_selector_all("nav.toc a", "as => as.map(a => a.getAttribute('href'))")
    assert len(links) == 8
    for link in links:
        assert page.query_selector(link) is not None, link
    assert page.eval_on_selector("nav.toc", "n => getComputedStyle(n).position") == "sticky"


def test_full_page_screenshot(report_page, tmp_path):
    shot = tmp_path / "report.png"
    report_page.page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1400 and height > 5_000
    assert len(data) > 300_000  # text, tables and eight charts, not a blank page


def test_hostile_labels_show_as_text(hostile_page):
    page = hostile_page.page
    assert hostile_page.errors == []
    assert hostile_page.dialogs == []
    text = page.inner_text("body")
    assert XSS_IMG in text
    assert XSS_SCRIPT in text
    assert page.query_selector_all('img[src="x"]') == []
    assert page.query_selector_all("img") == []
    # only the report's own scripts: config, plotly.js, report.js and one per chart
    n_charts = len(page.query_selector_all("div.chart"))
    assert page.evaluate("document.scripts.length") == 3 + n_charts
    # Plotly draws the labels literally too (as SVG text, not markup)
    svg_text = page.eval_on_selector_all("div.chart svg text", "ts => ts.map(t => t.textContent)")
    assert any(XSS_IMG in t for t in svg_text)


def test_aggregate_only_report_draws_the_remaining_charts(hostile_page):
    sizes = _chart_sizes(hostile_page.page)
    assert list(sizes) == [c for c in ALL_CHARTS if c not in ("chart-scatter", "chart-pca")]
    assert all(w > 300 and h > 200 for w, h, _ in sizes.values())
