"""Tests of custseg.explore: expected values worked by hand or by an independent library."""

from __future__ import annotations

import importlib
import json
import math
import threading
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_oneway
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from custseg import explore
from custseg.errors import InputError, ParameterError
from custseg.explore import (
    PreparedFrame,
    associations,
    compare_levels,
    compare_levels_many,
    format_p,
    group_share,
    holm,
    summarize_columns,
)
from custseg.explore.intervals import boot_medians

CHANNELS = {"1": "Google", "2": "Facebook", "3": "YouTube", "4": "LinkedIn"}


def assert_json_safe(obj):
    """Only plain python leaves, and no NaN anywhere."""
    json.dumps(obj, allow_nan=False)

    def walk(value):
        if isinstance(value, dict):
            assert all(type(k) is str for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert type(value) in (str, int, float, bool, type(None)), type(value)

    walk(obj)


@pytest.fixture
def noise():
    """Four channels, same distribution of CLV."""
    rng = np.random.default_rng(7)
    n = 1200
    return pd.DataFrame({
        "channel": rng.integers(1, 5, n),
        "CLV": np.round(rng.lognormal(4, 0.8, n), 2),
    })


@pytest.fixture
def planted():
    """LinkedIn (code 4) customers are worth 60% more."""
    rng = np.random.default_rng(11)
    n = 1600
    channel = rng.integers(1, 5, n)
    clv = rng.lognormal(4, 0.5, n) * np.where(channel == 4, 1.6, 1.0)
    return pd.DataFrame({"channel": channel, "CLV": np.round(clv, 2)})


# ----------------------------------------------------------------- holm, format_p


@pytest.mark.parametrize("pvalues", [
    [0.01, 0.04, 0.03, 0.005],
    [0.5, 0.5, 0.01],
    [0.2, 0.001, 0.9, 0.04, 0.04, 0.3],
    [0.03],
])
def test_holm_matches_statsmodels(pvalues):
    expected = multipletests(pvalues, method="holm")[1]
    np.testing.assert_allclose(holm(pvalues), expected, rtol=1e-12)


def test_holm_by_hand_and_none_passthrough():
    # sorted 0.01, 0.02, 0.04 -> 3*0.01, max(.03, 2*.02), max(.04, 1*.04)
    assert holm([0.04, None, 0.01, 0.02, float("nan")]) == pytest.approx(
        [0.04, None, 0.03, 0.04, None]
    )
    assert holm([]) == []


@pytest.mark.parametrize("p, text", [
    (0.0004, "p < 0.001"),
    (0.0, "p < 0.001"),
    (0.032, "p = 0.032"),
    (0.41, "p = 0.41"),
    (0.2017, "p = 0.20"),
    (0.0012, "p = 0.0012"),
    (0.999, "p > 0.99"),
    (None, "p = n/a"),
    (float("nan"), "p = n/a"),
])
def test_format_p(p, text):
    assert format_p(p) == text


@pytest.mark.parametrize("p, text", [
    (0.0004, "< 0.001"),
    (0.032, "0.032"),
    (0.2017, "0.20"),
    (0.999, "> 0.99"),
    (None, "n/a"),
    (float("inf"), "n/a"),
    (True, "n/a"),  # a bool is no p-value
    ("x", "n/a"),
])
def test_format_p_in_a_table(p, text):
    """``prefix=False``: the report's table form, the same text without ``p =``."""
    assert format_p(p, prefix=False) == text
    assert format_p(p) == (f"p {text}" if text[0] in "<>" else f"p = {text}")


# ----------------------------------------------------------------- summarize_columns


def test_summarize_columns_by_hand():
    df = pd.DataFrame({
        "minutes": [0, 1, 2, 3, np.nan, 10],
        "channel": pd.Series(["1", "1", "2", None, "2", "2"], dtype="str"),
        "region": pd.Series([1, 1.0, "2", None, " 2", ""], dtype=object),
    })
    out = summarize_columns(df, ["minutes"], ["channel", "region"],
                            labels={"channel": {1: "Google"}})
    assert_json_safe(out)
    m = out["numeric"]["minutes"]
    assert (m["n"], m["missing"]) == (5, 1)
    assert m["missing_share"] == pytest.approx(1 / 6)
    assert m["mean"] == pytest.approx(16 / 5)
    assert m["sd"] == pytest.approx(math.sqrt(((0 - 3.2) ** 2 + 2.2**2 + 1.2**2 + 0.2**2
                                                + 6.8**2) / 4))
    assert [m[k] for k in ("min", "q1", "median", "q3", "max")] == [0, 1, 2, 3, 10]
    assert m["zero_share"] == pytest.approx(0.2)
    assert m["skewness"] == pytest.approx(stats.skew([0, 1, 2, 3, 10], bias=False))
    assert m["heavy_tailed"] is False
    c = out["categorical"]["channel"]
    assert (c["n"], c["missing"], c["n_levels"]) == (5, 1, 2)
    assert c["levels"] == [
        {"code": "1", "label": "Google", "count": 2, "share": 0.4},
        {"code": "2", "label": "2", "count": 3, "share": 0.6},
    ]
    # 1 and 1.0 are one code; " 2" is "2"; the blank string is missing
    r = out["categorical"]["region"]
    assert (r["missing"], [lv["count"] for lv in r["levels"]]) == (2, [2, 2])


def test_summarize_heavy_tail_and_constant_column_is_json_safe():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"clv": rng.lognormal(0, 1.5, 5000), "flat": 3.0, "empty": np.nan})
    out = summarize_columns(df, ["clv", "flat", "empty"], [])
    assert_json_safe(out)
    assert out["numeric"]["clv"]["heavy_tailed"] is True
    assert out["numeric"]["flat"]["skewness"] is None
    assert out["numeric"]["flat"]["sd"] == 0.0
    assert out["numeric"]["empty"]["mean"] is None


# ----------------------------------------------------------------------- associations


def test_associations_eta_and_kruskal_on_a_three_level_toy():
    df = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "y": range(1, 10)})
    (row,) = associations(df, ["y"], ["g"])
    # group means 2, 5, 8; grand mean 5; between SS = 3*(9 + 0 + 9) = 54; total SS = 60
    assert (row["a"], row["b"], row["kinds"], row["measure"]) == ("g", "y",
                                                                  "categorical-numeric", "eta")
    assert row["eta_squared"] == pytest.approx(0.9)
    assert row["value"] == pytest.approx(math.sqrt(0.9))
    ref = stats.kruskal([1, 2, 3], [4, 5, 6], [7, 8, 9])
    assert row["kruskal_h"] == pytest.approx(ref.statistic)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["epsilon_squared"] == pytest.approx(ref.statistic / 8)


def test_associations_cramers_v_on_a_2x2_by_hand():
    a = ["x"] * 30 + ["y"] * 70
    b = ["u"] * 10 + ["v"] * 20 + ["u"] * 30 + ["v"] * 40  # table [[10, 20], [30, 40]]
    (row,) = associations(pd.DataFrame({"a": a, "b": b}), [], ["a", "b"])
    phi = (10 * 40 - 20 * 30) / math.sqrt(30 * 70 * 40 * 60)
    assert row["cramers_v"] == pytest.approx(abs(phi))
    n = 100
    corrected = math.sqrt(max(0, phi**2 - 1 / (n - 1)) / (2 - 1 / (n - 1) - 1))
    assert row["value"] == pytest.approx(corrected)
    assert row["measure"] == "cramers_v_corrected"
    ref = stats.chi2_contingency([[10, 20], [30, 40]], correction=False)
    assert (row["chi2"], row["p_value"], row["dof"]) == pytest.approx(
        (ref.statistic, ref.pvalue, 1)
    )


def test_associations_kinds_pairwise_missing_and_holm():
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "channel": rng.integers(1, 9, n),  # nominal codes: never correlated as numbers
        "region": rng.integers(0, 3, n),
    })
    df["y"] = df["x"] * 0.5 + rng.normal(size=n)
    df.loc[:9, "x"] = np.nan
    df.loc[5:19, "channel"] = np.nan
    rows = associations(df, ["x", "y"], ["channel", "region"])
    assert_json_safe(rows)
    assert len(rows) == 6
    for row in rows:
        if "numeric-numeric" != row["kinds"]:
            assert "pearson_r" not in row
            assert row["measure"] in ("eta", "cramers_v_corrected")
            assert row["a"] in ("channel", "region")
    nn = rows[0]
    keep = df["x"].notna()
    assert nn["n"] == keep.sum()
    assert nn["pearson_r"] == pytest.approx(stats.pearsonr(df.x[keep], df.y[keep]).statistic)
    assert nn["value"] == pytest.approx(stats.spearmanr(df.x[keep], df.y[keep]).statistic)
    channel_x = next(r for r in rows if (r["a"], r["b"]) == ("channel", "x"))
    assert channel_x["n"] == (df["x"].notna() & df["channel"].notna()).sum()
    expected = multipletests([r["p_value"] for r in rows], method="holm")[1]
    np.testing.assert_allclose([r["p_adjusted"] for r in rows], expected)


def test_associations_constant_column_is_undefined_not_a_crash():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4], "flat": 5.0, "g": ["a", "a", "b", "b"],
                       "one": "z"})
    rows = associations(df, ["x", "flat"], ["g", "one"])
    assert_json_safe(rows)
    undefined = {(r["a"], r["b"]) for r in rows if r["value"] is None}
    assert undefined == {("x", "flat"), ("g", "flat"), ("one", "x"), ("one", "flat"),
                         ("g", "one")}
    assert all("note" in r for r in rows if r["value"] is None)


# ---------------------------------------------------------------------- compare_levels


def test_compare_levels_matches_scipy_and_statsmodels():
    rng = np.random.default_rng(5)
    sizes = {"1": 300, "2": 150, "3": 60, "4": 7}  # pairs above and below the fast-path size
    df = pd.DataFrame({
        "channel": np.repeat(list(sizes), list(sizes.values())),
        "CLV": np.round(rng.gamma(2, 40, sum(sizes.values())), 0),  # many ties
    })
    df.loc[df.channel == "2", "CLV"] += 15
    out = compare_levels(df, "channel", "CLV", n_boot=200)
    assert_json_safe(out)
    groups = [df.CLV[df.channel == c].to_numpy() for c in sizes]

    kw = stats.kruskal(*groups)
    assert out["kruskal"]["h"] == pytest.approx(kw.statistic, rel=1e-10)
    assert out["kruskal"]["p_value"] == pytest.approx(kw.pvalue, rel=1e-8)
    n = len(df)
    assert out["kruskal"]["epsilon_squared"] == pytest.approx(kw.statistic / ((n**2 - 1) / (n + 1)))

    welch = anova_oneway(groups, use_var="unequal")
    assert out["welch"]["f"] == pytest.approx(welch.statistic)
    assert out["welch"]["df2"] == pytest.approx(welch.df_denom)
    assert out["welch"]["p_value"] == pytest.approx(welch.pvalue)
    means = df.groupby("channel").CLV.transform("mean")
    eta2 = ((means - df.CLV.mean()) ** 2).sum() / ((df.CLV - df.CLV.mean()) ** 2).sum()
    assert out["variance_explained"] == pytest.approx(eta2)

    assert len(out["pairwise"]) == 6
    for pair in out["pairwise"]:
        a, b = df.CLV[df.channel == pair["a"]], df.CLV[df.channel == pair["b"]]
        ref = stats.mannwhitneyu(a, b, alternative="two-sided")
        assert pair["u"] == pytest.approx(ref.statistic)
        assert pair["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert pair["rank_biserial"] == pytest.approx(2 * ref.statistic / (len(a) * len(b)) - 1)
        assert pair["median_diff"] == pytest.approx(a.median() - b.median())
    expected = multipletests([p["p_value"] for p in out["pairwise"]], method="holm")[1]
    np.testing.assert_allclose([p["p_adjusted"] for p in out["pairwise"]], expected)

    for level in out["levels"]:
        own = df.CLV[df.channel == level["code"]]
        rest = df.CLV[df.channel != level["code"]]
        ref = stats.mannwhitneyu(own, rest, alternative="two-sided")
        assert level["vs_rest"]["u"] == pytest.approx(ref.statistic)
        assert level["vs_rest"]["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert level["median_rest"] == rest.median()
        assert level["share_of_total"] == pytest.approx(own.sum() / df.CLV.sum())


def test_compare_levels_small_sample_by_hand():
    df = pd.DataFrame({"ch": ["a", "a", "a", "b", "b", "b", "c"],
                       "v": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 5.0]})
    out = compare_levels(df, "ch", "v", labels={"a": "Alpha"}, n_boot=100)
    by_code = {lv["code"]: lv for lv in out["levels"]}
    # a: median 2; the rest {5, 10, 20, 30} has median 15 -> 2/15 - 1 = -86.7%
    assert by_code["a"]["median_rest"] == 15
    assert by_code["a"]["median_vs_rest_pct"] == pytest.approx(100 * (2 / 15 - 1))
    assert by_code["a"]["label"] == "Alpha"
    assert by_code["c"]["tested"] is False and by_code["c"]["vs_rest"] is None
    assert by_code["c"]["median_low"] is None
    assert any("fewer than 2 rows" in note and "c" in note for note in out["notes"])
    # a vs b only: all of b is above all of a
    (pair,) = out["pairwise"]
    assert (pair["u"], pair["rank_biserial"]) == (0, -1)
    assert pair["p_value"] == pytest.approx(0.1)  # exact: 2 / C(6, 3)


def test_bootstrap_ci_covers_truth_and_is_reproducible():
    rng = np.random.default_rng(2)
    n = 8000
    df = pd.DataFrame({"g": np.repeat(["a", "b"], n), "v": rng.lognormal(3, 1, 2 * n)})
    first = compare_levels(df, "g", "v", n_boot=1000, seed=4)
    again = compare_levels(df, "g", "v", n_boot=1000, seed=4)
    other = compare_levels(df, "g", "v", n_boot=1000, seed=5)
    assert first == again
    assert first["levels"][0]["median_low"] != other["levels"][0]["median_low"]
    for level in first["levels"]:
        assert level["ci_method"] == "bootstrap"
        assert level["median_low"] < math.exp(3) < level["median_high"]
        assert level["mean_low"] < math.exp(3.5) < level["mean_high"]
        assert level["median_low"] < level["median"] < level["median_high"]


def test_bootstrap_medians_follow_the_exact_bootstrap_distribution():
    """The Beta shortcut draws the median of a resample without resampling."""
    rng = np.random.default_rng(0)
    odd = np.arange(31.0)
    draws = boot_medians(odd, 20_000, rng)
    m = 16
    for k in range(1, 32):
        exact = stats.binom.sf(m - 1, 31, k / 31)  # P(at least m draws <= x_(k))
        assert np.mean(draws <= odd[k - 1]) == pytest.approx(exact, abs=0.015)
    even = np.sort(rng.lognormal(size=30))
    fast = boot_medians(even, 20_000, rng)
    brute = np.median(even[rng.integers(0, 30, size=(20_000, 30))], axis=1)
    assert stats.ks_2samp(fast, brute).statistic < 0.025


def test_analytic_intervals_above_boot_max_rows():
    x = np.arange(1.0, 101.0)
    df = pd.DataFrame({"g": ["a"] * 100 + ["b"] * 100, "v": np.concatenate([x, x + 0.5])})
    out = compare_levels(df, "g", "v", boot_max_rows=50)
    level = out["levels"][0]
    assert level["ci_method"] == "analytic"
    # classic table: the 95% interval for the median of n = 100 is x_(40) .. x_(61)
    assert (level["median_low"], level["median_high"]) == (40, 61)
    low, high = stats.t.interval(0.95, 99, loc=x.mean(), scale=stats.sem(x))
    assert (level["mean_low"], level["mean_high"]) == pytest.approx((low, high))


def test_verdict_says_no_evidence_on_noise(noise):
    out = compare_levels(noise, "channel", "CLV", labels=CHANNELS)
    assert out["significant"] is False
    assert out["verdict"].startswith("No evidence that channel affects CLV (Kruskal-Wallis p = ")
    assert out["best_levels"] == [] and out["worst_levels"] == []


def test_verdict_names_the_planted_level(planted):
    out = compare_levels(planted, "channel", "CLV", labels=CHANNELS, value_word="lifetime value")
    assert out["significant"] is True
    assert [lv["label"] for lv in out["best_levels"]] == ["LinkedIn"]
    assert "LinkedIn customers' median lifetime value is" in out["verdict"]
    assert "above the rest" in out["verdict"]
    assert "Kruskal-Wallis p < 0.001" in out["verdict"]
    pct = out["best_levels"][0]["median_vs_rest_pct"]
    assert f"{pct:.0f}% above" in out["verdict"]


def test_constant_target_and_missing_values_do_not_crash():
    df = pd.DataFrame({"ch": [1, 1, 2, 2, None, 3], "v": [5.0, 5, 5, 5, 5, np.nan]})
    out = compare_levels(df, "ch", "v", n_boot=50)
    assert_json_safe(out)
    assert out["kruskal"] is None and out["welch"] is None and out["pairwise"] == []
    assert out["n_dropped"] == 2
    assert out["verdict"].startswith("Cannot test whether ch affects v")
    assert "constant" in out["verdict"]


def test_compare_levels_is_fast_on_a_million_rows():
    rng = np.random.default_rng(0)
    n = 1_000_000
    df = pd.DataFrame({"ch": rng.integers(1, 9, n), "clv": np.round(rng.lognormal(4, 1, n), 2)})
    start = time.perf_counter()
    out = compare_levels(df, "ch", "clv")
    assert time.perf_counter() - start < 2.0
    assert {lv["ci_method"] for lv in out["levels"]} == {"analytic"}
    assert len(out["pairwise"]) == 28


def test_spearman_from_sorted_columns_matches_scipy_with_ties():
    rng = np.random.default_rng(8)
    n = 3000
    x = rng.integers(0, 40, n).astype(float)  # heavy ties
    y = np.round(x * 0.3 + rng.gamma(1, 5, n))
    (row,) = associations(pd.DataFrame({"x": x, "y": y}), ["x", "y"], [])
    ref = stats.spearmanr(x, y)
    assert row["spearman_rho"] == pytest.approx(ref.statistic, rel=1e-12)
    assert row["spearman_p"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert row["pearson_r"] == pytest.approx(stats.pearsonr(x, y).statistic)


@pytest.fixture
def mixed():
    """Two outcomes (one with gaps), a level small enough to bootstrap and one above it."""
    rng = np.random.default_rng(12)
    n = 6000
    df = pd.DataFrame({
        "ch": rng.choice(["a", "b", "c"], n, p=[0.1, 0.2, 0.7]),
        "region": rng.integers(0, 3, n),
        "clv": np.round(rng.lognormal(4, 1, n), 2),
        "minutes": np.round(rng.lognormal(5, 2, n)),
    })
    df.loc[rng.choice(n, 300, replace=False), "minutes"] = np.nan
    df.loc[:9, "ch"] = None
    return df


def test_compare_levels_many_equals_separate_calls(mixed):
    """Shared bootstrap draws must give exactly the numbers of one call per target."""
    kw = {"seed": 3, "n_boot": 300, "boot_max_rows": 1500, "labels": {"a": "Alpha"}}
    together = compare_levels_many(mixed, "ch", ["clv", "minutes"], **kw)
    alone = [compare_levels(mixed, "ch", t, **kw) for t in ("clv", "minutes")]
    assert together == alone
    methods = {lv["ci_method"] for out in together for lv in out["levels"]}
    assert methods == {"bootstrap", "analytic"}
    assert together[0]["levels"][0]["n"] != together[1]["levels"][0]["n"]  # gaps in minutes


def test_prepared_frame_gives_the_same_answers(mixed):
    frame = PreparedFrame(mixed)
    member = mixed["ch"].isin(["a"]).to_numpy()
    for fn, args, kw in [
        (summarize_columns, (["clv", "minutes"], ["ch", "region"]), {}),
        (associations, (["clv", "minutes"], ["ch", "region"]), {}),
        (compare_levels, ("region", "minutes"), {"n_boot": 200}),
        (group_share, ("region", member), {"group_name": "a", "value": "clv"}),
    ]:
        assert fn(frame, *args, **kw) == fn(mixed, *args, **kw), fn.__name__
    assert not frame.numeric("clv").flags.writeable  # shared arrays cannot be changed


# ------------------------------------------------------------------------- group_share


@pytest.fixture
def regions():
    """Region 1 discovers the product through social media twice as often."""
    rng = np.random.default_rng(9)
    n = 3000
    region = rng.choice([0, 1, 2], size=n, p=[0.4, 0.2, 0.4])
    social = rng.random(n) < np.where(region == 1, 0.6, 0.3)
    clv = np.round(rng.lognormal(4, 0.6, n), 2)
    return pd.DataFrame({"region": region, "social": social, "CLV": clv})


def test_group_share_flags_the_planted_region(regions):
    labels = {"0": "Anglosphere", "1": "Western Europe", "2": "Rest of the world"}
    out = group_share(regions, "region", regions["social"], group_name="social-media discovery",
                      value="CLV", labels=labels)
    assert_json_safe(out)
    assert [lv["code"] for lv in out["over_represented"]] == ["1"]
    top = out["over_represented"][0]
    assert out["verdict"].startswith("Social-media discovery is most concentrated in "
                                     "Western Europe: ")
    assert f"those {top['in_group']:,} customers hold" in out["verdict"]
    in_top = regions.social & (regions.region == 1)
    assert top["value"]["in_group"]["total"] == pytest.approx(regions.CLV[in_top].sum())
    assert top["value"]["in_group"]["median"] == pytest.approx(regions.CLV[in_top].median())
    assert top["value"]["in_group"]["share_of_total"] == pytest.approx(
        regions.CLV[in_top].sum() / regions.CLV.sum())
    assert top["lift"] == pytest.approx(top["share"] / regions.social.mean())


def test_group_share_statistics_against_independent_formulas(regions):
    out = group_share(regions, "region", regions["social"], group_name="social")
    table = pd.crosstab(regions.region, regions.social).reindex(columns=[True, False]).to_numpy()
    ref = stats.chi2_contingency(table, correction=False)
    assert out["chi2"]["chi2"] == pytest.approx(ref.statistic)
    assert out["chi2"]["p_value"] == pytest.approx(ref.pvalue)
    assert out["crosstab"]["counts"] == table.tolist()
    n = table.sum()
    assert out["chi2"]["cramers_v"] == pytest.approx(math.sqrt(ref.statistic / n))
    z = stats.norm.ppf(0.975)
    for level, (count, other) in zip(out["levels"], table, strict=True):
        total = count + other
        # an r x 2 table's adjusted residual is the pooled two-proportion z of row vs rest
        z_ref, _ = proportions_ztest([count, table[:, 0].sum() - count],
                                     [total, n - total])
        assert level["adjusted_residual"] == pytest.approx(z_ref)
        p = count / total  # Wilson by hand
        centre = (p + z**2 / (2 * total)) / (1 + z**2 / total)
        half = z / (1 + z**2 / total) * math.sqrt(p * (1 - p) / total + z**2 / (4 * total**2))
        assert (level["share_low"], level["share_high"]) == pytest.approx(
            (centre - half, centre + half))
        assert (level["share_low"], level["share_high"]) == pytest.approx(
            proportion_confint(count, total, method="wilson"))
    expected = multipletests([lv["p_value"] for lv in out["levels"]], method="holm")[1]
    np.testing.assert_allclose([lv["p_adjusted"] for lv in out["levels"]], expected)


def test_group_share_no_evidence_and_degenerate_inputs():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"region": rng.integers(0, 3, 900), "v": rng.normal(size=900)})
    member = pd.Series(rng.random(900) < 0.4)
    out = group_share(df, "region", member, group_name="social")
    assert out["verdict"].startswith("No evidence that social varies by region (chi-square p = ")
    assert out["over_represented"] == []
    everyone = group_share(df, "region", np.ones(900, dtype=bool), group_name="social",
                           value="v")
    assert_json_safe(everyone)
    assert everyone["chi2"] is None and everyone["verdict"].startswith("Cannot test")
    gaps = df.assign(region=df.region.where(df.index % 7 != 0))
    partial = group_share(gaps, "region", member.astype("boolean").where(df.index % 5 != 0),
                          group_name="social", value="v")
    assert_json_safe(partial)
    assert partial["n"] == ((df.index % 7 != 0) & (df.index % 5 != 0)).sum()


# ------------------------------------------------------------------- bad parameters


def _df():
    return pd.DataFrame({"channel": [1, 2, 1, 2], "CLV": [1.0, 2, 3, 4],
                         "text": ["1", "x", "3", "4"]})


@pytest.mark.parametrize("call, error, match", [
    (lambda d: compare_levels(d, "chanel", "CLV"), ParameterError, "did you mean 'channel'"),
    (lambda d: compare_levels(d, "channel", "CLV", alpha=1.5), ParameterError,
     r"The 'alpha' parameter of compare_levels must be a float in \(0, 1\). Got 1.5 instead."),
    (lambda d: compare_levels(d, "channel", "CLV", n_boot=0), ParameterError,
     "The 'n_boot' parameter of compare_levels must be an int >= 1. Got 0 instead."),
    (lambda d: compare_levels(d, "channel", "CLV", seed="a"), ParameterError, "'seed'"),
    (lambda d: compare_levels(d, "channel", "channel"), ParameterError,
     "different column than 'attribute'"),
    (lambda d: compare_levels(d, "channel", "text"), InputError,
     "column 'text' has 1 non-numeric values"),
    (lambda d: associations(d, "CLV", []), ParameterError, "'numeric' parameter of associations"),
    (lambda d: associations(d, ["CLV"], ["CLV"]), ParameterError, "disjoint"),
    (lambda d: summarize_columns(d.to_dict(), [], []), ParameterError, "pandas DataFrame"),
    (lambda d: group_share(d, "channel", [True], group_name="s"), ParameterError,
     "array of length 4"),
    (lambda d: group_share(d, "channel", d["text"], group_name="s"), ParameterError,
     r"boolean \(True/False or 1/0\)"),
    (lambda d: group_share(d, "channel", d.CLV > 2, group_name=""), ParameterError,
     "'group_name'"),
])
def test_bad_parameters(call, error, match):
    with pytest.raises(error, match=match):
        call(_df())


def _defined_in(obj, package):
    module = getattr(obj, "__module__", "") or ""
    return module == package or module.startswith(package + ".")


def test_all_lists_the_public_functions():
    public = {name for name in vars(explore) if not name.startswith("_")
              and callable(getattr(explore, name))
              and _defined_in(getattr(explore, name), explore.__name__)}
    assert set(explore.__all__) == public


@pytest.mark.parametrize("name", ["_checks", "column_pairs", "formatting", "groups", "intervals",
                                  "levels", "prepared", "rank_tests", "summaries"])
def test_each_module_lists_its_public_names(name):
    """A module's ``__all__`` is exactly its public functions and classes (and constants)."""
    module = importlib.import_module(f"custseg.explore.{name}")
    public = {n for n, v in vars(module).items() if not n.startswith("_") and callable(v)
              and getattr(v, "__module__", None) == module.__name__}
    assert {n for n in module.__all__ if not n.isupper()} == public
    assert all(hasattr(module, n) for n in module.__all__)


# ------------------------------------------------------------------------------ n_jobs


def _bootstrap_table(n=30_000):
    """Five channels of 2-12 thousand rows and two outcomes (one with missing values):
    bootstrap levels, and enough work for the threads."""
    rng = np.random.default_rng(11)
    channel = rng.choice([1, 2, 3, 4, 5], n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
    clv = np.round(rng.lognormal(4 + 0.1 * channel, 0.8), 2)
    minutes = np.round(rng.gamma(1.5, 200, n))
    minutes[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"channel": channel, "CLV": clv, "minutes": minutes})


@pytest.fixture
def no_threads(monkeypatch):
    """Starting a thread fails the test."""
    def refuse(self):
        raise AssertionError(f"a thread was started: {self!r}")

    monkeypatch.setattr(threading.Thread, "start", refuse)


@pytest.fixture
def count_threads(monkeypatch):
    started = []
    original = threading.Thread.start

    def start(self):
        started.append(self)
        return original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    return started


@pytest.mark.parametrize("n_jobs", [2, -1])
def test_n_jobs_does_not_change_the_results(n_jobs, count_threads):
    df = _bootstrap_table()
    frame = PreparedFrame(df)
    one = compare_levels_many(frame, "channel", ["CLV", "minutes"], labels=CHANNELS, n_boot=500)
    assert not count_threads
    many = compare_levels_many(frame, "channel", ["CLV", "minutes"], labels=CHANNELS, n_boot=500,
                               n_jobs=n_jobs)
    # the levels did run on threads: about 58,500 rows (30,000 and 28,500 without missing
    # minutes, resampled apart) x 500 replicates, more than the 20 million of one job
    assert count_threads
    assert json.dumps(many) == json.dumps(one)
    assert {lv["ci_method"] for out in one for lv in out["levels"]} == {"bootstrap"}
    single = compare_levels(df, "channel", "minutes", labels=CHANNELS, n_boot=500, n_jobs=n_jobs)
    assert json.dumps(single) == json.dumps(one[1])


def test_one_job_starts_no_thread(no_threads):
    df = _bootstrap_table()
    frame = PreparedFrame(df)
    for n_jobs in (None, 1):
        compare_levels_many(frame, "channel", ["CLV", "minutes"], n_boot=400, n_jobs=n_jobs)
        compare_levels(frame, "channel", "CLV", n_boot=400, n_jobs=n_jobs)
    summarize_columns(frame, ["CLV", "minutes"], ["channel"])
    associations(frame, ["CLV", "minutes"], ["channel"])
    group_share(frame, "channel", df["channel"] == 2, group_name="Facebook", value="CLV")


def test_little_bootstrap_work_starts_no_thread(no_threads):
    df = _bootstrap_table(2_000)  # 2,000 rows x 400 replicates: too little to share
    assert compare_levels(df, "channel", "CLV", n_boot=400, n_jobs=2)["levels"]


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True])
def test_bad_n_jobs(n_jobs):
    with pytest.raises(ParameterError, match="'n_jobs'"):
        compare_levels(_df(), "channel", "CLV", n_jobs=n_jobs)
    with pytest.raises(ParameterError, match="'n_jobs'"):
        compare_levels_many(_df(), "channel", ["CLV"], n_jobs=n_jobs)
