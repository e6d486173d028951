"""The real 365 case-study file (skipped when absent, required in CI)."""

import json

import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from custseg.cli import app
from custseg.datasets import demo_spec_text
from test_analysis_schema import assert_matches_schema

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_runs_clean_with_an_inferred_spec(real_365_path, tmp_path):
    out = tmp_path / "run"
    res = run("run", real_365_path, "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    # the only finding is the 43 fully duplicated rows of the real file
    assert [w["code"] for w in manifest["warnings"]] == ["duplicate-rows"]
    assert manifest["warnings"][0]["count"] == 43
    assert 2 <= manifest["k"] <= 10
    segments = pd.read_csv(out / "segments.csv")
    assert len(segments) == 3834
    assert_matches_schema(json.loads((out / "analysis.json").read_text()))


def test_one_hot_segments_mirror_the_channel_column(real_365_path, tmp_path):
    """The classic notebook mistake: k = 8 on one-hot region and channel."""
    out = tmp_path / "classic"
    res = run("run", real_365_path, "--out", out, "--cluster-on", "all", "--k", 8,
              "--transform", "none", "--quiet")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    mirrors = [w for w in manifest["warnings"] if w["code"] == "segment-mirrors-column"]
    assert [w["column"] for w in mirrors] == ["channel"]
    assert mirrors[0]["adjusted_rand"] >= 0.9
    assert "warning [segment-mirrors-column]" in res.stdout
    assert_matches_schema(json.loads((out / "analysis.json").read_text()))


def test_question1_numbers_agree_with_scipy(real_365_path, tmp_path):
    """Channel vs CLV as the report states it, recomputed independently."""
    spec = tmp_path / "spec.toml"
    spec.write_text(demo_spec_text().replace('missing = "error"', 'missing = "median"'))
    out = tmp_path / "run"
    res = run("run", real_365_path, "--spec", spec, "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    analysis = json.loads((out / "analysis.json").read_text())
    q = next(q for q in analysis["question1"]
             if q["attribute"] == "channel" and q["target"] == "CLV")
    raw = pd.read_csv(real_365_path)
    groups = [g["CLV"].to_numpy() for _, g in raw.groupby("channel")]
    h, p = stats.kruskal(*groups)
    assert q["kruskal"]["h"] == pytest.approx(h, rel=1e-9)
    assert q["kruskal"]["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-15)
    by_code = {lvl["code"]: lvl for lvl in q["levels"]}
    for code, g in raw.groupby("channel"):
        lvl = by_code[str(code)]
        assert lvl["n"] == len(g)
        assert abs(lvl["median"] - g["CLV"].median()) < 1e-9
        assert abs(lvl["mean"] - g["CLV"].mean()) < 1e-9
        assert lvl["median_low"] <= lvl["median"] <= lvl["median_high"]
    assert q["levels"][0]["label"] == "Google"
    assert "channel" in q["verdict"].lower()
