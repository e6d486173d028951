"""The large-table ("fast") path gives the segments of the exact path.

The fast path chooses k on a sample whose k-means++ starts run on a subsample,
builds float32 features and fits all rows once from the sample's centroids. It
is taken automatically above ``selection_max`` rows; here it is forced on small
tables, with a small sample, so both paths can be compared on the same data.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from custseg import CustomerSegmenter, parse_spec
from custseg.datasets import demo_spec_text, make_customers
from custseg.errors import ParameterError


def fit(df, spec, **kw):
    return CustomerSegmenter(spec, stability_runs=0, **kw).fit(df)


@pytest.fixture
def small_starts(monkeypatch):
    """k-means++ starts on 2,000 rows instead of 10,000, so small tables exercise them."""
    import custseg.segmenter

    monkeypatch.setattr(custseg.segmenter, "START_MAX", 2_000)


def test_fast_and_exact_paths_agree_on_the_real_365_data(real_365_path):
    spec = parse_spec(demo_spec_text().replace('missing = "error"', 'missing = "median"'))
    df = pd.read_csv(real_365_path)
    exact = fit(df, spec, fast=False)
    fast = fit(df, spec, k=exact.k_, fast=True, selection_max=1_000)
    assert not exact.fast_ and fast.fast_
    assert fast.selection_sample_size_ == 1_000
    assert adjusted_rand_score(exact.labels_, fast.labels_) >= 0.95
    # the sample's choice of k agrees with the whole table's
    assert fit(df, spec, fast=True, selection_max=1_000).k_ == exact.k_


def test_fast_and_exact_paths_agree_on_demo_data(small_starts):
    df = make_customers(12_000, seed=1)
    spec = parse_spec(demo_spec_text())
    exact = fit(df, spec, fast=False, k=5, k_range=(4, 6))
    fast = fit(df, spec, fast=True, selection_max=5_000, k=5, k_range=(4, 6))
    assert adjusted_rand_score(exact.labels_, fast.labels_) >= 0.95
    # float32 features on the fast path cost nothing in the objective: the same
    # local optimum, within float32 rounding of the within-cluster sum of squares
    assert fast.inertia_ <= exact.inertia_ * (1 + 1e-4)
    assert "the k-means++ starts for each k ran on 2,000 of the 5,000" in fast.k_reason_


def test_fast_path_on_one_hot_features_is_as_good_as_exact(small_starts):
    """With one-hot region and channel, k = 5 has many near-equal optima (the
    partitions may differ), so the check is the objective: within 1% of the
    exact path's best of 10 starts on every row."""
    df = make_customers(12_000, seed=1)
    spec = parse_spec(demo_spec_text())
    exact = fit(df, spec, fast=False, k=5, cluster_on="all", k_range=(4, 6))
    fast = fit(df, spec, fast=True, selection_max=5_000, k=5, cluster_on="all", k_range=(4, 6))
    assert fast.inertia_ <= exact.inertia_ * 1.01


def test_fast_path_is_automatic_above_fast_min_rows(monkeypatch):
    import custseg.segmenter

    monkeypatch.setattr(custseg.segmenter, "FAST_MIN_ROWS", 2_000)
    df = make_customers(3_000, seed=2)
    spec = parse_spec(demo_spec_text())
    assert fit(df, spec, k=3, k_range=(2, 3)).fast_
    assert not fit(df.iloc[:2_000], spec, k=3, k_range=(2, 3)).fast_


def test_fast_parameter_is_checked():
    df = make_customers(500, seed=3)
    with pytest.raises(ParameterError, match="The 'fast' parameter of CustomerSegmenter must "
                                             "be None, True or False. Got 'yes' instead."):
        fit(df, parse_spec(demo_spec_text()), fast="yes")


def test_float32_features_match_float64_to_rounding():
    from custseg.features import FeatureSpace

    df = make_customers(2_000, seed=4)
    spec = parse_spec(demo_spec_text()).with_cluster_on(["minutes_watched", "CLV", "channel"])
    from custseg.validate import validate

    frame = validate(df, spec, min_rows=2).frame
    fs = FeatureSpace(spec).fit(frame)
    z64 = fs.transform(frame)
    z32 = fs.transform(frame, dtype=np.float32)
    assert z32.dtype == np.float32 and z32.flags.c_contiguous
    np.testing.assert_allclose(z32, z64, rtol=1e-6, atol=1e-6)
