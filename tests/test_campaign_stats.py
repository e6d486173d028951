"""The campaign statistics: equal to direct statsmodels/scipy calls, and valid by simulation.

Every expected value comes from an independent computation: a direct call to
statsmodels or scipy on the same numbers, a logistic regression fitted on the
customers themselves, or a formula written out here. The simulations are
vectorised over campaigns with fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
)
from statsmodels.stats.proportion import (
    test_proportions_2indep as sm_test_2indep,
)

from custseg.campaign import stats as st
from custseg.campaign.analyze import CampaignOptions, analyze_cells, cell_table
from custseg.campaign.plan import plan_campaign
from custseg.errors import ParameterError

# (treatment conversions, customers, control conversions, customers): small, large,
# zero conversions in one arm, unequal arms, a rate near 1
CASES = [(5, 50, 2, 60), (30, 400, 20, 410), (0, 30, 1, 35), (200, 1000, 180, 990),
         (47, 52, 40, 55), (1234, 50_000, 1100, 49_000)]


@pytest.mark.parametrize("x1,n1,x2,n2", CASES)
def test_newcombe_interval_equals_statsmodels(x1, n1, x2, n2):
    low, high = st.newcombe_interval(x1, n1, x2, n2)
    ref = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert low == pytest.approx(ref[0], abs=1e-9)
    assert high == pytest.approx(ref[1], abs=1e-9)


@pytest.mark.parametrize("x1,n1,x2,n2", CASES)
def test_score_test_equals_statsmodels_defaults(x1, n1, x2, n2):
    z, p = st.score_test(x1, n1, x2, n2)
    ref = sm_test_2indep(x1, n1, x2, n2, method="score")
    assert z == pytest.approx(ref.statistic, abs=1e-9)
    assert p == pytest.approx(ref.pvalue, abs=1e-9)


@pytest.mark.parametrize("x,n", [(0, 10), (3, 10), (10, 10), (123, 4567)])
def test_wilson_interval_equals_statsmodels(x, n):
    low, high = st.wilson_interval(x, n)
    ref = proportion_confint(x, n, method="wilson")
    assert (low, high) == pytest.approx(ref, abs=1e-9)


def test_vectorised_calls_equal_one_at_a_time():
    x1, n1, x2, n2 = (np.array(col) for col in zip(*CASES, strict=True))
    low, high = st.newcombe_interval(x1, n1, x2, n2)
    z, p = st.score_test(x1, n1, x2, n2)
    for i, case in enumerate(CASES):
        assert (low[i], high[i]) == pytest.approx(st.newcombe_interval(*case), abs=1e-15)
        assert p[i] == pytest.approx(st.score_test(*case)[1], abs=1e-15)


def test_nothing_to_test_gives_nan_not_a_p_value():
    z, p = st.score_test(0, 50, 0, 60)  # no conversions at all: variance 0
    assert np.isnan(z) and np.isnan(p)


def test_holm_and_bh_equal_multipletests_and_a_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.20, 0.005])
    assert st.adjust_pvalues(p, "holm") == pytest.approx(
        multipletests(p, method="holm")[1], abs=1e-9)
    assert st.adjust_pvalues(p, "fdr_bh") == pytest.approx(
        multipletests(p, method="fdr_bh")[1], abs=1e-9)
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04, 0.20 times 5, 4, 3, 2, 1, running maximum
    assert st.adjust_pvalues(p, "holm") == pytest.approx([0.04, 0.09, 0.09, 0.20, 0.025])
    # an untestable comparison (NaN) stays NaN and is not counted in the family
    with_nan = st.adjust_pvalues(np.array([0.01, np.nan, 0.04]), "holm")
    assert np.isnan(with_nan[1])
    assert with_nan[[0, 2]] == pytest.approx([0.02, 0.04])


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjusted_rows_equal_multipletests_row_by_row(method):
    rng = np.random.default_rng(3)
    p = rng.random((8, 7)) ** 3  # many small p-values, some ties from rounding
    p[::3, 2] = p[::3, 3]
    got = st.adjust_pvalues(p, method)
    for row, ref in zip(got, p, strict=True):
        assert row == pytest.approx(multipletests(ref, method=method)[1], abs=1e-9)


def test_welch_interval_equals_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(2, 1, 80), rng.lognormal(2.2, 1.3, 95)
    low, high, p = st.welch_interval(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1),
                                     b.size)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert (low, high) == pytest.approx(tuple(ref.confidence_interval(0.95)), abs=1e-9)
    assert p == pytest.approx(ref.pvalue, abs=1e-9)


def test_bootstrap_interval_agrees_with_welch_on_large_light_tailed_samples():
    rng = np.random.default_rng(2)
    a, b = rng.normal(10, 2, 3000), rng.normal(9.5, 2, 3000)
    low, high = st.bootstrap_interval(a, b, n_boot=400, seed=0)
    wl, wh, _ = st.welch_interval(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size)
    assert low == pytest.approx(wl, abs=0.03) and high == pytest.approx(wh, abs=0.03)
    assert st.bootstrap_interval(a, b, n_boot=400, seed=0) == (low, high)  # reproducible


def test_interaction_test_equals_logistic_regression_on_the_customers():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    seg = rng.integers(0, 3, 1500)
    arm = rng.integers(0, 2, 1500)
    p = 0.1 + 0.05 * seg + 0.08 * arm * (seg == 2)
    y = (rng.random(1500) < p).astype(int)
    df = pd.DataFrame({"y": y, "seg": seg, "arm": arm})
    full = smf.logit("y ~ C(seg) * C(arm)", df).fit(disp=0)
    reduced = smf.logit("y ~ C(seg) + C(arm)", df).fit(disp=0)
    lr = 2 * (full.llf - reduced.llf)
    cells = df.groupby(["seg", "arm"])["y"].agg(["sum", "count"]).reset_index()
    got = st.interaction_test(cells["seg"], cells["arm"], cells["sum"], cells["count"])
    assert got["df"] == 2
    assert got["statistic"] == pytest.approx(lr, abs=1e-6)
    assert got["p_value"] == pytest.approx(sps.chi2.sf(lr, 2), abs=1e-8)


def test_interaction_needs_two_segments():
    assert st.interaction_test([0, 0], ["a", "b"], [3, 4], [50, 50])["p_value"] is None


def test_srm_equals_scipy_chisquare():
    stat, p = st.srm_test([[5100, 4900], [700, 300]], [0.5, 0.5])
    for i, obs in enumerate([[5100, 4900], [700, 300]]):
        ref = sps.chisquare(obs, f_exp=np.array([0.5, 0.5]) * sum(obs))
        assert stat[i] == pytest.approx(ref.statistic, abs=1e-9)
        assert p[i] == pytest.approx(ref.pvalue, abs=1e-12)
    _, p3 = st.srm_test([[900, 100]], [0.9, 0.1])
    assert p3[0] == pytest.approx(1.0)


@pytest.mark.parametrize("n_t,n_c,baseline", [(1000, 1000, 0.05), (300, 900, 0.2), (50, 40, 0.5)])
def test_mde_is_the_effect_statsmodels_power_solves_for(n_t, n_c, baseline):
    m = st.mde(baseline, n_t, n_c)
    h = NormalIndPower().solve_power(nobs1=n_c, ratio=n_t / n_c, alpha=0.05, power=0.8)
    # statsmodels also counts the far tail's tiny power (below 1e-6 here)
    assert proportion_effectsize(baseline + m, baseline) == pytest.approx(h, rel=1e-5)


@pytest.mark.parametrize("ratio", [1.0, 3.0, 0.25])
def test_sample_size_is_the_smallest_with_the_power_statsmodels_computes(ratio):
    nt, nc = st.sample_size(0.05, 0.01, ratio=ratio)
    h = proportion_effectsize(0.06, 0.05)

    def power(t, c):
        return NormalIndPower().power(h, nobs1=c, ratio=t / c, alpha=0.05)

    assert power(nt, nc) >= 0.8
    assert power(nt - max(1, round(ratio)), nc - max(1, round(1 / ratio))) < 0.8
    assert nt / nc == pytest.approx(ratio, rel=1e-3)


def test_sample_size_equals_statsmodels_for_equal_arms():
    n = NormalIndPower().solve_power(effect_size=proportion_effectsize(0.06, 0.05), alpha=0.05,
                                     power=0.8, ratio=1.0)
    assert st.sample_size(0.05, 0.01) == (int(np.ceil(n)), int(np.ceil(n)))


def test_plan_holds_segments_to_the_holm_first_step():
    segs = [{"segment": 0, "segment_name": "big", "size": 200_000},
            {"segment": 1, "segment_name": "small", "size": 5_000}]
    plan = plan_campaign(segs, baseline=0.05, mde=0.01)
    assert plan["overall"]["treatment"] == st.sample_size(0.05, 0.01)[0]
    assert plan["alpha_per_segment"] == 0.025
    assert plan["segments"][0]["needed"]["treatment"] == st.sample_size(0.05, 0.01,
                                                                        alpha=0.025)[0]
    assert plan["too_small"] == [1]
    assert plan["segments"][1]["detectable_lift"] > 0.01
    with pytest.raises(ParameterError, match="--mde"):
        plan_campaign(segs, baseline=0.5, mde=0.6)


# ------------------------------------------------------------------ simulations
def test_newcombe_intervals_cover_the_true_lift_95_percent_of_the_time():
    rng = np.random.default_rng(2021)
    sims, p_t, p_c, n_t, n_c = 1000, 0.13, 0.10, 600, 600
    x_t, x_c = rng.binomial(n_t, p_t, sims), rng.binomial(n_c, p_c, sims)
    low, high = st.newcombe_interval(x_t, n_t, x_c, n_c)
    coverage = np.mean((low <= p_t - p_c) & (p_t - p_c <= high))
    assert 0.93 <= coverage <= 0.97


def test_wilson_intervals_cover_the_true_rate():
    rng = np.random.default_rng(7)
    x = rng.binomial(400, 0.08, 1000)
    low, high = st.wilson_interval(x, 400)
    assert 0.93 <= np.mean((low <= 0.08) & (0.08 <= high)) <= 0.97


def test_holm_keeps_the_family_wise_error_with_ten_null_segments():
    rng = np.random.default_rng(10)
    sims, segments = 1000, 10
    n = rng.integers(200, 2000, segments)  # segments of different sizes, no effect anywhere
    rate = np.linspace(0.03, 0.2, segments)
    x_t = rng.binomial(n, rate, (sims, segments))
    x_c = rng.binomial(n, rate, (sims, segments))
    _, p = st.score_test(x_t, n, x_c, n)
    any_rejected = (st.adjust_pvalues(p, "holm") < 0.05).any(axis=1)
    mc_se = np.sqrt(0.05 * 0.95 / sims)
    assert any_rejected.mean() <= 0.05 + 2 * mc_se
    # without the correction the family-wise error is far above 5 %
    assert (p < 0.05).any(axis=1).mean() > 0.3


def _campaign(rng, sizes, rates, planted: dict[int, float]) -> pd.DataFrame:
    seg = np.repeat(np.arange(len(sizes)), sizes)
    arm = np.where(rng.random(seg.size) < 0.5, "treatment", "control")
    p = np.asarray(rates)[seg] + np.where(arm == "treatment",
                                          np.vectorize(planted.get)(seg, 0.0), 0.0)
    outcome = (rng.random(seg.size) < p).astype(np.int8)
    return pd.DataFrame({"segment": seg, "arm": arm, "outcome": outcome})


def test_a_planted_effect_in_one_segment_is_found_and_only_there():
    rng = np.random.default_rng(5)
    frame = _campaign(rng, [3000, 2500, 2000, 1500, 1000], [0.05, 0.08, 0.04, 0.1, 0.06],
                      {2: 0.05})
    opts = CampaignOptions(control="control", treatments=["treatment"],
                           split={"treatment": 0.5, "control": 0.5})
    result = analyze_cells(cell_table(frame), opts)
    holm = {s["segment"]: s["p_holm"] for s in result["segments"]}
    assert holm[2] < 0.05
    assert all(p >= 0.05 for seg, p in holm.items() if seg != 2)
    seg2 = result["segments"][2]
    assert seg2["ci"][0] <= 0.05 <= seg2["ci"][1]


def test_a_planted_effect_is_found_in_most_simulated_campaigns():
    # the power the plan promises: a lift at the planned size is found about 80 % of the time
    rng = np.random.default_rng(11)
    nt, nc = st.sample_size(0.05, 0.02)
    x_t, x_c = rng.binomial(nt, 0.07, 1000), rng.binomial(nc, 0.05, 1000)
    _, p = st.score_test(x_t, nt, x_c, nc)
    assert 0.76 <= np.mean(p < 0.05) <= 0.84


def test_cell_table_counts_and_sums_per_segment_and_arm():
    frame = pd.DataFrame({"segment": [0, 0, 0, 1, 1], "arm": ["t", "c", "t", "t", "c"],
                          "outcome": np.array([1, 0, 0, 1, 1], dtype=np.int8),
                          "revenue": [10.0, 0.0, 0.0, 4.0, 6.0]})
    cells = cell_table(frame, revenue=True).set_index(["segment", "arm"])
    assert cells.loc[(0, "t"), "n"] == 2 and cells.loc[(0, "t"), "conversions"] == 1
    assert cells.loc[(0, "t"), "revenue_var"] == pytest.approx(50.0)  # var of 10, 0
    assert cells.loc[(-1, "c"), "n"] == 2 and cells.loc[(-1, "c"), "revenue_sum"] == 6.0
    assert cells.loc[(-1, "t"), "conversions"] == 2


# ------------------------------------------------------------------ columns and arms
@pytest.mark.parametrize("values,expected", [
    (["control", "treatment"], ("control", ["treatment"])),
    (["B", "A"], ("A", ["B"])),
    (["holdout", "email", "sms"], ("holdout", ["email", "sms"])),
    (["0", "1"], ("0", ["1"])),
    (["offer", "nothing"], ("nothing", ["offer"])),  # the one arm not named like a treatment
])
def test_arms_are_guessed(values, expected):
    from custseg.campaign.columns import guess_arms

    assert guess_arms(values) == expected


def test_arms_that_cannot_be_told_apart_need_a_name():
    from custseg.campaign.columns import guess_arms
    from custseg.errors import InputError

    with pytest.raises(InputError, match="cannot tell which arm is the control among 'x', 'y'"):
        guess_arms(["x", "y"])
    assert guess_arms(["x", "y"], control="y") == ("y", ["x"])
    assert guess_arms(["x", "y", "z"], treatment="z", control="x") == ("x", ["z"])


def test_outcomes_are_read_from_numbers_booleans_and_words():
    from custseg.campaign.columns import outcome_values

    assert outcome_values(pd.Series([1, 0, 1]), "y").tolist() == [1, 0, 1]
    assert outcome_values(pd.Series([True, False]), "y").tolist() == [1, 0]
    assert outcome_values(pd.Series(["Yes", "no", " TRUE ", "0"]), "y").tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match=r"2 cells hold something else \(row 2: 'maybe', row 3: "
                                         r"'nan'\)"):
        outcome_values(pd.Series(["1", "maybe", "nan"]), "y")


def test_split_is_one_share_per_arm():
    from custseg.campaign.columns import parse_split

    assert parse_split("90/10", ["t", "c"]) == {"t": 0.9, "c": 0.1}
    assert parse_split(None, ["a", "b", "c"]) == pytest.approx({"a": 1 / 3, "b": 1 / 3,
                                                                "c": 1 / 3})
    with pytest.raises(ParameterError, match="one positive number per arm"):
        parse_split("50/50/0", ["a", "b", "c"])
