"""``custseg clv`` end to end: the CDNOW paper table, outputs, the holdout check, errors.

The CDNOW tests use ``../shared/data/cdnow/CDNOW_master.txt`` (skipped when it is
absent, failing under CUSTSEG_REQUIRE_ALL=1) and the 2,357 ids of the sample
Fader, Hardie and Lee (2005) analyse (``tests/data/cdnow_sample_ids.txt``, from
lifetimes' data sets, MIT licence). The expected numbers are the paper's; the
likelihood and the holdout counts are recomputed here from the log with pandas
and a transcription of the paper's equation 6.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from custseg import io
from custseg.cli import app
from custseg.clv.flow import clv_file
from custseg.datasets.clv import make_clv_transactions

runner = CliRunner()
IDS = Path(__file__).parent / "data" / "cdnow_sample_ids.txt"
SCHEMA = json.loads((resources.files("custseg.schemas") / "clv.schema.json").read_text())


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def assert_valid(summary: dict) -> None:
    errors = [e.message for e in Draft202012Validator(SCHEMA).iter_errors(summary)]
    assert errors == []


def _paper_loglik(r, alpha, a, b, x, tx, T):
    """FHL (2005) equation 6, in logs, as printed."""
    lb = math.lgamma
    beta = lambda u, v: lb(u) + lb(v) - lb(u + v)  # noqa: E731
    g = lb(r + x) - lb(r) + r * math.log(alpha)
    first = beta(a, b + x) - beta(a, b) + g - (r + x) * math.log(alpha + T)
    if x == 0:
        return first
    second = beta(a + 1, b + x - 1) - beta(a, b) + g - (r + x) * math.log(alpha + tx)
    return max(first, second) + math.log1p(math.exp(-abs(first - second)))


@pytest.fixture(scope="module")
def cdnow_sample(request):
    from conftest import SHARED_DATA, require_or_skip

    path = SHARED_DATA / "cdnow" / "CDNOW_master.txt"
    require_or_skip(path.is_file(), f"CDNOW data set not found: {path}")
    ids = {int(line) for line in IDS.read_text().splitlines() if not line.startswith("#")}
    log = io.read_table(path)  # (customer ids as written: "00001")
    return log[log["customer_id"].astype(int).isin(ids)].reset_index(drop=True)


def test_cdnow_sample_gives_the_papers_table(cdnow_sample, tmp_path):
    log = cdnow_sample
    assert log["customer_id"].nunique() == 2357
    done = clv_file(log, tmp_path / "out", calibration_end="1997-09-30", as_of="1998-06-30",
                    unit="week")
    s = done.summary
    assert_valid(s)
    # Fader, Hardie and Lee (2005), table 1 / figure: r 0.243, alpha 4.414, a 0.793, b 2.426
    got = {k: round(v, 3) for k, v in s["params"].items()}
    assert got == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert s["converged"] is True and all(v > 0 for v in s["params_se"].values())
    # the calibration histories recomputed with pandas: distinct purchase days, weeks = days / 7
    dates = pd.to_datetime(log["date"].astype(str), format="%Y%m%d")
    cal = log.assign(d=dates)[dates <= "1997-09-30"]
    days = cal.groupby("customer_id")["d"].agg(["nunique", "min", "max"])
    x = days["nunique"] - 1
    tx = (days["max"] - days["min"]).dt.days / 7
    T = (pd.Timestamp("1997-09-30") - days["min"]).dt.days / 7
    p = s["params"]
    ll = sum(_paper_loglik(p["r"], p["alpha"], p["a"], p["b"], *row) for row in zip(x, tx, T, strict=True))
    assert s["log_likelihood"] == pytest.approx(ll, rel=1e-9)
    assert ll == pytest.approx(-9582.4, abs=0.05)  # the paper's log-likelihood
    # holdout: purchase days in (1997-09-30, 1998-06-30], counted here
    hold = log.assign(d=dates)[(dates > "1997-09-30") & (dates <= "1998-06-30")]
    assert s["holdout"]["actual_purchases"] == hold.groupby("customer_id")["d"].nunique().sum()
    assert s["holdout"]["duration"] == pytest.approx(273 / 7)
    assert s["holdout"]["customers"] == 2357


def test_cdnow_pareto_nbd_gives_the_published_parameters(cdnow_sample, tmp_path):
    # Fader, Hardie and Lee (2005, "Counting your customers the easy way"), Pareto/NBD on the
    # same data: r 0.55, alpha 10.58, s 0.61, beta 11.67 (LL -9595.0)
    s = clv_file(cdnow_sample, tmp_path / "out", calibration_end="1997-09-30", as_of="1998-06-30",
                 unit="week", model="paretonbd").summary
    got = {k: round(v, 2) for k, v in s["params"].items()}
    assert got == {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    assert s["log_likelihood"] == pytest.approx(-9595.0, abs=0.05)


@pytest.fixture(scope="module")
def small_log(tmp_path_factory):
    log = make_clv_transactions(1500, seed=4)
    hostile = pd.DataFrame({"customer_id": ["=HYPERLINK(\"x\")"] * 3,
                            "date": pd.to_datetime(["2023-02-01", "2023-05-01", "2024-01-10"]),
                            "amount": [20.0, 30.0, 25.0]})
    log = pd.concat([log, hostile], ignore_index=True)
    path = tmp_path_factory.mktemp("log") / "orders.csv"
    log.to_csv(path, index=False)
    return path


def test_clv_command_end_to_end(small_log, tmp_path):
    out = tmp_path / "out"
    res = invoke("clv", small_log, "-o", out, "--calibration-end", "2024-01-31", "--quiet")
    assert res.exit_code == 0, res.output
    assert "BG/NBD and Gamma-Gamma (fitted, unit day) on 1,501 customers" in res.output
    assert "holdout check (151.0 days after 2024-01-31" in res.output
    assert f"report: {out / 'report.html'}" in res.output
    s = json.loads((out / "clv.json").read_text())
    assert_valid(s)
    assert (s["model"], s["unit"], s["as_of"], s["calibration_end"]) == ("bgnbd", "day", "2024-06-30",
                                                                         "2024-01-31")
    parquet = pd.read_parquet(out / "customers.parquet")
    assert list(parquet.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value",
                                     "p_alive", "expected_purchases", "expected_avg_value", "clv"]
    assert len(parquet) == s["n_customers"] == 1501
    hostile = parquet[parquet["customer_id"] == "=HYPERLINK(\"x\")"]  # the id exactly as written
    assert hostile[["frequency", "recency", "T"]].iloc[0].tolist() == [2.0, 343.0, 515.0]
    assert hostile["monetary_value"].iloc[0] == 27.5
    csv_text = (out / "customers.csv").read_text()
    assert "\n=HYPERLINK" not in csv_text and "\n\"=HYPERLINK" not in csv_text
    back = pd.read_csv(out / "customers.csv", dtype={"customer_id": str})
    assert back["customer_id"].iloc[0] == "'=HYPERLINK(\"x\")"  # neutralised for spreadsheets
    assert parquet["p_alive"].between(0, 1).all() and (parquet["clv"] >= 0).all()
    assert s["totals"]["clv"] == pytest.approx(parquet["clv"].sum())
    # the same input gives the same bytes
    again = tmp_path / "again"
    assert invoke("clv", small_log, "-o", again, "--calibration-end", "2024-01-31", "-q").exit_code == 0
    for name in ("clv.json", "customers.csv", "report.html"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_saved_model_scores_a_log_without_refitting(small_log, tmp_path):
    fitted = clv_file(small_log, tmp_path / "fit", horizon_months=6)
    res = invoke("clv", small_log, "--model", tmp_path / "fit" / "clv.json", "-o", tmp_path / "scored",
                 "--horizon-months", 6)
    assert res.exit_code == 0, res.output
    assert "(loaded, unit day)" in res.output
    scored = pd.read_parquet(tmp_path / "scored" / "customers.parquet")
    pd.testing.assert_frame_equal(scored, fitted.customers.reset_index(drop=True))
    s = json.loads((tmp_path / "scored" / "clv.json").read_text())
    assert s["fitted_here"] is False and s["params"] == fitted.summary["params"]


def test_mbgnbd(small_log, tmp_path):
    s = clv_file(small_log, tmp_path / "out", model="mbgnbd", unit="week").summary
    assert list(s["params"]) == ["r", "alpha", "a", "b"] and s["converged"] is True
    assert_valid(s)


def test_a_fit_without_a_maximum_is_an_error_not_a_result(tmp_path):
    # 300 simulated customers do not identify Pareto/NBD's drop-out heterogeneity: s and beta
    # run off to infinity together; the command says so (exit 2, nothing written) and a
    # penalty makes the maximum finite
    path = tmp_path / "log.csv"
    make_clv_transactions(300, seed=3).to_csv(path, index=False)
    res = invoke("clv", path, "-o", tmp_path / "out", "--model", "paretonbd", "--unit", "week")
    assert res.exit_code == 2
    assert "the Pareto/NBD fit did not converge" in res.output and "--penalizer" in res.output
    assert not (tmp_path / "out").exists()
    res = invoke("clv", path, "-o", tmp_path / "out", "--model", "paretonbd", "--unit", "week",
                 "--penalizer", "0.01")
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "out" / "clv.json").read_text())
    assert s["penalizer"] == 0.01 and s["converged"] is True


def test_segments_of_a_run(small_log, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    log = pd.read_csv(small_log)
    ids = sorted(log["customer_id"].unique())
    pd.DataFrame({"customer_id": ids, "segment": [i % 3 for i in range(len(ids))],
                  "segment_name": [f"group {i % 3}" for i in range(len(ids))]}).to_parquet(
        run / "segments.parquet")
    res = invoke("clv", small_log, "-o", tmp_path / "out", "--segments", run)
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "out" / "clv.json").read_text())
    assert_valid(s)
    assert [g["name"] for g in s["segments"]] == ["group 0", "group 1", "group 2"]
    assert sum(g["customers"] for g in s["segments"]) == 1501
    assert sum(g["value_share"] for g in s["segments"]) == pytest.approx(1.0)
    assert "segment 0 (group 0)" in res.output


def _one_timers(tmp_path):
    path = tmp_path / "once.csv"
    pd.DataFrame({"customer": ["a", "b", "c"], "date": ["2024-01-01", "2024-02-01", "2024-03-01"],
                  "amount": [10.0, 20.0, 5.0]}).to_csv(path, index=False)
    return path


def _with_return(tmp_path):
    path = tmp_path / "ret.csv"
    pd.DataFrame({"customer": ["a", "a", "b"], "date": ["2024-01-01", "2024-02-01", "2024-03-01"],
                  "amount": [10.0, -20.0, 5.0]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("make, extra, message", [
    (_one_timers, [], "every one of the 3 customers bought on one day only"),
    (_one_timers, ["--calibration-end", "2024-02-15", "--as-of", "2024-02-01"],
     "--as-of (2024-02-01) must be after --calibration-end (2024-02-15)"),
    (_one_timers, ["--calibration-end", "2024-03-01"],
     "the log ends on 2024-03-01, not after --calibration-end"),
    (_with_return, ["--returns", "error"], "column 'amount' has 1 negative amount, i.e. a return (row 2"),
    (_one_timers, ["--model", "weibull"], "--model must be one of bgnbd, mbgnbd, paretonbd"),
    (_one_timers, ["--unit", "month"], "--unit must be one of day, week"),
    (_one_timers, ["--discount-rate", "1.5"], "--discount-rate must be a monthly rate"),
    (_one_timers, ["--segments", "nowhere"], "'nowhere' is not a custseg run directory"),
    (_one_timers, ["--model", "nowhere/clv.json"], "'nowhere/clv.json' does not exist"),
    (_one_timers, ["--calibration-end", "2024-13-01"], "--calibration-end must be a date such as"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, make, extra, message):
    out = tmp_path / "out"
    res = invoke("clv", make(tmp_path), "-o", out, "--customer", "customer", "--date", "date",
                 "--amount", "amount", *extra)
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_warnings_reach_clv_json(tmp_path):
    log = make_clv_transactions(800, seed=9)
    # a repeat buyer whose repeat purchases are worth 0
    first = log["customer_id"].value_counts().index[0]
    rows = log.index[log["customer_id"] == first]
    log.loc[rows[1:], "amount"] = 0.0
    s = clv_file(log, tmp_path / "out").summary
    codes = [w["code"] for w in s["warnings"]]
    assert "clv-zero-spend" in codes
    assert np.isfinite(s["spend_frequency_correlation"])


def test_demo_transactions_shows_lifetime_value_by_segment(tmp_path):
    out = tmp_path / "demo"
    res = invoke("demo", "--transactions", "--rows", 600, "--out", out, "--quiet", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert "lifetime value by segment (BG/NBD and Gamma-Gamma, next 12 months; clv.json)" in res.output
    assert "Lifetime value fitted (planted in brackets; BG/NBD in days, Gamma-Gamma): r " in res.output
    assert "alpha" in res.output and "(240)" in res.output  # the planted alpha, CLV_TRUTH
    s = json.loads((out / "clv.json").read_text())
    assert_valid(s)
    assert s["n_customers"] == 600 and s["holdout"] is None
    segments = pd.read_parquet(out / "segments.parquet")
    assert [g["customers"] for g in s["segments"]] == segments["segment"].value_counts().sort_index().tolist()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["clv"]["segments"][0]["mean_clv"] == s["segments"][0]["clv"]["mean"]
    profiles = json.loads((out / "profiles.json").read_text())["segments"]
    assert [p["clv"]["mean_clv"] for p in profiles] == [g["clv"]["mean"] for g in s["segments"]]
    model = json.loads((out / "model.json").read_text())
    assert model["format_version"] == 2 and model["clv"]["params"] == s["params"]
    assert "Lifetime value by segment" in (out / "report.html").read_text()
    assert "## Lifetime value by segment" in (out / "report.md").read_text()
    # the run's clv.json scores the log again without refitting: the same values
    res = invoke("clv", out / "transactions.csv", "--model", out / "clv.json", "-o", tmp_path / "again")
    assert res.exit_code == 0, res.output
    again = json.loads((tmp_path / "again" / "clv.json").read_text())
    assert again["totals"]["clv"] == pytest.approx(s["totals"]["clv"], rel=1e-12)


def test_run_with_no_clv_fits_none(small_log, tmp_path):
    res = invoke("run", small_log, "--out", tmp_path / "run", "--k", 2, "--quiet", "--jobs", 1,
                 "--no-clv")
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "run" / "clv.json").exists()
    assert "clv" not in json.loads((tmp_path / "run" / "manifest.json").read_text())
