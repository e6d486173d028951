"""Tests of custseg.cluster.selection (knee, vote) and custseg.cluster.hierarchy (Ward)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score

from custseg.cluster.hierarchy import ward_tree, weighted_ward
from custseg.cluster.selection import CRITERIA, choose_k, knee_point, sweep


# ------------------------------------------------------------------ knee
@pytest.mark.parametrize(
    ("ks", "values", "knee"),
    [
        # xn = 0, .25, .5, .75, 1; yn = (y - 12) / 88 = 1, .205, .091, .034, 0
        # (1 - xn) - yn = 0, .545, .409, .216, 0 -> largest at k = 2
        ([1, 2, 3, 4, 5], [100, 30, 20, 15, 12], 2),
        ([2, 3, 4, 5, 6], [100, 30, 20, 15, 12], 3),  # same curve, shifted ks
        # yn = 1, .773, .091, .034, 0 -> (1 - xn) - yn = 0, -.023, .409, .216, 0 -> k = 3
        ([1, 2, 3, 4, 5], [100, 80, 20, 15, 12], 3),
        ([1, 2, 3, 4, 5], [10, 8, 6, 4, 2], None),  # straight line: no point below the chord
        ([1, 2, 3, 4, 5], [100, 98, 94, 80, 0], None),  # concave: every point above the chord
        ([1, 2, 3], [5, 3, 5], None),  # first == last
        ([2, 3], [100, 10], None),  # fewer than 3 points
        ([1, 2, 3, 4, 5], [12, 15, 20, 30, 100], None),  # increasing
    ],
)
def test_knee_point(ks, values, knee):
    assert knee_point(ks, values) == knee


# --------------------------------------------------------------- choose_k
def _rows(ks, inertia, sil, ch, db, ari=None):
    ari = ari or [None] * len(ks)
    return [{"k": k, "inertia": i, "silhouette": s, "calinski_harabasz": c, "davies_bouldin": d,
             "ward_ari": a} for k, i, s, c, d, a in zip(ks, inertia, sil, ch, db, ari, strict=True)]


def test_choose_k_three_criteria_agree():
    # inertia 100, 40, 30, 25 at k = 2..5: xn = 0, 1/3, 2/3, 1; yn = 1, .2, .067, 0
    #   (1 - xn) - yn = 0, .467, .267, 0 -> elbow at k = 3
    # silhouette best at 3 (0.60), Calinski-Harabasz best at 3 (90), Davies-Bouldin best at 4
    rows = _rows([2, 3, 4, 5], [100, 40, 30, 25], [0.40, 0.60, 0.50, 0.45],
                 [50.0, 90.0, 80.0, 70.0], [0.9, 0.7, 0.5, 0.8], ari=[None, 0.95, None, None])
    k, reason, picks = choose_k(rows)
    assert k == 3
    assert picks == {"elbow": 3, "silhouette": 3, "calinski_harabasz": 3, "davies_bouldin": 4}
    assert reason == (
        "k = 3: 3 of 4 criteria agree (the elbow of the within-cluster sum of squares is at "
        "k = 3; the best silhouette is 0.60 at k = 3; the highest Calinski-Harabasz index is "
        "90.00 at k = 3); against: the lowest Davies-Bouldin index is 0.50 at k = 4. "
        "Ward and k-means agree at k = 3 (adjusted Rand 0.95)."
    )


@pytest.mark.parametrize(
    ("sil", "ch", "db", "k"),
    [
        # elbow at 3 (inertia 100, 30, 20, 15, 12 at k = 2..6)
        # 3 gets elbow + Calinski-Harabasz, 6 gets silhouette + Davies-Bouldin: a 2-2 tie,
        # broken by the higher silhouette -> 6 (not the smaller k)
        ([0.3, 0.4, 0.5, 0.5, 0.7], [10, 90, 50, 40, 30], [0.9, 0.8, 0.8, 0.8, 0.4], 6),
        # 3 gets elbow + silhouette, 5 gets Calinski-Harabasz + Davies-Bouldin -> 3
        ([0.3, 0.7, 0.5, 0.5, 0.4], [10, 20, 50, 90, 30], [0.9, 0.8, 0.8, 0.3, 0.4], 3),
    ],
)
def test_choose_k_tie_goes_to_higher_silhouette(sil, ch, db, k):
    rows = _rows([2, 3, 4, 5, 6], [100, 30, 20, 15, 12], sil, ch, db)
    got, reason, picks = choose_k(rows)
    assert picks["elbow"] == 3
    assert got == k
    assert reason.startswith(f"k = {k}: 2 of 4 criteria agree")


def test_choose_k_one_vote_each_without_elbow():
    # straight inertia line: no elbow; silhouette -> 4, Calinski-Harabasz -> 2,
    # Davies-Bouldin -> 3: three single votes, the highest silhouette (at 4) wins
    rows = _rows([2, 3, 4], [30, 20, 10], [0.2, 0.3, 0.5], [90.0, 50.0, 40.0], [0.9, 0.3, 0.6])
    k, reason, picks = choose_k(rows)
    assert k == 4
    assert picks == {"elbow": None, "silhouette": 4, "calinski_harabasz": 2, "davies_bouldin": 3}
    assert reason.startswith("k = 4: 1 of 3 criteria agree (the best silhouette is 0.50 at k = 4)")
    assert "the highest Calinski-Harabasz index is 90.00 at k = 2" in reason
    assert "the lowest Davies-Bouldin index is 0.30 at k = 3" in reason
    assert "the WCSS curve has no clear elbow" in reason


def test_choose_k_reason_mentions_every_pick():
    rows = _rows([2, 3, 4, 5, 6], [100, 30, 20, 15, 12], [0.3, 0.4, 0.6, 0.5, 0.2],
                 [1500.0, 1200.0, 900.0, 2500.0, 100.0], [0.9, 0.8, 0.7, 0.8, 0.5])
    k, reason, picks = choose_k(rows)
    assert picks == {"elbow": 3, "silhouette": 4, "calinski_harabasz": 5, "davies_bouldin": 6}
    assert k == 4  # one vote each; best silhouette
    assert set(picks) == set(CRITERIA[:4])  # gap, stability, bic only when computed
    for phrase in ("elbow of the within-cluster sum of squares is at k = 3",
                   "best silhouette is 0.60 at k = 4",
                   "highest Calinski-Harabasz index is 2,500 at k = 5",  # >= 1000: thousands
                   "lowest Davies-Bouldin index is 0.50 at k = 6"):
        assert phrase in reason


def test_choose_k_without_silhouette_ties_go_to_the_smaller_k():
    rows = _rows([2, 3, 4], [30, 20, 10], [None] * 3, [1.0, 2.0, 5.0], [0.2, 0.5, 0.9])
    k, _, picks = choose_k(rows)
    assert picks == {"elbow": None, "silhouette": None, "calinski_harabasz": 4,
                     "davies_bouldin": 2}
    assert k == 2


def test_choose_k_single_row():
    k, reason, picks = choose_k(_rows([4], [10.0], [0.5], [3.0], [0.2]))
    assert (k, reason) == (4, "k = 4 is the only value in the range")
    assert picks == {c: None for c in CRITERIA}


def test_choose_k_nothing_computable_uses_smallest_k():
    rows = _rows([3, 4, 5], [30, 20, 10], [None] * 3, [None] * 3, [None] * 3)
    k, reason, _ = choose_k(rows)
    assert k == 3
    assert "no criterion could be computed" in reason


def test_choose_k_appends_sample_note():
    rows = _rows([2, 3, 4], [30, 20, 10], [0.2, 0.3, 0.5], [90.0, 50.0, 40.0], [0.9, 0.3, 0.6])
    _, reason, _ = choose_k(rows, "Chosen on a sample")
    assert reason.endswith(". Chosen on a sample.")


# ------------------------------------------------------------------ Ward
def blobs(n_per=40, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.vstack([c + rng.normal(scale=0.5, size=(n_per, 2)) for c in centers])
    return X, np.repeat(np.arange(3), n_per)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_ward_with_unit_weights_equals_scipy(seed):
    X = np.random.default_rng(seed).normal(size=(30, 3))
    Z = weighted_ward(X, np.ones(30))
    Zs = linkage(X, "ward")
    np.testing.assert_array_equal(Z[:, :2], Zs[:, :2])  # same merges, same cluster ids
    np.testing.assert_allclose(Z[:, 2:], Zs[:, 2:])  # same heights and sizes
    for k in (2, 3, 5, 8):
        np.testing.assert_array_equal(fcluster(Z, k, "maxclust"), fcluster(Zs, k, "maxclust"))


def test_weighted_ward_equals_scipy_on_repeated_points():
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(7, 2))
    weights = np.array([1, 3, 2, 5, 1, 4, 2])
    Z = weighted_ward(centers, weights.astype(float))
    leaf = np.repeat(np.arange(7), weights)
    Zs = linkage(centers[leaf], "ward")
    # scipy first merges copies of the same point at height 0 (18 - 7 = 11 merges);
    # the remaining 6 merges are those between groups, with weighted_ward's heights
    heights = Zs[:, 2]
    assert np.sum(heights < 1e-12) == weights.sum() - 7
    np.testing.assert_allclose(np.sort(Z[:, 2]), np.sort(heights[heights >= 1e-12]))
    for k in range(2, 7):
        flat = fcluster(Z, k, "maxclust")[leaf]
        assert adjusted_rand_score(flat, fcluster(Zs, k, "maxclust")) == 1.0


def test_weighted_ward_two_points_by_hand():
    # weights 1 and 3 at distance 2: increase = 1*3/(1+3) * 2^2 = 3; height = sqrt(2 * 3)
    Z = weighted_ward(np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([1.0, 3.0]))
    np.testing.assert_allclose(Z, [[0, 1, np.sqrt(6.0), 2]])
    assert weighted_ward(np.zeros((1, 2)), np.ones(1)).shape == (0, 4)


def test_ward_tree_exact_recovers_blobs():
    X, truth = blobs()
    tree = ward_tree(X)
    assert tree.method == "exact"
    assert tree.n_leaves == 120
    assert adjusted_rand_score(truth, tree.cut(3)) == 1.0


def test_ward_tree_two_stage_recovers_blobs():
    X, truth = blobs()
    tree = ward_tree(X, exact_max=50, n_micro=20, seed=0)
    assert tree.method == "two-stage"
    assert tree.n_leaves <= 20
    assert tree.leaf_weights.sum() == 120
    assert tree.leaf_of_row.shape == (120,)
    labels = tree.cut(3)
    assert labels.shape == (120,) and set(labels) == {0, 1, 2}
    assert adjusted_rand_score(truth, labels) == 1.0


# ------------------------------------------------------------------ sweep
def test_sweep_and_choose_k_on_blobs():
    X, truth = blobs()
    rows, fits = sweep(X, [2, 3, 4, 5], n_init=3, seed=0, ward=ward_tree(X))
    assert [r["k"] for r in rows] == [2, 3, 4, 5]
    assert set(fits) == {2, 3, 4, 5}
    assert all(r[key] is not None for r in rows for key in
               ("silhouette", "calinski_harabasz", "davies_bouldin", "ward_ari"))
    k, reason, _ = choose_k(rows)
    assert k == 3
    assert reason.startswith("k = 3: 6 of 6 criteria agree")
    assert adjusted_rand_score(truth, fits[3].labels) == 1.0


# ------------------------------------------------------------- silhouettes
def test_silhouettes_equal_sklearn_for_every_labelling():
    from sklearn.metrics import silhouette_score

    from custseg.cluster.selection import silhouettes

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    label_sets = [rng.integers(0, k, 300) for k in (2, 3, 7)]
    singleton = rng.integers(0, 3, 300)
    singleton[17] = 9  # a segment of one customer: silhouette 0 for it
    label_sets.append(singleton)
    got = silhouettes(X, label_sets, block_bytes=8 * 300 * 7)  # several row blocks
    want = [silhouette_score(X, lab) for lab in label_sets]
    # matrix-product distances (as scikit-learn's own) agree to rounding error
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_silhouettes_undefined_for_one_or_all_segments():
    from custseg.cluster.selection import silhouettes

    X = np.arange(8.0).reshape(4, 2)
    assert silhouettes(X, [np.zeros(4), np.arange(4), np.array([0, 0, 1, 1])])[:2] == [None, None]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ch_db_and_ari_equal_sklearn(seed):
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    from custseg.cluster.selection import ari, ch_db

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(500, 4)).astype(np.float32 if seed == 2 else np.float64)
    for k in (2, 5):
        a = rng.integers(0, k, 500)
        b = rng.integers(0, k + 1, 500)
        ch, db = ch_db(X, a)
        assert ch == pytest.approx(calinski_harabasz_score(X, a), rel=1e-6)
        assert db == pytest.approx(davies_bouldin_score(X, a), rel=1e-6)
        assert ari(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
        assert ari(a, a + 3) == 1.0
    assert ari(np.zeros(9), np.zeros(9)) == adjusted_rand_score(np.zeros(9), np.zeros(9))
    one = np.zeros(9)
    other = np.arange(9) % 3
    assert ari(one, other) == pytest.approx(adjusted_rand_score(one, other), abs=1e-12)
