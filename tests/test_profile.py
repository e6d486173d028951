"""Tests of custseg.profile: profiles worked out by hand, and segment names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.profile import name_segments, numeric_z, profile_segments
from custseg.spec import ColumnSpec, Spec

LABELS6 = np.array([0, 0, 0, 1, 1, 2])


def make_spec(words=None, names=None) -> Spec:
    return Spec(
        columns={
            "CLV": ColumnSpec("CLV", "numeric", role="value"),
            "minutes": ColumnSpec("minutes", "numeric", role="engagement", words=words),
            "channel": ColumnSpec("channel", "categorical",
                                  labels={"1": "Google", "2": "Facebook", "3": "Email"}),
        },
        cluster_on=["CLV", "minutes"],
        describe=["channel"],
        names=dict(names or {}),
    )


def data6() -> pd.DataFrame:
    return pd.DataFrame({
        "CLV": [400.0, 500.0, 900.0, 100.0, 60.0, 40.0],
        "minutes": [2.0, 4.0, 6.0, 50.0, 70.0, 90.0],
        "channel": ["1", "1", "1", "2", "1", "2"],
    })


@pytest.fixture
def profiles():
    return profile_segments(data6(), LABELS6, 3, make_spec())


# ------------------------------------------------------------- profiles
def test_sizes_and_shares(profiles):
    # labels 0,0,0,1,1,2 -> sizes 3, 2, 1 of 6
    assert [p["segment"] for p in profiles] == [0, 1, 2]
    assert [p["size"] for p in profiles] == [3, 2, 1]
    assert [p["share"] for p in profiles] == pytest.approx([3 / 6, 2 / 6, 1 / 6])


@pytest.mark.parametrize(
    ("column", "means", "medians"),
    [
        # CLV: seg 0 = 400, 500, 900 -> mean 1800 / 3 = 600, median 500
        #      seg 1 = 100, 60       -> mean 80, median 80; seg 2 = 40
        ("CLV", [600.0, 80.0, 40.0], [500.0, 80.0, 40.0]),
        # minutes: seg 0 = 2, 4, 6 -> 4; seg 1 = 50, 70 -> 60; seg 2 = 90
        ("minutes", [4.0, 60.0, 90.0], [4.0, 60.0, 90.0]),
    ],
)
def test_means_and_medians(profiles, column, means, medians):
    assert [p["numeric"][column]["mean"] for p in profiles] == pytest.approx(means)
    assert [p["numeric"][column]["median"] for p in profiles] == pytest.approx(medians)


def test_value_shares(profiles):
    # total CLV = 400 + 500 + 900 + 100 + 60 + 40 = 2000
    # seg 0: 1800 / 2000 = 0.9; seg 1: 160 / 2000 = 0.08; seg 2: 40 / 2000 = 0.02
    shares = [p["value_share"]["CLV"] for p in profiles]
    assert shares == pytest.approx([0.9, 0.08, 0.02])
    assert sum(shares) == pytest.approx(1.0)
    # only value columns get a value share
    assert all(set(p["value_share"]) == {"CLV"} for p in profiles)


def test_category_shares_and_lifts(profiles):
    # overall: Google ("1") 4 / 6, Facebook ("2") 2 / 6; Email ("3") never seen -> not listed
    # seg 0: Google 3/3 = 1.0, lift 1.0 / (4/6) = 1.5; Facebook 0, lift 0
    # seg 1: Google 1/2 = 0.5, lift 0.5 / (4/6) = 0.75; Facebook 1/2, lift 0.5 / (2/6) = 1.5
    # seg 2: Google 0, lift 0; Facebook 1/1 = 1.0, lift 1.0 / (2/6) = 3.0
    expected = [
        [("1", "Google", 1.0, 1.5), ("2", "Facebook", 0.0, 0.0)],
        [("1", "Google", 0.5, 0.75), ("2", "Facebook", 0.5, 1.5)],
        [("1", "Google", 0.0, 0.0), ("2", "Facebook", 1.0, 3.0)],
    ]
    for p, rows in zip(profiles, expected, strict=True):
        got = p["categorical"]["channel"]
        assert [(c["code"], c["label"]) for c in got] == [(r[0], r[1]) for r in rows]
        assert [c["share"] for c in got] == pytest.approx([r[2] for r in rows])
        assert [c["lift"] for c in got] == pytest.approx([r[3] for r in rows])
        assert sum(c["share"] for c in got) == pytest.approx(1.0)


def test_empty_segment_has_zero_size_and_no_crash():
    profiles = profile_segments(data6(), LABELS6, 4, make_spec())
    assert profiles[3]["size"] == 0
    assert profiles[3]["share"] == 0.0
    assert all(c["share"] == 0.0 for c in profiles[3]["categorical"]["channel"])


def test_numeric_z_equals_population_z_of_segment_means():
    z = numeric_z(data6(), LABELS6, 3, make_spec())
    for column in ("CLV", "minutes"):
        v = data6()[column].to_numpy()
        means = np.array([v[LABELS6 == s].mean() for s in range(3)])
        np.testing.assert_allclose(z[column], (means - v.mean()) / v.std(ddof=0))


def test_numeric_z_compares_heavy_tails_on_log_scale():
    # nine customers at 0 and one at 1000: skewness 2.67 > 2 and non-negative -> log1p first
    v = np.array([0.0] * 9 + [1000.0])
    labels = np.array([0] * 5 + [1] * 5)
    df = pd.DataFrame({"CLV": v, "minutes": np.arange(10.0), "channel": ["1"] * 10})
    z = numeric_z(df, labels, 2, make_spec())
    w = np.log1p(v)
    expected = (np.array([w[:5].mean(), w[5:].mean()]) - w.mean()) / w.std()
    np.testing.assert_allclose(z["CLV"], expected)


# ----------------------------------------------------------------- names
# z of the 6-row data, by hand:
#   CLV mean 2000/6 = 333.3, population sd 307.8 -> seg means 600, 80, 40 give
#     z = +0.87, -0.82, -0.95  (high, low, low value)
#   minutes mean 222/6 = 37, sd 34.98 -> seg means 4, 60, 90 give
#     z = -0.94, +0.66, +1.52  (low, high, high engagement)
# channel: seg 0 is 100% Google (lift 1.5) -> "Google only";
#          seg 1 is 50% Facebook with lift 1.5 -> "Facebook-heavy";
#          seg 2 is 100% Facebook (lift 3) -> "Facebook only"
def _names(spec):
    data = data6()
    profiles = profile_segments(data, LABELS6, 3, spec)
    return name_segments(profiles, numeric_z(data, LABELS6, 3, spec), spec)


def test_names_from_traits():
    assert _names(make_spec()) == [
        "High value, low engagement, Google only",
        "Low value, high engagement, Facebook-heavy",
        "Low value, high engagement, Facebook only",
    ]


def test_names_use_the_column_words():
    names = _names(make_spec(words=("light viewers", "heavy viewers")))
    assert names[0] == "High value, light viewers, Google only"
    assert names[2] == "Low value, heavy viewers, Facebook only"


def test_spec_names_override_wins():
    names = _names(make_spec(names={1: "Young bingers", 7: "no such segment"}))
    assert names == [
        "High value, low engagement, Google only",
        "Young bingers",
        "Low value, high engagement, Facebook only",
    ]


def _spec3():
    return Spec(
        columns={
            "CLV": ColumnSpec("CLV", "numeric", role="value"),
            "minutes": ColumnSpec("minutes", "numeric", role="engagement"),
            "age": ColumnSpec("age", "numeric"),
        },
        cluster_on=["CLV", "minutes", "age"],
    )


def _bare_profiles(k):
    return [{"segment": s, "categorical": {}} for s in range(k)]


def test_names_of_look_alike_segments_get_the_next_trait():
    # segments 1 and 2 share the two strongest traits; their third trait (age) differs
    z = {"CLV": np.array([1.0, -1.0, -1.0]), "minutes": np.array([-1.0, 1.0, 1.0]),
         "age": np.array([0.0, 0.6, -0.6])}
    assert name_segments(_bare_profiles(3), z, _spec3()) == [
        "High value, low engagement",
        "Low value, high engagement, high age",
        "Low value, high engagement, low age",
    ]


def test_names_of_identical_segments_get_a_number():
    z = {"CLV": np.array([1.0, -1.0, -1.0]), "minutes": np.array([-1.0, 1.0, 1.0]),
         "age": np.zeros(3)}
    names = name_segments(_bare_profiles(3), z, _spec3())
    assert names == [
        "High value, low engagement",
        "Low value, high engagement",
        "Low value, high engagement (2)",
    ]
    assert len(set(names)) == 3


@pytest.mark.parametrize(
    ("clv_z", "words", "name"),
    [
        (0.2, None, "Mid value"),  # |z| < 0.5: the first value column still says mid
        (-0.49, None, "Mid value"),
        (0.5, None, "High value"),  # |z| >= 0.5
        (0.2, ("low spenders", "big spenders"), "Average CLV"),
        (-0.7, ("low spenders", "big spenders"), "Low spenders"),
    ],
)
def test_value_word(clv_z, words, name):
    spec = _spec3()
    spec.columns["CLV"].words = words
    z = {"CLV": np.array([clv_z]), "minutes": np.zeros(1), "age": np.zeros(1)}
    assert name_segments(_bare_profiles(1), z, spec) == [name]


def test_typical_customers_without_any_trait():
    spec = Spec(columns={"age": ColumnSpec("age", "numeric")}, cluster_on=["age"])
    assert name_segments(_bare_profiles(2), {"age": np.array([0.1, -0.1])}, spec) == [
        "Typical customers", "Typical customers (2)"]
