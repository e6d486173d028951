"""The campaign report in a real browser (headless Chromium through Playwright).

Skips when Chromium or playwright is missing, unless ``CUSTSEG_REQUIRE_ALL=1``.
The report is rendered from a hand-made summary whose arm and segment names try
to inject markup.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import require_or_skip
from custseg.campaign.analyze import CampaignOptions, analyze_cells, cell_table
from custseg.campaign.summary import summarize
from custseg.report.campaign_section import render_campaign_html

XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(2)</script>"


def _summary() -> dict:
    rng = np.random.default_rng(12)
    seg = np.repeat([0, 1, 2], [1500, 1200, 900])
    arm = np.where(rng.random(seg.size) < 0.5, XSS, "control")
    p = 0.06 + np.where((seg == 1) & (arm == XSS), 0.08, 0.0)
    frame = pd.DataFrame({"segment": seg, "arm": arm,
                          "outcome": (rng.random(seg.size) < p).astype(np.int8)})
    opts = CampaignOptions(control="control", treatments=[XSS],
                           split={XSS: 0.5, "control": 0.5},
                           names={0: "Mid value", 1: SCRIPT, 2: "Light & low"})
    meta = {"title": f"Campaign {XSS}", "results": "r.csv", "run": "run", "customers": seg.size,
            "segments_by": "id", "columns": {}, "arms": {"control": "control",
                                                          "treatment": [XSS]},
            "split": opts.split, "alpha": 0.05, "power": 0.8, "seed": 0, "bootstrap": None}
    return summarize(analyze_cells(cell_table(frame), opts), warnings=[
        {"code": "x", "message": XSS}], meta=meta)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require_or_skip(sync_playwright is not None, "the playwright package is not installed")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    require_or_skip(Path(chromium).is_file(), f"chromium not found at {chromium}")
    summary = _summary()
    path = tmp_path_factory.mktemp("campaign") / "report.html"
    path.write_text(render_campaign_html(summary), encoding="utf-8")
    seen = {"errors": [], "dialogs": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
        pg = context.new_page()
        pg.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: seen["errors"].append(str(e)))
        pg.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
        pg.on("request", lambda r: seen["requests"].append(r.url))
        pg.goto(path.as_uri(), wait_until="load")
        yield pg, seen, summary, path
        context.close()
        browser.close()


def test_loads_offline_without_errors_dialogs_or_requests(page):
    pg, seen, _, path = page
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["requests"] == [path.as_uri()]


def test_the_split_check_comes_first(page):
    pg, *_ = page
    ids = pg.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    assert ids[0] == "split"
    assert pg.inner_text("#srm-verdict").startswith("The split looks as planned.")


def test_the_forest_plot_draws_each_segment_and_the_planted_one_stands_out(page):
    pg, _, summary, _ = page
    assert pg.locator("svg.forest circle").count() == len(summary["segments"])
    assert pg.locator("svg.forest rect").count() == 1  # the whole campaign
    found = pg.locator("svg.forest g.higher circle.found")
    assert found.count() == 1
    box = pg.locator("svg.forest").bounding_box()
    assert box["width"] > 500 and box["height"] > 150


def test_user_strings_are_shown_as_text(page):
    pg, *_ = page
    assert pg.locator("img").count() == 0
    assert XSS in pg.inner_text("#findings") or SCRIPT in pg.inner_text("#findings")
    assert SCRIPT in pg.inner_text("#findings")  # the planted segment's (hostile) name
    assert XSS in pg.inner_text("#warnings")


def test_one_sentence_per_segment_never_says_no_effect(page):
    pg, _, summary, _ = page
    items = pg.locator("ul.sentences li").all_inner_texts()
    assert len(items) == len(summary["segments"])
    assert sum("no detectable difference at this size (could detect" in t for t in items) == 2
    assert not any("no effect" in t.lower() for t in items)
