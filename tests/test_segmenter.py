"""CustomerSegmenter end to end on data whose answer is known by construction."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from custseg import CustomerSegmenter, ParameterError, ValidationError, parse_spec
from custseg.segmenter import relabel_by_size

SPEC = """
cluster_on = ["minutes", "value"]
describe = ["region"]
[columns.minutes]
kind = "numeric"
role = "engagement"
missing = "zero"
transform = "none"
[columns.value]
kind = "numeric"
role = "value"
transform = "none"
[columns.region]
kind = "categorical"
labels = { 0 = "North", 1 = "South", 2 = "East" }
"""


def blobs(n_per=150, seed=1):
    """Three tight, far-apart groups: (10, 10), (100, 10), (55, 200) with sd 2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 10.0], [100.0, 10.0], [55.0, 200.0]])
    sizes = [n_per * 2, n_per, n_per // 2]  # distinct sizes: ids ordered by size
    pts = np.vstack([rng.normal(c, 2.0, size=(s, 2)) for c, s in zip(centres, sizes, strict=True)])
    truth = np.repeat([0, 1, 2], sizes)
    df = pd.DataFrame({"minutes": pts[:, 0], "value": pts[:, 1],
                       "region": rng.integers(0, 3, size=truth.size)})
    return df, truth


def test_recovers_known_blobs_and_orders_ids_by_size():
    df, truth = blobs()
    seg = CustomerSegmenter(parse_spec(SPEC), stability_runs=2).fit(df)
    assert seg.k_ == 3
    assert adjusted_rand_score(truth, seg.labels_) == 1.0
    # largest group (truth 0, 300 rows) is segment 0, then 150, then 75
    assert np.bincount(seg.labels_).tolist() == [300, 150, 75]
    assert seg.labels_[0] == 0
    assert "k = 3" in seg.k_reason_
    assert seg.stability_ and min(seg.stability_) == 1.0


def test_predict_on_training_data_reproduces_labels():
    df, _ = blobs()
    seg = CustomerSegmenter(parse_spec(SPEC), stability_runs=0).fit(df)
    np.testing.assert_array_equal(seg.predict(df), seg.labels_)
    d = seg.transform(df)
    assert d.shape == (len(df), 3)
    np.testing.assert_allclose(d.min(axis=1), seg.distances_, rtol=1e-9, atol=1e-9)


def test_classic_notebook_flags_reproduce_sklearn_exactly():
    """--cluster-on all --k 8 --n-init 1 --seed 42 --transform none == the notebook."""
    rng = np.random.default_rng(7)
    n = 600
    minutes = rng.lognormal(5, 1.5, n).round()
    minutes[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame({"minutes": minutes, "value": rng.gamma(2, 60, n).round(2),
                       "region": rng.integers(0, 3, n)})
    seg = CustomerSegmenter(parse_spec(SPEC), k=8, n_init=1, random_state=42,
                            log_transform="none", cluster_on="all", stability_runs=0).fit(df)
    # the notebook: empty minutes as 0, one-hot in spec order, StandardScaler, KMeans
    raw = np.column_stack([np.nan_to_num(df["minutes"].to_numpy(), nan=0.0),
                           df["value"].to_numpy(),
                           *[(df["region"] == c).to_numpy(float) for c in (0, 1, 2)]])
    X = StandardScaler().fit_transform(raw)
    km = KMeans(n_clusters=8, init="k-means++", n_init=1, random_state=42).fit(X)
    assert adjusted_rand_score(km.labels_, seg.labels_) == 1.0
    assert seg.inertia_ == pytest.approx(km.inertia_, rel=1e-9)


def test_shuffled_rows_keep_every_customer_in_the_same_segment():
    df, _ = blobs(seed=3)
    df["id"] = [f"c{i}" for i in range(len(df))]
    spec = parse_spec('id = "id"\n' + SPEC)
    a = CustomerSegmenter(spec, stability_runs=0).fit(df)
    perm = np.random.default_rng(0).permutation(len(df))
    b = CustomerSegmenter(spec, stability_runs=0).fit(df.iloc[perm].reset_index(drop=True))
    np.testing.assert_array_equal(a.labels_[perm], b.labels_)


def test_sampled_selection_states_its_size_and_fits_all_rows():
    df, truth = blobs(n_per=400)
    seg = CustomerSegmenter(parse_spec(SPEC), selection_max=300, stability_runs=0).fit(df)
    assert seg.selection_sample_size_ == 300
    assert "sample of 300" in seg.k_reason_
    assert seg.labels_.size == len(df)
    assert adjusted_rand_score(truth, seg.labels_) == 1.0


def test_drop_policy_leaves_rows_out_of_fit_predict():
    df, _ = blobs()
    spec = parse_spec(SPEC.replace('missing = "zero"', 'missing = "drop"'))
    df.loc[[0, 5], "minutes"] = np.nan
    labels = CustomerSegmenter(spec, stability_runs=0).fit_predict(df)
    assert labels[0] == -1 and labels[5] == -1
    assert (labels[[1, 2, 3]] >= 0).all()


def test_relabel_by_size_hand_example():
    labels = np.array([2, 2, 0, 1, 1, 1])
    centers = np.array([[0.0], [1.0], [2.0]])
    new, c = relabel_by_size(labels, centers)
    # sizes: old0=1, old1=3, old2=2 -> new order old1, old2, old0
    assert new.tolist() == [1, 1, 2, 0, 0, 0]
    assert c.ravel().tolist() == [1.0, 2.0, 0.0]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"k_range": (1, 5)}, r"'k_range' parameter .* Got \(1, 5\)"),
        ({"k_range": (5, 3)}, "'k_range' parameter"),
        ({"n_init": 0}, r"'n_init' parameter .* Got 0"),
        ({"k": 0}, "'k' parameter"),
        ({"log_transform": "sqrt"}, "'log_transform' parameter"),
        ({"algorithm": "kmean"}, "did you mean 'kmeans'"),
    ],
)
def test_bad_parameters(params, match):
    df, _ = blobs()
    with pytest.raises(ParameterError, match=match):
        CustomerSegmenter(parse_spec(SPEC), **params).fit(df)


def test_too_few_rows_for_k_is_a_validation_error():
    df, _ = blobs()
    with pytest.raises(ValidationError, match="needs at least 11"):
        CustomerSegmenter(parse_spec(SPEC)).fit(df.head(8))


def _four_distinct_customers() -> pd.DataFrame:
    """48 rows, but only 4 distinct customers in the clustering columns."""
    df, _ = blobs()
    return pd.concat([df.iloc[[0, 1, 300, 450]]] * 12, ignore_index=True)


def test_a_forced_k_above_the_distinct_customers_is_a_validation_error():
    with pytest.raises(ValidationError, match=r"hold 4 distinct customers, too few for k = 6; "
                                              r"fix: use --k 4 or less"):
        CustomerSegmenter(parse_spec(SPEC), k=6).fit(_four_distinct_customers())


def test_k_is_tried_up_to_the_distinct_customers():
    # k-means cannot make more segments than there are distinct points (empty segments
    # made a report of NaN medians and an internal error)
    seg = CustomerSegmenter(parse_spec(SPEC), stability_runs=1).fit(_four_distinct_customers())
    assert [r["k"] for r in seg.selection_] == [2, 3, 4]
    assert seg.k_ <= 4 and min(p["size"] for p in seg.profiles_) > 0
    assert "Only k = 2..4 were tried: the clustering columns hold 4 distinct customers." in seg.k_reason_


def test_numpy_input_infers_a_spec():
    df, truth = blobs()
    seg = CustomerSegmenter(k_range=(2, 5), stability_runs=0).fit(df[["minutes", "value"]].to_numpy())
    assert seg.k_ == 3
    assert adjusted_rand_score(truth, seg.labels_) == 1.0
