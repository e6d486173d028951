"""The CLV models (custseg.clv) against independent computations.

Expected values come from (a) direct transcriptions of the papers' formulas
written here (BG/NBD: Fader, Hardie and Lee 2005, equations 6 and 10; MBG/NBD:
Batislam et al. 2007), (b) numerical integration of the individual-level
likelihoods over the mixing distributions (scipy.integrate), which shares no
code or algebra with the closed forms, (c) finite differences for the gradients,
and (d) parameter recovery from draws of known processes
(custseg.datasets.clv), within 3 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.optimize import approx_fprime
from scipy.special import hyp2f1, roots_genlaguerre, roots_jacobi

from custseg.clv import BGNBD, GAMMAGAMMA, MBGNBD, PARETONBD, SpendData, collapse, fit
from custseg.clv.holdout import holdout_check
from custseg.clv.segments import segment_figures
from custseg.clv.value import fit_models, score_customers, value_concentration
from custseg.datasets.clv import simulate_bgnbd, simulate_spend
from custseg.errors import ModelError

HISTORIES = [(0, 0.0, 30.0), (1, 12.5, 30.0), (4, 28.0, 39.0), (10, 5.0, 20.0)]


def _hist(rows):
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    return collapse(x, tx, T)


def _beta(a, b):
    return math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))


def paper_bgnbd_likelihood(r, alpha, a, b, x, tx, T):
    """FHL (2005) equation 6, as printed."""
    g = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha ** r
    out = _beta(a, b + x) / _beta(a, b) * g / (alpha + T) ** (r + x)
    if x > 0:
        out += _beta(a + 1, b + x - 1) / _beta(a, b) * g / (alpha + tx) ** (r + x)
    return out


def batislam_mbgnbd_likelihood(r, alpha, a, b, x, tx, T):
    """MBG/NBD (Batislam, Denizel and Filiztekin 2007), as printed."""
    g = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha ** r
    return (_beta(a, b + x + 1) / _beta(a, b) * g / (alpha + T) ** (r + x)
            + _beta(a + 1, b + x) / _beta(a, b) * g / (alpha + tx) ** (r + x))


def paper_bgnbd_expected(r, alpha, a, b, x, tx, T, t):
    """FHL (2005) equation 10, as printed (hypergeometric function not transformed)."""
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                      * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
    den = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return num / den


@pytest.mark.parametrize("x, tx, T", HISTORIES)
@pytest.mark.parametrize("model, formula", [(BGNBD, paper_bgnbd_likelihood),
                                            (MBGNBD, batislam_mbgnbd_likelihood)])
def test_likelihood_is_the_papers_formula(model, formula, x, tx, T):
    theta = (0.243, 4.414, 0.793, 2.426)
    h, _ = _hist([(x, tx, T)])
    assert model.loglik(theta, h)[0] == pytest.approx(math.log(formula(*theta, x, tx, T)), rel=1e-10)


def _gamma_nodes(shape, rate, n=120):
    """Nodes and weights of E[f(lambda)], lambda ~ Gamma(shape, rate): generalised Gauss-Laguerre."""
    u, w = roots_genlaguerre(n, shape - 1)
    return u / rate, w / math.gamma(shape)


def _beta_nodes(a, b, n=120):
    """Nodes and weights of E[f(p)], p ~ Beta(a, b): Gauss-Jacobi on [-1, 1] mapped to [0, 1]."""
    y, w = roots_jacobi(n, b - 1, a - 1)
    return (1 + y) / 2, w / (2 ** (a + b - 1) * _beta(a, b))


@pytest.mark.parametrize("x, tx, T", [(0, 0.0, 10.0), (2, 4.0, 10.0), (5, 9.0, 10.0)])
def test_bgnbd_likelihood_by_integration(x, tx, T):
    # the individual-level likelihood (FHL 2005, eq. 3) averaged over lambda ~ Gamma(r, alpha)
    # and p ~ Beta(a, b) by Gauss quadrature: no closed form involved
    r, alpha, a, b = 0.8, 3.0, 1.5, 2.5
    lam, wl = _gamma_nodes(r, alpha)
    p, wp = _beta_nodes(a, b)
    lam, p = lam[:, None], p[None, :]
    ind = (1 - p) ** x * lam ** x * np.exp(-lam * T)
    if x > 0:
        ind = ind + p * (1 - p) ** (x - 1) * lam ** x * np.exp(-lam * tx)
    value = wl @ ind @ wp
    h, _ = _hist([(x, tx, T)])
    assert BGNBD.loglik((r, alpha, a, b), h)[0] == pytest.approx(math.log(value), rel=1e-6)


@pytest.mark.parametrize("x, tx, T", [(0, 0.0, 10.0), (3, 6.0, 10.0), (1, 9.5, 10.0)])
@pytest.mark.parametrize("theta", [(0.8, 3.0, 1.2, 4.0), (0.9, 5.0, 1.1, 2.0)])
def test_paretonbd_likelihood_by_integration(theta, x, tx, T):
    # Pareto/NBD individual likelihood (Fader and Hardie 2005 note, eq. 3) averaged over
    # lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta) by Gauss quadrature; both orders of
    # alpha and beta (the two branches of A0)
    r, alpha, s, beta = theta
    lam, wl = _gamma_nodes(r, alpha)
    mu, wm = _gamma_nodes(s, beta)
    lam, mu = lam[:, None], mu[None, :]
    ind = (lam ** x * mu / (lam + mu) * np.exp(-(lam + mu) * tx)
           + lam ** (x + 1) / (lam + mu) * np.exp(-(lam + mu) * T))
    value = wl @ ind @ wm
    h, _ = _hist([(x, tx, T)])
    assert PARETONBD.loglik(theta, h)[0] == pytest.approx(math.log(value), rel=1e-5)


def test_bgnbd_conditional_expectation_is_equation_10():
    theta = (0.243, 4.414, 0.793, 2.426)
    rows = [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 35.0, 38.86)]
    h, _ = _hist(rows)
    got = BGNBD.expected(theta, 39.0, h)
    want = [paper_bgnbd_expected(*theta, h.x[i], h.tx[i], h.T[i], 39.0) for i in range(len(rows))]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_p_alive_is_one_for_one_time_buyers_under_bgnbd():
    h, _ = _hist([(0, 0.0, 5.0), (0, 0.0, 50.0), (3, 2.0, 50.0)])
    alive = BGNBD.p_alive((0.243, 4.414, 0.793, 2.426), h)
    assert alive[0] == 1.0 and alive[1] == 1.0
    # and by FHL's formula for a repeat buyer
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    assert alive[2] == pytest.approx(1 / (1 + a / (b + 3 - 1) * ((alpha + 50) / (alpha + 2)) ** (r + 3)))


@pytest.mark.parametrize("model, theta", [(BGNBD, (0.3, 4.0, 0.8, 2.4)), (MBGNBD, (0.5, 6.0, 0.9, 1.6))])
def test_analytical_gradient_matches_finite_differences(model, theta):
    h, _ = _hist(HISTORIES * 3)
    want = approx_fprime(np.array(theta), lambda t: np.dot(h.w, model.loglik(t, h)), 1e-7)
    np.testing.assert_allclose(model.grad(theta, h), want, rtol=1e-5)


def test_gamma_gamma_gradient_and_expected_value():
    d = SpendData(np.array([1.0, 2.0, 5.0]), np.array([10.0, 35.5, 20.0]), np.ones(3))
    theta = (6.0, 4.0, 15.0)
    want = approx_fprime(np.array(theta), lambda t: np.dot(d.w, GAMMAGAMMA.loglik(t, d)), 1e-7)
    np.testing.assert_allclose(GAMMAGAMMA.grad(theta, d), want, rtol=1e-5)
    # p (v + x m) / (p x + q - 1), by hand: 6 (15 + 2 * 35.5) / (12 + 3) = 34.4; x = 0: p v / (q - 1) = 30
    got = GAMMAGAMMA.expected_value(theta, [2.0, 0.0], [35.5, 0.0])
    np.testing.assert_allclose(got, [34.4, 30.0])


def test_gamma_gamma_density_integrates_to_one():
    theta, x = (6.0, 4.0, 15.0), 3.0
    total, _ = integrate.quad(lambda m: math.exp(GAMMAGAMMA.loglik(
        theta, SpendData(np.array([x]), np.array([m]), np.ones(1)))[0]), 0, np.inf)
    assert total == pytest.approx(1.0, rel=1e-7)


def test_bgnbd_and_gamma_gamma_parameters_recovered_within_three_standard_errors():
    truth = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}
    T = np.random.default_rng(5).uniform(20, 39, 100_000)
    df = simulate_bgnbd(100_000, **truth, T=T, seed=11)
    h, _ = collapse(df["frequency"], df["recency"], df["T"])
    res = fit(BGNBD, h, scale_names=("alpha",), scale=10 / 39)
    assert res.converged
    for name, value in truth.items():
        assert abs(res.params[name] - value) < 3 * res.se[name], (name, res.params, res.se)
    spend = {"p": 6.0, "q": 4.0, "v": 15.0}
    m = simulate_spend(df["frequency"], **spend, seed=12)
    keep = df["frequency"].to_numpy() > 0
    d = SpendData(df["frequency"].to_numpy()[keep], m[keep], np.ones(int(keep.sum())))
    res = fit(GAMMAGAMMA, d, scale_names=("v",), scale=1 / m[keep].mean())
    assert res.converged
    for name, value in spend.items():
        assert abs(res.params[name] - value) < 3 * res.se[name], (name, res.params, res.se)


def test_a_fit_that_runs_off_to_a_boundary_is_not_converged():
    # nobody ever drops out and everybody buys at one rate: p -> 0 and the rates' spread -> 0
    n = 400
    T = np.full(n, 30.0)
    x = np.full(n, 15.0)
    h, _ = collapse(x, T, T)
    res = fit(BGNBD, h, scale_names=("alpha",), scale=1 / 3)
    assert not res.converged
    assert "no start converged" in res.message
    with pytest.raises(ModelError, match="did not converge"):
        fit_models(pd.DataFrame({"frequency": x, "recency": T, "T": T, "monetary_value": 10.0}), BGNBD)


def test_every_customer_bought_once_is_an_error():
    df = pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [5.0, 9.0],
                       "monetary_value": [0.0, 0.0]})
    with pytest.raises(ModelError, match="bought on one day only"):
        fit_models(df, BGNBD)


def _customers(n=3000, seed=3):
    df = simulate_bgnbd(n, r=0.5, alpha=10.0, a=0.8, b=2.5, T=np.linspace(20, 200, n), seed=seed)
    df["monetary_value"] = simulate_spend(df["frequency"], p=6, q=4, v=15, seed=seed + 1)
    return df


def test_clv_by_hand_for_one_month_and_without_discount():
    df = _customers()
    fitted = fit_models(df, BGNBD)
    month = 365.25 / 12
    one = score_customers(df, BGNBD, fitted.purchase.theta, fitted.spend.theta, unit="day",
                          horizon_months=1, discount_rate=0.05)
    h, inv = collapse(df["frequency"], df["recency"], df["T"])
    e1 = BGNBD.expected(fitted.purchase.theta, month, h)[inv]
    np.testing.assert_allclose(one["clv"], one["expected_avg_value"] * e1 / 1.05, rtol=1e-12)
    flat = score_customers(df, BGNBD, fitted.purchase.theta, fitted.spend.theta, unit="day",
                           horizon_months=12, discount_rate=0.0)
    np.testing.assert_allclose(flat["clv"], flat["expected_avg_value"] * flat["expected_purchases"],
                               rtol=1e-9)
    e12 = BGNBD.expected(fitted.purchase.theta, 12 * month, h)[inv]
    np.testing.assert_allclose(flat["expected_purchases"], e12, rtol=1e-12)
    # weeks: the same customers, times / 7, the same predictions (alpha scales with time)
    weeks = df.assign(recency=df["recency"] / 7, T=df["T"] / 7)
    theta_w = list(fitted.purchase.theta)
    theta_w[1] /= 7
    in_weeks = score_customers(weeks, BGNBD, theta_w, fitted.spend.theta, unit="week",
                               horizon_months=12, discount_rate=0.0)
    np.testing.assert_allclose(in_weeks["clv"], flat["clv"], rtol=1e-9)


def test_spend_warnings_zero_spend_and_dependence():
    df = _customers()
    repeat = np.flatnonzero(df["frequency"].to_numpy() > 0)
    df.loc[repeat[:5], "monetary_value"] = 0.0
    fitted = fit_models(df, BGNBD)
    codes = {w["code"]: w["message"] for w in fitted.warnings}
    assert codes["clv-zero-spend"].startswith("5 repeat buyers")
    assert "clv-spend-depends-on-frequency" not in codes
    assert fitted.spend.n == len(repeat) - 5
    dep = df.copy()
    dep["monetary_value"] = dep["monetary_value"] * (1.0 + 0.5 * dep["frequency"])
    fitted = fit_models(dep, BGNBD)
    used = (dep["frequency"] > 0) & (dep["monetary_value"] > 0)
    corr = np.corrcoef(dep["frequency"][used], dep["monetary_value"][used])[0, 1]
    assert fitted.spend_correlation == pytest.approx(corr)
    assert any(w["code"] == "clv-spend-depends-on-frequency" for w in fitted.warnings)


def test_holdout_check_counts_and_groups():
    cal = pd.DataFrame({"frequency": [0.0, 0.0, 1.0, 8.0, 9.0], "recency": [0.0, 0.0, 5.0, 20.0, 25.0],
                        "T": [30.0, 20.0, 30.0, 30.0, 30.0]})
    actual = np.array([1.0, 0.0, 2.0, 3.0, 5.0])
    theta = (0.5, 10.0, 0.8, 2.5)
    section, predicted = holdout_check(cal, actual, 15.0, BGNBD, theta)
    h, inv = collapse(cal["frequency"], cal["recency"], cal["T"])
    np.testing.assert_allclose(predicted, BGNBD.expected(theta, 15.0, h)[inv])
    assert section["actual_purchases"] == 11.0
    assert section["mae"] == pytest.approx(np.mean(np.abs(predicted - actual)))
    groups = {r["calibration_purchases"]: r for r in section["by_calibration_purchases"]}
    assert sorted(groups) == ["0", "1", "7+"]
    assert groups["0"]["customers"] == 2 and groups["0"]["actual_mean"] == 0.5
    assert groups["7+"]["actual_mean"] == 4.0
    # the naive forecast x / T * 15 by hand: 0, 0, 0.5, 4, 4.5 against 1, 0, 2, 3, 5
    assert section["naive_mae"] == pytest.approx((1 + 0 + 1.5 + 1 + 0.5) / 5)
    diff = actual - predicted
    half = 1.96 * np.std(diff, ddof=1) * np.sqrt(5)
    assert section["difference"] == pytest.approx(diff.sum())
    assert section["difference_ci95"] == pytest.approx([diff.sum() - half, diff.sum() + half])


def test_value_concentration_by_hand():
    assert value_concentration(np.array([1.0] * 9 + [91.0])) == pytest.approx(0.91)
    assert value_concentration(np.zeros(4)) is None


def test_segment_figures():
    customers = pd.DataFrame({"id": list("abcdef"), "clv": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
                              "p_alive": [0.5] * 6, "expected_purchases": [1.0] * 6})
    segments = pd.DataFrame({"cust": list("abcdeg"), "segment": [0, 0, 0, 1, 1, 1],
                             "segment_name": ["low"] * 3 + ["high"] * 3})
    out, warnings = segment_figures(customers, "id", segments, seed=1)
    assert [w["code"] for w in warnings] == ["clv-not-in-segments"]  # f is not in the run
    low, high = out
    assert (low["name"], low["customers"], high["customers"]) == ("low", 3, 2)
    assert low["clv"]["mean"] == 2.0 and low["clv"]["total"] == 6.0 and high["clv"]["median"] == 15.0
    assert low["value_share"] == pytest.approx(6 / 36) and high["value_share"] == pytest.approx(30 / 36)
    lo, hi = low["clv"]["mean_ci95"]
    assert 1.0 <= lo <= 2.0 <= hi <= 3.0
    again, _ = segment_figures(customers, "id", segments, seed=1)
    assert again == out


def test_parameters_recovered_from_a_simulated_daily_log():
    # the order log path: make_clv_transactions -> DuckDB aggregation (lifetimes convention,
    # days) -> both fits. At 20,000 customers; at 100,000 and more, purchases merged on one
    # day bias r and alpha by a few standard errors (see custseg.datasets.clv)
    from custseg.datasets.clv import CLV_TRUTH, make_clv_transactions
    from custseg.rfm import TransactionColumns, aggregate

    log = make_clv_transactions(20_000, seed=1)
    table = aggregate(log, TransactionColumns("customer_id", "date", "amount"), convention="lifetimes")
    fitted = fit_models(table, BGNBD)
    for res in (fitted.purchase, fitted.spend):
        for name, value in res.params.items():
            assert abs(value - CLV_TRUTH[name]) < 3 * res.se[name], (name, res.params, res.se)


def _simulate_with_holdout(model: str, n: int, T: float, t: float, theta, seed: int):
    """Histories up to T and the purchases in (T, T + t], drawn from the model's process."""
    rng = np.random.default_rng(seed)
    if model == "paretonbd":
        r, alpha, s, beta = theta
        lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
        tau = rng.exponential(1 / mu)
        n1 = rng.poisson(lam * np.minimum(tau, T))
        n2 = rng.poisson(lam * np.clip(tau - T, 0, t))
        x = n1
        tx = np.where(n1 > 0, np.minimum(tau, T) * rng.beta(np.maximum(n1, 1), 1), 0.0)
        return x, tx, n2, tau > T
    r, alpha, a, b = theta
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    if model == "mbgnbd":  # may drop out right after the first purchase too
        gone_at_start = rng.random(n) < p
        alive_for = np.where(gone_at_start, 0, rng.geometric(p))
    else:
        alive_for = rng.geometric(p)
    n1, n2 = rng.poisson(lam * T), rng.poisson(lam * t)
    x = np.minimum(alive_for, n1)
    holdout = np.minimum(alive_for, n1 + n2) - x
    frac = np.zeros(n)
    has = x > 0
    frac[has] = rng.beta(x[has], n1[has] - x[has] + 1)
    return x, frac * T, holdout, alive_for > n1


@pytest.mark.parametrize("model, theta", [(BGNBD, (0.5, 8.0, 0.8, 2.5)), (MBGNBD, (0.5, 8.0, 0.8, 2.5)),
                                          (PARETONBD, (0.5, 8.0, 0.7, 12.0))])
def test_conditional_expectations_match_simulated_futures(model, theta):
    # the law of total expectation: summed over customers drawn from the process, the
    # expected purchases given each history equal the purchases that happen, and P(alive) the
    # share still alive at T, on average (a
    # parameter 20% off, or BG/NBD's formula on MBG/NBD's process, is 6 to 13 standard errors off)
    x, tx, future, alive = _simulate_with_holdout(model.name, 200_000, 30.0, 20.0, theta, seed=8)
    h, inv = collapse(x, tx, np.full(len(x), 30.0))
    for predicted, actual in ((model.expected(theta, 20.0, h)[inv], future),
                              (model.p_alive(theta, h)[inv], alive)):
        diff = predicted - actual
        assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(len(diff)), (diff.mean(), actual.mean())
