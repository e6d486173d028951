"""Personal data: recognised by init, never the id, never in a run's outputs, exported only when named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg.cli import app
from custseg.errors import SpecError
from custseg.infer import infer_spec
from custseg.spec import parse_spec

FIRST = ["Anna", "Ben", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro", "Ines", "Jon"]


def crm(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "Email": [f"user{i}@example.com" for i in range(n)],  # first and unique: still not the id
        "Customer ID": [f"CRM-{i}" for i in range(n)],
        "Phone": [f"+44 20 7946 {i:04d}" for i in range(n)],
        "Full Name": [f"{FIRST[i % 10]} Okafor-{i}" for i in range(n)],
        "Street Address": [f"{i} Kingsland Road" for i in range(n)],
        "Plan name": rng.choice(["Free", "Pro", "Enterprise"], n),
        "Product name": [f"Widget {i % 80}" for i in range(n)],
        "Notes": [f"called back about order {i}" for i in range(n)],
        "Total Spend": np.round(rng.gamma(2, 60, n), 2),
        "Orders": rng.poisson(3, n),
    })


def test_init_marks_personal_columns_and_free_text():
    spec, comments, _ = infer_spec(crm())
    assert spec.id == "Customer ID"
    assert spec.personal == ["Email", "Phone", "Full Name", "Street Address"]
    assert set(spec.text) == {"Email", "Phone", "Full Name", "Street Address", "Product name",
                              "Notes"}
    assert not spec.text["Notes"].pii and not spec.text["Product name"].pii
    assert spec.columns["Plan name"].kind == "categorical"
    assert not set(spec.text) & set(spec.used)
    assert "personal data (pii = true)" in comments["columns.Phone"]
    again = parse_spec(spec.to_toml(comments))  # the written spec reads back the same
    assert again.personal == spec.personal and again.to_dict() == spec.to_dict()


def test_phone_numbers_need_a_phone_name_and_names_a_name():
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(100)],
                          "ref": [f"+44 20 7946 {i:04d}" for i in range(100)],
                          "Plan name": ["Free", "Pro"] * 50, "x": np.arange(100.0)})
    spec, _, _ = infer_spec(frame)
    assert spec.personal == []  # a code that looks like a phone number is not one by shape alone


@pytest.mark.parametrize(("column", "message"), [
    ('kind = "numeric"\npii = true', "has pii but kind is numeric"),
    ('kind = "text"\nrole = "value"', "is a text column and cannot have role"),
    ('kind = "text"\npii = "yes"', "pii must be true or false"),
])
def test_spec_errors(column, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(f'cluster_on = ["x"]\n[columns.x]\nkind = "numeric"\n[columns.e]\n{column}\n')


def test_a_text_column_cannot_be_segmented_on():
    with pytest.raises(SpecError, match="'e', a kind = \"text\" column"):
        parse_spec('cluster_on = ["x", "e"]\n[columns.x]\nkind = "numeric"\n'
                   '[columns.e]\nkind = "text"\npii = true\n')


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("pii")
    data = base / "crm.csv"
    crm().to_csv(data, index=False)
    out = base / "run"
    res = _invoke("run", data, "-o", out, "--quiet", "--jobs", "1", "--k", "3")
    assert res.exit_code == 0, res.output
    return data, out


def test_no_personal_value_reaches_the_run_directory(run):
    data, out = run
    frame = crm()
    values = [v.encode() for c in ("Email", "Phone", "Full Name", "Street Address")
              for v in frame[c].iloc[[0, 17, 299]]]
    for path in out.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not [v for v in values if v in content], path.name
    assert "kind = \"text\"\npii = true" in (out / "spec.toml").read_text()


def test_assign_reads_a_file_with_the_personal_columns(run, tmp_path):
    data, out = run
    res = _invoke("assign", out / "model.json", data, "-o", tmp_path / "a.csv", "--jobs", "1")
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "a.csv")["Customer ID"].tolist() == crm()["Customer ID"].tolist()


def test_export_joins_named_columns_and_personal_ones_only_when_named(run, tmp_path):
    data, out = run
    frame = crm().set_index("Customer ID")
    named = tmp_path / "named.csv"
    res = _invoke("export", out, "--segment", "all", "-o", named, "--data", data,
                  "--columns", "Email, Plan name")
    assert res.exit_code == 0, res.output
    got = pd.read_csv(named)
    assert list(got.columns)[-2:] == ["Email", "Plan name"]
    assert got["Email"].tolist() == frame.loc[got["Customer ID"], "Email"].tolist()

    every = tmp_path / "all.csv"
    res = _invoke("export", out, "--segment", "0", "-o", every, "--data", data, "--columns", "all")
    assert res.exit_code == 0, res.output
    columns = set(pd.read_csv(every).columns)
    assert {"Plan name", "Notes", "Total Spend", "Orders"} <= columns
    assert not columns & {"Email", "Phone", "Full Name", "Street Address"}


def test_export_data_errors_and_warnings(run, tmp_path):
    data, out = run
    res = _invoke("export", out, "--segment", "0", "-o", tmp_path / "x.csv", "--data", data,
                  "--columns", "Emial")
    assert res.exit_code == 2
    assert "--columns names 'Emial', which" in res.output and "did you mean 'Email'?" in res.output
    res = _invoke("export", out, "--segment", "0", "-o", tmp_path / "x.csv", "--data", data)
    assert res.exit_code == 2 and "--data and --columns go together" in res.output
    assert not (tmp_path / "x.csv").exists()

    fewer = tmp_path / "fewer.csv"
    crm().iloc[10:].to_csv(fewer, index=False)
    res = _invoke("export", out, "--segment", "all", "-o", tmp_path / "y.csv", "--data", fewer,
                  "--columns", "Email")
    assert res.exit_code == 0
    assert "warning [not-in-data]: 10 customers of the export are not in" in res.output
    got = pd.read_csv(tmp_path / "y.csv")
    assert int(got["Email"].isna().sum()) == 10

    twice = tmp_path / "twice.csv"
    pd.concat([crm(), crm().iloc[[4]]]).to_csv(twice, index=False)
    res = _invoke("export", out, "--segment", "0", "-o", tmp_path / "z.csv", "--data", twice,
                  "--columns", "Email")
    assert res.exit_code == 2 and "2 rows sharing an id in 'Customer ID'" in res.output
