"""The CLV report (``custseg clv``'s report.html) in headless Chromium.

Skips without Chromium or playwright, unless ``CUSTSEG_REQUIRE_ALL=1``. The
summary comes from a real run on a simulated log, with hostile segment names.
"""

from __future__ import annotations

import pandas as pd
import pytest

from custseg.clv.flow import clv_file
from custseg.datasets.clv import make_clv_transactions
from report_fixture import XSS_IMG, XSS_SCRIPT
from test_report_browser import (  # noqa: F401 - the browser fixture's helpers
    CHROMIUM_ARGS,
    _chromium,
    browser,  # noqa: F401 - a pytest fixture
)


@pytest.fixture(scope="module")
def clv_page(browser, tmp_path_factory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("clv")
    log = make_clv_transactions(1200, seed=2)
    run = tmp / "run"
    run.mkdir()
    ids = sorted(log["customer_id"].unique())
    names = ["loyal " + XSS_IMG, "lapsed " + XSS_SCRIPT]
    pd.DataFrame({"customer_id": ids, "segment": [i % 2 for i in range(len(ids))],
                  "segment_name": [names[i % 2] for i in range(len(ids))]}).to_parquet(
        run / "segments.parquet")
    done = clv_file(log, tmp / "out", calibration_end="2024-01-31", segments=run)
    errors, dialogs, requests = [], [], []
    context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((done.out / "report.html").as_uri(), wait_until="load")
    yield page, errors, dialogs, requests, done.summary
    context.close()


def test_report_loads_offline_without_errors(clv_page):
    page, errors, dialogs, requests, _ = clv_page
    assert errors == [] and dialogs == []
    assert all(url.startswith("file://") for url in requests), requests


def test_charts_sections_and_escaped_names(clv_page):
    page, _, _, _, summary = clv_page
    sizes = page.eval_on_selector_all(
        "svg.clv-chart", "els => els.map(e => { const b = e.getBoundingClientRect(); "
        "return [b.width, b.height, e.querySelectorAll('rect').length]; })")
    assert len(sizes) == 3  # holdout, P(alive), CLV
    for width, height, rects in sizes:
        assert width > 300 and height > 100 and rects >= 10
    links = page.eval_on_selector_all("nav.toc a", "as => as.map(a => a.getAttribute('href'))")
    assert links == ["#overview", "#holdout", "#distributions", "#parameters", "#segments", "#warnings"]
    for link in links:
        assert page.query_selector(link) is not None
    text = page.inner_text("#segments")
    assert XSS_IMG in text and "</script><script>alert(1)</script>" in text  # shown, not run
    assert page.query_selector("#segments img") is None
    assert page.inner_text("h1") == "Customer lifetime value"
    overview = page.inner_text("#overview")
    assert f"{summary['n_customers']:,} customers" in overview
    assert "Checked on the holdout period" in overview
