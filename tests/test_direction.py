"""Issue #17 parts 2 and 3: which end of a column is better, and counts are numbers.

A CRM-style table (text ids, spend, a count of orders, days since the last login,
a plan, coded region and channel) is generated here; the expected spec and names
follow from the rules written in the tests, not from a run of the code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.errors import SpecError
from custseg.infer import infer_spec
from custseg.pipeline import RunOptions, segment
from custseg.profile import _words
from custseg.recommend import DEFAULT_RULES, segment_recommendations
from custseg.segmenter import CustomerSegmenter
from custseg.spec import parse_spec
from custseg.validate import validate


def crm_table(n: int = 2_000, seed: int = 3) -> pd.DataFrame:
    """Two kinds of customers: active (logged in days ago, more orders and spend) and
    lapsed (logged in about 300 days ago, few orders, less spend)."""
    rng = np.random.default_rng(seed)
    lapsed = rng.random(n) < 0.4
    days = np.where(lapsed, rng.normal(300, 30, n), rng.normal(8, 4, n)).clip(0, 399).round()
    orders = np.where(lapsed, rng.poisson(1, n), rng.poisson(6, n)).clip(0, 12)
    spend = np.where(lapsed, rng.gamma(2, 20, n), rng.gamma(4, 50, n)).round(2)
    frame = pd.DataFrame({
        "Customer ID": [f"CRM-{100_000 + i}" for i in range(n)],
        "Total Spend": spend,
        "Orders": orders.astype("int64"),
        "Days Since Last Login": days,
        "Plan": rng.choice(["Free", "Pro", "Enterprise"], n),
        "region": rng.integers(0, 3, n),
        "channel": rng.integers(1, 9, n),
    })
    frame.loc[rng.random(n) < 0.05, "Days Since Last Login"] = np.nan
    return frame


def test_a_crm_table_is_read_in_the_right_direction():
    spec, comments, notes = infer_spec(crm_table())
    cols = spec.columns
    assert spec.id == "Customer ID"
    assert (cols["Total Spend"].kind, cols["Total Spend"].role) == ("numeric", "value")
    assert cols["Total Spend"].better == "higher"
    # a count (0-12, 13 values) is a number, not 13 categories
    assert (cols["Orders"].kind, cols["Orders"].role, cols["Orders"].missing) == (
        "numeric", "engagement", "zero")
    assert "a count" in comments["columns.Orders"]
    # fewer days since the last login is better; an empty cell is not "today"
    days = cols["Days Since Last Login"]
    assert (days.kind, days.role, days.better) == ("numeric", "engagement", "lower")
    assert days.missing != "zero"
    assert "not today" in comments["columns.Days Since Last Login"]
    # codes stay categories
    assert cols["region"].kind == cols["channel"].kind == cols["Plan"].kind == "categorical"
    assert set(spec.cluster_on) == {"Total Spend", "Orders", "Days Since Last Login"}


def test_better_is_written_only_when_lower_and_read_back():
    spec, comments, _ = infer_spec(crm_table(300))
    text = spec.to_toml(comments)
    assert [line for line in text.splitlines() if line.startswith("better")] == [
        'better = "lower"']
    assert 'better = "lower"' in text
    back = parse_spec(text)
    assert back.columns["Days Since Last Login"].better == "lower"
    assert back.columns["Total Spend"].better == "higher"
    assert back.to_dict() == spec.to_dict()


@pytest.mark.parametrize("body, message", [
    ('[columns.plan]\nkind = "categorical"\nbetter = "lower"\n',
     r"\[columns.plan\] has better = 'lower' but kind is categorical"),
    ('[columns.spend]\nkind = "numeric"\nrole = "value"\nbetter = "lower"\n',
     r"\[columns.spend\] is a value column with better = \"lower\""),
    ('[columns.spend]\nkind = "numeric"\nbetter = "less"\n', r"better"),
])
def test_a_wrong_better_is_a_spec_error(body, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(body)


def test_count_shape_without_a_count_name():
    rng = np.random.default_rng(0)
    n = 3_000
    frame = pd.DataFrame({
        "x": rng.poisson(3, n).clip(0, 14),           # 0..14, most small: a count
        "tier": rng.integers(0, 5, n),                 # 0..4 evenly: a code, maybe a count
        "minutes": rng.gamma(2, 100, n),
    })
    spec, comments, _ = infer_spec(frame)
    assert spec.columns["x"].kind == "numeric"
    assert spec.columns["tier"].kind == "categorical"
    assert 'set kind = "numeric"' in comments["columns.tier"]


def test_the_365_codes_get_no_count_hint():
    frame = pd.DataFrame({"region": [0, 1, 2] * 40, "channel": list(range(1, 9)) * 15,
                          "CLV": np.linspace(1, 100, 120)})
    _, comments, _ = infer_spec(frame)
    assert "set kind" not in comments["columns.region"]
    assert "set kind" not in comments["columns.channel"]


def test_the_lapsed_segment_is_named_inactive_never_engaged():
    frame = crm_table()
    result = segment(frame, None, RunOptions(k=2, seed=0))
    est = result.segmenter
    days = "Days Since Last Login"
    medians = {p["segment"]: p["numeric"][days]["median"] for p in est.profiles_}
    lapsed = max(medians, key=medians.get)
    active = min(medians, key=medians.get)
    assert medians[lapsed] > 200 > 20 > medians[active]
    names = est.segment_names_
    assert "inactive" in names[lapsed].lower()
    assert "engagement" not in names[lapsed].lower().replace("low engagement", "")
    assert "recently active" in names[active].lower()
    assert names[lapsed] != names[active]


def test_words_follow_the_direction():
    spec = parse_spec(
        '[columns."Days Since Last Login"]\nkind = "numeric"\nrole = "engagement"\n'
        'better = "lower"\n'
        '[columns.complaints]\nkind = "numeric"\nbetter = "lower"\n'
        '[columns.minutes]\nkind = "numeric"\nrole = "engagement"\n')
    assert _words(spec, "Days Since Last Login") == ("recently active", "inactive")
    assert _words(spec, "complaints") == ("few complaints", "many complaints")
    assert _words(spec, "minutes") == ("low engagement", "high engagement")


def test_recommendations_read_engagement_in_its_direction():
    # valuable (value z +1) and far above average on days since the last login (z +1):
    # valuable but disengaged, so "re-engage"; had more days been better, no rule fires
    seg = {"segment": 0, "name": "S", "share": 0.2, "value_share": {"spend": 0.2},
           "z": {"spend": 1.0, "days": 1.0}}
    lower = segment_recommendations([seg], "spend", "days", DEFAULT_RULES,
                                    engagement_better="lower")
    higher = segment_recommendations([seg], "spend", "days", DEFAULT_RULES)
    assert [r["action"] for r in lower] == ["nurture"]
    assert "(lower is better)" in lower[0]["evidence_text"]
    assert lower[0]["evidence"]["engagement_z"] == 1.0
    assert [r["action"] for r in higher] == []


def test_an_order_log_spec_says_recency_is_better_low():
    spec = parse_spec('kind = "transactions"\n[transactions]\ncustomer = "c"\ndate = "d"\n'
                      'amount = "a"\n')
    assert spec.columns["recency_days"].better == "lower"


def test_a_trait_every_segment_shares_is_left_out_of_the_names():
    # both segments are "mid value" (|z| < 0.5 on CLV): only engagement tells them apart
    from custseg.profile import name_segments

    spec = parse_spec('[columns.CLV]\nkind = "numeric"\nrole = "value"\n'
                      '[columns.minutes]\nkind = "numeric"\nrole = "engagement"\n')
    profiles = [{"segment": 0, "categorical": {}}, {"segment": 1, "categorical": {}}]
    z = {"CLV": np.array([0.1, -0.1]), "minutes": np.array([1.0, -1.0])}
    assert name_segments(profiles, z, spec) == ["High engagement", "Low engagement"]
    # when one segment differs in value, the value word stays in every name
    z = {"CLV": np.array([0.1, -0.9]), "minutes": np.array([1.0, -1.0])}
    assert name_segments(profiles, z, spec) == ["Mid value, high engagement",
                                                "Low value, low engagement"]
    # nothing tells them apart: distinct names all the same
    z = {"CLV": np.array([0.1, -0.1]), "minutes": np.array([0.2, -0.2])}
    assert name_segments(profiles, z, spec) == ["Typical customers", "Typical customers (2)"]


def test_an_email_column_is_never_the_id_even_when_it_comes_first():
    frame = crm_table(500)
    frame.insert(0, "Email", [f"user{i}@example.com" for i in range(len(frame))])
    spec, comments, notes = infer_spec(frame)
    assert spec.id == "Customer ID"
    assert spec.personal == ["Email"] and "Email" not in [*spec.columns, *spec.ignore]
    assert "Email: e-mail addresses (personal data), never the id, kept out of outputs" in notes
    assert comments["columns.Email"].startswith("e-mail addresses: personal data (pii = true)")
    # alone, it is still not the id: rows are numbered instead
    spec, _, _ = infer_spec(frame.drop(columns=["Customer ID"]))
    assert spec.id is None


def test_names_with_the_same_traits_in_another_order_are_told_apart():
    # segment 0 is more inactive than mid value, segment 1 the other way round: the same
    # two traits; the third (tenure, from a date column) tells them apart
    from custseg.profile import name_segments

    spec = parse_spec('[columns.CLV]\nkind = "numeric"\nrole = "value"\n'
                      '[columns."Last Login (days)"]\nkind = "numeric"\nrole = "engagement"\n'
                      'better = "lower"\n'
                      '[columns."Signup Date (days)"]\nkind = "numeric"\n')
    profiles = [{"segment": s, "categorical": {}} for s in range(3)]
    z = {"CLV": np.array([0.3, 0.2, -1.5]), "Last Login (days)": np.array([1.4, 0.9, -1.0]),
         "Signup Date (days)": np.array([-0.8, 0.9, 0.0])}
    assert name_segments(profiles, z, spec) == [
        "Inactive, mid value, new customers", "Mid value, inactive, long-standing customers",
        "Low value, recently active"]


def test_missing_never_fills_beyond_every_customer_and_flags_them():
    from custseg.derive import derive_columns

    spec = parse_spec('cluster_on = ["days_since_last_login", "spend"]\n'
                      '[columns.days_since_last_login]\nkind = "numeric"\nrole = "engagement"\n'
                      'better = "lower"\nmissing = "never"\n'
                      '[columns.spend]\nkind = "numeric"\nrole = "value"\n')
    df = pd.DataFrame({"days_since_last_login": [3.0, np.nan, 40.0, 10.0, np.nan, 7.0],
                       "spend": [10.0, 12.0, 3.0, 8.0, 11.0, 9.0]})
    frame, derived, _, _ = derive_columns(df, spec)
    assert derived.cluster_on == ["days_since_last_login", "days_since_last_login missing",
                                  "spend"]
    assert frame["days_since_last_login missing"].tolist() == [0, 1, 0, 0, 1, 0]
    many = pd.concat([df] * 10, ignore_index=True)
    many["spend"] += np.arange(60) / 10  # (distinct customers)
    est = CustomerSegmenter(spec, k=2, k_range=(2, 3), stability_runs=0).fit(many)
    filled = est.features_.impute(validate(frame, derived, min_rows=0).frame)
    # the empty cells get the largest value seen (40 days), not the median or zero
    assert filled["days_since_last_login"].tolist() == [3.0, 40.0, 40.0, 10.0, 40.0, 7.0]
    assert list(est.features_.columns_) == ["days_since_last_login",
                                            "days_since_last_login missing", "spend"]


def test_init_says_never_for_an_empty_recency():
    frame = crm_table(400)
    spec, comments, _ = infer_spec(frame)
    col = spec.columns["Days Since Last Login"]
    assert col.missing == "never"
    assert "'Days Since Last Login missing'" in comments["columns.Days Since Last Login"]
