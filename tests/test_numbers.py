"""Numbers as people write them: the spec's format and na_values, their detection and use.

Expected values are the numbers the cells spell, worked out by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg.cli import app
from custseg.errors import SpecError
from custseg.infer import infer_spec
from custseg.numbers import NumberFormat, detect_format, parse_format, parse_numbers
from custseg.spec import ColumnSpec, Spec, parse_spec
from custseg.validate import validate

NAN = math.nan


@pytest.mark.parametrize(("example", "cells", "want"), [
    ("1,234.56", ["1,234.50", "12", "1,000,000.25", "-3.5", "(4.00)", ".5"],
     [1234.5, 12, 1000000.25, -3.5, -4.0, 0.5]),
    ("1.234,56", ["1.234,50", "12,5", "0,25", "7"], [1234.5, 12.5, 0.25, 7]),
    ("1 234,56", ["1 234,50", "1\u00a0234,50", "12"], [1234.5, 1234.5, 12]),
    ("1'234.56", ["1'234.50", "99"], [1234.5, 99]),
    ("$1,234.56", ["$1,234.50", "$ 52.80", "-$3.00", "$-3.00", "($12.00)", "7"],
     [1234.5, 52.8, -3, -3, -12, 7]),
    ("1.234,56 €", ["52,80 €", "1.234,50€", "7 €"], [52.8, 1234.5, 7]),
    ("1234.56%", ["12.5%", "3 %", "100%"], [12.5, 3, 100]),
    ("USD 1,234.56", ["USD 1,234.50", "USD 5"], [1234.5, 5]),
])
def test_parse_numbers_reads_each_format(example, cells, want):
    fmt = parse_format(example)
    assert fmt is not None
    values, bad, na = parse_numbers(pd.Series(cells), fmt)
    np.testing.assert_allclose(values, want)
    assert not bad.any() and not na.any()


def test_badly_grouped_or_foreign_cells_are_bad_not_guessed():
    fmt = parse_format("1,234.56", ("N/A",))
    values, bad, na = parse_numbers(pd.Series(["12,34", "1,2345", "1.234,5", "abc", "N/A", "", None,
                                               "n/a"]), fmt)
    assert bad.tolist() == [True, True, True, True, False, False, False, False]
    assert na.tolist() == [False, False, False, False, True, False, False, True]
    assert np.isnan(values).all()


@pytest.mark.parametrize("bad", ["1234", "12.34", "1,234,56", "-$1,234.56", "$1,234.56%", "x"])
def test_format_examples_that_are_not_1234_56_are_refused(bad):
    assert parse_format(bad) is None


def test_format_example_round_trips():
    for example in ["1234.56", "1,234.56", "1.234,56", "1 234,56", "$1,234.56", "1.234,56 €",
                    "1234.56%", "1'234.56"]:
        assert parse_format(example).example == example


@pytest.mark.parametrize(("cells", "example", "ambiguous"), [
    (["$1,234.50", "$52.80", "$3.00"], "$1,234.56", False),
    (["52,80 €", "1.234,50 €", "7 €"], "1.234,56 €", False),
    (["12,5", "0,25", "3"], "1234,56", False),
    (["1,234", "5,678", "12"], "1,234.56", True),   # 1234 or 1.234? say so
    (["1,234.5", "5,678", "12"], "1,234.56", False),  # the point settles it
    (["12.5%", "3%"], "1234.56%", False),
])
def test_detect_format(cells, example, ambiguous):
    found = detect_format(pd.Series(cells))
    assert found.fmt.example == example
    assert found.ambiguous is ambiguous
    assert found.share == 1.0


def test_detect_format_finds_missing_words_and_spreadsheet_errors():
    found = detect_format(pd.Series(["1.5", "N/A", "NULL", "#DIV/0!", "2", "N/A"]))
    assert set(found.fmt.na_values) == {"N/A", "NULL", "#DIV/0!"}
    assert found.errors == ("#DIV/0!",)
    assert (found.numbers, found.na_cells) == (2, 4)


def test_a_letter_before_digits_is_not_a_currency():
    found = detect_format(pd.Series([f"K{i}" for i in range(20)]))
    assert found is None or found.share < 0.95


# ------------------------------------------------------------------ spec
def test_spec_keeps_format_and_na_values():
    text = ('[columns.spend]\nkind = "numeric"\nrole = "value"\nformat = "$1,234.56"\n'
            'na_values = ["N/A", "#DIV/0!"]\n')
    spec = parse_spec(text)
    col = spec.columns["spend"]
    assert col.number_format == NumberFormat(".", ",", "$", "", ("N/A", "#DIV/0!"))
    again = parse_spec(spec.to_toml())
    assert again.columns["spend"].format == "$1,234.56"
    assert again.columns["spend"].na_values == ("N/A", "#DIV/0!")


@pytest.mark.parametrize(("column", "message"), [
    ('kind = "numeric"\nformat = "1234"', "is not a way of writing 1234.56"),
    ('kind = "numeric"\nna_values = "N/A"', "na_values must be a list of texts"),
    ('kind = "categorical"\nformat = "1,234.56"', "has format or na_values but kind is categorical"),
])
def test_spec_refuses_bad_formats(column, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(f"[columns.x]\n{column}\n")


# ------------------------------------------------------------------ validation
def _spec(fmt: str, na: tuple[str, ...] = ()) -> Spec:
    return Spec(columns={"spend": ColumnSpec("spend", "numeric", role="value", format=fmt,
                                             na_values=na)},
                cluster_on=["spend"])


def test_validation_reads_by_the_format_and_warns_of_spreadsheet_errors():
    df = pd.DataFrame({"spend": ["$1,234.50", "N/A", "#DIV/0!", "$7.25", 3.5]})
    v = validate(df, _spec("$1,234.56", ("N/A", "#DIV/0!")), min_rows=0)
    np.testing.assert_allclose(v.frame["spend"].to_numpy(), [1234.5, NAN, NAN, 7.25, 3.5])
    [warning] = [p for p in v.problems if p.code == "spreadsheet-errors"]
    assert warning.severity == "warning" and warning.rows == [3]
    assert "row 3: '#DIV/0!'" in warning.message


def test_validation_names_cells_not_in_the_format():
    df = pd.DataFrame({"spend": ["1.234,50", "12.5", "7"]})
    [error] = validate(df, _spec("1.234,56"), min_rows=0).problems
    assert error.message == (
        "column 'spend' has 1 value not written as '1.234,56' (its format) (row 2: '12.5'); "
        "fix: correct or empty that cell, or correct [columns.spend] format and na_values")
    assert (error.severity, error.rows) == ("error", [2])


def test_without_a_format_thousands_separators_stay_an_error():
    df = pd.DataFrame({"spend": ["1,234.50", "12"]})
    [error] = validate(df, _spec(""), min_rows=0).problems
    assert error.severity == "error" and "1 number with thousands separators" in error.message


# ------------------------------------------------------------------ inference and runs
def test_inference_reads_text_numbers_instead_of_dropping_them():
    df = pd.DataFrame({
        "Customer ID": [f"CRM-{i}" for i in range(40)],
        "Total Spend": [f"${v:,.2f}" for v in np.linspace(10, 5000, 38)] + ["N/A", "#DIV/0!"],
        "Score": ["00" + str(i % 3) for i in range(40)],  # zero-padded codes: not numbers
    })
    spec, comments, notes = infer_spec(df)
    col = spec.columns["Total Spend"]
    assert (col.kind, col.role, col.format) == ("numeric", "value", "$1,234.56")
    assert set(col.na_values) == {"N/A", "#DIV/0!"}
    assert "Total Spend" in spec.cluster_on
    assert spec.columns["Score"].kind == "categorical"
    assert "written as '$1,234.56' (currency '$', thousands separator ',')" in comments[
        "columns.Total Spend"]


def test_inference_says_when_the_format_is_ambiguous():
    df = pd.DataFrame({"id": [f"c{i}" for i in range(30)],
                       "amount": [f"{i},{(7 * i) % 1000:03d}" for i in range(1, 31)]})
    spec, comments, notes = infer_spec(df)
    assert spec.columns["amount"].format == "1,234.56"
    assert "Ambiguous" in comments["columns.amount"]
    assert any("ambiguous" in n for n in notes)


def _run(path, out):
    res = CliRunner().invoke(app, ["run", str(path), "-o", str(out), "--quiet", "--jobs", "1"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return parse_spec((out / "spec.toml").read_text()), json.loads(
        (out / "manifest.json").read_text())


def _spend(n: int, seed: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).gamma(2.0, 600.0, n), 2)


def test_a_run_without_spec_on_a_currency_file_clusters_on_the_money(tmp_path):
    spend = _spend(300, 1)
    cells = [f'"${v:,.2f}"' for v in spend]
    cells[4], cells[9] = "N/A", "#DIV/0!"
    path = tmp_path / "crm.csv"
    path.write_text("Customer ID,Total Spend,Orders\n" + "".join(
        f"CRM-{i},{c},{i % 7}\n" for i, c in enumerate(cells)))
    spec, manifest = _run(path, tmp_path / "run")
    assert spec.columns["Total Spend"].format == "$1,234.56"
    assert "Total Spend" in spec.cluster_on
    codes = [w["code"] for w in manifest["warnings"]]
    assert "spreadsheet-errors" in codes
    analysis = json.loads((tmp_path / "run" / "analysis.json").read_text())
    assert "Total Spend" in json.dumps(analysis["segments"])


def test_a_semicolon_file_with_decimal_commas_and_a_parquet_of_text_numbers(tmp_path):
    spend = _spend(200, 2)
    path = tmp_path / "eu.csv"
    path.write_text("kunde;umsatz\n" + "".join(
        f"K{i};{v:.2f}\n".replace(".", ",") for i, v in enumerate(spend)))
    spec, _ = _run(path, tmp_path / "eu")
    assert spec.columns["umsatz"].format == "1234,56" and spec.id == "kunde"
    table = pd.read_parquet(tmp_path / "eu" / "segments.parquet")
    assert len(table) == 200

    parquet = tmp_path / "text.parquet"
    pd.DataFrame({"id": [f"c{i}" for i in range(200)], "CLV": [f"{v:.2f}" for v in spend],
                  "minutes": [str(int(v) % 97) + ".5" for v in spend]}).to_parquet(parquet)
    spec, _ = _run(parquet, tmp_path / "pq")
    assert spec.columns["CLV"].kind == "numeric" and spec.columns["CLV"].format == ""
    assert set(spec.cluster_on) == {"CLV", "minutes"}
