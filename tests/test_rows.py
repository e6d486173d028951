"""Rows that are not customers: empty rows, repeated headers and Total rows are left out, said."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg.cli import app
from custseg.rows import non_customer_rows


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["a", None, "id", "b", "Total", "c", "  "],
        "CLV": ["1.5", None, "CLV", "2", "3.5", "x", None],
        "plan": ["Pro", None, "plan", "Free", None, "Pro", ""],
    })


def test_each_kind_is_found_by_row():
    skip, problems = non_customer_rows(_frame())
    assert skip.tolist() == [False, True, True, False, True, False, True]
    by_code = {p.code: p for p in problems}
    assert by_code["empty-rows"].rows == [2, 7]
    assert by_code["header-rows"].rows == [3]
    assert by_code["total-rows"].rows == [5]
    assert by_code["total-rows"].message == (
        "1 row is a summary row (Total), not a customer, left out (row 5); fix: remove them "
        "from the export, or ignore this warning")
    assert all(p.severity == "warning" for p in problems)


@pytest.mark.parametrize("label", ["Total", "TOTAL:", "Grand total", "Sum", "Summe", "subtotal"])
def test_summary_labels(label):
    df = pd.DataFrame({"name": ["x", "y", label], "spend": [1.0, 2.0, 3.0]})
    assert non_customer_rows(df)[0].tolist() == [False, False, True]


def test_a_customer_called_total_with_other_text_is_a_customer():
    # "Total" in the name column, but a plan like any customer's: not a summary row
    df = pd.DataFrame({"name": ["x", "Total"], "plan": ["Pro", "Free"], "spend": [1.0, 2.0]})
    assert not non_customer_rows(df)[0].any()


def test_an_ordinary_table_loses_nothing():
    df = pd.DataFrame({"id": ["a", "b"], "n": [1, 2], "x": [np.nan, 0.5]})
    skip, problems = non_customer_rows(df)
    assert not skip.any() and problems == []


def test_a_run_leaves_them_out_and_names_the_rows_of_the_file(tmp_path):
    rng = np.random.default_rng(3)
    body = [f"C{i},{rng.gamma(2, 80):.2f},{rng.gamma(2, 300):.1f}" for i in range(120)]
    lines = (["customer_id,CLV,minutes_watched"] + body[:50] + [",,"] +
             ["customer_id,CLV,minutes_watched"] + body[50:] + ["Total,99999.00,"])
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(path), "-o", str(out), "--quiet", "--jobs", "1"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    segments = pd.read_csv(out / "segments.csv", dtype=str)
    assert segments["customer_id"].tolist() == [f"C{i}" for i in range(120)]
    warnings = {w["code"]: w for w in json.loads((out / "manifest.json").read_text())["warnings"]}
    assert warnings["empty-rows"]["rows"] == [51]
    assert warnings["header-rows"]["rows"] == [52]
    assert warnings["total-rows"]["rows"] == [123]


def test_validation_errors_after_left_out_rows_name_the_file_row(tmp_path):
    lines = ["customer_id,CLV,minutes_watched", ",,", "customer_id,CLV,minutes_watched"]
    lines += [f"C{i},{10 + i}.5,{i}" for i in range(30)]
    lines[10] = "C7,about 40,7"  # line 11 of the file: data row 10 (row 1 is line 2)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = tmp_path / "spec.toml"
    spec.write_text('id = "customer_id"\ncluster_on = ["CLV", "minutes_watched"]\n'
                    '[columns.CLV]\nkind = "numeric"\nrole = "value"\n'
                    '[columns.minutes_watched]\nkind = "numeric"\nrole = "engagement"\n')
    res = CliRunner().invoke(app, ["run", str(path), "--spec", str(spec), "-o",
                                   str(tmp_path / "run"), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 2
    assert "(row 10: 'about 40')" in res.output
    assert not (tmp_path / "run").exists()
