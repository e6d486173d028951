"""Tests of custseg.features.FeatureSpace on hand-worked tiny tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.preprocessing import StandardScaler

from custseg.errors import ParameterError
from custseg.features import FeatureSpace
from custseg.spec import ColumnSpec, Spec

# labels deliberately NOT in sorted order: one-hot columns must follow the spec
LABELS = {"2": "Email", "0": "Google", "1": "Facebook"}


def make_spec(missing="zero", transform="none", ch_missing="unknown", describe=()) -> Spec:
    columns = {
        "x": ColumnSpec("x", "numeric", missing=missing, transform=transform),
        "ch": ColumnSpec("ch", "categorical", labels=dict(LABELS), missing=ch_missing),
        "spend": ColumnSpec("spend", "numeric", role="value", missing="mean"),
        "region": ColumnSpec("region", "categorical", missing="mode"),
    }
    return Spec(columns=columns, cluster_on=["x", "ch"], describe=list(describe))


def tiny() -> pd.DataFrame:
    """Typed data as validate returns it: 4 rows, x has one empty cell, ch never says "1"."""
    return pd.DataFrame({
        "x": [0.0, 1.0, 2.0, np.nan],
        "ch": ["0", "2", "0", "2"],
        "spend": [10.0, np.nan, 20.0, 60.0],
        "region": ["n", None, "s", "s"],
    })


# ------------------------------------------------------------ hand-worked
def test_hand_worked_fit_and_transform():
    # x, missing "zero": [0, 1, 2, NaN] -> [0, 1, 2, 0]
    #   mean = 3 / 4 = 0.75
    #   population variance = (0.75^2 + 0.25^2 + 1.25^2 + 0.75^2) / 4
    #                       = (0.5625 + 0.0625 + 1.5625 + 0.5625) / 4 = 2.75 / 4 = 0.6875
    # ch, levels in spec order "2", "0", "1" ("1" never seen):
    #   ch=2 -> [0, 1, 0, 1], mean 0.5, sd 0.5
    #   ch=0 -> [1, 0, 1, 0], mean 0.5, sd 0.5
    #   ch=1 -> [0, 0, 0, 0], mean 0,   sd 0 -> scale 1 (as StandardScaler does)
    fs = FeatureSpace(make_spec()).fit(tiny())
    assert fs.fill_["x"] == 0.0
    assert fs.levels_ == {"ch": ["2", "0", "1"]}
    assert fs.feature_names_ == ["x", "ch=2", "ch=0", "ch=1"]
    assert fs.n_features_ == 4
    assert fs.log_ == {"x": False}
    sd = math.sqrt(0.6875)
    np.testing.assert_allclose(fs.mean_, [0.75, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(fs.scale_, [sd, 0.5, 0.5, 1.0])
    expected = np.array([
        [-0.75 / sd, -1.0, 1.0, 0.0],
        [0.25 / sd, 1.0, -1.0, 0.0],
        [1.25 / sd, -1.0, 1.0, 0.0],
        [-0.75 / sd, 1.0, -1.0, 0.0],
    ])
    Z = fs.transform(tiny())
    np.testing.assert_allclose(Z, expected)
    assert Z.dtype == np.float64 and Z.flags.c_contiguous


@pytest.mark.parametrize(
    ("missing", "fill", "mean"),
    [
        # x = [0, 1, 5, NaN]
        ("zero", 0.0, 1.5),  # [0, 1, 5, 0] -> mean 6 / 4
        ("median", 1.0, 1.75),  # median of 0, 1, 5 is 1; [0, 1, 5, 1] -> 7 / 4
        ("mean", 2.0, 2.0),  # mean of 0, 1, 5 is 2; [0, 1, 5, 2] -> 8 / 4
        ("drop", 1.0, 1.75),  # rows are dropped before fit; any NaN left gets the median
        ("error", 1.0, 1.75),
    ],
)
def test_numeric_fill_policies(missing, fill, mean):
    df = tiny().assign(x=[0.0, 1.0, 5.0, np.nan])
    fs = FeatureSpace(make_spec(missing=missing)).fit(df)
    assert fs.fill_["x"] == fill
    assert fs.mean_[0] == pytest.approx(mean)
    assert fs.impute(df)["x"].tolist() == [0.0, 1.0, 5.0, fill]


@pytest.mark.parametrize(
    ("ch_missing", "codes", "fill", "levels"),
    [
        # the fill value becomes a level of its own, after the labelled ones
        ("unknown", ["0", None, "0", "2"], "unknown", ["2", "0", "1", "unknown"]),
        ("mode", ["0", None, "0", "2"], "0", ["2", "0", "1"]),  # "0" twice, "2" once
        ("mode", ["2", "0", None, "1"], "0", ["2", "0", "1"]),  # three-way tie: smallest code
    ],
)
def test_categorical_fill_policies(ch_missing, codes, fill, levels):
    df = tiny().assign(ch=codes)
    fs = FeatureSpace(make_spec(ch_missing=ch_missing)).fit(df)
    assert fs.fill_["ch"] == fill
    assert fs.levels_["ch"] == levels
    assert fs.impute(df)["ch"].tolist()[codes.index(None)] == fill


def test_levels_without_labels_in_natural_order():
    spec = make_spec()
    spec.columns["ch"].labels = {}
    df = tiny().assign(ch=["10", "9", "2", "x"])
    fs = FeatureSpace(spec).fit(df)
    assert fs.levels_["ch"] == ["2", "9", "10", "x"]


@pytest.mark.parametrize("hash_seed", ["0", "1", "2"])
def test_levels_spelled_like_non_finite_numbers_are_text_whatever_the_hash_seed(hash_seed):
    # 'nan', 'Infinity' and 'inf' are text levels: after every number, in text order; the
    # order (and with it the one-hot columns, model.json and the clustering) once depended
    # on the order of a Python set, so on PYTHONHASHSEED
    import subprocess
    import sys

    code = ("import pandas as pd; from custseg.features import FeatureSpace; "
            "from custseg.spec import ColumnSpec, Spec; "
            "spec = Spec(columns={'p': ColumnSpec('p', 'categorical')}, cluster_on=['p']); "
            "df = pd.DataFrame({'p': ['Pro', 'nan', 'Infinity', '10', 'Basic', '2', 'inf', 'nan']}); "
            "print(FeatureSpace(spec).fit(df).levels_['p'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONHASHSEED": hash_seed})
    assert out.stdout.strip() == str(["2", "10", "Basic", "Infinity", "Pro", "inf", "nan"])


def test_features_and_explore_order_levels_alike():
    from custseg.explore.prepared import PreparedFrame

    levels = ["Pro", "nan", "Infinity", "10", "Basic", "2", "inf", "-3.5"]
    spec = Spec(columns={"p": ColumnSpec("p", "categorical")}, cluster_on=["p"])
    fitted = FeatureSpace(spec).fit(pd.DataFrame({"p": levels})).levels_["p"]
    assert PreparedFrame(pd.DataFrame({"p": levels})).codes("p")[1] == fitted


def test_codes_outside_the_labels_follow_the_labelled_levels():
    df = tiny().assign(ch=["0", "7", "0", "5"])
    fs = FeatureSpace(make_spec()).fit(df)
    assert fs.levels_["ch"] == ["2", "0", "1", "5", "7"]


# --------------------------------------------------------------- log1p
# SKEWED: nine 0s and one 100 (n = 10, p = 1/10 at the top): the biased skewness of a
# two-point distribution is (1 - 2p) / sqrt(p (1 - p)) = 0.8 / 0.3 = 2.667 > 2.
# SKEWED_NEG is the same shape shifted down by 1 (same skewness, but a negative minimum).
# FLAT = 0, 1, 2, 3 is symmetric: skewness 0.
SKEWED = [0.0] * 9 + [100.0]
SKEWED_NEG = [-1.0] * 9 + [99.0]
FLAT = [0.0, 1.0, 2.0, 3.0]


def test_skewness_of_fixtures_independently():
    assert scipy.stats.skew(SKEWED, bias=True) == pytest.approx(0.8 / 0.3)
    assert scipy.stats.skew(SKEWED_NEG, bias=True) == pytest.approx(0.8 / 0.3)
    assert scipy.stats.skew(FLAT, bias=True) == pytest.approx(0.0)


def _numeric_only(values, transform):
    spec = Spec(columns={"x": ColumnSpec("x", "numeric", transform=transform)}, cluster_on=["x"])
    return spec, pd.DataFrame({"x": values})


@pytest.mark.parametrize(
    ("log_transform", "transform", "values", "logged"),
    [
        ("spec", "auto", SKEWED, True),  # skewness 2.67 > 2 and non-negative
        ("spec", "auto", SKEWED_NEG, False),  # skewed, but has a negative value
        ("spec", "auto", FLAT, False),  # not skewed
        ("spec", "log", FLAT, True),  # "log": always
        ("spec", "none", SKEWED, False),  # "none": never
        ("auto", "none", SKEWED, True),  # the estimator's setting overrides the column's
        ("auto", "log", FLAT, False),
        ("log", "none", FLAT, True),
        ("none", "log", SKEWED, False),
        ("none", "auto", SKEWED, False),
    ],
)
def test_log1p_policy(log_transform, transform, values, logged):
    spec, df = _numeric_only(values, transform)
    fs = FeatureSpace(spec, log_transform=log_transform).fit(df)
    assert fs.log_ == {"x": logged}
    v = np.asarray(values)
    raw = np.log1p(v) if logged else v
    assert fs.mean_[0] == pytest.approx(raw.mean())
    assert fs.scale_[0] == pytest.approx(raw.std())
    assert any("log1p" in note for note in fs.notes_) == logged


def test_skew_threshold_is_a_strict_bound():
    spec, df = _numeric_only(SKEWED, "auto")
    assert FeatureSpace(spec, skew_threshold=2.6).fit(df).log_["x"] is True
    assert FeatureSpace(spec, skew_threshold=2.7).fit(df).log_["x"] is False


def test_bad_log_transform_parameter():
    spec, df = _numeric_only(FLAT, "auto")
    with pytest.raises(ParameterError, match=r"log_transform must be one of spec, auto, log, "
                                             r"none, got 'sqrt'") as info:
        FeatureSpace(spec, log_transform="sqrt").fit(df)
    assert "\n" not in str(info.value)
    assert "fix" in str(info.value)


# --------------------------------------- independent check with StandardScaler
def test_transform_equals_standard_scaler_on_hand_built_raw_matrix():
    spec = Spec(
        columns={
            "clv": ColumnSpec("clv", "numeric", role="value", transform="log"),
            "age": ColumnSpec("age", "numeric", transform="none", missing="mean"),
            "ch": ColumnSpec("ch", "categorical", labels=dict(LABELS)),
        },
        cluster_on=["clv", "age", "ch"],
    )
    train = pd.DataFrame({
        "clv": [5.0, 50.0, 500.0, 0.0, 20.0],
        "age": [30.0, np.nan, 50.0, 20.0, 40.0],  # mean fill: (30 + 50 + 20 + 40) / 4 = 35
        "ch": ["1", "0", "2", "2", "0"],
    })
    new = pd.DataFrame({"clv": [1.0, 1000.0], "age": [np.nan, 90.0], "ch": ["2", "1"]})

    def raw(df):  # columns: log1p(clv), age filled with 35, ch=2, ch=0, ch=1
        age = df["age"].fillna(35.0).to_numpy()
        onehot = np.array([[c == "2", c == "0", c == "1"] for c in df["ch"]], dtype=float)
        return np.column_stack([np.log1p(df["clv"].to_numpy()), age, onehot])

    scaler = StandardScaler().fit(raw(train))
    fs = FeatureSpace(spec).fit(train)
    np.testing.assert_allclose(fs.transform(train), scaler.transform(raw(train)))
    np.testing.assert_allclose(fs.transform(new), scaler.transform(raw(new)))
    # and back to original units
    back = fs.inverse_numeric(fs.transform(new))
    np.testing.assert_allclose(back["clv"], [1.0, 1000.0])
    np.testing.assert_allclose(back["age"], [35.0, 90.0])


# ------------------------------------------------------------- plain data
def test_to_dict_from_dict_gives_identical_transform():
    spec = make_spec(missing="median", transform="auto")
    train = pd.DataFrame({"x": SKEWED[:8] + [np.nan, 100.0], "ch": ["0", "2"] * 5,
                          "spend": [1.0] * 10, "region": ["n"] * 10})
    fs = FeatureSpace(spec).fit(train)
    d = json.loads(json.dumps(fs.to_dict()))  # must survive JSON
    again = FeatureSpace.from_dict(d, spec)
    new = pd.DataFrame({"x": [np.nan, 3.0, 1e6], "ch": ["1", "9", None],
                        "spend": [1.0] * 3, "region": ["n"] * 3})
    for df in (train, new):
        np.testing.assert_array_equal(again.transform(df), fs.transform(df))
        np.testing.assert_array_equal(again.unseen_levels(df), fs.unseen_levels(df))
    assert again.feature_names_ == fs.feature_names_
    assert again.to_dict() == fs.to_dict()


def test_unseen_level_gives_all_zero_one_hot():
    fs = FeatureSpace(make_spec()).fit(tiny())
    new = pd.DataFrame({"x": [1.0, 1.0, 1.0], "ch": ["7", "1", "0"],
                        "spend": [1.0] * 3, "region": ["n"] * 3})
    Z = fs.transform(new)
    # ch columns are 1..3; an all-zero one-hot row scales to (0 - mean) / scale
    np.testing.assert_allclose(Z[0, 1:], -fs.mean_[1:] / fs.scale_[1:])
    # "1" is a labelled level (never seen in training, but a column of its own)
    np.testing.assert_allclose(Z[1, 1:], (np.array([0, 0, 1]) - fs.mean_[1:]) / fs.scale_[1:])
    assert fs.unseen_levels(new).tolist() == [True, False, False]


def test_missing_category_unseen_in_training_is_unseen():
    fs = FeatureSpace(make_spec()).fit(tiny())  # no empty ch cell in training
    new = tiny().assign(ch=[None, "0", "2", "0"])
    assert fs.unseen_levels(new).tolist() == [True, False, False, False]


def test_impute_fills_describe_columns_too():
    # spend (missing "mean"): (10 + 20 + 60) / 3 = 30; region (missing "mode"): "s" twice
    fs = FeatureSpace(make_spec(describe=["spend", "region"])).fit(tiny())
    out = fs.impute(tiny())
    assert list(out.columns) == ["x", "ch", "spend", "region"]
    assert out["spend"].tolist() == [10.0, 30.0, 20.0, 60.0]
    assert out["region"].tolist() == ["n", "s", "s", "s"]
    assert out["x"].tolist() == [0.0, 1.0, 2.0, 0.0]
    assert fs.columns_ == ["x", "ch"]  # describe columns do not enter the matrix


def test_exclude_leaves_a_column_out():
    fs = FeatureSpace(make_spec(), exclude=("ch",)).fit(tiny())
    assert fs.columns_ == ["x"]
    assert fs.feature_names_ == ["x"]
    assert fs.transform(tiny()).shape == (4, 1)


def test_fit_on_selected_rows():
    # rows 1-3 only: x = [0, 1, 2], mean 1, population sd sqrt(2/3)
    fs = FeatureSpace(make_spec()).fit(tiny(), rows=np.array([True, True, True, False]))
    assert fs.mean_[0] == pytest.approx(1.0)
    assert fs.scale_[0] == pytest.approx(math.sqrt(2 / 3))
