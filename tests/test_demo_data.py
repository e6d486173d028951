"""Tests of the synthetic look-alike of the 365 case study (custseg.datasets)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from custseg.datasets import DEMO_LABELS, DEMO_TYPES, demo_spec_text, make_customers
from custseg.datasets.demo import _generate
from custseg.spec import code_str, parse_spec

COLUMNS = ["minutes_watched", "CLV", "region", "channel"]
REGION_TARGET = {0: 0.356, 1: 0.120, 2: 0.524}
CHANNEL_TARGET = {1: 0.175, 2: 0.080, 3: 0.285, 4: 0.170, 5: 0.015, 6: 0.075, 7: 0.125, 8: 0.075}
SOCIAL = [2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return make_customers()


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return make_customers(200_000, seed=7)


# ------------------------------------------------------------------ determinism
def test_same_seed_gives_identical_frame():
    pd.testing.assert_frame_equal(make_customers(2000, seed=3), make_customers(2000, seed=3))


def test_default_arguments_are_the_real_size_and_seed_zero(demo):
    pd.testing.assert_frame_equal(demo, make_customers(3834, seed=0))


def test_different_seed_gives_different_frame():
    a, b = make_customers(2000, seed=3), make_customers(2000, seed=4)
    assert not a.equals(b)
    assert (a["CLV"].to_numpy() != b["CLV"].to_numpy()).mean() > 0.5


def test_prefix_does_not_depend_on_global_numpy_state():
    np.random.seed(1)
    a = make_customers(500, seed=11)
    np.random.seed(2)
    _ = np.random.random(10)
    pd.testing.assert_frame_equal(a, make_customers(500, seed=11))


# ------------------------------------------------------------------ shape, dtypes, ranges
def test_columns_dtypes_and_index(demo):
    assert list(demo.columns) == COLUMNS
    assert len(demo) == 3834
    assert isinstance(demo.index, pd.RangeIndex)
    assert demo["minutes_watched"].dtype == np.float64
    assert demo["CLV"].dtype == np.float64
    assert demo["region"].dtype == np.int64
    assert demo["channel"].dtype == np.int64


@pytest.mark.parametrize("n", [1, 2, 17])
def test_tiny_frames(n):
    df = make_customers(n, seed=5)
    assert list(df.columns) == COLUMNS
    assert len(df) == n


def test_ranges_and_rounding(big):
    minutes = big["minutes_watched"].dropna().to_numpy()
    clv = big["CLV"].to_numpy()
    assert (minutes >= 0).all() and np.isfinite(minutes).all()
    assert (minutes == np.round(minutes)).all()
    assert (clv >= 0).all() and np.isfinite(clv).all()
    assert np.allclose(clv, np.round(clv, 2), rtol=0, atol=1e-9)
    assert big["CLV"].notna().all()
    assert set(big["region"].unique()) == {0, 1, 2}
    assert set(big["channel"].unique()) == set(range(1, 9))


def test_heavy_tails(demo):
    minutes = demo["minutes_watched"].dropna()
    assert (minutes == 0).mean() > 0.003
    assert stats.skew(minutes) > 5
    assert minutes.max() > 50 * minutes.median()
    assert minutes.max() > 50_000
    clv = demo["CLV"]
    assert 0.5 < stats.skew(clv) < 2.5
    assert clv.max() > 3 * clv.median()
    # plan prices make spikes, as in the real file
    assert clv.value_counts().iloc[:10].sum() / len(clv) > 0.3


def test_about_three_percent_missing_minutes(demo, big):
    assert 0.015 < demo["minutes_watched"].isna().mean() < 0.045
    assert abs(big["minutes_watched"].isna().mean() - 0.0284) < 0.003


def test_region_and_channel_shares(demo, big):
    for df, tol in ((demo, 0.03), (big, 0.006)):
        region = df["region"].value_counts(normalize=True)
        channel = df["channel"].value_counts(normalize=True)
        for code, share in REGION_TARGET.items():
            assert abs(region[code] - share) < tol, (code, region[code])
        for code, share in CHANNEL_TARGET.items():
            assert abs(channel[code] - share) < tol, (code, channel[code])


# ------------------------------------------------------------------ planted effects
def _kruskal(df: pd.DataFrame, value: str, by: str) -> float:
    groups = [g[value].dropna().to_numpy() for _, g in df.groupby(by)]
    return stats.kruskal(*groups).pvalue


def test_clv_differs_by_channel(demo):
    assert _kruskal(demo, "CLV", "channel") < 0.001
    mean = demo.groupby("channel")["CLV"].mean()
    assert mean[3] > mean[5] + 20  # YouTube brings more value than Twitter
    assert mean[1] > mean[2] + 15  # Google more than Facebook


def test_minutes_differ_by_channel_and_region(demo):
    assert _kruskal(demo, "minutes_watched", "channel") < 0.01
    assert _kruskal(demo, "minutes_watched", "region") < 0.001
    median = demo.groupby("channel")["minutes_watched"].median()
    assert median[7] > median[1]  # Friend referrals watch more than Google visitors


def test_clv_differs_by_region(demo):
    assert _kruskal(demo, "CLV", "region") < 1e-10
    median = demo.groupby("region")["CLV"].median()
    assert median[1] > median[0] > median[2]


def test_social_share_differs_by_region(demo):
    social = demo["channel"].isin(SOCIAL)
    table = pd.crosstab(demo["region"], social)
    assert stats.chi2_contingency(table)[1] < 0.001
    share = social.groupby(demo["region"]).mean()
    assert share[2] > share[1] > share[0]


def test_region_channel_association(demo):
    table = pd.crosstab(demo["region"], demo["channel"])
    assert stats.chi2_contingency(table)[1] < 1e-10


def test_kmeans_recovers_the_latent_types():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    df, kind = _generate(3834, 0)
    assert len(kind) == len(df)
    assert set(np.unique(kind)) == set(range(len(DEMO_TYPES)))
    minutes = np.log1p(df["minutes_watched"].fillna(0).to_numpy())
    clv = df["CLV"].to_numpy()
    x = np.column_stack([minutes, clv])
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    labels = KMeans(n_clusters=5, n_init=4, random_state=0).fit_predict(x)
    assert adjusted_rand_score(kind, labels) > 0.35
    profile = df.assign(segment=labels).groupby("segment").median()
    assert (profile["minutes_watched"] < 60).any()      # dabblers
    assert (profile["minutes_watched"] > 3000).any()    # heavy viewers
    assert (profile["CLV"] > 200).any()                 # big spenders
    assert (profile["CLV"] < 60).sum() >= 1             # bargain learners


def test_make_customers_matches_generate():
    pd.testing.assert_frame_equal(make_customers(300, seed=2), _generate(300, 2)[0])


# ------------------------------------------------------------------ spec
def test_spec_file_parses():
    spec = parse_spec(demo_spec_text(), source="customers_spec.toml")
    assert spec.kind == "customers"
    assert spec.cluster_on == ["minutes_watched", "CLV"]
    assert spec.describe == ["region", "channel"]
    assert list(spec.columns) == COLUMNS
    assert spec.columns["minutes_watched"].role == "engagement"
    assert spec.columns["minutes_watched"].missing == "zero"
    assert spec.columns["minutes_watched"].words == ("light viewers", "heavy viewers")
    assert spec.columns["CLV"].role == "value"
    assert spec.columns["CLV"].missing == "error"
    assert spec.columns["CLV"].words == ("low value", "high value")
    for name in ("region", "channel"):
        assert spec.columns[name].kind == "categorical"
        assert spec.columns[name].missing == "unknown"
    assert spec.group_codes("channel") == {"social": [str(c) for c in SOCIAL]}
    assert spec.clustering.algorithm == "kmeans"
    assert spec.clustering.k_range == (2, 10)
    assert spec.clustering.n_init == 10
    assert spec.clustering.seed == 0


def test_spec_labels_match_demo_labels_and_cover_every_code(big):
    spec = parse_spec(demo_spec_text())
    for name, labels in DEMO_LABELS.items():
        assert spec.columns[name].labels == labels
        codes = {code_str(c) for c in big[name].unique()}
        assert codes <= set(labels), codes - set(labels)
        assert codes == set(labels)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("n", [0, -1])
def test_n_rows_below_one_raises(n):
    with pytest.raises(ValueError, match="n_rows"):
        make_customers(n)


def test_bad_arguments_raise():
    with pytest.raises(TypeError):
        make_customers(10.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        make_customers(10, seed=-1)
