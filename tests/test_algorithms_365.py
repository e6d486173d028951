"""Every registered algorithm on the real 365 case-study file (skipped when absent,
required in CI with CUSTSEG_REQUIRE_ALL=1).

Each fits the 3,834 real customers through the public API at a fixed k (choosing
k is tested elsewhere; one k keeps the file fast) and must give a model that
assigns every training customer to the segment the fit gave it, by the
algorithm's own rule, read back from model.json; no empty segment; sizes that sum
to the rows; and, for hdbscan, noise as an explicit last "unassigned" segment.
"""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.cluster.algorithms import ALGORITHMS
from custseg.datasets import demo_spec_text
from custseg.modelfile import model_from_json, model_to_json

ROWS = 3834
K = 4
#: kprototypes needs a categorical clustering column: region (3 levels) beside the numbers
CLUSTER_ON = {"kprototypes": ["minutes_watched", "CLV", "region"]}
#: the key in model.json's algorithm.model that carries each algorithm's own rule
#: (none: nearest centroid)
RULE_KEY = {"gmm": "covariances", "hdbscan": "exemplars", "kprototypes": "modes"}


def spec_365():
    """The bundled 365 spec, with the median for the real file's empty minutes."""
    return custseg.parse_spec(demo_spec_text().replace('missing = "error"', 'missing = "median"'))


def test_every_registered_algorithm_is_covered():
    assert set(ALGORITHMS) == {"kmeans", "minibatch-kmeans", "ward", "gmm", "hdbscan",
                               "kprototypes"}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_algorithm_on_the_real_365_data(algorithm, real_365_path):
    raw = pd.read_csv(real_365_path)
    assert len(raw) == ROWS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. sklearn's ConvergenceWarning
        seg = custseg.CustomerSegmenter(spec_365(), algorithm=algorithm, k=K, k_range=(K, K),
                                        cluster_on=CLUSTER_ON.get(algorithm),
                                        stability_runs=0).fit(raw)
    labels = seg.labels_
    assert len(labels) == ROWS and (seg.rows_ == np.arange(ROWS)).all()  # median: none dropped

    # sensible segments: none empty, sizes sum to the rows, profiles agree
    sizes = np.bincount(labels, minlength=seg.k_)
    assert sizes.size == seg.k_ and (sizes > 0).all(), sizes
    assert sizes.sum() == ROWS
    assert [p["size"] for p in seg.profiles_] == sizes.tolist()
    assert seg.model_.info["training"]["sizes"] == sizes.tolist()
    if algorithm != "hdbscan":
        assert seg.k_ == K

    # the model, read back from model.json, assigns by the algorithm's own rule
    text = model_to_json(seg.model_)
    rule = json.loads(text)["algorithm"].get("model", {})
    if algorithm in RULE_KEY:
        assert RULE_KEY[algorithm] in rule
    else:
        assert not set(RULE_KEY.values()) & set(rule)
    assigned, _ = model_from_json(text).assign(raw)
    np.testing.assert_array_equal(assigned["segment"].to_numpy(), labels)

    if algorithm == "gmm":
        assert seg.proba_.shape == (ROWS, K)
        np.testing.assert_array_equal(seg.proba_.argmax(1), labels)
    if algorithm == "kprototypes":
        assert rule["fitted_on_rows"] == ROWS  # below the sample limit: every customer
        assert len(rule["modes"]) == K
    if algorithm == "hdbscan":
        noise = seg.noise_segment_
        if noise is not None:  # noise exists: an explicit, last, "unassigned" segment
            assert noise == seg.k_ - 1 and rule["noise_segment"] == noise
            assert seg.segment_names_[noise] == "Unassigned (noise)"
            assert sizes[noise] > 0
        else:
            assert "noise_segment" not in rule
            assert seg.k_ >= 2
