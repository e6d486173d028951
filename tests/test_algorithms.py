"""The algorithm registry on data whose right answer is known by construction."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_circles, make_moons
from sklearn.metrics import adjusted_rand_score

from custseg import CustomerSegmenter, parse_spec
from custseg.modelfile import model_from_json, model_to_json

SPEC = """
cluster_on = ["a", "b"]
describe = []
[columns.a]
kind = "numeric"
transform = "none"
[columns.b]
kind = "numeric"
transform = "none"
"""


def frame(X):
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1]})


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 9.0]])
    sizes = [240, 160, 100]
    X = np.vstack([rng.normal(c, 0.8, size=(s, 2)) for c, s in zip(centres, sizes, strict=True)])
    return frame(X), np.repeat([0, 1, 2], sizes)


@pytest.mark.parametrize("algorithm", ["kmeans", "minibatch-kmeans", "ward", "gmm"])
def test_well_separated_blobs_give_the_known_k(algorithm):
    df, truth = blobs()
    seg = CustomerSegmenter(parse_spec(SPEC), algorithm=algorithm, k_range=(2, 6),
                            stability_runs=1).fit(df)
    assert seg.k_ == 3
    assert adjusted_rand_score(truth, seg.labels_) == 1.0
    assert "gap statistic" in seg.k_reason_ and "bootstrap" in seg.k_reason_
    # the model assigns the training customers to the segments they were given
    assigned, _ = seg.model_.assign(df)
    np.testing.assert_array_equal(assigned["segment"], seg.labels_)


@pytest.mark.parametrize("maker", [
    lambda: make_moons(n_samples=600, noise=0.05, random_state=0),
    lambda: make_circles(n_samples=600, noise=0.04, factor=0.4, random_state=0),
])
def test_hdbscan_finds_shapes_kmeans_cannot(maker):
    X, truth = maker()
    df = frame(X * 10)
    km = CustomerSegmenter(parse_spec(SPEC), k=2, stability_runs=0).fit(df)
    hd = CustomerSegmenter(parse_spec(SPEC), algorithm="hdbscan", stability_runs=0).fit(df)
    assert adjusted_rand_score(truth, km.labels_) < 0.6
    real = hd.labels_ != (hd.noise_segment_ if hd.noise_segment_ is not None else -1)
    assert adjusted_rand_score(truth[real], hd.labels_[real]) > 0.95
    assert real.mean() > 0.9


def test_hdbscan_noise_is_an_explicit_unassigned_segment():
    df, _ = blobs(seed=2)
    df = pd.concat([df, frame(np.array([[50.0, 50.0], [-40.0, 60.0], [70.0, -30.0]]))],
                   ignore_index=True)
    seg = CustomerSegmenter(parse_spec(SPEC), algorithm="hdbscan", stability_runs=0).fit(df)
    noise = seg.noise_segment_
    assert noise == seg.k_ - 1
    assert seg.segment_names_[noise] == "Unassigned (noise)"
    assert (seg.labels_[-3:] == noise).all()
    # a new customer far from every cluster is unassigned; one at a centre is not
    model = model_from_json(model_to_json(seg.model_))
    out, _ = model.assign(frame(np.array([[0.0, 0.0], [100.0, -100.0]])))
    assert out["segment"].iloc[0] != noise and out["segment"].iloc[1] == noise


def test_gmm_soft_memberships_and_model_round_trip(tmp_path):
    df, truth = blobs(seed=3)
    seg = CustomerSegmenter(parse_spec(SPEC), algorithm="gmm", k=3, stability_runs=0).fit(df)
    assert seg.proba_.shape == (len(df), 3)
    np.testing.assert_allclose(seg.proba_.sum(1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(seg.proba_.argmax(1), seg.labels_)
    model = model_from_json(model_to_json(seg.model_))
    assert "covariances" in json.loads(model_to_json(seg.model_))["algorithm"]["model"]
    out, _ = model.assign(df)
    np.testing.assert_array_equal(out["segment"], seg.labels_)
    assert "bic" in seg.selection_[0] and "aic" in seg.selection_[0]


MIXED_SPEC = """
cluster_on = ["spend", "visits", "plan"]
describe = []
[columns.spend]
kind = "numeric"
transform = "none"
[columns.visits]
kind = "numeric"
transform = "none"
[columns.plan]
kind = "categorical"
labels = { a = "Basic", b = "Plus", c = "Pro" }
"""


def test_kprototypes_recovers_planted_mixed_groups():
    """Three groups that differ in numbers AND in their plan; k-prototypes finds them."""
    rng = np.random.default_rng(5)
    sizes = [200, 150, 100]
    spend = np.concatenate([rng.normal(m, 5, s) for m, s in zip((20, 60, 100), sizes, strict=True)])
    visits = np.concatenate([rng.normal(m, 1, s) for m, s in zip((2, 8, 5), sizes, strict=True)])
    plans = np.concatenate([rng.choice(list(p), s, p=w) for p, s, w in zip(
        ("abc", "abc", "abc"), sizes, ([0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]),
        strict=True)])
    truth = np.repeat([0, 1, 2], sizes)
    df = pd.DataFrame({"spend": spend, "visits": visits, "plan": plans})
    seg = CustomerSegmenter(parse_spec(MIXED_SPEC), algorithm="kprototypes", k=3,
                            stability_runs=0).fit(df)
    assert adjusted_rand_score(truth, seg.labels_) > 0.95
    model = model_from_json(model_to_json(seg.model_))
    out, _ = model.assign(df)
    np.testing.assert_array_equal(out["segment"], seg.labels_)


def test_kprototypes_numpy_engine_agrees_with_the_kmodes_package():
    """The default batch engine and the kmodes package's KPrototypes minimise the same
    cost: on planted mixed groups both recover them, with the same gamma."""
    from custseg.cluster.algorithms import fit_kprototypes

    rng = np.random.default_rng(11)
    sizes = [120, 90, 60]
    num = np.vstack([rng.normal(m, 0.3, size=(s, 2)) for m, s in zip((0.0, 3.0, 6.0), sizes,
                                                                       strict=True)])
    codes = np.concatenate([rng.choice(3, s, p=w) for s, w in zip(
        sizes, ([0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]), strict=True)])
    X = np.column_stack([num, np.eye(3)[codes]])
    layout = [(0, 1, False), (1, 1, False), (2, 3, True)]
    truth = np.repeat([0, 1, 2], sizes)
    ours = fit_kprototypes(X, 3, layout=layout, engine="numpy")
    theirs = fit_kprototypes(X, 3, layout=layout, engine="kmodes")
    assert ours.model["gamma"] == pytest.approx(theirs.model["gamma"], rel=1e-12)
    assert ours.model["fitted_on_rows"] == theirs.model["fitted_on_rows"] == X.shape[0]
    assert adjusted_rand_score(truth, ours.labels) == 1.0
    assert adjusted_rand_score(ours.labels, theirs.labels) == 1.0


@pytest.mark.parametrize("algorithm", ["ward", "minibatch-kmeans"])
def test_ward_and_minibatch_labels_are_settled(algorithm):
    """Each customer is in the segment of its nearest centroid (the rule a model
    assigns with), and for Ward the centroids are the segment means."""
    from custseg.cluster.algorithms import centroids_of, get_algorithm
    from custseg.model import nearest_centroid

    X = np.random.default_rng(4).normal(size=(400, 2)) * [3.0, 1.0]  # no clean clusters
    fit = get_algorithm(algorithm).fit(X, 4, n_init=2, seed=0)
    np.testing.assert_array_equal(nearest_centroid(X, fit.centers)[0], fit.labels)
    assert (np.bincount(fit.labels, minlength=4) > 0).all()
    if algorithm == "ward":
        np.testing.assert_allclose(fit.centers, centroids_of(X, fit.labels, 4)[0])


def test_settle_fills_an_empty_segment_and_leaves_a_settled_one_alone():
    from custseg.cluster.algorithms import settle

    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [9.0]])
    labels, centers, steps = settle(X, np.array([0, 0, 0, 1, 1, 1]), 3)
    assert sorted(np.bincount(labels, minlength=3).tolist()) == [1, 2, 3]
    again, _, none = settle(X, labels, 3)
    np.testing.assert_array_equal(again, labels)
    assert none == 0 and steps >= 1
