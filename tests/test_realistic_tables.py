"""A corpus of realistic customer tables, each with the spec a careful analyst would write.

The tables are generated here (e-commerce, SaaS accounts, a telco subscription table,
a CRM export with personal data); the expected spec of each column is what the column
means, written by hand, not what custseg happened to infer. The runs check that the
segments are named in each column's direction.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg.cli import app
from custseg.infer import infer_spec

N = 600


def _dates(rng, start: str, days: int, n: int, fmt: str = "%Y-%m-%d") -> list[str]:
    return list((pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), "D"))
                .strftime(fmt))


def ecommerce() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    lapsed = rng.random(N) < 0.4
    frame = pd.DataFrame({
        "customer_id": [f"C-{i:06d}" for i in range(N)],
        "first_order_date": _dates(rng, "2021-01-01", 900, N),
        "last_order_date": [d.strftime("%Y-%m-%d") for d in
                            pd.Timestamp("2024-06-30") - pd.to_timedelta(
                                np.where(lapsed, rng.integers(180, 500, N),
                                         rng.integers(0, 60, N)), "D")],
        "total_orders": np.where(lapsed, rng.poisson(1.5, N), rng.poisson(7, N)),
        "revenue": [f"${v:,.2f}" for v in rng.gamma(2, 300, N) * np.where(lapsed, 0.5, 1.6)],
        "returns": rng.poisson(0.4, N),
        "country": rng.choice(["US", "CA", "UK", "DE", "FR"], N),
        "is_subscribed": rng.integers(0, 2, N),
    })
    return frame


ECOMMERCE = {  # column: (kind, role, better, missing, format)
    "first_order_date": ("date", "attribute", "higher", "median", "YYYY-MM-DD"),
    "last_order_date": ("date", "engagement", "lower", "never", "YYYY-MM-DD"),
    "total_orders": ("numeric", "engagement", "higher", "zero", ""),
    "revenue": ("numeric", "value", "higher", "median", "$1,234.56"),
    "returns": ("numeric", "attribute", "lower", "zero", ""),
    "country": ("categorical", "attribute", "higher", "unknown", ""),
    "is_subscribed": ("boolean", "attribute", "higher", "unknown", ""),
}


def saas() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    dormant = rng.random(N) < 0.3
    days = np.where(dormant, rng.integers(90, 365, N), rng.integers(0, 20, N)).astype(float)
    days[rng.random(N) < 0.04] = np.nan  # never logged in
    return pd.DataFrame({
        "account_id": [f"acct_{i:05d}" for i in range(N)],
        "plan": rng.choice(["Free", "Starter", "Pro", "Enterprise"], N),
        "seats": rng.integers(1, 60, N),
        "mrr": np.round(rng.gamma(2, 80, N), 2),
        "logins_last_30d": np.where(dormant, rng.poisson(0.5, N), rng.poisson(25, N)),
        "days_since_last_login": days,
        "support_tickets": rng.poisson(1.2, N),
        "signup_date": _dates(rng, "2020-03-01", 1400, N, "%d/%m/%Y"),
    })


SAAS = {
    "plan": ("categorical", "attribute", "higher", "unknown", ""),
    "mrr": ("numeric", "value", "higher", "median", ""),
    "logins_last_30d": ("numeric", "engagement", "higher", "zero", ""),
    "days_since_last_login": ("numeric", "engagement", "lower", "never", ""),
    "support_tickets": ("numeric", "engagement", "higher", "zero", ""),
    "signup_date": ("date", "attribute", "higher", "median", "DD/MM/YYYY"),
}


def telco() -> pd.DataFrame:
    rng = np.random.default_rng(13)
    monthly = rng.gamma(4, 15, N)
    return pd.DataFrame({
        "subscriber": [f"S{i:07d}" for i in range(N)],
        "tenure_months": rng.integers(1, 72, N),
        "monthly_charges": [f"{v:.2f}".replace(".", ",") for v in monthly],
        "complaints": rng.poisson(0.3, N),
        "contract": rng.choice(["Month-to-month", "One year", "Two year"], N),
        "paperless_billing": rng.choice(["Yes", "No"], N),
        "churned": rng.choice(["yes", "no"], N, p=[0.2, 0.8]),
    })


TELCO = {
    "monthly_charges": ("numeric", "value", "higher", "median", "1234,56"),
    "complaints": ("numeric", "attribute", "lower", "zero", ""),
    "contract": ("categorical", "attribute", "higher", "unknown", ""),
    "paperless_billing": ("boolean", "attribute", "higher", "unknown", ""),
    "churned": ("boolean", "attribute", "higher", "unknown", ""),
}


def crm() -> pd.DataFrame:
    rng = np.random.default_rng(14)
    return pd.DataFrame({
        "Customer ID": [f"CRM-{100000 + i}" for i in range(N)],
        "Email": [f"person{i}@example.org" for i in range(N)],
        "Phone": [f"+1 (555) 01{i % 100:02d}-{i:04d}" for i in range(N)],
        "Contact name": [f"{['Ana', 'Bo', 'Cy', 'Di'][i % 4]} Park{i}" for i in range(N)],
        "Total Spend (€)": [f"{v:,.2f} €".replace(",", " ").replace(".", ",")
                            for v in rng.gamma(2, 400, N)],
        "Orders": rng.poisson(4, N),
        "Newsletter": rng.choice(["yes", "no"], N),
        "Notes": [f"call {i}: asked about invoice {rng.integers(10**6)}" for i in range(N)],
    })


CRM = {
    "Total Spend (€)": ("numeric", "value", "higher", "median", "1 234,56 €"),
    "Orders": ("numeric", "engagement", "higher", "zero", ""),
    "Newsletter": ("boolean", "attribute", "higher", "unknown", ""),
}

TABLES = {"ecommerce": (ecommerce, ECOMMERCE, "customer_id", []),
          "saas": (saas, SAAS, "account_id", []),
          "telco": (telco, TELCO, "subscriber", []),
          "crm": (crm, CRM, "Customer ID", ["Email", "Phone", "Contact name"])}


@pytest.mark.parametrize("name", list(TABLES))
def test_the_inferred_spec_says_what_each_column_means(name):
    make, expected, id_col, personal = TABLES[name]
    spec, comments, _ = infer_spec(make())
    assert spec.id == id_col
    assert spec.personal == personal
    for column, (kind, role, better, missing, fmt) in expected.items():
        col = spec.columns[column]
        got = (col.kind, col.role, col.better, col.missing, col.format)
        assert got == (kind, role, better, missing, fmt), column
    if name == "crm":
        assert not spec.text["Notes"].pii


def _run(frame: pd.DataFrame, tmp_path, k: int = 3) -> dict:
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(data), "-o", str(out), "--quiet", "--jobs", "1",
                                   "--k", str(k)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads((out / "profiles.json").read_text())


def test_lapsed_ecommerce_customers_are_named_so(tmp_path):
    profiles = _run(ecommerce(), tmp_path)["segments"]
    days = "last_order_date (days)"
    by_days = sorted(profiles, key=lambda p: p["numeric"][days]["median"])
    newest, oldest = by_days[0], by_days[-1]
    assert oldest["numeric"][days]["median"] > 150 > 60 > newest["numeric"][days]["median"]
    assert "inactive" in oldest["name"].lower()
    assert "inactive" not in newest["name"].lower()
    names = [p["name"] for p in profiles]
    assert len({frozenset(n.lower().split(", ")) for n in names}) == len(names)


def test_saas_customers_who_never_logged_in_are_told_apart(tmp_path):
    profiles = _run(saas(), tmp_path, k=4)["segments"]
    flag = "days_since_last_login missing"
    never = max(profiles, key=lambda p: p["numeric"][flag]["mean"])
    assert never["numeric"][flag]["mean"] > 0.9  # (4% of customers: one segment holds them)
    assert "never active" in never["name"].lower()
    # not also "inactive" for the days they were given in place of a login they never had
    assert "inactive" not in never["name"].lower().replace("never active", "")
    assert not any("high engagement" in p["name"].lower() and "inactive" in p["name"].lower()
                   for p in profiles)
