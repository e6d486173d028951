"""From an order log to RFM segments and clusters through the command line."""

import json

import pandas as pd
from typer.testing import CliRunner

from custseg import parse_spec
from custseg.cli import app
from custseg.datasets import make_transactions
from test_analysis_schema import assert_matches_schema

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_demo_transactions_runs_the_whole_path(tmp_path):
    out = tmp_path / "demo"
    res = invoke("demo", "--transactions", "--rows", 600, "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    assert (out / "transactions.csv").is_file() and (out / "customers.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rfm"]["customers"] == 600
    assert sum(r["n"] for r in manifest["rfm"]["summary"]) == 600
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["rfm"]["summary"]
    assert_matches_schema(analysis)
    assert "RFM segments" in (out / "report.html").read_text()
    assert "## RFM segments" in (out / "report.md").read_text()
    segments = pd.read_csv(out / "segments.csv")
    assert list(segments.columns)[0] == "customer_id"


def test_init_recognises_an_order_log(tmp_path):
    log = make_transactions(200, seed=3)
    path = tmp_path / "orders.csv"
    log.to_csv(path, index=False)
    spec_path = tmp_path / "tx.toml"
    res = invoke("init", path, "-o", spec_path)
    assert res.exit_code == 0, res.output
    spec = parse_spec(spec_path.read_text())
    assert spec.kind == "transactions"
    assert spec.transactions["customer"] == "customer_id"
    assert spec.transactions["date"] == "date"
    assert spec.transactions["amount"] == "amount"
    out = tmp_path / "run"
    res = invoke("run", path, "--spec", spec_path, "--out", out, "--quiet", "--k-range", "2-4")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["rfm"]["customers"] == 200


def test_rfm_command_on_cdnow_both_conventions(cdnow_path, tmp_path):
    out = tmp_path / "customers.parquet"
    res = invoke("rfm", cdnow_path, "-o", out, "--quiet")
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out)
    assert len(table) == 23_570
    assert {"recency_days", "frequency_orders", "monetary_total", "R", "F", "M",
            "rfm_segment"} <= set(table.columns)
    life = tmp_path / "lifetimes.csv"
    res = invoke("rfm", cdnow_path, "-o", life, "--convention", "lifetimes", "--quiet")
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(life).columns) == ["customer_id", "frequency", "recency", "T",
                                               "monetary_value"]


def test_run_points_at_the_cdnow_log(cdnow_path, tmp_path):
    out = tmp_path / "run"
    res = invoke("run", cdnow_path, "--out", out, "--k-range", "2-5")
    assert res.exit_code == 0, res.output
    assert "looks like an order log" in res.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    codes = [w["code"] for w in manifest["warnings"]]
    assert "duplicate-rows" in codes and "zero-value-only" in codes
    dup = next(w for w in manifest["warnings"] if w["code"] == "duplicate-rows")
    assert dup["count"] == 255
    assert manifest["rfm"]["customers"] == 23_570
    assert (out / "report.html").is_file()


def test_malformed_log_gets_one_line_errors(tmp_path):
    log = make_transactions(50, seed=1)
    log["date"] = log["date"].astype(str)
    log.loc[3, "date"] = "31/02/2024"
    path = tmp_path / "bad.csv"
    log.to_csv(path, index=False)
    res = invoke("rfm", path, "-o", tmp_path / "c.parquet", "--customer", "customer_id",
                 "--date", "date", "--amount", "amount")
    assert res.exit_code == 2
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert errors and "row 4" in errors[0] and "'31/02/2024'" in errors[0]
    assert not (tmp_path / "c.parquet").exists()
