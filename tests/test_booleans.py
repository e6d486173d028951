"""Yes/no columns: every spelling read as the two levels yes and no."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg.booleans import detect_booleans, parse_booleans
from custseg.cli import app
from custseg.derive import derive_columns
from custseg.infer import infer_spec
from custseg.spec import parse_spec


def test_parse_booleans_reads_every_spelling():
    codes, bad = parse_booleans(pd.Series(["Yes", "no", " Y", "n", "TRUE", "false", "1", "0", "",
                                           None, "maybe"]))
    assert codes.tolist()[:8] == ["yes", "no", "yes", "no", "yes", "no", "yes", "no"]
    assert codes.isna().tolist()[8:] == [True, True, True]
    assert bad.tolist() == [False] * 10 + [True]
    codes, bad = parse_booleans(pd.Series([True, False, None], dtype=object))
    assert codes.tolist()[:2] == ["yes", "no"] and not bad.any()


@pytest.mark.parametrize(("name", "values", "expected"), [
    ("Newsletter", ["yes", "no", "yes"], True),
    ("Opted in", ["Y", "N"], True),
    ("active", [True, False], True),
    ("is_active", [1, 0, 1], True),        # 0/1 under a yes/no name
    ("region", [1, 0, 1], False),           # 0/1 codes otherwise
    ("orders", [0, 1, 1], False),
    ("plan", ["yes", "maybe", "no"], False),
    ("grade", ["A", "B"], False),
])
def test_detect_booleans(name, values, expected):
    assert detect_booleans(name, pd.Series(values)) is expected


def test_spec_and_derivation():
    spec = parse_spec('cluster_on = ["x"]\ndescribe = ["Newsletter"]\n[columns.x]\nkind = "numeric"\n'
                      '[columns.Newsletter]\nkind = "boolean"\nmissing = "unknown"\n')
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "Newsletter": ["Y", "n", "perhaps"]})
    frame, derived, as_of, problems = derive_columns(df, spec)
    assert derived.columns["Newsletter"].kind == "categorical" and as_of is None
    assert frame["Newsletter"].tolist()[:2] == ["yes", "no"]
    [problem] = problems
    assert problem.code == "not-yes-no" and problem.rows == [3]
    assert problem.message.startswith("column 'Newsletter' has 1 value that is not a yes/no "
                                      "value (row 3: 'perhaps')")


def test_a_run_reads_yes_no_columns_and_assign_accepts_other_spellings(tmp_path):
    rng = np.random.default_rng(2)
    n = 240
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
                          "CLV": np.round(rng.gamma(2, 50, n), 2),
                          "minutes_watched": np.round(rng.gamma(2, 400, n), 1),
                          "Newsletter": rng.choice(["yes", "no"], n),
                          "is_mobile": rng.integers(0, 2, n)})
    spec, _, _ = infer_spec(frame)
    assert spec.columns["Newsletter"].kind == "boolean"
    assert spec.columns["is_mobile"].kind == "boolean"
    data = tmp_path / "c.csv"
    frame.to_csv(data, index=False)
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(data), "-o", str(run), "--quiet", "--k", "3"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    profiles = json.loads((run / "profiles.json").read_text())["segments"]
    levels = {lvl["code"] for p in profiles for lvl in p["categorical"]["Newsletter"]}
    assert levels == {"yes", "no"}
    other = frame.assign(Newsletter=frame["Newsletter"].map({"yes": "TRUE", "no": "FALSE"}))
    new = tmp_path / "new.csv"
    other.to_csv(new, index=False)
    out = tmp_path / "a.csv"
    res = CliRunner().invoke(app, ["assign", str(run / "model.json"), str(new), "-o", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (pd.read_csv(out)["segment"].tolist()
            == pd.read_csv(run / "segments.csv")["segment"].tolist())
