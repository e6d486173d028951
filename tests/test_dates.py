"""Date columns: read by their format, segmented as days to the observation date.

Expected days are worked out by hand from the calendar.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import custseg
from custseg.cli import app
from custseg.dates import detect_date_format, parse_dates
from custseg.derive import derive_columns
from custseg.errors import SpecError
from custseg.infer import infer_spec
from custseg.spec import parse_spec

SPEC = '''id = "id"
cluster_on = ["Signup Date", "Spend"]
[columns."Signup Date"]
kind = "date"
format = "DD/MM/YYYY"
[columns.Spend]
kind = "numeric"
role = "value"
'''


@pytest.mark.parametrize(("fmt", "cells", "want"), [
    ("YYYY-MM-DD", ["2024-02-29", "2024-03-01 14:05:00", "2024-03-01T23:59"],
     ["2024-02-29", "2024-03-01", "2024-03-01"]),
    ("DD/MM/YYYY", ["31/12/2023", "1/2/2024"], ["2023-12-31", "2024-02-01"]),
    ("MM/DD/YYYY", ["12/31/2023", "1/2/2024"], ["2023-12-31", "2024-01-02"]),
    ("DD.MM.YYYY", ["05.11.2024"], ["2024-11-05"]),
    ("YYYYMMDD", ["20240105"], ["2024-01-05"]),
])
def test_parse_dates(fmt, cells, want):
    values, bad = parse_dates(pd.Series(cells), fmt)
    assert not bad.any()
    assert [str(pd.Timestamp(v).date()) for v in values] == want


def test_bad_dates_are_flagged_not_guessed():
    values, bad = parse_dates(pd.Series(["31/02/2024", "2024-01-05", "soon", "", None]),
                              "DD/MM/YYYY")
    assert bad.tolist() == [True, True, True, False, False]
    assert np.isnat(values).all()


@pytest.mark.parametrize(("cells", "fmt", "ambiguous"), [
    (["2024-01-05", "2023-12-31"], "YYYY-MM-DD", False),
    (["25/01/2024", "03/02/2024"], "DD/MM/YYYY", False),   # a day above 12: day first
    (["01/25/2024", "02/03/2024"], "MM/DD/YYYY", False),   # a month... above 12: month first
    (["01/02/2024", "03/04/2024"], "DD/MM/YYYY", True),    # both read: say so
])
def test_detect_date_format(cells, fmt, ambiguous):
    assert detect_date_format(pd.Series(cells)) == (fmt, ambiguous)


def test_text_that_is_not_dates_is_not_dates():
    assert detect_date_format(pd.Series(["Pro", "Free"])) is None
    assert detect_date_format(pd.Series([1, 2])) is None


def test_derive_columns_counts_to_as_of_and_names_the_feature():
    spec = parse_spec(SPEC)
    df = pd.DataFrame({"id": ["a", "b", "c"], "Signup Date": ["01/01/2024", "29/02/2024", ""],
                       "Spend": [1.0, 2.0, 3.0]})
    frame, derived, as_of, problems = derive_columns(df, spec, as_of="2024-03-01")
    # 2024 is a leap year: Jan 1 -> Mar 1 is 31 + 29 = 60 days; Feb 29 -> Mar 1 is 1
    np.testing.assert_array_equal(frame["Signup Date (days)"].to_numpy(), [60, 1, np.nan])
    assert as_of == "2024-03-01" and problems == []
    assert derived.cluster_on == ["Signup Date (days)", "Spend"]
    assert derived.columns["Signup Date (days)"].kind == "numeric"
    # without an as_of: the newest date in the data (Feb 29)
    frame, _, as_of, _ = derive_columns(df, spec)
    assert as_of == "2024-02-29"
    np.testing.assert_array_equal(frame["Signup Date (days)"].to_numpy(), [59, 0, np.nan])


def test_derive_columns_errors_and_warnings_name_rows():
    spec = parse_spec(SPEC)
    df = pd.DataFrame({"id": ["a", "b", "c"], "Signup Date": ["01/01/2024", "2024-01-05",
                                                              "05/03/2024"],
                       "Spend": [1.0, 2.0, 3.0]})
    _, _, _, problems = derive_columns(df, spec, as_of="2024-03-01",
                                    row_numbers=np.array([0, 4, 5]))
    by = {p.code: p for p in problems}
    assert by["not-a-date"].severity == "error" and by["not-a-date"].rows == [5]
    assert "(row 5: '2024-01-05')" in by["not-a-date"].message
    assert by["future-date"].severity == "warning" and by["future-date"].rows == [6]


@pytest.mark.parametrize(("text", "message"), [
    (SPEC.replace('format = "DD/MM/YYYY"', 'format = "D/M/Y"'), "is a date column with format"),
    (SPEC.replace('format = "DD/MM/YYYY"\n', ''), "is a date column with format = ''"),
    ('as_of = "30.11.2026"\n' + SPEC, "as_of = '30.11.2026' is not a date written YYYY-MM-DD"),
])
def test_spec_errors(text, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


def test_spec_round_trip_keeps_as_of_and_format():
    spec = parse_spec('as_of = "2026-11-30"\n' + SPEC)
    again = parse_spec(spec.to_toml())
    assert again.as_of == "2026-11-30"
    assert again.columns["Signup Date"].format == "DD/MM/YYYY"


def test_inference_finds_tenure_and_days_since():
    df = pd.DataFrame({"id": [f"c{i}" for i in range(30)],
                       "Signup Date": [f"2023-0{1 + i % 9}-1{i % 10}" for i in range(30)],
                       "Last Login": [f"{10 + i % 18}/0{1 + i % 9}/2024" for i in range(30)],
                       "Spend": np.arange(30.0)})
    spec, comments, _ = infer_spec(df)
    tenure, since = spec.columns["Signup Date"], spec.columns["Last Login"]
    assert (tenure.kind, tenure.format, tenure.better) == ("date", "YYYY-MM-DD", "higher")
    assert (since.kind, since.format, since.better, since.role) == ("date", "DD/MM/YYYY", "lower",
                                                                   "engagement")
    assert {"Signup Date", "Last Login", "Spend"} == set(spec.cluster_on)
    assert "'Last Login (days)'" in comments["columns.Last Login"]


def _crm(n: int = 240, shift_days: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=shift_days)
    lapsed = rng.random(n) < 0.4
    last = pd.Timestamp("2024-06-30") + pd.Timedelta(days=shift_days) - pd.to_timedelta(
        np.where(lapsed, rng.integers(200, 400, n), rng.integers(0, 40, n)), "D")
    return pd.DataFrame({
        "Customer ID": [f"CRM-{100000 + i}" for i in range(n)],
        "Signup Date": (start + pd.to_timedelta(rng.integers(0, 800, n), "D")).strftime("%Y-%m-%d"),
        "Last Purchase Date": last.strftime("%Y-%m-%d"),
        "Total Spend": np.round(rng.gamma(2, 60, n) * np.where(lapsed, 0.7, 1.3), 2),
    })


def test_run_assign_and_api_with_dates(tmp_path):
    path = tmp_path / "crm.csv"
    _crm().to_csv(path, index=False)
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(path), "-o", str(run), "--quiet", "--jobs", "1",
                                   "--k", "3"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    spec = parse_spec((run / "spec.toml").read_text())
    assert spec.as_of == "2024-06-30" and spec.columns["Signup Date"].kind == "date"
    model = json.loads((run / "model.json").read_text())
    assert model["features"]["columns"] == ["Signup Date (days)", "Last Purchase Date (days)",
                                            "Total Spend"]
    analysis = json.loads((run / "analysis.json").read_text())
    names = [s["name"] for s in analysis["segments"]]
    assert any("inactive" in n.lower() or "lapsed" in n.lower() for n in names)
    assert not any("high engagement" in n.lower() for n in names
                   if "inactive" in n.lower())
    segments = pd.read_csv(run / "segments.csv", dtype=str)

    # a month later, every date 30 days on: the same days, so the same segments
    later = tmp_path / "later.csv"
    _crm(shift_days=30).to_csv(later, index=False)
    out = tmp_path / "assigned.csv"
    res = CliRunner().invoke(app, ["assign", str(run / "model.json"), str(later), "-o", str(out),
                                   "--jobs", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assigned = pd.read_csv(out, dtype=str)
    assert assigned["segment"].tolist() == segments["segment"].tolist()
    # counted to an as_of 30 days before the newest date, the same file's days are the training's
    out2 = tmp_path / "assigned2.csv"
    res = CliRunner().invoke(app, ["assign", str(run / "model.json"), str(path), "-o", str(out2),
                                   "--as-of", "2024-06-30"], catch_exceptions=False)
    assert pd.read_csv(out2, dtype=str)["segment"].tolist() == segments["segment"].tolist()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from custseg.api import create_app

    client = TestClient(create_app(custseg.load_model(run / "model.json")))
    first = _crm().iloc[0].to_dict()
    reply = client.post("/v1/assign", json={"customers": [first]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["assignments"][0]["segment"] == int(segments["segment"].iloc[0])


def test_compare_and_predict_read_dates_as_the_fit_did(tmp_path):
    frame = _crm(200)
    seg = custseg.CustomerSegmenter(k=3, stability_runs=0).fit(frame)
    assert seg.features_.columns_[:2] == ["Signup Date (days)", "Last Purchase Date (days)"]
    np.testing.assert_array_equal(seg.predict(frame), seg.labels_)
    later = _crm(200, shift_days=30)  # a month on, every date moved with it
    np.testing.assert_array_equal(seg.predict(later), seg.labels_)
    run = tmp_path / "run"
    data = tmp_path / "crm.csv"
    frame.to_csv(data, index=False)
    assert CliRunner().invoke(app, ["run", str(data), "-o", str(run), "--quiet", "--k", "3"],
                              catch_exceptions=False).exit_code == 0
    new = tmp_path / "later.csv"
    later.to_csv(new, index=False)
    res = CliRunner().invoke(app, ["compare", str(run), str(new), "-o", str(tmp_path / "cmp")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    drift = report["drift"]
    assert set(drift) >= {"Signup Date (days)", "Last Purchase Date (days)", "Total Spend"}
    assert all(d["psi"] < 0.01 for d in drift.values())


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"])
def test_an_order_log_in_another_date_format_gives_the_iso_result(tmp_path, fmt):
    rng = np.random.default_rng(3)
    n = 400
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 360, n), "D")
    log = pd.DataFrame({"customer_id": [f"c{i}" for i in rng.integers(0, 60, n)],
                        "order_date": days.strftime("%Y-%m-%d"),
                        "amount": np.round(rng.gamma(2, 30, n), 2)})
    iso, other = tmp_path / "iso.csv", tmp_path / "other.csv"
    log.to_csv(iso, index=False)
    log.assign(order_date=days.strftime(fmt)).to_csv(other, index=False)
    outs = []
    for path in (iso, other):
        out = tmp_path / f"{path.stem}.parquet"
        res = CliRunner().invoke(app, ["rfm", str(path), "-o", str(out)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        outs.append((pd.read_parquet(out), res.output))
    pd.testing.assert_frame_equal(outs[0][0], outs[1][0])
    assert "date-format" not in outs[0][1]
    assert (f"warning [date-format]: column 'order_date' holds dates written "
            f"{ {'%d/%m/%Y': 'DD/MM/YYYY', '%m/%d/%Y': 'MM/DD/YYYY', '%d.%m.%Y': 'DD.MM.YYYY'}[fmt]}"
            ", read so") in outs[1][1]


def test_an_ambiguous_order_log_date_says_so(tmp_path):
    log = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
                        "date": ["01/02/2024", "03/04/2024", "05/06/2024", "07/08/2024",
                                 "09/10/2024"], "amount": [1.0, 2.0, 3.0, 4.0, 5.0]})
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    res = CliRunner().invoke(app, ["rfm", str(path), "-o", str(tmp_path / "o.csv")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert ("holds dates written DD/MM/YYYY, read so; every date there also reads the other way "
            "round (no day above 12): check that the days come first") in res.output
